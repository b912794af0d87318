//! `journal.<generation>`: the append-only journal of acknowledged state changes
//! (`persistence_journal`), replayed on top of the snapshot files after a crash ([`crate::replay`]).
//!
//! ```text
//! file     := header record*
//! header   := magic "brokkrJL" version:u16(1) reserved:u16(0) generation:u64 boot:u64
//!             crc:u32 (CRC-32 of the 28 bytes before it)
//! record   := body_len:u32 crc:u32 (CRC-32 of body_len's 4 bytes and the body) body
//! body     := kind:u8 wall_ms:u64 fields            (wall_ms: when the change was made)
//! kind 1   Session      client_id:str16 username:opt_str16 version:u8 expiry_secs:u32 fresh:u8
//! kind 2   SessionEnded client_id:str16
//! kind 3   Subscribed   client_id:str16 filter:str16 options (as in sessions.db)
//! kind 4   Unsubscribed client_id:str16 filter:str16
//! kind 5   Published    seq:u64 publisher:str16 publish_len:u32 publish (as in sessions.db)
//! kind 6   Completed    client_id:str16 seq:u64          (read only: the message of this boot)
//! kind 7   Completed    client_id:str16 boot:u64 seq:u64 (seq non-zero)
//! ```
//!
//! A crash can leave a torn last record: its length runs past the end of the file, or its
//! checksum fails. Decoding stops at the first such record and reports where
//! ([`JournalFile::torn`]); everything before it is used. Anything after it is ignored too, since
//! a journal is only ever appended to, so a bad record in the middle is damage, not a tear.
//! A header that is not a journal's is an error: the file is moved aside like a corrupt
//! snapshot. `boot` is the generation the writing process started with: sequence numbers are
//! unique within one boot, so replay keys deliveries by (boot, seq) ([`JournalId`]). A
//! `Completed` record names the boot too: the delivery it completes may have been restored
//! from a snapshot, journaled by an earlier process. (Kind 6, without it, was written before
//! deliveries kept their ids in snapshots; it is still read, as a message of the file's boot.)

use crate::PersistError;
use crate::publish::{read_message, write_message};
use crate::reader::Reader;
use crate::sessions::{
    put_str16, read_filter, read_journal_id, read_mqtt_str, read_options, read_version,
    write_options,
};
use brokkr_core::journal::{JournalId, JournalRecord};
use std::sync::Arc;

/// The first eight bytes of a journal.
pub const JOURNAL_MAGIC: [u8; 8] = *b"brokkrJL";

/// The journal format version this build writes and reads.
pub const JOURNAL_VERSION: u16 = 1;

/// Bytes of the header, its checksum included.
pub const JOURNAL_HEADER_BYTES: usize = 32;

/// Bytes before each record's body (length and checksum).
pub const RECORD_PREFIX_BYTES: usize = 8;

/// A decoded journal file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalFile {
    /// Its generation (the number in its name).
    pub generation: u64,
    /// The generation its writer started with (sequence numbers are unique per boot).
    pub boot: u64,
    /// The records before any tear, each with the wall-clock milliseconds it was made at.
    pub records: Vec<(u64, JournalRecord)>,
    /// Where decoding stopped early, if it did: byte offset and why.
    pub torn: Option<(usize, PersistError)>,
}

