//! The shard driven byte for byte by simulated clients, with time passed in: MQTT behaviour
//! without sockets. Tests are named after the normative statement or FlashMQ test they mirror.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr_codec::*;
use brokkr_core::limits::Limits;
use brokkr_core::shard::{ConnIo, RETAINED_NODES_PER_SLICE, Shard};
use brokkr_testkit::build::{self, encode};
use bytes::Bytes;

use ProtocolVersion::{V3_1 as V31, V3_1_1 as V311, V5};

mod common;
use common::*;

#[test]
fn mqtt_3_1_0_1_first_packet_must_be_connect() {
    let mut w = World::new();
    let mut c = w.open(V311);
    w.send(&c, Packet::PingReq);
    assert!(w.recv(&mut c).is_empty(), "nothing is sent before CONNECT");
    assert_eq!(w.closed(), vec![c.id]);
}

#[test]
fn mqtt_3_1_0_2_second_connect_is_a_protocol_error() {
    let mut w = World::new();
    let mut c = w.connect(V5, "twice", true);
    w.send(&c, Packet::Connect(Box::new(build::connect(V5, "twice"))));
    let got = w.recv(&mut c);
    assert!(matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::ProtocolError));
    assert_eq!(w.closed(), vec![c.id]);
}

#[test]
fn mqtt_3_1_2_2_unsupported_level_answered_in_its_layout() {
    let mut w = World::new();
    let mut c = w.open(V311);
    let mut bytes = encode(&Packet::Connect(Box::new(build::connect(V311, "x"))), V311);
    bytes[8] = 9; // protocol level 9
    w.send_raw(&c, &bytes);
    c.v = V5;
    let got = w.recv(&mut c);
    assert_eq!(connack(&got).reason, ReasonCode::UnsupportedProtocolVersion);
    let mut c3 = w.open(V311);
    bytes[8] = 2;
    w.send_raw(&c3, &bytes);
    let raw = w.shard.write_buffer(c3.id).to_vec();
    assert_eq!(raw, [0x20, 0x02, 0x00, 0x01], "3.x CONNACK return code 1");
    let _ = w.recv(&mut c3);
}

#[test]
fn mqtt_3_1_3_client_id_rules_per_version() {
    let mut w = World::new();
    // 3.1: an empty client id is refused (identifier rejected).
    let mut c = w.open(V31);
    w.send(&c, Packet::Connect(Box::new(build::connect(V31, ""))));
    assert_eq!(
        connack(&w.recv(&mut c)).reason,
        ReasonCode::ClientIdentifierNotValid
    );
    // 3.1.1: empty with clean session is accepted; without it, refused (MQTT-3.1.3-8).
    let mut c = w.open(V311);
    w.send(&c, Packet::Connect(Box::new(build::connect(V311, ""))));
    assert_eq!(connack(&w.recv(&mut c)).reason, ReasonCode::Success);
    let mut c = w.open(V311);
    let mut persistent = build::connect(V311, "");
    persistent.clean_start = false;
    w.send(&c, Packet::Connect(Box::new(persistent)));
    assert_eq!(
        connack(&w.recv(&mut c)).reason,
        ReasonCode::ClientIdentifierNotValid
    );
    // 5.0: an Assigned Client Identifier of 23 characters (MQTT-3.2.2-16).
    let mut c = w.open(V5);
    w.send(&c, Packet::Connect(Box::new(build::connect(V5, ""))));
    let got = w.recv(&mut c);
    let assigned = connack(&got)
        .properties
        .assigned_client_identifier
        .clone()
        .unwrap();
    assert_eq!(assigned.len(), 23);
}

#[test]
fn qos0_pub_sub_across_versions() {
    let mut w = World::new();
    let mut sub3 = w.connect(V311, "sub3", true);
    let mut sub5 = w.connect(V5, "sub5", true);
    let publisher = w.connect(V5, "pub", true);
    subscribe(&mut w, &mut sub3, "a/+", QoS::AtMostOnce);
    subscribe(&mut w, &mut sub5, "a/#", QoS::AtMostOnce);
    publish(&mut w, &publisher, "a/b", b"hello", QoS::AtMostOnce, false);
    for c in [&mut sub3, &mut sub5] {
        let got = w.recv(c);
        let p = publishes(&got);
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].topic.as_str(), &p[0].payload[..]),
            ("a/b", &b"hello"[..])
        );
    }
}

