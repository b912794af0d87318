//! AUTH (MQTT 5 section 3.15): extended authentication exchanges. It does not exist in 3.x,
//! where packet type 15 is reserved and therefore malformed.

use super::{PacketType, check_flags, first_byte};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{
    self, PropertySet, Sink, UserProperties, Value, WireOrder, id, not_allowed,
};
use crate::reader::Reader;
use crate::reason::{ReasonCode, ReasonContext};
use crate::string::MqttString;
use crate::types::ProtocolVersion;
use crate::writer::put_fixed_header;
use bytes::{BufMut, Bytes, BytesMut};

/// Properties of AUTH (MQTT 5 section 3.15.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthProperties {
    pub authentication_method: Option<MqttString>,
    pub authentication_data: Option<Bytes>,
    pub reason_string: Option<MqttString>,
    pub user_properties: UserProperties,
    /// The order the properties arrived in, so re-encoding reproduces it; not part of the value.
    pub wire_order: WireOrder,
}

impl PropertySet for AuthProperties {
    fn wire_order(&self) -> Option<&WireOrder> {
        Some(&self.wire_order)
    }

    fn wire_order_mut(&mut self) -> Option<&mut WireOrder> {
        Some(&mut self.wire_order)
    }

    fn set(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::AUTHENTICATION_METHOD, Value::Str(v)) => self.authentication_method = Some(v),
            (id::AUTHENTICATION_DATA, Value::Bin(v)) => self.authentication_data = Some(v),
            (id::REASON_STRING, Value::Str(v)) => self.reason_string = Some(v),
            (id::USER_PROPERTY, Value::Pair(k, v)) => self.user_properties.push((k, v)),
            _ => return Err(not_allowed()),
        }
        Ok(())
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        if let Some(v) = &self.authentication_method {
            s.str(id::AUTHENTICATION_METHOD, v);
        }
        if let Some(v) = &self.authentication_data {
            s.bin(id::AUTHENTICATION_DATA, v);
        }
        if let Some(v) = &self.reason_string {
            s.str(id::REASON_STRING, v);
        }
        s.users(&self.user_properties);
    }
}

/// The AUTH packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    /// Success, Continue authentication or Re-authenticate.
    pub reason: ReasonCode,
    /// Properties.
    pub properties: AuthProperties,
}

impl Auth {
    pub(crate) fn decode(flags: u8, body: Bytes, v: ProtocolVersion) -> Result<Auth, DecodeError> {
        if !v.is_v5() {
            return Err(DecodeError::malformed(
                "packet type 15 is reserved before MQTT 5",
            ));
        }
        check_flags(flags, 0, v).map_err(|e| e.rule("MQTT-3.15.1-1"))?;
        let mut r = Reader::new(body);
        let mut out = Auth::default();
        if !r.is_empty() {
            out.reason = ReasonContext::Auth
                .decode(r.u8("reason code missing")?)
                .map_err(|e| e.rule("MQTT-3.15.2-1"))?;
            out.properties = properties::decode(&mut r)?;
        }
        r.finish("trailing bytes after AUTH")?;
        Ok(out)
    }

    /// Encode (MQTT 5 only).
    pub fn encode(&self, v: ProtocolVersion, out: &mut BytesMut) -> Result<(), EncodeError> {
        if !v.is_v5() {
            return Err(EncodeError::NotInVersion);
        }
        let short =
            self.reason == ReasonCode::Success && self.properties == AuthProperties::default();
        let len = if short {
            0
        } else {
            1 + properties::encoded_len(&self.properties)?
        };
        put_fixed_header(out, first_byte(PacketType::Auth, 0), len)?;
        if !short {
            out.put_u8(self.reason.as_u8());
            properties::write(&self.properties, out);
        }
        Ok(())
    }
}
