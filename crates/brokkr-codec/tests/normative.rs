//! One test per normative statement the codec enforces, named after the statement. Ids follow
//! MQTT 5.0 numbering; `v311_` tests use MQTT 3.1.1 numbering where it differs.
//! Each test sends the exact bytes a peer would send and checks the typed error (kind, reason
//! code and rule) or the exact bytes we encode.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr_codec::*;
use bytes::{Bytes, BytesMut};

use ProtocolVersion::{V3_1 as V31, V3_1_1 as V311, V5};

fn dec(bytes: &[u8], v: ProtocolVersion) -> Result<Packet, DecodeError> {
    decode_exact(bytes, v)
}

fn rule(bytes: &[u8], v: ProtocolVersion) -> Option<&'static str> {
    dec(bytes, v).expect_err("must be refused").rule
}

fn enc(p: &Packet, v: ProtocolVersion) -> Vec<u8> {
    let mut out = BytesMut::new();
    p.encode(v, &mut out).unwrap();
    out.to_vec()
}

/// A v3.1.1 CONNECT with the given flags byte and payload after the client id.
fn connect_v311(flags: u8, tail: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, flags, 0, 60, 0, 1, b'c'];
    body.extend_from_slice(tail);
    let mut out = vec![0x10, body.len() as u8];
    out.extend(body);
    out
}

fn connect_v5(flags: u8, props: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut body = vec![
        0,
        4,
        b'M',
        b'Q',
        b'T',
        b'T',
        5,
        flags,
        0,
        60,
        props.len() as u8,
    ];
    body.extend_from_slice(props);
    body.extend_from_slice(&[0, 1, b'c']);
    body.extend_from_slice(tail);
    let mut out = vec![0x10, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn mqtt_1_5_4_1_ill_formed_utf8_in_a_topic_is_malformed() {
    let err = dec(&[0x30, 0x04, 0x00, 0x02, 0xC0, 0xAF], V311).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Malformed);
    assert_eq!(err.rule, Some("MQTT-1.5.4-1"));
    // A UTF-16 surrogate (U+D800) in a client id.
    let mut c = connect_v311(0x02, &[]);
    c.truncate(c.len() - 3);
    c.extend_from_slice(&[0, 3, 0xED, 0xA0, 0x80]);
    c[1] = (c.len() - 2) as u8;
    assert_eq!(rule(&c, V311), Some("MQTT-1.5.4-1"));
}

#[test]
fn mqtt_1_5_4_2_nul_in_a_string_is_malformed() {
    assert_eq!(
        rule(&[0x30, 0x05, 0x00, 0x03, b'a', 0, b'b'], V5),
        Some("MQTT-1.5.4-2")
    );
}

#[test]
fn mqtt_1_5_4_3_bom_is_kept_in_the_topic() {
    let Packet::Publish(p) = dec(&[0x30, 0x06, 0x00, 0x04, 0xEF, 0xBB, 0xBF, b't'], V311).unwrap()
    else {
        panic!("not a publish")
    };
    assert_eq!(p.topic.as_str(), "\u{FEFF}t");
}

#[test]
fn mqtt_1_5_5_1_non_minimal_remaining_length_is_malformed() {
    assert_eq!(rule(&[0xC0, 0x80, 0x00], V311), Some("MQTT-1.5.5-1"));
}

#[test]
fn mqtt_2_1_3_1_reserved_flags_are_checked_for_every_packet_type() {
    // Every non-PUBLISH packet type with a wrong flag nibble is malformed.
    let cases: &[(u8, &[u8])] = &[
        (0x21, &[0x00, 0x00, 0x00]),
        (0x41, &[0x00, 0x01]),
        (0x51, &[0x00, 0x01]),
        (0x60, &[0x00, 0x01]),
        (0x71, &[0x00, 0x01]),
        (0x91, &[0x00, 0x01, 0x00, 0x00]),
        (0xB1, &[0x00, 0x01, 0x00, 0x00]),
        (0xC1, &[]),
        (0xD1, &[]),
        (0xE1, &[]),
        (0xF1, &[]),
    ];
    for (first, body) in cases {
        let mut bytes = vec![*first, body.len() as u8];
        bytes.extend_from_slice(body);
        let err = dec(&bytes, V5).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed, "{first:#x}");
        assert!(err.rule.is_some(), "{first:#x}");
    }
    assert_eq!(rule(&[0xC1, 0x00], V5), Some("MQTT-2.1.3-1"));
    assert_eq!(rule(&[0xC1, 0x00], V311), Some("MQTT-2.2.2-1"));
}

