//! Server obligations of MQTT 5.0 chapters 3.8-3.11 (SUBSCRIBE, UNSUBSCRIBE and their
//! acknowledgements), 3.14 (DISCONNECT), 4.1 (session state), 4.7-4.8 (topics, shared
//! subscriptions) and 4.13 (errors), one test per normative statement, named after it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::*;

use brokkr_codec::*;
use brokkr_testkit::build;

use ProtocolVersion::V5;

fn suback(w: &mut World, c: &mut Client, sub: Subscribe) -> SubAck {
    w.send(c, Packet::Subscribe(sub));
    let got = w.recv(c);
    match got.first() {
        Some(Packet::SubAck(a)) => a.clone(),
        _ => panic!("{got:?}"),
    }
}

fn unsuback(w: &mut World, c: &mut Client, id: u16, filters: &[&str]) -> UnsubAck {
    w.send(c, Packet::Unsubscribe(build::unsubscribe(id, filters)));
    let got = w.recv(c);
    match &got[..] {
        [Packet::UnsubAck(a)] => a.clone(),
        _ => panic!("{got:?}"),
    }
}

#[test]
fn mqtt_2_2_1_6_suback_and_unsuback_echo_the_identifier() {
    let mut w = World::new();
    let mut c = w.connect(V5, "c", true);
    for id in [1, 300, 65_535] {
        let a = suback(
            &mut w,
            &mut c,
            build::subscribe(id, &["t"], QoS::AtMostOnce),
        );
        assert_eq!(a.packet_id.get(), id);
        assert_eq!(unsuback(&mut w, &mut c, id, &["t"]).packet_id.get(), id);
    }
}

#[test]
fn mqtt_3_8_4_4_replacing_a_subscription_resends_retained_and_loses_nothing() {
    let mut w = World::new();
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "r", b"kept", QoS::AtLeastOnce, true);
    let mut s = w.connect(V5, "s", true);
    let first = suback(&mut w, &mut s, build::subscribe(1, &["r"], QoS::AtMostOnce));
    assert_eq!(first.reasons, [ReasonCode::Success]);
    let _ = w.recv(&mut s);
    let got = {
        w.send(
            &s,
            Packet::Subscribe(build::subscribe(2, &["r"], QoS::AtLeastOnce)),
        );
        publish(&mut w, &p, "r", b"live", QoS::AtLeastOnce, false);
        w.recv(&mut s)
    };
    let p = publishes(&got);
    let texts: Vec<_> = p.iter().map(|m| (&m.payload[..], m.retain)).collect();
    assert_eq!(texts, [(&b"kept"[..], true), (&b"live"[..], false)]);
    assert!(
        p.iter().all(|m| m.qos_pid.qos() == QoS::AtLeastOnce),
        "the new options"
    );
}

#[test]
fn mqtt_3_8_4_5_and_7_multi_filter_subscribe_is_a_series_with_one_suback() {
    let mut w = World::new();
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "a", b"ra", QoS::AtMostOnce, true);
    publish(&mut w, &p, "b", b"rb", QoS::AtMostOnce, true);
    let mut s = w.connect(V5, "s", true);
    let deep = vec!["x"; 200].join("/");
    let mut sub = build::subscribe(7, &["a", &deep, "b"], QoS::ExactlyOnce);
    sub.filters[2].1.qos = QoS::AtLeastOnce;
    w.send(&s, Packet::Subscribe(sub));
    let got = w.recv(&mut s);
    let acks: Vec<_> = got
        .iter()
        .filter(|p| matches!(p, Packet::SubAck(_)))
        .collect();
    assert_eq!(acks.len(), 1, "one SUBACK: {got:?}");
    let Packet::SubAck(a) = acks[0] else { panic!() };
    // MQTT-3.8.4-7: granted QoS or a failure code (the 200-level filter is over the depth cap).
    assert_eq!(
        a.reasons,
        [
            ReasonCode::GrantedQos2,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::GrantedQos1
        ]
    );
    assert_eq!(
        publishes(&got).len(),
        2,
        "each accepted filter behaves as alone"
    );
}

