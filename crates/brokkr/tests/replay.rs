//! Replays every seed in `fuzztests/` and every saved crash input in `fuzz/regressions/` through
//! the same function `brokkr --fuzz-file` runs, so CI catches regressions without fuzzing time.
//! Also checks that the committed corpus is what the generator produces, and that the seeds meant
//! to reach deep into a connection actually do.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr::fuzz::run_input;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.retain(|p| p.file_name().is_some_and(|n| n != "README.md"));
    out.sort();
    out
}

#[test]
fn every_seed_replays_cleanly() {
    let seeds = files(&root().join("fuzztests"));
    assert!(seeds.len() >= 150, "only {} seeds", seeds.len());
    let mut script_handoffs = 0;
    for path in seeds {
        let data = std::fs::read(&path).unwrap();
        let outcome = run_input(&data);
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let deep = name.starts_with("session-")
            || name.starts_with("proxy-")
            || name.starts_with("tls-")
            || (name.starts_with("ws-") && !name.contains("bad"))
            || (name.starts_with("boundary-") && !name.contains("client-id"));
        if deep {
            assert!(
                outcome.packets >= 2,
                "{name} reached only {} packets",
                outcome.packets
            );
            assert!(outcome.version.is_some(), "{name} never got past CONNECT");
        }
        let publishes = [
            "-full",
            "-retained",
            "-properties",
            "-topic-alias",
            "-will-no-disconnect",
        ];
        if (name.starts_with("session-") && publishes.iter().any(|p| name.contains(p)))
            || name.starts_with("tls-")
        {
            assert!(
                outcome.delivered >= 1,
                "{name}: the broker delivered nothing to the sinks"
            );
        }
        if name.starts_with("script-") {
            assert!(
                outcome.delivered >= 1,
                "{name}: the script delivered nothing to the sinks"
            );
            script_handoffs += outcome.handoffs;
        }
        if name.starts_with("boundary-client-id") {
            assert_eq!(outcome.packets, 1, "{name}");
        }
        if name.starts_with("malformed-") {
            assert!(
                outcome.packets <= 1,
                "{name}: the faulty packet was accepted"
            );
        }
    }
    assert!(
        script_handoffs >= 3,
        "the scripts reach the hand-off between shards only {script_handoffs} times"
    );
}

#[test]
fn every_saved_crash_replays_cleanly() {
    for dir in ["fuzz/regressions", "fuzz/artifacts"] {
        for path in files(&root().join(dir)) {
            run_input(&std::fs::read(&path).unwrap());
        }
    }
}

#[test]
fn committed_corpus_matches_the_generator() {
    let dir = root().join("fuzztests");
    for (name, bytes) in brokkr_testkit::corpus::seeds() {
        let on_disk = std::fs::read(dir.join(&name)).unwrap_or_else(|_| {
            panic!("fuzztests/{name} missing: run cargo run -p brokkr-testkit --bin gen-corpus")
        });
        assert!(
            on_disk == bytes,
            "fuzztests/{name} is stale: regenerate the corpus"
        );
    }
}
