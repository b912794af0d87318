//! brokkr-persist: the state files in `storage_dir`.
//!
//! Two files, as FlashMQ has: `retained.db` (retained messages) and `sessions.db` (persistent
//! sessions with their subscriptions, queued and in-flight QoS 1/2 messages, inbound QoS 2
//! identifiers, packet-identifier state and pending wills). Each is a header (magic, format
//! version, kind, save epoch, body length), a body of big-endian records and a CRC-32 of both
//! ([`frame`] describes the layout). Messages and wills are stored as encoded MQTT 5 PUBLISH
//! packets, so the codec validates them on load as it validates a client's.
//!
//! `encode_*` and `decode_*` are pure functions of bytes (fuzzed: `fuzz/fuzz_targets/persist.rs`)
//! and treat a file as untrusted: every length is checked against the bytes present before it
//! is used, nothing is allocated on a count's say-so, any fault is a [`PersistError`], never a
//! panic. Times in a file are relative to its save epoch, which the caller passes in (this
//! crate reads no clock): after a load, the caller ages every snapshot by the time elapsed
//! since then (`age_by`) so expiry and will delays continue across the restart. [`io`] holds
//! the file system code: an atomic save, and a load that moves a corrupt file aside so the
//! broker still starts; [`journal_io`] the journal's files.
//!
//! With `persistence_journal`, every acknowledged change is also appended to a journal
//! ([`journal`]: length-prefixed, checksummed records, so a torn tail is detected and ignored)
//! and the state after a crash is the snapshot with the journal replayed on top ([`replay`]).
//!
//! The checksum is CRC-32 (crc32fast) rather than a cryptographic hash such as FlashMQ's
//! SHA-512: it guards against torn writes, truncation and bit rot, which it detects (every
//! burst up to 32 bits, anything else but one time in 2^32) at several GB/s; against someone
//! who can write the file no unkeyed hash helps, since they can recompute it, and the decoder
//! is hardened for that case anyway.

#![forbid(unsafe_code)]

mod error;
pub mod frame;
pub mod fuzzing;
pub mod io;
pub mod journal;
pub mod journal_io;
mod publish;
mod reader;
pub mod replay;
mod retained;
mod sessions;

pub use error::PersistError;
pub use io::{LoadFault, LoadOutcome, load, save_atomic};
pub use journal::{JournalFile, decode_journal, encode_journal_header, encode_record};
pub use journal_io::{
    JOURNAL_BASE_FILE, JournalWriter, journal_generations, journal_name, load_journal,
    load_journal_base, remove_journals_before, save_journal_base,
};
pub use replay::{Replay, ReplayScope, ReplayStats};
pub use retained::{RetainedFile, decode_retained, encode_retained};
pub use sessions::{SessionsFile, decode_sessions, encode_sessions};

use brokkr_core::snapshot::{RetainedSnapshot, SessionSnapshot};
use std::path::Path;

/// File name of the retained messages in `storage_dir`.
pub const RETAINED_FILE: &str = "retained.db";

/// File name of the persistent sessions in `storage_dir`.
pub const SESSIONS_FILE: &str = "sessions.db";

/// Save retained messages to `dir/retained.db`; `saved_at_ms` is the wall clock in
/// milliseconds since 1970.
pub fn save_retained(
    dir: &Path,
    saved_at_ms: u64,
    messages: &[RetainedSnapshot],
) -> std::io::Result<()> {
    let bytes = encode_retained(saved_at_ms, messages).map_err(std::io::Error::other)?;
    save_atomic(dir, RETAINED_FILE, &bytes)
}

/// Save persistent sessions to `dir/sessions.db`; `saved_at_ms` is the wall clock in
/// milliseconds since 1970.
pub fn save_sessions(
    dir: &Path,
    saved_at_ms: u64,
    sessions: &[SessionSnapshot],
) -> std::io::Result<()> {
    let bytes = encode_sessions(saved_at_ms, sessions).map_err(std::io::Error::other)?;
    save_atomic(dir, SESSIONS_FILE, &bytes)
}

/// Load `dir/retained.db` (a corrupt file is moved aside: see [`load`]).
pub fn load_retained(dir: &Path) -> std::io::Result<LoadOutcome<RetainedFile>> {
    load(dir, RETAINED_FILE, decode_retained)
}

/// Load `dir/sessions.db` (a corrupt file is moved aside: see [`load`]).
pub fn load_sessions(dir: &Path) -> std::io::Result<LoadOutcome<SessionsFile>> {
    load(dir, SESSIONS_FILE, decode_sessions)
}

impl RetainedFile {
    /// The messages, aged by the time between the save and `now_wall_ms` (a clock that went
    /// back counts as no time).
    pub fn into_aged(self, now_wall_ms: u64) -> Vec<RetainedSnapshot> {
        let elapsed_ms = now_wall_ms.saturating_sub(self.saved_at_ms);
        let mut messages = self.messages;
        for m in &mut messages {
            m.age_by(elapsed_ms);
        }
        messages
    }
}

impl SessionsFile {
    /// The sessions, aged by the time between the save and `now_wall_ms` (a clock that went
    /// back counts as no time).
    pub fn into_aged(self, now_wall_ms: u64) -> Vec<SessionSnapshot> {
        let elapsed_ms = now_wall_ms.saturating_sub(self.saved_at_ms);
        let mut sessions = self.sessions;
        for s in &mut sessions {
            s.age_by(elapsed_ms);
        }
        sessions
    }
}
