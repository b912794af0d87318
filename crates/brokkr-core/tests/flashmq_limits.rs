//! FlashMQ's per-listener bounds (`max_qos`, `max_buffer_size`, `mqtt3_qos_exceed_action`
//! inside `listen { }`), its retained-tree limits (`retained_messages_node_limit`,
//! `retained_messages_node_creation_limit` with its enforcement depth and mode) and
//! `client_initial_buffer_size`, as the config sets them in `Limits`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use brokkr_codec::*;
use brokkr_core::events::{Event, EventSettings};
use brokkr_core::limits::{Limits, ListenerOverrides, RetainedCreationLimit};
use brokkr_core::shard::Shard;
use brokkr_testkit::build;
use bytes::BytesMut;
use common::*;

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

/// Listener 0 uses the globals, listener 1 overrides what `over` sets.
fn two_listeners(over: ListenerOverrides) -> Limits {
    Limits {
        listeners: vec![ListenerOverrides::default(), over],
        ..Limits::default()
    }
}

/// Open a connection on `listener` and send `connect`.
fn connect_on(w: &mut World, listener: u16, connect: Connect) -> (Client, Vec<Packet>) {
    let mut c = Client {
        id: w.shard.accept_on(w.now, listener),
        v: connect.protocol.0,
        inbox: BytesMut::new(),
    };
    w.send(&c, Packet::Connect(Box::new(connect)));
    let got = w.recv(&mut c);
    (c, got)
}

fn granted(w: &mut World, c: &mut Client, filter: &str, qos: QoS) -> Vec<ReasonCode> {
    w.send(c, Packet::Subscribe(build::subscribe(1, &[filter], qos)));
    match w.recv(c).first() {
        Some(Packet::SubAck(a)) => a.reasons.clone(),
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

#[test]
fn a_listener_with_max_qos_0_grants_qos_0_and_says_so_in_connack() {
    let mut w = World::with_limits(two_listeners(ListenerOverrides {
        max_qos: Some(QoS::AtMostOnce),
        ..Default::default()
    }));
    let (mut low, got) = connect_on(&mut w, 1, build::connect(V5, "low"));
    assert_eq!(connack(&got).properties.maximum_qos, Some(QoS::AtMostOnce));
    assert_eq!(
        granted(&mut w, &mut low, "t", QoS::ExactlyOnce),
        [ReasonCode::Success]
    );
    publish(&mut w, &low, "t", b"x", QoS::AtLeastOnce, false);
    let got = w.recv(&mut low);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::QosNotSupported),
        "{got:?}"
    );
    // The other listener keeps the global maximum.
    let (mut full, got) = connect_on(&mut w, 0, build::connect(V5, "full"));
    assert_eq!(connack(&got).properties.maximum_qos, None);
    assert_eq!(
        granted(&mut w, &mut full, "t", QoS::ExactlyOnce),
        [ReasonCode::GrantedQos2]
    );
}

#[test]
fn a_listener_refuses_a_will_above_its_max_qos() {
    let mut w = World::with_limits(two_listeners(ListenerOverrides {
        max_qos: Some(QoS::AtMostOnce),
        ..Default::default()
    }));
    let mut connect = build::connect(V5, "willing");
    connect.will = Some(build::will(
        TopicName::new("w").unwrap(),
        bytes::Bytes::from_static(b"bye"),
        QoS::AtLeastOnce,
        false,
    ));
    let (_, got) = connect_on(&mut w, 1, connect.clone());
    assert_eq!(connack(&got).reason, ReasonCode::QosNotSupported);
    let (_, got) = connect_on(&mut w, 0, connect);
    assert_eq!(connack(&got).reason, ReasonCode::Success);
}

#[test]
fn a_listener_mqtt3_qos_exceed_action_overrides_the_global() {
    let mut w = World::with_limits(Limits {
        max_qos: QoS::AtMostOnce,
        listeners: vec![
            ListenerOverrides::default(),
            ListenerOverrides {
                mqtt3_qos_exceed_disconnects: Some(false),
                ..Default::default()
            },
        ],
        ..Limits::default()
    });
    let (mut dropper, _) = connect_on(&mut w, 1, build::connect(V311, "dropper"));
    publish(&mut w, &dropper, "t", b"x", QoS::AtLeastOnce, false);
    assert!(matches!(&w.recv(&mut dropper)[..], [Packet::PubAck(_)]));
    assert!(!w.is_closed(&dropper));
    let (closer, _) = connect_on(&mut w, 0, build::connect(V311, "closer"));
    publish(&mut w, &closer, "t", b"x", QoS::AtLeastOnce, false);
    assert!(w.is_closed(&closer), "the global action is disconnect");
}

