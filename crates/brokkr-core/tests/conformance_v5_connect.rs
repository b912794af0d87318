//! Server obligations of MQTT 5.0 chapters 3.1 (CONNECT), 3.2 (CONNACK) and 4.12 (enhanced
//! authentication), one test per normative statement, named after it (see docs/conformance.md).
//! Byte-level clients against the shard with a simulated clock.

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
use bytes::Bytes;
use std::num::{NonZeroU16, NonZeroU32};

use ProtocolVersion::V5;

fn will_connect(id: &str, topic: &str, retain: bool) -> Connect {
    let mut connect = build::connect(V5, id);
    connect.will = Some(build::will(
        build::topic(topic),
        Bytes::from_static(b"gone"),
        QoS::AtLeastOnce,
        retain,
    ));
    connect
}

fn watcher(w: &mut World, filter: &str) -> Client {
    let mut c = w.connect(V5, "watcher", true);
    subscribe(w, &mut c, filter, QoS::AtLeastOnce);
    c
}

#[test]
fn mqtt_3_1_2_7_and_10_will_is_stored_published_once_then_dropped() {
    let mut w = World::new();
    let mut watch = watcher(&mut w, "w/#");
    let mut connect = will_connect("c", "w/c", false);
    connect.clean_start = false;
    connect.properties.session_expiry_interval_secs = Some(300);
    let (c, _) = w.connect_with(connect);
    assert!(
        publishes(&w.recv(&mut watch)).is_empty(),
        "not before close"
    );
    w.shard.connection_lost(w.now, c.id);
    let got = w.recv(&mut watch);
    let wills = publishes(&got);
    assert_eq!(wills.len(), 1, "MQTT-3.1.2-7: the stored will is published");
    assert_eq!(
        (wills[0].topic.as_str(), &wills[0].payload[..]),
        ("w/c", &b"gone"[..])
    );
    assert_eq!(wills[0].qos_pid.qos(), QoS::AtLeastOnce);
    // The session resumes without a will: the one already published is gone.
    let (again, present) = persistent(&mut w, V5, "c");
    assert!(present);
    w.shard.connection_lost(w.now, again.id);
    assert!(
        publishes(&w.recv(&mut watch))
            .iter()
            .all(|p| p.topic.as_str() != "w/c"),
        "MQTT-3.1.2-10: published once, then dropped"
    );
}

#[test]
fn mqtt_3_1_2_14_and_15_will_retain_decides_whether_the_will_is_retained() {
    let mut w = World::new();
    let (plain, _) = w.connect_with(will_connect("plain", "w/plain", false));
    let (kept, _) = w.connect_with(will_connect("kept", "w/kept", true));
    w.shard.connection_lost(w.now, plain.id);
    w.shard.connection_lost(w.now, kept.id);
    assert_eq!(w.shard.retained_count(), 1);
    let mut late = w.connect(V5, "late", true);
    w.send(
        &late,
        Packet::Subscribe(build::subscribe(1, &["w/#"], QoS::AtLeastOnce)),
    );
    let got = w.recv(&mut late);
    let retained: Vec<_> = publishes(&got)
        .iter()
        .map(|p| (p.topic.as_str().to_string(), p.retain))
        .collect();
    assert_eq!(retained, [("w/kept".to_string(), true)]);
}

#[test]
// FlashMQ: testPickUpSessionWithSubscriptionsAfterDisconnect
fn mqtt_3_1_2_23_session_state_outlives_the_connection_while_expiry_runs() {
    let mut w = World::new();
    let (mut c, _) = persistent(&mut w, V5, "s");
    subscribe(&mut w, &mut c, "t", QoS::AtLeastOnce);
    w.shard.connection_lost(w.now, c.id);
    w.now += 299_000;
    w.shard.tick(w.now);
    assert_eq!(w.shard.session_count(), 1);
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "t", b"kept", QoS::AtLeastOnce, false);
    let (_, got) = resume(&mut w, V5, "s");
    assert!(connack(&got).session_present);
    assert_eq!(&publishes(&got)[0].payload[..], b"kept");
}

