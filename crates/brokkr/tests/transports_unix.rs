//! Unix socket listeners (`inet_protocol unix`, `unix_socket_path`, `unix_socket_mode`,
//! `unix_socket_user`, `unix_socket_group`) with mosquitto_pub/sub `--unix`, run against brokkr
//! or FlashMQ (`BROKKR_TRANSPORT_PEER`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
mod transport;

use common::TempDir;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use transport::broker::{self, Broker, Peer, Ready, unix_listening};
use transport::clients::{Via, publish_ok, subscribe};

/// A broker with one unix listener at `dir/mqtt.sock` and `lines` inside its block. `before`
/// runs on the socket path before the broker starts. None when the gate skips.
fn start(name: &str, lines: &str, before: impl FnOnce(&Path)) -> Option<(Broker, PathBuf)> {
    let dir = TempDir::new(&format!("unix-{name}"));
    let path = dir.0.join("mqtt.sock");
    before(&path);
    let config = format!(
        "{}listen {{\n  inet_protocol unix\n  unix_socket_path {}\n{lines}\n}}\n",
        broker::preamble(&dir.0),
        path.display()
    );
    let ready = [Ready::Unix(path.clone())];
    let b = broker::start(Peer::from_env(), dir, &config, &ready, name)?;
    Some((b, path))
}

fn round_trip(path: &Path, topic: &str) {
    let via = Via::unix(path);
    let sub = subscribe(&via, "unix/#").ok();
    publish_ok(&via, topic, "over a unix socket");
    assert_eq!(
        sub.expect(topic, "over a unix socket", 10),
        [format!("{topic} over a unix socket")]
    );
}

#[test]
fn mosquitto_over_a_unix_socket_with_mode_600() {
    let Some((_b, path)) = start("mode", "  unix_socket_mode 600", |_| {}) else {
        return;
    };
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    round_trip(&path, "unix/mode");
}

#[test]
fn a_stale_socket_file_is_replaced_at_start() {
    let stale = |path: &Path| {
        // A listener bound and dropped leaves its socket file behind, with nobody listening.
        drop(std::os::unix::net::UnixListener::bind(path).unwrap());
        assert!(std::fs::metadata(path).unwrap().file_type().is_socket());
        assert!(!unix_listening(path));
    };
    let Some((_b, path)) = start("stale", "", stale) else {
        return;
    };
    round_trip(&path, "unix/stale");
}

/// Owner and group by name; needs root to chown, so it says it skipped otherwise.
#[test]
fn unix_socket_user_and_group() {
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    if uid != 0 {
        println!("unix_socket_user_and_group: skipped, chown needs root");
        return;
    }
    // Debian's `daemon` user and group: uid 1, gid 1.
    let lines = "  unix_socket_user daemon\n  unix_socket_group daemon\n  unix_socket_mode 660";
    let Some((_b, path)) = start("owner", lines, |_| {}) else {
        return;
    };
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1, 1));
    assert_eq!(meta.permissions().mode() & 0o7777, 0o660);
    round_trip(&path, "unix/owner");
}
