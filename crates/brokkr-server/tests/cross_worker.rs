//! Several workers over real sockets: deliveries cross workers in publisher order, a takeover
//! storm across workers leaves one session, and wills published at shutdown reach subscribers
//! on other workers before they get DISCONNECT 0x8B.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use brokkr_codec::*;
use brokkr_core::limits::Limits;
use brokkr_core::shard::home_shard;
use brokkr_testkit::build;
use common::{Broker, Client};
use std::time::{Duration, Instant};

const WORKERS: usize = 4;

/// A client id starting with `prefix` whose session lives on worker `home`.
fn id_homed_on(prefix: &str, home: usize) -> String {
    (0..)
        .map(|i| format!("{prefix}-{i}"))
        .find(|id| home_shard(id.as_bytes(), WORKERS as u32) as usize == home)
        .unwrap()
}

/// Read publishes until `count` arrived (QoS 1 acknowledged as they come) or 30 s passed.
fn collect(mut c: Client, count: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = Vec::new();
    while got.len() < count && Instant::now() < deadline {
        match c.recv(Duration::from_secs(5)) {
            Some(Packet::Publish(p)) => {
                if let Some(id) = p.qos_pid.packet_id() {
                    c.send(&Packet::PubAck(PubAck::new(id)));
                }
                got.push(p.payload.to_vec());
            }
            Some(_) => {}
            None => break,
        }
    }
    got
}

#[test]
fn deliveries_cross_workers_in_publisher_order() {
    // Queues deep enough that a subscriber thread the test machine leaves waiting loses
    // nothing: this test is about order and loss between workers, not queue caps.
    let limits = Limits {
        qos_pending_messages_max: u16::MAX,
        qos_pending_bytes_max: 64 << 20,
        ..Limits::default()
    };
    let broker = Broker::start_with(common::free_port(), WORKERS, limits);
    let mut subscribers = Vec::new();
    for home in 0..WORKERS {
        let v = [ProtocolVersion::V5, ProtocolVersion::V3_1_1][home % 2];
        let (mut c, _) =
            Client::connect(broker.addr, v, build::connect(v, &id_homed_on("sub", home)));
        c.send(&Packet::Subscribe(build::subscribe(
            1,
            &["fleet/#"],
            QoS::AtLeastOnce,
        )));
        assert!(matches!(
            c.recv(Duration::from_secs(5)),
            Some(Packet::SubAck(_))
        ));
        subscribers.push(std::thread::spawn(move || collect(c, 3000)));
    }
    let v = ProtocolVersion::V3_1_1;
    let (mut p, _) = Client::connect(broker.addr, v, build::connect(v, &id_homed_on("pub", 2)));
    let sent: Vec<Vec<u8>> = (0..3000u32).map(|i| i.to_be_bytes().to_vec()).collect();
    for (i, payload) in sent.iter().enumerate() {
        let mut publish = build::publish("fleet/truck/7", payload, QoS::AtLeastOnce, false);
        publish.qos_pid = QosPid::from_parts(QoS::AtLeastOnce, build::pid((i % 60_000 + 1) as u16));
        p.send(&Packet::Publish(publish));
        if i % 100 == 99 {
            // Pace the publisher by its acknowledgements (every subscriber's queue is bounded).
            for _ in 0..100 {
                assert!(matches!(
                    p.recv(Duration::from_secs(5)),
                    Some(Packet::PubAck(_))
                ));
            }
        }
    }
    for (home, s) in subscribers.into_iter().enumerate() {
        let got = s.join().unwrap();
        assert_eq!(got.len(), sent.len(), "subscriber on worker {home}");
        assert!(got == sent, "subscriber on worker {home}: out of order");
    }
    broker.stop();
}

#[test]
fn a_takeover_storm_across_workers_leaves_one_session() {
    let broker = Broker::start(WORKERS);
    let addr = broker.addr;
    let v = ProtocolVersion::V5;
    // 24 connections with one client id at once; the listener spreads them over every worker.
    let clients: Vec<_> = (0..24)
        .map(|_| {
            std::thread::spawn(move || {
                let (mut c, ack) = Client::connect(addr, v, build::connect(v, "the-one"));
                assert_eq!(ack.reason, ReasonCode::Success);
                // Kicked out (DISCONNECT 0x8E, then closed) or still live after 3 s.
                match c.recv(Duration::from_secs(3)) {
                    Some(Packet::Disconnect(d)) => {
                        assert_eq!(d.reason, ReasonCode::SessionTakenOver);
                        false
                    }
                    None => true,
                    Some(other) => panic!("unexpected {other:?}"),
                }
            })
        })
        .collect();
    let live = clients
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|&live| live)
        .count();
    assert_eq!(live, 1, "exactly one connection keeps the client id");
    broker.stop();
}

#[test]
fn wills_published_at_shutdown_reach_other_workers_first() {
    let broker = Broker::start(WORKERS);
    let v = ProtocolVersion::V5;
    let (mut watcher, _) =
        Client::connect(broker.addr, v, build::connect(v, &id_homed_on("watch", 0)));
    watcher.send(&Packet::Subscribe(build::subscribe(
        1,
        &["status/#"],
        QoS::AtMostOnce,
    )));
    assert!(matches!(
        watcher.recv(Duration::from_secs(5)),
        Some(Packet::SubAck(_))
    ));
    let mut devices = Vec::new();
    for home in 1..WORKERS {
        let mut connect = build::connect(v, &id_homed_on("device", home));
        connect.will = Some(build::will(
            build::topic(&format!("status/{home}")),
            bytes::Bytes::from_static(b"offline"),
            QoS::AtMostOnce,
            false,
        ));
        devices.push(Client::connect(broker.addr, v, connect).0);
    }
    broker.stop();
    let mut wills = Vec::new();
    let last = loop {
        match watcher.recv(Duration::from_secs(5)) {
            Some(Packet::Publish(p)) => wills.push(p.topic.as_str().to_string()),
            other => break other,
        }
    };
    wills.sort();
    assert_eq!(wills, ["status/1", "status/2", "status/3"]);
    assert!(
        matches!(&last, Some(Packet::Disconnect(d)) if d.reason == ReasonCode::ServerShuttingDown),
        "{last:?}"
    );
}
