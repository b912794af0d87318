//! SUBACK (MQTT 5 section 3.9, MQTT 3.1.1 section 3.9): one reason code per topic filter of the
//! SUBSCRIBE it answers, in the same order.

use super::{PacketType, check_flags, first_byte};
use crate::error::{DecodeError, EncodeError};
use crate::packet::AckProperties;
use crate::properties;
use crate::reader::Reader;
use crate::reason::{self, ReasonCode, ReasonContext};
use crate::types::{PacketId, ProtocolVersion};
use crate::writer::put_fixed_header;
use bytes::{BufMut, Bytes, BytesMut};

/// The SUBACK packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// The identifier of the SUBSCRIBE this answers (MQTT-3.8.4-2).
    pub packet_id: PacketId,
    /// MQTT 5 properties.
    pub properties: AckProperties,
    /// One code per filter: Granted QoS 0/1/2 or a failure (3.x: any failure encodes as 0x80).
    pub reasons: Vec<ReasonCode>,
}

impl SubAck {
    pub(crate) fn decode(
        flags: u8,
        body: Bytes,
        v: ProtocolVersion,
    ) -> Result<SubAck, DecodeError> {
        check_flags(flags, 0, v)?;
        let mut r = Reader::new(body);
        let packet_id = PacketId::decode(r.u16("packet identifier missing")?)?;
        let properties = if v.is_v5() {
            properties::decode(&mut r)?
        } else {
            Default::default()
        };
        let mut reasons = Vec::new();
        while !r.is_empty() {
            let byte = r.u8("reason code missing")?;
            reasons.push(if v.is_v5() {
                ReasonContext::SubAck.decode(byte)?
            } else {
                reason::reason_from_suback_v3(byte)?
            });
        }
        if reasons.is_empty() {
            return Err(DecodeError::malformed("SUBACK without a reason code"));
        }
        Ok(SubAck {
            packet_id,
            properties,
            reasons,
        })
    }

    /// Encode for a connection speaking `v`.
    pub fn encode(&self, v: ProtocolVersion, out: &mut BytesMut) -> Result<(), EncodeError> {
        let mut len = 2 + self.reasons.len();
        if v.is_v5() {
            len += properties::encoded_len(&self.properties)?;
        }
        put_fixed_header(out, first_byte(PacketType::SubAck, 0), len)?;
        out.put_u16(self.packet_id.get());
        if v.is_v5() {
            properties::write(&self.properties, out);
            for code in &self.reasons {
                out.put_u8(code.as_u8());
            }
        } else {
            for &code in &self.reasons {
                out.put_u8(reason::suback_return_code_v3(code));
            }
        }
        Ok(())
    }
}
