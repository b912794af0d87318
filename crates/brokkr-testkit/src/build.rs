//! Short constructors for packets, so tests and the corpus generator read like the protocol.
//! They take values known to be valid and panic otherwise (test code only).
#![allow(clippy::expect_used, clippy::panic)]

use brokkr_codec::*;
use bytes::{Bytes, BytesMut};

/// Encode a packet for `v`.
pub fn encode(p: &Packet, v: ProtocolVersion) -> Vec<u8> {
    let mut out = BytesMut::new();
    p.encode(v, &mut out).expect("test packet encodes");
    out.to_vec()
}

/// A packet identifier from a non-zero literal.
pub fn pid(n: u16) -> PacketId {
    PacketId::new(n).expect("non-zero packet id")
}

/// A topic name from a valid literal.
pub fn topic(s: &str) -> TopicName {
    TopicName::new(s).expect("valid topic")
}

/// A topic filter from a valid literal.
pub fn filter(s: &str) -> TopicFilter {
    TopicFilter::new(s).expect("valid filter")
}

/// A string from a valid literal.
pub fn string(s: &str) -> MqttString {
    MqttString::new(s).expect("valid string")
}

/// CONNECT with a client id and clean start.
pub fn connect(v: ProtocolVersion, client_id: &str) -> Connect {
    Connect {
        protocol: ConnectProtocol(v),
        clean_start: true,
        keep_alive_secs: 60,
        client_id: ClientId::new(string(client_id)),
        ..Default::default()
    }
}

/// PUBLISH with the given QoS (packet id 1 for QoS 1 and 2).
pub fn publish(t: &str, payload: &[u8], qos: QoS, retain: bool) -> Publish {
    Publish {
        dup: false,
        qos_pid: brokkr_codec::QosPid::from_parts(qos, pid(1)),
        retain,
        topic: topic(t),
        properties: Default::default(),
        payload: Bytes::copy_from_slice(payload),
    }
}

/// PUBLISH properties from typed values.
pub fn publish_props(values: PublishPropertiesBuilder) -> PublishProperties {
    values.build().expect("test properties build")
}

/// Change some of `p`'s properties in place (the others stay as they are).
pub fn edit_props(p: &mut Publish, f: impl FnOnce(&mut PublishPropertiesBuilder)) {
    let mut values = p.properties.to_builder();
    f(&mut values);
    p.properties = publish_props(values);
}

/// SUBSCRIBE to each filter at `qos`.
pub fn subscribe(id: u16, filters: &[&str], qos: QoS) -> Subscribe {
    Subscribe {
        packet_id: pid(id),
        properties: Default::default(),
        filters: filters
            .iter()
            .map(|f| {
                (
                    filter(f),
                    SubscriptionOptions {
                        qos,
                        ..Default::default()
                    },
                )
            })
            .collect(),
    }
}

/// UNSUBSCRIBE from each filter.
pub fn unsubscribe(id: u16, filters: &[&str]) -> Unsubscribe {
    Unsubscribe {
        packet_id: pid(id),
        properties: Default::default(),
        filters: filters.iter().map(|f| filter(f)).collect(),
    }
}

/// A will without properties.
pub fn will(topic: TopicName, payload: Bytes, qos: QoS, retain: bool) -> Will {
    Will {
        topic,
        payload,
        qos,
        retain,
        properties: Default::default(),
    }
}
