//! Server obligations of MQTT 5.0 chapters 3.3-3.7 (PUBLISH and its acknowledgements) and 4.3-4.9
//! (QoS flows, delivery, ordering, flow control), one test per normative statement, named after
//! it (see docs/conformance.md). The broker is both the receiver of a client's PUBLISH and the
//! sender of a delivery, so the "Both" statements are checked in both directions.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::*;

use brokkr_codec::*;
use brokkr_core::limits::Limits;
use brokkr_testkit::build;
use bytes::Bytes;
use std::num::{NonZeroU16, NonZeroU32};

use ProtocolVersion::V5;

fn publish_id(w: &mut World, c: &Client, topic: &str, payload: &[u8], qos: QoS, id: u16) {
    let mut p = build::publish(topic, payload, qos, false);
    p.qos_pid = QosPid::from_parts(qos, build::pid(id));
    w.send(c, Packet::Publish(p));
}

fn ids(p: &[&Publish]) -> Vec<u16> {
    p.iter()
        .map(|p| p.qos_pid.packet_id().unwrap().get())
        .collect()
}

fn payloads(p: &[&Publish]) -> Vec<Vec<u8>> {
    p.iter().map(|p| p.payload.to_vec()).collect()
}

/// A persistent subscriber to `t` at `qos` and a publisher.
fn pair(w: &mut World, qos: QoS) -> (Client, Client) {
    let (mut s, _) = persistent(w, V5, "s");
    subscribe(w, &mut s, "t", qos);
    let p = w.connect(V5, "p", true);
    (s, p)
}

#[test]
fn mqtt_2_2_1_5_acknowledgements_echo_the_publish_identifier() {
    let mut w = World::new();
    let (mut s, mut p) = pair(&mut w, QoS::ExactlyOnce);
    // Client to server.
    publish_id(&mut w, &p, "t", b"1", QoS::AtLeastOnce, 513);
    publish_id(&mut w, &p, "t", b"2", QoS::ExactlyOnce, 514);
    w.send(&p, Packet::PubRel(PubRel::new(build::pid(514))));
    let got = w.recv(&mut p);
    assert!(
        matches!(&got[..], [Packet::PubAck(a), Packet::PubRec(b), Packet::PubComp(c)]
        if a.packet_id.get() == 513 && b.packet_id.get() == 514 && c.packet_id.get() == 514),
        "{got:?}"
    );
    // Server to client: PUBREL answers the subscriber's PUBREC with its identifier.
    let got = w.recv(&mut s);
    let id = publishes(&got)[1].qos_pid.packet_id().unwrap();
    w.send(&s, Packet::PubRec(PubRec::new(id)));
    let got = w.recv(&mut s);
    assert!(
        matches!(&got[..], [Packet::PubRel(r)] if r.packet_id == id),
        "{got:?}"
    );
}

#[test]
fn mqtt_3_3_1_1_dup_is_set_on_every_redelivery() {
    let mut w = World::new();
    let (mut s, p) = pair(&mut w, QoS::ExactlyOnce);
    publish_id(&mut w, &p, "t", b"x", QoS::ExactlyOnce, 1);
    let first = w.recv(&mut s);
    assert!(!publishes(&first)[0].dup);
    let id = publishes(&first)[0].qos_pid;
    for _ in 0..2 {
        w.shard.connection_lost(w.now, s.id);
        let (back, got) = resume(&mut w, V5, "s");
        let again = publishes(&got);
        assert_eq!(again.len(), 1);
        assert!(again[0].dup, "every redelivery attempt");
        assert_eq!(again[0].qos_pid, id);
        s = back;
    }
}

#[test]
fn mqtt_3_3_1_3_outgoing_dup_ignores_the_incoming_dup() {
    let mut w = World::new();
    let (mut s, p) = pair(&mut w, QoS::AtLeastOnce);
    let mut m = build::publish("t", b"x", QoS::AtLeastOnce, false);
    m.dup = true;
    w.send(&p, Packet::Publish(m));
    assert!(
        !publishes(&w.recv(&mut s))[0].dup,
        "a first send is not a resend"
    );
    w.shard.connection_lost(w.now, s.id);
    let (_, got) = resume(&mut w, V5, "s");
    assert!(publishes(&got)[0].dup, "a resend is one");
}

