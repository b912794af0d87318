//! Server obligations of MQTT 5.0, one test per normative statement, named after it (see
//! docs/conformance.md). Byte-level clients against the shard with a simulated clock.

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
use bytes::Bytes;

use ProtocolVersion::V5;

#[test]
fn mqtt_3_1_2_4_clean_start_discards_the_session() {
    let mut w = World::new();
    let (mut c, _) = persistent(&mut w, V5, "s");
    subscribe(&mut w, &mut c, "t", QoS::AtLeastOnce);
    w.shard.connection_lost(w.now, c.id);
    let mut fresh = w.connect(V5, "s", true);
    let publisher = w.connect(V5, "p", true);
    publish(&mut w, &publisher, "t", b"x", QoS::AtLeastOnce, false);
    assert!(
        publishes(&w.recv(&mut fresh)).is_empty(),
        "old subscription survived Clean Start"
    );
}

#[test]
fn mqtt_3_1_2_5_and_6_session_resumed_or_created() {
    let mut w = World::new();
    let (c, present) = persistent(&mut w, V5, "s");
    assert!(!present, "MQTT-3.1.2-6: no session existed");
    w.shard.connection_lost(w.now, c.id);
    let (_, present) = persistent(&mut w, V5, "s");
    assert!(present, "MQTT-3.1.2-5: the session is resumed");
}

#[test]
fn mqtt_3_2_2_2_clean_start_gets_session_present_0() {
    let mut w = World::new();
    let (c, _) = persistent(&mut w, V5, "s");
    w.shard.connection_lost(w.now, c.id);
    let mut again = w.open(V5);
    w.send(&again, Packet::Connect(Box::new(build::connect(V5, "s"))));
    let got = w.recv(&mut again);
    assert!(!connack(&got).session_present);
}

#[test]
fn mqtt_3_2_2_6_refusal_has_session_present_0() {
    let mut w = World::new();
    let (c, _) = persistent(&mut w, V5, "s");
    w.shard.connection_lost(w.now, c.id);
    let mut bad = w.open(V5);
    let mut connect = build::connect(V5, "s");
    connect.clean_start = false;
    connect.properties.authentication_method = Some(build::string("X"));
    w.send(&bad, Packet::Connect(Box::new(connect)));
    let got = w.recv(&mut bad);
    let ack = connack(&got);
    assert!(ack.reason.is_error() && !ack.session_present);
}

#[test]
fn mqtt_3_2_2_16_assigned_client_identifier_is_unique() {
    let mut w = World::new();
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..50 {
        let mut c = w.open(V5);
        w.send(&c, Packet::Connect(Box::new(build::connect(V5, ""))));
        let got = w.recv(&mut c);
        let id = connack(&got)
            .properties
            .assigned_client_identifier
            .clone()
            .unwrap();
        assert!(ids.insert(id.as_str().to_string()), "duplicate assigned id");
    }
}

#[test]
// FlashMQ: test_retained_double_set, test_retained_changed
fn mqtt_3_3_1_5_retain_stores_and_replaces() {
    let mut w = World::new();
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "r", b"one", QoS::AtMostOnce, true);
    publish(&mut w, &p, "r", b"two", QoS::AtMostOnce, true);
    let mut s = w.connect(V5, "s", true);
    w.send(
        &s,
        Packet::Subscribe(build::subscribe(1, &["r"], QoS::AtMostOnce)),
    );
    let got = w.recv(&mut s);
    let payloads: Vec<_> = publishes(&got).iter().map(|p| p.payload.clone()).collect();
    assert_eq!(payloads, [Bytes::from_static(b"two")]);
}

#[test]
// FlashMQ: test_retained_removed
fn mqtt_3_3_1_6_and_7_empty_retained_payload_deletes_and_is_not_stored() {
    let mut w = World::new();
    let p = w.connect(V5, "p", true);
    let mut live = w.connect(V5, "live", true);
    subscribe(&mut w, &mut live, "r", QoS::AtMostOnce);
    publish(&mut w, &p, "r", b"one", QoS::AtMostOnce, true);
    publish(&mut w, &p, "r", b"", QoS::AtMostOnce, true);
    assert_eq!(
        publishes(&w.recv(&mut live)).len(),
        2,
        "the empty one is forwarded as usual"
    );
    assert_eq!(w.shard.retained_count(), 0);
}

#[test]
fn mqtt_3_3_1_8_retain_0_does_not_touch_the_retained_message() {
    let mut w = World::new();
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "r", b"kept", QoS::AtMostOnce, true);
    publish(&mut w, &p, "r", b"not retained", QoS::AtMostOnce, false);
    let mut s = w.connect(V5, "s", true);
    w.send(
        &s,
        Packet::Subscribe(build::subscribe(1, &["r"], QoS::AtMostOnce)),
    );
    assert_eq!(&publishes(&w.recv(&mut s))[0].payload[..], b"kept");
}

