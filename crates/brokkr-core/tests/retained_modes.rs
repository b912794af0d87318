//! `retained_messages_mode`, mode by mode, as FlashMQ 1.26 behaves (checked against its
//! binary): what the publisher hears, what a Retain As Published subscriber gets, what a new
//! subscriber finds, what happens to a retained will, and CONNACK's Retain Available.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use brokkr_codec::*;
use brokkr_core::limits::{Limits, RetainedMode};
use brokkr_testkit::build;
use common::*;

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

fn world(mode: RetainedMode) -> World {
    World::with_limits(Limits {
        retained_mode: mode,
        ..Limits::default()
    })
}

/// A subscriber to `r/#` with Retain As Published, so it sees the RETAIN flag as sent.
fn rap_subscriber(w: &mut World) -> Client {
    let mut c = w.connect(V5, "rap", true);
    let mut sub = build::subscribe(1, &["r/#"], QoS::AtMostOnce);
    sub.filters[0].1.retain_as_published = true;
    w.send(&c, Packet::Subscribe(sub));
    let _ = w.recv(&mut c);
    c
}

/// What a subscriber arriving now gets from the store for `r/#`.
fn stored(w: &mut World) -> usize {
    let mut late = w.connect(V311, "late", true);
    w.send(
        &late,
        Packet::Subscribe(build::subscribe(1, &["r/#"], QoS::AtMostOnce)),
    );
    publishes(&w.recv(&mut late)).len()
}

fn retain_available(w: &mut World) -> Option<bool> {
    let (_, got) = w.connect_with(build::connect(V5, "asker"));
    connack(&got).properties.retain_available
}

/// Publish a retained QoS 1 message on `r/a`; what the publisher got back.
fn publish_retained(w: &mut World, publisher: &mut Client) -> Vec<Packet> {
    publish(w, publisher, "r/a", b"x", QoS::AtLeastOnce, true);
    w.recv(publisher)
}

#[test]
fn enabled_stores_and_says_retain_is_available() {
    let mut w = world(RetainedMode::Enabled);
    assert_eq!(retain_available(&mut w), Some(true));
    let mut rap = rap_subscriber(&mut w);
    let mut p = w.connect(V5, "p", true);
    assert!(matches!(
        &publish_retained(&mut w, &mut p)[..],
        [Packet::PubAck(_)]
    ));
    assert!(publishes(&w.recv(&mut rap))[0].retain);
    assert_eq!(stored(&mut w), 1);
}

#[test]
fn enabled_without_retaining_relays_the_flag_and_stores_nothing() {
    let mut w = world(RetainedMode::WithoutRetaining);
    assert_eq!(retain_available(&mut w), Some(false));
    let mut rap = rap_subscriber(&mut w);
    let mut p = w.connect(V5, "p", true);
    assert!(matches!(
        &publish_retained(&mut w, &mut p)[..],
        [Packet::PubAck(_)]
    ));
    assert!(publishes(&w.recv(&mut rap))[0].retain);
    assert_eq!(stored(&mut w), 0);
}

#[test]
fn downgrade_clears_the_flag_of_messages_and_wills() {
    let mut w = world(RetainedMode::Downgrade);
    assert_eq!(retain_available(&mut w), Some(false));
    let mut rap = rap_subscriber(&mut w);
    let mut p = w.connect(V5, "p", true);
    assert!(matches!(
        &publish_retained(&mut w, &mut p)[..],
        [Packet::PubAck(_)]
    ));
    assert!(!publishes(&w.recv(&mut rap))[0].retain);
    let mut connect = build::connect(V311, "dying");
    connect.will = Some(build::will(
        TopicName::new("r/will").unwrap(),
        bytes::Bytes::from_static(b"gone"),
        QoS::AtMostOnce,
        true,
    ));
    let (dying, _) = w.connect_with(connect);
    w.shard.connection_lost(w.now, dying.id);
    let got = w.recv(&mut rap);
    assert!(matches!(&publishes(&got)[..], [p] if !p.retain && p.topic.as_str() == "r/will"));
    assert_eq!(stored(&mut w), 0);
}

#[test]
fn drop_acknowledges_and_discards() {
    let mut w = world(RetainedMode::Drop);
    let mut rap = rap_subscriber(&mut w);
    let mut p = w.connect(V5, "p", true);
    assert!(
        matches!(&publish_retained(&mut w, &mut p)[..], [Packet::PubAck(a)] if a.reason == ReasonCode::Success)
    );
    assert!(publishes(&w.recv(&mut rap)).is_empty());
    assert_eq!(stored(&mut w), 0);
    // Messages without the flag still flow.
    publish(&mut w, &p, "r/b", b"y", QoS::AtMostOnce, false);
    assert_eq!(publishes(&w.recv(&mut rap)).len(), 1);
}

#[test]
fn disconnect_with_error_disconnects_the_sender_and_refuses_retained_wills() {
    let mut w = world(RetainedMode::DisconnectWithError);
    let mut rap = rap_subscriber(&mut w);
    let mut p = w.connect(V5, "p", true);
    let got = publish_retained(&mut w, &mut p);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::RetainNotSupported),
        "{got:?}"
    );
    assert!(w.is_closed(&p));
    let mut p3 = w.connect(V311, "p3", true);
    assert!(publish_retained(&mut w, &mut p3).is_empty());
    assert!(w.is_closed(&p3), "3.x: closed");
    assert!(publishes(&w.recv(&mut rap)).is_empty());
    let mut connect = build::connect(V5, "willing");
    connect.will = Some(build::will(
        TopicName::new("r/w").unwrap(),
        bytes::Bytes::from_static(b"bye"),
        QoS::AtMostOnce,
        true,
    ));
    let (_, got) = w.connect_with(connect);
    assert_eq!(connack(&got).reason, ReasonCode::RetainNotSupported);
}

#[test]
fn a_mode_that_stores_nothing_restores_nothing() {
    let mut source = World::new();
    let p = source.connect(V311, "p", true);
    publish(&mut source, &p, "r/a", b"x", QoS::AtMostOnce, true);
    let saved = source.shard.shared().snapshot_retained(source.now);
    assert_eq!(saved.len(), 1);
    let mut w = world(RetainedMode::WithoutRetaining);
    let report = w.shard.restore_retained(w.now, saved);
    assert_eq!((report.restored, report.skipped), (0, 1));
}
