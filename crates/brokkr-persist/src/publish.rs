//! Messages and wills stored as encoded MQTT 5 PUBLISH packets, so the codec's validation
//! (topic, UTF-8, properties, QoS, sizes) applies to what a file holds exactly as to what a
//! client sends.
//!
//! A stored PUBLISH has DUP clear, packet identifier 1 when its QoS needs one (the value is not
//! kept), a non-empty topic, and neither a Topic Alias nor Subscription Identifiers: those are
//! per connection, and a message the broker keeps never has them. A will is stored as the
//! PUBLISH it becomes; its delay is stored beside it.

use crate::PersistError;
use crate::reader::Reader;
use brokkr_codec::{
    Packet, PacketId, ProtocolVersion, Publish, PublishPropertiesBuilder, QoS, QosPid, Will,
    WillProperties, decode_exact,
};
use brokkr_core::message::Message;
use bytes::BytesMut;

/// QoS with the dummy packet identifier 1 (none for QoS 0).
fn qos_pid(qos: QoS) -> QosPid {
    PacketId::new(1).map_or(QosPid::AtMostOnce, |id| QosPid::from_parts(qos, id))
}

/// Append `p` encoded, with a u32 length prefix.
fn write_publish(out: &mut Vec<u8>, p: &Publish) -> Result<(), PersistError> {
    let mut buf = BytesMut::new();
    Packet::Publish(p.clone())
        .encode(ProtocolVersion::V5, &mut buf)
        .map_err(|_| PersistError::Unencodable("message too large for a PUBLISH"))?;
    let len = u32::try_from(buf.len()).map_err(|_| PersistError::Unencodable("PUBLISH length"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&buf);
    Ok(())
}

/// Read one length-prefixed PUBLISH and check it is one the broker could have kept.
fn read_publish(r: &mut Reader<'_>) -> Result<Publish, PersistError> {
    let mut block = r.block()?;
    let bytes = block.rest();
    let p = match decode_exact(bytes, ProtocolVersion::V5).map_err(PersistError::Packet)? {
        Packet::Publish(p) => p,
        _ => return Err(PersistError::Invalid("stored packet is not a PUBLISH")),
    };
    if p.dup {
        return Err(PersistError::Invalid("stored PUBLISH with DUP"));
    }
    if p.topic.is_empty() {
        return Err(PersistError::Invalid("stored PUBLISH without a topic"));
    }
    if p.properties.topic_alias().is_some()
        || p.properties.subscription_identifiers().next().is_some()
    {
        return Err(PersistError::Invalid(
            "stored PUBLISH with per-connection properties",
        ));
    }
    Ok(p)
}

fn to_publish(m: &Message) -> Publish {
    Publish {
        dup: false,
        qos_pid: qos_pid(m.qos),
        retain: m.retain,
        topic: m.topic.clone(),
        properties: m.properties.clone(),
        payload: m.payload.clone(),
    }
}

/// Append a message (its `received_ms` is not stored: the caller stores its age).
pub(crate) fn write_message(out: &mut Vec<u8>, m: &Message) -> Result<(), PersistError> {
    write_publish(out, &to_publish(m))
}

/// Read a message; its `received_ms` is 0.
pub(crate) fn read_message(r: &mut Reader<'_>) -> Result<Message, PersistError> {
    let p = read_publish(r)?;
    let topic = p.topic.clone();
    Ok(Message::from_publish(p, topic, 0))
}

/// Append a will as the PUBLISH it becomes (its Will Delay Interval is not stored).
pub(crate) fn write_will(out: &mut Vec<u8>, w: &Will) -> Result<(), PersistError> {
    let wp = &w.properties;
    let properties = PublishPropertiesBuilder {
        payload_format_indicator: wp.payload_format_indicator,
        message_expiry_interval_secs: wp.message_expiry_interval_secs,
        response_topic: wp.response_topic.clone(),
        correlation_data: wp.correlation_data.clone(),
        user_properties: wp.user_properties.clone(),
        content_type: wp.content_type.clone(),
        ..Default::default()
    }
    .build()
    .map_err(|_| PersistError::Unencodable("will properties"))?;
    let p = Publish {
        dup: false,
        qos_pid: qos_pid(w.qos),
        retain: w.retain,
        topic: w.topic.clone(),
        properties,
        payload: w.payload.clone(),
    };
    write_publish(out, &p)
}

/// Read a will; its Will Delay Interval is `None`.
pub(crate) fn read_will(r: &mut Reader<'_>) -> Result<Will, PersistError> {
    let p = read_publish(r)?;
    let pp = p.properties.to_builder();
    let properties = WillProperties {
        payload_format_indicator: pp.payload_format_indicator,
        message_expiry_interval_secs: pp.message_expiry_interval_secs,
        response_topic: pp.response_topic.clone(),
        correlation_data: pp.correlation_data.clone(),
        user_properties: pp.user_properties.clone(),
        content_type: pp.content_type.clone(),
        ..Default::default()
    };
    Ok(Will {
        qos: p.qos_pid.qos(),
        retain: p.retain,
        topic: p.topic,
        payload: p.payload,
        properties,
    })
}