#[test]
// Regression guard for the shard's route cache: a topic routed once is remembered, and every
// subscription change after that must still be seen by the next PUBLISH.
fn subscription_changes_after_a_topic_was_routed_apply_to_the_next_publish() {
    let mut w = World::new();
    let mut first = w.connect(V311, "first", true);
    let mut second = w.connect(V311, "second", true);
    let publisher = w.connect(V311, "pub", true);
    subscribe(&mut w, &mut first, "a/b", QoS::AtMostOnce);
    let count = |w: &mut World, c: &mut Client| publishes(&w.recv(c)).len();
    for _ in 0..2 {
        publish(&mut w, &publisher, "a/b", b"1", QoS::AtMostOnce, false);
    }
    assert_eq!(
        (count(&mut w, &mut first), count(&mut w, &mut second)),
        (2, 0)
    );
    subscribe(&mut w, &mut second, "a/+", QoS::AtMostOnce);
    publish(&mut w, &publisher, "a/b", b"2", QoS::AtMostOnce, false);
    assert_eq!(
        (count(&mut w, &mut first), count(&mut w, &mut second)),
        (1, 1)
    );
    w.send(&first, Packet::Unsubscribe(build::unsubscribe(2, &["a/b"])));
    assert!(matches!(&w.recv(&mut first)[..], [Packet::UnsubAck(_)]));
    publish(&mut w, &publisher, "a/b", b"3", QoS::AtMostOnce, false);
    assert_eq!(
        (count(&mut w, &mut first), count(&mut w, &mut second)),
        (0, 1)
    );
    // A changed subscription (QoS 0 to 1) is a change too.
    subscribe(&mut w, &mut second, "a/+", QoS::AtLeastOnce);
    publish(&mut w, &publisher, "a/b", b"4", QoS::AtLeastOnce, false);
    let got = w.recv(&mut second);
    assert_eq!(publishes(&got)[0].qos_pid.qos(), QoS::AtLeastOnce);
}

#[test]
// FlashMQ: testDowngradeQoSOnSubscribeQos2to2, testDowngradeQoSOnSubscribeQos2to1, testDowngradeQoSOnSubscribeQos2to0, testDowngradeQoSOnSubscribeQos1to1, testDowngradeQoSOnSubscribeQos1to0, testDowngradeQoSOnSubscribeQos0to0
fn mqtt_3_8_4_8_delivery_qos_is_the_minimum_and_acks_flow() {
    let mut w = World::new();
    let mut sub = w.connect(V311, "sub", true);
    let mut publisher = w.connect(V311, "pub", true);
    subscribe(&mut w, &mut sub, "t", QoS::AtLeastOnce);
    publish(&mut w, &publisher, "t", b"x", QoS::ExactlyOnce, false);
    let got = w.recv(&mut publisher);
    assert!(matches!(&got[..], [Packet::PubRec(r)] if r.packet_id.get() == 77));
    w.send(&publisher, Packet::PubRel(PubRel::new(build::pid(77))));
    assert!(matches!(&w.recv(&mut publisher)[..], [Packet::PubComp(_)]));
    let got = w.recv(&mut sub);
    let p = publishes(&got);
    assert_eq!(p[0].qos_pid.qos(), QoS::AtLeastOnce, "min(2, granted 1)");
    w.send(
        &sub,
        Packet::PubAck(PubAck::new(p[0].qos_pid.packet_id().unwrap())),
    );
    assert!(w.closed().is_empty());
}

#[test]
fn mqtt_4_3_3_10_inbound_qos2_duplicates_are_not_delivered_twice() {
    let mut w = World::new();
    let mut sub = w.connect(V5, "sub", true);
    let mut publisher = w.connect(V5, "pub", true);
    subscribe(&mut w, &mut sub, "t", QoS::ExactlyOnce);
    publish(&mut w, &publisher, "t", b"once", QoS::ExactlyOnce, false);
    publish(&mut w, &publisher, "t", b"once", QoS::ExactlyOnce, false);
    let acks = w.recv(&mut publisher);
    assert_eq!(
        acks.iter()
            .filter(|p| matches!(p, Packet::PubRec(_)))
            .count(),
        2
    );
    assert_eq!(publishes(&w.recv(&mut sub)).len(), 1);
}

