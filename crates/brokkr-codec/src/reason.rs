//! Reason codes: every MQTT 5 reason code as one typed enum, which codes each packet type may
//! carry, and the mapping to MQTT 3.x CONNACK and SUBACK return codes.
//!
//! MQTT 5 gives the value 0x00 three names (Success, Normal disconnection, Granted QoS 0); they
//! are one variant here with associated constants for readability.

use crate::error::DecodeError;

macro_rules! reason_codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        /// An MQTT 5 reason code (section 2.4 of the MQTT 5.0 specification).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum ReasonCode {
            $($(#[$doc])* $name = $value,)*
        }

        impl ReasonCode {
            /// Every reason code, in numeric order.
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$name,)*];

            /// The code for a byte, or `None` if MQTT 5 defines no such code.
            pub const fn from_u8(value: u8) -> Option<Self> {
                match value {
                    $($value => Some(ReasonCode::$name),)*
                    _ => None,
                }
            }
        }
    };
}

reason_codes! {
    /// 0x00: Success, Normal disconnection, Granted QoS 0.
    Success = 0x00,
    /// 0x01: Granted QoS 1.
    GrantedQos1 = 0x01,
    /// 0x02: Granted QoS 2.
    GrantedQos2 = 0x02,
    /// 0x04: Disconnect with Will Message.
    DisconnectWithWill = 0x04,
    /// 0x10: No matching subscribers.
    NoMatchingSubscribers = 0x10,
    /// 0x11: No subscription existed.
    NoSubscriptionExisted = 0x11,
    /// 0x18: Continue authentication.
    ContinueAuthentication = 0x18,
    /// 0x19: Re-authenticate.
    ReAuthenticate = 0x19,
    /// 0x80: Unspecified error.
    UnspecifiedError = 0x80,
    /// 0x81: Malformed Packet.
    MalformedPacket = 0x81,
    /// 0x82: Protocol Error.
    ProtocolError = 0x82,
    /// 0x83: Implementation specific error.
    ImplementationSpecificError = 0x83,
    /// 0x84: Unsupported Protocol Version.
    UnsupportedProtocolVersion = 0x84,
    /// 0x85: Client Identifier not valid.
    ClientIdentifierNotValid = 0x85,
    /// 0x86: Bad User Name or Password.
    BadUserNameOrPassword = 0x86,
    /// 0x87: Not authorized.
    NotAuthorized = 0x87,
    /// 0x88: Server unavailable.
    ServerUnavailable = 0x88,
    /// 0x89: Server busy.
    ServerBusy = 0x89,
    /// 0x8A: Banned.
    Banned = 0x8A,
    /// 0x8B: Server shutting down.
    ServerShuttingDown = 0x8B,
    /// 0x8C: Bad authentication method.
    BadAuthenticationMethod = 0x8C,
    /// 0x8D: Keep Alive timeout.
    KeepAliveTimeout = 0x8D,
    /// 0x8E: Session taken over.
    SessionTakenOver = 0x8E,
    /// 0x8F: Topic Filter invalid.
    TopicFilterInvalid = 0x8F,
    /// 0x90: Topic Name invalid.
    TopicNameInvalid = 0x90,
    /// 0x91: Packet Identifier in use.
    PacketIdentifierInUse = 0x91,
    /// 0x92: Packet Identifier not found.
    PacketIdentifierNotFound = 0x92,
    /// 0x93: Receive Maximum exceeded.
    ReceiveMaximumExceeded = 0x93,
    /// 0x94: Topic Alias invalid.
    TopicAliasInvalid = 0x94,
    /// 0x95: Packet too large.
    PacketTooLarge = 0x95,
    /// 0x96: Message rate too high.
    MessageRateTooHigh = 0x96,
    /// 0x97: Quota exceeded.
    QuotaExceeded = 0x97,
    /// 0x98: Administrative action.
    AdministrativeAction = 0x98,
    /// 0x99: Payload format invalid.
    PayloadFormatInvalid = 0x99,
    /// 0x9A: Retain not supported.
    RetainNotSupported = 0x9A,
    /// 0x9B: QoS not supported.
    QosNotSupported = 0x9B,
    /// 0x9C: Use another server.
    UseAnotherServer = 0x9C,
    /// 0x9D: Server moved.
    ServerMoved = 0x9D,
    /// 0x9E: Shared Subscriptions not supported.
    SharedSubscriptionsNotSupported = 0x9E,
    /// 0x9F: Connection rate exceeded.
    ConnectionRateExceeded = 0x9F,
    /// 0xA0: Maximum connect time.
    MaximumConnectTime = 0xA0,
    /// 0xA1: Subscription Identifiers not supported.
    SubscriptionIdentifiersNotSupported = 0xA1,
    /// 0xA2: Wildcard Subscriptions not supported.
    WildcardSubscriptionsNotSupported = 0xA2,
}

