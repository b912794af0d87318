//! MQTT 3.1.1 rules on packet contents that a client may break and the server must detect, one
//! test per normative statement, named `v311_mqtt_...` after it. MQTT 3.1.1 has no DISCONNECT
//! from the server: a violation after CONNACK closes the connection without a packet, and a
//! CONNECT that does not fit section 3.1 is closed without a CONNACK (MQTT-3.1.4-1).

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
use brokkr_testkit::build::{self, encode};

use ProtocolVersion::V3_1_1 as V311;

/// Connect a client, send `bytes`, and check the connection is closed with nothing written.
fn closes_silently(bytes: &[u8]) {
    let mut w = World::new();
    let mut c = w.connect(V311, "c", true);
    w.send_raw(&c, bytes);
    let out = w.shard.write_buffer(c.id).to_vec();
    assert!(w.is_closed(&c), "{bytes:02x?} was accepted");
    assert!(out.is_empty(), "{bytes:02x?} got {:?}", w.recv(&mut c));
}

/// A v3.1.1 CONNECT with `flags` and the payload after the client id "c".
fn connect_bytes(flags: u8, tail: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, flags, 0, 60, 0, 1, b'c'];
    body.extend_from_slice(tail);
    let mut out = vec![0x10, body.len() as u8];
    out.extend(body);
    out
}

/// Send `bytes` as the first packet and check the connection is closed without a CONNACK.
fn connect_refused_silently(bytes: &[u8]) {
    let mut w = World::new();
    let c = w.open(V311);
    w.send_raw(&c, bytes);
    let out = w.shard.write_buffer(c.id).to_vec();
    assert!(w.is_closed(&c), "{bytes:02x?} was accepted");
    assert!(out.is_empty(), "{bytes:02x?} got {out:02x?}");
    assert_eq!(w.shard.session_count(), 0);
}

#[test]
fn v311_mqtt_1_5_3_3_a_bom_is_kept_and_matched_as_is() {
    let mut w = World::new();
    let mut s = w.connect(V311, "s", true);
    subscribe(&mut w, &mut s, "\u{FEFF}t", QoS::AtMostOnce);
    let p = w.connect(V311, "p", true);
    w.send_raw(&p, &[0x30, 0x06, 0x00, 0x04, 0xEF, 0xBB, 0xBF, b't']);
    publish(&mut w, &p, "t", b"", QoS::AtMostOnce, false);
    let got = w.recv(&mut s);
    let topics: Vec<_> = publishes(&got).iter().map(|p| p.topic.as_str()).collect();
    assert_eq!(topics, ["\u{FEFF}t"]);
}

#[test]
fn v311_mqtt_2_2_2_1_reserved_flag_bits_are_checked() {
    for bytes in [
        &[0x41, 0x02, 0x00, 0x01][..], // PUBACK
        &[0x51, 0x02, 0x00, 0x01],     // PUBREC
        &[0x73, 0x02, 0x00, 0x01],     // PUBCOMP
        &[0xC8, 0x00],                 // PINGREQ
        &[0xE2, 0x00],                 // DISCONNECT
    ] {
        closes_silently(bytes);
    }
}

#[test]
fn v311_mqtt_2_3_1_1_packet_identifiers_are_non_zero() {
    closes_silently(&[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00]);
    closes_silently(&[0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b't', 0x00]);
    closes_silently(&[0xA2, 0x05, 0x00, 0x00, 0x00, 0x01, b't']);
}

#[test]
fn v311_mqtt_2_3_1_5_a_qos_0_delivery_has_no_packet_identifier() {
    let mut w = World::new();
    let s = w.connect(V311, "s", true);
    let mut s = s;
    subscribe(&mut w, &mut s, "t", QoS::ExactlyOnce);
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "t", b"x", QoS::AtMostOnce, false);
    assert_eq!(
        w.shard.write_buffer(s.id),
        [0x30, 0x04, 0x00, 0x01, b't', b'x']
    );
}

#[test]
fn v311_mqtt_3_1_0_1_and_2_connect_first_and_only_once() {
    let mut w = World::new();
    let c = w.open(V311);
    w.send(&c, Packet::PingReq);
    assert!(w.is_closed(&c) && w.shard.write_buffer(c.id).is_empty());
    closes_silently(&encode(
        &Packet::Connect(Box::new(build::connect(V311, "c"))),
        V311,
    ));
}