#[test]
fn mqtt_3_3_1_retained_set_delivered_and_deleted() {
    let mut w = World::new();
    let publisher = w.connect(V311, "pub", true);
    publish(&mut w, &publisher, "r/1", b"kept", QoS::AtMostOnce, true);
    publish(&mut w, &publisher, "r/2", b"gone", QoS::AtMostOnce, true);
    publish(&mut w, &publisher, "r/2", b"", QoS::AtMostOnce, true);
    assert_eq!(w.shard.retained_count(), 1);
    let mut sub = w.connect(V311, "sub", true);
    w.send(
        &sub,
        Packet::Subscribe(build::subscribe(1, &["r/#"], QoS::AtMostOnce)),
    );
    let got = w.recv(&mut sub);
    let p = publishes(&got);
    assert_eq!(p.len(), 1);
    assert!(
        p[0].retain,
        "MQTT-3.3.1-8 (3.1.1): retained on subscribe carries RETAIN"
    );
    assert_eq!(&p[0].payload[..], b"kept");
    // A live publish to an existing subscription has RETAIN cleared (MQTT-3.3.1-9 in 3.1.1).
    publish(&mut w, &publisher, "r/1", b"new", QoS::AtMostOnce, true);
    assert!(!publishes(&w.recv(&mut sub))[0].retain);
}

#[test]
fn mqtt_3_1_2_8_will_on_abnormal_close_not_on_disconnect() {
    let mut w = World::new();
    let mut sub = w.connect(V311, "sub", true);
    subscribe(&mut w, &mut sub, "wills/#", QoS::AtMostOnce);
    for (id, normal) in [("normal", true), ("crash", false)] {
        let mut c = w.open(V311);
        let mut connect = build::connect(V311, id);
        connect.will = Some(build::will(
            build::topic(&format!("wills/{id}")),
            Bytes::from_static(b"offline"),
            QoS::AtMostOnce,
            false,
        ));
        w.send(&c, Packet::Connect(Box::new(connect)));
        let _ = w.recv(&mut c);
        if normal {
            w.send(&c, Packet::Disconnect(Disconnect::default()));
        } else {
            w.shard.connection_lost(w.now, c.id);
        }
    }
    let got = w.recv(&mut sub);
    let p = publishes(&got);
    assert_eq!(p.len(), 1, "{got:?}");
    assert_eq!(p[0].topic.as_str(), "wills/crash");
}

#[test]
// FlashMQ: testDontRemoveSessionGivenToNewClientWithSameId
fn mqtt_3_1_4_3_session_takeover_disconnects_the_old_client_with_0x8e() {
    let mut w = World::new();
    let mut first = w.connect(V5, "same", true);
    let _second = w.connect(V5, "same", true);
    let got = w.recv(&mut first);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::SessionTakenOver)
    );
    assert_eq!(w.closed(), vec![first.id]);
    assert_eq!(w.shard.session_count(), 1);
}

#[test]
fn persistent_session_queues_qos1_and_resumes_with_session_present() {
    let mut w = World::new();
    let mut sub = w.connect(V311, "keeper", false);
    subscribe(&mut w, &mut sub, "q", QoS::AtLeastOnce);
    w.shard.connection_lost(w.now, sub.id);
    let publisher = w.connect(V311, "pub", true);
    publish(
        &mut w,
        &publisher,
        "q",
        b"while away",
        QoS::AtLeastOnce,
        false,
    );
    publish(
        &mut w,
        &publisher,
        "q",
        b"qos0 dropped",
        QoS::AtMostOnce,
        false,
    );
    let mut back = w.open(V311);
    let mut connect = build::connect(V311, "keeper");
    connect.clean_start = false;
    w.send(&back, Packet::Connect(Box::new(connect)));
    let got = w.recv(&mut back);
    assert!(connack(&got).session_present, "MQTT-3.2.2-2");
    let p = publishes(&got);
    assert_eq!(p.len(), 1);
    assert_eq!(&p[0].payload[..], b"while away");
}

