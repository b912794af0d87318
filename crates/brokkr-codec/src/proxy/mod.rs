//! The HAProxy PROXY protocol (versions 1 and 2), as a load balancer sends it before the first
//! MQTT byte.
//!
//! This module owns detecting a PROXY header at the start of a connection, parsing it into the
//! original endpoints and the TLS facts the balancer terminated (SSL version, client certificate
//! CN), and encoding headers for tests and fuzz seeds. It never reads a socket, never looks past
//! the bounds in [`ProxyLimits`], never recurses deeper than the one level the SSL TLV nests, and
//! never decides whether the peer is allowed to send a PROXY header at all: only a listener that
//! trusts (and firewalls) its balancer may call [`parse`].

mod error;
mod tlv;
mod v1;
mod v2;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod v2_tests;

use std::net::SocketAddr;

pub use error::{ProxyEncodeError, ProxyError};
pub use tlv::{
    PP2_CLIENT_CERT_CONN, PP2_CLIENT_CERT_SESS, PP2_CLIENT_SSL, PP2_SUBTYPE_SSL_CIPHER,
    PP2_SUBTYPE_SSL_CN, PP2_SUBTYPE_SSL_KEY_ALG, PP2_SUBTYPE_SSL_SIG_ALG, PP2_SUBTYPE_SSL_VERSION,
    PP2_TYPE_NOOP, PP2_TYPE_SSL,
};
pub use v1::{V1_HEADER_BYTES_MAX, encode_v1};
pub use v2::{V2_FIXED_BYTES, V2_SIGNATURE, encode_v2};

/// The `PROXY ` prefix every v1 header starts with.
pub const V1_PREFIX: &[u8; 6] = b"PROXY ";

/// Every bound the PROXY parser enforces, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyLimits {
    /// Largest v2 length field (addresses plus TLVs, after the 16 fixed bytes), in bytes.
    pub v2_length_bytes_max: u16,
    /// Most TLVs in one v2 header, top-level and SSL sub-TLVs counted together.
    pub tlv_count_max: usize,
    /// Accept the v1 text form. FlashMQ accepts only v2.
    pub accept_v1: bool,
}

impl ProxyLimits {
    /// Defaults: 4 KiB of v2 addresses and TLVs, 32 TLVs, v1 accepted.
    pub const DEFAULT: Self = Self {
        v2_length_bytes_max: 4096,
        tlv_count_max: 32,
        accept_v1: true,
    };
}

impl Default for ProxyLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What the TLS-terminating balancer reports about the client's TLS session (PP2_TYPE_SSL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SslInfo {
    /// Bit field of `PP2_CLIENT_SSL`, `PP2_CLIENT_CERT_CONN` and `PP2_CLIENT_CERT_SESS`.
    pub client_flags: u8,
    /// Zero if the client presented a certificate and it verified; non-zero otherwise.
    pub verify: u32,
    /// PP2_SUBTYPE_SSL_VERSION, such as `TLSv1.3`.
    pub version: Option<String>,
    /// PP2_SUBTYPE_SSL_CN: the Common Name of the client certificate's subject.
    pub cn: Option<String>,
    /// PP2_SUBTYPE_SSL_CIPHER, such as `ECDHE-RSA-AES128-GCM-SHA256`.
    pub cipher: Option<String>,
    /// PP2_SUBTYPE_SSL_SIG_ALG: the certificate's signature algorithm.
    pub sig_alg: Option<String>,
    /// PP2_SUBTYPE_SSL_KEY_ALG: the certificate's key algorithm.
    pub key_alg: Option<String>,
}

impl SslInfo {
    /// The client connected over SSL/TLS (PP2_CLIENT_SSL).
    pub const fn client_ssl(&self) -> bool {
        self.client_flags & PP2_CLIENT_SSL != 0
    }

    /// The client presented a certificate, on this connection or an earlier one of its session,
    /// and the balancer verified it. Only then may the CN stand in for a username.
    pub const fn cert_verified(&self) -> bool {
        let presented = self.client_flags & (PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS) != 0;
        presented && self.verify == 0
    }
}

/// The facts of one PROXY header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyHeader {
    /// The original client endpoint; `None` for LOCAL, UNSPEC, UNIX or v1 `UNKNOWN`.
    pub source: Option<SocketAddr>,
    /// The original server endpoint the client connected to; `None` in the same cases.
    pub destination: Option<SocketAddr>,
    /// A v2 LOCAL command: the balancer's own connection (a health check); use the real peer.
    pub local: bool,
    /// The PP2_TYPE_SSL TLV, if the balancer sent one.
    pub ssl: Option<SslInfo>,
}

/// The outcome of feeding bytes to [`parse`].
// Parsed once per connection and moved once: boxing the header would cost more than it saves.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyParse {
    /// The header is not complete yet; call again with more bytes.
    NeedMore,
    /// A complete, valid header.
    Header {
        /// Bytes of the buffer the header used; what follows is the proxied stream.
        consumed: usize,
        /// What the header said.
        header: ProxyHeader,
    },
}

/// True if `buf` could be the start of a v1 header: a prefix of, or starting with, `PROXY `.
pub fn looks_like_v1(buf: &[u8]) -> bool {
    buf.iter()
        .zip(V1_PREFIX.iter())
        .all(|(got, want)| got == want)
}

/// True if `buf` could be the start of a v2 header: a prefix of, or starting with, the signature.
pub fn looks_like_v2(buf: &[u8]) -> bool {
    buf.iter()
        .zip(V2_SIGNATURE.iter())
        .all(|(got, want)| got == want)
}

/// Parses a PROXY header (v1 or v2) at the start of `buf` with [`ProxyLimits::DEFAULT`].
pub fn parse(buf: &[u8]) -> Result<ProxyParse, ProxyError> {
    parse_with(buf, &ProxyLimits::DEFAULT)
}

/// Parses a PROXY header (v1 or v2) at the start of `buf`.
///
/// Call it again with the grown buffer after `NeedMore`. A v2 length over the cap is refused as
/// soon as the 16 fixed bytes are in, before the rest is waited for.
pub fn parse_with(buf: &[u8], limits: &ProxyLimits) -> Result<ProxyParse, ProxyError> {
    if looks_like_v2(buf) {
        v2::parse(buf, limits)
    } else if looks_like_v1(buf) {
        if !limits.accept_v1 {
            return Err(ProxyError::V1NotAccepted);
        }
        v1::parse(buf)
    } else {
        Err(ProxyError::NotProxy)
    }
}
