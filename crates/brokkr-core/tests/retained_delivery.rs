//! Retained messages reach a new subscriber as they were published, whichever way they take:
//! straight from the store's bytes (QoS 0 with nothing to edit) or decoded back into a message
//! (QoS 1 and 2, MQTT 5 properties, a topic alias or a subscription identifier to add).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use brokkr_codec::*;
use brokkr_testkit::build;
use common::*;
use std::num::NonZeroU32;

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

/// What a subscriber sees of one delivery: topic (an alias resolved), payload, QoS, RETAIN,
/// content type, user properties, subscription identifiers.
type Seen = (String, Vec<u8>, QoS, bool, Option<String>, usize, Vec<u32>);

fn retained(w: &mut World) {
    let p = w.connect(V5, "publisher", true);
    let mut send = |topic: &str, payload: &[u8], qos: QoS, props: bool| {
        let mut publish = build::publish(topic, payload, qos, true);
        if qos != QoS::AtMostOnce {
            publish.qos_pid = QosPid::from_parts(qos, build::pid(9));
        }
        if props {
            build::edit_props(&mut publish, |b| {
                b.content_type = MqttString::new("text/plain").ok();
                b.user_properties =
                    vec![(MqttString::new("k").unwrap(), MqttString::new("v").unwrap())];
            });
        }
        w.send(&p, Packet::Publish(publish));
    };
    send("a/plain", b"p0", QoS::AtMostOnce, false);
    send("a/qos1", &[7; 200], QoS::AtLeastOnce, false);
    send("a/props", b"pp", QoS::AtMostOnce, true);
    send("a/qos2-props", b"q2", QoS::ExactlyOnce, true);
}

fn subscriber(
    w: &mut World,
    v: ProtocolVersion,
    id: &str,
    qos: QoS,
    alias_max: u16,
    sub_id: u32,
) -> Vec<Seen> {
    let mut connect = build::connect(v, id);
    if alias_max > 0 {
        connect.properties.topic_alias_maximum = Some(alias_max);
    }
    let (mut c, _) = w.connect_with(connect);
    let mut s = build::subscribe(1, &["a/#"], qos);
    s.properties.subscription_identifier = NonZeroU32::new(sub_id);
    w.send(&c, Packet::Subscribe(s));
    let got = w.recv(&mut c);
    let mut aliases: std::collections::BTreeMap<std::num::NonZeroU16, String> =
        std::collections::BTreeMap::new();
    let mut seen: Vec<Seen> = publishes(&got)
        .into_iter()
        .map(|p| {
            let mut topic = p.topic.as_str().to_string();
            if let Some(a) = p.properties.topic_alias() {
                if topic.is_empty() {
                    topic = aliases[&a].clone();
                } else {
                    aliases.insert(a, topic.clone());
                }
            }
            (
                topic,
                p.payload.to_vec(),
                p.qos_pid.qos(),
                p.retain,
                p.properties.content_type().map(str::to_string),
                p.properties.user_properties().count(),
                p.properties
                    .subscription_identifiers()
                    .map(NonZeroU32::get)
                    .collect(),
            )
        })
        .collect();
    seen.sort();
    seen
}

fn expected(v: ProtocolVersion, qos: QoS, sub_id: u32) -> Vec<Seen> {
    let five = v.is_v5();
    let ct = || five.then(|| "text/plain".to_string());
    let ids = if five && sub_id > 0 {
        vec![sub_id]
    } else {
        vec![]
    };
    let mut all: Vec<Seen> = vec![
        (
            "a/plain".into(),
            b"p0".to_vec(),
            QoS::AtMostOnce,
            true,
            None,
            0,
            ids.clone(),
        ),
        (
            "a/qos1".into(),
            vec![7; 200],
            qos.min(QoS::AtLeastOnce),
            true,
            None,
            0,
            ids.clone(),
        ),
        (
            "a/props".into(),
            b"pp".to_vec(),
            QoS::AtMostOnce,
            true,
            ct(),
            usize::from(five),
            ids.clone(),
        ),
        (
            "a/qos2-props".into(),
            b"q2".to_vec(),
            qos,
            true,
            ct(),
            usize::from(five),
            ids,
        ),
    ];
    all.sort();
    all
}

#[test]
fn every_kind_of_subscriber_gets_each_retained_message_as_published() {
    let mut w = World::new();
    retained(&mut w);
    let kinds = [
        (V311, QoS::AtMostOnce, 0, 0),
        (V311, QoS::ExactlyOnce, 0, 0),
        (ProtocolVersion::V3_1, QoS::AtMostOnce, 0, 0),
        (V5, QoS::AtMostOnce, 0, 0),
        (V5, QoS::ExactlyOnce, 0, 0),
        (V5, QoS::AtMostOnce, 0, 7),
        (V5, QoS::AtMostOnce, 5, 0),
        (V5, QoS::AtLeastOnce, 5, 3),
    ];
    for (i, (v, qos, alias_max, sub_id)) in kinds.into_iter().enumerate() {
        let got = subscriber(&mut w, v, &format!("s{i}"), qos, alias_max, sub_id);
        assert_eq!(
            got,
            expected(v, qos, sub_id),
            "{v:?} {qos:?} aliases {alias_max} id {sub_id}"
        );
    }
}

#[test]
fn a_retained_qos0_delivery_over_the_maximum_packet_size_is_dropped() {
    let mut w = World::new();
    let p = w.connect(V311, "publisher", true);
    publish(&mut w, &p, "big/one", &[1; 1000], QoS::AtMostOnce, true);
    publish(&mut w, &p, "big/two", &[2; 10], QoS::AtMostOnce, true);
    let mut connect = build::connect(V5, "small");
    connect.properties.maximum_packet_size = NonZeroU32::new(100);
    let (mut c, _) = w.connect_with(connect);
    w.send(
        &c,
        Packet::Subscribe(build::subscribe(1, &["big/#"], QoS::AtMostOnce)),
    );
    let got = w.recv(&mut c);
    let topics: Vec<&str> = publishes(&got).iter().map(|p| p.topic.as_str()).collect();
    assert_eq!(
        topics,
        ["big/two"],
        "the 1000-byte message is over the client's maximum"
    );
}
