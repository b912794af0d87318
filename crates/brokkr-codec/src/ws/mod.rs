//! MQTT over websockets (RFC 6455, server side), as bytes in and bytes out.
//!
//! This module owns the HTTP/1.1 upgrade handshake ([`parse_upgrade_request`] and the response
//! writers) and websocket framing ([`Deframer`] for client-to-server frames, the `encode_*`
//! functions for server-to-client frames). It never touches a socket, a clock or a thread, and it
//! never allocates more than a configured bound ([`WsLimits`]) because a peer asked for it. It
//! does not interpret the MQTT bytes it carries, and it does not decide whether `X-Real-IP` is
//! trusted: that is the listener's policy.

mod error;
mod frame;
mod handshake;

#[cfg(test)]
mod frame_tests;
#[cfg(test)]
mod handshake_tests;

pub use error::{HandshakeError, WsEncodeError, WsError};
pub use frame::{
    CONTROL_PAYLOAD_BYTES_MAX, Deframer, FRAME_HEADER_BYTES_MAX, Opcode, WsEvent, encode_binary,
    encode_close, encode_frame, encode_frame_with, encode_pong,
};
pub use handshake::{
    MqttSubprotocol, UpgradeParse, UpgradeRequest, WEBSOCKET_GUID, accept_key,
    parse_upgrade_request, write_rejection, write_switching_protocols,
};

/// Every bound the websocket layer enforces, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsLimits {
    /// Largest HTTP upgrade request head (request line, headers, final CRLF), in bytes.
    pub handshake_head_bytes_max: usize,
    /// Most header fields accepted in the upgrade request.
    pub handshake_headers_max: usize,
    /// Largest payload of one websocket frame, in bytes. Checked from the frame header, before
    /// the body is waited for, so a reader never needs to buffer more than this plus 14 bytes.
    pub frame_payload_bytes_max: u64,
    /// Refuse unmasked client frames, as RFC 6455 section 5.1 requires. FlashMQ accepts them,
    /// so a compatible listener sets this to `false`.
    pub require_mask: bool,
}

impl WsLimits {
    /// Defaults: 8 KiB request head, 64 headers, 1 MiB + 16 bytes of frame payload (room for a
    /// 1 MiB MQTT packet plus its fixed header), masking not required (FlashMQ compatible).
    pub const DEFAULT: Self = Self {
        handshake_head_bytes_max: 8 * 1024,
        handshake_headers_max: 64,
        frame_payload_bytes_max: 1024 * 1024 + 16,
        require_mask: false,
    };
}

impl Default for WsLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