#[test]
fn mqtt_3_1_2_24_and_25_oversized_packets_are_not_sent_and_count_as_delivered() {
    let mut w = World::new();
    let mut connect = build::connect(V5, "small");
    connect.properties.maximum_packet_size = NonZeroU32::new(64);
    connect.properties.receive_maximum = NonZeroU16::new(1);
    let (mut small, _) = w.connect_with(connect);
    subscribe(&mut w, &mut small, "t", QoS::AtLeastOnce);
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "t", &[b'x'; 100], QoS::AtLeastOnce, false);
    publish(&mut w, &p, "t", b"fits", QoS::AtLeastOnce, false);
    w.shard.tick(w.now);
    let before = w.shard.write_buffer(small.id).len();
    assert!(before <= 64, "MQTT-3.1.2-24: nothing over the limit");
    let got = w.recv(&mut small);
    let sent = publishes(&got);
    // With a Receive Maximum of 1, the second message can only go out because the first one
    // was treated as delivered (MQTT-3.1.2-25).
    assert_eq!(sent.len(), 1, "{got:?}");
    assert_eq!(&sent[0].payload[..], b"fits");
}

#[test]
// FlashMQ: testOutgoingTopicAlias, testOutgoingTopicAliasBeyondMax
fn mqtt_3_1_2_26_and_27_outbound_aliases_within_the_client_maximum() {
    let mut w = World::new();
    let mut connect = build::connect(V5, "two");
    connect.properties.topic_alias_maximum = Some(2);
    let (mut two, _) = w.connect_with(connect);
    let mut none = w.connect(V5, "none", true);
    subscribe(&mut w, &mut two, "a/#", QoS::AtMostOnce);
    subscribe(&mut w, &mut none, "a/#", QoS::AtMostOnce);
    let p = w.connect(V5, "p", true);
    for t in ["a/1", "a/2", "a/3", "a/1", "a/3"] {
        publish(&mut w, &p, t, b"x", QoS::AtMostOnce, false);
    }
    let got = w.recv(&mut two);
    let aliases: Vec<u16> = publishes(&got)
        .iter()
        .filter_map(|p| p.properties.topic_alias().map(NonZeroU16::get))
        .collect();
    assert!(!aliases.is_empty(), "aliases are used: {got:?}");
    assert!(aliases.iter().all(|&a| (1..=2).contains(&a)), "{aliases:?}");
    let got = w.recv(&mut none);
    assert_eq!(publishes(&got).len(), 5);
    assert!(
        publishes(&got)
            .iter()
            .all(|p| p.properties.topic_alias().is_none() && !p.topic.is_empty()),
        "MQTT-3.1.2-27: no alias without a Topic Alias Maximum"
    );
}

#[test]
fn mqtt_3_1_2_28_no_response_information_unless_requested() {
    let mut w = World::new();
    for request in [None, Some(false), Some(true)] {
        let mut connect = build::connect(V5, "r");
        connect.properties.request_response_information = request;
        let (_, got) = w.connect_with(connect);
        // brokkr never offers Response Information, so it is absent even when requested.
        assert_eq!(connack(&got).properties.response_information, None);
    }
}

#[test]
fn mqtt_3_1_2_29_no_reason_string_or_user_properties_when_problem_information_is_off() {
    let mut w = World::new();
    let mut connect = build::connect(V5, "quiet");
    connect.properties.request_problem_information = Some(false);
    let (mut c, got) = w.connect_with(connect);
    assert_eq!(connack(&got).reason, ReasonCode::Success);
    let mut q1 = build::publish("t", b"x", QoS::AtLeastOnce, false);
    q1.qos_pid = QosPid::AtLeastOnce(build::pid(1));
    w.send(&c, Packet::Publish(q1));
    let mut q2 = build::publish("t", b"x", QoS::ExactlyOnce, false);
    q2.qos_pid = QosPid::ExactlyOnce(build::pid(2));
    w.send(&c, Packet::Publish(q2));
    w.send(&c, Packet::PubRel(PubRel::new(build::pid(2))));
    w.send(&c, Packet::PubRel(PubRel::new(build::pid(9)))); // unknown: PUBCOMP 0x92
    w.send(
        &c,
        Packet::Subscribe(build::subscribe(3, &["t"], QoS::AtMostOnce)),
    );
    w.send(&c, Packet::Unsubscribe(build::unsubscribe(4, &["none"])));
    let got = w.recv(&mut c);
    assert_eq!(got.len(), 6, "{got:?}");
    for p in &got {
        let props = match p {
            Packet::PubAck(a) => &a.properties,
            Packet::PubRec(a) => &a.properties,
            Packet::PubComp(a) => &a.properties,
            Packet::SubAck(a) => &a.properties,
            Packet::UnsubAck(a) => &a.properties,
            other => panic!("unexpected {other:?}"),
        };
        assert!(props.reason_string.is_none() && props.user_properties.is_empty());
    }
}