#[test]
fn mqtt_2_2_1_2_qos0_publish_has_no_packet_identifier() {
    let p = Publish {
        dup: false,
        qos_pid: QosPid::AtMostOnce,
        retain: false,
        topic: TopicName::new("t").unwrap(),
        properties: Default::default(),
        payload: Bytes::from_static(b"x"),
    };
    assert_eq!(
        enc(&Packet::Publish(p), V311),
        [0x30, 0x04, 0x00, 0x01, b't', b'x']
    );
}

#[test]
fn mqtt_2_2_1_3_packet_identifier_zero_is_refused() {
    assert_eq!(
        rule(&[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00], V311),
        Some("MQTT-2.2.1-3")
    );
    assert_eq!(
        rule(&[0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b't', 0x00], V311),
        Some("MQTT-2.2.1-3")
    );
    assert_eq!(rule(&[0x40, 0x02, 0x00, 0x00], V311), Some("MQTT-2.2.1-3"));
}

#[test]
fn mqtt_2_2_2_1_property_length_zero_is_still_encoded() {
    let s = Subscribe {
        packet_id: PacketId::new(1).unwrap(),
        properties: Default::default(),
        filters: vec![(
            TopicFilter::new("a").unwrap(),
            SubscriptionOptions::default(),
        )],
    };
    // 0x82, len 7, pid 0x0001, property length 0x00, filter "a", options 0.
    assert_eq!(
        enc(&Packet::Subscribe(s), V5),
        [0x82, 0x07, 0, 1, 0, 0, 1, b'a', 0]
    );
}

#[test]
fn mqtt_3_1_2_1_unknown_protocol_name_is_unsupported() {
    let mut c = connect_v311(0x02, &[]);
    c[4] = b'X';
    let err = dec(&c, V311).unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnsupportedProtocol);
    assert_eq!(err.reason, ReasonCode::UnsupportedProtocolVersion);
    assert_eq!(err.rule, Some("MQTT-3.1.2-1"));
}

#[test]
fn mqtt_3_1_2_2_unsupported_level_is_reported_with_the_level() {
    let mut c = connect_v311(0x02, &[]);
    c[8] = 6;
    let err = dec(&c, V311).unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnsupportedProtocol);
    assert_eq!(err.rule, Some("MQTT-3.1.2-2"));
    assert_eq!(connect_level(&c[2..]), Some(6));
    // MQIsdp is only level 3.
    let mut old = vec![
        0x10, 0x0F, 0, 6, b'M', b'Q', b'I', b's', b'd', b'p', 4, 2, 0, 60, 0, 1, b'c',
    ];
    assert_eq!(rule(&old, V311), Some("MQTT-3.1.2-2"));
    old[10] = 3;
    assert!(matches!(dec(&old, V311).unwrap(), Packet::Connect(c) if c.protocol.0 == V31));
}

#[test]
fn mqtt_3_1_2_3_reserved_connect_flag_is_malformed() {
    assert_eq!(rule(&connect_v311(0x03, &[]), V311), Some("MQTT-3.1.2-3"));
    assert_eq!(rule(&connect_v5(0x03, &[], &[]), V5), Some("MQTT-3.1.2-3"));
}

#[test]
fn mqtt_3_1_2_11_will_qos_without_will_flag_is_malformed() {
    assert_eq!(rule(&connect_v5(0x0A, &[], &[]), V5), Some("MQTT-3.1.2-11"));
    assert_eq!(rule(&connect_v311(0x0A, &[]), V311), Some("MQTT-3.1.2-13"));
}

#[test]
fn mqtt_3_1_2_12_will_qos_3_is_malformed() {
    let tail = [0, 0, 1, b't', 0, 0];
    assert_eq!(
        rule(&connect_v5(0x1E, &[], &tail), V5),
        Some("MQTT-3.1.2-12")
    );
    assert_eq!(
        rule(&connect_v311(0x1E, &tail[1..]), V311),
        Some("MQTT-3.1.2-14")
    );
}