#[test]
fn a_listener_max_buffer_size_caps_only_its_own_clients() {
    let mut w = World::with_limits(two_listeners(ListenerOverrides {
        write_buffer_bytes_max: Some(4096),
        ..Default::default()
    }));
    let (mut small, _) = connect_on(&mut w, 1, build::connect(V311, "small"));
    let (mut large, _) = connect_on(&mut w, 0, build::connect(V311, "large"));
    granted(&mut w, &mut small, "t", QoS::AtMostOnce);
    granted(&mut w, &mut large, "t", QoS::AtMostOnce);
    let p = w.connect(V311, "pub", true);
    for _ in 0..10 {
        publish(&mut w, &p, "t", &[7; 1000], QoS::AtMostOnce, false);
    }
    // QoS 0 never takes a buffer past its cap: 4 PUBLISHes of 1,006 bytes fit in 4096.
    assert_eq!(publishes(&w.recv(&mut small)).len(), 4);
    assert_eq!(publishes(&w.recv(&mut large)).len(), 10);
}

#[test]
fn a_reload_gives_new_connections_the_new_listener_limits() {
    let mut w = World::with_limits(Limits::default());
    let (mut before, _) = connect_on(&mut w, 1, build::connect(V5, "before"));
    w.shard
        .shared()
        .set_limits(two_listeners(ListenerOverrides {
            max_qos: Some(QoS::AtLeastOnce),
            ..Default::default()
        }));
    let (mut after, got) = connect_on(&mut w, 1, build::connect(V5, "after"));
    assert_eq!(connack(&got).properties.maximum_qos, Some(QoS::AtLeastOnce));
    assert_eq!(
        granted(&mut w, &mut after, "t", QoS::ExactlyOnce),
        [ReasonCode::GrantedQos1]
    );
    // A connection keeps the bounds of its listener as they were when it was accepted.
    assert_eq!(
        granted(&mut w, &mut before, "t", QoS::ExactlyOnce),
        [ReasonCode::GrantedQos2]
    );
}

/// Retain one message on each of `topics`.
fn retain_all(w: &mut World, topics: &[String]) {
    let p = w.connect(V311, "retainer", true);
    for t in topics {
        publish(w, &p, t, t.as_bytes(), QoS::AtMostOnce, true);
    }
}

/// The retained messages a new subscriber to `filter` gets.
fn retained_for(w: &mut World, filter: &str) -> Vec<String> {
    let mut c = w.connect(V311, "looker", true);
    w.send(
        &c,
        Packet::Subscribe(build::subscribe(1, &[filter], QoS::AtMostOnce)),
    );
    let got = w.recv(&mut c);
    publishes(&got)
        .iter()
        .map(|p| p.topic.as_str().to_string())
        .collect()
}

#[test]
fn retained_messages_node_limit_caps_the_nodes_a_subscribe_walks() {
    let topics: Vec<String> = (0..10).map(|i| format!("a/{i}")).collect();
    let mut w = World::with_limits(Limits {
        retained_walk_nodes_max: 5,
        ..Limits::default()
    });
    retain_all(&mut w, &topics);
    // The walk enters the root, `a`, then a/0, a/1 and a/2 (children in key order).
    assert_eq!(retained_for(&mut w, "a/#"), ["a/0", "a/1", "a/2"]);
    let mut unlimited = World::new();
    retain_all(&mut unlimited, &topics);
    assert_eq!(retained_for(&mut unlimited, "a/#").len(), 10);
}

#[test]
fn retained_messages_node_limit_holds_across_slices() {
    // More than one slice of background work (1,000 nodes each) before the limit.
    let topics: Vec<String> = (0..3000).map(|i| format!("a/{i:04}")).collect();
    let mut w = World::with_limits(Limits {
        retained_walk_nodes_max: 2500,
        ..Limits::default()
    });
    retain_all(&mut w, &topics);
    let got = retained_for(&mut w, "#");
    assert_eq!(
        got.len(),
        2500 - 2,
        "every node entered but the root and `a`"
    );
    assert_eq!(got.last().map(String::as_str), Some("a/2497"));
}

fn creation_limit(depth: u16, nodes: u32, reject: bool) -> Limits {
    Limits {
        retained_creation_limit: Some(RetainedCreationLimit {
            depth_levels: depth,
            nodes_max: nodes,
            reject,
        }),
        ..Limits::default()
    }
}