#[test]
fn mqtt_3_1_2_30_packets_after_an_authentication_method_connect_are_not_processed() {
    let mut w = World::new();
    let mut watch = watcher(&mut w, "t");
    let mut connect = build::connect(V5, "auth");
    connect.properties.authentication_method = Some(build::string("SCRAM-SHA-256"));
    let mut bytes = encode(&Packet::Connect(Box::new(connect)), V5);
    bytes.extend(encode(
        &Packet::Publish(build::publish("t", b"early", QoS::AtMostOnce, false)),
        V5,
    ));
    let mut c = w.open(V5);
    w.send_raw(&c, &bytes);
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::ConnAck(a)] if a.reason == ReasonCode::BadAuthenticationMethod),
        "{got:?}"
    );
    assert!(w.is_closed(&c));
    assert!(publishes(&w.recv(&mut watch)).is_empty());
}

#[test]
fn mqtt_3_1_3_2_the_client_id_keys_the_session() {
    let mut w = World::new();
    let (mut a, _) = persistent(&mut w, V5, "a");
    subscribe(&mut w, &mut a, "for/a", QoS::AtLeastOnce);
    w.shard.connection_lost(w.now, a.id);
    let (b, present) = persistent(&mut w, V5, "b");
    assert!(!present, "another id finds no session");
    w.shard.connection_lost(w.now, b.id);
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "for/a", b"x", QoS::AtLeastOnce, false);
    let (_, got) = resume(&mut w, V5, "b");
    assert!(publishes(&got).is_empty());
    let (_, got) = resume(&mut w, V5, "a");
    assert!(connack(&got).session_present);
    assert_eq!(publishes(&got).len(), 1);
}

#[test]
fn mqtt_3_1_3_5_client_ids_of_1_to_23_alphanumerics_are_accepted() {
    let mut w = World::new();
    for id in [
        "a",
        "Z",
        "0",
        "0123456789abcdefghijklm",
        "ABCDEFGHIJKLMNOPQRSTUVW",
    ] {
        let (_, got) = w.connect_with(build::connect(V5, id));
        assert_eq!(connack(&got).reason, ReasonCode::Success, "{id}");
    }
}

#[test]
fn mqtt_3_1_3_6_and_7_empty_client_id_gets_an_assigned_one_that_keys_the_session() {
    let mut w = World::new();
    let mut connect = build::connect(V5, "");
    connect.clean_start = false;
    connect.properties.session_expiry_interval_secs = Some(300);
    let (mut c, got) = w.connect_with(connect);
    let ack = connack(&got);
    assert_eq!(ack.reason, ReasonCode::Success);
    let assigned = ack.properties.assigned_client_identifier.clone().unwrap();
    assert!(!assigned.as_str().is_empty());
    subscribe(&mut w, &mut c, "t", QoS::AtLeastOnce);
    w.shard.connection_lost(w.now, c.id);
    // MQTT-3.1.3-7: the session is the one the assigned id would have named.
    let (_, present) = persistent(&mut w, V5, assigned.as_str());
    assert!(present);
}

#[test]
fn mqtt_3_1_3_8_refused_client_id_gets_0x85_and_close() {
    let mut w = World::with_limits(Limits {
        string_bytes_max: 32,
        ..Limits::default()
    });
    let long = "x".repeat(33);
    let (c, got) = w.connect_with(build::connect(V5, &long));
    assert!(matches!(&got[..], [Packet::ConnAck(a)]
        if a.reason == ReasonCode::ClientIdentifierNotValid && !a.session_present));
    assert!(w.is_closed(&c));
}

