//! `retained.db`: the retained messages, each with its age at the save.
//!
//! ```text
//! body    := count:u32 message*
//! message := age_ms:u64 publish_len:u32 publish
//! ```

use crate::PersistError;
use crate::frame::{Kind, frame, unframe};
use crate::publish::{read_message, write_message};
use crate::reader::Reader;
use brokkr_core::snapshot::RetainedSnapshot;

/// A decoded `retained.db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedFile {
    /// When it was saved: wall-clock milliseconds since 1970, as the caller gave it.
    pub saved_at_ms: u64,
    /// The messages, ages as of `saved_at_ms`.
    pub messages: Vec<RetainedSnapshot>,
}

/// The bytes of a `retained.db` saved at `saved_at_ms` (wall clock, milliseconds since 1970).
pub fn encode_retained(
    saved_at_ms: u64,
    messages: &[RetainedSnapshot],
) -> Result<Vec<u8>, PersistError> {
    let mut body = Vec::new();
    let count = u32::try_from(messages.len())
        .map_err(|_| PersistError::Unencodable("more than 2^32 retained messages"))?;
    body.extend_from_slice(&count.to_be_bytes());
    for r in messages {
        body.extend_from_slice(&r.age_ms.to_be_bytes());
        write_message(&mut body, &r.message)?;
    }
    Ok(frame(Kind::Retained, saved_at_ms, &body))
}

/// Decode a `retained.db`, treating it as untrusted: any fault is an error, never a panic, and
/// nothing is allocated for a record before its bytes are present.
pub fn decode_retained(bytes: &[u8]) -> Result<RetainedFile, PersistError> {
    let (saved_at_ms, body) = unframe(Kind::Retained, bytes)?;
    let mut r = Reader::new(body);
    let count = r.u32()?;
    let mut messages = Vec::new();
    for _ in 0..count {
        let age_ms = r.u64()?;
        let message = read_message(&mut r)?;
        messages.push(RetainedSnapshot { message, age_ms });
    }
    r.finish()?;
    Ok(RetainedFile {
        saved_at_ms,
        messages,
    })
}
