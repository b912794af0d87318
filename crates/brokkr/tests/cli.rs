//! The real binary's command line: FlashMQ's flags and exit codes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::{Command, Output};

fn brokkr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brokkr"))
        .args(args)
        .output()
        .unwrap()
}

fn code(args: &[&str]) -> i32 {
    brokkr(args).status.code().unwrap()
}

#[test]
fn help_and_usage_errors_exit_16() {
    let out = brokkr(&["--help"]);
    assert_eq!(out.status.code(), Some(16));
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--config-file",
        "--test-config",
        "--version",
        "--license",
        "--fuzz-file",
    ] {
        assert!(text.contains(flag), "help lacks {flag}");
    }
    assert_eq!(code(&["-h"]), 16);
    assert_eq!(code(&["--no-such-flag"]), 16);
    let positional = brokkr(&["my.conf"]);
    assert_eq!(positional.status.code(), Some(16));
    assert!(String::from_utf8_lossy(&positional.stderr).contains("Did you mean --config-file"));
}

#[test]
fn version_and_license_exit_0() {
    for flag in ["-V", "-v", "--version", "-l", "--license"] {
        let out = brokkr(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("brokkr version "),
            "{flag}"
        );
    }
}

#[test]
fn config_files_are_refused_honestly_until_supported() {
    // --test-config: 0 without a file (embedded defaults), 1 with one.
    assert_eq!(code(&["--test-config"]), 0);
    let out = brokkr(&["-t", "-c", "/nonexistent.conf"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not supported yet"));
    // Start-up with a config file: the config error code, 99, as FlashMQ.
    assert_eq!(code(&["-c", "/nonexistent.conf"]), 99);
}

#[test]
fn fuzz_file_runs_a_seed_and_exits_0() {
    let seed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzztests/session-v5-full.dat"
    );
    assert_eq!(code(&["--fuzz-file", seed]), 0);
    assert_eq!(code(&["-z", seed]), 0);
    // A missing file is a start-up error, 1.
    assert_eq!(code(&["--fuzz-file", "/nonexistent.dat"]), 1);
}

#[test]
fn fuzz_file_bounds_what_it_reads() {
    // A file claiming a huge packet is handled within the memory bound and exits 0.
    let dir = std::env::temp_dir().join(format!("brokkr-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("huge.dat");
    let mut data = vec![0x10, 0xFF, 0xFF, 0xFF, 0x7F];
    data.resize(1 << 20, 0xAA);
    std::fs::write(&path, &data).unwrap();
    assert_eq!(code(&["--fuzz-file", path.to_str().unwrap()]), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