#[test]
fn mqtt_4_4_0_1_unacknowledged_messages_are_resent_with_dup() {
    let mut w = World::new();
    let mut sub = w.connect(V5, "resend", false);
    subscribe(&mut w, &mut sub, "q", QoS::AtLeastOnce);
    let publisher = w.connect(V5, "pub", true);
    publish(&mut w, &publisher, "q", b"m", QoS::AtLeastOnce, false);
    let first = w.recv(&mut sub);
    let pid = publishes(&first)[0].qos_pid.packet_id();
    w.shard.connection_lost(w.now, sub.id);
    let mut back = w.open(V5);
    let mut connect = build::connect(V5, "resend");
    connect.clean_start = false;
    connect.properties.session_expiry_interval_secs = Some(3600);
    w.send(&back, Packet::Connect(Box::new(connect)));
    let got = w.recv(&mut back);
    let p = publishes(&got);
    assert_eq!(p.len(), 1);
    assert!(p[0].dup);
    assert_eq!(p[0].qos_pid.packet_id(), pid);
}

#[test]
fn mqtt_3_1_2_22_keep_alive_timeout_closes_after_one_and_a_half_periods() {
    let mut w = World::new();
    let mut c = w.open(V5);
    let mut connect = build::connect(V5, "sleepy");
    connect.keep_alive_secs = 10;
    w.send(&c, Packet::Connect(Box::new(connect)));
    let _ = w.recv(&mut c);
    assert_eq!(w.shard.next_deadline_ms(), Some(w.now + 15_000));
    w.now += 14_999;
    w.shard.tick(w.now);
    assert!(w.closed().is_empty());
    w.now += 1;
    w.shard.tick(w.now);
    assert_eq!(w.closed(), vec![c.id]);
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::KeepAliveTimeout)
    );
}

#[test]
fn mqtt_3_2_2_22_server_keep_alive_is_sent_and_enforced_only_when_the_broker_caps_it() {
    let limits = Limits {
        keep_alive_secs_max: 30,
        ..Limits::default()
    };
    let mut w = World {
        shard: Shard::new(limits, 1),
        now: 1_000,
    };
    for (asked, granted) in [(20u16, None), (300, Some(30u16)), (0, Some(30))] {
        let mut c = w.open(V5);
        let mut connect = build::connect(V5, &format!("ka-{asked}"));
        connect.keep_alive_secs = asked;
        w.send(&c, Packet::Connect(Box::new(connect)));
        let got = w.recv(&mut c);
        assert_eq!(
            connack(&got).properties.server_keep_alive_secs,
            granted,
            "asked {asked}"
        );
        let enforced_ms = u64::from(granted.unwrap_or(asked)) * 1500;
        assert_eq!(w.shard.next_deadline_ms(), Some(w.now + enforced_ms));
        w.shard.connection_lost(w.now, c.id);
    }
}

#[test]
fn buffers_shrink_back_when_the_connection_idles() {
    let mut w = World::new();
    let mut sub = w.connect(V311, "burst-sub", true);
    subscribe(&mut w, &mut sub, "big", QoS::AtMostOnce);
    let publisher = w.connect(V311, "burst-pub", true);
    let big = vec![1u8; 200_000];
    // The packet arrives in pieces, so the read buffer has to hold it whole for a while.
    let bytes = build::encode(
        &Packet::Publish(build::publish("big", &big, QoS::AtMostOnce, false)),
        V311,
    );
    for (i, piece) in bytes.chunks(30_000).enumerate() {
        w.send_raw(&publisher, piece);
        if i == 0 {
            // A partial packet is the connection's own.
            assert!(w.shard.buffer_capacity_bytes(publisher.id) >= 30_000);
        }
    }
    // A connection that carries traffic keeps its (empty) buffers for reuse, but not their
    // burst-sized allocations: client_initial_buffer_size (1024 by default) for each of the
    // two buffers, and the box they live in.
    let kept = std::mem::size_of::<ConnIo>() + 2 * Limits::default().idle_buffer_bytes_max;
    assert!(w.shard.buffer_capacity_bytes(publisher.id) <= kept);
    let out = w.shard.take_write(sub.id);
    assert!(out.len() > 200_000);
    w.shard.written(sub.id, out.len());
    drop(out);
    assert!(w.shard.buffer_capacity_bytes(sub.id) <= kept);
    // Once each pings, nothing is left.
    for c in [&publisher, &sub] {
        w.send(c, Packet::PingReq);
        let out = w.shard.take_write(c.id);
        w.shard.written(c.id, out.len());
        assert_eq!(w.shard.buffer_capacity_bytes(c.id), 0);
    }
}

