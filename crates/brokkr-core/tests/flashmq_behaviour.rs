//! Counterparts of FlashMQ's protocol tests that no MQTT statement names on its own: offline
//! queues (QoS downgrade, expiry, subscription identifiers, topic aliases on resume), session
//! takeover (subscriptions kept, wills sent), retained Message Expiry and subscription
//! identifiers in every delivery path. Each test says which FlashMQ test it mirrors; the packets
//! on the wire are asserted exactly (QoS, DUP, RETAIN, alias, identifiers, reason codes).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use brokkr_codec::*;
use brokkr_core::limits::Limits;
use brokkr_testkit::build;
use bytes::Bytes;
use common::*;
use std::num::{NonZeroU16, NonZeroU32};

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

/// The PUBLISH packets of `got`, owned (the tests acknowledge them after looking).
fn owned_publishes(got: &[Packet]) -> Vec<Publish> {
    publishes(got).into_iter().cloned().collect()
}

/// Subscription identifiers of a PUBLISH, as numbers.
fn sub_ids(p: &Publish) -> Vec<u32> {
    p.properties
        .subscription_identifiers()
        .map(|i| i.get())
        .collect()
}

/// SUBSCRIBE to `filter` at `qos` with Subscription Identifier `id` (none for 0).
fn subscribe_with_id(w: &mut World, c: &mut Client, filter: &str, qos: QoS, id: u32) {
    let mut sub = build::subscribe(1, &[filter], qos);
    sub.properties.subscription_identifier = NonZeroU32::new(id);
    w.send(c, Packet::Subscribe(sub));
    let got = w.recv(c);
    assert!(matches!(got.first(), Some(Packet::SubAck(_))), "{got:?}");
}

/// Publish with packet identifier `pid`, completing the QoS 2 flow with PUBREL.
fn publish_complete(w: &mut World, c: &mut Client, p: Publish, pid: u16) {
    let mut p = p;
    let qos = p.qos_pid.qos();
    p.qos_pid = QosPid::from_parts(qos, build::pid(pid));
    w.send(c, Packet::Publish(p));
    if qos == QoS::ExactlyOnce {
        w.send(c, Packet::PubRel(PubRel::new(build::pid(pid))));
    }
    let _ = w.recv(c);
}

/// Acknowledge every QoS 1 and 2 PUBLISH of `pubs` as a client does (PUBACK; PUBREC, then
/// PUBCOMP once the broker's PUBREL arrives).
fn acknowledge(w: &mut World, c: &mut Client, pubs: &[Publish]) {
    for p in pubs {
        match p.qos_pid {
            QosPid::AtMostOnce => {}
            QosPid::AtLeastOnce(id) => w.send(c, Packet::PubAck(PubAck::new(id))),
            QosPid::ExactlyOnce(id) => {
                w.send(c, Packet::PubRec(PubRec::new(id)));
                let got = w.recv(c);
                assert!(
                    matches!(&got[..], [Packet::PubRel(r)] if r.packet_id == id),
                    "{got:?}"
                );
                w.send(c, Packet::PubComp(PubComp::new(id)));
            }
        }
    }
    let _ = w.recv(c);
}

/// A normal DISCONNECT (the session stays for its expiry, the will is discarded).
fn disconnect(w: &mut World, c: &Client) {
    w.send(c, Packet::Disconnect(Disconnect::new(ReasonCode::Success)));
    assert!(w.is_closed(c));
}