#[test]
fn v311_mqtt_3_1_2_1_a_wrong_protocol_name_is_not_treated_as_mqtt_3_1_1() {
    let mut bytes = connect_bytes(0x02, &[]);
    bytes[4] = b'X'; // "MXTT"
    let mut w = World::new();
    let mut c = w.open(V311);
    w.send_raw(&c, &bytes);
    assert!(w.is_closed(&c));
    let got = w.recv(&mut c);
    assert!(
        got.iter()
            .all(|p| !matches!(p, Packet::ConnAck(a) if a.reason == ReasonCode::Success))
    );
}

#[test]
fn v311_mqtt_3_1_2_9_will_fields_present_when_flagged() {
    connect_refused_silently(&connect_bytes(0x06, &[]));
    connect_refused_silently(&connect_bytes(0x06, &[0, 1, b'w']));
}

#[test]
fn v311_mqtt_3_1_2_11_and_13_and_15_no_will_qos_retain_or_fields_without_the_flag() {
    connect_refused_silently(&connect_bytes(0x0A, &[])); // Will QoS 1
    connect_refused_silently(&connect_bytes(0x22, &[])); // Will Retain
    connect_refused_silently(&connect_bytes(0x02, &[0, 1, b'w', 0, 0])); // will fields
}

#[test]
fn v311_mqtt_3_1_2_14_will_qos_3_is_refused() {
    connect_refused_silently(&connect_bytes(0x1E, &[0, 1, b'w', 0, 0]));
}

#[test]
fn v311_mqtt_3_1_2_18_and_19_and_20_and_21_user_name_and_password_follow_their_flags() {
    connect_refused_silently(&connect_bytes(0x02, &[0, 1, b'u'])); // no flag, user name
    connect_refused_silently(&connect_bytes(0x82, &[])); // flag, no user name
    connect_refused_silently(&connect_bytes(0x82, &[0, 1, b'u', 0, 1, b'p'])); // no flag, password
    connect_refused_silently(&connect_bytes(0xC2, &[0, 1, b'u'])); // flag, no password
    let mut w = World::new();
    let mut c = w.open(V311);
    w.send_raw(&c, &connect_bytes(0xC2, &[0, 1, b'u', 0, 1, b'p']));
    assert_eq!(connack(&w.recv(&mut c)).reason, ReasonCode::Success);
}

#[test]
fn v311_mqtt_3_1_3_1_payload_fields_in_order_and_nothing_after() {
    connect_refused_silently(&connect_bytes(0x02, &[0xAA]));
    // Will Topic, Will Message, User Name, Password: in that order, or the lengths do not fit.
    let mut w = World::new();
    let mut c = w.open(V311);
    let tail = [0, 1, b'w', 0, 2, b'h', b'i', 0, 1, b'u', 0, 1, b'p'];
    w.send_raw(&c, &connect_bytes(0xC6, &tail));
    assert_eq!(connack(&w.recv(&mut c)).reason, ReasonCode::Success);
}

#[test]
fn v311_mqtt_3_1_3_3_and_4_client_id_first_and_utf8() {
    connect_refused_silently(&[0x10, 0x0a, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60]);
    let mut bad = connect_bytes(0x02, &[]);
    let n = bad.len();
    bad[n - 1] = 0xC0;
    connect_refused_silently(&bad);
}

#[test]
fn v311_mqtt_3_1_3_10_and_11_will_topic_and_user_name_are_utf8() {
    connect_refused_silently(&connect_bytes(0x06, &[0, 1, 0xFF, 0, 0]));
    connect_refused_silently(&connect_bytes(0x82, &[0, 2, 0xED, 0xA0]));
}

#[test]
fn v311_mqtt_3_1_4_1_a_connect_not_fitting_section_3_1_gets_no_connack() {
    connect_refused_silently(&connect_bytes(0x03, &[])); // reserved flag
    connect_refused_silently(&connect_bytes(0x42, &[0, 1, b'p'])); // password, no user name
}

#[test]
fn v311_mqtt_3_3_1_4_qos_3_closes_the_connection() {
    closes_silently(&[0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01]);
}

#[test]
fn v311_mqtt_3_3_2_1_topic_name_is_the_first_field_and_utf8() {
    closes_silently(&[0x30, 0x04, 0x00, 0x02, 0xC0, 0xAF]);
    closes_silently(&[0x30, 0x01, 0x00]); // no room for the topic
}

#[test]
fn v311_mqtt_3_3_2_2_no_wildcards_in_a_topic_name() {
    closes_silently(&[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'#']);
    closes_silently(&[0x30, 0x03, 0x00, 0x01, b'+']);
}