#[test]
fn mqtt_3_3_2_3_delivered_topic_matches_the_filter() {
    let mut w = World::new();
    let mut s = w.connect(V5, "s", true);
    subscribe(&mut w, &mut s, "a/+/c", QoS::AtMostOnce);
    subscribe(&mut w, &mut s, "x/#", QoS::AtMostOnce);
    let p = w.connect(V5, "p", true);
    for t in ["a/b/c", "a/b/d", "a/b/c/d", "x", "x/y/z", "y/x"] {
        publish(&mut w, &p, t, b"", QoS::AtMostOnce, false);
    }
    let got = w.recv(&mut s);
    let topics: Vec<_> = publishes(&got).iter().map(|p| p.topic.as_str()).collect();
    assert_eq!(topics, ["a/b/c", "x", "x/y/z"]);
}

#[test]
// FlashMQ: testCorrelationData
fn mqtt_3_3_2_4_and_15_and_16_and_20_properties_reach_every_subscriber_unchanged() {
    let mut w = World::new();
    let mut online = w.connect(V5, "online", true);
    subscribe(&mut w, &mut online, "t", QoS::AtLeastOnce);
    let (mut offline, _) = persistent(&mut w, V5, "offline");
    subscribe(&mut w, &mut offline, "t", QoS::AtLeastOnce);
    w.shard.connection_lost(w.now, offline.id);
    let p = w.connect(V5, "p", true);
    let mut m = build::publish("t", "héllo".as_bytes(), QoS::AtLeastOnce, false);
    build::edit_props(&mut m, |b| {
        b.payload_format_indicator = Some(PayloadFormat::Utf8)
    });
    build::edit_props(&mut m, |b| {
        b.response_topic = Some(build::topic("reply/here"))
    });
    build::edit_props(&mut m, |b| {
        b.correlation_data = Some(Bytes::from_static(&[0, 1, 2, 0xFF]))
    });
    build::edit_props(&mut m, |b| {
        b.content_type = Some(build::string("text/plain; charset=utf-8"))
    });
    w.send(&p, Packet::Publish(m.clone()));
    let got_online = w.recv(&mut online);
    let (_, got_offline) = resume(&mut w, V5, "offline");
    for got in [got_online, got_offline] {
        let f = &publishes(&got)[0].properties;
        assert_eq!(
            f.payload_format_indicator(),
            m.properties.payload_format_indicator()
        );
        assert_eq!(f.response_topic(), m.properties.response_topic());
        assert_eq!(f.correlation_data(), m.properties.correlation_data());
        assert_eq!(f.content_type(), m.properties.content_type());
    }
}

#[test]
fn mqtt_3_3_2_7_topic_aliases_end_with_the_connection() {
    let mut w = World::new();
    let mut s = w.connect(V5, "s", true);
    subscribe(&mut w, &mut s, "long/topic", QoS::AtMostOnce);
    let c = w.connect(V5, "c", true);
    w.send(&c, aliased("long/topic", 1));
    w.send(&c, aliased("", 1));
    assert_eq!(publishes(&w.recv(&mut s)).len(), 2);
    w.send(&c, Packet::Disconnect(Disconnect::default()));
    let mut again = w.connect(V5, "c", true);
    w.send(&again, aliased("", 1));
    let got = w.recv(&mut again);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason.is_error()),
        "{got:?}"
    );
    assert!(w.is_closed(&again));
    assert!(publishes(&w.recv(&mut s)).is_empty());
}

#[test]
fn mqtt_3_3_2_12_every_alias_up_to_the_advertised_maximum_is_accepted() {
    let mut w = World::with_limits(Limits {
        incoming_topic_aliases_max: 300,
        ..Limits::default()
    });
    let mut s = w.connect(V5, "s", true);
    subscribe(&mut w, &mut s, "#", QoS::AtMostOnce);
    let mut c = w.connect(V5, "c", true);
    for alias in 1..=300u16 {
        w.send(&c, aliased(&format!("t/{alias}"), alias));
    }
    w.send(&c, aliased("", 300));
    w.send(&c, aliased("", 1));
    assert!(w.recv(&mut c).is_empty(), "no DISCONNECT");
    let got = w.recv(&mut s);
    let p = publishes(&got);
    assert_eq!(p.len(), 302);
    assert_eq!(p[300].topic.as_str(), "t/300");
    assert_eq!(p[301].topic.as_str(), "t/1");
}

