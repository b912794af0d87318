//! UNSUBSCRIBE (MQTT 5 section 3.10, MQTT 3.1.1 section 3.10).

use super::{PacketType, check_flags, first_byte};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{
    self, PropertySet, Sink, UserProperties, Value, WireOrder, id, not_allowed,
};
use crate::reader::Reader;
use crate::topic::TopicFilter;
use crate::types::{PacketId, ProtocolVersion};
use crate::writer::{prefixed_len, put_fixed_header, put_string};
use bytes::{BufMut, Bytes, BytesMut};

/// Properties of UNSUBSCRIBE: User Properties only.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnsubscribeProperties {
    pub user_properties: UserProperties,
    /// The order the properties arrived in, so re-encoding reproduces it; not part of the value.
    pub wire_order: WireOrder,
}

impl PropertySet for UnsubscribeProperties {
    fn wire_order(&self) -> Option<&WireOrder> {
        Some(&self.wire_order)
    }

    fn wire_order_mut(&mut self) -> Option<&mut WireOrder> {
        Some(&mut self.wire_order)
    }

    fn set(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::USER_PROPERTY, Value::Pair(k, v)) => self.user_properties.push((k, v)),
            _ => return Err(not_allowed()),
        }
        Ok(())
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        s.users(&self.user_properties);
    }
}

/// The UNSUBSCRIBE packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Packet identifier, echoed by UNSUBACK.
    pub packet_id: PacketId,
    /// MQTT 5 properties.
    pub properties: UnsubscribeProperties,
    /// Filters to remove, at least one.
    pub filters: Vec<TopicFilter>,
}

impl Unsubscribe {
    pub(crate) fn decode(
        flags: u8,
        body: Bytes,
        v: ProtocolVersion,
    ) -> Result<Unsubscribe, DecodeError> {
        check_flags(flags, 0b0010, v).map_err(|e| e.rule("MQTT-3.10.1-1"))?;
        let mut r = Reader::new(body);
        let packet_id = PacketId::decode(r.u16("packet identifier missing")?)?;
        let properties = if v.is_v5() {
            properties::decode(&mut r)?
        } else {
            Default::default()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            filters.push(TopicFilter::from_string(
                r.string("topic filter truncated")?,
            )?);
        }
        if filters.is_empty() {
            return Err(
                DecodeError::protocol("UNSUBSCRIBE without a topic filter").rule("MQTT-3.10.3-2")
            );
        }
        Ok(Unsubscribe {
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
        for filter in &self.filters {
            len += prefixed_len(filter.as_str().len());
        }
        put_fixed_header(out, first_byte(PacketType::Unsubscribe, 0b0010), len)?;
        out.put_u16(self.packet_id.get());
        if v.is_v5() {
            properties::write(&self.properties, out);
        }
        for filter in &self.filters {
            put_string(out, filter.as_mqtt_str());
        }
        Ok(())
    }
}
