//! `persistence_journal`: SIGKILL at random moments under QoS 1 load loses nothing the broker
//! acknowledged. Each round starts the real binary (two workers, so publisher and subscriber
//! may live on different shards), runs a QoS 1 publisher (every tenth message also retained,
//! on a topic of its own) and the persistent subscriber, and kills the broker with SIGKILL
//! after a random delay. At the end every message that got a PUBACK must have reached the
//! subscriber (duplicates allowed) and every acknowledged retained message must still be
//! retained.
//!
//! Rounds: `BROKKR_KILL_ROUNDS` (default 20, to keep the suite fast; the figures in
//! docs/benchmarks.md come from a run with 120).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::mqtt::{Client, publish_parts};
use common::{TempDir, free_port, listen_block, spawn};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn start(dir: &Path, port: u16) -> Child {
    let conf = dir.join("brokkr.conf");
    let text = format!(
        "allow_anonymous true\nthread_count 2\npersistence_journal true\n\
         max_qos_msg_pending_per_client 65535\nmax_qos_bytes_pending_per_client 1000000000\n\
         storage_dir {}\nlog_level warning\n",
        dir.join("state").display()
    );
    std::fs::write(&conf, text + &listen_block(port, "")).unwrap();
    spawn(&conf, port, Stdio::null())
}

/// Receive as the persistent subscriber until the socket ends (or `idle` passes without a
/// message), acknowledging each message; payloads go into `got`.
fn subscriber(mut c: Client, got: &Mutex<BTreeMap<String, u32>>, idle: Duration) {
    c.stream.set_read_timeout(Some(idle)).unwrap();
    while let Some((first, body)) = c.read() {
        if first >> 4 != 3 {
            continue;
        }
        let (_, id, payload) = publish_parts(first, &body);
        *got.lock().unwrap().entry(payload).or_insert(0) += 1;
        if first & 0x06 != 0 && c.send(&[0x40, 2, (id >> 8) as u8, id as u8]).is_none() {
            return;
        }
    }
}

/// What the publisher learnt: messages acknowledged, and retained topics acknowledged.
#[derive(Default)]
struct Acked {
    messages: BTreeSet<String>,
    retained: BTreeSet<String>,
}

/// Publish QoS 1 with up to 32 in flight until the broker goes away or `stop` is set.
fn publisher(port: u16, round: usize, acked: &Mutex<Acked>, stop: &AtomicBool) {
    let Some(mut c) = Client::connect(port, &format!("pub-{round}"), true) else {
        return;
    };
    let mut in_flight: BTreeMap<u16, (String, Option<String>)> = BTreeMap::new();
    let mut n: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        while in_flight.len() < 32 {
            n += 1;
            let id = (n % 65_000 + 1) as u16;
            let payload = format!("{round}-{n}");
            let retained = n.is_multiple_of(10).then(|| format!("r/{round}/{n}"));
            let topic = retained.clone().unwrap_or_else(|| format!("t/{round}"));
            if c.publish(&topic, id, &payload, retained.is_some())
                .is_none()
            {
                return;
            }
            in_flight.insert(id, (payload, retained));
        }
        let Some((first, body)) = c.read() else {
            return;
        };
        if first == 0x40 {
            let id = u16::from_be_bytes([body[0], body[1]]);
            if let Some((payload, retained)) = in_flight.remove(&id) {
                let mut a = acked.lock().unwrap();
                match retained {
                    Some(topic) => a.retained.insert(topic),
                    None => a.messages.insert(payload),
                };
            }
        }
    }
}