#[test]
fn mqtt_3_9_3_1_and_2_suback_codes_in_filter_order_from_the_table() {
    let mut w = World::new();
    let mut c = w.connect(V5, "c", true);
    let filters = ["q2", "q0", "$share/g/q1", "q1"];
    let mut sub = build::subscribe(3, &filters, QoS::ExactlyOnce);
    sub.filters[1].1.qos = QoS::AtMostOnce;
    sub.filters[2].1.qos = QoS::AtLeastOnce;
    sub.filters[3].1.qos = QoS::AtLeastOnce;
    let a = suback(&mut w, &mut c, sub);
    assert_eq!(
        a.reasons,
        [
            ReasonCode::GrantedQos2,
            ReasonCode::Success,
            ReasonCode::GrantedQos1,
            ReasonCode::GrantedQos1
        ]
    );
    let table = [
        0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
    ];
    assert!(a.reasons.iter().all(|r| table.contains(&(*r as u8))));
}

#[test]
// FlashMQ: testUnSubscribe
fn mqtt_3_10_4_1_filters_are_compared_literally() {
    let mut w = World::new();
    let mut c = w.connect(V5, "c", true);
    for f in ["a/+", "a/#", "a/b"] {
        subscribe(&mut w, &mut c, f, QoS::AtMostOnce);
    }
    // "a/+" does not remove "a/b" (no wildcard matching), only the identical filter.
    let a = unsuback(&mut w, &mut c, 2, &["a/+", "+/b", "a/B"]);
    assert_eq!(
        a.reasons,
        [
            ReasonCode::Success,
            ReasonCode::NoSubscriptionExisted,
            ReasonCode::NoSubscriptionExisted
        ]
    );
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "a/b", b"x", QoS::AtMostOnce, false);
    assert_eq!(publishes(&w.recv(&mut c)).len(), 2, "a/# and a/b remain");
}

#[test]
fn mqtt_3_10_4_2_and_3_unsubscribe_stops_new_messages_and_finishes_started_ones() {
    let mut w = World::new();
    let (mut s, _) = persistent(&mut w, V5, "s");
    subscribe(&mut w, &mut s, "t", QoS::ExactlyOnce);
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "t", b"started", QoS::AtLeastOnce, false);
    let got = w.recv(&mut s);
    let id = publishes(&got)[0].qos_pid;
    let _ = unsuback(&mut w, &mut s, 5, &["t"]);
    publish(&mut w, &p, "t", b"after", QoS::AtLeastOnce, false);
    assert!(publishes(&w.recv(&mut s)).is_empty(), "MQTT-3.10.4-2");
    // MQTT-3.10.4-3: the started delivery is still owed and resent.
    w.shard.connection_lost(w.now, s.id);
    let (_, got) = resume(&mut w, V5, "s");
    let again = publishes(&got);
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].qos_pid, &again[0].payload[..]),
        (id, &b"started"[..])
    );
}

#[test]
// FlashMQ: testUnsubscribeNonExistingWildcard
fn mqtt_3_10_4_4_and_5_and_6_one_unsuback_per_unsubscribe_even_when_nothing_was_removed() {
    let mut w = World::new();
    let mut c = w.connect(V5, "c", true);
    subscribe(&mut w, &mut c, "a", QoS::AtMostOnce);
    let a = unsuback(&mut w, &mut c, 44, &["never"]);
    assert_eq!(
        (a.packet_id.get(), &a.reasons[..]),
        (44, &[ReasonCode::NoSubscriptionExisted][..])
    );
    let a = unsuback(&mut w, &mut c, 45, &["a", "b", "a"]);
    assert_eq!(a.packet_id.get(), 45);
    assert_eq!(
        a.reasons,
        [
            ReasonCode::Success,
            ReasonCode::NoSubscriptionExisted,
            ReasonCode::NoSubscriptionExisted
        ],
        "handled in order, as a series"
    );
}

