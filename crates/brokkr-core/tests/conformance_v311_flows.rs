//! MQTT 3.1.1 server behaviour: sessions, CONNACK, retained messages, QoS flows, subscriptions
//! and ordering, one test per normative statement, named `v311_mqtt_...` after it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::*;

use brokkr_codec::*;
use brokkr_testkit::build::{self, encode};

use ProtocolVersion::V3_1_1 as V311;

fn publish_id(w: &mut World, c: &Client, topic: &str, payload: &[u8], qos: QoS, id: u16) {
    let mut p = build::publish(topic, payload, qos, false);
    p.qos_pid = QosPid::from_parts(qos, build::pid(id));
    w.send(c, Packet::Publish(p));
}

fn payloads(p: &[Packet]) -> Vec<Vec<u8>> {
    publishes(p).iter().map(|p| p.payload.to_vec()).collect()
}

/// A persistent subscriber "s" to `t` at `qos`, and a publisher.
fn pair(w: &mut World, qos: QoS) -> (Client, Client) {
    let (mut s, _) = persistent(w, V311, "s");
    subscribe(w, &mut s, "t", qos);
    let p = w.connect(V311, "p", true);
    (s, p)
}

#[test]
fn v311_mqtt_3_1_3_2_the_client_id_keys_the_session() {
    let mut w = World::new();
    let (a, _) = pair(&mut w, QoS::AtLeastOnce);
    w.shard.connection_lost(w.now, a.id);
    let (b, _) = persistent(&mut w, V311, "other");
    w.shard.connection_lost(w.now, b.id);
    let p = w.connect(V311, "p2", true);
    publish(&mut w, &p, "t", b"x", QoS::AtLeastOnce, false);
    let (_, got) = resume(&mut w, V311, "other");
    assert!(connack(&got).session_present && publishes(&got).is_empty());
    let (_, got) = resume(&mut w, V311, "s");
    assert!(connack(&got).session_present);
    assert_eq!(payloads(&got), [b"x".to_vec()]);
}

#[test]
fn v311_mqtt_3_1_4_3_and_4_clean_session_handled_and_connack_0() {
    let mut w = World::new();
    let (s, _) = pair(&mut w, QoS::AtLeastOnce);
    w.shard.connection_lost(w.now, s.id);
    let (_, got) = w.connect_with(build::connect(V311, "s"));
    assert!(matches!(&got[..], [Packet::ConnAck(a)]
        if a.reason == ReasonCode::Success && !a.session_present));
    let (_, got) = resume(&mut w, V311, "s");
    assert!(
        !connack(&got).session_present,
        "the clean session was not kept"
    );
}

#[test]
fn v311_mqtt_3_2_2_1_and_2_and_3_session_present() {
    let mut w = World::new();
    let (c, present) = persistent(&mut w, V311, "x");
    assert!(!present, "MQTT-3.2.2-3");
    w.shard.connection_lost(w.now, c.id);
    let (_, present) = persistent(&mut w, V311, "x");
    assert!(present, "MQTT-3.2.2-2");
    let (_, got) = w.connect_with(build::connect(V311, "x"));
    assert!(!connack(&got).session_present, "MQTT-3.2.2-1");
}

#[test]
fn v311_mqtt_3_2_2_4_and_5_a_refusal_has_session_present_0_and_closes() {
    let mut w = World::new();
    let mut owner = build::connect(V311, "s");
    owner.clean_start = false;
    owner.username = Some(build::string("alice"));
    let (c, _) = w.connect_with(owner);
    w.shard.connection_lost(w.now, c.id);
    let mut thief = build::connect(V311, "s");
    thief.clean_start = false;
    thief.username = Some(build::string("mallory"));
    let c = w.open(V311);
    w.send(&c, Packet::Connect(Box::new(thief)));
    assert_eq!(w.shard.write_buffer(c.id), [0x20, 0x02, 0x00, 0x05]);
    assert!(w.is_closed(&c));
}

#[test]
fn v311_mqtt_3_2_2_6_no_fitting_return_code_closes_without_connack() {
    let mut w = World::new();
    let mut bytes = encode(&Packet::Connect(Box::new(build::connect(V311, "x"))), V311);
    bytes.push(0xAA); // trailing garbage: malformed, and 3.1.1 has no code for that
    bytes[1] += 1;
    let c = w.open(V311);
    w.send_raw(&c, &bytes);
    assert!(w.shard.write_buffer(c.id).is_empty());
    assert!(w.is_closed(&c));
}