impl Default for ReasonCode {
    fn default() -> Self {
        ReasonCode::Success
    }
}

impl ReasonCode {
    /// 0x00 in a DISCONNECT.
    pub const NORMAL_DISCONNECTION: ReasonCode = ReasonCode::Success;
    /// 0x00 in a SUBACK.
    pub const GRANTED_QOS_0: ReasonCode = ReasonCode::Success;

    /// The byte on the wire.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// True for codes 0x80 and above, which report a failure.
    pub const fn is_error(self) -> bool {
        self.as_u8() >= 0x80
    }
}

/// The packet types that carry a reason code; each allows its own subset (MQTT 5 section 2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonContext {
    /// CONNACK.
    ConnAck,
    /// PUBACK and PUBREC.
    PubAckRec,
    /// PUBREL and PUBCOMP.
    PubRelComp,
    /// SUBACK.
    SubAck,
    /// UNSUBACK.
    UnsubAck,
    /// DISCONNECT.
    Disconnect,
    /// AUTH.
    Auth,
}

impl ReasonContext {
    /// Whether `code` may appear in this packet type.
    pub fn allows(self, code: ReasonCode) -> bool {
        use ReasonCode as R;
        match self {
            ReasonContext::ConnAck => matches!(
                code,
                R::Success
                    | R::UnspecifiedError
                    | R::MalformedPacket
                    | R::ProtocolError
                    | R::ImplementationSpecificError
                    | R::UnsupportedProtocolVersion
                    | R::ClientIdentifierNotValid
                    | R::BadUserNameOrPassword
                    | R::NotAuthorized
                    | R::ServerUnavailable
                    | R::ServerBusy
                    | R::Banned
                    | R::BadAuthenticationMethod
                    | R::TopicNameInvalid
                    | R::PacketTooLarge
                    | R::QuotaExceeded
                    | R::PayloadFormatInvalid
                    | R::RetainNotSupported
                    | R::QosNotSupported
                    | R::UseAnotherServer
                    | R::ServerMoved
                    | R::ConnectionRateExceeded
            ),
            ReasonContext::PubAckRec => matches!(
                code,
                R::Success
                    | R::NoMatchingSubscribers
                    | R::UnspecifiedError
                    | R::ImplementationSpecificError
                    | R::NotAuthorized
                    | R::TopicNameInvalid
                    | R::PacketIdentifierInUse
                    | R::QuotaExceeded
                    | R::PayloadFormatInvalid
            ),
            ReasonContext::PubRelComp => matches!(code, R::Success | R::PacketIdentifierNotFound),
            ReasonContext::SubAck => matches!(
                code,
                R::Success
                    | R::GrantedQos1
                    | R::GrantedQos2
                    | R::UnspecifiedError
                    | R::ImplementationSpecificError
                    | R::NotAuthorized
                    | R::TopicFilterInvalid
                    | R::PacketIdentifierInUse
                    | R::QuotaExceeded
                    | R::SharedSubscriptionsNotSupported
                    | R::SubscriptionIdentifiersNotSupported
                    | R::WildcardSubscriptionsNotSupported
            ),
            ReasonContext::UnsubAck => matches!(
                code,
                R::Success
                    | R::NoSubscriptionExisted
                    | R::UnspecifiedError
                    | R::ImplementationSpecificError
                    | R::NotAuthorized
                    | R::TopicFilterInvalid
                    | R::PacketIdentifierInUse
            ),
            ReasonContext::Disconnect => matches!(
                code,
                R::Success
                    | R::DisconnectWithWill
                    | R::UnspecifiedError
                    | R::MalformedPacket
                    | R::ProtocolError
                    | R::ImplementationSpecificError
                    | R::NotAuthorized
                    | R::ServerBusy
                    | R::ServerShuttingDown
                    | R::KeepAliveTimeout
                    | R::SessionTakenOver
                    | R::TopicFilterInvalid
                    | R::TopicNameInvalid
                    | R::ReceiveMaximumExceeded
                    | R::TopicAliasInvalid
                    | R::PacketTooLarge
                    | R::MessageRateTooHigh
                    | R::QuotaExceeded
                    | R::AdministrativeAction
                    | R::PayloadFormatInvalid
                    | R::RetainNotSupported
                    | R::QosNotSupported
                    | R::UseAnotherServer
                    | R::ServerMoved
                    | R::SharedSubscriptionsNotSupported
                    | R::ConnectionRateExceeded
                    | R::MaximumConnectTime
                    | R::SubscriptionIdentifiersNotSupported
                    | R::WildcardSubscriptionsNotSupported
            ),
            ReasonContext::Auth => {
                matches!(
                    code,
                    R::Success | R::ContinueAuthentication | R::ReAuthenticate
                )
            }
        }
    }

