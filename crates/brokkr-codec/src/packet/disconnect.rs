//! DISCONNECT (MQTT 5 section 3.14, MQTT 3.1.1 section 3.14). In 3.x it has no body; in MQTT 5
//! it may carry a reason code and properties, each of which may be left out (section 3.14.2).

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

/// Properties of DISCONNECT (MQTT 5 section 3.14.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DisconnectProperties {
    pub session_expiry_interval_secs: Option<u32>,
    pub reason_string: Option<MqttString>,
    pub user_properties: UserProperties,
    pub server_reference: Option<MqttString>,
    /// The order the properties arrived in, so re-encoding reproduces it; not part of the value.
    pub wire_order: WireOrder,
}

impl DisconnectProperties {
    fn is_empty(&self) -> bool {
        *self == DisconnectProperties::default()
    }
}

impl PropertySet for DisconnectProperties {
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
            (id::REASON_STRING, Value::Str(v)) => self.reason_string = Some(v),
            (id::USER_PROPERTY, Value::Pair(k, v)) => self.user_properties.push((k, v)),
            (id::SERVER_REFERENCE, Value::Str(v)) => self.server_reference = Some(v),
            _ => return Err(not_allowed()),
        }
        Ok(())
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        if let Some(v) = self.session_expiry_interval_secs {
            s.u32(id::SESSION_EXPIRY_INTERVAL, v);
        }
        if let Some(v) = &self.reason_string {
            s.str(id::REASON_STRING, v);
        }
        s.users(&self.user_properties);
        if let Some(v) = &self.server_reference {
            s.str(id::SERVER_REFERENCE, v);
        }
    }
}

/// The DISCONNECT packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// MQTT 5 reason code (Normal disconnection for 3.x).
    pub reason: ReasonCode,
    /// MQTT 5 properties.
    pub properties: DisconnectProperties,
}

impl Disconnect {
    /// A DISCONNECT with `reason` and no properties.
    pub fn new(reason: ReasonCode) -> Disconnect {
        Disconnect {
            reason,
            properties: Default::default(),
        }
    }

    pub(crate) fn decode(
        flags: u8,
        body: Bytes,
        v: ProtocolVersion,
    ) -> Result<Disconnect, DecodeError> {
        check_flags(flags, 0, v).map_err(|e| e.rule("MQTT-3.14.1-1"))?;
        let mut r = Reader::new(body);
        let mut out = Disconnect::default();
        if v.is_v5() {
            if !r.is_empty() {
                out.reason = ReasonContext::Disconnect
                    .decode(r.u8("reason code missing")?)
                    .map_err(|e| e.rule("MQTT-3.14.2-1"))?;
            }
            if !r.is_empty() {
                out.properties = properties::decode(&mut r)?;
            }
        }
        r.finish("trailing bytes after DISCONNECT")?;
        Ok(out)
    }

    /// Encode for a connection speaking `v` (3.x: always the empty form).
    pub fn encode(&self, v: ProtocolVersion, out: &mut BytesMut) -> Result<(), EncodeError> {
        let with_props = v.is_v5() && !self.properties.is_empty();
        let with_reason = v.is_v5() && (with_props || self.reason != ReasonCode::Success);
        let mut len = 0;
        if with_reason {
            len += 1;
        }
        if with_props {
            len += properties::encoded_len(&self.properties)?;
        }
        put_fixed_header(out, first_byte(PacketType::Disconnect, 0), len)?;
        if with_reason {
            out.put_u8(self.reason.as_u8());
        }
        if with_props {
            properties::write(&self.properties, out);
        }
        Ok(())
    }
}
