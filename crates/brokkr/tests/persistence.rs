//! State across restarts of the real binary: a persistent session's queued QoS 1 message and a
//! retained message survive SIGTERM and a new start; a corrupt state file is moved aside and
//! the broker starts anyway (FlashMQ refuses to start once).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{TempDir, free_port, listen_block, spawn, stop};
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn start(dir: &Path, port: u16) -> Child {
    let conf = dir.join("brokkr.conf");
    let state = dir.join("state");
    let text = format!("allow_anonymous true\nstorage_dir {}\n", state.display());
    std::fs::write(&conf, text + &listen_block(port, "")).unwrap();
    spawn(&conf, port, Stdio::piped())
}

fn mosquitto(bin: &str, port: u16, args: &[&str]) -> std::process::Output {
    Command::new("timeout")
        .args(["10", bin, "-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn queued_and_retained_messages_survive_a_restart() {
    let dir = TempDir::new("persist");
    let port = free_port();
    let broker = start(&dir.0, port);
    // A persistent QoS 1 subscription, then the subscriber goes away.
    let sub = ["-i", "keeper", "-c", "-q", "1", "-t", "fleet/#", "-E"];
    assert!(mosquitto("mosquitto_sub", port, &sub).status.success());
    for (topic, msg, retain) in [("fleet/7", "queued", false), ("fleet/status", "kept", true)] {
        let mut args = vec!["-q", "1", "-t", topic, "-m", msg];
        if retain {
            args.push("-r");
        }
        assert!(mosquitto("mosquitto_pub", port, &args).status.success());
    }
    let log = stop(broker);
    assert!(
        log.contains("saved 1 retained messages and 1 sessions"),
        "{log}"
    );
    let broker = start(&dir.0, port);
    // The session resumes with its queued message (and the retained one it also matched).
    let got = mosquitto(
        "mosquitto_sub",
        port,
        &[
            "-i", "keeper", "-c", "-q", "1", "-t", "fleet/#", "-v", "-C", "2", "-W", "5",
        ],
    );
    let text = String::from_utf8_lossy(&got.stdout);
    assert!(text.contains("fleet/7 queued"), "{text}");
    assert!(text.contains("fleet/status kept"), "{text}");
    // A new subscriber gets the retained message.
    let got = mosquitto(
        "mosquitto_sub",
        port,
        &["-t", "fleet/status", "-C", "1", "-W", "5"],
    );
    assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), "kept");
    let log = stop(broker);
    assert!(log.contains("restored 1 retained messages"), "{log}");
}

#[test]
fn a_corrupt_state_file_is_moved_aside_and_the_broker_starts() {
    let dir = TempDir::new("corrupt");
    let state = dir.0.join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("sessions.db"), b"brokkrDB but not really").unwrap();
    let port = free_port();
    let broker = start(&dir.0, port);
    assert!(
        mosquitto("mosquitto_pub", port, &["-t", "t", "-m", "up"])
            .status
            .success(),
        "the broker serves"
    );
    let log = stop(broker);
    assert!(log.contains("sessions.db is corrupt"), "{log}");
    let moved: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sessions.db.corrupt"))
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
}