#[test]
fn an_idle_connection_holds_no_buffer_after_a_ping() {
    let mut w = World::new();
    let c = w.connect(V311, "pinger", true);
    w.send(&c, Packet::PingReq);
    let out = w.shard.take_write(c.id);
    assert_eq!(&out[..], [0xD0, 0]);
    w.shard.written(c.id, out.len());
    assert_eq!(w.shard.buffer_capacity_bytes(c.id), 0);
    // Written in two parts: the buffer is let go only when nothing is left in transit.
    w.send(&c, Packet::PingReq);
    let out = w.shard.take_write(c.id);
    w.shard.written(c.id, 1);
    w.send(&c, Packet::PingReq);
    assert!(w.shard.buffer_capacity_bytes(c.id) > 0);
    w.shard.written(c.id, 1);
    drop(out);
    let rest = w.shard.take_write(c.id);
    w.shard.written(c.id, rest.len());
    assert_eq!(w.shard.buffer_capacity_bytes(c.id), 0);
}

#[test]
fn connect_timeout_closes_silent_connections() {
    let mut w = World::new();
    let c = w.open(V311);
    w.now += 10_000;
    w.shard.tick(w.now);
    assert_eq!(w.closed(), vec![c.id]);
}

#[test]
// FlashMQ: testNoLocalPublishToItself
fn mqtt_3_8_3_3_no_local() {
    let mut w = World::new();
    let mut c = w.connect(V5, "me", true);
    let mut sub = build::subscribe(1, &["echo"], QoS::AtMostOnce);
    sub.filters[0].1.no_local = true;
    w.send(&c, Packet::Subscribe(sub));
    let _ = w.recv(&mut c);
    publish(&mut w, &c, "echo", b"x", QoS::AtMostOnce, false);
    assert!(publishes(&w.recv(&mut c)).is_empty());
}

#[test]
fn unsubscribe_reports_what_existed() {
    let mut w = World::new();
    let mut c = w.connect(V5, "u", true);
    subscribe(&mut w, &mut c, "a", QoS::AtMostOnce);
    w.send(
        &c,
        Packet::Unsubscribe(build::unsubscribe(2, &["a", "never"])),
    );
    let got = w.recv(&mut c);
    assert!(matches!(&got[..], [Packet::UnsubAck(u)]
        if u.reasons == [ReasonCode::Success, ReasonCode::NoSubscriptionExisted]));
}

#[test]
// FlashMQ: testIncomingTopicAlias
fn inbound_topic_alias_routes_by_the_aliased_topic() {
    let mut w = World::new();
    let mut sub = w.connect(V311, "sub", true);
    subscribe(&mut w, &mut sub, "long/topic", QoS::AtMostOnce);
    let c = w.connect(V5, "aliaser", true);
    let mut p = build::publish("long/topic", b"1", QoS::AtMostOnce, false);
    p.properties = build::publish_props(PublishPropertiesBuilder {
        topic_alias: std::num::NonZeroU16::new(1),
        ..Default::default()
    });
    w.send(&c, Packet::Publish(p.clone()));
    p.topic = TopicName::default();
    p.payload = Bytes::from_static(b"2");
    w.send(&c, Packet::Publish(p));
    let got = w.recv(&mut sub);
    let topics: Vec<_> = publishes(&got)
        .iter()
        .map(|p| p.topic.as_str().to_string())
        .collect();
    assert_eq!(topics, ["long/topic", "long/topic"]);
}

#[test]
fn payload_format_invalid_disconnects_with_0x99() {
    let mut w = World::new();
    let mut c = w.connect(V5, "pfi", true);
    let mut p = build::publish("t", &[0xFF, 0xFE], QoS::AtMostOnce, false);
    p.properties = build::publish_props(PublishPropertiesBuilder {
        payload_format_indicator: Some(PayloadFormat::Utf8),
        ..Default::default()
    });
    w.send(&c, Packet::Publish(p));
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::PayloadFormatInvalid)
    );
}

