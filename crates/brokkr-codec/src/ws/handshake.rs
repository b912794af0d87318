//! The HTTP/1.1 websocket upgrade (RFC 6455 section 4): incremental, bounded parsing of the
//! client's request, and the server's `101`, `400` or `426` answer.
//!
//! This module owns the decision "is this request head a valid websocket upgrade for MQTT", and
//! the few facts a broker keeps from it: the path, the MQTT subprotocol the client offered, the
//! `X-Real-IP` header text and the key. It never reads a socket: the caller passes whatever bytes it
//! has and gets `NeedMore`, a parsed request with the number of bytes it consumed, or an error. It
//! never looks past `handshake_head_bytes_max` bytes, never stores any other header (in particular
//! not `X-Forwarded-For`), and never decides whether `X-Real-IP` is to be trusted. The responses
//! are appended to a caller-owned buffer and echo no peer-chosen text except the fixed
//! subprotocol token and the `Sec-WebSocket-Accept` hash.

use super::WsLimits;
use super::error::HandshakeError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::BytesMut;
use sha1::{Digest as _, Sha1};

/// Length of a `Sec-WebSocket-Key` value: base64 of 16 bytes, with padding.
const KEY_BASE64_BYTES: usize = 24;
/// Length of the nonce a `Sec-WebSocket-Key` encodes.
const KEY_NONCE_BYTES: usize = 16;

/// The MQTT websocket subprotocol a client offered in `Sec-WebSocket-Protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MqttSubprotocol {
    /// `mqtt`, the name MQTT 3.1.1 and 5.0 register (MQTT-6.0.0-4).
    Mqtt,
    /// `mqttv3.1`, the name some MQTT 3.1 clients still send.
    MqttV31,
}

impl MqttSubprotocol {
    /// The token as it is echoed in the `101` response.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Mqtt => "mqtt",
            Self::MqttV31 => "mqttv3.1",
        }
    }
}

/// A validated websocket upgrade request: only the facts a broker needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The request target, as sent (any path is accepted, as FlashMQ does).
    pub path: String,
    /// The MQTT subprotocol offered, `mqtt` preferred over `mqttv3.1`; `None` if neither.
    pub subprotocol: Option<MqttSubprotocol>,
    /// The `X-Real-IP` header text, trimmed. Whether to trust it is the listener's decision.
    pub real_ip: Option<String>,
    /// The `Sec-WebSocket-Key` value, validated as base64 of 16 bytes.
    key: String,
}

impl UpgradeRequest {
    /// The `Sec-WebSocket-Key` value (24 ASCII bytes).
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// The outcome of feeding bytes to [`parse_upgrade_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeParse {
    /// The request head is not complete yet; call again with more bytes.
    NeedMore,
    /// A complete, valid upgrade request.
    Request {
        /// Bytes of the buffer the request head used; anything after them is websocket data.
        consumed: usize,
        /// What the request carried.
        request: UpgradeRequest,
    },
}

/// Parses an HTTP/1.1 websocket upgrade request from the start of `buf`.
///
/// Call it again with the grown buffer after `NeedMore`: each call re-parses from the start, which
/// costs at most `handshake_head_bytes_max` bytes of scanning. Only the first
/// `handshake_head_bytes_max` bytes are ever looked at.
pub fn parse_upgrade_request(
    buf: &[u8],
    limits: &WsLimits,
) -> Result<UpgradeParse, HandshakeError> {
    let head_bytes_max = limits.handshake_head_bytes_max;
    let window = buf.get(..head_bytes_max).unwrap_or(buf);
    let mut headers = vec![httparse::EMPTY_HEADER; limits.handshake_headers_max];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(window) {
        Ok(httparse::Status::Complete(consumed)) => {
            debug_assert!(consumed <= head_bytes_max);
            let request = validate(&request)?;
            Ok(UpgradeParse::Request { consumed, request })
        }
        Ok(httparse::Status::Partial) if buf.len() >= head_bytes_max => {
            Err(HandshakeError::HeadTooLarge {
                max_bytes: head_bytes_max,
            })
        }
        Ok(httparse::Status::Partial) => Ok(UpgradeParse::NeedMore),
        Err(httparse::Error::TooManyHeaders) => Err(HandshakeError::TooManyHeaders {
            max: limits.handshake_headers_max,
        }),
        Err(_) => Err(HandshakeError::MalformedHttp),
    }
}

/// What the header scan found, before it is judged.
#[derive(Debug, Default)]
struct Scan<'b> {
    upgrade_websocket: bool,
    connection_upgrade: bool,
    version_headers: usize,
    version_13: bool,
    keys: usize,
    key: Option<&'b [u8]>,
    subprotocol: Option<MqttSubprotocol>,
    real_ips: usize,
    real_ip: Option<&'b [u8]>,
}