#[test]
fn mqtt_3_1_3_10_will_user_properties_keep_their_order() {
    let mut w = World::new();
    let mut watch = watcher(&mut w, "w/#");
    let mut connect = will_connect("c", "w/c", false);
    let order = vec![
        (build::string("z"), build::string("1")),
        (build::string("a"), build::string("2")),
        (build::string("z"), build::string("3")),
    ];
    connect.will.as_mut().unwrap().properties.user_properties = order.clone();
    let (c, _) = w.connect_with(connect);
    w.shard.connection_lost(w.now, c.id);
    let got = w.recv(&mut watch);
    let got: Vec<(&str, &str)> = publishes(&got)[0].properties.user_properties().collect();
    let order: Vec<(&str, &str)> = order
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(got, order);
}

#[test]
fn mqtt_3_1_4_1_a_connect_that_does_not_fit_section_3_1_closes_the_connection() {
    let mut w = World::new();
    let mut bytes = encode(&Packet::Connect(Box::new(build::connect(V5, "x"))), V5);
    bytes[9] |= 0x01; // the reserved flag
    let mut c = w.open(V5);
    w.send_raw(&c, &bytes);
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::ConnAck(a)] if a.reason == ReasonCode::MalformedPacket),
        "{got:?}"
    );
    assert!(w.is_closed(&c));
    assert_eq!(w.shard.session_count(), 0);
}

#[test]
fn mqtt_3_1_4_2_a_failed_check_closes_the_connection() {
    let mut w = World::new();
    let mut owner = build::connect(V5, "id");
    owner.username = Some(build::string("alice"));
    let _ = w.connect_with(owner);
    let mut thief = build::connect(V5, "id");
    thief.username = Some(build::string("mallory"));
    let (c, got) = w.connect_with(thief);
    assert!(matches!(&got[..], [Packet::ConnAck(a)] if a.reason == ReasonCode::NotAuthorized));
    assert!(w.is_closed(&c));
}

#[test]
fn mqtt_3_1_4_4_clean_start_is_carried_out() {
    let mut w = World::new();
    let (mut c, _) = persistent(&mut w, V5, "s");
    subscribe(&mut w, &mut c, "t", QoS::AtLeastOnce);
    w.shard.connection_lost(w.now, c.id);
    let (_, present) = persistent(&mut w, V5, "s");
    assert!(present, "Clean Start 0 resumes");
    let (_, got) = w.connect_with(build::connect(V5, "s"));
    assert!(!connack(&got).session_present, "Clean Start 1 starts over");
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "t", b"x", QoS::AtLeastOnce, false);
    let (_, got) = resume(&mut w, V5, "s");
    assert!(!connack(&got).session_present && publishes(&got).is_empty());
}

#[test]
fn mqtt_3_1_4_5_accepted_connect_gets_connack_0x00() {
    let mut w = World::new();
    let (_, got) = w.connect_with(build::connect(V5, "ok"));
    assert!(matches!(&got[..], [Packet::ConnAck(a)] if a.reason == ReasonCode::Success));
}

#[test]
fn mqtt_3_1_4_6_nothing_after_a_refused_connect_is_processed() {
    let mut w = World::new();
    let mut watch = watcher(&mut w, "t");
    let mut bytes = encode(
        &Packet::Connect(Box::new(build::connect(V5, &"x".repeat(5000)))),
        V5,
    );
    bytes.extend(encode(
        &Packet::Publish(build::publish("t", b"sneaky", QoS::AtMostOnce, false)),
        V5,
    ));
    bytes.extend(encode(&Packet::PingReq, V5));
    let mut c = w.open(V5);
    w.send_raw(&c, &bytes);
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::ConnAck(a)] if a.reason.is_error()),
        "{got:?}"
    );
    assert!(publishes(&w.recv(&mut watch)).is_empty());
}