#[test]
fn mqtt_3_1_2_13_will_retain_without_will_flag_is_malformed() {
    assert_eq!(rule(&connect_v5(0x22, &[], &[]), V5), Some("MQTT-3.1.2-13"));
    assert_eq!(rule(&connect_v311(0x22, &[]), V311), Some("MQTT-3.1.2-15"));
}

#[test]
fn mqtt_3_1_2_9_will_fields_must_be_present() {
    // Will flag set but the payload ends after the client id.
    let err = dec(&connect_v311(0x06, &[]), V311).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Malformed);
    // And with the fields present it decodes, will and all.
    let Packet::Connect(c) =
        dec(&connect_v311(0x36, &[0, 1, b't', 0, 2, b'h', b'i']), V311).unwrap()
    else {
        panic!()
    };
    let will = c.will.unwrap();
    assert_eq!(
        (will.qos, will.retain, &will.payload[..]),
        (QoS::ExactlyOnce, true, &b"hi"[..])
    );
}

#[test]
fn mqtt_3_1_2_17_and_19_username_and_password_present_when_flagged() {
    assert!(dec(&connect_v311(0x82, &[]), V311).is_err());
    assert!(dec(&connect_v311(0xC2, &[0, 1, b'u']), V311).is_err());
    let Packet::Connect(c) = dec(&connect_v311(0xC2, &[0, 1, b'u', 0, 1, b'p']), V311).unwrap()
    else {
        panic!()
    };
    assert_eq!(c.username.unwrap().as_str(), "u");
    assert_eq!(&c.password.unwrap()[..], b"p");
}

#[test]
fn v311_mqtt_3_1_2_22_password_without_username_is_malformed() {
    assert_eq!(
        rule(&connect_v311(0x42, &[0, 1, b'p']), V311),
        Some("MQTT-3.1.2-22")
    );
    // MQTT 5 allows a password without a user name.
    assert!(dec(&connect_v5(0x42, &[], &[0, 1, b'p']), V5).is_ok());
}

#[test]
fn mqtt_3_1_3_1_trailing_bytes_after_connect_are_malformed() {
    let err = dec(&connect_v311(0x02, &[0xAA]), V311).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Malformed);
}

#[test]
fn mqtt_3_2_2_1_connack_reserved_flags() {
    assert_eq!(rule(&[0x20, 0x02, 0x02, 0x00], V311), Some("MQTT-3.2.2-1"));
}

#[test]
fn mqtt_3_3_1_2_dup_on_qos0_is_malformed() {
    assert_eq!(
        rule(&[0x38, 0x03, 0x00, 0x01, b't'], V311),
        Some("MQTT-3.3.1-2")
    );
}

#[test]
fn mqtt_3_3_1_4_qos_3_is_malformed() {
    let err = dec(&[0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01], V5).unwrap_err();
    assert_eq!(
        (err.kind, err.rule),
        (ErrorKind::Malformed, Some("MQTT-3.3.1-4"))
    );
}

#[test]
fn mqtt_3_3_2_2_wildcard_in_publish_topic_is_refused() {
    let err = dec(&[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'#'], V5).unwrap_err();
    assert_eq!(err.rule, Some("MQTT-3.3.2-2"));
    assert_eq!(err.reason, ReasonCode::TopicNameInvalid);
}

#[test]
fn mqtt_3_3_2_8_topic_alias_zero_is_a_protocol_error() {
    let err = dec(&[0x30, 0x07, 0x00, 0x01, b't', 0x03, 0x23, 0x00, 0x00], V5).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ProtocolError);
    assert_eq!(err.reason, ReasonCode::TopicAliasInvalid);
    assert_eq!(err.rule, Some("MQTT-3.3.2-8"));
}

#[test]
fn mqtt_3_3_2_14_response_topic_with_wildcard_is_refused() {
    let bytes = [
        0x30, 0x09, 0x00, 0x01, b't', 0x05, 0x08, 0x00, 0x02, b'r', b'#',
    ];
    assert_eq!(rule(&bytes, V5), Some("MQTT-3.3.2-14"));
}

