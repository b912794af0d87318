//! CONNECT (MQTT 5 section 3.1, MQTT 3.1.1 section 3.1, MQTT 3.1), its properties and the will.
//!
//! The decoder identifies the protocol from the protocol name and level, so it is the one packet
//! decoded without knowing the connection's version. Semantics that depend on broker policy
//! (assigning client ids, keepalive limits, authentication) belong to the core.

use super::{check_flags, first_byte};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{
    self, PayloadFormat, PropertySet, Sink, UserProperties, Value, WireOrder, id, not_allowed,
};
use crate::reader::Reader;
use crate::string::MqttString;
use crate::topic::TopicName;
use crate::types::{ClientId, ProtocolVersion, QoS};
use crate::writer::{check_binary_len, prefixed_len, put_binary, put_fixed_header, put_string};
use bytes::{BufMut, Bytes, BytesMut};
use std::num::{NonZeroU16, NonZeroU32};

/// The CONNECT packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Connect {
    /// Protocol version named by the protocol name and level.
    pub protocol: ConnectProtocol,
    /// Clean Session (3.x) or Clean Start (5.0).
    pub clean_start: bool,
    /// Keep Alive in seconds; 0 turns the mechanism off.
    pub keep_alive_secs: u16,
    /// MQTT 5 properties (empty and not encoded for 3.x).
    pub properties: ConnectProperties,
    /// The client identifier, possibly empty.
    pub client_id: ClientId,
    /// The will message, if the Will Flag is set.
    pub will: Option<Will>,
    /// User Name, if its flag is set.
    pub username: Option<MqttString>,
    /// Password, if its flag is set.
    pub password: Option<Bytes>,
}

/// Protocol version wrapper with a default, so `Connect` can derive `Default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectProtocol(pub ProtocolVersion);

impl Default for ConnectProtocol {
    fn default() -> Self {
        ConnectProtocol(ProtocolVersion::V3_1_1)
    }
}

/// The will message carried in CONNECT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Will {
    /// Will Topic.
    pub topic: TopicName,
    /// Will Payload.
    pub payload: Bytes,
    /// Will QoS.
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// MQTT 5 will properties.
    pub properties: WillProperties,
}

/// Properties of CONNECT (MQTT 5 section 3.1.2.11).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectProperties {
    pub session_expiry_interval_secs: Option<u32>,
    pub receive_maximum: Option<NonZeroU16>,
    pub maximum_packet_size: Option<NonZeroU32>,
    pub topic_alias_maximum: Option<u16>,
    pub request_response_information: Option<bool>,
    pub request_problem_information: Option<bool>,
    pub user_properties: UserProperties,
    pub authentication_method: Option<MqttString>,
    pub authentication_data: Option<Bytes>,
    /// The order the properties arrived in, so re-encoding reproduces it; not part of the value.
    pub wire_order: WireOrder,
}

impl PropertySet for ConnectProperties {
    fn wire_order(&self) -> Option<&WireOrder> {
        Some(&self.wire_order)
    }

    fn wire_order_mut(&mut self) -> Option<&mut WireOrder> {
        Some(&mut self.wire_order)
    }

    fn set(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::SESSION_EXPIRY_INTERVAL, Value::U32(v)) => {
                self.session_expiry_interval_secs = Some(v)
            }
            (id::RECEIVE_MAXIMUM, Value::U16(v)) => {
                self.receive_maximum = Some(properties::non_zero_u16(v, "receive maximum is 0")?)
            }
            (id::MAXIMUM_PACKET_SIZE, Value::U32(v)) => {
                self.maximum_packet_size =
                    Some(properties::non_zero_u32(v, "maximum packet size is 0")?)
            }
            (id::TOPIC_ALIAS_MAXIMUM, Value::U16(v)) => self.topic_alias_maximum = Some(v),
            (id::REQUEST_RESPONSE_INFORMATION, Value::Byte(v)) => {
                self.request_response_information = Some(properties::flag(
                    v,
                    "request response information not 0 or 1",
                )?)
            }
            (id::REQUEST_PROBLEM_INFORMATION, Value::Byte(v)) => {
                self.request_problem_information = Some(properties::flag(
                    v,
                    "request problem information not 0 or 1",
                )?)
            }
            (id::USER_PROPERTY, Value::Pair(k, v)) => self.user_properties.push((k, v)),
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
        if let Some(v) = self.maximum_packet_size {
            s.u32(id::MAXIMUM_PACKET_SIZE, v.get());
        }
        if let Some(v) = self.topic_alias_maximum {
            s.u16(id::TOPIC_ALIAS_MAXIMUM, v);
        }
        if let Some(v) = self.request_response_information {
            s.byte(id::REQUEST_RESPONSE_INFORMATION, u8::from(v));
        }
        if let Some(v) = self.request_problem_information {
            s.byte(id::REQUEST_PROBLEM_INFORMATION, u8::from(v));
        }
        s.users(&self.user_properties);
        if let Some(v) = &self.authentication_method {
            s.str(id::AUTHENTICATION_METHOD, v);
        }
        if let Some(v) = &self.authentication_data {
            s.bin(id::AUTHENTICATION_DATA, v);
        }
    }
}

