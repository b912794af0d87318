//! PUBLISH (MQTT 5 section 3.3, MQTT 3.1.1 section 3.3): the one packet on the hot path.
//!
//! The topic and payload stay slices of the received buffer. QoS and packet identifier are one
//! value ([`QosPid`]) so a QoS 0 PUBLISH with an identifier, or a QoS 1 one without, cannot be
//! built. Whether a topic alias is known, and direction rules (a client must not send a
//! Subscription Identifier), are the core's to check.

use super::{PacketType, first_byte};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{
    self, Boxed, EmptyProperties, PayloadFormat, PropertySet, Sink, UserProperties, Value,
    WireOrder, id, not_allowed,
};
use crate::reader::Reader;
use crate::string::MqttString;
use crate::topic::TopicName;
use crate::types::{PacketId, ProtocolVersion, QoS};
use crate::writer::{prefixed_len, put_fixed_header, put_string};
use bytes::{BufMut, Bytes, BytesMut};
use std::num::{NonZeroU16, NonZeroU32};

/// QoS together with the packet identifier that QoS 1 and 2 require (MQTT-2.2.1-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QosPid {
    /// QoS 0: no identifier.
    AtMostOnce,
    /// QoS 1 with its identifier.
    AtLeastOnce(PacketId),
    /// QoS 2 with its identifier.
    ExactlyOnce(PacketId),
}

impl QosPid {
    /// The QoS level.
    pub fn qos(self) -> QoS {
        match self {
            QosPid::AtMostOnce => QoS::AtMostOnce,
            QosPid::AtLeastOnce(_) => QoS::AtLeastOnce,
            QosPid::ExactlyOnce(_) => QoS::ExactlyOnce,
        }
    }

    /// The packet identifier, for QoS 1 and 2.
    pub fn packet_id(self) -> Option<PacketId> {
        match self {
            QosPid::AtMostOnce => None,
            QosPid::AtLeastOnce(p) | QosPid::ExactlyOnce(p) => Some(p),
        }
    }

    /// Combine a QoS with an identifier (ignored for QoS 0).
    pub fn from_parts(qos: QoS, packet_id: PacketId) -> QosPid {
        match qos {
            QoS::AtMostOnce => QosPid::AtMostOnce,
            QoS::AtLeastOnce => QosPid::AtLeastOnce(packet_id),
            QoS::ExactlyOnce => QosPid::ExactlyOnce(packet_id),
        }
    }
}

/// The PUBLISH packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// DUP flag: this may be a re-delivery.
    pub dup: bool,
    /// QoS and packet identifier.
    pub qos_pid: QosPid,
    /// RETAIN flag.
    pub retain: bool,
    /// Topic Name; empty only in an MQTT 5 PUBLISH that carries a Topic Alias.
    pub topic: TopicName,
    /// MQTT 5 properties (never encoded for 3.x), boxed only when present.
    pub properties: Boxed<PublishProperties>,
    /// Application message.
    pub payload: Bytes,
}

/// Properties of PUBLISH (MQTT 5 section 3.3.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishProperties {
    pub payload_format_indicator: Option<PayloadFormat>,
    pub message_expiry_interval_secs: Option<u32>,
    pub topic_alias: Option<NonZeroU16>,
    pub response_topic: Option<TopicName>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: UserProperties,
    pub subscription_identifiers: Vec<NonZeroU32>,
    pub content_type: Option<MqttString>,
    /// The order the properties arrived in, so re-encoding reproduces it; not part of the value.
    pub wire_order: WireOrder,
}

static EMPTY_PUBLISH_PROPERTIES: PublishProperties = PublishProperties {
    payload_format_indicator: None,
    message_expiry_interval_secs: None,
    topic_alias: None,
    response_topic: None,
    correlation_data: None,
    user_properties: Vec::new(),
    subscription_identifiers: Vec::new(),
    content_type: None,
    wire_order: WireOrder::EMPTY,
};

impl EmptyProperties for PublishProperties {
    fn empty() -> &'static Self {
        &EMPTY_PUBLISH_PROPERTIES
    }
}

impl PropertySet for PublishProperties {
    fn wire_order(&self) -> &WireOrder {
        &self.wire_order
    }

    fn wire_order_mut(&mut self) -> &mut WireOrder {
        &mut self.wire_order
    }

    const REPEATABLE: u64 = 1 << id::SUBSCRIPTION_IDENTIFIER;

