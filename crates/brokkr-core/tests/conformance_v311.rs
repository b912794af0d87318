//! Server obligations of MQTT 3.1.1, one test per normative statement, named `v311_mqtt_...`
//! after it (see docs/conformance.md). Byte-level clients against the shard.

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
use bytes::Bytes;

use ProtocolVersion::V3_1_1 as V311;

fn raw_answer(w: &mut World, bytes: &[u8]) -> (Vec<u8>, bool) {
    let c = w.open(V311);
    w.send_raw(&c, bytes);
    let out = w.shard.write_buffer(c.id).to_vec();
    (out, w.closed().contains(&c.id))
}

#[test]
fn v311_mqtt_1_5_3_1_and_2_bad_strings_close_the_connection() {
    let mut w = World::new();
    let c = w.connect(V311, "c", true);
    w.send_raw(&c, &[0x30, 0x05, 0x00, 0x03, b'a', 0x00, b'b']);
    assert!(w.closed().contains(&c.id));
    let d = w.connect(V311, "d", true);
    w.send_raw(&d, &[0x30, 0x04, 0x00, 0x02, 0xED, 0xA0]);
    assert!(w.closed().contains(&d.id));
}

#[test]
fn v311_mqtt_2_2_2_2_invalid_flags_close_the_connection() {
    let mut w = World::new();
    let c = w.connect(V311, "c", true);
    w.send_raw(&c, &[0xC1, 0x00]);
    assert!(w.closed().contains(&c.id));
}

#[test]
fn v311_mqtt_2_3_1_6_and_7_acks_echo_the_packet_identifier() {
    let mut w = World::new();
    let mut c = w.connect(V311, "c", true);
    let mut p = build::publish("t", b"x", QoS::AtLeastOnce, false);
    p.qos_pid = QosPid::AtLeastOnce(build::pid(513));
    w.send(&c, Packet::Publish(p));
    w.send(
        &c,
        Packet::Subscribe(build::subscribe(777, &["t"], QoS::AtMostOnce)),
    );
    w.send(&c, Packet::Unsubscribe(build::unsubscribe(778, &["t"])));
    let got = w.recv(&mut c);
    assert!(matches!(&got[0], Packet::PubAck(a) if a.packet_id.get() == 513));
    assert!(matches!(&got[1], Packet::SubAck(a) if a.packet_id.get() == 777));
    assert!(matches!(&got[2], Packet::UnsubAck(a) if a.packet_id.get() == 778));
}

#[test]
fn v311_mqtt_3_1_2_2_unsupported_level_gets_return_code_1() {
    let mut w = World::new();
    let mut bytes = encode(&Packet::Connect(Box::new(build::connect(V311, "x"))), V311);
    bytes[8] = 2; // levels 5 and up are answered in the MQTT 5 layout
    let (out, closed) = raw_answer(&mut w, &bytes);
    assert_eq!(out, [0x20, 0x02, 0x00, 0x01]);
    assert!(closed);
}

#[test]
fn v311_mqtt_3_1_2_3_reserved_flag_closes_without_connack() {
    let mut w = World::new();
    let mut bytes = encode(&Packet::Connect(Box::new(build::connect(V311, "x"))), V311);
    bytes[9] |= 1;
    let (out, closed) = raw_answer(&mut w, &bytes);
    assert!(out.is_empty() && closed);
}

#[test]
fn v311_mqtt_3_1_2_4_and_5_persistent_session_queues_while_offline() {
    let mut w = World::new();
    let (mut c, _) = persistent(&mut w, V311, "s");
    subscribe(&mut w, &mut c, "t", QoS::ExactlyOnce);
    w.shard.connection_lost(w.now, c.id);
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "t", b"q1", QoS::AtLeastOnce, false);
    let mut back = w.open(V311);
    let mut connect = build::connect(V311, "s");
    connect.clean_start = false;
    w.send(&back, Packet::Connect(Box::new(connect)));
    let got = w.recv(&mut back);
    assert!(connack(&got).session_present);
    let queued = publishes(&got);
    assert_eq!(
        queued.len(),
        1,
        "the QoS 1 message queued while offline is delivered"
    );
    assert_eq!(&queued[0].payload[..], b"q1");
}

#[test]
fn v311_mqtt_3_1_2_6_clean_session_state_is_never_reused() {
    let mut w = World::new();
    let mut c = w.connect(V311, "s", true);
    subscribe(&mut w, &mut c, "t", QoS::AtMostOnce);
    w.shard.connection_lost(w.now, c.id);
    let (_, present) = persistent(&mut w, V311, "s");
    assert!(!present);
}