fn strings(topics: &[&str]) -> Vec<String> {
    topics.iter().map(|t| t.to_string()).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn node_creation_limit_refuses_topics_that_would_grow_a_subtree_past_it() {
    let mut w = World::with_limits(creation_limit(1, 3, true));
    let mut live = w.connect(V311, "live", true);
    subscribe(&mut w, &mut live, "#", QoS::AtMostOnce);
    retain_all(
        &mut w,
        &strings(&[
            "a/1",
            "a/2",
            "a/3",
            "a/4",
            "a/x/y",
            "b",
            "b/1",
            "c/1/2/3",
            "c/1/2/3/4",
        ]),
    );
    // Refused messages are still delivered, only not retained.
    assert_eq!(publishes(&w.recv(&mut live)).len(), 9);
    assert_eq!(
        sorted(retained_for(&mut w, "#")),
        ["a/1", "a/2", "a/3", "b", "b/1", "c/1/2/3"]
    );
}

#[test]
fn node_creation_limit_never_refuses_a_replacement_or_a_deletion() {
    // FlashMQ refuses these too once a subtree is full (and counts empty nodes until its
    // periodic purge); brokkr frees empty nodes at once, so deleting makes room again.
    let mut w = World::with_limits(creation_limit(1, 2, true));
    retain_all(&mut w, &strings(&["d/1", "d/2", "d/3"]));
    let p = w.connect(V311, "editor", true);
    publish(&mut w, &p, "d/1", b"new", QoS::AtMostOnce, true);
    publish(&mut w, &p, "d/2", b"", QoS::AtMostOnce, true);
    publish(&mut w, &p, "d/3", b"now", QoS::AtMostOnce, true);
    let mut c = w.connect(V311, "reader", true);
    w.send(
        &c,
        Packet::Subscribe(build::subscribe(1, &["d/#"], QoS::AtMostOnce)),
    );
    let got = w.recv(&mut c);
    let mut seen: Vec<(String, Vec<u8>)> = publishes(&got)
        .iter()
        .map(|p| (p.topic.as_str().to_string(), p.payload.to_vec()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("d/1".to_string(), b"new".to_vec()),
            ("d/3".to_string(), b"now".to_vec())
        ]
    );
}

#[test]
fn node_creation_limit_at_depth_0_caps_the_whole_tree() {
    let mut w = World::with_limits(creation_limit(0, 3, true));
    retain_all(&mut w, &strings(&["a/1", "b", "c"]));
    assert_eq!(sorted(retained_for(&mut w, "#")), ["a/1", "b"]);
}

#[test]
fn node_creation_limit_in_log_mode_retains_and_reports_once_a_second() {
    let mut w = World::with_limits(creation_limit(1, 1, false));
    w.shard.enable_events(EventSettings::connections());
    retain_all(&mut w, &strings(&["a/1", "a/2", "a/3", "a/4"]));
    assert_eq!(retained_for(&mut w, "a/#").len(), 4);
    let reports: Vec<Event> = w
        .shard
        .take_events()
        .into_iter()
        .filter(|e| matches!(e, Event::RetainedLimit { .. }))
        .collect();
    assert!(
        matches!(&reports[..], [Event::RetainedLimit { topic, refused: false, suppressed: 0, conn: Some(_) }] if topic == "a/2"),
        "{reports:?}"
    );
    w.now += 1_000;
    retain_all(&mut w, &strings(&["a/5"]));
    let reports: Vec<Event> = w.shard.take_events();
    assert!(
        reports.iter().any(
            |e| matches!(e, Event::RetainedLimit { topic, suppressed: 2, .. } if topic == "a/5")
        ),
        "{reports:?}"
    );
}

#[test]
fn node_creation_limit_applies_to_wills_and_restored_messages() {
    let mut w = World::with_limits(creation_limit(1, 1, true));
    retain_all(&mut w, &strings(&["dev/1"]));
    let mut connect = build::connect(V311, "dying");
    connect.will = Some(build::will(
        TopicName::new("dev/2").unwrap(),
        bytes::Bytes::from_static(b"gone"),
        QoS::AtMostOnce,
        true,
    ));
    let (dying, _) = w.connect_with(connect);
    w.shard.connection_lost(w.now, dying.id);
    assert_eq!(retained_for(&mut w, "dev/#"), ["dev/1"]);

    let mut source = World::new();
    retain_all(&mut source, &strings(&["x/1", "x/2", "y/1"]));
    let saved = source.shard.shared().snapshot_retained(source.now);
    let mut fresh = World {
        shard: Shard::new(creation_limit(1, 1, true), 7),
        now: 5_000,
    };
    let report = fresh.shard.restore_retained(fresh.now, saved);
    assert_eq!((report.restored, report.skipped), (2, 1));
    assert_eq!(sorted(retained_for(&mut fresh, "#")), ["x/1", "y/1"]);
}

#[test]
fn client_initial_buffer_size_is_what_an_idle_buffer_may_keep() {
    let kept = |idle_buffer_bytes_max: usize| {
        let mut w = World::with_limits(Limits {
            idle_buffer_bytes_max,
            ..Limits::default()
        });
        let mut sub = w.connect(V311, "sub", true);
        subscribe(&mut w, &mut sub, "t", QoS::AtMostOnce);
        let _ = w.shard.take_write(sub.id);
        let p = w.connect(V311, "pub", true);
        // Two messages in one turn: the write buffer grows past the first and keeps the
        // unused rest of its allocation after the bytes are taken.
        publish(&mut w, &p, "t", &[1; 100_000], QoS::AtMostOnce, false);
        publish(&mut w, &p, "t", &[2; 1_000], QoS::AtMostOnce, false);
        let out = w.shard.take_write(sub.id);
        w.shard.written(sub.id, out.len());
        w.shard.buffer_capacity_bytes(sub.id)
    };
    assert!(
        kept(1 << 20) > 4096,
        "a large setting keeps the burst's buffer"
    );
    assert!(kept(1024) <= 2 * 1024, "the default releases it");
}
