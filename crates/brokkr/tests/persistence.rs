//! State across restarts of the real binary: a persistent session's queued QoS 1 message and a
//! retained message survive SIGTERM and a new start; a corrupt state file is moved aside and
//! the broker starts anyway (FlashMQ refuses to start once).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start(dir: &Path, port: u16) -> Child {
    let conf = dir.join("brokkr.conf");
    std::fs::write(
        &conf,
        format!(
            "allow_anonymous true\nstorage_dir {}\nlisten {{\n  port {port}\n  inet_protocol ip4\n  inet4_bind_address 127.0.0.1\n}}\n",
            dir.join("state").display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_brokkr"))
        .args(["--config-file", conf.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "broker did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// SIGTERM, then the broker's log.
fn stop(child: Child) -> String {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8_lossy(&out.stdout).into_owned()
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
    let dir = Dir(std::env::temp_dir().join(format!("brokkr-persist-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
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
    let dir = Dir(std::env::temp_dir().join(format!("brokkr-corrupt-{}", std::process::id())));
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
