//! `persistence_journal` across repeated crashes, deterministically: SIGKILL, restart (the
//! journal is replayed and folded into the snapshot files), more traffic, SIGKILL again, with
//! no periodic save in between (`save_state_interval 3600`).
//!
//! What MQTT QoS 1 allows, and what is asserted: every message acknowledged to its publisher
//! reaches the persistent subscriber (at least once); a message may come again only if the
//! subscriber had not acknowledged it (its PUBACK never reached the broker, or reached it too
//! late to be durable before the crash). Here every PUBACK the subscriber sends is made durable
//! before the kill (a barrier: PINGREQ/PINGRESP on the subscriber's connection, then a retained
//! QoS 1 message from another client whose PUBACK needs a journal sync after them), so a
//! message the subscriber acknowledged must never come back, after any number of crashes.
//!
//! Regression test for issue 4's "journal duplicates across repeated crashes": deliveries
//! restored from a snapshot carried no journal sequence number, so their PUBACKs were not
//! journaled and every later crash delivered them again (`A` in the third and fourth boots,
//! `C` and `D` in the fourth).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::mqtt::{Client, publish_parts};
use common::{TempDir, free_port, listen_block, signal, spawn};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// How long the subscriber waits for one more message before it decides it has them all.
const IDLE: Duration = Duration::from_millis(1500);

/// A broker this test started; killed (SIGKILL, by its PID) if a failed assertion leaves it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn start(dir: &Path, port: u16) -> Running {
    let conf = dir.join("brokkr.conf");
    let text = format!(
        "allow_anonymous true\nthread_count 2\npersistence_journal true\n\
         save_state_interval 3600\nstorage_dir {}\nlog_level warning\n",
        dir.join("state").display()
    );
    std::fs::write(&conf, text + &listen_block(port, "")).unwrap();
    Running(spawn(&conf, port, Stdio::null()))
}

fn kill(mut broker: Running) {
    broker.0.kill().unwrap(); // SIGKILL, this broker's PID only
    broker.0.wait().unwrap();
}

fn payloads(batch: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{batch}{i}")).collect()
}

/// Publish `batch` at QoS 1 from a clean client and wait for every PUBACK.
fn publish(port: u16, batch: &[String]) {
    let mut p = Client::connect(port, "publisher", true).unwrap();
    p.publish_all("t/x", batch, false).unwrap();
    p.disconnect();
}

/// Every record the broker wrote before this call is durable when it returns: a retained
/// QoS 1 message is acknowledged only after a journal sync that covers everything queued for
/// the journal before it.
fn barrier(port: u16) {
    let mut b = Client::connect(port, "barrier", true).unwrap();
    b.publish_all("barrier", &["sync".to_string()], true)
        .unwrap();
    b.disconnect();
}

/// Take PUBLISH packets until none comes for [`IDLE`], acknowledging them if `ack`; returns
/// their payloads in order and counts them in `got`.
fn take(sub: &mut Client, ack: bool, got: &mut BTreeMap<String, u32>) -> Vec<String> {
    sub.stream.set_read_timeout(Some(IDLE)).unwrap();
    let mut seen = Vec::new();
    while let Some((first, body)) = sub.read() {
        if first >> 4 != 3 {
            continue;
        }
        let (_, id, payload) = publish_parts(first, &body);
        assert_eq!(first & 0x06, 0x02, "QoS 1 delivery");
        *got.entry(payload.clone()).or_insert(0) += 1;
        seen.push(payload);
        if ack {
            sub.puback(id).unwrap();
        }
    }
    sub.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    seen
}

/// The subscriber's acknowledgements so far are durable.
fn acks_durable(sub: &mut Client, port: u16) {
    assert!(sub.ping().unwrap().is_empty(), "nothing else was sent");
    barrier(port);
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn repeated_crashes_neither_lose_nor_redeliver_acknowledged_messages() {
    let cleanup = TempDir::new("journal-crashes");
    let dir = cleanup.0.clone();
    let port = free_port();
    let mut got = BTreeMap::new();
    let (a, b, c, d) = (
        payloads("A", 100),
        payloads("B", 50),
        payloads("C", 50),
        payloads("D", 5),
    );

    // Boot 1: the persistent session and its subscription; A queued while it is offline.
    let broker = start(&dir, port);
    let mut sub = Client::connect(port, "sub", false).unwrap();
    sub.subscribe("t/#").unwrap();
    sub.disconnect();
    publish(port, &a);
    kill(broker);

    // Boot 2: A comes from the journal (folded into the snapshot at start-up) and is
    // acknowledged; B is delivered live and acknowledged; D is delivered and not acknowledged;
    // C is queued while the subscriber is offline.
    let broker = start(&dir, port);
    let mut sub = Client::connect(port, "sub", false).unwrap();
    assert_eq!(take(&mut sub, true, &mut got), a, "boot 2: the queued A");
    acks_durable(&mut sub, port);
    publish(port, &b);
    assert_eq!(take(&mut sub, true, &mut got), b, "boot 2: B, live");
    acks_durable(&mut sub, port);
    publish(port, &d);
    assert_eq!(
        take(&mut sub, false, &mut got),
        d,
        "boot 2: D, never acknowledged"
    );
    sub.disconnect();
    publish(port, &c);
    kill(broker);

    // Boot 3: D again (QoS 1 allows it: never acknowledged) and C; not A, not B.
    let broker = start(&dir, port);
    let mut sub = Client::connect(port, "sub", false).unwrap();
    let seen = take(&mut sub, true, &mut got);
    let expected = sorted([d.clone(), c.clone()].concat());
    assert_eq!(sorted(seen), expected, "boot 3: D and C only");
    acks_durable(&mut sub, port);
    sub.disconnect();
    kill(broker);

    // Boot 4: everything was acknowledged durably, so nothing comes.
    let broker = start(&dir, port);
    let mut sub = Client::connect(port, "sub", false).unwrap();
    let seen = take(&mut sub, true, &mut got);
    assert!(
        seen.is_empty(),
        "boot 4: {} redelivered: {seen:?}",
        seen.len()
    );
    sub.disconnect();
    kill(broker);

    for m in a.iter().chain(&b).chain(&c) {
        assert_eq!(got.get(m), Some(&1), "{m} delivered once");
    }
    for m in &d {
        assert_eq!(got.get(m), Some(&2), "{m}: once unacknowledged, once more");
    }
    assert_eq!(got.len(), a.len() + b.len() + c.len() + d.len());
}

/// Regression: with the journal on, SIGTERM saved the state and then waited forever for the
/// journal thread, which a sender held by the first worker's tasks kept alive. The process
/// must exit 0, and what it saved must come back once.
#[test]
fn sigterm_with_the_journal_exits_and_keeps_the_state() {
    let cleanup = TempDir::new("journal-sigterm");
    let dir = cleanup.0.clone();
    let port = free_port();
    let mut got = BTreeMap::new();
    let mut broker = start(&dir, port);
    let mut sub = Client::connect(port, "sub", false).unwrap();
    sub.subscribe("t/#").unwrap();
    sub.disconnect();
    let queued = payloads("Q", 10);
    publish(port, &queued);
    signal(broker.0.id(), "-TERM");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = broker.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 20 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));

    let broker = start(&dir, port);
    let mut sub = Client::connect(port, "sub", false).unwrap();
    assert_eq!(take(&mut sub, true, &mut got), queued);
    sub.disconnect();
    kill(broker);
}
