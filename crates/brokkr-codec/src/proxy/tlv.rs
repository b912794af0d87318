//! PROXY v2 TLVs (proxy-protocol.txt section 2.2.7): the top-level list, and the SSL TLV whose
//! value nests one more list of sub-TLVs.
//!
//! This module owns walking TLV lists under a shared count bound, rejecting a type repeated at the
//! same level, and extracting [`SslInfo`]. It never recurses: the SSL sub-TLV list is walked by a
//! separate, flat loop, and a sub-TLV that looks like another SSL TLV is skipped, not entered.
//! Unknown types (ALPN, AUTHORITY, CRC32C, UNIQUE_ID, NETNS...) are counted and skipped; in
//! particular the CRC32C checksum is not verified.

use super::SslInfo;
use super::error::{ProxyEncodeError, ProxyError};
use bytes::{BufMut as _, BytesMut};

/// PP2_TYPE_NOOP: padding; the only type allowed to repeat.
pub const PP2_TYPE_NOOP: u8 = 0x04;
/// PP2_TYPE_SSL: TLS facts, with sub-TLVs.
pub const PP2_TYPE_SSL: u8 = 0x20;
/// PP2_SUBTYPE_SSL_VERSION: protocol version text, such as `TLSv1.3`.
pub const PP2_SUBTYPE_SSL_VERSION: u8 = 0x21;
/// PP2_SUBTYPE_SSL_CN: Common Name of the client certificate.
pub const PP2_SUBTYPE_SSL_CN: u8 = 0x22;
/// PP2_SUBTYPE_SSL_CIPHER: cipher suite name.
pub const PP2_SUBTYPE_SSL_CIPHER: u8 = 0x23;
/// PP2_SUBTYPE_SSL_SIG_ALG: certificate signature algorithm.
pub const PP2_SUBTYPE_SSL_SIG_ALG: u8 = 0x24;
/// PP2_SUBTYPE_SSL_KEY_ALG: certificate key algorithm.
pub const PP2_SUBTYPE_SSL_KEY_ALG: u8 = 0x25;
/// Client flag: the client connected over SSL/TLS.
pub const PP2_CLIENT_SSL: u8 = 0x01;
/// Client flag: the client presented a certificate on this connection.
pub const PP2_CLIENT_CERT_CONN: u8 = 0x02;
/// Client flag: the client presented a certificate at least once in this TLS session.
pub const PP2_CLIENT_CERT_SESS: u8 = 0x04;

/// Bytes of a TLV header: type, then a big-endian 16-bit length.
const TLV_HEADER_BYTES: usize = 3;

/// The TLV count shared by both levels of one header.
#[derive(Debug)]
struct Budget {
    used: usize,
    max: usize,
}

impl Budget {
    fn spend(&mut self) -> Result<(), ProxyError> {
        self.used = self.used.saturating_add(1);
        if self.used > self.max {
            return Err(ProxyError::TlvCountOverCap { max: self.max });
        }
        Ok(())
    }
}

/// The set of TLV types already seen at one level: one bit per type.
#[derive(Debug, Default)]
struct Seen([u64; 4]);

impl Seen {
    /// Records `tlv_type`, refusing a repeat (NOOP padding excepted).
    fn insert(&mut self, tlv_type: u8) -> Result<(), ProxyError> {
        // `tlv_type / 64` is at most 3, so the word always exists.
        let Some(word) = self.0.get_mut(usize::from(tlv_type / 64)) else {
            return Err(ProxyError::TlvDuplicate(tlv_type));
        };
        let bit = 1_u64 << (tlv_type % 64);
        if *word & bit != 0 && tlv_type != PP2_TYPE_NOOP {
            return Err(ProxyError::TlvDuplicate(tlv_type));
        }
        *word |= bit;
        Ok(())
    }
}