#[test]
fn mqtt_3_3_4_1_the_receiver_answers_as_the_qos_dictates() {
    let mut w = World::new();
    let mut c = w.connect(V5, "c", true);
    publish_id(&mut w, &c, "t", b"", QoS::AtMostOnce, 1);
    assert!(w.recv(&mut c).is_empty(), "QoS 0: nothing");
    publish_id(&mut w, &c, "t", b"", QoS::AtLeastOnce, 2);
    assert!(matches!(&w.recv(&mut c)[..], [Packet::PubAck(a)] if a.packet_id.get() == 2));
    publish_id(&mut w, &c, "t", b"", QoS::ExactlyOnce, 3);
    assert!(matches!(&w.recv(&mut c)[..], [Packet::PubRec(a)] if a.packet_id.get() == 3));
}

#[test]
fn mqtt_3_3_4_2_overlapping_subscriptions_honour_the_highest_qos() {
    let mut w = World::new();
    let mut s = w.connect(V5, "s", true);
    subscribe(&mut w, &mut s, "a/+", QoS::AtMostOnce);
    subscribe(&mut w, &mut s, "a/#", QoS::ExactlyOnce);
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "a/b", b"x", QoS::ExactlyOnce, false);
    let got = w.recv(&mut s);
    let best = publishes(&got).iter().map(|p| p.qos_pid.qos()).max();
    assert_eq!(best, Some(QoS::ExactlyOnce));
}

#[test]
fn mqtt_3_3_4_6_a_client_publish_with_a_subscription_identifier_is_a_protocol_error() {
    let mut w = World::new();
    let mut c = w.connect(V5, "c", true);
    let mut p = build::publish("t", b"x", QoS::AtMostOnce, false);
    build::edit_props(&mut p, |b| {
        b.subscription_identifiers = vec![NonZeroU32::new(3).unwrap()]
    });
    w.send(&c, Packet::Publish(p));
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::ProtocolError),
        "{got:?}"
    );
    assert!(w.is_closed(&c));
}

#[test]
fn mqtt_3_3_4_7_exceeding_the_servers_receive_maximum_gets_0x93() {
    let mut w = World::with_limits(Limits {
        qos_pending_messages_max: 2,
        ..Limits::default()
    });
    let (mut c, got) = w.connect_with(build::connect(V5, "c"));
    assert_eq!(connack(&got).properties.receive_maximum, NonZeroU16::new(2));
    publish_id(&mut w, &c, "t", b"", QoS::ExactlyOnce, 1);
    publish_id(&mut w, &c, "t", b"", QoS::ExactlyOnce, 2);
    assert_eq!(w.recv(&mut c).len(), 2, "two PUBRECs");
    publish_id(&mut w, &c, "t", b"", QoS::ExactlyOnce, 3);
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::ReceiveMaximumExceeded),
        "{got:?}"
    );
    assert!(w.is_closed(&c));
}

/// A subscriber with Receive Maximum 2, and five QoS 1 messages for it.
fn windowed(w: &mut World) -> (Client, Client) {
    let mut connect = build::connect(V5, "s");
    connect.properties.receive_maximum = NonZeroU16::new(2);
    let (mut s, _) = w.connect_with(connect);
    subscribe(w, &mut s, "t", QoS::AtLeastOnce);
    let p = w.connect(V5, "p", true);
    for i in 0..5u8 {
        publish(w, &p, "t", &[i], QoS::AtLeastOnce, false);
    }
    let mut p = p;
    assert_eq!(w.recv(&mut p).len(), 5, "five PUBACKs");
    (s, p)
}

#[test]
fn mqtt_3_3_4_9_and_10_at_most_receive_maximum_in_flight_and_other_packets_flow() {
    let mut w = World::new();
    let (mut s, _) = windowed(&mut w);
    let got = w.recv(&mut s);
    assert_eq!(payloads(&publishes(&got)), [[0], [1]], "MQTT-3.3.4-9");
    w.send(&s, Packet::PingReq);
    w.send(
        &s,
        Packet::Subscribe(build::subscribe(9, &["u"], QoS::AtMostOnce)),
    );
    w.send(&s, Packet::Unsubscribe(build::unsubscribe(10, &["u"])));
    let got = w.recv(&mut s);
    assert!(
        matches!(
            &got[..],
            [Packet::PingResp, Packet::SubAck(_), Packet::UnsubAck(_)]
        ),
        "MQTT-3.3.4-10: {got:?}"
    );
}

