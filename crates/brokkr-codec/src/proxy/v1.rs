//! PROXY protocol version 1: the human-readable line
//! `PROXY TCP4|TCP6|UNKNOWN <src> <dst> <sport> <dport>\r\n` (proxy-protocol.txt section 2.1).
//!
//! This module owns the strict parse of that line and its encoding. It never scans more than the
//! 107 bytes the spec allows, accepts only canonical addresses of the announced family and plain
//! decimal ports, and never allocates while parsing.

use super::error::{ProxyEncodeError, ProxyError};
use super::{ProxyHeader, ProxyParse, V1_PREFIX};
use bytes::BytesMut;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Longest v1 header, CRLF included (proxy-protocol.txt section 2.1).
pub const V1_HEADER_BYTES_MAX: usize = 107;

/// Longest decimal port: `65535`.
const PORT_DIGITS_MAX: usize = 5;

/// Parses a v1 header at the start of `buf`, which starts with (a prefix of) `PROXY `.
pub(super) fn parse(buf: &[u8]) -> Result<ProxyParse, ProxyError> {
    let window = buf.get(..V1_HEADER_BYTES_MAX).unwrap_or(buf);
    let Some(line_feed) = window.iter().position(|byte| *byte == b'\n') else {
        return if buf.len() >= V1_HEADER_BYTES_MAX {
            Err(ProxyError::V1TooLong)
        } else {
            Ok(ProxyParse::NeedMore)
        };
    };
    let consumed = line_feed.checked_add(1).ok_or(ProxyError::V1TooLong)?;
    let (line, _) = window
        .split_at_checked(line_feed)
        .ok_or(ProxyError::V1Malformed)?;
    let line = line.strip_suffix(b"\r").ok_or(ProxyError::V1Malformed)?;
    let fields = line
        .strip_prefix(V1_PREFIX.as_slice())
        .ok_or(ProxyError::V1Malformed)?;
    // The receiver must ignore whatever follows UNKNOWN up to the CRLF, text or not.
    if let Some(tail) = fields.strip_prefix(b"UNKNOWN")
        && (tail.is_empty() || tail.starts_with(b" "))
    {
        return Ok(ProxyParse::Header {
            consumed,
            header: ProxyHeader::default(),
        });
    }
    let fields = std::str::from_utf8(fields).map_err(|_| ProxyError::V1Malformed)?;
    let header = parse_fields(fields)?;
    Ok(ProxyParse::Header { consumed, header })
}

/// Parses everything after `PROXY ` and before the CRLF of a `TCP4` or `TCP6` line.
fn parse_fields(fields: &str) -> Result<ProxyHeader, ProxyError> {
    let mut parts = fields.split(' ');
    let protocol = parts.next().ok_or(ProxyError::V1Malformed)?;
    let parse_ip: fn(&str) -> Option<IpAddr> = match protocol {
        "TCP4" => |text| text.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
        "TCP6" => |text| text.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        _ => return Err(ProxyError::V1BadProtocol),
    };
    let mut next = || parts.next().ok_or(ProxyError::V1Malformed);
    let source_ip = parse_ip(next()?).ok_or(ProxyError::V1BadAddress)?;
    let destination_ip = parse_ip(next()?).ok_or(ProxyError::V1BadAddress)?;
    let source_port = parse_port(next()?)?;
    let destination_port = parse_port(next()?)?;
    if parts.next().is_some() {
        return Err(ProxyError::V1Malformed);
    }
    Ok(ProxyHeader {
        source: Some(SocketAddr::new(source_ip, source_port)),
        destination: Some(SocketAddr::new(destination_ip, destination_port)),
        local: false,
        ssl: None,
    })
}

/// A port: 1 to 5 ASCII digits, no sign, no leading zero, at most 65535.
fn parse_port(text: &str) -> Result<u16, ProxyError> {
    let digits_only = text.bytes().all(|byte| byte.is_ascii_digit());
    let leading_zero = text.len() > 1 && text.starts_with('0');
    if text.is_empty() || text.len() > PORT_DIGITS_MAX || !digits_only || leading_zero {
        return Err(ProxyError::V1BadPort);
    }
    text.parse::<u16>().map_err(|_| ProxyError::V1BadPort)
}

/// Appends the v1 line for `header` to `out`: `UNKNOWN` without addresses, else `TCP4`/`TCP6`.
/// v1 has no LOCAL command and no TLVs, so such headers are refused.
pub fn encode_v1(header: &ProxyHeader, out: &mut BytesMut) -> Result<(), ProxyEncodeError> {
    if header.local {
        return Err(ProxyEncodeError::V1Local);
    }
    if header.ssl.is_some() {
        return Err(ProxyEncodeError::V1Tlv);
    }
    let start = out.len();
    let written = match (header.source, header.destination) {
        (None, None) => out.write_str("PROXY UNKNOWN\r\n"),
        (Some(SocketAddr::V4(src)), Some(SocketAddr::V4(dst))) => write!(
            out,
            "PROXY TCP4 {} {} {} {}\r\n",
            src.ip(),
            dst.ip(),
            src.port(),
            dst.port()
        ),
        (Some(SocketAddr::V6(src)), Some(SocketAddr::V6(dst))) => write!(
            out,
            "PROXY TCP6 {} {} {} {}\r\n",
            src.ip(),
            dst.ip(),
            src.port(),
            dst.port()
        ),
        _ => return Err(ProxyEncodeError::AddressMismatch),
    };
    // Writing into a BytesMut cannot fail; the longest TCP6 line is 104 bytes.
    debug_assert!(written.is_ok());
    debug_assert!(out.len().saturating_sub(start) <= V1_HEADER_BYTES_MAX);
    Ok(())
}