#[test]
fn mqtt_4_7_3_1_empty_topic_needs_an_alias() {
    assert_eq!(rule(&[0x30, 0x02, 0x00, 0x00], V311), Some("MQTT-4.7.3-1"));
    assert_eq!(
        dec(&[0x30, 0x03, 0x00, 0x00, 0x00], V5).unwrap_err().kind,
        ErrorKind::ProtocolError
    );
    // With Topic Alias 1 an empty topic is fine.
    assert!(dec(&[0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01], V5).is_ok());
}

#[test]
fn mqtt_3_4_2_1_puback_reason_code_from_its_table() {
    assert!(dec(&[0x40, 0x03, 0x00, 0x01, 0x10], V5).is_ok());
    assert_eq!(
        dec(&[0x40, 0x03, 0x00, 0x01, 0x92], V5).unwrap_err().kind,
        ErrorKind::Malformed
    );
}

#[test]
fn mqtt_3_6_1_1_pubrel_flags() {
    assert_eq!(rule(&[0x60, 0x02, 0x00, 0x01], V311), Some("MQTT-3.6.1-1"));
    assert!(dec(&[0x62, 0x02, 0x00, 0x01], V311).is_ok());
}

#[test]
fn mqtt_3_7_2_1_pubcomp_reason_code_from_its_table() {
    assert!(dec(&[0x70, 0x03, 0x00, 0x01, 0x92], V5).is_ok());
    assert!(dec(&[0x70, 0x03, 0x00, 0x01, 0x10], V5).is_err());
}

#[test]
fn mqtt_3_8_1_1_subscribe_flags() {
    assert_eq!(
        rule(&[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b't', 0x00], V311),
        Some("MQTT-3.8.1-1")
    );
}

#[test]
fn mqtt_3_8_3_2_subscribe_needs_a_filter() {
    assert_eq!(
        rule(&[0x82, 0x03, 0x00, 0x01, 0x00], V5),
        Some("MQTT-3.8.3-2")
    );
    assert_eq!(rule(&[0x82, 0x02, 0x00, 0x01], V311), Some("MQTT-3.8.3-3"));
}

#[test]
fn mqtt_3_8_3_4_no_local_on_a_shared_subscription_is_a_protocol_error() {
    let mut body = vec![0x00, 0x01, 0x00, 0x00, 11];
    body.extend_from_slice(b"$share/g/ab");
    body.push(0x04);
    let mut bytes = vec![0x82, body.len() as u8];
    bytes.extend(body);
    let err = dec(&bytes, V5).unwrap_err();
    assert_eq!(
        (err.kind, err.rule),
        (ErrorKind::ProtocolError, Some("MQTT-3.8.3-4"))
    );
}

#[test]
fn mqtt_3_8_3_5_subscription_options_reserved_bits() {
    assert_eq!(
        rule(&[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b't', 0x40], V5),
        Some("MQTT-3.8.3-5")
    );
    assert_eq!(
        rule(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b't', 0x04], V311),
        Some("MQTT-3.8.3-4")
    );
    assert_eq!(
        rule(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b't', 0x03], V311),
        Some("MQTT-3.8.3-4")
    );
}

#[test]
fn v311_mqtt_3_9_3_2_suback_return_codes() {
    assert_eq!(
        rule(&[0x90, 0x03, 0x00, 0x01, 0x03], V311),
        Some("MQTT-3.9.3-2")
    );
    let Packet::SubAck(s) = dec(&[0x90, 0x04, 0x00, 0x01, 0x02, 0x80], V311).unwrap() else {
        panic!()
    };
    assert_eq!(
        s.reasons,
        [ReasonCode::GrantedQos2, ReasonCode::UnspecifiedError]
    );
}

#[test]
fn mqtt_3_10_1_1_unsubscribe_flags() {
    assert_eq!(
        rule(&[0xA0, 0x05, 0x00, 0x01, 0x00, 0x01, b't'], V311),
        Some("MQTT-3.10.1-1")
    );
}

#[test]
fn mqtt_3_10_3_2_unsubscribe_needs_a_filter() {
    assert_eq!(rule(&[0xA2, 0x02, 0x00, 0x01], V311), Some("MQTT-3.10.3-2"));
}

#[test]
fn mqtt_3_14_1_1_disconnect_flags() {
    assert_eq!(rule(&[0xE2, 0x00], V5), Some("MQTT-3.14.1-1"));
    assert_eq!(rule(&[0xE2, 0x00], V311), Some("MQTT-3.14.1-1"));
}