impl<'b> Scan<'b> {
    fn header(&mut self, header: &httparse::Header<'b>) {
        let name = header.name;
        let value = header.value;
        if name.eq_ignore_ascii_case("upgrade") {
            self.upgrade_websocket |= has_token(value, b"websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            self.connection_upgrade |= has_token(value, b"upgrade");
        } else if name.eq_ignore_ascii_case("sec-websocket-version") {
            self.version_headers = self.version_headers.saturating_add(1);
            self.version_13 = value.trim_ascii() == b"13";
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            self.keys = self.keys.saturating_add(1);
            self.key = Some(value.trim_ascii());
        } else if name.eq_ignore_ascii_case("sec-websocket-protocol") {
            if has_token(value, b"mqtt") {
                self.subprotocol = Some(MqttSubprotocol::Mqtt);
            } else if has_token(value, b"mqttv3.1") && self.subprotocol.is_none() {
                self.subprotocol = Some(MqttSubprotocol::MqttV31);
            }
        } else if name.eq_ignore_ascii_case("x-real-ip") {
            self.real_ips = self.real_ips.saturating_add(1);
            self.real_ip = Some(value.trim_ascii());
        }
    }
}

/// Judges a complete request head; the checks run in a fixed order so the error is deterministic.
fn validate(request: &httparse::Request<'_, '_>) -> Result<UpgradeRequest, HandshakeError> {
    if request.method != Some("GET") {
        return Err(HandshakeError::MethodNotGet);
    }
    if request.version != Some(1) {
        return Err(HandshakeError::VersionNotHttp11);
    }
    let path = request.path.ok_or(HandshakeError::MalformedHttp)?;
    let mut scan = Scan::default();
    for header in request.headers.iter() {
        scan.header(header);
    }
    if !scan.upgrade_websocket {
        return Err(HandshakeError::MissingUpgradeWebsocket);
    }
    if !scan.connection_upgrade {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    if scan.version_headers != 1 || !scan.version_13 {
        return Err(HandshakeError::UnsupportedWebsocketVersion);
    }
    let key = match (scan.keys, scan.key) {
        (1, Some(key)) => validate_key(key)?,
        (0, _) | (_, None) => return Err(HandshakeError::MissingKey),
        _ => return Err(HandshakeError::DuplicateKey),
    };
    let real_ip = match (scan.real_ips, scan.real_ip) {
        (0, _) | (_, None) => None,
        (1, Some(ip)) => {
            let text = std::str::from_utf8(ip).map_err(|_| HandshakeError::BadRealIp)?;
            Some(text.to_owned())
        }
        _ => return Err(HandshakeError::BadRealIp),
    };
    Ok(UpgradeRequest {
        path: path.to_owned(),
        subprotocol: scan.subprotocol,
        real_ip,
        key,
    })
}

/// Checks that `key` is the canonical base64 form of exactly 16 bytes.
fn validate_key(key: &[u8]) -> Result<String, HandshakeError> {
    if key.len() != KEY_BASE64_BYTES {
        return Err(HandshakeError::BadKey);
    }
    // The engine wants room for its worst-case estimate (18 bytes for 24 characters).
    let mut nonce = [0_u8; KEY_BASE64_BYTES];
    match STANDARD.decode_slice(key, &mut nonce) {
        Ok(KEY_NONCE_BYTES) => {}
        Ok(_) | Err(_) => return Err(HandshakeError::BadKey),
    }
    let text = std::str::from_utf8(key).map_err(|_| HandshakeError::BadHeaderValue)?;
    Ok(text.to_owned())
}

/// True if the comma-separated token list `value` contains `token`, ignoring ASCII case and
/// surrounding whitespace (RFC 7230 section 7).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|byte| *byte == b',')
        .any(|item| item.trim_ascii().eq_ignore_ascii_case(token))
}

/// The GUID RFC 6455 appends to the client key before hashing.
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    let mut hasher = Sha1::new();
    hasher.update(key.as_bytes());
    hasher.update(WEBSOCKET_GUID.as_bytes());
    STANDARD.encode(hasher.finalize())
}

/// Appends the `101 Switching Protocols` response for `request` to `out`, echoing the MQTT
/// subprotocol the client offered (MQTT-6.0.0-4), if any.
pub fn write_switching_protocols(request: &UpgradeRequest, out: &mut BytesMut) {
    out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
    out.extend_from_slice(b"Upgrade: websocket\r\n");
    out.extend_from_slice(b"Connection: Upgrade\r\n");
    out.extend_from_slice(b"Sec-WebSocket-Accept: ");
    out.extend_from_slice(accept_key(request.key()).as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(subprotocol) = request.subprotocol {
        out.extend_from_slice(b"Sec-WebSocket-Protocol: ");
        out.extend_from_slice(subprotocol.as_str().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends the refusal for `error` to `out`: `426 Upgrade Required` (naming the websocket version
/// this server speaks) when the client must change its upgrade, `400 Bad Request` otherwise. Both
/// announce `Connection: close`; the caller closes after flushing.
pub fn write_rejection(error: &HandshakeError, out: &mut BytesMut) {
    if error.status_code() == 426 {
        out.extend_from_slice(b"HTTP/1.1 426 Upgrade Required\r\n");
        out.extend_from_slice(b"Upgrade: websocket\r\n");
        out.extend_from_slice(b"Sec-WebSocket-Version: 13\r\n");
    } else {
        out.extend_from_slice(b"HTTP/1.1 400 Bad Request\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n");
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
}