#[test]
fn mqtt_4_9_0_1_and_2_and_3_send_quota_starts_at_receive_maximum_and_waits_at_zero() {
    let mut w = World::new();
    let (mut s, mut p) = windowed(&mut w);
    let got = w.recv(&mut s);
    let first = publishes(&got);
    assert_eq!(first.len(), 2, "quota = Receive Maximum = 2");
    let first_id = first[0].qos_pid.packet_id().unwrap();
    w.now += 60_000;
    w.shard.tick(w.now);
    assert!(
        publishes(&w.recv(&mut s)).is_empty(),
        "quota 0: nothing more"
    );
    // MQTT-4.9.0-3: the broker still serves both clients.
    w.send(&s, Packet::PingReq);
    assert!(matches!(&w.recv(&mut s)[..], [Packet::PingResp]));
    publish_id(&mut w, &p, "other", b"", QoS::AtLeastOnce, 40);
    assert!(matches!(&w.recv(&mut p)[..], [Packet::PubAck(_)]));
    w.send(&s, Packet::PubAck(PubAck::new(first_id)));
    let got = w.recv(&mut s);
    assert_eq!(payloads(&publishes(&got)), [[2]], "one PUBACK, one more");
}

/// Every acknowledgement-type packet the broker sends in one session, for the size rules.
fn server_acks() -> Vec<Packet> {
    let mut w = World::new();
    let mut connect = build::connect(V5, "c");
    connect.properties.maximum_packet_size = NonZeroU32::new(16);
    let (mut c, _) = w.connect_with(connect);
    w.send(
        &c,
        Packet::Subscribe(build::subscribe(1, &["t"], QoS::ExactlyOnce)),
    );
    publish_id(&mut w, &c, "t", b"", QoS::AtLeastOnce, 1);
    publish_id(&mut w, &c, "t", b"", QoS::ExactlyOnce, 2);
    w.send(&c, Packet::PubRel(PubRel::new(build::pid(2))));
    w.send(&c, Packet::PubRel(PubRel::new(build::pid(3))));
    let mut got = w.recv(&mut c);
    for p in publishes(&got.clone()) {
        if p.qos_pid.qos() == QoS::ExactlyOnce {
            w.send(
                &c,
                Packet::PubRec(PubRec::new(p.qos_pid.packet_id().unwrap())),
            );
        }
    }
    w.send(
        &c,
        Packet::Unsubscribe(build::unsubscribe(4, &["t", "none"])),
    );
    w.send(&c, Packet::Connect(Box::new(build::connect(V5, "c"))));
    got.extend(w.recv(&mut c));
    got
}

fn props_of(p: &Packet) -> Option<(&Option<MqttString>, &UserProperties)> {
    match p {
        Packet::PubAck(a) => Some((&a.properties.reason_string, &a.properties.user_properties)),
        Packet::PubRec(a) => Some((&a.properties.reason_string, &a.properties.user_properties)),
        Packet::PubRel(a) => Some((&a.properties.reason_string, &a.properties.user_properties)),
        Packet::PubComp(a) => Some((&a.properties.reason_string, &a.properties.user_properties)),
        Packet::SubAck(a) => Some((&a.properties.reason_string, &a.properties.user_properties)),
        Packet::UnsubAck(a) => Some((&a.properties.reason_string, &a.properties.user_properties)),
        Packet::Disconnect(d) => Some((&d.properties.reason_string, &d.properties.user_properties)),
        _ => None,
    }
}

/// brokkr never adds a Reason String or User Properties to `kind`, so neither can push it over
/// the receiver's Maximum Packet Size; and the packet fits the 16 bytes the client allowed.
fn assert_bare(kind: fn(&Packet) -> bool) {
    let acks = server_acks();
    let mine: Vec<_> = acks.iter().filter(|p| kind(p)).collect();
    assert!(!mine.is_empty(), "the scenario sends one: {acks:?}");
    for p in mine {
        let (reason, user) = props_of(p).unwrap();
        assert!(reason.is_none() && user.is_empty(), "{p:?}");
        let mut bytes = bytes::BytesMut::new();
        p.encode(V5, &mut bytes).unwrap();
        assert!(bytes.len() <= 16, "{p:?}");
    }
}

#[test]
fn mqtt_3_4_2_2_and_3_puback_without_reason_string_or_user_properties() {
    assert_bare(|p| matches!(p, Packet::PubAck(_)));
}

#[test]
fn mqtt_3_5_2_2_and_3_pubrec_without_reason_string_or_user_properties() {
    assert_bare(|p| matches!(p, Packet::PubRec(_)));
}