#[test]
fn mqtt_3_14_2_1_disconnect_reason_code_from_its_table() {
    assert_eq!(rule(&[0xE0, 0x01, 0x18], V5), Some("MQTT-3.14.2-1"));
    let Packet::Disconnect(d) = dec(&[0xE0, 0x01, 0x04], V5).unwrap() else {
        panic!()
    };
    assert_eq!(d.reason, ReasonCode::DisconnectWithWill);
}

#[test]
fn mqtt_3_15_1_1_auth_flags() {
    assert_eq!(rule(&[0xF1, 0x00], V5), Some("MQTT-3.15.1-1"));
    // AUTH does not exist before MQTT 5.
    assert_eq!(
        dec(&[0xF0, 0x00], V311).unwrap_err().kind,
        ErrorKind::Malformed
    );
}

#[test]
fn mqtt_3_15_2_1_auth_reason_code_from_its_table() {
    assert_eq!(rule(&[0xF0, 0x02, 0x87, 0x00], V5), Some("MQTT-3.15.2-1"));
    assert!(dec(&[0xF0, 0x02, 0x18, 0x00], V5).is_ok());
}

#[test]
// FlashMQ: test_validSubscribePath
fn mqtt_4_7_1_1_and_2_wildcard_placement_in_subscribe() {
    for (filter, id) in [(&b"a/#/b"[..], "MQTT-4.7.1-1"), (b"a+/b", "MQTT-4.7.1-2")] {
        let mut body = vec![0x00, 0x01, 0x00, filter.len() as u8];
        body.extend_from_slice(filter);
        body.push(0);
        let mut bytes = vec![0x82, body.len() as u8];
        bytes.extend(body);
        let err = dec(&bytes, V311).unwrap_err();
        assert_eq!(
            (err.reason, err.rule),
            (ReasonCode::TopicFilterInvalid, Some(id))
        );
    }
}

#[test]
fn section_2_2_2_2_property_not_of_this_packet_is_malformed() {
    // Session Expiry Interval (0x11) inside PUBLISH.
    let bytes = [
        0x30, 0x09, 0x00, 0x01, b't', 0x05, 0x11, 0x00, 0x00, 0x00, 0x01,
    ];
    assert_eq!(dec(&bytes, V5).unwrap_err().kind, ErrorKind::Malformed);
}

#[test]
fn section_2_2_2_2_duplicate_property_is_a_protocol_error() {
    let props = [0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2];
    let err = dec(&connect_v5(0x02, &props, &[]), V5).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ProtocolError);
    // User Properties may repeat.
    let users = [0x26, 0, 1, b'a', 0, 1, b'b', 0x26, 0, 1, b'a', 0, 1, b'c'];
    let Packet::Connect(c) = dec(&connect_v5(0x02, &users, &[]), V5).unwrap() else {
        panic!()
    };
    assert_eq!(c.properties.user_properties.len(), 2);
}

#[test]
fn subscription_identifier_repeats_in_publish_but_not_in_subscribe() {
    let publish = [0x30, 0x08, 0x00, 0x01, b't', 0x04, 0x0B, 0x01, 0x0B, 0x02];
    let Packet::Publish(p) = dec(&publish, V5).unwrap() else {
        panic!()
    };
    assert_eq!(p.properties.subscription_identifiers().count(), 2);
    let subscribe = [
        0x82, 0x0A, 0x00, 0x01, 0x04, 0x0B, 0x01, 0x0B, 0x02, 0x00, 0x01, b't', 0x00,
    ];
    let mut subscribe = subscribe.to_vec();
    subscribe[1] = (subscribe.len() - 2) as u8;
    assert_eq!(
        dec(&subscribe, V5).unwrap_err().kind,
        ErrorKind::ProtocolError
    );
    // Subscription Identifier 0 is a protocol error.
    let zero = [
        0x82, 0x08, 0x00, 0x01, 0x02, 0x0B, 0x00, 0x00, 0x01, b't', 0x00,
    ];
    let mut zero = zero.to_vec();
    zero[1] = (zero.len() - 2) as u8;
    assert_eq!(dec(&zero, V5).unwrap_err().kind, ErrorKind::ProtocolError);
}

