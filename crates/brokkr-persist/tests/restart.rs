//! Restart tests: state built through the protocol on one broker, saved through the file
//! format, loaded into a fresh broker (another shard count, another clock) and checked through
//! the protocol again. One test per kind of state the operations issue lists.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use brokkr_codec::*;
use brokkr_testkit::build;
use common::*;

const BEFORE: u64 = 1_000_000;
const AFTER: u64 = 90_000_000;

#[test]
fn retained_messages_survive_and_expired_ones_do_not() {
    let mut cl = Cluster::new(2, BEFORE);
    let (mut p, _) = cl.persistent(V5, "publisher", 0);
    let mut short = publish("r/short", b"30s", QoS::AtMostOnce, 1, true);
    short.properties = brokkr_testkit::build::publish_props(PublishPropertiesBuilder {
        message_expiry_interval_secs: Some(30),
        ..Default::default()
    });
    let mut long = publish("r/long", b"1h", QoS::AtLeastOnce, 2, true);
    long.properties = brokkr_testkit::build::publish_props(PublishPropertiesBuilder {
        message_expiry_interval_secs: Some(3600),
        ..Default::default()
    });
    cl.publish(&mut p, short);
    cl.publish(&mut p, long);
    cl.publish(
        &mut p,
        publish("r/plain", b"forever", QoS::ExactlyOnce, 3, true),
    );
    cl.advance(20_000);
    // Down for 15 s: the 30 s message expired while the broker was stopped.
    let mut cl = cl.restart(3, 15_000, AFTER);
    assert_eq!(cl.shards[0].retained_count(), 2);
    let (mut s, _) = cl.connect_with(1, V5, build::connect(V5, "reader"));
    cl.subscribe(&mut s, "r/#", QoS::ExactlyOnce);
    let got = cl.recv(&mut s);
    let mut seen: Vec<_> = publishes(&got)
        .iter()
        .map(|x| {
            let expiry = x.properties.message_expiry_interval_secs();
            (
                x.topic.as_str().to_string(),
                x.qos_pid.qos(),
                x.retain,
                expiry,
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("r/long".into(), QoS::AtLeastOnce, true, Some(3600 - 35)),
            ("r/plain".into(), QoS::ExactlyOnce, true, None),
        ]
    );
}

#[test]
fn queued_qos_1_and_2_are_delivered_after_restart_in_order() {
    let mut cl = Cluster::new(2, BEFORE);
    let (mut sub, _) = cl.persistent(V5, "subscriber", 3600);
    cl.subscribe(&mut sub, "q/#", QoS::ExactlyOnce);
    cl.lose(&mut sub);
    let (mut p, _) = cl.persistent(V311, "publisher", 0);
    cl.publish(&mut p, publish("q/1", b"a", QoS::AtLeastOnce, 1, false));
    cl.publish(&mut p, publish("q/2", b"b", QoS::ExactlyOnce, 2, false));
    cl.publish(&mut p, publish("q/0", b"qos0", QoS::AtMostOnce, 0, false));
    cl.publish(&mut p, publish("q/3", b"c", QoS::AtLeastOnce, 3, false));
    cl.send(&mut p, Packet::PubRel(PubRel::new(build::pid(2))));
    cl.advance(1_000);
    for count in [1, 3, 4] {
        let mut cl = cl.restart(count, 2_000, AFTER);
        let (mut sub, present) = cl.connect_with(0, V5, persistent_connect(V5, "subscriber", 3600));
        assert!(present, "{count} shards: Session Present");
        let got = cl.recv(&mut sub);
        let seen: Vec<_> = publishes(&got)
            .iter()
            .map(|x| (x.payload.to_vec(), x.qos_pid.qos()))
            .collect();
        assert_eq!(
            seen,
            vec![
                (b"a".to_vec(), QoS::AtLeastOnce),
                (b"b".to_vec(), QoS::ExactlyOnce),
                (b"c".to_vec(), QoS::AtLeastOnce),
            ],
            "{count} shards: QoS 0 is never queued"
        );
        // The subscription came back too: a new message reaches the session.
        let (mut p, _) = cl.connect_with(0, V311, build::connect(V311, "p2"));
        cl.publish(&mut p, publish("q/4", b"d", QoS::AtLeastOnce, 1, false));
        assert_eq!(payloads(&cl.recv(&mut sub)), vec![b"d".to_vec()]);
    }
}

#[test]
fn qos2_mid_flow_continues_after_restart_both_ways() {
    let mut cl = Cluster::new(2, BEFORE);
    let (mut sub, _) = cl.persistent(V5, "sub", 3600);
    cl.subscribe(&mut sub, "m/#", QoS::ExactlyOnce);
    let (mut p, _) = cl.persistent(V5, "pub", 3600);
    // Outbound to `sub`: a QoS 2 message PUBREC'd (PUBREL sent, PUBCOMP not yet) and a QoS 1
    // message not acknowledged.
    cl.publish(&mut p, publish("m/x", b"two", QoS::ExactlyOnce, 9, false));
    let got = cl.recv(&mut p);
    assert!(matches!(&got[..], [Packet::PubRec(r)] if r.packet_id == build::pid(9)));
    let got = cl.recv(&mut sub);
    let two = publishes(&got)[0].qos_pid.packet_id().unwrap();
    cl.send(&mut sub, Packet::PubRec(PubRec::new(two)));
    assert!(matches!(&cl.recv(&mut sub)[..], [Packet::PubRel(r)] if r.packet_id == two));
    cl.publish(&mut p, publish("m/y", b"one", QoS::AtLeastOnce, 10, false));
    let got = cl.recv(&mut sub);
    let one = publishes(&got)[0].qos_pid.packet_id().unwrap();
    // Inbound from `pub`: id 9 got PUBREC, its PUBREL never arrived.
    let mut cl = cl.restart(3, 1_000, AFTER);

    let (mut sub, present) = cl.connect_with(0, V5, persistent_connect(V5, "sub", 3600));
    assert!(present);
    let got = cl.recv(&mut sub);
    match &got[..] {
        [Packet::PubRel(r), Packet::Publish(x)] => {
            assert_eq!(r.packet_id, two, "PUBREL resent for the PUBREC'd message");
            assert_eq!(x.qos_pid.packet_id(), Some(one));
            assert!(x.dup, "resent PUBLISH has DUP");
            assert_eq!(&x.payload[..], b"one");
        }
        other => panic!("expected PUBREL then PUBLISH, got {other:?}"),
    }
    cl.send(&mut sub, Packet::PubComp(PubComp::new(two)));
    cl.send(&mut sub, Packet::PubAck(PubAck::new(one)));

    let (mut p, present) = cl.connect_with(1, V5, persistent_connect(V5, "pub", 3600));
    assert!(present);
    let mut again = publish("m/x", b"two", QoS::ExactlyOnce, 9, false);
    again.dup = true;
    cl.publish(&mut p, again);
    assert!(matches!(&cl.recv(&mut p)[..], [Packet::PubRec(r)] if r.packet_id == build::pid(9)));
    assert!(
        payloads(&cl.recv(&mut sub)).is_empty(),
        "the duplicate is not delivered again"
    );
    cl.send(&mut p, Packet::PubRel(PubRel::new(build::pid(9))));
    match &cl.recv(&mut p)[..] {
        [Packet::PubComp(c)] => {
            assert_eq!(c.packet_id, build::pid(9));
            assert_eq!(c.reason, ReasonCode::Success);
        }
        other => panic!("{other:?}"),
    }
    // Packet ids continue after the saved ones: a new message gets a fresh one.
    cl.publish(&mut p, publish("m/z", b"new", QoS::AtLeastOnce, 11, false));
    let got = cl.recv(&mut sub);
    let fresh = publishes(&got)[0].qos_pid.packet_id().unwrap();
    assert!(fresh.get() > one.get().max(two.get()), "{fresh:?}");
}

#[test]
fn a_delayed_will_fires_at_its_time_after_restart() {
    let mut cl = Cluster::new(1, BEFORE);
    let mut connect = persistent_connect(V5, "device", 600);
    let mut will = build::will(
        build::topic("status/device"),
        bytes::Bytes::from_static(b"gone"),
        QoS::AtLeastOnce,
        false,
    );
    will.properties.will_delay_interval_secs = Some(30);
    connect.will = Some(will);
    let (mut d, _) = cl.connect_with(0, V5, connect);
    cl.lose(&mut d);
    cl.advance(10_000);
    // 10 s waited before the save, 5 s while down: 15 s left after the restart.
    let mut cl = cl.restart(2, 5_000, AFTER);
    let (mut w, _) = cl.connect_with(0, V5, build::connect(V5, "watcher"));
    cl.subscribe(&mut w, "status/#", QoS::AtLeastOnce);
    cl.advance(14_900);
    assert!(
        payloads(&cl.recv(&mut w)).is_empty(),
        "not before its delay"
    );
    assert!(cl.shards.iter().any(|s| s.next_deadline_ms().is_some()));
    cl.advance(100);
    assert_eq!(payloads(&cl.recv(&mut w)), vec![b"gone".to_vec()]);
    cl.advance(60_000);
    assert!(payloads(&cl.recv(&mut w)).is_empty(), "exactly once");
}

#[test]
fn a_reconnect_after_restart_cancels_the_delayed_will() {
    let mut cl = Cluster::new(1, BEFORE);
    let mut connect = persistent_connect(V5, "device", 600);
    let mut will = build::will(
        build::topic("w"),
        bytes::Bytes::from_static(b"x"),
        QoS::AtMostOnce,
        false,
    );
    will.properties.will_delay_interval_secs = Some(30);
    connect.will = Some(will);
    let (mut d, _) = cl.connect_with(0, V5, connect);
    cl.lose(&mut d);
    let mut cl = cl.restart(1, 0, AFTER);
    let (mut w, _) = cl.connect_with(0, V5, build::connect(V5, "watcher"));
    cl.subscribe(&mut w, "w", QoS::AtMostOnce);
    let (_d, present) = cl.connect_with(0, V5, persistent_connect(V5, "device", 600));
    assert!(present);
    cl.advance(60_000);
    assert!(payloads(&cl.recv(&mut w)).is_empty(), "MQTT-3.1.3-9");
}

#[test]
fn session_expiry_continues_across_the_restart() {
    let mut cl = Cluster::new(2, BEFORE);
    let (mut c, _) = cl.persistent(V5, "sleeper", 60);
    cl.subscribe(&mut c, "s/#", QoS::AtLeastOnce);
    cl.lose(&mut c);
    cl.advance(50_000);
    assert_eq!(cl.sessions(), 1);
    let mut cl = cl.restart(4, 0, AFTER);
    assert_eq!(cl.sessions(), 1);
    assert_eq!(cl.shards[0].shared().subscription_count(), 1);
    cl.advance(9_900);
    assert_eq!(cl.sessions(), 1, "60 s expiry, 59.9 s offline");
    cl.advance(100);
    assert_eq!(cl.sessions(), 0, "gone 10 s after the restart");
    assert_eq!(cl.shards[0].shared().subscription_count(), 0);
    let (_, present) = cl.connect_with(0, V5, persistent_connect(V5, "sleeper", 60));
    assert!(!present);
}

#[test]
fn time_the_broker_was_down_counts_toward_session_expiry() {
    let mut cl = Cluster::new(1, BEFORE);
    let (mut c, _) = cl.persistent(V5, "sleeper", 60);
    cl.lose(&mut c);
    cl.advance(50_000);
    let mut cl = cl.restart(1, 20_000, AFTER);
    cl.advance(0);
    assert_eq!(cl.sessions(), 0);
}

#[test]
fn clean_sessions_are_not_saved() {
    let mut cl = Cluster::new(2, BEFORE);
    let (_a, _) = cl.connect_with(0, V5, build::connect(V5, "v5-expiry-0"));
    let (_b, _) = cl.connect_with(0, V311, build::connect(V311, "v311-clean"));
    let (_c, _) = cl.persistent(V311, "v311-persistent", 0);
    let (_d, _) = cl.persistent(V5, "v5-persistent", 10);
    let mut ids: Vec<_> = cl
        .shards
        .iter()
        .flat_map(|s| s.snapshot_sessions(cl.now))
        .map(|s| (s.client_id, s.offline_for_ms))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![("v311-persistent".into(), 0), ("v5-persistent".into(), 0)],
        "online sessions are saved as if offline from the save"
    );
    let cl = cl.restart(3, 0, AFTER);
    assert_eq!(cl.sessions(), 2);
}

