//! PROXY protocol errors: one enum for parsing what a load balancer sent, one for encoding.
//!
//! This module owns the error vocabulary of the `proxy` layer. It never formats peer data into a
//! message and never allocates: every variant is `Copy` and carries at most a byte or a length the
//! parser already holds. Every parse error means the connection must be closed without a reply.

use std::fmt;

/// Why a PROXY protocol header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyError {
    /// The bytes start with neither the v1 `PROXY ` prefix nor the v2 signature.
    NotProxy,
    /// A v1 (text) header arrived but the listener accepts only v2.
    V1NotAccepted,
    /// No CRLF within the 107 bytes a v1 header may use.
    V1TooLong,
    /// The v1 line is not `PROXY <proto> <src> <dst> <sport> <dport>\r\n` with single spaces.
    V1Malformed,
    /// The v1 protocol is not `TCP4`, `TCP6` or `UNKNOWN`.
    V1BadProtocol,
    /// A v1 address is not a canonical address of the announced family.
    V1BadAddress,
    /// A v1 port is not a decimal number in 0..=65535 without sign or leading zero.
    V1BadPort,
    /// The v2 version nibble is not 2.
    V2BadVersion(u8),
    /// The v2 command nibble is neither LOCAL (0) nor PROXY (1).
    V2BadCommand(u8),
    /// The v2 family/transport byte is not one of the seven the spec defines.
    V2BadFamily(u8),
    /// The v2 length field exceeds the configured `v2_length_bytes_max`.
    V2LengthOverCap {
        /// The length field, in bytes.
        len_bytes: u16,
        /// The configured bound, in bytes.
        max_bytes: u16,
    },
    /// The v2 length is too short for the addresses of the announced family.
    V2AddressTruncated,
    /// A TLV header or value runs past the end of its enclosing block.
    TlvTruncated,
    /// A TLV type appears twice at the same level.
    TlvDuplicate(u8),
    /// More TLVs (top level and SSL sub-TLVs together) than `tlv_count_max`.
    TlvCountOverCap {
        /// The configured bound.
        max: usize,
    },
    /// A PP2_TYPE_SSL value is shorter than its 5-byte client + verify prefix.
    SslTruncated,
    /// PP2_SUBTYPE_SSL_CN is not valid UTF-8.
    SslCnNotUtf8,
    /// Another SSL sub-TLV (version, cipher, algorithms) is not valid UTF-8; carries its type.
    SslFieldNotUtf8(u8),
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotProxy => f.write_str("connection does not start with a PROXY header"),
            Self::V1NotAccepted => f.write_str("PROXY v1 header on a v2-only listener"),
            Self::V1TooLong => f.write_str("PROXY v1 header longer than 107 bytes"),
            Self::V1Malformed => f.write_str("malformed PROXY v1 header"),
            Self::V1BadProtocol => f.write_str("PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN"),
            Self::V1BadAddress => f.write_str("PROXY v1 address is invalid for its family"),
            Self::V1BadPort => f.write_str("PROXY v1 port is invalid"),
            Self::V2BadVersion(v) => write!(f, "PROXY v2 version nibble {v} is not 2"),
            Self::V2BadCommand(c) => write!(f, "PROXY v2 command {c} is not LOCAL or PROXY"),
            Self::V2BadFamily(b) => write!(f, "PROXY v2 family/transport byte {b:#04x} invalid"),
            Self::V2LengthOverCap {
                len_bytes,
                max_bytes,
            } => {
                write!(f, "PROXY v2 length {len_bytes} exceeds {max_bytes} bytes")
            }
            Self::V2AddressTruncated => f.write_str("PROXY v2 length too short for addresses"),
            Self::TlvTruncated => f.write_str("PROXY v2 TLV truncated"),
            Self::TlvDuplicate(t) => write!(f, "PROXY v2 TLV type {t:#04x} repeated"),
            Self::TlvCountOverCap { max } => write!(f, "PROXY v2 header has over {max} TLVs"),
            Self::SslTruncated => f.write_str("PROXY v2 SSL TLV shorter than 5 bytes"),
            Self::SslCnNotUtf8 => f.write_str("PROXY v2 SSL CN is not UTF-8"),
            Self::SslFieldNotUtf8(t) => write!(f, "PROXY v2 SSL sub-TLV {t:#04x} is not UTF-8"),
        }
    }
}

impl std::error::Error for ProxyError {}

/// Why a [`ProxyHeader`](super::ProxyHeader) could not be encoded. Only a caller bug produces one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyEncodeError {
    /// Exactly one of source and destination is set, or they are of different families.
    AddressMismatch,
    /// A LOCAL header cannot carry addresses or TLVs.
    LocalWithData,
    /// v1 has no LOCAL command.
    V1Local,
    /// v1 cannot carry TLVs such as SSL information.
    V1Tlv,
    /// TLVs need an address block to follow; an UNSPEC header cannot carry them here.
    TlvWithoutAddresses,
    /// A TLV or the whole v2 header would exceed the 16-bit length field.
    TooLong,
}

impl fmt::Display for ProxyEncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AddressMismatch => f.write_str("PROXY source and destination do not match"),
            Self::LocalWithData => f.write_str("PROXY LOCAL header with addresses or TLVs"),
            Self::V1Local => f.write_str("PROXY v1 cannot encode LOCAL"),
            Self::V1Tlv => f.write_str("PROXY v1 cannot encode TLVs"),
            Self::TlvWithoutAddresses => f.write_str("PROXY v2 TLVs without addresses"),
            Self::TooLong => f.write_str("PROXY v2 header exceeds 65535 bytes"),
        }
    }
}

impl std::error::Error for ProxyEncodeError {}