fn subscribe_with(w: &mut World, c: &mut Client, filter: &str, options: SubscriptionOptions) {
    let mut sub = build::subscribe(1, &[filter], options.qos);
    sub.filters[0].1 = options;
    w.send(c, Packet::Subscribe(sub));
}

#[test]
// FlashMQ: testRetainHandlingDontGiveRetain, testRetainHandlingDontGiveRetainOnExistingSubscription
fn mqtt_3_3_1_9_and_10_and_11_retain_handling() {
    let mut w = World::new();
    let p = w.connect(V5, "p", true);
    publish(&mut w, &p, "r", b"kept", QoS::AtMostOnce, true);
    let mut s = w.connect(V5, "s", true);
    let mut o = SubscriptionOptions {
        retain_handling: RetainHandling::SendIfNew,
        ..Default::default()
    };
    subscribe_with(&mut w, &mut s, "r", o);
    assert_eq!(
        publishes(&w.recv(&mut s)).len(),
        1,
        "3.3.1-10: new subscription gets it"
    );
    subscribe_with(&mut w, &mut s, "r", o);
    assert_eq!(
        publishes(&w.recv(&mut s)).len(),
        0,
        "3.3.1-10: existing subscription does not"
    );
    o.retain_handling = RetainHandling::SendAtSubscribe;
    subscribe_with(&mut w, &mut s, "r", o);
    assert_eq!(publishes(&w.recv(&mut s)).len(), 1, "3.3.1-9: always");
    o.retain_handling = RetainHandling::DoNotSend;
    let mut t = w.connect(V5, "t", true);
    subscribe_with(&mut w, &mut t, "r", o);
    assert_eq!(publishes(&w.recv(&mut t)).len(), 0, "3.3.1-11: never");
}

#[test]
// FlashMQ: testRetainAsPublished, testRetainAsPublishedNegative
fn mqtt_3_3_1_12_and_13_retain_as_published() {
    let mut w = World::new();
    let p = w.connect(V5, "p", true);
    let mut plain = w.connect(V5, "plain", true);
    let mut rap = w.connect(V5, "rap", true);
    subscribe(&mut w, &mut plain, "r", QoS::AtMostOnce);
    subscribe_with(
        &mut w,
        &mut rap,
        "r",
        SubscriptionOptions {
            retain_as_published: true,
            ..Default::default()
        },
    );
    let _ = w.recv(&mut rap);
    publish(&mut w, &p, "r", b"x", QoS::AtMostOnce, true);
    assert!(!publishes(&w.recv(&mut plain))[0].retain, "3.3.1-12");
    assert!(publishes(&w.recv(&mut rap))[0].retain, "3.3.1-13");
}

#[test]
// FlashMQ: testUserProperties
fn mqtt_3_3_2_17_and_18_user_properties_forwarded_in_order() {
    let mut w = World::new();
    let p = w.connect(V5, "p", true);
    let mut s = w.connect(V5, "s", true);
    subscribe(&mut w, &mut s, "t", QoS::AtMostOnce);
    let mut msg = build::publish("t", b"x", QoS::AtMostOnce, false);
    let sent = PublishPropertiesBuilder {
        user_properties: vec![
            (build::string("b"), build::string("1")),
            (build::string("a"), build::string("2")),
        ],
        content_type: Some(build::string("text/plain")),
        correlation_data: Some(Bytes::from_static(b"c")),
        ..Default::default()
    };
    msg.properties = build::publish_props(sent.clone());
    w.send(&p, Packet::Publish(msg.clone()));
    let got = w.recv(&mut s);
    let fwd = publishes(&got)[0].properties.to_builder();
    assert_eq!(fwd.user_properties, sent.user_properties);
    assert_eq!(fwd.content_type, sent.content_type, "MQTT-3.3.2-20");
    assert_eq!(fwd.correlation_data, sent.correlation_data, "MQTT-3.3.2-16");
    // Nothing to change: the block is forwarded byte for byte.
    assert_eq!(publishes(&got)[0].properties, msg.properties);
}

#[test]
// FlashMQ: testMessageExpiry
fn mqtt_3_3_2_5_expired_messages_are_not_delivered() {
    let mut w = World::new();
    let (mut s, _) = persistent(&mut w, V5, "s");
    subscribe(&mut w, &mut s, "t", QoS::AtLeastOnce);
    w.shard.connection_lost(w.now, s.id);
    let p = w.connect(V5, "p", true);
    let mut msg = build::publish("t", b"x", QoS::AtLeastOnce, false);
    msg.properties = build::publish_props(PublishPropertiesBuilder {
        message_expiry_interval_secs: Some(5),
        ..Default::default()
    });
    w.send(&p, Packet::Publish(msg));
    w.now += 6_000;
    let (mut back, _) = persistent(&mut w, V5, "s");
    assert!(publishes(&w.recv(&mut back)).is_empty());
}