#[test]
fn shutdown_for_save_publishes_immediate_wills_and_keeps_delayed_ones() {
    let mut cl = Cluster::new(2, BEFORE);
    let (mut sub, _) = cl.persistent(V5, "watcher", 3600);
    cl.subscribe(&mut sub, "status/#", QoS::AtLeastOnce);
    for (id, delay) in [("now", 0), ("later", 20)] {
        let mut connect = persistent_connect(V5, id, 600);
        let mut will = build::will(
            build::topic(&format!("status/{id}")),
            bytes::Bytes::copy_from_slice(id.as_bytes()),
            QoS::AtLeastOnce,
            false,
        );
        will.properties.will_delay_interval_secs = Some(delay);
        connect.will = Some(will);
        cl.connect_with(0, V5, connect);
    }
    let now = cl.now;
    for s in &mut cl.shards {
        s.shutdown_for_save(now);
    }
    cl.settle();
    let got = cl.recv(&mut sub);
    assert!(
        matches!(got.last(), Some(Packet::Disconnect(d)) if d.reason == ReasonCode::ServerShuttingDown),
        "{got:?}"
    );
    // The immediate will went to the watcher's session before the save; its connection was
    // already closing, so it waits in the session's queue.
    let mut cl = cl.restart(1, 5_000, AFTER);
    let (mut sub, _) = cl.connect_with(0, V5, persistent_connect(V5, "watcher", 3600));
    let got = cl.recv(&mut sub);
    let first: Vec<_> = payloads(&got);
    assert!(first.contains(&b"now".to_vec()), "{first:?}");
    assert!(!first.contains(&b"later".to_vec()));
    cl.advance(14_999);
    assert!(payloads(&cl.recv(&mut sub)).is_empty());
    cl.advance(1);
    assert_eq!(payloads(&cl.recv(&mut sub)), vec![b"later".to_vec()]);
}