#[test]
fn mqtt_3_6_2_2_and_3_pubrel_without_reason_string_or_user_properties() {
    assert_bare(|p| matches!(p, Packet::PubRel(_)));
}

#[test]
fn mqtt_3_7_2_2_and_3_pubcomp_without_reason_string_or_user_properties() {
    assert_bare(|p| matches!(p, Packet::PubComp(_)));
}

#[test]
fn mqtt_3_9_2_1_and_2_suback_without_reason_string_or_user_properties() {
    assert_bare(|p| matches!(p, Packet::SubAck(_)));
}

#[test]
fn mqtt_3_11_2_1_and_2_unsuback_without_reason_string_or_user_properties() {
    assert_bare(|p| matches!(p, Packet::UnsubAck(_)));
}

#[test]
fn mqtt_3_14_2_3_and_4_disconnect_without_reason_string_or_user_properties() {
    assert_bare(|p| matches!(p, Packet::Disconnect(_)));
}

#[test]
fn mqtt_4_3_1_1_qos_0_goes_out_with_qos_0_and_dup_0() {
    let mut w = World::new();
    let mut s = w.connect(V5, "s", true);
    subscribe(&mut w, &mut s, "t", QoS::AtMostOnce);
    let p = w.connect(V5, "p", true);
    let mut m = build::publish("t", b"x", QoS::AtLeastOnce, false);
    m.dup = true;
    w.send(&p, Packet::Publish(m));
    let got = w.recv(&mut s);
    let d = publishes(&got)[0];
    assert_eq!((d.qos_pid, d.dup), (QosPid::AtMostOnce, false));
}

#[test]
fn mqtt_4_3_2_1_and_2_and_3_qos_1_sender_fresh_ids_dup_0_held_until_puback() {
    let mut w = World::new();
    let (mut s, p) = pair(&mut w, QoS::AtLeastOnce);
    for i in 0..3u8 {
        publish(&mut w, &p, "t", &[i], QoS::AtLeastOnce, false);
    }
    let got = w.recv(&mut s);
    let sent = publishes(&got);
    let mut unique = ids(&sent);
    unique.dedup();
    assert_eq!(unique.len(), 3, "MQTT-4.3.2-1: {:?}", ids(&sent));
    assert!(
        sent.iter()
            .all(|p| p.qos_pid.qos() == QoS::AtLeastOnce && !p.dup)
    );
    w.send(
        &s,
        Packet::PubAck(PubAck::new(sent[1].qos_pid.packet_id().unwrap())),
    );
    // MQTT-4.3.2-3: the two unacknowledged ones are still owed, the acknowledged one is not.
    w.shard.connection_lost(w.now, s.id);
    let (_, got) = resume(&mut w, V5, "s");
    assert_eq!(payloads(&publishes(&got)), [[0], [2]]);
}

#[test]
fn mqtt_4_3_2_4_and_5_qos_1_receiver_acks_and_a_reused_id_is_a_new_message() {
    let mut w = World::new();
    let mut s = w.connect(V5, "s", true);
    subscribe(&mut w, &mut s, "t", QoS::AtMostOnce);
    let mut p = w.connect(V5, "p", true);
    publish_id(&mut w, &p, "t", b"one", QoS::AtLeastOnce, 7);
    let mut again = build::publish("t", b"two", QoS::AtLeastOnce, false);
    again.qos_pid = QosPid::AtLeastOnce(build::pid(7));
    again.dup = true;
    w.send(&p, Packet::Publish(again));
    let got = w.recv(&mut p);
    assert!(matches!(&got[..], [Packet::PubAck(a), Packet::PubAck(b)]
        if a.packet_id.get() == 7 && b.packet_id.get() == 7));
    let got = w.recv(&mut s);
    assert_eq!(
        payloads(&publishes(&got)),
        [b"one".to_vec(), b"two".to_vec()]
    );
}

