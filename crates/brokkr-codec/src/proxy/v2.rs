//! PROXY protocol version 2: the binary header (proxy-protocol.txt section 2.2).
//!
//! This module owns the 16 fixed bytes (signature, version/command, family/transport, length),
//! the length cap, the address block of each family, and the encoding of v2 headers. It refuses
//! an over-cap length from the fixed bytes alone, before waiting for the rest, and hands the bytes
//! after the addresses to the TLV walker. It never stores AF_UNIX paths and never allocates except
//! for the SSL strings the TLV walker keeps (bounded by the length cap).

use super::error::{ProxyEncodeError, ProxyError};
use super::tlv::{encode_ssl, parse_tlvs};
use super::{ProxyHeader, ProxyLimits, ProxyParse};
use bytes::{BufMut as _, BytesMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The 12-byte v2 signature.
pub const V2_SIGNATURE: [u8; 12] = [
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
];

/// Signature, version/command, family/transport and the 16-bit length.
pub const V2_FIXED_BYTES: usize = 16;

/// Version 2 in the high nibble of the 13th byte.
const VERSION_2: u8 = 0x2;
const COMMAND_LOCAL: u8 = 0x0;
const COMMAND_PROXY: u8 = 0x1;

/// Address block sizes by family (section 2.2).
const INET_ADDRESS_BYTES: usize = 12;
const INET6_ADDRESS_BYTES: usize = 36;
const UNIX_ADDRESS_BYTES: usize = 216;

/// The address family of a v2 header; the transport (stream or datagram) does not change parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Unspec,
    Inet,
    Inet6,
    Unix,
}

impl Family {
    /// The seven family/transport bytes the spec defines; every other value must be rejected.
    fn from_byte(byte: u8) -> Result<Self, ProxyError> {
        match byte {
            0x00 => Ok(Self::Unspec),
            0x11 | 0x12 => Ok(Self::Inet),
            0x21 | 0x22 => Ok(Self::Inet6),
            0x31 | 0x32 => Ok(Self::Unix),
            other => Err(ProxyError::V2BadFamily(other)),
        }
    }
}

/// Parses a v2 header at the start of `buf`, which starts with (a prefix of) the signature.
pub(super) fn parse(buf: &[u8], limits: &ProxyLimits) -> Result<ProxyParse, ProxyError> {
    let Some((fixed, rest)) = buf.split_first_chunk::<V2_FIXED_BYTES>() else {
        return Ok(ProxyParse::NeedMore);
    };
    let [signature @ .., version_command, family, len_hi, len_lo] = *fixed;
    if signature != V2_SIGNATURE {
        return Err(ProxyError::NotProxy);
    }
    if version_command >> 4 != VERSION_2 {
        return Err(ProxyError::V2BadVersion(version_command >> 4));
    }
    let command = version_command & 0x0F;
    if command != COMMAND_LOCAL && command != COMMAND_PROXY {
        return Err(ProxyError::V2BadCommand(command));
    }
    let family = Family::from_byte(family)?;
    let len_bytes = u16::from_be_bytes([len_hi, len_lo]);
    if len_bytes > limits.v2_length_bytes_max {
        let max_bytes = limits.v2_length_bytes_max;
        return Err(ProxyError::V2LengthOverCap {
            len_bytes,
            max_bytes,
        });
    }
    let Some(block) = rest.get(..usize::from(len_bytes)) else {
        return Ok(ProxyParse::NeedMore);
    };
    let consumed = V2_FIXED_BYTES.saturating_add(block.len());
    let header = if command == COMMAND_LOCAL {
        // LOCAL: the receiver uses the real endpoints and discards the block.
        ProxyHeader {
            local: true,
            ..ProxyHeader::default()
        }
    } else {
        parse_block(family, block, limits)?
    };
    Ok(ProxyParse::Header { consumed, header })
}