#[test]
fn sigkill_under_qos1_load_loses_nothing_acknowledged() {
    let rounds: usize = std::env::var("BROKKR_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let cleanup = TempDir::new("journal-kill");
    let dir = cleanup.0.clone();
    let port = free_port();
    let acked = Arc::new(Mutex::new(Acked::default()));
    let got = Arc::new(Mutex::new(BTreeMap::new()));
    let started = Instant::now();

    // The persistent subscriber's session and subscription, journaled only.
    let mut broker = start(&dir, port);
    let mut sub = Client::connect(port, "journal-sub", false).unwrap();
    sub.subscribe("t/#").unwrap();
    drop(sub);
    broker.kill().unwrap();
    broker.wait().unwrap();

    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for round in 0..rounds {
        let mut broker = start(&dir, port);
        let stop = Arc::new(AtomicBool::new(false));
        let sub = Client::connect(port, "journal-sub", false).expect("subscriber connects");
        let got2 = Arc::clone(&got);
        let receiving = std::thread::spawn(move || subscriber(sub, &got2, Duration::from_secs(30)));
        let (acked2, stop2) = (Arc::clone(&acked), Arc::clone(&stop));
        let publishing = std::thread::spawn(move || publisher(port, round, &acked2, &stop2));
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(20 + rng % 400));
        broker.kill().unwrap(); // SIGKILL, this broker's PID only
        broker.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        publishing.join().unwrap();
        receiving.join().unwrap();
    }

    // The last start: everything acknowledged must be delivered and retained.
    let mut broker = start(&dir, port);
    let sub = Client::connect(port, "journal-sub", false).unwrap();
    subscriber(sub, &got, Duration::from_secs(3));
    let mut checker = Client::connect(port, "retained-check", true).unwrap();
    checker.subscribe("r/#").unwrap();
    let mut retained = BTreeSet::new();
    checker
        .stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    while let Some((first, body)) = checker.read() {
        if first >> 4 == 3 {
            let (topic, id, _) = publish_parts(first, &body);
            retained.insert(topic);
            if first & 0x06 != 0 {
                checker.send(&[0x40, 2, (id >> 8) as u8, id as u8]).unwrap();
            }
        }
    }
    broker.kill().unwrap();
    broker.wait().unwrap();

    let acked = acked.lock().unwrap();
    let got = got.lock().unwrap();
    let missing: Vec<&String> = acked
        .messages
        .iter()
        .filter(|m| !got.contains_key(*m))
        .collect();
    let missing_retained: Vec<&String> = acked.retained.difference(&retained).collect();
    let duplicates: u32 = got.values().map(|n| n - 1).sum();
    eprintln!(
        "{rounds} kills in {:?}: {} messages acknowledged, {} received ({} duplicate \
         deliveries), {} retained acknowledged, {} retained found",
        started.elapsed(),
        acked.messages.len(),
        got.len(),
        duplicates,
        acked.retained.len(),
        retained.len()
    );
    assert!(
        acked.messages.len() > rounds,
        "the load was too light to mean anything"
    );
    assert!(
        missing.is_empty(),
        "{} acknowledged messages lost, first {:?}",
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>()
    );
    assert!(
        missing_retained.is_empty(),
        "{} acknowledged retained messages lost, first {:?}",
        missing_retained.len(),
        missing_retained.iter().take(5).collect::<Vec<_>>()
    );
}

/// The journal's cost on QoS 1 fan-in: 4 publishers (32 in flight each) into one persistent
/// subscriber for 5 s, journal off then on. Prints acknowledged messages per second. Run with
/// `cargo test -p brokkr --test journal_kill fan_in -- --ignored --nocapture` (figures in
/// docs/benchmarks.md); `BROKKR_BIN` picks another binary (a release build).
#[test]
#[ignore]
fn fan_in_cost() {
    for journal in [false, true] {
        let cleanup = TempDir::new(&format!("fan-in-{journal}"));
        let dir = cleanup.0.clone();
        let port = free_port();
        let mut broker = start(&dir, port);
        if !journal {
            broker.kill().unwrap();
            broker.wait().unwrap();
            let conf = std::fs::read_to_string(dir.join("brokkr.conf")).unwrap();
            std::fs::write(
                dir.join("brokkr.conf"),
                conf.replace("persistence_journal true", "persistence_journal false"),
            )
            .unwrap();
            broker = restart(&dir, port);
        }
        let mut sub = Client::connect(port, "fan-in-sub", false).unwrap();
        sub.subscribe("t/#").unwrap();
        let got = Arc::new(Mutex::new(BTreeMap::new()));
        let got2 = Arc::clone(&got);
        let receiving = std::thread::spawn(move || subscriber(sub, &got2, Duration::from_secs(2)));
        let acked = Arc::new(Mutex::new(Acked::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let publishers: Vec<_> = (0..4)
            .map(|i| {
                let (a, s) = (Arc::clone(&acked), Arc::clone(&stop));
                std::thread::spawn(move || publisher(port, 1000 + i, &a, &s))
            })
            .collect();
        std::thread::sleep(Duration::from_secs(5));
        stop.store(true, Ordering::Relaxed);
        for p in publishers {
            p.join().unwrap();
        }
        let n = acked.lock().unwrap();
        let total = n.messages.len() + n.retained.len();
        receiving.join().unwrap();
        eprintln!(
            "journal {journal}: {} QoS 1 messages/s acknowledged, {} delivered in all",
            total / 5,
            got.lock().unwrap().len()
        );
        broker.kill().unwrap();
        broker.wait().unwrap();
    }
}

/// Start the binary again with the config already in `dir`.
fn restart(dir: &Path, port: u16) -> Child {
    spawn(&dir.join("brokkr.conf"), port, Stdio::null())
}