    /// Decode a reason-code byte that must be valid in this packet type.
    pub fn decode(self, byte: u8) -> Result<ReasonCode, DecodeError> {
        match ReasonCode::from_u8(byte) {
            Some(code) if self.allows(code) => Ok(code),
            _ => Err(DecodeError::malformed(
                "reason code not valid for this packet type",
            )),
        }
    }
}

/// MQTT 3.x CONNACK return code (0..=5) for a reason code. Codes without an exact 3.x
/// equivalent map to the closest one: refusals of identity to 2, of credentials to 4, of
/// permission to 5, everything else to 3 (server unavailable).
pub fn connack_return_code_v3(code: ReasonCode) -> u8 {
    use ReasonCode as R;
    match code {
        R::Success => 0,
        R::UnsupportedProtocolVersion => 1,
        R::ClientIdentifierNotValid => 2,
        R::BadUserNameOrPassword | R::BadAuthenticationMethod => 4,
        R::NotAuthorized | R::Banned => 5,
        _ => 3,
    }
}

/// The reason code for an MQTT 3.x CONNACK return code, or an error for a value above 5.
pub fn reason_from_connack_v3(byte: u8) -> Result<ReasonCode, DecodeError> {
    use ReasonCode as R;
    Ok(match byte {
        0 => R::Success,
        1 => R::UnsupportedProtocolVersion,
        2 => R::ClientIdentifierNotValid,
        3 => R::ServerUnavailable,
        4 => R::BadUserNameOrPassword,
        5 => R::NotAuthorized,
        _ => return Err(DecodeError::malformed("CONNACK return code above 5")),
    })
}

/// MQTT 3.1.1 SUBACK return code: granted QoS 0..=2, or 0x80 for any failure.
pub fn suback_return_code_v3(code: ReasonCode) -> u8 {
    match code {
        ReasonCode::Success => 0,
        ReasonCode::GrantedQos1 => 1,
        ReasonCode::GrantedQos2 => 2,
        _ => 0x80,
    }
}

/// The reason code for an MQTT 3.x SUBACK return code (MQTT-3.9.3-2 allows only these four).
pub fn reason_from_suback_v3(byte: u8) -> Result<ReasonCode, DecodeError> {
    match byte {
        0 => Ok(ReasonCode::Success),
        1 => Ok(ReasonCode::GrantedQos1),
        2 => Ok(ReasonCode::GrantedQos2),
        0x80 => Ok(ReasonCode::UnspecifiedError),
        _ => Err(
            DecodeError::malformed("SUBACK return code not 0, 1, 2 or 0x80").rule("MQTT-3.9.3-2"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_byte() {
        for &code in ReasonCode::ALL {
            assert_eq!(ReasonCode::from_u8(code.as_u8()), Some(code));
        }
        assert_eq!(ReasonCode::ALL.len(), 43);
        assert_eq!(ReasonCode::from_u8(0x03), None);
    }

    #[test]
    fn connack_v3_codes_round_trip() {
        for byte in 0..=5u8 {
            let code = reason_from_connack_v3(byte).unwrap();
            assert_eq!(connack_return_code_v3(code), byte);
        }
        assert!(reason_from_connack_v3(6).is_err());
    }

    #[test]
    fn contexts_reject_foreign_codes() {
        assert!(!ReasonContext::PubRelComp.allows(ReasonCode::NoMatchingSubscribers));
        assert!(ReasonContext::Auth.decode(0x18).is_ok());
        assert!(ReasonContext::Auth.decode(0x80).is_err());
        assert!(ReasonContext::SubAck.decode(0x02).is_ok());
        assert!(ReasonContext::ConnAck.decode(0x04).is_err());
    }
}