#[test]
// FlashMQ: testBasicsWithFlashMQTestClient
fn mqtt_3_8_4_1_and_2_and_6_suback_per_subscribe_with_its_id_and_one_code_per_filter() {
    let mut w = World::new();
    let mut c = w.connect(V5, "c", true);
    let mut sub = build::subscribe(4242, &["a", "b/+", "c/#"], QoS::ExactlyOnce);
    sub.filters[1].1.qos = QoS::AtMostOnce;
    w.send(&c, Packet::Subscribe(sub));
    let got = w.recv(&mut c);
    let [Packet::SubAck(ack)] = &got[..] else {
        panic!("{got:?}")
    };
    assert_eq!(ack.packet_id.get(), 4242);
    assert_eq!(
        ack.reasons,
        [
            ReasonCode::GrantedQos2,
            ReasonCode::Success,
            ReasonCode::GrantedQos2
        ]
    );
}

#[test]
fn mqtt_3_8_4_3_same_filter_replaces_the_subscription() {
    let mut w = World::new();
    let p = w.connect(V5, "p", true);
    let mut c = w.connect(V5, "c", true);
    subscribe(&mut w, &mut c, "t", QoS::AtMostOnce);
    subscribe(&mut w, &mut c, "t", QoS::AtLeastOnce);
    publish(&mut w, &p, "t", b"x", QoS::AtLeastOnce, false);
    let got = w.recv(&mut c);
    let p = publishes(&got);
    assert_eq!(p.len(), 1, "one subscription, not two");
    assert_eq!(p[0].qos_pid.qos(), QoS::AtLeastOnce);
}

#[test]
// FlashMQ: testSubscriptionIdOnlineClient, testSubscriptionIdOverlappingSubscriptions
fn mqtt_3_3_4_3_and_5_overlapping_subscriptions_deliver_one_copy_each_with_its_identifier() {
    let mut w = World::new();
    let p = w.connect(V5, "p", true);
    let mut c = w.connect(V5, "c", true);
    for (i, f) in [(1u32, "a/+"), (2, "a/#")] {
        let mut sub = build::subscribe(1, &[f], QoS::AtMostOnce);
        sub.properties.subscription_identifier = std::num::NonZeroU32::new(i);
        w.send(&c, Packet::Subscribe(sub));
    }
    let _ = w.recv(&mut c);
    publish(&mut w, &p, "a/b", b"x", QoS::AtMostOnce, false);
    let got = w.recv(&mut c);
    let mut ids: Vec<u32> = publishes(&got)
        .iter()
        .flat_map(|p| {
            p.properties
                .subscription_identifiers()
                .map(|i| i.get())
                .collect::<Vec<_>>()
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2]);
}

#[test]
fn mqtt_3_12_4_1_pingreq_is_answered() {
    let mut w = World::new();
    let mut c = w.connect(V5, "c", true);
    w.send(&c, Packet::PingReq);
    assert!(matches!(&w.recv(&mut c)[..], [Packet::PingResp]));
}

#[test]
// FlashMQ: testMqtt5NoWillOnDisconnect
fn mqtt_3_14_4_3_normal_disconnect_discards_the_will() {
    let mut w = World::new();
    let mut watcher = w.connect(V5, "watcher", true);
    subscribe(&mut w, &mut watcher, "w", QoS::AtMostOnce);
    let mut c = w.open(V5);
    let mut connect = build::connect(V5, "c");
    connect.will = Some(build::will(
        build::topic("w"),
        Bytes::from_static(b"x"),
        QoS::AtMostOnce,
        false,
    ));
    w.send(&c, Packet::Connect(Box::new(connect)));
    let _ = w.recv(&mut c);
    w.send(&c, Packet::Disconnect(Disconnect::default()));
    w.shard.connection_lost(w.now, c.id);
    assert!(publishes(&w.recv(&mut watcher)).is_empty());
}

#[test]
fn mqtt_4_7_2_1_leading_wildcards_do_not_match_dollar_topics() {
    let mut w = World::new();
    let mut c = w.connect(V5, "c", true);
    subscribe(&mut w, &mut c, "+/x", QoS::AtMostOnce);
    subscribe(&mut w, &mut c, "#", QoS::AtMostOnce);
    // The broker's own $-topics are routed (a will is published by the broker).
    let mut d = w.open(V5);
    let mut connect = build::connect(V5, "d");
    connect.will = Some(build::will(
        build::topic("$internal/x"),
        Bytes::from_static(b"x"),
        QoS::AtMostOnce,
        false,
    ));
    w.send(&d, Packet::Connect(Box::new(connect)));
    let _ = w.recv(&mut d);
    w.shard.connection_lost(w.now, d.id);
    assert!(publishes(&w.recv(&mut c)).is_empty());
}