/// Parses the address block and TLVs of a PROXY command.
fn parse_block(
    family: Family,
    block: &[u8],
    limits: &ProxyLimits,
) -> Result<ProxyHeader, ProxyError> {
    let address_bytes = match family {
        // UNSPEC: no address block is defined, so the rest is opaque; use the real endpoints.
        Family::Unspec => return Ok(ProxyHeader::default()),
        Family::Inet => INET_ADDRESS_BYTES,
        Family::Inet6 => INET6_ADDRESS_BYTES,
        Family::Unix => UNIX_ADDRESS_BYTES,
    };
    let (addresses, tlvs) = block
        .split_at_checked(address_bytes)
        .ok_or(ProxyError::V2AddressTruncated)?;
    let (source, destination) = match family {
        Family::Inet => inet_addresses(addresses),
        Family::Inet6 => inet6_addresses(addresses),
        Family::Unspec | Family::Unix => None,
    }
    .unzip();
    let ssl = parse_tlvs(tlvs, limits.tlv_count_max)?;
    Ok(ProxyHeader {
        source,
        destination,
        local: false,
        ssl,
    })
}

/// Source and destination of a 12-byte AF_INET block: src, dst, sport, dport.
fn inet_addresses(block: &[u8]) -> Option<(SocketAddr, SocketAddr)> {
    let (src, rest) = block.split_first_chunk::<4>()?;
    let (dst, rest) = rest.split_first_chunk::<4>()?;
    let (sport, rest) = rest.split_first_chunk::<2>()?;
    let (dport, _) = rest.split_first_chunk::<2>()?;
    let source = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(*src)), u16::from_be_bytes(*sport));
    let destination = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(*dst)), u16::from_be_bytes(*dport));
    Some((source, destination))
}

/// Source and destination of a 36-byte AF_INET6 block: src, dst, sport, dport.
fn inet6_addresses(block: &[u8]) -> Option<(SocketAddr, SocketAddr)> {
    let (src, rest) = block.split_first_chunk::<16>()?;
    let (dst, rest) = rest.split_first_chunk::<16>()?;
    let (sport, rest) = rest.split_first_chunk::<2>()?;
    let (dport, _) = rest.split_first_chunk::<2>()?;
    let source = SocketAddr::new(IpAddr::V6(Ipv6Addr::from(*src)), u16::from_be_bytes(*sport));
    let destination = SocketAddr::new(IpAddr::V6(Ipv6Addr::from(*dst)), u16::from_be_bytes(*dport));
    Some((source, destination))
}

/// Appends the v2 header for `header` to `out`: LOCAL, PROXY over TCP4/TCP6 with an optional SSL
/// TLV, or PROXY UNSPEC when there are no addresses.
pub fn encode_v2(header: &ProxyHeader, out: &mut BytesMut) -> Result<(), ProxyEncodeError> {
    let mut block = BytesMut::new();
    let (command, family) = if header.local {
        if header.source.is_some() || header.destination.is_some() || header.ssl.is_some() {
            return Err(ProxyEncodeError::LocalWithData);
        }
        (COMMAND_LOCAL, 0x00)
    } else {
        match (header.source, header.destination) {
            (None, None) if header.ssl.is_some() => {
                return Err(ProxyEncodeError::TlvWithoutAddresses);
            }
            (None, None) => (COMMAND_PROXY, 0x00),
            (Some(SocketAddr::V4(src)), Some(SocketAddr::V4(dst))) => {
                block.put_slice(&src.ip().octets());
                block.put_slice(&dst.ip().octets());
                block.put_u16(src.port());
                block.put_u16(dst.port());
                (COMMAND_PROXY, 0x11)
            }
            (Some(SocketAddr::V6(src)), Some(SocketAddr::V6(dst))) => {
                block.put_slice(&src.ip().octets());
                block.put_slice(&dst.ip().octets());
                block.put_u16(src.port());
                block.put_u16(dst.port());
                (COMMAND_PROXY, 0x21)
            }
            _ => return Err(ProxyEncodeError::AddressMismatch),
        }
    };
    if let Some(ssl) = &header.ssl {
        encode_ssl(ssl, &mut block)?;
    }
    let len = u16::try_from(block.len()).map_err(|_| ProxyEncodeError::TooLong)?;
    out.put_slice(&V2_SIGNATURE);
    out.put_u8(VERSION_2 << 4 | command);
    out.put_u8(family);
    out.put_u16(len);
    out.put_slice(&block);
    Ok(())
}
