//! The incremental framer: cuts complete packets out of a connection's read buffer.
//!
//! Given the bytes received so far it answers *need more bytes*, *a packet* (fixed header byte
//! plus a zero-copy body), or *malformed*. The remaining length is checked against the caller's
//! maximum packet size as soon as the length field is complete, before a single body byte has to
//! be buffered, so a peer cannot make us hold more than the cap. The framer keeps no state between
//! calls: everything it needs is in the buffer.

use crate::error::DecodeError;
use crate::reason::ReasonCode;
use crate::vbi::{VbiRead, read_vbi};
use bytes::{Bytes, BytesMut};

/// The fixed header of a packet whose length field is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// The first byte: packet type in the high nibble, flags in the low nibble.
    pub first_byte: u8,
    /// The Remaining Length: bytes after the fixed header.
    pub remaining_len: u32,
    /// Bytes the fixed header itself takes (2 to 5).
    pub header_len: usize,
}

impl FixedHeader {
    /// The whole packet's size: fixed header plus remaining length.
    pub fn packet_len(&self) -> usize {
        self.header_len + self.remaining_len as usize
    }

    /// The packet type (high nibble).
    pub fn packet_type(&self) -> u8 {
        self.first_byte >> 4
    }

    /// The flags (low nibble).
    pub fn flags(&self) -> u8 {
        self.first_byte & 0x0F
    }
}

/// One packet cut from the stream, not yet decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPacket {
    /// The first byte of the fixed header.
    pub first_byte: u8,
    /// The variable header and payload, shared with the read buffer's allocation.
    pub body: Bytes,
}

/// Parse the fixed header at the start of `buf`, checking the packet size against
/// `max_packet_bytes` (the whole packet, fixed header included, as MQTT 5's Maximum Packet Size).
///
/// Returns `Ok(None)` when the length field is not complete yet.
pub fn peek_header(
    buf: &[u8],
    max_packet_bytes: usize,
) -> Result<Option<FixedHeader>, DecodeError> {
    let Some((&first_byte, rest)) = buf.split_first() else {
        return Ok(None);
    };
    let packet_type = first_byte >> 4;
    if packet_type == 0 {
        return Err(DecodeError::malformed("packet type 0 is reserved"));
    }
    match read_vbi(rest)? {
        VbiRead::Incomplete => Ok(None),
        VbiRead::Value { value, len } => {
            let header = FixedHeader {
                first_byte,
                remaining_len: value,
                header_len: 1 + len,
            };
            if header.packet_len() > max_packet_bytes {
                return Err(DecodeError::limit(
                    ReasonCode::PacketTooLarge,
                    "packet exceeds maximum size",
                ));
            }
            Ok(Some(header))
        }
    }
}

/// Cut the next complete packet from the front of `buf`.
///
/// `Ok(None)` means more bytes are needed; `buf` is untouched then. On success the packet's bytes
/// are split off the buffer without copying. An error leaves the stream unusable: the caller
/// closes the connection.
pub fn next_packet(
    buf: &mut BytesMut,
    max_packet_bytes: usize,
) -> Result<Option<RawPacket>, DecodeError> {
    let Some(header) = peek_header(buf, max_packet_bytes)? else {
        return Ok(None);
    };
    let total = header.packet_len();
    if buf.len() < total {
        return Ok(None);
    }
    // The fixed header is skipped, the body split off: one shared reference, not two.
    bytes::Buf::advance(buf, header.header_len);
    let body = buf.split_to(header.remaining_len as usize).freeze();
    Ok(Some(RawPacket {
        first_byte: header.first_byte,
        body,
    }))
}

/// The packet at the front of `buf` if it is a PUBACK, PUBREC, PUBREL or PUBCOMP in its four-byte
/// form (reason Success, no properties: the same bytes in every protocol version), cut off and
/// decoded without a shared body: the acknowledgement hot path. `None` for anything else,
/// including such a packet with packet identifier 0 or wrong flags, which the general path
/// ([`next_packet`], then [`Packet::decode`](crate::Packet::decode)) refuses with its error.
pub fn next_short_response(buf: &mut BytesMut) -> Option<crate::Packet> {
    use crate::packet::{Packet, PubAck, PubComp, PubRec, PubRel};
    let (&[first, 2, hi, lo], _) = buf.split_first_chunk::<4>()? else {
        return None;
    };
    let id = crate::PacketId::new(u16::from_be_bytes([hi, lo]))?;
    let packet = match first {
        0x40 => Packet::PubAck(PubAck::new(id)),
        0x50 => Packet::PubRec(PubRec::new(id)),
        0x62 => Packet::PubRel(PubRel::new(id)),
        0x70 => Packet::PubComp(PubComp::new(id)),
        _ => return None,
    };
    bytes::Buf::advance(buf, 4);
    Some(packet)
}