#[test]
fn receive_maximum_and_maximum_packet_size_zero_are_protocol_errors() {
    for props in [&[0x21, 0, 0][..], &[0x27, 0, 0, 0, 0]] {
        assert_eq!(
            dec(&connect_v5(0x02, props, &[]), V5).unwrap_err().kind,
            ErrorKind::ProtocolError
        );
    }
}

#[test]
fn v5_acknowledgements_accept_all_three_lengths_and_encode_the_shortest() {
    for bytes in [
        &[0x40, 0x02, 0x00, 0x07][..],
        &[0x40, 0x03, 0x00, 0x07, 0x00],
        &[0x40, 0x04, 0x00, 0x07, 0x00, 0x00],
    ] {
        let p = dec(bytes, V5).unwrap();
        assert_eq!(enc(&p, V5), [0x40, 0x02, 0x00, 0x07]);
    }
}

#[test]
fn mqtt_3_1_connack_has_no_session_present() {
    assert!(dec(&[0x20, 0x02, 0x01, 0x00], V31).is_err());
    let ack = ConnAck {
        session_present: true,
        ..Default::default()
    };
    assert_eq!(enc(&Packet::ConnAck(ack), V31), [0x20, 0x02, 0x00, 0x00]);
}

/// A v5 PUBLISH QoS 0 on topic "t" with the given property bytes.
fn publish_v5_with_props(props: &[u8]) -> Vec<u8> {
    let mut body = vec![0x00, 0x01, b't', props.len() as u8];
    body.extend_from_slice(props);
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn mqtt_1_5_7_1_both_halves_of_a_user_property_are_utf8_strings() {
    let bad_name = [0x26, 0x00, 0x01, 0xFF, 0x00, 0x01, b'v'];
    let bad_value = [0x26, 0x00, 0x01, b'n', 0x00, 0x01, 0xC0];
    let nul_value = [0x26, 0x00, 0x01, b'n', 0x00, 0x01, 0x00];
    for props in [&bad_name[..], &bad_value, &nul_value] {
        let err = dec(&publish_v5_with_props(props), V5).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed, "{props:?}");
    }
    let good = [0x26, 0x00, 0x01, b'n', 0x00, 0x01, b'v'];
    assert!(dec(&publish_v5_with_props(&good), V5).is_ok());
}

#[test]
fn mqtt_3_1_2_16_and_18_no_user_name_or_password_field_without_its_flag() {
    // Flags say neither is present: bytes where they would be are trailing data.
    let err = dec(&connect_v5(0x02, &[], &[0, 1, b'u']), V5).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Malformed);
    // User name flagged, password not: a password after the user name is trailing data.
    let err = dec(&connect_v5(0x82, &[], &[0, 1, b'u', 0, 1, b'p']), V5).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Malformed);
    let Packet::Connect(c) = dec(&connect_v5(0x82, &[], &[0, 1, b'u']), V5).unwrap() else {
        panic!()
    };
    assert!(c.username.is_some() && c.password.is_none());
}

#[test]
fn mqtt_3_1_3_3_and_4_client_id_comes_first_and_is_utf8() {
    // No payload at all: the client id is missing.
    let no_id = [0x10, 0x0b, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 60, 0];
    assert_eq!(dec(&no_id, V5).unwrap_err().kind, ErrorKind::Malformed);
    let mut bad = connect_v5(0x02, &[], &[]);
    let n = bad.len();
    bad[n - 1] = 0xFF; // the client id "c" becomes an invalid UTF-8 byte
    assert_eq!(rule(&bad, V5), Some("MQTT-1.5.4-1"));
}

#[test]
fn mqtt_3_1_3_11_and_12_will_topic_and_user_name_are_utf8() {
    // Will flag: Will Properties (empty), Will Topic (invalid UTF-8), Will Payload.
    let will = connect_v5(0x06, &[], &[0, 0, 1, 0xFF, 0, 0]);
    assert_eq!(dec(&will, V5).unwrap_err().kind, ErrorKind::Malformed);
    let user = connect_v5(0x82, &[], &[0, 2, 0xED, 0xA0]);
    assert_eq!(dec(&user, V5).unwrap_err().kind, ErrorKind::Malformed);
}