/// Will properties (MQTT 5 section 3.1.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WillProperties {
    pub will_delay_interval_secs: Option<u32>,
    pub payload_format_indicator: Option<PayloadFormat>,
    pub message_expiry_interval_secs: Option<u32>,
    pub content_type: Option<MqttString>,
    pub response_topic: Option<TopicName>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: UserProperties,
    /// The order the properties arrived in, so re-encoding reproduces it; not part of the value.
    pub wire_order: WireOrder,
}

impl PropertySet for WillProperties {
    fn wire_order(&self) -> Option<&WireOrder> {
        Some(&self.wire_order)
    }

    fn wire_order_mut(&mut self) -> Option<&mut WireOrder> {
        Some(&mut self.wire_order)
    }

    fn set(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::WILL_DELAY_INTERVAL, Value::U32(v)) => self.will_delay_interval_secs = Some(v),
            (id::PAYLOAD_FORMAT_INDICATOR, Value::Byte(v)) => {
                self.payload_format_indicator = Some(properties::payload_format(v)?)
            }
            (id::MESSAGE_EXPIRY_INTERVAL, Value::U32(v)) => {
                self.message_expiry_interval_secs = Some(v)
            }
            (id::CONTENT_TYPE, Value::Str(v)) => self.content_type = Some(v),
            (id::RESPONSE_TOPIC, Value::Str(v)) => {
                self.response_topic = Some(properties::response_topic(v)?)
            }
            (id::CORRELATION_DATA, Value::Bin(v)) => self.correlation_data = Some(v),
            (id::USER_PROPERTY, Value::Pair(k, v)) => self.user_properties.push((k, v)),
            _ => return Err(not_allowed()),
        }
        Ok(())
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        if let Some(v) = self.will_delay_interval_secs {
            s.u32(id::WILL_DELAY_INTERVAL, v);
        }
        if let Some(v) = self.payload_format_indicator {
            s.byte(
                id::PAYLOAD_FORMAT_INDICATOR,
                properties::payload_format_byte(v),
            );
        }
        if let Some(v) = self.message_expiry_interval_secs {
            s.u32(id::MESSAGE_EXPIRY_INTERVAL, v);
        }
        if let Some(v) = &self.content_type {
            s.str(id::CONTENT_TYPE, v);
        }
        if let Some(v) = &self.response_topic {
            s.str(id::RESPONSE_TOPIC, v.as_mqtt_str());
        }
        if let Some(v) = &self.correlation_data {
            s.bin(id::CORRELATION_DATA, v);
        }
        s.users(&self.user_properties);
    }
}

const FLAG_USERNAME: u8 = 0x80;
const FLAG_PASSWORD: u8 = 0x40;
const FLAG_WILL_RETAIN: u8 = 0x20;
const FLAG_WILL: u8 = 0x04;
const FLAG_CLEAN: u8 = 0x02;
const FLAG_RESERVED: u8 = 0x01;

/// The protocol level byte of a CONNECT body, if the body is long enough to have one. The core
/// uses it to answer an unsupported level in that level's CONNACK layout (MQTT-3.1.2-2).
pub fn connect_level(body: &[u8]) -> Option<u8> {
    let name_len = usize::from(u16::from_be_bytes(*body.first_chunk::<2>()?));
    body.get(2 + name_len).copied()
}

fn read_protocol(r: &mut Reader) -> Result<ProtocolVersion, DecodeError> {
    let name = r.binary("protocol name truncated")?;
    let level = r.u8("protocol level missing")?;
    match (&name[..], level) {
        (b"MQTT", 4) => Ok(ProtocolVersion::V3_1_1),
        (b"MQTT", 5) => Ok(ProtocolVersion::V5),
        (b"MQIsdp", 3) => Ok(ProtocolVersion::V3_1),
        (b"MQTT" | b"MQIsdp", _) => {
            Err(DecodeError::unsupported("unsupported protocol level").rule("MQTT-3.1.2-2"))
        }
        _ => Err(DecodeError::unsupported("unknown protocol name").rule("MQTT-3.1.2-1")),
    }
}

