//! Encoding primitives: integers, strings, binary data, the fixed header.
//!
//! Encoders compute the exact body length first, then write the fixed header and the body into a
//! caller-owned `BytesMut`, so a packet is written with at most one reservation and no copies.

use crate::error::EncodeError;
use crate::string::MqttString;
use crate::vbi::{VBI_MAX, vbi_len, write_vbi};
use bytes::{BufMut, BytesMut};

/// Bytes a UTF-8 string or Binary Data field takes: two-byte length plus content.
pub(crate) const fn prefixed_len(len: usize) -> usize {
    2 + len
}

pub(crate) fn put_string(out: &mut BytesMut, s: &MqttString) {
    put_binary(out, s.as_bytes());
}

/// Binary Data. Callers guarantee `data.len() <= 65535` (checked by `check_binary_len`).
pub(crate) fn put_binary(out: &mut BytesMut, data: &[u8]) {
    debug_assert!(data.len() <= usize::from(u16::MAX));
    out.put_u16(u16::try_from(data.len()).unwrap_or(u16::MAX));
    out.put_slice(data);
}

/// Refuse Binary Data that does not fit its two-byte length prefix.
pub(crate) fn check_binary_len(len: usize) -> Result<(), EncodeError> {
    if len > usize::from(u16::MAX) {
        Err(EncodeError::TooLarge)
    } else {
        Ok(())
    }
}

/// Write the fixed header for a body of `body_len` bytes and reserve room for the body.
pub(crate) fn put_fixed_header(
    out: &mut BytesMut,
    first_byte: u8,
    body_len: usize,
) -> Result<(), EncodeError> {
    let remaining = u32::try_from(body_len).map_err(|_| EncodeError::TooLarge)?;
    if remaining > VBI_MAX {
        return Err(EncodeError::TooLarge);
    }
    out.reserve(1 + vbi_len(remaining) + body_len);
    out.put_u8(first_byte);
    write_vbi(out, remaining);
    Ok(())
}

/// Total size of a packet with a body of `body_len` bytes (fixed header included).
pub fn packet_len(body_len: usize) -> usize {
    let remaining = u32::try_from(body_len).unwrap_or(u32::MAX);
    1 + vbi_len(remaining) + body_len
}