#[test]
fn mqtt_4_3_3_1_and_2_and_3_and_4_and_5_and_6_qos_2_sender_flow() {
    let mut w = World::new();
    let (mut s, p) = pair(&mut w, QoS::ExactlyOnce);
    publish_id(&mut w, &p, "t", b"a", QoS::ExactlyOnce, 1);
    publish_id(&mut w, &p, "t", b"b", QoS::ExactlyOnce, 2);
    let got = w.recv(&mut s);
    let sent = publishes(&got);
    assert_ne!(ids(&sent)[0], ids(&sent)[1], "MQTT-4.3.3-1");
    assert!(
        sent.iter()
            .all(|p| p.qos_pid.qos() == QoS::ExactlyOnce && !p.dup),
        "4.3.3-2"
    );
    let (a, b) = (
        sent[0].qos_pid.packet_id().unwrap(),
        sent[1].qos_pid.packet_id().unwrap(),
    );
    w.send(&s, Packet::PubRec(PubRec::new(a)));
    let got = w.recv(&mut s);
    assert!(
        matches!(&got[..], [Packet::PubRel(r)] if r.packet_id == a),
        "4.3.3-4"
    );
    // Reconnect: b is still unacknowledged (4.3.3-3) and resent; a waits for PUBCOMP (4.3.3-5)
    // and only its PUBREL is resent, never its PUBLISH (4.3.3-6).
    w.shard.connection_lost(w.now, s.id);
    let (mut s, got) = resume(&mut w, V5, "s");
    assert!(
        matches!(&got[1..], [Packet::PubRel(r), Packet::Publish(m)]
        if r.packet_id == a && m.qos_pid == QosPid::ExactlyOnce(b) && m.dup),
        "{got:?}"
    );
    w.send(&s, Packet::PubComp(PubComp::new(a)));
    w.send(&s, Packet::PubRec(PubRec::new(b)));
    w.send(&s, Packet::PubComp(PubComp::new(b)));
    assert!(matches!(&w.recv(&mut s)[..], [Packet::PubRel(r)] if r.packet_id == b));
    w.shard.connection_lost(w.now, s.id);
    let (_, got) = resume(&mut w, V5, "s");
    assert_eq!(got.len(), 1, "all done: {got:?}");
}

#[test]
fn mqtt_4_3_3_7_expiry_is_not_applied_once_the_publish_was_sent() {
    let mut w = World::new();
    let (mut s, p) = pair(&mut w, QoS::ExactlyOnce);
    let mut m = build::publish("t", b"x", QoS::ExactlyOnce, false);
    build::edit_props(&mut m, |b| b.message_expiry_interval_secs = Some(2));
    w.send(&p, Packet::Publish(m));
    let id = publishes(&w.recv(&mut s))[0].qos_pid;
    w.shard.connection_lost(w.now, s.id);
    w.now += 10_000;
    let (mut s, got) = resume(&mut w, V5, "s");
    let again = publishes(&got);
    assert_eq!(again.len(), 1, "the flow must finish: {got:?}");
    assert_eq!((again[0].qos_pid, again[0].dup), (id, true));
    w.send(&s, Packet::PubRec(PubRec::new(id.packet_id().unwrap())));
    assert!(matches!(&w.recv(&mut s)[..], [Packet::PubRel(_)]));
}

#[test]
fn mqtt_4_3_3_8_and_11_and_12_qos_2_receiver_flow() {
    let mut w = World::new();
    let mut s = w.connect(V5, "s", true);
    subscribe(&mut w, &mut s, "t", QoS::AtMostOnce);
    let mut p = w.connect(V5, "p", true);
    publish_id(&mut w, &p, "t", b"one", QoS::ExactlyOnce, 9);
    w.send(&p, Packet::PubRel(PubRel::new(build::pid(9))));
    publish_id(&mut w, &p, "t", b"two", QoS::ExactlyOnce, 9);
    let got = w.recv(&mut p);
    assert!(
        matches!(&got[..], [Packet::PubRec(a), Packet::PubComp(b), Packet::PubRec(c)]
        if a.packet_id.get() == 9 && b.packet_id.get() == 9 && b.reason == ReasonCode::Success
            && c.packet_id.get() == 9),
        "{got:?}"
    );
    let got = w.recv(&mut s);
    assert_eq!(
        payloads(&publishes(&got)),
        [b"one".to_vec(), b"two".to_vec()],
        "4.3.3-12"
    );
}

#[test]
fn mqtt_4_3_3_13_the_exchange_finishes_even_when_the_message_expired() {
    let mut w = World::new();
    let mut p = w.connect(V5, "p", true);
    let mut m = build::publish("t", b"x", QoS::ExactlyOnce, false);
    m.qos_pid = QosPid::ExactlyOnce(build::pid(4));
    build::edit_props(&mut m, |b| b.message_expiry_interval_secs = Some(1));
    w.send(&p, Packet::Publish(m));
    w.now += 5_000;
    w.send(&p, Packet::PubRel(PubRel::new(build::pid(4))));
    let got = w.recv(&mut p);
    assert!(
        matches!(&got[..], [Packet::PubRec(_), Packet::PubComp(c)]
        if c.packet_id.get() == 4 && c.reason == ReasonCode::Success),
        "{got:?}"
    );
}