#[test]
fn v311_mqtt_3_3_1_1_dup_is_set_on_every_redelivery() {
    let mut w = World::new();
    let (mut s, p) = pair(&mut w, QoS::AtLeastOnce);
    publish(&mut w, &p, "t", b"x", QoS::AtLeastOnce, false);
    let first = w.recv(&mut s);
    assert!(!publishes(&first)[0].dup);
    for _ in 0..2 {
        w.shard.connection_lost(w.now, s.id);
        let (back, got) = resume(&mut w, V311, "s");
        assert!(publishes(&got)[0].dup);
        assert_eq!(publishes(&got)[0].qos_pid, publishes(&first)[0].qos_pid);
        s = back;
    }
}

#[test]
fn v311_mqtt_3_3_1_3_outgoing_dup_ignores_the_incoming_dup() {
    let mut w = World::new();
    let (mut s, p) = pair(&mut w, QoS::AtLeastOnce);
    let mut m = build::publish("t", b"x", QoS::AtLeastOnce, false);
    m.dup = true;
    w.send(&p, Packet::Publish(m));
    assert!(!publishes(&w.recv(&mut s))[0].dup);
}

#[test]
// FlashMQ: testReceivingRetainedMessageWithQoS, testRetainedWildcard, test_retained_tree
fn v311_mqtt_3_3_1_5_and_6_retained_message_and_qos_stored_for_new_subscribers() {
    let mut w = World::new();
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "r/a", b"old", QoS::AtLeastOnce, true);
    publish(&mut w, &p, "r/a", b"latest", QoS::AtLeastOnce, true);
    publish(&mut w, &p, "r/b", b"b", QoS::AtMostOnce, true);
    let mut s = w.connect(V311, "s", true);
    w.send(
        &s,
        Packet::Subscribe(build::subscribe(1, &["r/+"], QoS::ExactlyOnce)),
    );
    let got = w.recv(&mut s);
    let mut seen: Vec<_> = publishes(&got)
        .iter()
        .map(|m| {
            (
                m.topic.as_str().to_string(),
                m.payload.to_vec(),
                m.qos_pid.qos(),
                m.retain,
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("r/a".into(), b"latest".to_vec(), QoS::AtLeastOnce, true),
            ("r/b".into(), b"b".to_vec(), QoS::AtMostOnce, true)
        ]
    );
}

#[test]
fn v311_mqtt_3_3_1_7_a_retained_qos_0_message_replaces_the_earlier_one() {
    let mut w = World::new();
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "r", b"q1", QoS::AtLeastOnce, true);
    publish(&mut w, &p, "r", b"q0", QoS::AtMostOnce, true);
    let mut s = w.connect(V311, "s", true);
    w.send(
        &s,
        Packet::Subscribe(build::subscribe(1, &["r"], QoS::AtLeastOnce)),
    );
    assert_eq!(payloads(&w.recv(&mut s)), [b"q0".to_vec()]);
}

#[test]
fn v311_mqtt_3_3_1_12_retain_0_is_not_stored_and_leaves_the_retained_message() {
    let mut w = World::new();
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "r", b"kept", QoS::AtMostOnce, true);
    publish(&mut w, &p, "r", b"live", QoS::AtMostOnce, false);
    publish(&mut w, &p, "n", b"never", QoS::AtMostOnce, false);
    assert_eq!(w.shard.retained_count(), 1);
    let mut s = w.connect(V311, "s", true);
    w.send(
        &s,
        Packet::Subscribe(build::subscribe(1, &["#"], QoS::AtMostOnce)),
    );
    assert_eq!(payloads(&w.recv(&mut s)), [b"kept".to_vec()]);
}

#[test]
fn v311_mqtt_3_3_2_3_delivered_topic_matches_the_filter() {
    let mut w = World::new();
    let mut s = w.connect(V311, "s", true);
    subscribe(&mut w, &mut s, "a/+/c", QoS::AtMostOnce);
    let p = w.connect(V311, "p", true);
    for t in ["a/b/c", "a/b", "a/b/c/d", "b/b/c"] {
        publish(&mut w, &p, t, b"", QoS::AtMostOnce, false);
    }
    let got = w.recv(&mut s);
    let topics: Vec<_> = publishes(&got).iter().map(|p| p.topic.as_str()).collect();
    assert_eq!(topics, ["a/b/c"]);
}

