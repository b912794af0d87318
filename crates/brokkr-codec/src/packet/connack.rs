//! CONNACK (MQTT 5 section 3.2, MQTT 3.1.1 section 3.2, MQTT 3.1).
//!
//! MQTT 5 carries a reason code and properties; 3.x carries a return code 0..=5, mapped to and
//! from the matching reason code by [`crate::reason`]. MQTT 3.1 has no Session Present flag.

use super::{PacketType, check_flags, first_byte};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{
    self, PropertySet, Sink, UserProperties, Value, WireOrder, id, not_allowed,
};
use crate::reader::Reader;
use crate::reason::{self, ReasonCode, ReasonContext};
use crate::string::MqttString;
use crate::types::{ProtocolVersion, QoS};
use crate::writer::put_fixed_header;
use bytes::{BufMut, Bytes, BytesMut};
use std::num::{NonZeroU16, NonZeroU32};

/// The CONNACK packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAck {
    /// Session Present (always false in MQTT 3.1 and with a refusal: MQTT-3.2.2-6).
    pub session_present: bool,
    /// Reason code; for 3.x only the six codes with a return code survive encoding.
    pub reason: ReasonCode,
    /// MQTT 5 properties (never encoded for 3.x).
    pub properties: ConnAckProperties,
}

/// Properties of CONNACK (MQTT 5 section 3.2.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAckProperties {
    pub session_expiry_interval_secs: Option<u32>,
    pub receive_maximum: Option<NonZeroU16>,
    pub maximum_qos: Option<QoS>,
    pub retain_available: Option<bool>,
    pub maximum_packet_size: Option<NonZeroU32>,
    pub assigned_client_identifier: Option<MqttString>,
    pub topic_alias_maximum: Option<u16>,
    pub reason_string: Option<MqttString>,
    pub user_properties: UserProperties,
    pub wildcard_subscription_available: Option<bool>,
    pub subscription_identifiers_available: Option<bool>,
    pub shared_subscription_available: Option<bool>,
    pub server_keep_alive_secs: Option<u16>,
    pub response_information: Option<MqttString>,
    pub server_reference: Option<MqttString>,
    pub authentication_method: Option<MqttString>,
    pub authentication_data: Option<Bytes>,
    /// The order the properties arrived in, so re-encoding reproduces it; not part of the value.
    pub wire_order: WireOrder,
}

impl PropertySet for ConnAckProperties {
    fn wire_order(&self) -> Option<&WireOrder> {
        Some(&self.wire_order)
    }

    fn wire_order_mut(&mut self) -> Option<&mut WireOrder> {
        Some(&mut self.wire_order)
    }