#[test]
fn mqtt_4_4_0_2_an_error_ack_ends_the_flow_without_retransmission() {
    let mut w = World::new();
    let (mut s, mut p) = pair(&mut w, QoS::ExactlyOnce);
    publish(&mut w, &p, "t", b"q1", QoS::AtLeastOnce, false);
    publish(&mut w, &p, "t", b"q2", QoS::ExactlyOnce, false);
    let _ = w.recv(&mut p);
    let got = w.recv(&mut s);
    let sent = publishes(&got);
    let mut nack = PubAck::new(sent[0].qos_pid.packet_id().unwrap());
    nack.reason = ReasonCode::UnspecifiedError;
    w.send(&s, Packet::PubAck(nack));
    let mut rec = PubRec::new(sent[1].qos_pid.packet_id().unwrap());
    rec.reason = ReasonCode::ImplementationSpecificError;
    w.send(&s, Packet::PubRec(rec));
    assert!(w.recv(&mut s).is_empty(), "no PUBREL after PUBREC >= 0x80");
    w.shard.connection_lost(w.now, s.id);
    let (_, got) = resume(&mut w, V5, "s");
    assert_eq!(got.len(), 1, "nothing resent: {got:?}");
}

#[test]
fn mqtt_4_5_0_1_every_matching_session_gets_the_message() {
    let mut w = World::new();
    let mut a = w.connect(V5, "a", true);
    subscribe(&mut w, &mut a, "t/+", QoS::AtLeastOnce);
    let mut b = w.connect(ProtocolVersion::V3_1_1, "b", true);
    subscribe(&mut w, &mut b, "#", QoS::AtMostOnce);
    let (mut off, _) = persistent(&mut w, V5, "off");
    subscribe(&mut w, &mut off, "t/x", QoS::ExactlyOnce);
    w.shard.connection_lost(w.now, off.id);
    let mut none = w.connect(V5, "none", true);
    subscribe(&mut w, &mut none, "u", QoS::AtLeastOnce);
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "t/x", b"m", QoS::ExactlyOnce, false);
    assert_eq!(publishes(&w.recv(&mut a)).len(), 1);
    assert_eq!(publishes(&w.recv(&mut b)).len(), 1);
    assert!(publishes(&w.recv(&mut none)).is_empty());
    let (_, got) = resume(&mut w, V5, "off");
    assert_eq!(publishes(&got).len(), 1);
}

#[test]
fn mqtt_4_6_0_5_and_6_messages_of_one_publisher_keep_their_order() {
    let mut w = World::new();
    let mut connect = build::connect(V5, "s");
    connect.properties.receive_maximum = NonZeroU16::new(3);
    let (mut s, _) = w.connect_with(connect);
    subscribe(&mut w, &mut s, "t/#", QoS::ExactlyOnce);
    let p = w.connect(V5, "p", true);
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        for i in 0..20u8 {
            let id = 100 + u16::from(i);
            publish_id(&mut w, &p, "t/a", &[qos as u8, i], qos, id);
            if qos == QoS::ExactlyOnce {
                w.send(&p, Packet::PubRel(PubRel::new(build::pid(id))));
            }
        }
    }
    let mut seen: Vec<Vec<u8>> = Vec::new();
    for _ in 0..100 {
        let got = w.recv(&mut s);
        for m in publishes(&got) {
            seen.push(m.payload.to_vec());
            match m.qos_pid {
                QosPid::AtLeastOnce(id) => w.send(&s, Packet::PubAck(PubAck::new(id))),
                QosPid::ExactlyOnce(id) => {
                    w.send(&s, Packet::PubRec(PubRec::new(id)));
                    w.send(&s, Packet::PubComp(PubComp::new(id)));
                }
                QosPid::AtMostOnce => {}
            }
        }
    }
    for qos in 0..3u8 {
        let order: Vec<u8> = seen.iter().filter(|m| m[0] == qos).map(|m| m[1]).collect();
        assert_eq!(order, (0..20).collect::<Vec<_>>(), "QoS {qos}");
    }
}