#[test]
// FlashMQ: testQosDowngradeOnOfflineClients
fn flashmq_g_queued_messages_resume_with_the_downgraded_qos_once() {
    let qos = [QoS::AtLeastOnce, QoS::ExactlyOnce];
    for send_qos in qos {
        for sub_qos in qos {
            for filter in ["topic1/FOOBAR", "+/+", "#"] {
                let mut w = World::new();
                let mut connect = build::connect(V5, "TheReceiver");
                connect.properties.session_expiry_interval_secs = Some(600);
                let (mut receiver, _) = w.connect_with(connect);
                subscribe(&mut w, &mut receiver, filter, sub_qos);
                disconnect(&mut w, &receiver);

                let mut sender = w.connect(V311, "sender", true);
                for i in 0..10u16 {
                    let p = build::publish("topic1/FOOBAR", &[b'0' + i as u8], send_qos, false);
                    publish_complete(&mut w, &mut sender, p, 100 + i);
                }

                let (mut receiver, got) = resume(&mut w, V5, "TheReceiver");
                assert!(connack(&got).session_present);
                let pubs = owned_publishes(&got);
                let case = format!("send {send_qos:?}, subscribe {sub_qos:?} on {filter}");
                assert_eq!(pubs.len(), 10, "{case}: {got:?}");
                let mut ids: Vec<u16> = pubs
                    .iter()
                    .filter_map(|p| p.qos_pid.packet_id().map(|i| i.get()))
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                assert_eq!(ids.len(), 10, "{case}: one packet identifier each");
                for (i, p) in pubs.iter().enumerate() {
                    assert_eq!(p.qos_pid.qos(), send_qos.min(sub_qos), "{case}");
                    assert!(!p.dup, "{case}: first delivery, DUP 0");
                    assert!(!p.retain, "{case}");
                    assert_eq!(p.topic.as_str(), "topic1/FOOBAR", "{case}");
                    assert_eq!(&p.payload[..], &[b'0' + i as u8], "{case}: in order");
                }
                acknowledge(&mut w, &mut receiver, &pubs);
                disconnect(&mut w, &receiver);

                // Delivered and acknowledged: nothing is left for the next connection.
                let (_, got) = resume(&mut w, V5, "TheReceiver");
                assert!(connack(&got).session_present);
                assert_eq!(got.len(), 1, "{case}: only CONNACK, got {got:?}");
            }
        }
    }
}

#[test]
// FlashMQ: testKeepSubscriptionOnKickingOutExistingClientWithCleanSessionFalse
fn flashmq_h_takeover_with_clean_session_0_keeps_the_subscriptions() {
    let mut w = World::new();
    let (mut first, _) = persistent(&mut w, V311, "Carl-nonrandom");
    subscribe(&mut w, &mut first, "just/a/path", QoS::AtMostOnce);
    let sender = w.connect(V5, "sender", true);
    let (mut second, present) = persistent(&mut w, V311, "Carl-nonrandom");
    assert!(present, "the session is taken over, not replaced");
    assert!(w.is_closed(&first), "the old connection is closed");
    assert!(w.recv(&mut first).is_empty(), "MQTT 3 hears no DISCONNECT");

    let mut p = build::publish("just/a/path", b"AAAAA", QoS::AtMostOnce, false);
    build::edit_props(&mut p, |b| b.topic_alias = NonZeroU16::new(1));
    w.send(&sender, Packet::Publish(p));
    let got = w.recv(&mut second);
    let [Packet::Publish(p)] = &got[..] else {
        panic!("the subscription did not survive the takeover: {got:?}")
    };
    assert_eq!(
        (p.topic.as_str(), &p.payload[..], p.qos_pid, p.retain, p.dup),
        (
            "just/a/path",
            &b"AAAAA"[..],
            QosPid::AtMostOnce,
            false,
            false
        )
    );
    assert!(w.recv(&mut first).is_empty());
}

#[test]
// FlashMQ: test_retained_per_message_expire
fn flashmq_i_retained_messages_expire_by_their_own_message_expiry() {
    // FlashMQ's test also sets a global TTL longer than the per-message expiry.
    let mut w = World::with_limits(Limits {
        retained_expiry_secs: Some(10),
        ..Limits::default()
    });
    let sender = w.connect(V5, "sender", true);
    for (topic, expiry) in [
        ("retaintopic/1", None),
        ("retaintopic/2", Some(1)),
        ("retaintopic/3", Some(9)),
    ] {
        let mut p = build::publish(topic, topic.as_bytes(), QoS::AtMostOnce, true);
        build::edit_props(&mut p, |b| b.message_expiry_interval_secs = expiry);
        w.send(&sender, Packet::Publish(p));
    }
    w.now += 2_000;
    for v in [V5, V311] {
        let mut receiver = w.connect(v, "receiver", true);
        w.send(
            &receiver,
            Packet::Subscribe(build::subscribe(1, &["#"], QoS::AtMostOnce)),
        );
        let got = w.recv(&mut receiver);
        let mut pubs = owned_publishes(&got);
        pubs.sort_by(|a, b| a.topic.as_str().cmp(b.topic.as_str()));
        let seen: Vec<(&str, bool, Option<u32>)> = pubs
            .iter()
            .map(|p| {
                let expiry = p.properties.message_expiry_interval_secs();
                (p.topic.as_str(), p.retain, expiry)
            })
            .collect();
        let left = if v.is_v5() { Some(7) } else { None }; // MQTT-3.3.2-6: 9 s minus 2 waited
        assert_eq!(
            seen,
            [("retaintopic/1", true, None), ("retaintopic/3", true, left)],
            "{v:?}: the expired retained message is not sent"
        );
    }
    // The global TTL still applies to the message without its own expiry.
    w.now += 9_000;
    let mut late = w.connect(V5, "late", true);
    w.send(
        &late,
        Packet::Subscribe(build::subscribe(1, &["#"], QoS::AtMostOnce)),
    );
    assert!(publishes(&w.recv(&mut late)).is_empty());
}

