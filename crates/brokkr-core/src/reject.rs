//! The one place where a fault becomes bytes on the wire.
//!
//! Before CONNACK, an MQTT 5 client gets a CONNACK with the reason code and a 3.x client a
//! CONNACK return code where one fits (MQTT-3.2.2-6 in 3.1.1: otherwise just a close). After
//! CONNACK, an MQTT 5 client gets a DISCONNECT with the reason code (MQTT-3.14.0-1 forbids one
//! before CONNACK) and a 3.x client is simply closed. Either way the connection is then closed.

use brokkr_codec::{
    ConnAck, DecodeError, Disconnect, ErrorKind, Packet, ProtocolVersion, ReasonCode,
};

/// Where in its life a connection is when the fault happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No CONNECT decoded yet: the version is unknown or just read from the CONNECT.
    BeforeConnAck(Option<ProtocolVersion>),
    /// CONNACK with success was sent.
    Connected(ProtocolVersion),
}

/// What to send, if anything, before closing.
pub fn rejection(phase: Phase, reason: ReasonCode) -> Option<Packet> {
    match phase {
        Phase::BeforeConnAck(Some(v)) => {
            if !v.is_v5()
                && brokkr_codec::reason::connack_return_code_v3(reason) == 3
                && reason != ReasonCode::ServerUnavailable
            {
                // No 3.x return code says this; closing without CONNACK is the honest answer.
                return None;
            }
            Some(Packet::ConnAck(ConnAck {
                session_present: false,
                reason,
                ..Default::default()
            }))
        }
        Phase::BeforeConnAck(None) => None,
        Phase::Connected(v) if v.is_v5() => Some(Packet::Disconnect(Disconnect::new(reason))),
        Phase::Connected(_) => None,
    }
}

/// What to send for a decode error.
pub fn decode_rejection(phase: Phase, err: &DecodeError) -> Option<Packet> {
    // An unsupported protocol is answered in the layout of the level byte it asked for; the
    // caller passes that version in the phase.
    let reason = match err.kind {
        ErrorKind::UnsupportedProtocol => ReasonCode::UnsupportedProtocolVersion,
        _ => err.reason,
    };
    rejection(phase, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProtocolVersion::{V3_1_1, V5};

    #[test]
    fn v5_before_connack_gets_connack_with_the_reason() {
        let p = rejection(Phase::BeforeConnAck(Some(V5)), ReasonCode::MalformedPacket);
        assert!(
            matches!(p, Some(Packet::ConnAck(ack)) if ack.reason == ReasonCode::MalformedPacket)
        );
    }

    #[test]
    fn v5_after_connack_gets_disconnect() {
        let p = rejection(Phase::Connected(V5), ReasonCode::TopicAliasInvalid);
        assert!(
            matches!(p, Some(Packet::Disconnect(d)) if d.reason == ReasonCode::TopicAliasInvalid)
        );
    }

    #[test]
    fn v3_is_closed_after_connack_and_without_a_fitting_code() {
        assert_eq!(
            rejection(Phase::Connected(V3_1_1), ReasonCode::ProtocolError),
            None
        );
        assert_eq!(
            rejection(
                Phase::BeforeConnAck(Some(V3_1_1)),
                ReasonCode::MalformedPacket
            ),
            None
        );
        assert!(
            rejection(
                Phase::BeforeConnAck(Some(V3_1_1)),
                ReasonCode::NotAuthorized
            )
            .is_some()
        );
        assert!(
            rejection(
                Phase::BeforeConnAck(Some(V3_1_1)),
                ReasonCode::UnsupportedProtocolVersion
            )
            .is_some()
        );
    }

    #[test]
    fn unknown_version_is_closed() {
        assert_eq!(
            rejection(Phase::BeforeConnAck(None), ReasonCode::ProtocolError),
            None
        );
    }
}