/// The header of a new journal.
pub fn encode_journal_header(generation: u64, boot: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(JOURNAL_HEADER_BYTES);
    out.extend_from_slice(&JOURNAL_MAGIC);
    out.extend_from_slice(&JOURNAL_VERSION.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&generation.to_be_bytes());
    out.extend_from_slice(&boot.to_be_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// Append one record made at `wall_ms` to `out`. On error `out` is unchanged.
pub fn encode_record(
    out: &mut Vec<u8>,
    wall_ms: u64,
    record: &JournalRecord,
) -> Result<(), PersistError> {
    let mut body = Vec::new();
    write_body(&mut body, wall_ms, record)?;
    let len = u32::try_from(body.len()).map_err(|_| PersistError::Unencodable("record length"))?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len.to_be_bytes());
    crc.update(&body);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    out.extend_from_slice(&body);
    Ok(())
}

fn write_body(out: &mut Vec<u8>, wall_ms: u64, record: &JournalRecord) -> Result<(), PersistError> {
    let kind: u8 = match record {
        JournalRecord::Session { .. } => 1,
        JournalRecord::SessionEnded { .. } => 2,
        JournalRecord::Subscribed { .. } => 3,
        JournalRecord::Unsubscribed { .. } => 4,
        JournalRecord::Published { .. } => 5,
        JournalRecord::Completed { .. } => 7,
    };
    out.push(kind);
    out.extend_from_slice(&wall_ms.to_be_bytes());
    match record {
        JournalRecord::Session {
            client_id,
            username,
            version,
            expiry_secs,
            fresh,
        } => {
            put_str16(out, client_id)?;
            match username {
                Some(u) => {
                    out.push(1);
                    put_str16(out, u)?;
                }
                None => out.push(0),
            }
            out.push(version.level());
            out.extend_from_slice(&expiry_secs.to_be_bytes());
            out.push(u8::from(*fresh));
        }
        JournalRecord::SessionEnded { client_id } => put_str16(out, client_id)?,
        JournalRecord::Subscribed {
            client_id,
            filter,
            options,
        } => {
            put_str16(out, client_id)?;
            put_str16(out, filter.as_str())?;
            write_options(out, options);
        }
        JournalRecord::Unsubscribed { client_id, filter } => {
            put_str16(out, client_id)?;
            put_str16(out, filter.as_str())?;
        }
        JournalRecord::Published {
            seq,
            publisher,
            message,
        } => {
            out.extend_from_slice(&seq.to_be_bytes());
            put_str16(out, publisher)?;
            write_message(out, message)?;
        }
        JournalRecord::Completed { client_id, id } => {
            put_str16(out, client_id)?;
            out.extend_from_slice(&id.boot.to_be_bytes());
            out.extend_from_slice(&id.seq.get().to_be_bytes());
        }
    }
    Ok(())
}

/// Decode a journal, treating it as untrusted. A bad header is an error; a bad record ends
/// the decoding there (see [`JournalFile::torn`]).
pub fn decode_journal(bytes: &[u8]) -> Result<JournalFile, PersistError> {
    let header = bytes
        .get(..JOURNAL_HEADER_BYTES)
        .ok_or(PersistError::Truncated)?;
    let mut r = Reader::new(header);
    if r.take(JOURNAL_MAGIC.len())? != JOURNAL_MAGIC {
        return Err(PersistError::BadMagic);
    }
    let version = r.u16()?;
    if version != JOURNAL_VERSION {
        return Err(PersistError::UnsupportedVersion(version));
    }
    if r.u16()? != 0 {
        return Err(PersistError::Invalid("reserved header bytes"));
    }
    let generation = r.u64()?;
    let boot = r.u64()?;
    let covered = header.get(..JOURNAL_HEADER_BYTES - 4).unwrap_or_default();
    let stored = r.u32()?;
    let computed = crc32fast::hash(covered);
    if stored != computed {
        return Err(PersistError::ChecksumMismatch { stored, computed });
    }
    let mut file = JournalFile {
        generation,
        boot,
        records: Vec::new(),
        torn: None,
    };
    let mut offset = JOURNAL_HEADER_BYTES;
    while offset < bytes.len() {
        match next_record(bytes.get(offset..).unwrap_or_default(), boot) {
            Ok((used, wall_ms, record)) => {
                file.records.push((wall_ms, record));
                offset += used;
            }
            Err(e) => {
                file.torn = Some((offset, e));
                break;
            }
        }
    }
    Ok(file)
}

/// One record of a journal of boot `boot` from the start of `bytes`: bytes used, time, record.
fn next_record(bytes: &[u8], boot: u64) -> Result<(usize, u64, JournalRecord), PersistError> {
    let mut r = Reader::new(bytes);
    let len_bytes = r.take(4)?;
    let len =
        usize::try_from(Reader::new(len_bytes).u32()?).map_err(|_| PersistError::Truncated)?;
    let stored = r.u32()?;
    let body = r.take(len)?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(len_bytes);
    crc.update(body);
    let computed = crc.finalize();
    if stored != computed {
        return Err(PersistError::ChecksumMismatch { stored, computed });
    }
    let mut r = Reader::new(body);
    let kind = r.u8()?;
    let wall_ms = r.u64()?;
    let record = read_body(kind, boot, &mut r)?;
    r.finish()?;
    Ok((RECORD_PREFIX_BYTES + len, wall_ms, record))
}

fn read_body(kind: u8, boot: u64, r: &mut Reader<'_>) -> Result<JournalRecord, PersistError> {
    Ok(match kind {
        1 => {
            let client_id = read_client_id(r)?;
            let username = if r.flag()? {
                Some(read_mqtt_str(r)?)
            } else {
                None
            };
            let version = read_version(r)?;
            let expiry_secs = r.u32()?;
            let fresh = r.flag()?;
            JournalRecord::Session {
                client_id,
                username,
                version,
                expiry_secs,
                fresh,
            }
        }
        2 => JournalRecord::SessionEnded {
            client_id: read_client_id(r)?,
        },
        3 => JournalRecord::Subscribed {
            client_id: read_client_id(r)?,
            filter: read_filter(r)?,
            options: read_options(r)?,
        },
        4 => JournalRecord::Unsubscribed {
            client_id: read_client_id(r)?,
            filter: read_filter(r)?,
        },
        5 => JournalRecord::Published {
            seq: r.u64()?,
            publisher: read_mqtt_str(r)?,
            message: Arc::new(read_message(r)?),
        },
        6 => {
            let client_id = read_client_id(r)?;
            let seq = std::num::NonZeroU64::new(r.u64()?)
                .ok_or(PersistError::Invalid("journal sequence 0"))?;
            let id = JournalId { boot, seq };
            JournalRecord::Completed { client_id, id }
        }
        7 => JournalRecord::Completed {
            client_id: read_client_id(r)?,
            id: read_journal_id(r)?,
        },
        _ => return Err(PersistError::Invalid("journal record kind")),
    })
}

fn read_client_id(r: &mut Reader<'_>) -> Result<String, PersistError> {
    let id = read_mqtt_str(r)?;
    if id.is_empty() {
        return Err(PersistError::Invalid("empty client id"));
    }
    Ok(id)
}