#[test]
fn dollar_topics_from_clients_are_not_routed_and_wildcards_skip_them() {
    let mut w = World::new();
    let mut sub = w.connect(V311, "sub", true);
    subscribe(&mut w, &mut sub, "#", QoS::AtMostOnce);
    subscribe(&mut w, &mut sub, "$SYS/#", QoS::AtMostOnce);
    let c = w.connect(V311, "pub", true);
    publish(&mut w, &c, "$SYS/fake", b"x", QoS::AtMostOnce, false);
    assert!(publishes(&w.recv(&mut sub)).is_empty());
}

#[test]
// FlashMQ: testSharedSubscribers
fn shared_subscription_delivers_to_one_member() {
    let mut w = World::new();
    let mut a = w.connect(V5, "a", true);
    let mut b = w.connect(V5, "b", true);
    subscribe(&mut w, &mut a, "$share/g/jobs/+", QoS::AtMostOnce);
    subscribe(&mut w, &mut b, "$share/g/jobs/+", QoS::AtMostOnce);
    let c = w.connect(V5, "pub", true);
    for i in 0..10u8 {
        publish(&mut w, &c, "jobs/x", &[i], QoS::AtMostOnce, false);
    }
    let na = publishes(&w.recv(&mut a)).len();
    let nb = publishes(&w.recv(&mut b)).len();
    assert_eq!(na + nb, 10, "each message to exactly one member");
}

#[test]
fn generated_client_ids_route_like_any_other() {
    let mut w = World::new();
    let mut sub = w.connect(V311, "", true);
    subscribe(&mut w, &mut sub, "a/#", QoS::AtLeastOnce);
    let mut publisher = w.connect(V5, "", true);
    publish(&mut w, &publisher, "a/b", b"hello", QoS::AtLeastOnce, false);
    w.send(&publisher, Packet::Disconnect(Disconnect::default()));
    let _ = w.recv(&mut publisher);
    let got = w.recv(&mut sub);
    assert_eq!(publishes(&got).len(), 1, "{got:?}");
}

#[test]
fn regression_dirty_list_names_every_connection_written_to() {
    // The server only flushes connections in the dirty list: a delivery that is written but not
    // listed never leaves the broker.
    let mut w = World::new();
    let mut sub = w.connect(V311, "sub", true);
    subscribe(&mut w, &mut sub, "t", QoS::AtLeastOnce);
    let publisher = w.connect(V311, "pub", true);
    let _ = w.shard.take_dirty();
    publish(&mut w, &publisher, "t", b"x", QoS::AtLeastOnce, false);
    let dirty = w.shard.take_dirty();
    assert!(dirty.contains(&sub.id), "subscriber not flushed: {dirty:?}");
    assert!(
        dirty.contains(&publisher.id),
        "PUBACK not flushed: {dirty:?}"
    );
    assert!(w.shard.take_dirty().is_empty());
}

#[test]
fn mqtt_4_12_0_1_and_4_authentication_method_is_refused_with_0x8c_until_auth_plugins_exist() {
    let mut w = World::new();
    let mut c = w.open(V5);
    let mut connect = build::connect(V5, "enhanced");
    connect.properties.authentication_method = Some(build::string("SCRAM-SHA-1"));
    w.send(&c, Packet::Connect(Box::new(connect)));
    assert_eq!(
        connack(&w.recv(&mut c)).reason,
        ReasonCode::BadAuthenticationMethod
    );
    assert_eq!(w.closed(), vec![c.id]);
}

fn delayed_will_client(w: &mut World, id: &str, delay_secs: u32, expiry_secs: u32) -> Client {
    let mut c = w.open(V5);
    let mut connect = build::connect(V5, id);
    connect.clean_start = false;
    connect.properties.session_expiry_interval_secs = Some(expiry_secs);
    let mut will = build::will(
        build::topic("wills/delayed"),
        Bytes::from_static(b"late"),
        QoS::AtMostOnce,
        false,
    );
    will.properties.will_delay_interval_secs = Some(delay_secs);
    connect.will = Some(will);
    w.send(&c, Packet::Connect(Box::new(connect)));
    let _ = w.recv(&mut c);
    c
}

