//! Websocket errors, one enum for the upgrade handshake and one for framing.
//!
//! This module owns the error vocabulary of the `ws` layer and the mapping from a handshake error
//! to the HTTP status a server answers with. It never formats peer data into a message and never
//! allocates: every variant is `Copy` and carries only numbers the decoder already holds.

use std::fmt;

/// Why an HTTP/1.1 upgrade request was refused. Every variant is the client's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The request head did not end within `handshake_head_bytes_max` bytes.
    HeadTooLarge {
        /// The configured bound, in bytes.
        max_bytes: usize,
    },
    /// The request carried more than `handshake_headers_max` header fields.
    TooManyHeaders {
        /// The configured bound.
        max: usize,
    },
    /// The bytes are not an HTTP/1.x request head.
    MalformedHttp,
    /// The method is not `GET`.
    MethodNotGet,
    /// The version is not HTTP/1.1.
    VersionNotHttp11,
    /// No `Upgrade` header lists the `websocket` token.
    MissingUpgradeWebsocket,
    /// No `Connection` header lists the `upgrade` token.
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Version` is absent, repeated, or not `13`.
    UnsupportedWebsocketVersion,
    /// `Sec-WebSocket-Key` is absent.
    MissingKey,
    /// `Sec-WebSocket-Key` appears more than once (RFC 6455 section 11.3.1).
    DuplicateKey,
    /// `Sec-WebSocket-Key` is not the base64 form of exactly 16 bytes.
    BadKey,
    /// `X-Real-IP` appears more than once or is not UTF-8.
    BadRealIp,
    /// A header value this decoder reads is not valid UTF-8 / ASCII text.
    BadHeaderValue,
}

impl HandshakeError {
    /// The HTTP status code a server answers with: 426 when the client must change its upgrade
    /// (RFC 6455 section 4.4), 400 otherwise.
    pub const fn status_code(&self) -> u16 {
        match self {
            Self::MissingUpgradeWebsocket | Self::UnsupportedWebsocketVersion => 426,
            _ => 400,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HeadTooLarge { max_bytes } => {
                write!(
                    f,
                    "websocket upgrade request head exceeds {max_bytes} bytes"
                )
            }
            Self::TooManyHeaders { max } => {
                write!(f, "websocket upgrade request has more than {max} headers")
            }
            Self::MalformedHttp => f.write_str("malformed HTTP request head"),
            Self::MethodNotGet => f.write_str("websocket upgrade method is not GET"),
            Self::VersionNotHttp11 => f.write_str("websocket upgrade is not HTTP/1.1"),
            Self::MissingUpgradeWebsocket => f.write_str("missing `Upgrade: websocket`"),
            Self::MissingConnectionUpgrade => f.write_str("missing `Connection: upgrade`"),
            Self::UnsupportedWebsocketVersion => f.write_str("Sec-WebSocket-Version is not 13"),
            Self::MissingKey => f.write_str("missing Sec-WebSocket-Key"),
            Self::DuplicateKey => f.write_str("Sec-WebSocket-Key appears more than once"),
            Self::BadKey => f.write_str("Sec-WebSocket-Key is not base64 of 16 bytes"),
            Self::BadRealIp => f.write_str("X-Real-IP is repeated or not UTF-8"),
            Self::BadHeaderValue => f.write_str("websocket header value is not text"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// Why a websocket frame stream was refused. Every variant is the peer's fault and ends the
/// connection; after one, [`Deframer::next`](super::Deframer::next) returns the same error again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WsError {
    /// RSV1, RSV2 or RSV3 is set, but no extension was negotiated (RFC 6455 section 5.2).
    ReservedBitsSet,
    /// The opcode is reserved (3-7, 0xB-0xF).
    UnknownOpcode(u8),
    /// A text frame arrived; MQTT-6.0.0-1 says the server must close the connection.
    TextFrame,
    /// The frame is not masked but the listener requires client frames to be masked.
    UnmaskedFrame,
    /// A 64-bit payload length has its most significant bit set.
    LengthTopBitSet,
    /// The payload length exceeds the configured `frame_payload_bytes_max`.
    PayloadTooLarge {
        /// The length the frame header claims, in bytes.
        len_bytes: u64,
        /// The configured bound, in bytes.
        max_bytes: u64,
    },
    /// A control frame (close, ping, pong) has FIN clear.
    ControlFragmented,
    /// A control frame payload is longer than 125 bytes.
    ControlTooLong {
        /// The length the frame header claims, in bytes.
        len_bytes: u64,
    },
    /// A continuation frame arrived while no fragmented message was open.
    ContinuationWithoutStart,
    /// A new binary or text frame arrived while a fragmented message was still open.
    MessageInsideFragmented,
    /// A close frame carries a one-byte payload (a status code needs two).
    CloseOneBytePayload,
    /// A close frame carries a status code that must not appear on the wire (RFC 6455 7.4).
    BadCloseCode(u16),
    /// The close reason is not valid UTF-8 (RFC 6455 section 5.5.1).
    CloseReasonNotUtf8,
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedBitsSet => f.write_str("websocket frame has reserved bits set"),
            Self::UnknownOpcode(op) => write!(f, "websocket frame has reserved opcode {op:#x}"),
            Self::TextFrame => f.write_str("websocket text frame (MQTT-6.0.0-1)"),
            Self::UnmaskedFrame => f.write_str("websocket client frame is not masked"),
            Self::LengthTopBitSet => f.write_str("websocket 64-bit length has its top bit set"),
            Self::PayloadTooLarge {
                len_bytes,
                max_bytes,
            } => {
                write!(
                    f,
                    "websocket payload of {len_bytes} bytes exceeds {max_bytes}"
                )
            }
            Self::ControlFragmented => f.write_str("websocket control frame without FIN"),
            Self::ControlTooLong { len_bytes } => {
                write!(
                    f,
                    "websocket control payload of {len_bytes} bytes exceeds 125"
                )
            }
            Self::ContinuationWithoutStart => {
                f.write_str("websocket continuation frame without a started message")
            }
            Self::MessageInsideFragmented => {
                f.write_str("websocket data frame inside an unfinished fragmented message")
            }
            Self::CloseOneBytePayload => f.write_str("websocket close payload of one byte"),
            Self::BadCloseCode(code) => write!(f, "websocket close code {code} is not allowed"),
            Self::CloseReasonNotUtf8 => f.write_str("websocket close reason is not UTF-8"),
        }
    }
}

impl WsError {
    /// The status code of the close frame that answers this error (RFC 6455 section 7.4.1):
    /// 1003 for a text frame (data of a type the endpoint cannot accept), 1009 for a frame too
    /// large to process, 1002 (protocol error) for everything else.
    pub const fn close_code(&self) -> u16 {
        match self {
            Self::TextFrame => 1003,
            Self::PayloadTooLarge { .. } => 1009,
            _ => 1002,
        }
    }
}

impl std::error::Error for WsError {}

/// Why a frame could not be encoded. Only a caller bug produces one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WsEncodeError {
    /// A control frame payload (pong, close code + reason) would exceed 125 bytes.
    ControlTooLong {
        /// The payload length asked for, in bytes.
        len_bytes: usize,
    },
}

impl fmt::Display for WsEncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ControlTooLong { len_bytes } => {
                write!(
                    f,
                    "websocket control payload of {len_bytes} bytes exceeds 125"
                )
            }
        }
    }
}

impl std::error::Error for WsEncodeError {}