#[test]
fn mqtt_3_2_0_1_connack_is_the_first_packet_sent() {
    let mut w = World::new();
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "r", b"kept", QoS::AtMostOnce, true);
    // A queued message on a resumed session and a retained one on a subscription sent with
    // the CONNECT: CONNACK still goes first.
    let (mut s, _) = persistent(&mut w, V5, "s");
    subscribe(&mut w, &mut s, "q", QoS::AtLeastOnce);
    w.shard.connection_lost(w.now, s.id);
    publish(&mut w, &p, "q", b"queued", QoS::AtLeastOnce, false);
    let mut connect = build::connect(V5, "s");
    connect.clean_start = false;
    connect.properties.session_expiry_interval_secs = Some(300);
    let mut bytes = encode(&Packet::Connect(Box::new(connect)), V5);
    bytes.extend(encode(
        &Packet::Subscribe(build::subscribe(1, &["r"], QoS::AtMostOnce)),
        V5,
    ));
    let mut c = w.open(V5);
    w.send_raw(&c, &bytes);
    let got = w.recv(&mut c);
    assert!(matches!(got.first(), Some(Packet::ConnAck(_))), "{got:?}");
    assert_eq!(publishes(&got).len(), 2);
}

#[test]
fn mqtt_3_2_0_2_at_most_one_connack_per_connection() {
    let mut w = World::new();
    let mut c = w.connect(V5, "c", true);
    w.send(&c, Packet::Connect(Box::new(build::connect(V5, "c"))));
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::ProtocolError),
        "{got:?}"
    );
}

#[test]
fn mqtt_3_2_2_3_session_present_with_clean_start_0() {
    let mut w = World::new();
    let (c, present) = persistent(&mut w, V5, "s");
    assert!(!present, "no state existed");
    w.shard.connection_lost(w.now, c.id);
    let mut back = build::connect(V5, "s");
    back.clean_start = false;
    back.properties.session_expiry_interval_secs = Some(300);
    let (_, got) = w.connect_with(back);
    let ack = connack(&got);
    assert!(ack.session_present && ack.reason == ReasonCode::Success);
}

#[test]
fn mqtt_3_2_2_7_and_8_refusals_use_the_connack_table_then_close() {
    let mut w = World::with_limits(Limits {
        string_bytes_max: 8,
        ..Limits::default()
    });
    let mut auth = build::connect(V5, "a");
    auth.properties.authentication_method = Some(build::string("X"));
    let mut owner = build::connect(V5, "owned");
    owner.username = Some(build::string("u1"));
    let _ = w.connect_with(owner);
    let mut thief = build::connect(V5, "owned");
    thief.username = Some(build::string("u2"));
    let cases = [
        (auth, ReasonCode::BadAuthenticationMethod),
        (
            build::connect(V5, "much-too-long"),
            ReasonCode::ClientIdentifierNotValid,
        ),
        (thief, ReasonCode::NotAuthorized),
    ];
    // The CONNACK reason codes of MQTT 5 section 3.2.2.2.
    let table = [
        0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95,
        0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
    ];
    for (connect, reason) in cases {
        let (c, got) = w.connect_with(connect);
        let ack = connack(&got);
        assert_eq!(ack.reason, reason);
        assert!(table.contains(&(ack.reason as u8)));
        assert!(w.is_closed(&c), "MQTT-3.2.2-7: {reason:?} closes");
    }
    // A level this server does not speak: 0x84, from the table, then close.
    let mut bytes = encode(&Packet::Connect(Box::new(build::connect(V5, "x"))), V5);
    bytes[8] = 6;
    let mut c = w.open(V5);
    w.send_raw(&c, &bytes);
    let got = w.recv(&mut c);
    assert_eq!(connack(&got).reason, ReasonCode::UnsupportedProtocolVersion);
    assert!(w.is_closed(&c));
}

#[test]
fn mqtt_3_2_2_9_and_10_qos_2_is_supported_and_every_qos_may_be_subscribed() {
    let mut w = World::new();
    let (mut c, got) = w.connect_with(build::connect(V5, "c"));
    // No Maximum QoS property: the server supports QoS 2.
    assert_eq!(connack(&got).properties.maximum_qos, None);
    let mut sub = build::subscribe(5, &["a", "b", "c"], QoS::AtMostOnce);
    sub.filters[1].1.qos = QoS::AtLeastOnce;
    sub.filters[2].1.qos = QoS::ExactlyOnce;
    w.send(&c, Packet::Subscribe(sub));
    let got = w.recv(&mut c);
    assert!(matches!(&got[..], [Packet::SubAck(a)] if a.reasons
        == [ReasonCode::Success, ReasonCode::GrantedQos1, ReasonCode::GrantedQos2]));
}