#[test]
fn mqtt_3_11_3_1_and_2_unsuback_codes_in_filter_order_from_the_table() {
    let mut w = World::new();
    let mut c = w.connect(V5, "c", true);
    subscribe(&mut w, &mut c, "y", QoS::AtMostOnce);
    subscribe(&mut w, &mut c, "$share/g/z", QoS::AtMostOnce);
    let a = unsuback(&mut w, &mut c, 2, &["x", "y", "$share/g/z"]);
    assert_eq!(
        a.reasons,
        [
            ReasonCode::NoSubscriptionExisted,
            ReasonCode::Success,
            ReasonCode::Success
        ]
    );
    let table = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
    assert!(a.reasons.iter().all(|r| table.contains(&(*r as u8))));
}

#[test]
fn mqtt_3_14_0_1_no_disconnect_before_a_successful_connack() {
    let mut w = World::new();
    // Not a CONNECT first, a malformed CONNECT, a silent connection: never a DISCONNECT.
    let mut a = w.open(V5);
    w.send(&a, Packet::PingReq);
    assert!(w.recv(&mut a).is_empty());
    let mut b = w.open(V5);
    let mut bytes =
        brokkr_testkit::build::encode(&Packet::Connect(Box::new(build::connect(V5, "b"))), V5);
    bytes[9] |= 1;
    w.send_raw(&b, &bytes);
    let got = w.recv(&mut b);
    assert!(matches!(&got[..], [Packet::ConnAck(_)]), "{got:?}");
    let mut c = w.open(V5);
    w.now += 60_000;
    w.shard.tick(w.now);
    assert!(w.recv(&mut c).is_empty());
    let closed = w.closed();
    assert!([a.id, b.id, c.id].iter().all(|id| closed.contains(id)));
}

#[test]
fn mqtt_3_14_2_2_server_disconnect_has_no_session_expiry_interval() {
    let mut w = World::new();
    let mut taken = w.connect(V5, "t", false);
    let _ = w.connect(V5, "t", false);
    let mut bad = w.connect(V5, "bad", false);
    w.send_raw(&bad, &[0xC0, 0x01, 0x00]);
    let mut idle = w.open(V5);
    let mut connect = build::connect(V5, "idle");
    connect.keep_alive_secs = 1;
    connect.properties.session_expiry_interval_secs = Some(60);
    w.send(&idle, Packet::Connect(Box::new(connect)));
    let _ = w.recv(&mut idle);
    w.now += 2_000;
    w.shard.tick(w.now);
    for c in [&mut taken, &mut bad, &mut idle] {
        let got = w.recv(c);
        let Some(Packet::Disconnect(d)) = got.last() else {
            panic!("{got:?}")
        };
        assert_eq!(d.properties.session_expiry_interval_secs, None, "{d:?}");
    }
}

#[test]
fn mqtt_3_14_4_1_and_2_nothing_after_disconnect_and_its_sender_closes() {
    let mut w = World::new();
    let mut old = w.connect(V5, "c", true);
    subscribe(&mut w, &mut old, "t", QoS::AtMostOnce);
    let _new = w.connect(V5, "c", false);
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "t", b"x", QoS::AtMostOnce, false);
    let got = w.recv(&mut old);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::SessionTakenOver),
        "DISCONNECT is the last packet: {got:?}"
    );
    assert!(
        w.is_closed(&old),
        "MQTT-3.14.4-2: the server closes after its DISCONNECT"
    );
    // A protocol error then more packets in the same read: only the DISCONNECT goes out.
    let mut c = w.connect(V5, "e", true);
    let mut bytes = vec![0xC0, 0x01, 0x00];
    bytes.extend([0xC0, 0x00]);
    w.send_raw(&c, &bytes);
    let got = w.recv(&mut c);
    assert!(matches!(&got[..], [Packet::Disconnect(_)]), "{got:?}");
    // The client sends DISCONNECT: the server closes too.
    let d = w.connect(V5, "d", true);
    w.send(&d, Packet::Disconnect(Disconnect::default()));
    assert!(w.is_closed(&d));
}

