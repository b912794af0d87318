//! The real binary's `passwd` subcommand with passwords on stdin (not a terminal), as scripts
//! use it: two lines, which must match.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use brokkr_auth::{Limits, PasswordDb};
use std::io::Write as _;
use std::process::{Command, Stdio};

fn passwd_with_stdin(args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_brokkr"))
        .arg("passwd")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn passwords_from_stdin_and_exit_codes() {
    let dir = std::env::temp_dir().join(format!("brokkr-passwd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("passwd");
    let f = file.to_str().unwrap();
    assert_eq!(
        passwd_with_stdin(&["-c", f, "dave"], "pw one\npw one\n"),
        (0, String::new())
    );
    let (code, err) = passwd_with_stdin(&[f, "erin"], "a\nb\n");
    assert_eq!((code, err.trim()), (1, "Error: Passwords do not match."));
    let (code, err) = passwd_with_stdin(&[f, "erin"], "");
    assert_eq!(code, 1, "{err}");
    let (db, warnings) =
        PasswordDb::parse(&std::fs::read_to_string(&file).unwrap(), &Limits::DEFAULT);
    assert!(warnings.is_empty());
    assert!(db.verify("dave", b"pw one").is_ok());
    assert!(!db.contains("erin"));
    let (code, _) = passwd_with_stdin(&["-c", "-D", f, "dave"], "");
    assert_eq!(code, 1);
    std::fs::remove_dir_all(dir).unwrap();
}