#[test]
fn v311_mqtt_3_3_5_1_overlapping_subscriptions_deliver_at_the_highest_qos() {
    let mut w = World::new();
    let mut s = w.connect(V311, "s", true);
    subscribe(&mut w, &mut s, "a/+", QoS::AtMostOnce);
    subscribe(&mut w, &mut s, "a/#", QoS::AtLeastOnce);
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "a/b", b"x", QoS::ExactlyOnce, false);
    let got = w.recv(&mut s);
    let best = publishes(&got).iter().map(|p| p.qos_pid.qos()).max();
    assert_eq!(best, Some(QoS::AtLeastOnce));
}

#[test]
fn v311_mqtt_3_3_5_2_an_unauthorized_publish_is_acknowledged_as_normal() {
    // Clients may not publish to $-topics (only the broker does): acknowledged, not routed.
    let mut w = World::new();
    let mut s = w.connect(V311, "s", true);
    subscribe(&mut w, &mut s, "$SYS/#", QoS::AtMostOnce);
    let mut p = w.connect(V311, "p", true);
    publish_id(&mut w, &p, "$SYS/fake", b"x", QoS::AtLeastOnce, 3);
    assert!(matches!(&w.recv(&mut p)[..], [Packet::PubAck(a)] if a.packet_id.get() == 3));
    assert!(publishes(&w.recv(&mut s)).is_empty());
}

#[test]
fn v311_mqtt_3_8_4_1_and_2_every_subscribe_gets_a_suback_with_its_identifier() {
    let mut w = World::new();
    let mut c = w.connect(V311, "c", true);
    for id in [1u16, 2, 65_535] {
        w.send(
            &c,
            Packet::Subscribe(build::subscribe(id, &["t"], QoS::AtMostOnce)),
        );
    }
    let got = w.recv(&mut c);
    let ids: Vec<u16> = got
        .iter()
        .map(|p| match p {
            Packet::SubAck(a) => a.packet_id.get(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, [1, 2, 65_535]);
}

#[test]
fn v311_mqtt_3_8_4_3_same_filter_replaces_and_resends_retained() {
    let mut w = World::new();
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "r", b"kept", QoS::AtLeastOnce, true);
    let mut s = w.connect(V311, "s", true);
    w.send(
        &s,
        Packet::Subscribe(build::subscribe(1, &["r"], QoS::AtMostOnce)),
    );
    assert_eq!(publishes(&w.recv(&mut s))[0].qos_pid.qos(), QoS::AtMostOnce);
    w.send(
        &s,
        Packet::Subscribe(build::subscribe(2, &["r"], QoS::AtLeastOnce)),
    );
    let got = w.recv(&mut s);
    assert_eq!(payloads(&got), [b"kept".to_vec()], "re-sent");
    assert_eq!(
        publishes(&got)[0].qos_pid.qos(),
        QoS::AtLeastOnce,
        "replaced"
    );
    publish(&mut w, &p, "r", b"live", QoS::AtLeastOnce, false);
    assert_eq!(
        payloads(&w.recv(&mut s)),
        [b"live".to_vec()],
        "one subscription, not two"
    );
}

#[test]
fn v311_mqtt_3_9_3_1_return_codes_in_filter_order() {
    let mut w = World::new();
    let mut c = w.connect(V311, "c", true);
    let mut sub = build::subscribe(1, &["a", "b", "c"], QoS::ExactlyOnce);
    sub.filters[0].1.qos = QoS::AtLeastOnce;
    sub.filters[1].1.qos = QoS::AtMostOnce;
    w.send(&c, Packet::Subscribe(sub));
    let got = w.recv(&mut c);
    assert!(matches!(&got[..], [Packet::SubAck(a)] if a.reasons
        == [ReasonCode::GrantedQos1, ReasonCode::Success, ReasonCode::GrantedQos2]));
}

#[test]
fn v311_mqtt_3_10_4_1_and_2_filters_compared_literally_then_no_new_messages() {
    let mut w = World::new();
    let mut c = w.connect(V311, "c", true);
    subscribe(&mut w, &mut c, "a/+", QoS::AtMostOnce);
    subscribe(&mut w, &mut c, "a/b", QoS::AtMostOnce);
    w.send(&c, Packet::Unsubscribe(build::unsubscribe(2, &["a/+"])));
    let _ = w.recv(&mut c);
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "a/b", b"x", QoS::AtMostOnce, false);
    publish(&mut w, &p, "a/c", b"y", QoS::AtMostOnce, false);
    assert_eq!(
        payloads(&w.recv(&mut c)),
        [b"x".to_vec()],
        "only a/b remains"
    );
}