#[test]
fn mqtt_3_3_2_1_topic_name_is_the_first_field_and_utf8() {
    let Packet::Publish(p) = dec(&[0x32, 0x06, 0, 1, b't', 0, 5, 0], V5).unwrap() else {
        panic!()
    };
    assert_eq!(p.topic.as_str(), "t");
    assert_eq!(p.qos_pid, QosPid::AtLeastOnce(PacketId::new(5).unwrap()));
    assert_eq!(
        enc(&Packet::Publish(p), V5)[2..5],
        [0, 1, b't'],
        "encoded first, too"
    );
    let err = dec(&[0x30, 0x04, 0, 1, 0xFE, 0], V5).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Malformed);
}

#[test]
fn mqtt_3_3_2_13_and_19_response_topic_and_content_type_are_utf8() {
    let response_topic = [0x08, 0x00, 0x01, 0xFF];
    let content_type = [0x03, 0x00, 0x02, 0xC0, 0xAF];
    for props in [&response_topic[..], &content_type] {
        let err = dec(&publish_v5_with_props(props), V5).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed, "{props:?}");
    }
}

#[test]
fn mqtt_3_5_2_1_pubrec_reason_code_from_its_table() {
    for ok in [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99] {
        assert!(dec(&[0x50, 0x03, 0x00, 0x01, ok], V5).is_ok(), "{ok:#x}");
    }
    for bad in [0x01, 0x92, 0x8E] {
        let err = dec(&[0x50, 0x03, 0x00, 0x01, bad], V5).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed, "{bad:#x}");
    }
}

#[test]
fn mqtt_3_6_2_1_pubrel_reason_code_from_its_table() {
    for ok in [0x00, 0x92] {
        assert!(dec(&[0x62, 0x03, 0x00, 0x01, ok], V5).is_ok());
    }
    for bad in [0x10, 0x80, 0x87] {
        let err = dec(&[0x62, 0x03, 0x00, 0x01, bad], V5).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed, "{bad:#x}");
    }
}

#[test]
fn mqtt_3_8_3_1_subscribe_filters_are_utf8() {
    let subscribe = [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0xFF, 0x00];
    assert_eq!(dec(&subscribe, V5).unwrap_err().kind, ErrorKind::Malformed);
    let fine = [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x00];
    assert!(dec(&fine, V5).is_ok());
}

#[test]
fn mqtt_3_10_3_1_unsubscribe_filters_are_utf8() {
    let bytes = [0xA2, 0x07, 0x00, 0x01, 0x00, 0x00, 0x02, 0xED, 0xA0];
    assert_eq!(dec(&bytes, V5).unwrap_err().kind, ErrorKind::Malformed);
}

#[test]
fn mqtt_4_7_0_1_wildcards_only_in_filters() {
    for topic in [&b"a/+"[..], b"#", b"+"] {
        let mut bytes = vec![0x30, 2 + topic.len() as u8 + 1, 0, topic.len() as u8];
        bytes.extend_from_slice(topic);
        bytes.push(0);
        let err = dec(&bytes, V5).unwrap_err();
        assert_eq!(err.reason, ReasonCode::TopicNameInvalid, "{topic:?}");
    }
    assert!(TopicName::new("a/+").is_err());
    assert!(TopicFilter::new("a/+").is_ok());
}

#[test]
fn mqtt_4_7_3_2_no_nul_in_topic_names_or_filters() {
    assert_eq!(
        rule(&[0x30, 0x05, 0x00, 0x02, b'a', 0x00, 0x00], V5),
        Some("MQTT-1.5.4-2")
    );
    let subscribe = [0x82, 0x08, 0x00, 0x01, 0x00, 0x00, 0x02, b'a', 0x00, 0x00];
    assert_eq!(rule(&subscribe, V5), Some("MQTT-1.5.4-2"));
    assert!(TopicName::new("a\0").is_err() && TopicFilter::new("a\0").is_err());
}

#[test]
fn mqtt_4_7_3_3_topics_encode_to_at_most_65535_bytes() {
    let max = "a".repeat(65_535);
    assert!(TopicName::new(&max).is_ok() && TopicFilter::new(&max).is_ok());
    let over = "a".repeat(65_536);
    assert!(TopicName::new(&over).is_err());
    assert!(TopicFilter::new(&over).is_err());
}