/// Iterates over a flat TLV list, yielding `(type, value)` or a truncation error.
fn entries(mut rest: &[u8]) -> impl Iterator<Item = Result<(u8, &[u8]), ProxyError>> {
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some((&[tlv_type, len_hi, len_lo], tail)) =
            rest.split_first_chunk::<TLV_HEADER_BYTES>()
        else {
            rest = &[];
            return Some(Err(ProxyError::TlvTruncated));
        };
        let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
        let Some((value, tail)) = tail.split_at_checked(len) else {
            rest = &[];
            return Some(Err(ProxyError::TlvTruncated));
        };
        rest = tail;
        Some(Ok((tlv_type, value)))
    })
}

/// Walks the top-level TLV list after the v2 addresses; returns the SSL facts if present.
pub(super) fn parse_tlvs(
    bytes: &[u8],
    tlv_count_max: usize,
) -> Result<Option<SslInfo>, ProxyError> {
    let mut budget = Budget {
        used: 0,
        max: tlv_count_max,
    };
    let mut seen = Seen::default();
    let mut ssl = None;
    for entry in entries(bytes) {
        let (tlv_type, value) = entry?;
        budget.spend()?;
        seen.insert(tlv_type)?;
        if tlv_type == PP2_TYPE_SSL {
            ssl = Some(parse_ssl(value, &mut budget)?);
        }
    }
    Ok(ssl)
}

/// Parses the PP2_TYPE_SSL value: client flags, verify result, then one flat sub-TLV list.
fn parse_ssl(value: &[u8], budget: &mut Budget) -> Result<SslInfo, ProxyError> {
    let Some((&client_flags, rest)) = value.split_first() else {
        return Err(ProxyError::SslTruncated);
    };
    let Some((verify, sub_tlvs)) = rest.split_first_chunk::<4>() else {
        return Err(ProxyError::SslTruncated);
    };
    let mut info = SslInfo {
        client_flags,
        verify: u32::from_be_bytes(*verify),
        ..SslInfo::default()
    };
    let mut seen = Seen::default();
    for entry in entries(sub_tlvs) {
        let (sub_type, sub_value) = entry?;
        budget.spend()?;
        seen.insert(sub_type)?;
        let slot = match sub_type {
            PP2_SUBTYPE_SSL_VERSION => &mut info.version,
            PP2_SUBTYPE_SSL_CN => &mut info.cn,
            PP2_SUBTYPE_SSL_CIPHER => &mut info.cipher,
            PP2_SUBTYPE_SSL_SIG_ALG => &mut info.sig_alg,
            PP2_SUBTYPE_SSL_KEY_ALG => &mut info.key_alg,
            _ => continue,
        };
        let text = std::str::from_utf8(sub_value).map_err(|_| match sub_type {
            PP2_SUBTYPE_SSL_CN => ProxyError::SslCnNotUtf8,
            other => ProxyError::SslFieldNotUtf8(other),
        })?;
        *slot = Some(text.to_owned());
    }
    Ok(info)
}

/// Appends one TLV with a 16-bit length.
fn put_tlv(tlv_type: u8, value: &[u8], out: &mut BytesMut) -> Result<(), ProxyEncodeError> {
    let len = u16::try_from(value.len()).map_err(|_| ProxyEncodeError::TooLong)?;
    out.put_u8(tlv_type);
    out.put_u16(len);
    out.put_slice(value);
    Ok(())
}

/// Appends the PP2_TYPE_SSL TLV for `ssl`, with a sub-TLV for each field that is set.
pub(super) fn encode_ssl(ssl: &SslInfo, out: &mut BytesMut) -> Result<(), ProxyEncodeError> {
    let mut value = BytesMut::new();
    value.put_u8(ssl.client_flags);
    value.put_u32(ssl.verify);
    let fields = [
        (PP2_SUBTYPE_SSL_VERSION, &ssl.version),
        (PP2_SUBTYPE_SSL_CN, &ssl.cn),
        (PP2_SUBTYPE_SSL_CIPHER, &ssl.cipher),
        (PP2_SUBTYPE_SSL_SIG_ALG, &ssl.sig_alg),
        (PP2_SUBTYPE_SSL_KEY_ALG, &ssl.key_alg),
    ];
    for (sub_type, text) in fields {
        if let Some(text) = text {
            put_tlv(sub_type, text.as_bytes(), &mut value)?;
        }
    }
    put_tlv(PP2_TYPE_SSL, &value, out)
}