#[test]
fn v311_mqtt_3_10_4_3_started_deliveries_are_completed() {
    let mut w = World::new();
    let (mut s, p) = pair(&mut w, QoS::ExactlyOnce);
    publish(&mut w, &p, "t", b"started", QoS::AtLeastOnce, false);
    let id = publishes(&w.recv(&mut s))[0].qos_pid;
    w.send(&s, Packet::Unsubscribe(build::unsubscribe(5, &["t"])));
    let _ = w.recv(&mut s);
    w.shard.connection_lost(w.now, s.id);
    let (_, got) = resume(&mut w, V311, "s");
    assert_eq!(publishes(&got)[0].qos_pid, id);
}

#[test]
fn v311_mqtt_3_10_4_4_and_5_and_6_one_unsuback_with_the_identifier_even_if_nothing_removed() {
    let mut w = World::new();
    let mut c = w.connect(V311, "c", true);
    subscribe(&mut w, &mut c, "a", QoS::AtMostOnce);
    w.send(&c, Packet::Unsubscribe(build::unsubscribe(9, &["never"])));
    w.send(
        &c,
        Packet::Unsubscribe(build::unsubscribe(10, &["a", "b", "c"])),
    );
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::UnsubAck(a), Packet::UnsubAck(b)]
        if a.packet_id.get() == 9 && b.packet_id.get() == 10),
        "{got:?}"
    );
}

#[test]
fn v311_mqtt_3_14_4_3_disconnect_discards_the_will() {
    let mut w = World::new();
    let mut watch = w.connect(V311, "watch", true);
    subscribe(&mut w, &mut watch, "w", QoS::AtMostOnce);
    let mut connect = build::connect(V311, "c");
    connect.will = Some(build::will(
        build::topic("w"),
        bytes::Bytes::from_static(b"x"),
        QoS::AtMostOnce,
        false,
    ));
    let (c, _) = w.connect_with(connect);
    w.send(&c, Packet::Disconnect(Disconnect::default()));
    w.shard.connection_lost(w.now, c.id);
    assert!(publishes(&w.recv(&mut watch)).is_empty());
}

#[test]
fn v311_mqtt_4_1_0_1_and_2_session_state_lasts_the_whole_session() {
    let mut w = World::new();
    let (mut s, _) = persistent(&mut w, V311, "s");
    subscribe(&mut w, &mut s, "t", QoS::AtLeastOnce);
    for _ in 0..5 {
        w.now += 50_000;
        w.send(&s, Packet::PingReq);
        let _ = w.recv(&mut s);
        w.shard.tick(w.now);
    }
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "t", b"x", QoS::AtLeastOnce, false);
    assert_eq!(payloads(&w.recv(&mut s)), [b"x".to_vec()]);
    w.shard.connection_lost(w.now, s.id);
    w.now += 86_400_000;
    w.shard.tick(w.now);
    let (_, present) = persistent(&mut w, V311, "s");
    assert!(
        present,
        "a 3.1.1 session with Clean Session 0 outlives its connection"
    );
}

#[test]
fn v311_mqtt_4_3_1_1_qos_0_goes_out_with_qos_0_and_dup_0() {
    let mut w = World::new();
    let (mut s, p) = pair(&mut w, QoS::AtMostOnce);
    let mut m = build::publish("t", b"x", QoS::ExactlyOnce, false);
    m.dup = true;
    w.send(&p, Packet::Publish(m));
    let got = w.recv(&mut s);
    assert_eq!(
        (publishes(&got)[0].qos_pid, publishes(&got)[0].dup),
        (QosPid::AtMostOnce, false)
    );
}

#[test]
fn v311_mqtt_2_3_1_4_server_ids_are_fresh_and_reused_only_after_puback() {
    v311_qos1_sender();
}

#[test]
fn v311_mqtt_4_3_2_1_qos_1_sender_fresh_ids_dup_0_held_until_puback() {
    v311_qos1_sender();
}

