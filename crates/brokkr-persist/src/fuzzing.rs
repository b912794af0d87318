//! Fuzz entry point: bytes through both decoders; whatever decodes must encode and decode again
//! to the same value. The oracle panics on purpose: a panic is the crash a fuzzer reports.
//!
//! A random input almost never carries a valid CRC-32, so the first byte chooses what the rest
//! is: a whole file as read from disk, or the body of a retained or sessions file, which is
//! framed (header and checksum computed) before decoding so the fuzzer reaches every record.
#![allow(clippy::panic)]

use crate::frame::{Kind, frame};
use crate::{decode_retained, decode_sessions, encode_retained, encode_sessions};

/// The input of the `persist` fuzz target (see the module documentation).
pub fn decode_roundtrip(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => check(rest),
        1 => check(&frame(Kind::Retained, 1_700_000_000_000, rest)),
        _ => check(&frame(Kind::Sessions, 1_700_000_000_000, rest)),
    }
}

/// A seed for [`decode_roundtrip`]: the body of `file` (a whole state file) behind the mode
/// byte that frames it again.
pub fn seed_from_file(file: &[u8]) -> Vec<u8> {
    let kind = file.get(10).copied().unwrap_or(0);
    let body_end = file.len().saturating_sub(crate::frame::CHECKSUM_BYTES);
    let body = file
        .get(crate::frame::HEADER_BYTES..body_end)
        .unwrap_or(&[]);
    let mut seed = vec![kind];
    seed.extend_from_slice(body);
    seed
}

fn check(file: &[u8]) {
    if let Ok(decoded) = decode_retained(file) {
        let Ok(bytes) = encode_retained(decoded.saved_at_ms, &decoded.messages) else {
            panic!("a decoded retained file does not encode");
        };
        match decode_retained(&bytes) {
            Ok(again) if again == decoded => {}
            other => panic!("retained round trip: {other:?} != {decoded:?}"),
        }
    }
    if let Ok(decoded) = decode_sessions(file) {
        let Ok(bytes) = encode_sessions(decoded.saved_at_ms, &decoded.sessions) else {
            panic!("a decoded sessions file does not encode");
        };
        match decode_sessions(&bytes) {
            Ok(again) if again == decoded => {}
            other => panic!("sessions round trip: {other:?} != {decoded:?}"),
        }
    }
}
