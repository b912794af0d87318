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

/// The input of the `journal` fuzz target: the first byte chooses a whole journal file as read
/// from disk (even) or record bodies, each behind a one-byte length, framed with a valid header
/// and checksums (odd) so the fuzzer reaches the record decoder. Whatever decodes must encode
/// and decode again to the same records, replay without a panic, and the replayed sessions and
/// retained messages must encode, decode and restore into a shard.
pub fn journal_roundtrip(data: &[u8]) {
    use crate::journal::{decode_journal, encode_journal_header, encode_record};
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        frame_records(rest)
    };
    let Ok(decoded) = decode_journal(&file) else {
        return;
    };
    let mut again = encode_journal_header(decoded.generation, decoded.boot);
    for (wall_ms, record) in &decoded.records {
        if let Err(e) = encode_record(&mut again, *wall_ms, record) {
            panic!("a decoded record does not encode: {e}");
        }
    }
    match decode_journal(&again) {
        Ok(d) if d.records == decoded.records && d.torn.is_none() => {}
        other => panic!("journal round trip differs: {other:?}"),
    }
    let scope = crate::ReplayScope {
        sessions: true,
        retained: true,
    };
    let mut replay = crate::Replay::new(Vec::new(), Vec::new(), 1_800_000_000_000, scope);
    for (wall_ms, record) in &decoded.records {
        replay.apply(
            decoded.boot,
            *wall_ms,
            record,
            &brokkr_core::access::AllowAll,
        );
    }
    let (sessions, retained) = replay.finish();
    let (Ok(s), Ok(r)) = (encode_sessions(1, &sessions), encode_retained(1, &retained)) else {
        panic!("replayed state does not encode");
    };
    if decode_sessions(&s).map(|f| f.sessions) != Ok(sessions.clone())
        || decode_retained(&r).map(|f| f.messages) != Ok(retained.clone())
    {
        panic!("replayed state does not round trip");
    }
    let mut shard = Shard::new(Limits::default(), 1);
    shard.restore_retained(RESTORE_AT_MS, retained);
    shard.restore_sessions(RESTORE_AT_MS, sessions);
    shard.tick(RESTORE_AT_MS + (1 << 33));
}

/// A journal with a valid header whose records are the length-prefixed bodies in `rest`.
fn frame_records(mut rest: &[u8]) -> Vec<u8> {
    let mut file = crate::journal::encode_journal_header(1, 1);
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (body, tail) = tail.split_at(n);
        let len = (n as u32).to_be_bytes();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&len);
        crc.update(body);
        file.extend_from_slice(&len);
        file.extend_from_slice(&crc.finalize().to_be_bytes());
        file.extend_from_slice(body);
        rest = tail;
    }
    file
}