#[test]
fn v311_mqtt_3_1_2_7_retained_messages_outlive_sessions() {
    let mut w = World::new();
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "r", b"kept", QoS::AtMostOnce, true);
    w.send(&p, Packet::Disconnect(Disconnect::default()));
    let mut s = w.connect(V311, "s", true);
    w.send(
        &s,
        Packet::Subscribe(build::subscribe(1, &["r"], QoS::AtMostOnce)),
    );
    assert_eq!(publishes(&w.recv(&mut s)).len(), 1);
}

fn will_client(w: &mut World, id: &str, retain: bool) -> Client {
    let mut c = w.open(V311);
    let mut connect = build::connect(V311, id);
    connect.will = Some(Will {
        topic: build::topic(&format!("wills/{id}")),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtMostOnce,
        retain,
        properties: Default::default(),
    });
    w.send(&c, Packet::Connect(Box::new(connect)));
    let _ = w.recv(&mut c);
    c
}

#[test]
// FlashMQ: testMqtt3will
fn v311_mqtt_3_1_2_8_and_16_will_published_non_retained_on_close() {
    let mut w = World::new();
    let mut watcher = w.connect(V311, "watcher", true);
    subscribe(&mut w, &mut watcher, "wills/#", QoS::AtMostOnce);
    let c = will_client(&mut w, "a", false);
    w.shard.connection_lost(w.now, c.id);
    assert_eq!(publishes(&w.recv(&mut watcher)).len(), 1);
    assert_eq!(w.shard.retained_count(), 0, "MQTT-3.1.2-16: not retained");
}

#[test]
fn v311_mqtt_3_1_2_17_will_retain_publishes_retained() {
    let mut w = World::new();
    let c = will_client(&mut w, "b", true);
    w.shard.connection_lost(w.now, c.id);
    assert_eq!(w.shard.retained_count(), 1);
}

#[test]
// FlashMQ: testMqtt3NoWillOnDisconnect
fn v311_mqtt_3_1_2_10_disconnect_removes_the_will() {
    let mut w = World::new();
    let mut watcher = w.connect(V311, "watcher", true);
    subscribe(&mut w, &mut watcher, "wills/#", QoS::AtMostOnce);
    let c = will_client(&mut w, "c", false);
    w.send(&c, Packet::Disconnect(Disconnect::default()));
    w.shard.connection_lost(w.now, c.id);
    assert!(publishes(&w.recv(&mut watcher)).is_empty());
}

#[test]
fn v311_mqtt_3_1_2_12_no_will_flag_no_will() {
    let mut w = World::new();
    let mut watcher = w.connect(V311, "watcher", true);
    subscribe(&mut w, &mut watcher, "#", QoS::AtMostOnce);
    let c = w.connect(V311, "plain", true);
    w.shard.connection_lost(w.now, c.id);
    assert!(publishes(&w.recv(&mut watcher)).is_empty());
}

#[test]
fn v311_mqtt_3_1_2_24_keep_alive_timeout() {
    let mut w = World::new();
    let mut c = w.open(V311);
    let mut connect = build::connect(V311, "k");
    connect.keep_alive_secs = 2;
    w.send(&c, Packet::Connect(Box::new(connect)));
    let _ = w.recv(&mut c);
    w.now += 3_000;
    w.shard.tick(w.now);
    assert!(w.closed().contains(&c.id));
    assert!(w.recv(&mut c).is_empty(), "3.x is closed without a packet");
}

#[test]
fn v311_mqtt_3_1_3_5_short_alphanumeric_client_ids_are_accepted() {
    let mut w = World::new();
    for id in ["a", "0123456789abcdefghijklm", "ABCxyz09"] {
        let _ = w.connect(V311, id, true);
    }
}

#[test]
fn v311_mqtt_3_1_3_6_empty_id_with_clean_session_gets_a_session() {
    let mut w = World::new();
    let mut c = w.open(V311);
    w.send(&c, Packet::Connect(Box::new(build::connect(V311, ""))));
    assert_eq!(connack(&w.recv(&mut c)).reason, ReasonCode::Success);
    assert_eq!(w.shard.session_count(), 1);
}

#[test]
fn v311_mqtt_3_1_3_7_and_8_and_9_empty_id_without_clean_session_gets_return_code_2() {
    let mut w = World::new();
    let mut connect = build::connect(V311, "");
    connect.clean_start = false;
    let (out, closed) = raw_answer(&mut w, &encode(&Packet::Connect(Box::new(connect)), V311));
    assert_eq!(out, [0x20, 0x02, 0x00, 0x02]);
    assert!(closed);
}

#[test]
fn v311_mqtt_3_1_4_2_existing_client_is_disconnected() {
    let mut w = World::new();
    let first = w.connect(V311, "dup", true);
    let _second = w.connect(V311, "dup", true);
    assert!(w.closed().contains(&first.id));
}

