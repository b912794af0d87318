//! SUBSCRIBE (MQTT 5 section 3.8, MQTT 3.1.1 section 3.8) and its subscription options.

use super::{PacketType, check_flags, first_byte};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{
    self, PropertySet, Sink, UserProperties, Value, WireOrder, id, not_allowed,
};
use crate::reader::Reader;
use crate::topic::TopicFilter;
use crate::types::{PacketId, ProtocolVersion, QoS};
use crate::writer::{prefixed_len, put_fixed_header, put_string};
use bytes::{BufMut, Bytes, BytesMut};
use std::num::NonZeroU32;

/// Retain Handling (MQTT 5 section 3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe,
    /// 1: send them only if the subscription did not exist yet.
    SendIfNew,
    /// 2: do not send retained messages.
    DoNotSend,
}

/// The options byte that follows each topic filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS the subscriber wants.
    pub qos: QoS,
    /// MQTT 5 No Local.
    pub no_local: bool,
    /// MQTT 5 Retain As Published.
    pub retain_as_published: bool,
    /// MQTT 5 Retain Handling.
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    fn decode(byte: u8, v: ProtocolVersion) -> Result<Self, DecodeError> {
        let reserved = if v.is_v5() { 0xC0 } else { 0xFC };
        if byte & reserved != 0 {
            let rule = if v.is_v5() {
                "MQTT-3.8.3-5"
            } else {
                "MQTT-3.8.3-4"
            };
            return Err(
                DecodeError::malformed("subscription options reserved bits set").rule(rule),
            );
        }
        let qos = QoS::from_u8(byte & 0b11)
            .ok_or(DecodeError::malformed("subscription QoS is 3").rule("MQTT-3.8.3-4"))?;
        let retain_handling = match (byte >> 4) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(DecodeError::protocol("retain handling is 3")),
        };
        Ok(SubscriptionOptions {
            qos,
            no_local: byte & 0b0100 != 0,
            retain_as_published: byte & 0b1000 != 0,
            retain_handling,
        })
    }

    fn encode(self, v: ProtocolVersion) -> u8 {
        let mut byte = self.qos.as_u8();
        if v.is_v5() {
            byte |= u8::from(self.no_local) << 2;
            byte |= u8::from(self.retain_as_published) << 3;
            byte |= match self.retain_handling {
                RetainHandling::SendAtSubscribe => 0,
                RetainHandling::SendIfNew => 1 << 4,
                RetainHandling::DoNotSend => 2 << 4,
            };
        }
        byte
    }
}

/// Properties of SUBSCRIBE (MQTT 5 section 3.8.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscribeProperties {
    pub subscription_identifier: Option<NonZeroU32>,
    pub user_properties: UserProperties,
    /// The order the properties arrived in, so re-encoding reproduces it; not part of the value.
    pub wire_order: WireOrder,
}

impl PropertySet for SubscribeProperties {
    fn wire_order(&self) -> Option<&WireOrder> {
        Some(&self.wire_order)
    }

    fn wire_order_mut(&mut self) -> Option<&mut WireOrder> {
        Some(&mut self.wire_order)
    }

    fn set(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::SUBSCRIPTION_IDENTIFIER, Value::Vbi(v)) => {
                self.subscription_identifier = Some(properties::subscription_id(v)?)
            }
            (id::USER_PROPERTY, Value::Pair(k, v)) => self.user_properties.push((k, v)),
            _ => return Err(not_allowed()),
        }
        Ok(())
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        if let Some(v) = self.subscription_identifier {
            s.vbi(id::SUBSCRIPTION_IDENTIFIER, v.get());
        }
        s.users(&self.user_properties);
    }
}

/// The SUBSCRIBE packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// Packet identifier, echoed by SUBACK.
    pub packet_id: PacketId,
    /// MQTT 5 properties.
    pub properties: SubscribeProperties,
    /// Filters with their options, at least one.
    pub filters: Vec<(TopicFilter, SubscriptionOptions)>,
}

impl Subscribe {
    pub(crate) fn decode(
        flags: u8,
        body: Bytes,
        v: ProtocolVersion,
    ) -> Result<Subscribe, DecodeError> {
        check_flags(flags, 0b0010, v).map_err(|e| e.rule("MQTT-3.8.1-1"))?;
        let mut r = Reader::new(body);
        let packet_id = PacketId::decode(r.u16("packet identifier missing")?)?;
        let properties = if v.is_v5() {
            properties::decode(&mut r)?
        } else {
            Default::default()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = TopicFilter::from_string(r.string("topic filter truncated")?)?;
            let options = SubscriptionOptions::decode(r.u8("subscription options missing")?, v)?;
            if options.no_local && filter.share().is_some() {
                return Err(
                    DecodeError::protocol("No Local on a shared subscription").rule("MQTT-3.8.3-4")
                );
            }
            filters.push((filter, options));
        }
        if filters.is_empty() {
            let rule = if v.is_v5() {
                "MQTT-3.8.3-2"
            } else {
                "MQTT-3.8.3-3"
            };
            return Err(DecodeError::protocol("SUBSCRIBE without a topic filter").rule(rule));
        }
        Ok(Subscribe {
            packet_id,
            properties,
            filters,
        })
    }

    /// Encode for a connection speaking `v`.
    pub fn encode(&self, v: ProtocolVersion, out: &mut BytesMut) -> Result<(), EncodeError> {
        let mut len = 2;
        if v.is_v5() {
            len += properties::encoded_len(&self.properties)?;
        }
        for (filter, _) in &self.filters {
            len += prefixed_len(filter.as_str().len()) + 1;
        }
        put_fixed_header(out, first_byte(PacketType::Subscribe, 0b0010), len)?;
        out.put_u16(self.packet_id.get());
        if v.is_v5() {
            properties::write(&self.properties, out);
        }
        for (filter, options) in &self.filters {
            put_string(out, filter.as_mqtt_str());
            out.put_u8(options.encode(v));
        }
        Ok(())
    }
}
