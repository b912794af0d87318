//! PINGREQ and PINGRESP (MQTT 5 sections 3.12 and 3.13, MQTT 3.1.1 sections 3.12 and 3.13): two
//! packets with no content at all, so they share this file. The only checks are the reserved
//! flags and an empty body.

use super::{PacketType, check_flags, first_byte};
use crate::error::{DecodeError, EncodeError};
use crate::types::ProtocolVersion;
use crate::writer::put_fixed_header;
use bytes::BytesMut;

pub(crate) fn decode(flags: u8, body: &[u8], v: ProtocolVersion) -> Result<(), DecodeError> {
    check_flags(flags, 0, v)?;
    if !body.is_empty() {
        return Err(DecodeError::malformed("PINGREQ/PINGRESP with a body"));
    }
    Ok(())
}

pub(crate) fn encode(kind: PacketType, out: &mut BytesMut) -> Result<(), EncodeError> {
    debug_assert!(matches!(kind, PacketType::PingReq | PacketType::PingResp));
    put_fixed_header(out, first_byte(kind, 0), 0)
}