#[test]
// FlashMQ: testMqtt5DelayedWill, testMqtt5DelayedWillAlwaysOnSessionEnd
fn will_delay_fires_at_the_earlier_of_delay_and_session_end() {
    let mut w = World::new();
    let mut sub = w.connect(V5, "watcher", true);
    subscribe(&mut w, &mut sub, "wills/#", QoS::AtMostOnce);
    // Delay 5 s, session 60 s: fires after 5 s.
    let c = delayed_will_client(&mut w, "delayed", 5, 60);
    w.shard.connection_lost(w.now, c.id);
    assert!(
        publishes(&w.recv(&mut sub)).is_empty(),
        "not before the delay"
    );
    assert_eq!(w.shard.next_deadline_ms(), Some(w.now + 5_000));
    w.now += 5_000;
    w.shard.tick(w.now);
    assert_eq!(publishes(&w.recv(&mut sub)).len(), 1);
    // Delay 30 s, session 2 s: fires when the session ends.
    let c = delayed_will_client(&mut w, "short-session", 30, 2);
    w.shard.connection_lost(w.now, c.id);
    w.now += 2_000;
    w.shard.tick(w.now);
    assert_eq!(publishes(&w.recv(&mut sub)).len(), 1);
    assert_eq!(
        w.shard.session_count(),
        2,
        "watcher and \"delayed\" (60 s) remain; the 2 s session ended"
    );
}

#[test]
fn mqtt_3_1_3_9_reconnecting_before_the_delay_cancels_the_will() {
    let mut w = World::new();
    let mut sub = w.connect(V5, "watcher", true);
    subscribe(&mut w, &mut sub, "wills/#", QoS::AtMostOnce);
    let c = delayed_will_client(&mut w, "flaky", 10, 60);
    w.shard.connection_lost(w.now, c.id);
    w.now += 3_000;
    let _back = delayed_will_client(&mut w, "flaky", 10, 60);
    w.now += 20_000;
    w.shard.tick(w.now);
    assert!(publishes(&w.recv(&mut sub)).is_empty());
}

#[test]
fn shutdown_sends_0x8b_to_v5_clients_and_publishes_wills() {
    let mut w = World::new();
    let mut watcher = w.connect(V311, "watcher", true);
    subscribe(&mut w, &mut watcher, "wills/#", QoS::AtMostOnce);
    let mut v5 = delayed_will_client(&mut w, "v5-client", 30, 600);
    w.shard.shutdown(w.now);
    let got = w.recv(&mut v5);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::ServerShuttingDown)
    );
    let wills = w.recv(&mut watcher);
    assert_eq!(
        publishes(&wills).len(),
        1,
        "the delayed will fires at shutdown"
    );
    assert_eq!(w.closed().len(), 2);
}

#[test]
fn a_subscriber_that_stops_reading_costs_at_most_its_cap_then_is_disconnected() {
    let limits = Limits {
        write_buffer_bytes_max: 10_000,
        ..Limits::default()
    };
    let mut w = World {
        shard: Shard::new(limits, 1),
        now: 1_000,
    };
    let mut sleeper = w.connect(V311, "sleeper", true);
    subscribe(&mut w, &mut sleeper, "flood", QoS::AtMostOnce);
    let _ = w.shard.take_write(sleeper.id); // handed to a socket that never drains
    let publisher = w.connect(V311, "pub", true);
    for _ in 0..1_000 {
        publish(
            &mut w,
            &publisher,
            "flood",
            &[b'x'; 100],
            QoS::AtMostOnce,
            false,
        );
    }
    let buffered = w.shard.write_buffer(sleeper.id).len();
    assert!(
        buffered <= 10_000,
        "buffered {buffered} bytes over a 10,000-byte cap"
    );
    w.shard.tick(w.now);
    assert!(
        w.closed().iter().all(|c| *c != sleeper.id),
        "not before the grace time"
    );
    w.now += Limits::default().stuck_reader_ms;
    w.shard.tick(w.now);
    assert!(
        w.closed().contains(&sleeper.id),
        "stuck reader disconnected"
    );
    // A reader that drains is never disconnected.
    let _ = w.recv(&mut sleeper);
}

