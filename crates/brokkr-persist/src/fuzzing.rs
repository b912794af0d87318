//! Fuzz entry point: bytes through both decoders; whatever decodes must encode and decode again
//! to the same value. The oracle panics on purpose: a panic is the crash a fuzzer reports.
//!
//! A random input almost never carries a valid CRC-32, so the first byte chooses what the rest
//! is: a whole file as read from disk, or the body of a retained or sessions file, which is
//! framed (header and checksum computed) before decoding so the fuzzer reaches every record.
//! What decodes is then restored into a fresh shard and time is run past every expiry and will
//! delay: a file the decoder accepts must never upset the core either.
#![allow(clippy::panic)]

use crate::frame::{Kind, frame};
use crate::{decode_retained, decode_sessions, encode_retained, encode_sessions};
use brokkr_core::limits::Limits;
use brokkr_core::shard::Shard;

/// The shard clock of the restore in [`decode_roundtrip`].
const RESTORE_AT_MS: u64 = 1 << 40;

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
        let mut shard = Shard::new(Limits::default(), 0);
        let n = decoded.messages.len();
        let report = shard.restore_retained(RESTORE_AT_MS, decoded.messages);
        assert_eq!(report.restored + report.skipped, n);
        assert!(shard.retained_count() <= report.restored);
    }
    if let Ok(decoded) = decode_sessions(file) {
        let Ok(bytes) = encode_sessions(decoded.saved_at_ms, &decoded.sessions) else {
            panic!("a decoded sessions file does not encode");
        };
        match decode_sessions(&bytes) {
            Ok(again) if again == decoded => {}
            other => panic!("sessions round trip: {other:?} != {decoded:?}"),
        }
        restore_and_expire(decoded.sessions);
    }
}

/// Restore `sessions` into one fresh shard, snapshot it again, then let every session expire.
fn restore_and_expire(sessions: Vec<brokkr_core::snapshot::SessionSnapshot>) {
    let mut shard = Shard::new(Limits::default(), 0);
    let n = sessions.len();
    let report = shard.restore_sessions(RESTORE_AT_MS, sessions);
    assert_eq!(report.restored + report.skipped, n);
    assert_eq!(shard.session_count(), report.restored);
    let again = shard.snapshot_sessions(RESTORE_AT_MS);
    assert_eq!(again.len(), report.restored);
    let end = u64::from(u32::MAX) * 1000 + RESTORE_AT_MS + 1;
    shard.tick(RESTORE_AT_MS);
    shard.tick(end);
    assert_eq!(shard.session_count(), 0, "every session expires");
    assert_eq!(shard.shared().subscription_count(), 0);
}
