//! Decode errors, typed by who is to blame.
//!
//! Every error the codec returns says what kind of fault it is ([`ErrorKind`]), which MQTT 5
//! reason code a server should answer with ([`ReasonCode`]), and, where one exists, the id of the
//! normative statement the input violates. Mapping an error to the wire (CONNACK, DISCONNECT or a
//! plain close for 3.x) is the broker core's job; this module only carries the facts.

use crate::reason::ReasonCode;
use std::fmt;

/// Who is to blame for a decode failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes do not form a valid packet (MQTT 5 reason 0x81).
    Malformed,
    /// The bytes form a packet, but one the protocol forbids here (reason 0x82).
    ProtocolError,
    /// The peer exceeded a configured bound (packet size, string length, topic depth...).
    LimitExceeded,
    /// CONNECT asked for a protocol name or level we do not speak.
    UnsupportedProtocol,
}

/// A typed decode failure. Cheap to create and copy: no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecodeError {
    /// Who is to blame.
    pub kind: ErrorKind,
    /// The MQTT 5 reason code a server sends for this fault.
    pub reason: ReasonCode,
    /// The normative statement violated, such as `"MQTT-3.3.1-4"`, when there is one.
    pub rule: Option<&'static str>,
    /// A short human-readable description, safe to log (never contains peer data).
    pub detail: &'static str,
}

impl DecodeError {
    /// A malformed-packet error.
    pub const fn malformed(detail: &'static str) -> Self {
        Self {
            kind: ErrorKind::Malformed,
            reason: ReasonCode::MalformedPacket,
            rule: None,
            detail,
        }
    }

    /// A protocol-error (well formed, but forbidden).
    pub const fn protocol(detail: &'static str) -> Self {
        Self {
            kind: ErrorKind::ProtocolError,
            reason: ReasonCode::ProtocolError,
            rule: None,
            detail,
        }
    }

    /// A bound was exceeded; `reason` is the code to answer with.
    pub const fn limit(reason: ReasonCode, detail: &'static str) -> Self {
        Self {
            kind: ErrorKind::LimitExceeded,
            reason,
            rule: None,
            detail,
        }
    }

    /// CONNECT named a protocol we do not speak.
    pub const fn unsupported(detail: &'static str) -> Self {
        Self {
            kind: ErrorKind::UnsupportedProtocol,
            reason: ReasonCode::UnsupportedProtocolVersion,
            rule: None,
            detail,
        }
    }

    /// Attach the normative statement id this error enforces.
    pub const fn rule(mut self, rule: &'static str) -> Self {
        self.rule = Some(rule);
        self
    }

    /// Override the reason code (for faults whose code is more specific than the kind's).
    pub const fn with_reason(mut self, reason: ReasonCode) -> Self {
        self.reason = reason;
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ErrorKind::Malformed => "malformed packet",
            ErrorKind::ProtocolError => "protocol error",
            ErrorKind::LimitExceeded => "limit exceeded",
            ErrorKind::UnsupportedProtocol => "unsupported protocol",
        };
        write!(f, "{kind}: {}", self.detail)?;
        if let Some(rule) = self.rule {
            write!(f, " [{rule}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for DecodeError {}

/// An encode failure: the value cannot be represented on the wire in this protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeError {
    /// The packet's remaining length would exceed 268,435,455 bytes, or a field exceeds its
    /// length prefix (65,535 bytes for strings and binary data).
    TooLarge,
    /// The packet or field does not exist in this protocol version (AUTH in 3.1.1, for example).
    NotInVersion,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::TooLarge => f.write_str("packet or field too large to encode"),
            EncodeError::NotInVersion => {
                f.write_str("packet or field not in this protocol version")
            }
        }
    }
}

impl std::error::Error for EncodeError {}
