//! `run_as_user` and `run_as_group` (brokkr's own directives) against the real binary: an
//! unknown user or group refuses the start-up, a group without a user is a config error, and,
//! when the test runs as root (as in CI), the broker binds its listener as root and then serves
//! as `nobody` with the configured group: real, effective, saved and file-system ids all
//! changed, supplementary groups replaced. Run as another user, the test checks instead that
//! switching to a different user is refused (only root may switch).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::mqtt::Client;
use common::{TempDir, binary, free_port, listen_block, spawn, stop};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn write_conf(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let conf = dir.join("brokkr.conf");
    let text = format!("allow_anonymous true\nthread_count 2\nlog_level info\n{extra}\n");
    std::fs::write(&conf, text + &listen_block(port, "")).unwrap();
    conf
}

/// Run the binary on `conf` to its end (it is expected to refuse to start), at most 20 s.
fn run_refused(conf: &Path) -> Output {
    let out = Command::new("timeout")
        .args(["20", &binary(), "--config-file", conf.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(124), "still running after 20 s");
    out
}

/// A broker this test started; killed (by its PID) if an assertion fails before `take`.
struct Running(Option<Child>);

impl Running {
    fn take(mut self) -> Child {
        self.0.take().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// The values of `key` (`Uid`, `Gid`, `Groups`) in /proc/`task`/status.
fn proc_ids(task: &str, key: &str) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{task}/status")).unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap();
    line.split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

#[test]
fn an_unknown_user_or_group_refuses_the_start() {
    let cleanup = TempDir::new("run-as-unknown");
    for (extra, expected) in [
        ("run_as_user brokkr-no-such-user-3f9a", "no such user"),
        (
            "run_as_user root\nrun_as_group brokkr-no-such-group-3f9a",
            "no such group",
        ),
    ] {
        let conf = write_conf(&cleanup.0, free_port(), extra);
        let out = run_refused(&conf);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra}: {stderr}");
        assert!(stderr.contains(expected), "{extra}: {stderr}");
    }
}

#[test]
fn run_as_group_without_run_as_user_is_a_config_error() {
    let cleanup = TempDir::new("run-as-group-alone");
    let conf = write_conf(&cleanup.0, free_port(), "run_as_group daemon");
    let out = Command::new(binary())
        .args(["--test-config", "--config-file", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run_as_group needs run_as_user"));
    let out = run_refused(&conf);
    assert_eq!(out.status.code(), Some(99), "a config error");
}

#[test]
fn the_broker_serves_as_the_configured_user_and_group() {
    let cleanup = TempDir::new("run-as-nobody");
    let port = free_port();
    let conf = write_conf(&cleanup.0, port, "run_as_user nobody\nrun_as_group daemon");
    if !is_root() {
        // Only root may switch users: the start-up is refused, with the reason.
        let out = run_refused(&conf);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("must be started as root"), "{stderr}");
        return;
    }
    let broker = Running(Some(spawn(&conf, port, Stdio::piped())));
    let pid = broker.0.as_ref().unwrap().id();
    // The port accepts as soon as it is bound; a CONNACK means the broker serves, which it
    // does only after the switch.
    let mut sub = Client::connect(port, "s", true).unwrap();
    sub.subscribe("t").unwrap();
    let mut publisher = Client::connect(port, "p", true).unwrap();
    publisher
        .publish_all("t", &["m".to_string()], false)
        .unwrap();
    assert_eq!(sub.read().unwrap().0 >> 4, 3, "the PUBLISH is delivered");
    // Every thread (workers, journal, logins): nobody (65534) in group daemon (1), and none
    // of root's groups.
    let tasks: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|t| t.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(tasks.len() > 2, "threads: {tasks:?}");
    for task in &tasks {
        let path = format!("{pid}/task/{task}");
        assert_eq!(
            proc_ids(&path, "Uid"),
            [65534; 4],
            "real, effective, saved, fs"
        );
        assert_eq!(proc_ids(&path, "Gid"), [1; 4]);
        let groups = proc_ids(&path, "Groups");
        assert!(!groups.contains(&0), "root's groups are gone: {groups:?}");
    }
    let log = stop(broker.take());
    assert!(
        log.contains("switched to user 'nobody' (uid 65534), group daemon (gid 1)"),
        "{log}"
    );
}