#[test]
fn retained_sets_are_delivered_in_bounded_slices_and_completely() {
    let mut w = World::new();
    let publisher = w.connect(V311, "pub", true);
    for i in 0..5_000 {
        publish(
            &mut w,
            &publisher,
            &format!("r/{}/{}", i % 50, i),
            b"v",
            QoS::AtMostOnce,
            true,
        );
    }
    assert_eq!(w.shard.retained_count(), 5_000);
    let mut sub = w.open(V311);
    w.send(
        &sub,
        Packet::Connect(Box::new(build::connect(V311, "late"))),
    );
    w.send(
        &sub,
        Packet::Subscribe(build::subscribe(1, &["r/#"], QoS::AtMostOnce)),
    );
    // Only the first slice went out with the SUBACK.
    let first = w.shard.write_buffer(sub.id).len();
    assert!(w.shard.has_background_work());
    assert!(
        first < 5_000 * 10,
        "the whole set went out at once ({first} bytes)"
    );
    // The rest in slices, each bounded, until every message arrived exactly once.
    let mut slices = 0;
    let mut got = 0;
    loop {
        let out = w.shard.write_buffer(sub.id).to_vec();
        w.shard.consumed(sub.id, out.len());
        sub.inbox.extend_from_slice(&out);
        while let Some(raw) = framer::next_packet(&mut sub.inbox, usize::MAX).unwrap() {
            if let Packet::Publish(p) = Packet::decode(raw, V311).unwrap() {
                assert!(p.retain);
                got += 1;
            }
        }
        if !w.shard.run_background(w.now, RETAINED_NODES_PER_SLICE)
            && w.shard.write_buffer(sub.id).is_empty()
        {
            break;
        }
        slices += 1;
        assert!(slices < 1_000, "does not finish");
    }
    assert_eq!(got, 5_000);
    assert!(
        slices >= 4,
        "{slices} slices for 5,000 messages and 5,050 nodes"
    );
}

#[test]
// FlashMQ: testSessionTakeoverOtherUsername
fn flashmq_takeover_by_another_user_is_refused() {
    let mut w = World::new();
    let mut first = w.open(V311);
    let mut c = build::connect(V311, "device-1");
    c.username = Some(build::string("alice"));
    w.send(&first, Packet::Connect(Box::new(c.clone())));
    let _ = w.recv(&mut first);
    let mut intruder = w.open(V311);
    c.username = Some(build::string("mallory"));
    w.send(&intruder, Packet::Connect(Box::new(c)));
    assert_eq!(
        connack(&w.recv(&mut intruder)).reason,
        ReasonCode::NotAuthorized
    );
    assert!(
        w.recv(&mut first).is_empty(),
        "the first client keeps its session"
    );
}

#[test]
fn hostile_2000_clients_dying_at_once_deliver_2000_wills() {
    let mut w = World::new();
    let mut watcher = w.connect(V5, "watcher", true);
    subscribe(&mut w, &mut watcher, "wills/#", QoS::AtMostOnce);
    let mut doomed = Vec::new();
    for i in 0..2_000 {
        let mut c = w.open(if i % 2 == 0 { V311 } else { V5 });
        let mut connect = build::connect(c.v, &format!("d{i}"));
        connect.will = Some(build::will(
            build::topic(&format!("wills/d{i}")),
            Bytes::from_static(b"x"),
            QoS::AtMostOnce,
            false,
        ));
        w.send(&c, Packet::Connect(Box::new(connect)));
        let _ = w.recv(&mut c);
        doomed.push(c);
    }
    for c in &doomed {
        w.shard.connection_lost(w.now, c.id);
    }
    let got = w.recv(&mut watcher);
    assert_eq!(publishes(&got).len(), 2_000);
    assert_eq!(w.shard.connection_count(), 1);
    assert_eq!(w.shard.session_count(), 1);
}

#[test]
fn hostile_takeover_storm_leaves_exactly_one_live_session() {
    let mut w = World::new();
    let mut clients = Vec::new();
    for _ in 0..500 {
        let mut c = w.open(V5);
        w.send(
            &c,
            Packet::Connect(Box::new(build::connect(V5, "contested"))),
        );
        let _ = w.recv(&mut c);
        clients.push(c);
    }
    let closed = w.closed();
    assert_eq!(closed.len(), 499, "every earlier connection was taken over");
    for id in &closed {
        w.shard.connection_lost(w.now, *id);
    }
    assert_eq!(w.shard.session_count(), 1);
    assert_eq!(w.shard.connection_count(), 1);
    // The survivor is the last one, and it works.
    let last = clients.last_mut().unwrap();
    w.send(last, Packet::PingReq);
    assert!(matches!(&w.recv(last)[..], [Packet::PingResp]));
}
