//! Variable Byte Integers (MQTT 5 section 1.5.5, MQTT 3.1.1 section 2.2.3): 1 to 4 bytes, 7 bits
//! each, least significant group first, high bit set on every byte but the last.
//!
//! The decoder is strict: a fifth byte is malformed, and so is a non-minimal encoding
//! (MQTT-1.5.5-1), which keeps decode and encode an exact round trip.

use crate::error::DecodeError;
use bytes::BufMut;

/// The largest value a Variable Byte Integer can carry: 268,435,455.
pub const VBI_MAX: u32 = 268_435_455;

/// Result of reading a Variable Byte Integer from a prefix of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VbiRead {
    /// The buffer ends before the integer does.
    Incomplete,
    /// The value and how many bytes encoded it.
    Value { value: u32, len: usize },
}

/// Read a Variable Byte Integer from the start of `buf`.
pub fn read_vbi(buf: &[u8]) -> Result<VbiRead, DecodeError> {
    let mut value: u32 = 0;
    for (index, &byte) in buf.iter().take(4).enumerate() {
        value |= u32::from(byte & 0x7F) << (7 * index);
        if byte & 0x80 == 0 {
            let len = index + 1;
            if len > 1 && byte == 0 {
                return Err(
                    DecodeError::malformed("variable byte integer not minimally encoded")
                        .rule("MQTT-1.5.5-1"),
                );
            }
            return Ok(VbiRead::Value { value, len });
        }
    }
    if buf.len() >= 4 {
        return Err(DecodeError::malformed(
            "variable byte integer longer than 4 bytes",
        ));
    }
    Ok(VbiRead::Incomplete)
}

/// Number of bytes `value` takes as a Variable Byte Integer (values above [`VBI_MAX`] report 5,
/// which no encoder accepts).
pub const fn vbi_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        2_097_152..=VBI_MAX => 4,
        _ => 5,
    }
}

/// Append `value` as a Variable Byte Integer. The caller guarantees `value <= VBI_MAX`.
pub fn write_vbi(out: &mut impl BufMut, value: u32) {
    debug_assert!(value <= VBI_MAX, "vbi out of range");
    let mut rest = value;
    loop {
        let byte = (rest & 0x7F) as u8;
        rest >>= 7;
        if rest == 0 {
            out.put_u8(byte);
            return;
        }
        out.put_u8(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(value: u32) -> Vec<u8> {
        let mut out = Vec::new();
        write_vbi(&mut out, value);
        out
    }

    #[test]
    fn spec_boundaries_round_trip() {
        for (value, len) in [
            (0, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (2_097_151, 3),
            (2_097_152, 4),
            (VBI_MAX, 4),
        ] {
            let bytes = encode(value);
            assert_eq!(bytes.len(), len, "{value}");
            assert_eq!(vbi_len(value), len);
            assert_eq!(read_vbi(&bytes), Ok(VbiRead::Value { value, len }));
        }
    }

    #[test]
    fn five_bytes_are_malformed() {
        assert!(read_vbi(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F]).is_err());
        assert!(read_vbi(&[0x80, 0x80, 0x80, 0x80]).is_err());
    }

    #[test]
    fn mqtt_1_5_5_1_non_minimal_encoding_is_malformed() {
        let err = read_vbi(&[0x80, 0x00]).unwrap_err();
        assert_eq!(err.rule, Some("MQTT-1.5.5-1"));
        assert!(read_vbi(&[0xFF, 0x80, 0x00]).is_err());
    }

    #[test]
    fn incomplete_prefixes_ask_for_more() {
        assert_eq!(read_vbi(&[]), Ok(VbiRead::Incomplete));
        assert_eq!(read_vbi(&[0x80]), Ok(VbiRead::Incomplete));
        assert_eq!(read_vbi(&[0xFF, 0xFF, 0xFF]), Ok(VbiRead::Incomplete));
    }
}