fn v311_qos1_sender() {
    let mut w = World::new();
    let (mut s, p) = pair(&mut w, QoS::AtLeastOnce);
    for i in 0..3u8 {
        publish(&mut w, &p, "t", &[i], QoS::AtLeastOnce, false);
    }
    let got = w.recv(&mut s);
    let sent = publishes(&got);
    let mut ids: Vec<u16> = sent
        .iter()
        .map(|m| m.qos_pid.packet_id().unwrap().get())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3, "fresh identifiers");
    assert!(
        sent.iter()
            .all(|m| m.qos_pid.qos() == QoS::AtLeastOnce && !m.dup)
    );
    w.send(
        &s,
        Packet::PubAck(PubAck::new(sent[0].qos_pid.packet_id().unwrap())),
    );
    w.shard.connection_lost(w.now, s.id);
    let (_, got) = resume(&mut w, V311, "s");
    assert_eq!(
        payloads(&got),
        [vec![1], vec![2]],
        "unacknowledged until PUBACK"
    );
}

#[test]
fn v311_mqtt_4_3_2_2_qos_1_receiver_acks_and_a_reused_id_is_new() {
    let mut w = World::new();
    let mut s = w.connect(V311, "s", true);
    subscribe(&mut w, &mut s, "t", QoS::AtMostOnce);
    let mut p = w.connect(V311, "p", true);
    publish_id(&mut w, &p, "t", b"1", QoS::AtLeastOnce, 8);
    publish_id(&mut w, &p, "t", b"2", QoS::AtLeastOnce, 8);
    let got = w.recv(&mut p);
    assert!(matches!(&got[..], [Packet::PubAck(a), Packet::PubAck(b)]
        if a.packet_id.get() == 8 && b.packet_id.get() == 8));
    assert_eq!(payloads(&w.recv(&mut s)), [b"1".to_vec(), b"2".to_vec()]);
}

#[test]
fn v311_mqtt_4_3_3_1_qos_2_sender_flow() {
    let mut w = World::new();
    let (mut s, p) = pair(&mut w, QoS::ExactlyOnce);
    publish_id(&mut w, &p, "t", b"a", QoS::ExactlyOnce, 1);
    w.send(&p, Packet::PubRel(PubRel::new(build::pid(1))));
    let got = w.recv(&mut s);
    let m = publishes(&got)[0].clone();
    assert!(m.qos_pid.qos() == QoS::ExactlyOnce && !m.dup);
    let id = m.qos_pid.packet_id().unwrap();
    w.shard.connection_lost(w.now, s.id);
    let (mut s, got) = resume(&mut w, V311, "s");
    assert!(matches!(&got[1..], [Packet::Publish(x)] if x.dup && x.qos_pid == m.qos_pid));
    w.send(&s, Packet::PubRec(PubRec::new(id)));
    assert!(matches!(&w.recv(&mut s)[..], [Packet::PubRel(r)] if r.packet_id == id));
    w.shard.connection_lost(w.now, s.id);
    let (mut s, got) = resume(&mut w, V311, "s");
    assert!(
        matches!(&got[1..], [Packet::PubRel(r)] if r.packet_id == id),
        "no PUBLISH"
    );
    w.send(&s, Packet::PubComp(PubComp::new(id)));
    assert!(w.recv(&mut s).is_empty());
}

#[test]
fn v311_mqtt_4_3_3_2_qos_2_receiver_flow() {
    let mut w = World::new();
    let mut s = w.connect(V311, "s", true);
    subscribe(&mut w, &mut s, "t", QoS::AtMostOnce);
    let mut p = w.connect(V311, "p", true);
    publish_id(&mut w, &p, "t", b"one", QoS::ExactlyOnce, 6);
    publish_id(&mut w, &p, "t", b"one", QoS::ExactlyOnce, 6);
    w.send(&p, Packet::PubRel(PubRel::new(build::pid(6))));
    publish_id(&mut w, &p, "t", b"two", QoS::ExactlyOnce, 6);
    let got = w.recv(&mut p);
    assert!(
        matches!(&got[..],
        [Packet::PubRec(a), Packet::PubRec(b), Packet::PubComp(c), Packet::PubRec(d)]
        if [a.packet_id, b.packet_id, c.packet_id, d.packet_id].iter().all(|i| i.get() == 6)),
        "{got:?}"
    );
    assert_eq!(
        payloads(&w.recv(&mut s)),
        [b"one".to_vec(), b"two".to_vec()]
    );
}