    fn set(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::PAYLOAD_FORMAT_INDICATOR, Value::Byte(v)) => {
                self.payload_format_indicator = Some(properties::payload_format(v)?)
            }
            (id::MESSAGE_EXPIRY_INTERVAL, Value::U32(v)) => {
                self.message_expiry_interval_secs = Some(v)
            }
            (id::TOPIC_ALIAS, Value::U16(v)) => {
                let alias = NonZeroU16::new(v).ok_or(
                    DecodeError::protocol("topic alias is 0")
                        .with_reason(crate::ReasonCode::TopicAliasInvalid)
                        .rule("MQTT-3.3.2-8"),
                )?;
                self.topic_alias = Some(alias);
            }
            (id::RESPONSE_TOPIC, Value::Str(v)) => {
                self.response_topic = Some(properties::response_topic(v)?)
            }
            (id::CORRELATION_DATA, Value::Bin(v)) => self.correlation_data = Some(v),
            (id::USER_PROPERTY, Value::Pair(k, v)) => self.user_properties.push((k, v)),
            (id::SUBSCRIPTION_IDENTIFIER, Value::Vbi(v)) => self
                .subscription_identifiers
                .push(properties::subscription_id(v)?),
            (id::CONTENT_TYPE, Value::Str(v)) => self.content_type = Some(v),
            _ => return Err(not_allowed()),
        }
        Ok(())
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        if let Some(v) = self.payload_format_indicator {
            s.byte(
                id::PAYLOAD_FORMAT_INDICATOR,
                properties::payload_format_byte(v),
            );
        }
        if let Some(v) = self.message_expiry_interval_secs {
            s.u32(id::MESSAGE_EXPIRY_INTERVAL, v);
        }
        if let Some(v) = self.topic_alias {
            s.u16(id::TOPIC_ALIAS, v.get());
        }
        if let Some(v) = &self.response_topic {
            s.str(id::RESPONSE_TOPIC, v.as_mqtt_str());
        }
        if let Some(v) = &self.correlation_data {
            s.bin(id::CORRELATION_DATA, v);
        }
        s.users(&self.user_properties);
        for v in &self.subscription_identifiers {
            s.vbi(id::SUBSCRIPTION_IDENTIFIER, v.get());
        }
        if let Some(v) = &self.content_type {
            s.str(id::CONTENT_TYPE, v);
        }
    }
}

const FLAG_DUP: u8 = 0b1000;
const FLAG_RETAIN: u8 = 0b0001;

impl Publish {
    pub(crate) fn decode(
        flags: u8,
        body: Bytes,
        v: ProtocolVersion,
    ) -> Result<Publish, DecodeError> {
        let qos = QoS::from_u8((flags >> 1) & 0b11)
            .ok_or(DecodeError::malformed("PUBLISH with QoS 3").rule("MQTT-3.3.1-4"))?;
        let dup = flags & FLAG_DUP != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::malformed("DUP set on a QoS 0 PUBLISH").rule("MQTT-3.3.1-2"));
        }
        let mut r = Reader::new(body);
        let topic = TopicName::from_bytes(r.binary("topic name missing")?)?;
        let qos_pid = match qos {
            QoS::AtMostOnce => QosPid::AtMostOnce,
            _ => QosPid::from_parts(qos, PacketId::decode(r.u16("packet identifier missing")?)?),
        };
        let properties: Boxed<PublishProperties> = if v.is_v5() {
            properties::decode_boxed(&mut r)?
        } else {
            Default::default()
        };
        if topic.is_empty() && properties.topic_alias.is_none() {
            let err = if v.is_v5() {
                DecodeError::protocol("empty topic name without a topic alias")
                    .with_reason(crate::ReasonCode::TopicNameInvalid)
            } else {
                DecodeError::malformed("empty topic name").rule("MQTT-4.7.3-1")
            };
            return Err(err);
        }
        Ok(Publish {
            dup,
            qos_pid,
            retain: flags & FLAG_RETAIN != 0,
            topic,
            properties,
            payload: r.rest(),
        })
    }

    /// The fixed-header flags this PUBLISH encodes to.
    pub fn flags(&self) -> u8 {
        let mut flags = self.qos_pid.qos().as_u8() << 1;
        if self.dup {
            flags |= FLAG_DUP;
        }
        if self.retain {
            flags |= FLAG_RETAIN;
        }
        flags
    }

    /// Length of the body (everything after the fixed header) for version `v`.
    pub fn body_len(&self, v: ProtocolVersion) -> Result<usize, EncodeError> {
        let mut len = prefixed_len(self.topic.len()) + self.payload.len();
        if self.qos_pid.packet_id().is_some() {
            len += 2;
        }
        if v.is_v5() {
            len += properties::encoded_len(&*self.properties)?;
        }
        Ok(len)
    }

    /// Encode for a connection speaking `v`.
    pub fn encode(&self, v: ProtocolVersion, out: &mut BytesMut) -> Result<(), EncodeError> {
        debug_assert!(
            !(self.dup && self.qos_pid == QosPid::AtMostOnce),
            "DUP on QoS 0"
        );
        let len = self.body_len(v)?;
        put_fixed_header(out, first_byte(PacketType::Publish, self.flags()), len)?;
        put_string(out, self.topic.as_mqtt_str());
        if let Some(pid) = self.qos_pid.packet_id() {
            out.put_u16(pid.get());
        }
        if v.is_v5() {
            properties::write(&*self.properties, out);
        }
        out.put_slice(&self.payload);
        Ok(())
    }
}
