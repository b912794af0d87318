//! UTF-8 Encoded Strings (MQTT 5 section 1.5.4, MQTT 3.1.1 section 1.5.3) as a validated,
//! reference-counted, zero-copy type.
//!
//! An [`MqttString`] is well-formed UTF-8 (no surrogates, no overlong forms: MQTT-1.5.4-1), has no
//! U+0000 (MQTT-1.5.4-2) and is at most 65,535 bytes. A byte order mark U+FEFF is kept as content
//! (MQTT-1.5.4-3). The bytes are shared with the packet they came from, never copied.

use crate::error::DecodeError;
use bytes::Bytes;
use bytestring::ByteString;
use std::fmt;

/// Longest string the two-byte length prefix can carry.
pub const STRING_LEN_MAX: usize = 65_535;

/// A validated MQTT UTF-8 string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MqttString(ByteString);

impl MqttString {
    /// Validate `bytes` as an MQTT string without copying them.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, DecodeError> {
        check(&bytes)?;
        ByteString::try_from(bytes)
            .map(MqttString)
            .map_err(|_| invalid_utf8())
    }

    /// Validate bytes already known to be short enough and free of U+0000: UTF-8 check only.
    pub(crate) fn from_checked_bytes(bytes: Bytes) -> Result<Self, DecodeError> {
        debug_assert!(bytes.len() <= STRING_LEN_MAX && !bytes.contains(&0));
        ByteString::try_from(bytes)
            .map(MqttString)
            .map_err(|_| invalid_utf8())
    }

    /// Validate a `&str` (copies it).
    pub fn new(s: &str) -> Result<Self, DecodeError> {
        check(s.as_bytes())?;
        Ok(MqttString(ByteString::from(s)))
    }

    /// A string known to be valid at compile time (no U+0000, short).
    pub fn from_static(s: &'static str) -> Result<Self, DecodeError> {
        check(s.as_bytes())?;
        Ok(MqttString(ByteString::from_static(s)))
    }

    /// A copy in its own allocation. Values kept beyond the packet they arrived in (aliases,
    /// subscriptions, retained messages) are compacted, so a short string never keeps a large
    /// received buffer alive.
    pub fn compact(&self) -> MqttString {
        MqttString(ByteString::from(self.as_str()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The underlying shared bytes.
    pub fn as_bytes(&self) -> &Bytes {
        self.0.as_bytes()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Validate borrowed bytes as an MQTT string, with the same checks and errors as
/// [`MqttString::from_bytes`], without taking a reference to a buffer.
pub(crate) fn check_str(bytes: &[u8]) -> Result<&str, DecodeError> {
    check(bytes)?;
    std::str::from_utf8(bytes).map_err(|_| invalid_utf8())
}

fn invalid_utf8() -> DecodeError {
    DecodeError::malformed("string is not well-formed UTF-8").rule("MQTT-1.5.4-1")
}

/// The checks that `str::from_utf8` does not do: length and U+0000.
fn check(bytes: &[u8]) -> Result<(), DecodeError> {
    if bytes.len() > STRING_LEN_MAX {
        return Err(DecodeError::malformed("string longer than 65535 bytes"));
    }
    if memchr::memchr(0, bytes).is_some() {
        return Err(DecodeError::malformed("string contains U+0000").rule("MQTT-1.5.4-2"));
    }
    Ok(())
}

impl fmt::Debug for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for MqttString {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // FlashMQ: test_validUtf8Generic, test_utf8_nonchars, test_utf8_overlong
    fn mqtt_1_5_4_1_surrogates_and_bad_utf8_are_malformed() {
        // U+D800 encoded as CESU-style bytes, an overlong '/', a lone continuation byte.
        for bad in [&b"\xED\xA0\x80"[..], b"\xC0\xAF", b"\x80", b"a\xFF"] {
            let err = MqttString::from_bytes(Bytes::copy_from_slice(bad)).unwrap_err();
            assert_eq!(err.rule, Some("MQTT-1.5.4-1"), "{bad:?}");
        }
    }

    #[test]
    fn mqtt_1_5_4_2_nul_is_malformed() {
        let err = MqttString::from_bytes(Bytes::from_static(b"a\0b")).unwrap_err();
        assert_eq!(err.rule, Some("MQTT-1.5.4-2"));
    }

    #[test]
    fn mqtt_1_5_4_3_bom_is_kept() {
        let s = MqttString::from_bytes(Bytes::from_static(b"\xEF\xBB\xBFx")).unwrap();
        assert_eq!(s.as_str(), "\u{FEFF}x");
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn length_cap() {
        let long = "a".repeat(STRING_LEN_MAX + 1);
        assert!(MqttString::new(&long).is_err());
        assert!(MqttString::new(&long[1..]).is_ok());
    }
}
