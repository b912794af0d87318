//! Small validated value types shared by several packets: protocol version, QoS, packet
//! identifier, client identifier.

use crate::error::DecodeError;
use crate::string::MqttString;
use std::fmt;
use std::num::NonZeroU16;

/// The protocol versions brokkr speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// MQTT 3.1: protocol name `MQIsdp`, level 3.
    V3_1,
    /// MQTT 3.1.1: protocol name `MQTT`, level 4.
    V3_1_1,
    /// MQTT 5.0: protocol name `MQTT`, level 5.
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte of CONNECT.
    pub const fn level(self) -> u8 {
        match self {
            ProtocolVersion::V3_1 => 3,
            ProtocolVersion::V3_1_1 => 4,
            ProtocolVersion::V5 => 5,
        }
    }

    /// The protocol name of CONNECT.
    pub const fn name(self) -> &'static str {
        match self {
            ProtocolVersion::V3_1 => "MQIsdp",
            _ => "MQTT",
        }
    }

    /// True for MQTT 5.
    pub const fn is_v5(self) -> bool {
        matches!(self, ProtocolVersion::V5)
    }

    /// All versions, oldest first.
    pub const ALL: [ProtocolVersion; 3] = [
        ProtocolVersion::V3_1,
        ProtocolVersion::V3_1_1,
        ProtocolVersion::V5,
    ];
}

/// Quality of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum QoS {
    /// QoS 0, at most once.
    #[default]
    AtMostOnce = 0,
    /// QoS 1, at least once.
    AtLeastOnce = 1,
    /// QoS 2, exactly once.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for its two-bit value; 3 is not a QoS.
    pub const fn from_u8(value: u8) -> Option<QoS> {
        match value {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }

    /// The value on the wire.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

/// A Packet Identifier: never zero (MQTT-2.2.1-3 in MQTT 5, MQTT-2.3.1-1 in 3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketId(NonZeroU16);

impl PacketId {
    /// The identifier for a non-zero value.
    pub const fn new(value: u16) -> Option<PacketId> {
        match NonZeroU16::new(value) {
            Some(v) => Some(PacketId(v)),
            None => None,
        }
    }

    /// Decode a two-byte identifier, refusing zero.
    pub fn decode(value: u16) -> Result<PacketId, DecodeError> {
        PacketId::new(value)
            .ok_or(DecodeError::malformed("packet identifier is zero").rule("MQTT-2.2.1-3"))
    }

    /// The numeric value.
    pub const fn get(self) -> u16 {
        self.0.get()
    }

    /// The next identifier, wrapping from 65535 to 1.
    pub const fn next(self) -> PacketId {
        match NonZeroU16::new(self.0.get().wrapping_add(1)) {
            Some(v) => PacketId(v),
            None => PacketId(NonZeroU16::MIN),
        }
    }
}

impl fmt::Display for PacketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A client identifier as sent in CONNECT (possibly empty: the broker decides whether to assign
/// one, MQTT-3.1.3-6 / MQTT-3.1.3-8).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ClientId(MqttString);

impl ClientId {
    /// Wrap a validated string.
    pub fn new(s: MqttString) -> ClientId {
        ClientId(s)
    }

    /// The identifier text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The validated string.
    pub fn as_mqtt_str(&self) -> &MqttString {
        &self.0
    }

    /// True for the zero-length identifier.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_2_2_1_3_packet_id_zero_is_refused() {
        assert_eq!(PacketId::decode(0).unwrap_err().rule, Some("MQTT-2.2.1-3"));
        assert_eq!(PacketId::decode(7).unwrap().get(), 7);
    }

    #[test]
    fn packet_id_wraps_past_zero() {
        assert_eq!(PacketId::new(65535).unwrap().next().get(), 1);
        assert_eq!(PacketId::new(1).unwrap().next().get(), 2);
    }

    #[test]
    fn qos_three_is_not_a_qos() {
        assert_eq!(QoS::from_u8(3), None);
        assert_eq!(QoS::from_u8(2), Some(QoS::ExactlyOnce));
    }
}