#[test]
fn v311_mqtt_3_1_4_5_nothing_after_a_refused_connect_is_processed() {
    let mut w = World::new();
    let mut watcher = w.connect(V311, "watcher", true);
    subscribe(&mut w, &mut watcher, "t", QoS::AtMostOnce);
    let mut connect = build::connect(V311, "");
    connect.clean_start = false;
    let mut bytes = encode(&Packet::Connect(Box::new(connect)), V311);
    bytes.extend(encode(
        &Packet::Publish(build::publish("t", b"sneaky", QoS::AtMostOnce, false)),
        V311,
    ));
    let _ = raw_answer(&mut w, &bytes);
    assert!(publishes(&w.recv(&mut watcher)).is_empty());
}

#[test]
fn v311_mqtt_3_2_0_1_connack_is_the_first_packet_sent() {
    let mut w = World::new();
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "r", b"kept", QoS::AtMostOnce, true);
    let mut c = w.open(V311);
    let mut bytes = encode(&Packet::Connect(Box::new(build::connect(V311, "c"))), V311);
    bytes.extend(encode(
        &Packet::Subscribe(build::subscribe(1, &["r"], QoS::AtMostOnce)),
        V311,
    ));
    w.send_raw(&c, &bytes);
    let got = w.recv(&mut c);
    assert!(matches!(got.first(), Some(Packet::ConnAck(_))));
}

#[test]
fn v311_mqtt_3_3_1_2_qos0_deliveries_have_dup_0() {
    let mut w = World::new();
    let mut s = w.connect(V311, "s", true);
    subscribe(&mut w, &mut s, "t", QoS::AtMostOnce);
    let p = w.connect(V311, "p", true);
    let mut msg = build::publish("t", b"x", QoS::AtLeastOnce, false);
    msg.dup = true;
    w.send(&p, Packet::Publish(msg));
    assert!(
        !publishes(&w.recv(&mut s))[0].dup,
        "MQTT-3.3.1-3: incoming DUP is not copied"
    );
}

#[test]
// FlashMQ: test_retained
fn v311_mqtt_3_3_1_8_and_9_retain_flag_on_new_and_established_subscriptions() {
    let mut w = World::new();
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "r", b"old", QoS::AtMostOnce, true);
    let mut s = w.connect(V311, "s", true);
    w.send(
        &s,
        Packet::Subscribe(build::subscribe(1, &["r"], QoS::AtMostOnce)),
    );
    assert!(publishes(&w.recv(&mut s))[0].retain);
    publish(&mut w, &p, "r", b"new", QoS::AtMostOnce, true);
    assert!(!publishes(&w.recv(&mut s))[0].retain);
}

#[test]
fn v311_mqtt_3_3_1_10_and_11_empty_retained_clears_and_is_not_stored() {
    let mut w = World::new();
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "r", b"x", QoS::AtMostOnce, true);
    publish(&mut w, &p, "r", b"", QoS::AtMostOnce, true);
    assert_eq!(w.shard.retained_count(), 0);
}

#[test]
fn v311_mqtt_3_3_4_1_acks_as_the_qos_dictates() {
    let mut w = World::new();
    let mut c = w.connect(V311, "c", true);
    for (qos, id) in [
        (QoS::AtMostOnce, 1),
        (QoS::AtLeastOnce, 2),
        (QoS::ExactlyOnce, 3),
    ] {
        let mut p = build::publish("t", b"x", qos, false);
        p.qos_pid = QosPid::from_parts(qos, build::pid(id));
        w.send(&c, Packet::Publish(p));
    }
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::PubAck(_), Packet::PubRec(_)]),
        "{got:?}"
    );
}

#[test]
fn v311_mqtt_3_8_4_4_and_5_multi_filter_subscribe_one_suback() {
    let mut w = World::new();
    let mut c = w.connect(V311, "c", true);
    w.send(
        &c,
        Packet::Subscribe(build::subscribe(9, &["a", "b", "c"], QoS::AtLeastOnce)),
    );
    let got = w.recv(&mut c);
    let [Packet::SubAck(a)] = &got[..] else {
        panic!("{got:?}")
    };
    assert_eq!(a.reasons.len(), 3);
}

#[test]
fn v311_mqtt_3_8_4_6_delivered_qos_is_the_minimum() {
    let mut w = World::new();
    let mut s = w.connect(V311, "s", true);
    subscribe(&mut w, &mut s, "t", QoS::AtMostOnce);
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "t", b"x", QoS::ExactlyOnce, false);
    assert_eq!(publishes(&w.recv(&mut s))[0].qos_pid.qos(), QoS::AtMostOnce);
}

#[test]
fn v311_mqtt_3_12_4_1_pingreq_is_answered() {
    let mut w = World::new();
    let mut c = w.connect(V311, "c", true);
    w.send(&c, Packet::PingReq);
    assert!(matches!(&w.recv(&mut c)[..], [Packet::PingResp]));
}