#[test]
fn mqtt_4_1_0_1_and_2_session_kept_while_connected_discarded_after_expiry() {
    let mut w = World::new();
    let mut live = w.connect(V5, "live", true); // Session Expiry 0: ends with the connection
    subscribe(&mut w, &mut live, "t", QoS::AtMostOnce);
    for _ in 0..10 {
        w.now += 50_000;
        w.send(&live, Packet::PingReq);
        w.shard.tick(w.now);
    }
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "t", b"x", QoS::AtMostOnce, false);
    assert_eq!(publishes(&w.recv(&mut live)).len(), 1, "MQTT-4.1.0-1");
    let (gone, _) = persistent(&mut w, V5, "gone"); // 300 s
    w.shard.connection_lost(w.now, gone.id);
    w.now += 300_000;
    w.shard.tick(w.now);
    let (_, present) = persistent(&mut w, V5, "gone");
    assert!(!present, "MQTT-4.1.0-2");
}

#[test]
fn mqtt_4_7_3_4_topics_match_as_is_without_normalization() {
    let mut w = World::new();
    let mut s = w.connect(V5, "s", true);
    subscribe(&mut w, &mut s, "caf\u{e9}", QoS::AtMostOnce); // precomposed é
    subscribe(&mut w, &mut s, "A/+", QoS::AtMostOnce);
    let p = w.connect(V5, "p", true);
    publish(
        &mut w,
        &p,
        "cafe\u{301}",
        b"decomposed",
        QoS::AtMostOnce,
        false,
    );
    publish(&mut w, &p, "a/x", b"lower case", QoS::AtMostOnce, false);
    publish(
        &mut w,
        &p,
        "A/x ",
        b"trailing space",
        QoS::AtMostOnce,
        false,
    );
    publish(&mut w, &p, "caf\u{e9}", b"exact", QoS::AtMostOnce, false);
    let got = w.recv(&mut s);
    let topics: Vec<_> = publishes(&got).iter().map(|p| p.topic.as_str()).collect();
    assert_eq!(topics, ["A/x ", "caf\u{e9}"]);
}

#[test]
fn mqtt_4_8_2_3_shared_delivery_honours_the_members_granted_qos() {
    let mut w = World::new();
    let mut m = w.connect(V5, "m", true);
    subscribe(&mut w, &mut m, "$share/g/t", QoS::AtLeastOnce);
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "t", b"x", QoS::ExactlyOnce, false);
    publish(&mut w, &p, "t", b"y", QoS::AtMostOnce, false);
    let got = w.recv(&mut m);
    let q: Vec<_> = publishes(&got).iter().map(|p| p.qos_pid.qos()).collect();
    assert_eq!(q, [QoS::AtLeastOnce, QoS::AtMostOnce]);
}

/// Two persistent members of `$share/g/t` at QoS 2; a QoS 2 message went to exactly one,
/// which is returned first (still connected, message not acknowledged).
fn shared_pair(w: &mut World) -> ((Client, &'static str, Publish), (Client, &'static str)) {
    let (mut a, _) = persistent(w, V5, "a");
    subscribe(w, &mut a, "$share/g/t", QoS::ExactlyOnce);
    let (mut b, _) = persistent(w, V5, "b");
    subscribe(w, &mut b, "$share/g/t", QoS::ExactlyOnce);
    let p = w.connect(V5, "p", true);
    publish(w, &p, "t", b"job", QoS::ExactlyOnce, false);
    let got_a = w.recv(&mut a);
    let got_b = w.recv(&mut b);
    match (publishes(&got_a).first(), publishes(&got_b).first()) {
        (Some(m), None) => ((a, "a", (*m).clone()), (b, "b")),
        (None, Some(m)) => ((b, "b", (*m).clone()), (a, "a")),
        other => panic!("exactly one member: {other:?}"),
    }
}