#[test]
// FlashMQ: testWillOnSessionTakeOvers
fn flashmq_j_takeover_publishes_the_old_connections_will() {
    for v in [V311, V5] {
        for clean in [false, true] {
            let mut w = World::new();
            let mut receiver = w.connect(V311, "receiver", true);
            subscribe(&mut w, &mut receiver, "my/will", QoS::AtMostOnce);
            let mut olds = Vec::new();
            for payload in [&b"first will"[..], b"second will"] {
                let mut connect = build::connect(v, "OneOfOne");
                connect.clean_start = clean;
                connect.will = Some(build::will(
                    build::topic("my/will"),
                    Bytes::copy_from_slice(payload),
                    QoS::AtMostOnce,
                    false,
                ));
                let (c, got) = w.connect_with(connect);
                assert_eq!(connack(&got).reason, ReasonCode::Success);
                olds.push(c);
            }
            let case = format!("{v:?}, clean start {clean}");
            let mut old = olds.remove(0);
            assert!(w.is_closed(&old), "{case}");
            let to_old = w.recv(&mut old);
            if v.is_v5() {
                assert!(
                    matches!(&to_old[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::SessionTakenOver),
                    "{case}: {to_old:?}"
                );
            } else {
                assert!(to_old.is_empty(), "{case}: {to_old:?}");
            }
            let got = w.recv(&mut receiver);
            let [Packet::Publish(p)] = &got[..] else {
                panic!("{case}: one will expected, got {got:?}")
            };
            assert_eq!(
                (p.topic.as_str(), &p.payload[..], p.qos_pid, p.retain),
                ("my/will", &b"first will"[..], QosPid::AtMostOnce, false),
                "{case}: the old connection's will, not the new one's"
            );
        }
    }
}

/// Connect "OneOfOne" (MQTT 5, Session Expiry 300 s) with a will delayed by 120 s.
fn connect_with_delayed_will(w: &mut World, clean: bool) -> Client {
    let mut connect = build::connect(V5, "OneOfOne");
    connect.clean_start = clean;
    connect.properties.session_expiry_interval_secs = Some(300);
    let mut will = build::will(
        build::topic("my/will"),
        Bytes::from_static(b"mypayload"),
        QoS::AtMostOnce,
        false,
    );
    will.properties.will_delay_interval_secs = Some(120);
    connect.will = Some(will);
    let (c, got) = w.connect_with(connect);
    assert_eq!(connack(&got).reason, ReasonCode::Success);
    c
}

#[test]
// FlashMQ: testOverrideWillDelayOnSessionDestructionByTakeOver
fn flashmq_j_clean_start_takeover_fires_the_delayed_will_at_once() {
    // Online (FlashMQ's case) and offline with the will already waiting.
    for online in [true, false] {
        let mut w = World::new();
        let mut receiver = w.connect(V311, "receiver", true);
        subscribe(&mut w, &mut receiver, "my/will", QoS::AtMostOnce);
        let sender = connect_with_delayed_will(&mut w, true);
        if !online {
            w.shard.connection_lost(w.now, sender.id);
            w.now += 1_000;
            w.shard.tick(w.now);
            assert!(w.recv(&mut receiver).is_empty(), "the will waits 120 s");
        }
        let mut fresh = w.open(V5);
        w.send(
            &fresh,
            Packet::Connect(Box::new(build::connect(V5, "OneOfOne"))),
        );
        let got = w.recv(&mut fresh);
        assert!(!connack(&got).session_present);
        let got = w.recv(&mut receiver);
        let [Packet::Publish(p)] = &got[..] else {
            panic!("online {online}: the session ended, its will is due now: {got:?}")
        };
        assert_eq!(
            (p.topic.as_str(), &p.payload[..]),
            ("my/will", &b"mypayload"[..])
        );
        w.now += 200_000;
        w.shard.tick(w.now);
        assert!(w.recv(&mut receiver).is_empty(), "sent once");
    }
}

#[test]
fn mqtt_3_1_3_9_takeover_resuming_the_session_within_the_will_delay_sends_no_will() {
    let mut w = World::new();
    let mut receiver = w.connect(V311, "receiver", true);
    subscribe(&mut w, &mut receiver, "my/will", QoS::AtMostOnce);
    let _old = connect_with_delayed_will(&mut w, true);
    let _new = connect_with_delayed_will(&mut w, false);
    w.now += 200_000;
    w.shard.tick(w.now);
    assert!(w.recv(&mut receiver).is_empty(), "MQTT-3.1.3-9");
}

/// Connect `id` (MQTT 5) accepting 10 topic aliases, resuming its session if `resume`.
fn connect_with_aliases(w: &mut World, id: &str, resume: bool) -> (Client, Vec<Packet>) {
    let mut connect = build::connect(V5, id);
    connect.clean_start = !resume;
    connect.properties.session_expiry_interval_secs = Some(300);
    connect.properties.topic_alias_maximum = Some(10);
    w.connect_with(connect)
}

/// (topic, alias) of each PUBLISH.
fn topics_and_aliases(pubs: &[Publish]) -> Vec<(&str, Option<u16>)> {
    pubs.iter()
        .map(|p| {
            (
                p.topic.as_str(),
                p.properties.topic_alias().map(NonZeroU16::get),
            )
        })
        .collect()
}

#[test]
// FlashMQ: testOutgoingTopicAliasStoredPublishes
fn flashmq_k_outgoing_topic_alias_reused_for_wills_and_queued_messages() {
    let topic = "last/dance/long/long";
    let mut w = World::new();
    let mut connect = build::connect(V5, "mortal");
    connect.will = Some(build::will(
        build::topic(topic),
        Bytes::from_static(b"will payload"),
        QoS::AtMostOnce,
        false,
    ));
    let (mortal, _) = w.connect_with(connect);
    let (mut receiver, _) = connect_with_aliases(&mut w, "receiver", false);
    subscribe(&mut w, &mut receiver, "last/dance/#", QoS::AtLeastOnce);
    let mut sender = w.connect(V5, "sender", true);
    publish(
        &mut w,
        &sender,
        topic,
        b"normal payload",
        QoS::AtMostOnce,
        false,
    );
    w.shard.connection_lost(w.now, mortal.id);
    let pubs = owned_publishes(&w.recv(&mut receiver));
    assert_eq!(topics_and_aliases(&pubs), [(topic, Some(1)), ("", Some(1))]);
    assert_eq!(&pubs[1].payload[..], b"will payload");

    // Queued while offline: the new connection defines the alias again, then uses it.
    disconnect(&mut w, &receiver);
    for i in 0..3u16 {
        let p = build::publish(topic, b"stored", QoS::AtLeastOnce, false);
        publish_complete(&mut w, &mut sender, p, 10 + i);
    }
    let (_, got) = connect_with_aliases(&mut w, "receiver", true);
    assert!(connack(&got).session_present);
    let pubs = owned_publishes(&got);
    assert_eq!(
        topics_and_aliases(&pubs),
        [(topic, Some(1)), ("", Some(1)), ("", Some(1))]
    );
    assert!(
        pubs.iter()
            .all(|p| p.qos_pid.qos() == QoS::AtLeastOnce && !p.dup)
    );
}

#[test]
fn outgoing_topic_alias_of_a_publish_too_large_to_send_is_not_used_later() {
    let mut w = World::new();
    let mut connect = build::connect(V5, "small");
    connect.properties.topic_alias_maximum = Some(10);
    connect.properties.maximum_packet_size = std::num::NonZeroU32::new(64);
    let (mut small, _) = w.connect_with(connect);
    subscribe(&mut w, &mut small, "a/#", QoS::AtMostOnce);
    let sender = w.connect(V5, "sender", true);
    publish(&mut w, &sender, "a/b", &[b'x'; 100], QoS::AtMostOnce, false);
    assert!(
        w.recv(&mut small).is_empty(),
        "MQTT-3.1.2-24: too large, dropped"
    );
    publish(&mut w, &sender, "a/b", b"fits", QoS::AtMostOnce, false);
    let pubs = owned_publishes(&w.recv(&mut small));
    assert_eq!(
        topics_and_aliases(&pubs),
        [("a/b", Some(1))],
        "the client never saw the dropped packet's alias, so it is defined now"
    );
}

#[test]
// FlashMQ: testExpiredQueuedMessages
fn flashmq_k_expired_queued_messages_free_their_queue_slots() {
    for v in [V311, V5] {
        let mut w = World::with_limits(Limits {
            qos_pending_messages_max: 4,
            ..Limits::default()
        });
        let mut sender = w.connect(V5, "sender", true);
        let (mut receiver, _) = persistent(&mut w, v, "ReceiverDude01");
        subscribe(&mut w, &mut receiver, "#", QoS::ExactlyOnce);
        disconnect(&mut w, &receiver);
        let expiring = |w: &mut World, sender: &mut Client, pid| {
            let mut p = build::publish("this/one/expires", b"Calimex", QoS::AtLeastOnce, false);
            build::edit_props(&mut p, |b| b.message_expiry_interval_secs = Some(1));
            publish_complete(w, sender, p, pid);
        };
        let normal = |w: &mut World, sender: &mut Client, topic: String, pid| {
            let p = build::publish(&topic, b"adsf", QoS::AtLeastOnce, false);
            publish_complete(w, sender, p, pid);
        };

        // Not expired yet: it holds its slot, so only 4 of 6 fit.
        expiring(&mut w, &mut sender, 1);
        for i in 0..5 {
            normal(&mut w, &mut sender, format!("topic/{i}"), 2 + i);
        }
        let (mut receiver, got) = resume(&mut w, v, "ReceiverDude01");
        let pubs = owned_publishes(&got);
        let topics: Vec<&str> = pubs.iter().map(|p| p.topic.as_str()).collect();
        assert_eq!(
            topics,
            ["this/one/expires", "topic/0", "topic/1", "topic/2"],
            "{v:?}"
        );
        acknowledge(&mut w, &mut receiver, &pubs);
        disconnect(&mut w, &receiver);

        // Expired while queued: its slot goes to the next message.
        for i in 0..3 {
            normal(&mut w, &mut sender, format!("late/topic/{i}"), 10 + i);
        }
        expiring(&mut w, &mut sender, 20);
        w.now += 2_000;
        w.shard.tick(w.now);
        for i in 0..2 {
            normal(&mut w, &mut sender, format!("topic/{i}"), 30 + i);
        }
        let (_, got) = resume(&mut w, v, "ReceiverDude01");
        let pubs = owned_publishes(&got);
        let topics: Vec<&str> = pubs.iter().map(|p| p.topic.as_str()).collect();
        assert_eq!(
            topics,
            ["late/topic/0", "late/topic/1", "late/topic/2", "topic/0"],
            "{v:?}"
        );
    }
}

#[test]
// FlashMQ: testSubscriptionIdOfflineClient
fn flashmq_k_subscription_identifier_kept_for_queued_messages() {
    let mut w = World::new();
    for (id, sub_id) in [("one", 42), ("two", 99)] {
        let (mut c, _) = persistent(&mut w, V5, id);
        subscribe_with_id(
            &mut w,
            &mut c,
            "several/sub/topics",
            QoS::AtLeastOnce,
            sub_id,
        );
        disconnect(&mut w, &c);
    }
    let mut sender = w.connect(V5, "sender", true);
    let p = build::publish("several/sub/topics", b"payload", QoS::AtLeastOnce, false);
    publish_complete(&mut w, &mut sender, p, 1);
    for (id, sub_id) in [("one", 42), ("two", 99)] {
        let (_, got) = resume(&mut w, V5, id);
        let pubs = owned_publishes(&got);
        assert_eq!(pubs.len(), 1, "{id}: {got:?}");
        assert_eq!(sub_ids(&pubs[0]), [sub_id], "{id}");
        assert_eq!(
            (
                pubs[0].topic.as_str(),
                &pubs[0].payload[..],
                pubs[0].qos_pid.qos()
            ),
            ("several/sub/topics", &b"payload"[..], QoS::AtLeastOnce)
        );
    }
}

#[test]
// FlashMQ: testSubscriptionIdRetainedMessages
fn flashmq_k_subscription_identifier_on_retained_messages() {
    let mut w = World::new();
    let sender = w.connect(V5, "sender", true);
    publish(
        &mut w,
        &sender,
        "retaintopic",
        b"We are testing",
        QoS::AtMostOnce,
        true,
    );
    for sub_id in [123, 1_000_000] {
        let mut receiver = w.connect(V5, "receiver", true);
        subscribe(&mut w, &mut receiver, "dummy", QoS::AtMostOnce);
        let mut sub = build::subscribe(2, &["retaintopic"], QoS::AtMostOnce);
        sub.properties.subscription_identifier = NonZeroU32::new(sub_id);
        w.send(&receiver, Packet::Subscribe(sub));
        let got = w.recv(&mut receiver);
        let [Packet::SubAck(_), Packet::Publish(p)] = &got[..] else {
            panic!("{got:?}")
        };
        assert_eq!(
            (p.topic.as_str(), &p.payload[..], p.retain, sub_ids(p)),
            ("retaintopic", &b"We are testing"[..], true, vec![sub_id])
        );
    }
}

#[test]
// FlashMQ: testSubscriptionIdSharedSubscriptions
fn flashmq_k_subscription_identifier_of_the_chosen_shared_member() {
    let mut w = World::new();
    let members = [("m666", 666), ("m777", 777), ("none", 0)];
    let mut clients = Vec::new();
    for (id, sub_id) in members {
        let mut c = w.connect(V5, id, true);
        let filter = "$share/myshare/several/sub/topics";
        subscribe_with_id(&mut w, &mut c, filter, QoS::AtLeastOnce, sub_id);
        clients.push((c, sub_id));
    }
    let mut sender = w.connect(V5, "sender", true);
    for i in 0..30 {
        let p = build::publish("several/sub/topics", b"payload", QoS::AtLeastOnce, false);
        publish_complete(&mut w, &mut sender, p, 1 + i);
    }
    let mut total = 0;
    for (c, sub_id) in &mut clients {
        let got = w.recv(c);
        let pubs = owned_publishes(&got);
        assert!(
            !pubs.is_empty(),
            "member {sub_id} got nothing in 30 messages"
        );
        let want: Vec<u32> = NonZeroU32::new(*sub_id)
            .map(NonZeroU32::get)
            .into_iter()
            .collect();
        for p in &pubs {
            assert_eq!(sub_ids(p), want, "the receiving member's own identifier");
            assert_eq!(p.topic.as_str(), "several/sub/topics");
        }
        total += pubs.len();
    }
    assert_eq!(total, 30, "one member per message");
}

#[test]
// FlashMQ: testSubscriptionIdChange
fn flashmq_k_resubscribing_changes_the_subscription_identifier() {
    let mut w = World::new();
    let mut c = w.connect(V5, "c", true);
    let mut sender = w.connect(V5, "sender", true);
    for (sub_id, want) in [(666, vec![666]), (667, vec![667]), (0, vec![])] {
        subscribe_with_id(
            &mut w,
            &mut c,
            "several/sub/topics",
            QoS::AtLeastOnce,
            sub_id,
        );
        let p = build::publish("several/sub/topics", b"payload", QoS::AtLeastOnce, false);
        publish_complete(&mut w, &mut sender, p, 1);
        let got = w.recv(&mut c);
        let pubs = owned_publishes(&got);
        assert_eq!(
            pubs.len(),
            1,
            "the subscription is replaced, not added: {got:?}"
        );
        assert_eq!(sub_ids(&pubs[0]), want);
        acknowledge(&mut w, &mut c, &pubs);
    }
}
