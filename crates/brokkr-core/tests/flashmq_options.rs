//! FlashMQ's behaviour switches, as the config sets them in `Limits`: `max_qos` and
//! `mqtt3_qos_exceed_action`, `wills_enabled`, `subscription_identifiers_enabled`,
//! `minimum_wildcard_subscription_depth` with both deny modes,
//! `expire_retained_messages_after_seconds`, `allow_unsafe_clientid_chars`.

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
use common::*;

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

fn suback(got: &[Packet]) -> Vec<ReasonCode> {
    match got.first() {
        Some(Packet::SubAck(a)) => a.reasons.clone(),
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

#[test]
fn max_qos_downgrades_subscriptions_and_refuses_publishes_above_it() {
    let mut w = World::with_limits(Limits {
        max_qos: QoS::AtLeastOnce,
        ..Limits::default()
    });
    let (mut c, got) = w.connect_with(build::connect(V5, "v5"));
    assert_eq!(connack(&got).properties.maximum_qos, Some(QoS::AtLeastOnce));
    w.send(
        &c,
        Packet::Subscribe(build::subscribe(1, &["t"], QoS::ExactlyOnce)),
    );
    assert_eq!(suback(&w.recv(&mut c)), [ReasonCode::GrantedQos1]);
    publish(&mut w, &c, "t", b"x", QoS::ExactlyOnce, false);
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::QosNotSupported),
        "{got:?}"
    );
    // MQTT 3 with the default action: closed.
    let c3 = w.connect(V311, "v3", true);
    publish(&mut w, &c3, "t", b"x", QoS::ExactlyOnce, false);
    assert!(w.is_closed(&c3));
}

#[test]
fn mqtt3_qos_exceed_action_drop_acknowledges_and_discards() {
    let mut w = World::with_limits(Limits {
        max_qos: QoS::AtMostOnce,
        mqtt3_qos_exceed_disconnects: false,
        ..Limits::default()
    });
    let mut sub = w.connect(V311, "sub", true);
    subscribe(&mut w, &mut sub, "t", QoS::AtMostOnce);
    let mut p = w.connect(V311, "pub", true);
    publish(&mut w, &p, "t", b"too high", QoS::AtLeastOnce, false);
    assert!(matches!(&w.recv(&mut p)[..], [Packet::PubAck(_)]));
    publish(&mut w, &p, "t", b"fine", QoS::AtMostOnce, false);
    let got = w.recv(&mut sub);
    let payloads: Vec<&[u8]> = publishes(&got).iter().map(|p| &p.payload[..]).collect();
    assert_eq!(payloads, [b"fine"]);
}

#[test]
// FlashMQ: testDisabledWills, testMqtt5DelayedWillsDisabled
fn wills_disabled_are_never_published() {
    let mut w = World::with_limits(Limits {
        wills_enabled: false,
        ..Limits::default()
    });
    let mut sub = w.connect(V311, "watcher", true);
    subscribe(&mut w, &mut sub, "will/#", QoS::AtMostOnce);
    let mut connect = build::connect(V311, "mortal");
    connect.will = Some(build::will(
        build::topic("will/mortal"),
        bytes::Bytes::from_static(b"gone"),
        QoS::AtMostOnce,
        false,
    ));
    let (c, _) = w.connect_with(connect);
    w.shard.connection_lost(w.now, c.id);
    assert!(publishes(&w.recv(&mut sub)).is_empty());
    // Nor a delayed MQTT 5 will, once its delay has passed.
    let mut connect = build::connect(V5, "delayed");
    connect.clean_start = false;
    connect.properties.session_expiry_interval_secs = Some(60);
    let mut will = build::will(
        build::topic("will/delayed"),
        bytes::Bytes::from_static(b"gone"),
        QoS::AtMostOnce,
        false,
    );
    will.properties.will_delay_interval_secs = Some(1);
    connect.will = Some(will);
    let (c, _) = w.connect_with(connect);
    w.shard.connection_lost(w.now, c.id);
    w.now += 4_000;
    w.shard.tick(w.now);
    assert!(publishes(&w.recv(&mut sub)).is_empty());
}

#[test]
fn disabled_subscription_identifiers_are_a_protocol_error() {
    let mut w = World::with_limits(Limits {
        subscription_identifiers_enabled: false,
        ..Limits::default()
    });
    let (mut c, got) = w.connect_with(build::connect(V5, "ids"));
    assert_eq!(
        connack(&got).properties.subscription_identifiers_available,
        Some(false)
    );
    let mut sub = build::subscribe(1, &["t"], QoS::AtMostOnce);
    sub.properties.subscription_identifier = std::num::NonZeroU32::new(7);
    w.send(&c, Packet::Subscribe(sub));
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::SubscriptionIdentifiersNotSupported),
        "{got:?}"
    );
}