#[test]
fn mqtt_4_8_2_4_an_interrupted_shared_qos_2_delivery_finishes_with_the_same_member() {
    let mut w = World::new();
    let ((chosen, name, m), (mut other, _)) = shared_pair(&mut w);
    w.shard.connection_lost(w.now, chosen.id);
    assert!(publishes(&w.recv(&mut other)).is_empty());
    let (_, got) = resume(&mut w, V5, name);
    let again = publishes(&got);
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].qos_pid, again[0].dup), (m.qos_pid, true));
}

#[test]
fn mqtt_4_8_2_5_a_member_whose_session_ends_takes_the_message_with_it() {
    let mut w = World::new();
    let ((chosen, _, _), (mut other, _)) = shared_pair(&mut w);
    w.send(
        &chosen,
        Packet::Disconnect({
            let mut d = Disconnect::default();
            d.properties.session_expiry_interval_secs = Some(0);
            d
        }),
    );
    w.now += 1_000;
    w.shard.tick(w.now);
    assert!(publishes(&w.recv(&mut other)).is_empty());
}

#[test]
fn mqtt_4_8_2_6_a_rejected_shared_message_is_not_offered_to_another_member() {
    let mut w = World::new();
    let ((mut chosen, _, m), (mut other, _)) = shared_pair(&mut w);
    let mut rec = PubRec::new(m.qos_pid.packet_id().unwrap());
    rec.reason = ReasonCode::UnspecifiedError;
    w.send(&chosen, Packet::PubRec(rec));
    assert!(w.recv(&mut chosen).is_empty(), "no PUBREL");
    assert!(publishes(&w.recv(&mut other)).is_empty());
}

#[test]
fn mqtt_4_13_1_1_malformed_packets_and_protocol_errors_close_the_connection() {
    let mut w = World::new();
    let cases: [(&[u8], ReasonCode); 3] = [
        (&[0x30, 0x03, 0x00, 0x05, b't'], ReasonCode::MalformedPacket), // topic runs past the end
        (&[0x62, 0x02, 0x00, 0x00], ReasonCode::MalformedPacket),       // packet id 0
        (&[0xF0, 0x00], ReasonCode::ProtocolError),                     // AUTH, no method
    ];
    for (i, (bytes, reason)) in cases.into_iter().enumerate() {
        let mut c = w.connect(V5, &format!("c{i}"), true);
        w.send_raw(&c, bytes);
        let got = w.recv(&mut c);
        assert!(
            matches!(&got[..], [Packet::Disconnect(d)] if d.reason == reason),
            "{bytes:?}: {got:?}"
        );
        assert!(w.is_closed(&c));
    }
}

#[test]
fn mqtt_4_13_2_1_a_reason_of_0x80_or_more_means_the_connection_is_closed() {
    let mut w = World::new();
    let mut connect = build::connect(V5, "x");
    connect.properties.authentication_method = Some(build::string("X"));
    let (refused, got) = w.connect_with(connect);
    assert!(connack(&got).reason.is_error());
    assert!(w.is_closed(&refused), "CONNACK >= 0x80");
    let c = w.connect(V5, "c", true);
    w.send(
        &c,
        Packet::Disconnect(Disconnect::new(ReasonCode::UnspecifiedError)),
    );
    assert!(w.is_closed(&c), "DISCONNECT >= 0x80 from the client");
    let mut d = w.connect(V5, "d", true);
    w.send_raw(&d, &[0xC0, 0x01, 0x00]);
    let got = w.recv(&mut d);
    assert!(matches!(&got[..], [Packet::Disconnect(x)] if x.reason.is_error()));
    assert!(w.is_closed(&d), "DISCONNECT >= 0x80 from the server");
}