    fn set(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        use properties::flag;
        match (pid, value) {
            (id::SESSION_EXPIRY_INTERVAL, Value::U32(v)) => {
                self.session_expiry_interval_secs = Some(v)
            }
            (id::RECEIVE_MAXIMUM, Value::U16(v)) => {
                self.receive_maximum = Some(properties::non_zero_u16(v, "receive maximum is 0")?)
            }
            (id::MAXIMUM_QOS, Value::Byte(v)) => self.maximum_qos = Some(properties::max_qos(v)?),
            (id::RETAIN_AVAILABLE, Value::Byte(v)) => {
                self.retain_available = Some(flag(v, "retain available not 0 or 1")?)
            }
            (id::MAXIMUM_PACKET_SIZE, Value::U32(v)) => {
                self.maximum_packet_size =
                    Some(properties::non_zero_u32(v, "maximum packet size is 0")?)
            }
            (id::ASSIGNED_CLIENT_IDENTIFIER, Value::Str(v)) => {
                self.assigned_client_identifier = Some(v)
            }
            (id::TOPIC_ALIAS_MAXIMUM, Value::U16(v)) => self.topic_alias_maximum = Some(v),
            (id::REASON_STRING, Value::Str(v)) => self.reason_string = Some(v),
            (id::USER_PROPERTY, Value::Pair(k, v)) => self.user_properties.push((k, v)),
            (id::WILDCARD_SUBSCRIPTION_AVAILABLE, Value::Byte(v)) => {
                self.wildcard_subscription_available =
                    Some(flag(v, "wildcard subscription available not 0 or 1")?)
            }
            (id::SUBSCRIPTION_IDENTIFIER_AVAILABLE, Value::Byte(v)) => {
                self.subscription_identifiers_available =
                    Some(flag(v, "subscription identifiers available not 0 or 1")?)
            }
            (id::SHARED_SUBSCRIPTION_AVAILABLE, Value::Byte(v)) => {
                self.shared_subscription_available =
                    Some(flag(v, "shared subscription available not 0 or 1")?)
            }
            (id::SERVER_KEEP_ALIVE, Value::U16(v)) => self.server_keep_alive_secs = Some(v),
            (id::RESPONSE_INFORMATION, Value::Str(v)) => self.response_information = Some(v),
            (id::SERVER_REFERENCE, Value::Str(v)) => self.server_reference = Some(v),
            (id::AUTHENTICATION_METHOD, Value::Str(v)) => self.authentication_method = Some(v),
            (id::AUTHENTICATION_DATA, Value::Bin(v)) => self.authentication_data = Some(v),
            _ => return Err(not_allowed()),
        }
        Ok(())
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        if let Some(v) = self.session_expiry_interval_secs {
            s.u32(id::SESSION_EXPIRY_INTERVAL, v);
        }
        if let Some(v) = self.receive_maximum {
            s.u16(id::RECEIVE_MAXIMUM, v.get());
        }
        if let Some(v) = self.maximum_qos {
            debug_assert!(v != QoS::ExactlyOnce, "maximum QoS is 0 or 1");
            s.byte(id::MAXIMUM_QOS, v.as_u8());
        }
        if let Some(v) = self.retain_available {
            s.byte(id::RETAIN_AVAILABLE, u8::from(v));
        }
        if let Some(v) = self.maximum_packet_size {
            s.u32(id::MAXIMUM_PACKET_SIZE, v.get());
        }
        if let Some(v) = &self.assigned_client_identifier {
            s.str(id::ASSIGNED_CLIENT_IDENTIFIER, v);
        }
        if let Some(v) = self.topic_alias_maximum {
            s.u16(id::TOPIC_ALIAS_MAXIMUM, v);
        }
        if let Some(v) = &self.reason_string {
            s.str(id::REASON_STRING, v);
        }
        s.users(&self.user_properties);
        if let Some(v) = self.wildcard_subscription_available {
            s.byte(id::WILDCARD_SUBSCRIPTION_AVAILABLE, u8::from(v));
        }
        if let Some(v) = self.subscription_identifiers_available {
            s.byte(id::SUBSCRIPTION_IDENTIFIER_AVAILABLE, u8::from(v));
        }
        if let Some(v) = self.shared_subscription_available {
            s.byte(id::SHARED_SUBSCRIPTION_AVAILABLE, u8::from(v));
        }
        if let Some(v) = self.server_keep_alive_secs {
            s.u16(id::SERVER_KEEP_ALIVE, v);
        }
        if let Some(v) = &self.response_information {
            s.str(id::RESPONSE_INFORMATION, v);
        }
        if let Some(v) = &self.server_reference {
            s.str(id::SERVER_REFERENCE, v);
        }
        if let Some(v) = &self.authentication_method {
            s.str(id::AUTHENTICATION_METHOD, v);
        }
        if let Some(v) = &self.authentication_data {
            s.bin(id::AUTHENTICATION_DATA, v);
        }
    }
}

impl ConnAck {
    pub(crate) fn decode(
        flags: u8,
        body: Bytes,
        v: ProtocolVersion,
    ) -> Result<ConnAck, DecodeError> {
        check_flags(flags, 0, v)?;
        let mut r = Reader::new(body);
        let ack_flags = r.u8("acknowledge flags missing")?;
        if ack_flags & 0xFE != 0 {
            return Err(
                DecodeError::malformed("CONNACK flags reserved bits set").rule("MQTT-3.2.2-1")
            );
        }
        let session_present = ack_flags & 1 != 0;
        if session_present && v == ProtocolVersion::V3_1 {
            return Err(DecodeError::malformed(
                "MQTT 3.1 CONNACK has no session present flag",
            ));
        }
        let code = r.u8("reason code missing")?;
        let (reason, properties) = if v.is_v5() {
            (
                ReasonContext::ConnAck.decode(code)?,
                properties::decode(&mut r)?,
            )
        } else {
            (
                reason::reason_from_connack_v3(code)?,
                ConnAckProperties::default(),
            )
        };
        r.finish("trailing bytes after CONNACK")?;
        Ok(ConnAck {
            session_present,
            reason,
            properties,
        })
    }

    /// Encode for a connection speaking `v`.
    pub fn encode(&self, v: ProtocolVersion, out: &mut BytesMut) -> Result<(), EncodeError> {
        let session_present = self.session_present && v != ProtocolVersion::V3_1;
        let mut len = 2;
        if v.is_v5() {
            len += properties::encoded_len(&self.properties)?;
        }
        put_fixed_header(out, first_byte(PacketType::ConnAck, 0), len)?;
        out.put_u8(u8::from(session_present));
        if v.is_v5() {
            out.put_u8(self.reason.as_u8());
            properties::write(&self.properties, out);
        } else {
            out.put_u8(reason::connack_return_code_v3(self.reason));
        }
        Ok(())
    }
}