/// How many more bytes the packet at the front of `buf` needs, when known. Lets a connection
/// size its next read without over-reading; `None` when the fixed header is not complete.
pub fn bytes_needed(buf: &[u8], max_packet_bytes: usize) -> Result<Option<usize>, DecodeError> {
    Ok(peek_header(buf, max_packet_bytes)?.map(|h| h.packet_len().saturating_sub(buf.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_responses_decode_as_the_general_path_decodes_them() {
        use crate::{Packet, ProtocolVersion};
        for v in [
            ProtocolVersion::V3_1,
            ProtocolVersion::V3_1_1,
            ProtocolVersion::V5,
        ] {
            for first in 0u8..=255 {
                for id in [0u16, 1, 0x1234, 65_535] {
                    let [hi, lo] = id.to_be_bytes();
                    let bytes = [first, 2, hi, lo, 0xC0];
                    let mut fast = BytesMut::from(&bytes[..]);
                    let Some(p) = next_short_response(&mut fast) else {
                        assert_eq!(fast.len(), 5, "nothing taken");
                        continue;
                    };
                    assert_eq!(&fast[..], [0xC0], "exactly the packet taken");
                    let mut slow = BytesMut::from(&bytes[..]);
                    let raw = next_packet(&mut slow, usize::MAX).unwrap().unwrap();
                    assert_eq!(Packet::decode(raw, v).unwrap(), p, "{first:#x} {id} {v:?}");
                }
            }
        }
        // Each of the four types is taken, identifier 0 and other flags are not.
        for first in [0x40u8, 0x50, 0x62, 0x70] {
            assert!(next_short_response(&mut BytesMut::from(&[first, 2, 0, 1][..])).is_some());
            assert!(next_short_response(&mut BytesMut::from(&[first, 2, 0, 0][..])).is_none());
            assert!(next_short_response(&mut BytesMut::from(&[first | 1, 2, 0, 1][..])).is_none());
            assert!(next_short_response(&mut BytesMut::from(&[first, 3, 0, 1, 0][..])).is_none());
        }
        assert!(next_short_response(&mut BytesMut::from(&[0x40u8, 2, 0][..])).is_none());
    }

    #[test]
    fn cuts_packets_and_keeps_the_rest() {
        let mut buf = BytesMut::from(&[0xC0, 0x00, 0x30, 0x03, 0x00, 0x01, b'a', 0xE0][..]);
        let ping = next_packet(&mut buf, 1024).unwrap().unwrap();
        assert_eq!(ping.first_byte, 0xC0);
        assert!(ping.body.is_empty());
        let publish = next_packet(&mut buf, 1024).unwrap().unwrap();
        assert_eq!(&publish.body[..], &[0x00, 0x01, b'a']);
        assert_eq!(next_packet(&mut buf, 1024).unwrap(), None);
        assert_eq!(&buf[..], &[0xE0]);
    }

    #[test]
    fn needs_more_at_every_split() {
        let full = [0x30, 0x82, 0x01];
        for cut in 0..full.len() {
            let mut buf = BytesMut::from(&full[..cut]);
            assert_eq!(next_packet(&mut buf, 1 << 20).unwrap(), None);
            assert_eq!(buf.len(), cut);
        }
        assert_eq!(bytes_needed(&full, 1 << 20).unwrap(), Some(130));
    }

    #[test]
    fn size_cap_is_checked_before_the_body_arrives() {
        // Header claims 268,435,455 bytes; only the 5 header bytes are present.
        let buf = [0x30, 0xFF, 0xFF, 0xFF, 0x7F];
        let err = peek_header(&buf, 1 << 20).unwrap_err();
        assert_eq!(err.reason, ReasonCode::PacketTooLarge);
        assert_eq!(err.kind, crate::ErrorKind::LimitExceeded);
        // The cap counts the fixed header: 2 + 3 = 5 bytes fits a cap of 5, not 4.
        assert!(peek_header(&[0x30, 0x03], 5).unwrap().is_some());
        assert!(peek_header(&[0x30, 0x03], 4).is_err());
    }

    #[test]
    fn five_byte_length_and_type_zero_are_malformed() {
        assert!(peek_header(&[0x30, 0x80, 0x80, 0x80, 0x80, 0x01], usize::MAX).is_err());
        assert!(peek_header(&[0x00, 0x00], usize::MAX).is_err());
    }
}