#[test]
fn shallow_wildcards_are_refused_or_get_no_retained_messages() {
    let deny_all = Limits {
        wildcard_depth_min: 2,
        ..Limits::default()
    };
    let mut w = World::with_limits(deny_all.clone());
    let mut c = w.connect(V5, "c", true);
    w.send(
        &c,
        Packet::Subscribe(build::subscribe(
            1,
            &["a/+/c", "a/b/+", "#", "$share/g/a/b/#"],
            QoS::AtMostOnce,
        )),
    );
    assert_eq!(
        suback(&w.recv(&mut c)),
        [
            ReasonCode::WildcardSubscriptionsNotSupported,
            ReasonCode::Success,
            ReasonCode::WildcardSubscriptionsNotSupported,
            ReasonCode::Success,
        ]
    );
    let mut w = World::with_limits(Limits {
        wildcard_deny_retained_only: true,
        ..deny_all
    });
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "a/b", b"kept", QoS::AtMostOnce, true);
    let mut c = w.connect(V311, "c", true);
    w.send(
        &c,
        Packet::Subscribe(build::subscribe(1, &["+/b"], QoS::AtMostOnce)),
    );
    let got = w.recv(&mut c);
    assert!(
        publishes(&got).is_empty(),
        "no retained for a shallow wildcard: {got:?}"
    );
    publish(&mut w, &p, "a/b", b"live", QoS::AtMostOnce, false);
    assert_eq!(
        publishes(&w.recv(&mut c)).len(),
        1,
        "live messages still arrive"
    );
}

#[test]
// FlashMQ: test_retained_global_expire
fn retained_messages_expire_after_the_configured_time() {
    let mut w = World::with_limits(Limits {
        retained_expiry_secs: Some(60),
        ..Limits::default()
    });
    let p = w.connect(V311, "p", true);
    publish(&mut w, &p, "r", b"old", QoS::AtMostOnce, true);
    w.now += 59_000;
    let mut early = w.connect(V311, "early", true);
    w.send(
        &early,
        Packet::Subscribe(build::subscribe(1, &["r"], QoS::AtMostOnce)),
    );
    assert_eq!(publishes(&w.recv(&mut early)).len(), 1);
    w.now += 2_000;
    let mut late = w.connect(V311, "late", true);
    w.send(
        &late,
        Packet::Subscribe(build::subscribe(1, &["r"], QoS::AtMostOnce)),
    );
    assert!(publishes(&w.recv(&mut late)).is_empty());
}

#[test]
fn wildcard_characters_in_client_ids_and_user_names_are_refused_unless_allowed() {
    let mut w = World::new();
    let (_, got) = w.connect_with(build::connect(V5, "sensor/+"));
    assert_eq!(connack(&got).reason, ReasonCode::ClientIdentifierNotValid);
    let mut connect = build::connect(V5, "fine");
    connect.username = Some(MqttString::new("ev#l").unwrap());
    let (_, got) = w.connect_with(connect);
    assert_eq!(connack(&got).reason, ReasonCode::BadUserNameOrPassword);
    let mut w = World::with_limits(Limits {
        allow_unsafe_clientid_chars: true,
        ..Limits::default()
    });
    let (_, got) = w.connect_with(build::connect(V5, "sensor/+"));
    assert_eq!(connack(&got).reason, ReasonCode::Success);
}

/// Members of `$share/g/jobs` named `m0`.., the payload bytes each received.
fn share_round(
    targeting: brokkr_core::limits::ShareTargeting,
    publishers: &[&str],
) -> Vec<Vec<u8>> {
    let mut w = World::with_limits(Limits {
        share_targeting: targeting,
        ..Limits::default()
    });
    let mut members: Vec<_> = (0..3)
        .map(|i| {
            let mut m = w.connect(V5, &format!("m{i}"), true);
            subscribe(&mut w, &mut m, "$share/g/jobs", QoS::AtMostOnce);
            m
        })
        .collect();
    let pubs: Vec<_> = publishers
        .iter()
        .map(|id| w.connect(V311, id, true))
        .collect();
    for i in 0..12u8 {
        let p = &pubs[usize::from(i) % pubs.len()];
        publish(&mut w, p, "jobs", &[i], QoS::AtMostOnce, false);
    }
    members
        .iter_mut()
        .map(|m| {
            let got = w.recv(m);
            publishes(&got).iter().map(|p| p.payload[0]).collect()
        })
        .collect()
}

#[test]
fn shared_subscription_targeting_round_robin_sender_hash_and_first() {
    use brokkr_core::limits::ShareTargeting;
    // FlashMQ: testSharedSubscriptionsRoundRobin-like: in turn, exactly a third each.
    let got = share_round(ShareTargeting::RoundRobin, &["p"]);
    assert_eq!(
        got,
        [vec![0, 3, 6, 9], vec![1, 4, 7, 10], vec![2, 5, 8, 11]]
    );
    // One publisher's messages all reach one member.
    let got = share_round(ShareTargeting::SenderHash, &["p1", "p2"]);
    for member in &got {
        let parities: std::collections::BTreeSet<u8> = member.iter().map(|b| b % 2).collect();
        assert!(
            parities.len() <= 1,
            "a member got both publishers' messages: {got:?}"
        );
    }
    assert_eq!(got.iter().map(Vec::len).sum::<usize>(), 12);
    // Always the first member.
    let got = share_round(ShareTargeting::First, &["p"]);
    assert_eq!(got[0].len(), 12);
    assert!(got[1].is_empty() && got[2].is_empty());
}