// FlashMQ: testSharedSubscriberDoesntGetRetainedMessages
#[test]
fn flashmq_l_shared_subscribers_get_no_retained_messages() {
    let mut w = World::new();
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "t", b"kept", QoS::AtMostOnce, true);
    let mut m = w.connect(V5, "m", true);
    w.send(
        &m,
        Packet::Subscribe(build::subscribe(1, &["$share/g/t"], QoS::AtMostOnce)),
    );
    let got = w.recv(&mut m);
    assert!(matches!(&got[..], [Packet::SubAck(_)]), "{got:?}");
}

// FlashMQ: testUnsubscribedSharedSubscribers, testDisconnectedSharedSubscribers
#[test]
fn flashmq_l_gone_shared_members_are_skipped() {
    let mut w = World::new();
    let mut a = w.connect(V5, "a", true);
    let mut b = w.connect(V5, "b", true);
    let c = w.connect(V5, "c", true);
    for m in [&mut a, &mut b] {
        subscribe(&mut w, m, "$share/g/t", QoS::AtMostOnce);
    }
    let mut cc = c;
    subscribe(&mut w, &mut cc, "$share/g/t", QoS::AtMostOnce);
    let _ = unsuback(&mut w, &mut b, 2, &["$share/g/t"]);
    w.shard.connection_lost(w.now, cc.id);
    let p = w.connect(V5, "p", true);
    for i in 0..10u8 {
        publish(&mut w, &p, "t", &[i], QoS::AtMostOnce, false);
    }
    assert_eq!(
        publishes(&w.recv(&mut a)).len(),
        10,
        "the one member left gets all"
    );
    assert!(publishes(&w.recv(&mut b)).is_empty());
}

// FlashMQ: testPublishToItself
#[test]
fn flashmq_h_a_client_receives_its_own_publish() {
    let mut w = World::new();
    let mut c = w.connect(V5, "c", true);
    subscribe(&mut w, &mut c, "echo", QoS::AtMostOnce);
    publish(&mut w, &c, "echo", b"me", QoS::AtMostOnce, false);
    assert_eq!(&publishes(&w.recv(&mut c))[0].payload[..], b"me");
}

// FlashMQ: testRetainedParentOfWildcard
#[test]
fn flashmq_i_multi_level_wildcard_delivers_the_retained_parent() {
    let mut w = World::new();
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "a/b", b"parent", QoS::AtMostOnce, true);
    publish(&mut w, &p, "a/b/c", b"child", QoS::AtMostOnce, true);
    publish(&mut w, &p, "a", b"grandparent", QoS::AtMostOnce, true);
    let mut s = w.connect(V5, "s", true);
    w.send(
        &s,
        Packet::Subscribe(build::subscribe(1, &["a/b/#"], QoS::AtMostOnce)),
    );
    let got = w.recv(&mut s);
    let mut topics: Vec<_> = publishes(&got).iter().map(|p| p.topic.as_str()).collect();
    topics.sort_unstable();
    assert_eq!(topics, ["a/b", "a/b/c"]);
}

// FlashMQ: test_various_packet_sizes
#[test]
fn flashmq_d_large_payloads_cross_protocol_versions_intact() {
    for (from, to) in [
        (V5, V5),
        (V5, ProtocolVersion::V3_1_1),
        (ProtocolVersion::V3_1_1, V5),
        (ProtocolVersion::V3_1_1, ProtocolVersion::V3_1_1),
    ] {
        let mut w = World::new();
        let mut s = w.connect(to, "s", true);
        subscribe(&mut w, &mut s, "t", QoS::AtLeastOnce);
        let p = w.connect(from, "p", true);
        for len in [8 * 1024, 10 * 1024 * 1024] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            publish(&mut w, &p, "t", &payload, QoS::AtLeastOnce, false);
            let got = w.recv(&mut s);
            assert_eq!(
                publishes(&got)[0].payload[..],
                payload[..],
                "{from:?} -> {to:?}"
            );
            let id = publishes(&got)[0].qos_pid.packet_id().unwrap();
            w.send(&s, Packet::PubAck(PubAck::new(id)));
        }
    }
}