#[test]
fn v311_mqtt_4_7_1_1_wildcards_only_in_topic_filters() {
    closes_silently(&[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'+']);
    let mut w = World::new();
    let mut c = w.connect(V311, "c", true);
    subscribe(&mut w, &mut c, "a/+", QoS::AtMostOnce);
    subscribe(&mut w, &mut c, "a/#", QoS::AtMostOnce);
}

#[test]
fn v311_mqtt_3_6_1_1_pubrel_flags_are_0010() {
    closes_silently(&[0x60, 0x02, 0x00, 0x01]);
}

#[test]
fn v311_mqtt_3_8_1_1_subscribe_flags_are_0010() {
    closes_silently(&[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b't', 0x00]);
}

#[test]
fn v311_mqtt_3_10_1_1_unsubscribe_flags_are_0010() {
    closes_silently(&[0xA0, 0x05, 0x00, 0x01, 0x00, 0x01, b't']);
}

#[test]
fn v311_mqtt_3_14_1_1_disconnect_flags_are_0() {
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
    w.send_raw(&c, &[0xE1, 0x00]);
    assert!(w.is_closed(&c));
    assert_eq!(
        publishes(&w.recv(&mut watch)).len(),
        1,
        "not a normal DISCONNECT: will sent"
    );
}

#[test]
fn v311_mqtt_3_8_3_1_subscribe_filters_are_utf8() {
    closes_silently(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0xFF, 0x00]);
}

#[test]
fn v311_mqtt_3_10_3_1_unsubscribe_filters_are_utf8() {
    closes_silently(&[0xA2, 0x05, 0x00, 0x01, 0x00, 0x01, 0xFF]);
}

#[test]
fn v311_mqtt_3_8_3_3_subscribe_needs_a_filter() {
    closes_silently(&[0x82, 0x02, 0x00, 0x01]);
}

#[test]
fn v311_mqtt_3_8_3_4_reserved_bits_and_qos_3_in_the_requested_qos() {
    closes_silently(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b't', 0x03]);
    closes_silently(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b't', 0x04]);
}

#[test]
fn v311_mqtt_3_10_3_2_unsubscribe_needs_a_filter() {
    closes_silently(&[0xA2, 0x02, 0x00, 0x01]);
}

#[test]
fn v311_mqtt_4_7_1_2_and_3_wildcard_placement() {
    for filter in [&b"a/#/b"[..], b"a#", b"a+", b"a/b+"] {
        let mut body = vec![0x00, 0x01, 0x00, filter.len() as u8];
        body.extend_from_slice(filter);
        body.push(0);
        let mut bytes = vec![0x82, body.len() as u8];
        bytes.extend(body);
        closes_silently(&bytes);
    }
}

#[test]
fn v311_mqtt_4_7_3_1_and_2_topics_are_not_empty_and_have_no_nul() {
    closes_silently(&[0x30, 0x02, 0x00, 0x00]);
    closes_silently(&[0x82, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00]);
    closes_silently(&[0x30, 0x05, 0x00, 0x02, b'a', 0x00, b'x']);
    closes_silently(&[0x82, 0x07, 0x00, 0x01, 0x00, 0x02, b'a', 0x00, 0x00]);
}

#[test]
fn v311_mqtt_4_7_3_3_topics_encode_to_at_most_65535_bytes() {
    assert!(TopicName::new(&"a".repeat(65_535)).is_ok());
    assert!(TopicName::new(&"a".repeat(65_536)).is_err());
    assert!(TopicFilter::new(&"a".repeat(65_536)).is_err());
    // The broker's own cap (string_bytes_max) is lower still: such a topic closes.
    let mut w = World::new();
    let c = w.connect(V311, "c", true);
    let long = "a".repeat(5_000);
    let p = build::publish(&long, b"", QoS::AtMostOnce, false);
    w.send(&c, Packet::Publish(p));
    assert!(w.is_closed(&c));
}

#[test]
fn v311_mqtt_4_8_0_1_a_protocol_violation_closes_the_connection() {
    closes_silently(&[0x20, 0x02, 0x00, 0x00]); // CONNACK from a client
    closes_silently(&[0x90, 0x03, 0x00, 0x01, 0x00]); // SUBACK from a client
}

#[test]
fn v311_mqtt_4_8_0_2_an_error_while_processing_closes_the_connection() {
    let mut w = World::with_limits(Limits {
        packet_bytes_max: 64,
        ..Limits::default()
    });
    let c = w.connect(V311, "c", true);
    let p = build::publish("t", &[0; 100], QoS::AtMostOnce, false);
    w.send(&c, Packet::Publish(p));
    assert!(w.is_closed(&c));
    assert!(w.shard.write_buffer(c.id).is_empty());
}