#[test]
fn mqtt_3_2_2_15_packet_over_the_server_maximum_gets_0x95() {
    let mut w = World::with_limits(Limits {
        packet_bytes_max: 100,
        ..Limits::default()
    });
    let (mut c, got) = w.connect_with(build::connect(V5, "c"));
    assert_eq!(
        connack(&got).properties.maximum_packet_size,
        NonZeroU32::new(100)
    );
    publish(&mut w, &c, "t", &[0; 200], QoS::AtMostOnce, false);
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::PacketTooLarge),
        "{got:?}"
    );
    assert!(w.is_closed(&c));
}

#[test]
fn mqtt_3_2_2_17_alias_over_the_server_maximum_gets_0x94() {
    let mut w = World::with_limits(Limits {
        incoming_topic_aliases_max: 5,
        ..Limits::default()
    });
    let (mut c, got) = w.connect_with(build::connect(V5, "c"));
    assert_eq!(connack(&got).properties.topic_alias_maximum, Some(5));
    w.send(&c, aliased("t", 5));
    assert!(w.recv(&mut c).is_empty(), "5 is within the maximum");
    w.send(&c, aliased("t", 6));
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::TopicAliasInvalid),
        "{got:?}"
    );
    assert!(w.is_closed(&c));
}

#[test]
fn mqtt_3_2_2_18_no_aliases_allowed_when_the_server_maximum_is_0() {
    let mut w = World::with_limits(Limits {
        incoming_topic_aliases_max: 0,
        ..Limits::default()
    });
    let (mut c, got) = w.connect_with(build::connect(V5, "c"));
    assert_eq!(connack(&got).properties.topic_alias_maximum.unwrap_or(0), 0);
    w.send(&c, aliased("t", 1));
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::TopicAliasInvalid),
        "{got:?}"
    );
}

#[test]
fn mqtt_3_2_2_19_and_20_connack_carries_no_reason_string_or_user_properties() {
    let mut w = World::new();
    let mut tiny = build::connect(V5, "tiny");
    tiny.properties.maximum_packet_size = NonZeroU32::new(64);
    let mut refused = build::connect(V5, "refused");
    refused.properties.authentication_method = Some(build::string("X"));
    refused.properties.maximum_packet_size = NonZeroU32::new(16);
    for connect in [tiny, refused] {
        let mut c = w.open(V5);
        w.send(&c, Packet::Connect(Box::new(connect)));
        let raw = w.shard.write_buffer(c.id).len();
        let got = w.recv(&mut c);
        let ack = connack(&got);
        assert!(ack.properties.reason_string.is_none());
        assert!(ack.properties.user_properties.is_empty());
        assert!(raw <= 64, "{raw} bytes");
    }
}

#[test]
fn mqtt_3_2_2_22_the_clients_keep_alive_is_enforced_when_no_server_keep_alive_is_sent() {
    let mut w = World::new();
    let mut connect = build::connect(V5, "k");
    connect.keep_alive_secs = 10;
    let (mut c, got) = w.connect_with(connect);
    assert_eq!(connack(&got).properties.server_keep_alive_secs, None);
    w.now += 14_000;
    w.shard.tick(w.now);
    assert!(!w.is_closed(&c), "within 1.5 x 10 s");
    w.now += 1_000;
    w.shard.tick(w.now);
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::KeepAliveTimeout)
    );
    assert!(w.is_closed(&c));
}

#[test]
fn mqtt_4_12_0_6_no_auth_and_no_authentication_method_without_one_in_connect() {
    let mut w = World::new();
    let (mut c, got) = w.connect_with(build::connect(V5, "plain"));
    assert_eq!(got.len(), 1, "CONNACK only: {got:?}");
    let ack = connack(&got);
    assert!(ack.properties.authentication_method.is_none());
    assert!(ack.properties.authentication_data.is_none());
    w.send(&c, Packet::PingReq);
    assert!(matches!(&w.recv(&mut c)[..], [Packet::PingResp]));
}

#[test]
fn mqtt_4_12_0_7_auth_without_an_authentication_method_is_a_protocol_error() {
    let mut w = World::new();
    let mut c = w.connect(V5, "c", true);
    w.send_raw(&c, &[0xF0, 0x02, 0x18, 0x00]); // AUTH, Continue authentication
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::ProtocolError),
        "{got:?}"
    );
    assert!(w.is_closed(&c));
}
