//! What PUBACK, PUBREC, PUBREL and PUBCOMP share: a packet identifier, an MQTT 5 reason code and
//! the reason-string-and-user-properties block that SUBACK and UNSUBACK also carry.
//!
//! MQTT 5 lets these four packets shorten themselves: with no properties the property length may
//! be left out, and with reason 0x00 as well the reason code may go too (section 3.4.2.1). The
//! decoder accepts all three forms; the encoder writes the shortest.

use super::{PacketType, check_flags, first_byte};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{
    self, PropertySet, Sink, UserProperties, Value, WireOrder, id, not_allowed,
};
use crate::reader::Reader;
use crate::reason::{ReasonCode, ReasonContext};
use crate::string::MqttString;
use crate::types::{PacketId, ProtocolVersion};
use crate::writer::put_fixed_header;
use bytes::{BufMut, Bytes, BytesMut};

/// Reason String and User Properties: the properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK
/// and UNSUBACK.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AckProperties {
    pub reason_string: Option<MqttString>,
    pub user_properties: UserProperties,
    /// The order the properties arrived in, so re-encoding reproduces it; not part of the value.
    pub wire_order: WireOrder,
}

impl AckProperties {
    /// True when there is nothing to encode.
    pub fn is_empty(&self) -> bool {
        self.reason_string.is_none() && self.user_properties.is_empty()
    }
}

impl PropertySet for AckProperties {
    fn wire_order(&self) -> Option<&WireOrder> {
        Some(&self.wire_order)
    }

    fn wire_order_mut(&mut self) -> Option<&mut WireOrder> {
        Some(&mut self.wire_order)
    }

    fn set(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::REASON_STRING, Value::Str(v)) => self.reason_string = Some(v),
            (id::USER_PROPERTY, Value::Pair(k, v)) => self.user_properties.push((k, v)),
            _ => return Err(not_allowed()),
        }
        Ok(())
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        if let Some(v) = &self.reason_string {
            s.str(id::REASON_STRING, v);
        }
        s.users(&self.user_properties);
    }
}

/// The fields of a publish response, decoded.
pub(crate) struct Response {
    pub packet_id: PacketId,
    pub reason: ReasonCode,
    pub properties: AckProperties,
}

pub(crate) fn decode_response(
    flags: u8,
    expected_flags: u8,
    body: Bytes,
    v: ProtocolVersion,
    ctx: ReasonContext,
) -> Result<Response, DecodeError> {
    check_flags(flags, expected_flags, v).map_err(|e| {
        if expected_flags == 0b0010 {
            e.rule("MQTT-3.6.1-1")
        } else {
            e
        }
    })?;
    let mut r = Reader::new(body);
    let packet_id = PacketId::decode(r.u16("packet identifier missing")?)?;
    let mut out = Response {
        packet_id,
        reason: ReasonCode::Success,
        properties: Default::default(),
    };
    if v.is_v5() {
        if !r.is_empty() {
            out.reason = ctx.decode(r.u8("reason code missing")?)?;
        }
        if !r.is_empty() {
            out.properties = properties::decode(&mut r)?;
        }
    }
    r.finish("trailing bytes after acknowledgement")?;
    Ok(out)
}

pub(crate) fn encode_response(
    kind: PacketType,
    flags: u8,
    resp: (PacketId, ReasonCode, &AckProperties),
    v: ProtocolVersion,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let (packet_id, reason, props) = resp;
    let with_props = v.is_v5() && !props.is_empty();
    let with_reason = v.is_v5() && (with_props || reason != ReasonCode::Success);
    let mut len = 2;
    if with_reason {
        len += 1;
    }
    if with_props {
        len += properties::encoded_len(props)?;
    }
    put_fixed_header(out, first_byte(kind, flags), len)?;
    out.put_u16(packet_id.get());
    if with_reason {
        out.put_u8(reason.as_u8());
    }
    if with_props {
        properties::write(props, out);
    }
    Ok(())
}

/// Defines one publish-response packet type over the shared decoder and encoder.
macro_rules! pub_response {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $flags:expr, $ctx:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            /// The identifier of the PUBLISH this answers.
            pub packet_id: $crate::types::PacketId,
            /// MQTT 5 reason code (always Success for 3.x).
            pub reason: $crate::reason::ReasonCode,
            /// MQTT 5 properties (never encoded for 3.x).
            pub properties: $crate::packet::AckProperties,
        }

        impl $name {
            /// A success response with no properties.
            pub fn new(packet_id: $crate::types::PacketId) -> Self {
                Self {
                    packet_id,
                    reason: $crate::reason::ReasonCode::Success,
                    properties: Default::default(),
                }
            }

            pub(crate) fn decode(
                flags: u8,
                body: ::bytes::Bytes,
                v: $crate::types::ProtocolVersion,
            ) -> Result<Self, $crate::error::DecodeError> {
                let r = super::ack::decode_response(flags, $flags, body, v, $ctx)?;
                Ok(Self { packet_id: r.packet_id, reason: r.reason, properties: r.properties })
            }

            /// Encode `Self::new(packet_id)` (reason Success, no properties): the same four
            /// bytes for every protocol version, written without building the packet. The
            /// broker's acknowledgement hot path.
            pub fn encode_success(packet_id: $crate::types::PacketId, out: &mut ::bytes::BytesMut) {
                let id = packet_id.get().to_be_bytes();
                ::bytes::BufMut::put_slice(
                    out,
                    &[super::first_byte($kind, $flags), 2, id[0], id[1]],
                );
            }

            /// Encode for a connection speaking `v`.
            pub fn encode(
                &self,
                v: $crate::types::ProtocolVersion,
                out: &mut ::bytes::BytesMut,
            ) -> Result<(), $crate::error::EncodeError> {
                super::ack::encode_response(
                    $kind,
                    $flags,
                    (self.packet_id, self.reason, &self.properties),
                    v,
                    out,
                )
            }
        }
    };
}
pub(crate) use pub_response;

#[cfg(test)]
mod tests {
    use crate::packet::{Packet, PubAck, PubComp, PubRec, PubRel};
    use crate::types::{PacketId, ProtocolVersion};
    use bytes::BytesMut;

    type Fast = fn(PacketId, &mut BytesMut);

    #[test]
    fn encode_success_writes_what_the_full_encoder_writes() {
        for v in [
            ProtocolVersion::V3_1,
            ProtocolVersion::V3_1_1,
            ProtocolVersion::V5,
        ] {
            for n in [1u16, 255, 256, 65_535] {
                let id = PacketId::new(n).unwrap();
                let cases: [(Packet, Fast); 4] = [
                    (Packet::PubAck(PubAck::new(id)), PubAck::encode_success),
                    (Packet::PubRec(PubRec::new(id)), PubRec::encode_success),
                    (Packet::PubRel(PubRel::new(id)), PubRel::encode_success),
                    (Packet::PubComp(PubComp::new(id)), PubComp::encode_success),
                ];
                for (packet, fast) in cases {
                    let mut want = BytesMut::new();
                    packet.encode(v, &mut want).unwrap();
                    let mut got = BytesMut::from(&b"x"[..]);
                    fast(id, &mut got);
                    assert_eq!(&got[1..], &want[..], "{packet:?} {v:?}");
                }
            }
        }
    }
}