#[test]
// FlashMQ: testPacketOrderOnSessionPickup
fn v311_mqtt_4_4_0_1_unacknowledged_publish_and_pubrel_resent_with_their_ids() {
    let mut w = World::new();
    let (mut s, p) = pair(&mut w, QoS::ExactlyOnce);
    publish_id(&mut w, &p, "t", b"a", QoS::ExactlyOnce, 1);
    publish_id(&mut w, &p, "t", b"b", QoS::ExactlyOnce, 2);
    let got = w.recv(&mut s);
    let (a, b) = (publishes(&got)[0].qos_pid, publishes(&got)[1].qos_pid);
    w.send(&s, Packet::PubRec(PubRec::new(a.packet_id().unwrap())));
    w.shard.connection_lost(w.now, s.id);
    let (_, got) = resume(&mut w, V311, "s");
    assert!(
        matches!(&got[1..], [Packet::PubRel(r), Packet::Publish(m)]
        if Some(r.packet_id) == a.packet_id() && m.qos_pid == b && m.dup),
        "{got:?}"
    );
}

#[test]
fn v311_mqtt_4_5_0_1_every_matching_session_gets_the_message() {
    let mut w = World::new();
    let (s, p) = pair(&mut w, QoS::AtLeastOnce);
    w.shard.connection_lost(w.now, s.id);
    let mut online = w.connect(V311, "online", true);
    subscribe(&mut w, &mut online, "#", QoS::AtMostOnce);
    publish(&mut w, &p, "t", b"m", QoS::AtLeastOnce, false);
    assert_eq!(payloads(&w.recv(&mut online)), [b"m".to_vec()]);
    let (_, got) = resume(&mut w, V311, "s");
    assert_eq!(payloads(&got), [b"m".to_vec()]);
}

#[test]
fn v311_mqtt_4_6_0_5_and_6_one_publishers_messages_keep_their_order() {
    let mut w = World::new();
    let mut s = w.connect(V311, "s", true);
    subscribe(&mut w, &mut s, "t", QoS::AtLeastOnce);
    let p = w.connect(V311, "p", true);
    for i in 0..50u8 {
        let qos = if i % 2 == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        publish(&mut w, &p, "t", &[i], qos, false);
    }
    let got = w.recv(&mut s);
    let order: Vec<u8> = payloads(&got).iter().map(|m| m[0]).collect();
    assert_eq!(order, (0..50).collect::<Vec<_>>());
}

#[test]
fn v311_mqtt_4_7_2_1_leading_wildcards_do_not_match_dollar_topics() {
    let mut w = World::new();
    let mut c = w.connect(V311, "c", true);
    subscribe(&mut w, &mut c, "#", QoS::AtMostOnce);
    subscribe(&mut w, &mut c, "+/x", QoS::AtMostOnce);
    let mut d = build::connect(V311, "d");
    d.will = Some(build::will(
        build::topic("$internal/x"),
        bytes::Bytes::from_static(b"x"),
        QoS::AtMostOnce,
        false,
    ));
    let (d, _) = w.connect_with(d);
    w.shard.connection_lost(w.now, d.id);
    assert!(publishes(&w.recv(&mut c)).is_empty());
    let mut e = w.connect(V311, "e", true);
    subscribe(&mut w, &mut e, "$internal/#", QoS::AtMostOnce);
    let mut f = build::connect(V311, "f");
    f.will = d_will();
    let (f, _) = w.connect_with(f);
    w.shard.connection_lost(w.now, f.id);
    assert_eq!(publishes(&w.recv(&mut e)).len(), 1, "a $ filter does match");
}

fn d_will() -> Option<Will> {
    Some(build::will(
        build::topic("$internal/x"),
        bytes::Bytes::from_static(b"x"),
        QoS::AtMostOnce,
        false,
    ))
}

#[test]
fn v311_mqtt_4_7_3_4_topics_match_as_is() {
    let mut w = World::new();
    let mut s = w.connect(V311, "s", true);
    subscribe(&mut w, &mut s, "caf\u{e9}", QoS::AtMostOnce);
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "cafe\u{301}", b"", QoS::AtMostOnce, false);
    publish(&mut w, &p, "CAF\u{c9}", b"", QoS::AtMostOnce, false);
    publish(&mut w, &p, "caf\u{e9}", b"", QoS::AtMostOnce, false);
    let got = w.recv(&mut s);
    let topics: Vec<_> = publishes(&got).iter().map(|p| p.topic.as_str()).collect();
    assert_eq!(topics, ["caf\u{e9}"]);
}
