//! brokkr-codec: bytes to typed values and back for every untrusted format brokkr speaks.
//!
//! This crate owns MQTT 3.1, 3.1.1 and 5.0 control packets ([`packet`]), MQTT 5 properties
//! ([`properties`]) and reason codes ([`reason`]), Variable Byte Integers ([`vbi`]), validated
//! strings, topics and identifiers, the incremental [`framer`], and the transports' own formats:
//! the websocket upgrade and frames ([`ws`], RFC 6455) and PROXY protocol v1/v2 headers
//! ([`proxy`]). It never does I/O, never reads
//! a clock, never keeps state across packets, and never panics or allocates on the say-so of the
//! peer: every length is checked against what is actually present, the packet size against the
//! caller's cap before the body is buffered.
//!
//! The usual flow on a connection:
//! 1. [`framer::next_packet`] cuts a [`RawPacket`] from the read buffer (or asks for more);
//! 2. [`Packet::decode`] turns it into a typed [`Packet`], or a [`DecodeError`] that says who is
//!    to blame, which reason code to answer with and which normative statement was violated;
//! 3. [`Packet::encode`] writes replies and deliveries.

#![forbid(unsafe_code)]

pub mod error;
pub mod framer;
pub mod fuzzing;
pub mod packet;
pub mod properties;
pub mod proxy;
mod reader;
pub mod reason;
pub mod string;
pub mod topic;
pub mod types;
pub mod vbi;
mod writer;
pub mod ws;

pub use error::{DecodeError, EncodeError, ErrorKind};
pub use framer::{FixedHeader, RawPacket, next_packet, peek_header};
pub use packet::*;
pub use properties::{PayloadFormat, UserProperties};
pub use reason::ReasonCode;
pub use string::MqttString;
pub use topic::{TopicFilter, TopicName};
pub use types::{ClientId, PacketId, ProtocolVersion, QoS};
pub use writer::packet_len;

/// Decode one complete packet from a byte slice that holds exactly that packet (tests, tools).
pub fn decode_exact(bytes: &[u8], version: ProtocolVersion) -> Result<Packet, DecodeError> {
    let mut buf = bytes::BytesMut::from(bytes);
    let raw =
        next_packet(&mut buf, usize::MAX)?.ok_or(DecodeError::malformed("packet incomplete"))?;
    if !buf.is_empty() {
        return Err(DecodeError::malformed("bytes after the packet"));
    }
    Packet::decode(raw, version)
}

#[cfg(test)]
mod size_tests {
    /// PUBLISH moves through several returns on the hot path; keep it small. Its properties are
    /// one `Bytes` wide: a short block lives inline beside the enum tag, a longer one is a shared
    /// slice. This fails if someone inlines a large field again.
    #[test]
    fn publish_stays_small() {
        assert_eq!(std::mem::size_of::<crate::PublishProperties>(), 32);
        assert!(std::mem::size_of::<crate::Publish>() <= 104);
    }
}
