//! UNSUBACK (MQTT 5 section 3.11, MQTT 3.1.1 section 3.11). MQTT 3.x carries only the packet
//! identifier; MQTT 5 adds properties and one reason code per filter.

use super::{PacketType, check_flags, first_byte};
use crate::error::{DecodeError, EncodeError};
use crate::packet::AckProperties;
use crate::properties;
use crate::reader::Reader;
use crate::reason::{ReasonCode, ReasonContext};
use crate::types::{PacketId, ProtocolVersion};
use crate::writer::put_fixed_header;
use bytes::{BufMut, Bytes, BytesMut};

/// The UNSUBACK packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// The identifier of the UNSUBSCRIBE this answers.
    pub packet_id: PacketId,
    /// MQTT 5 properties.
    pub properties: AckProperties,
    /// MQTT 5: one code per filter. Empty for 3.x.
    pub reasons: Vec<ReasonCode>,
}

impl UnsubAck {
    pub(crate) fn decode(
        flags: u8,
        body: Bytes,
        v: ProtocolVersion,
    ) -> Result<UnsubAck, DecodeError> {
        check_flags(flags, 0, v)?;
        let mut r = Reader::new(body);
        let packet_id = PacketId::decode(r.u16("packet identifier missing")?)?;
        let mut ack = UnsubAck {
            packet_id,
            properties: Default::default(),
            reasons: Vec::new(),
        };
        if v.is_v5() {
            ack.properties = properties::decode(&mut r)?;
            while !r.is_empty() {
                ack.reasons
                    .push(ReasonContext::UnsubAck.decode(r.u8("reason code missing")?)?);
            }
            if ack.reasons.is_empty() {
                return Err(DecodeError::malformed("UNSUBACK without a reason code"));
            }
        }
        r.finish("trailing bytes after UNSUBACK")?;
        Ok(ack)
    }

    /// Encode for a connection speaking `v`.
    pub fn encode(&self, v: ProtocolVersion, out: &mut BytesMut) -> Result<(), EncodeError> {
        let mut len = 2;
        if v.is_v5() {
            len += properties::encoded_len(&self.properties)? + self.reasons.len();
        }
        put_fixed_header(out, first_byte(PacketType::UnsubAck, 0), len)?;
        out.put_u16(self.packet_id.get());
        if v.is_v5() {
            properties::write(&self.properties, out);
            for code in &self.reasons {
                out.put_u8(code.as_u8());
            }
        }
        Ok(())
    }
}