impl Connect {
    pub(crate) fn decode(flags: u8, body: Bytes) -> Result<Connect, DecodeError> {
        let mut r = Reader::new(body);
        let protocol = read_protocol(&mut r)?;
        check_flags(flags, 0, protocol)?;
        let connect_flags = r.u8("connect flags missing")?;
        if connect_flags & FLAG_RESERVED != 0 {
            return Err(
                DecodeError::malformed("connect flags reserved bit set").rule("MQTT-3.1.2-3")
            );
        }
        let v5 = protocol.is_v5();
        let will_qos = QoS::from_u8((connect_flags >> 3) & 0x03).ok_or(
            DecodeError::malformed("will QoS is 3").rule(if v5 {
                "MQTT-3.1.2-12"
            } else {
                "MQTT-3.1.2-14"
            }),
        )?;
        let will_flag = connect_flags & FLAG_WILL != 0;
        let will_retain = connect_flags & FLAG_WILL_RETAIN != 0;
        if !will_flag && will_qos != QoS::AtMostOnce {
            return Err(
                DecodeError::malformed("will QoS set without will flag").rule(if v5 {
                    "MQTT-3.1.2-11"
                } else {
                    "MQTT-3.1.2-13"
                }),
            );
        }
        if !will_flag && will_retain {
            return Err(
                DecodeError::malformed("will retain set without will flag").rule(if v5 {
                    "MQTT-3.1.2-13"
                } else {
                    "MQTT-3.1.2-15"
                }),
            );
        }
        let has_username = connect_flags & FLAG_USERNAME != 0;
        let has_password = connect_flags & FLAG_PASSWORD != 0;
        if has_password && !has_username && !protocol.is_v5() {
            return Err(
                DecodeError::malformed("password flag without username flag").rule("MQTT-3.1.2-22"),
            );
        }
        let keep_alive_secs = r.u16("keep alive missing")?;
        let properties = if protocol.is_v5() {
            properties::decode(&mut r)?
        } else {
            Default::default()
        };
        let client_id = ClientId::new(r.string("client identifier missing")?);
        let will = if will_flag {
            let properties = if protocol.is_v5() {
                properties::decode(&mut r)?
            } else {
                Default::default()
            };
            let topic = TopicName::from_string(r.string("will topic missing")?)?;
            if topic.is_empty() {
                return Err(DecodeError::malformed("empty will topic").rule("MQTT-4.7.3-1"));
            }
            let payload = r.binary("will payload missing")?;
            Some(Will {
                topic,
                payload,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if has_username {
            Some(r.string("user name missing")?)
        } else {
            None
        };
        let password = if has_password {
            Some(r.binary("password missing")?)
        } else {
            None
        };
        r.finish("trailing bytes after CONNECT payload")?;
        Ok(Connect {
            protocol: ConnectProtocol(protocol),
            clean_start: connect_flags & FLAG_CLEAN != 0,
            keep_alive_secs,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }

    fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.clean_start {
            flags |= FLAG_CLEAN;
        }
        if let Some(will) = &self.will {
            flags |= FLAG_WILL | (will.qos.as_u8() << 3);
            if will.retain {
                flags |= FLAG_WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            flags |= FLAG_USERNAME;
        }
        if self.password.is_some() {
            flags |= FLAG_PASSWORD;
        }
        flags
    }

    /// Encode in the layout of `self.protocol` (the connection's version is the CONNECT's).
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let v = self.protocol.0;
        let mut len = prefixed_len(v.name().len()) + 1 + 1 + 2;
        if v.is_v5() {
            len += properties::encoded_len(&self.properties)?;
        }
        len += prefixed_len(self.client_id.as_str().len());
        if let Some(will) = &self.will {
            if v.is_v5() {
                len += properties::encoded_len(&will.properties)?;
            }
            check_binary_len(will.payload.len())?;
            len += prefixed_len(will.topic.len()) + prefixed_len(will.payload.len());
        }
        if let Some(username) = &self.username {
            len += prefixed_len(username.len());
        }
        if let Some(password) = &self.password {
            check_binary_len(password.len())?;
            len += prefixed_len(password.len());
        }
        put_fixed_header(out, first_byte(super::PacketType::Connect, 0), len)?;
        put_binary(out, v.name().as_bytes());
        out.put_u8(v.level());
        out.put_u8(self.flags());
        out.put_u16(self.keep_alive_secs);
        if v.is_v5() {
            properties::write(&self.properties, out);
        }
        put_string(out, self.client_id.as_mqtt_str());
        if let Some(will) = &self.will {
            if v.is_v5() {
                properties::write(&will.properties, out);
            }
            put_string(out, will.topic.as_mqtt_str());
            put_binary(out, &will.payload);
        }
        if let Some(username) = &self.username {
            put_string(out, username);
        }
        if let Some(password) = &self.password {
            put_binary(out, password);
        }
        Ok(())
    }
}
