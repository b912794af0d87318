//! The journal's files in `storage_dir`: `journal.<generation>` (appended to, then replaced by
//! the next generation at each snapshot) and `journal.base`, the first generation the snapshot
//! files do not already cover.
//!
//! The order on disk makes every crash point safe: a snapshot is saved (both files, atomically),
//! then `journal.base` names the new generation, then older journals are removed. A crash
//! before `journal.base` is written replays the older journals over the newer snapshot, which
//! only duplicates deliveries ([`crate::replay`]). Along with `io.rs`, the only file I/O here.

use crate::frame::{Kind, frame, unframe};
use crate::journal::{JournalFile, decode_journal, encode_journal_header};
use crate::reader::Reader;
use crate::{LoadOutcome, PersistError, load, save_atomic};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// The name of journal generation `generation`.
pub fn journal_name(generation: u64) -> String {
    format!("journal.{generation}")
}

/// File name of the journal base marker.
pub const JOURNAL_BASE_FILE: &str = "journal.base";

/// A journal open for appending.
#[derive(Debug)]
pub struct JournalWriter {
    file: File,
    generation: u64,
}

impl JournalWriter {
    /// Create `dir/journal.<generation>` (it must not exist) with its header, durably.
    pub fn create(dir: &Path, generation: u64, boot: u64) -> io::Result<JournalWriter> {
        let mut options = OpenOptions::new();
        options.append(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(dir.join(journal_name(generation)))?;
        file.write_all(&encode_journal_header(generation, boot))?;
        file.sync_all()?;
        File::open(dir)?.sync_all()?;
        Ok(JournalWriter { file, generation })
    }

    /// This journal's generation.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Append encoded records (not yet durable: see [`JournalWriter::sync`]).
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)
    }

    /// Make everything appended so far durable (`fdatasync`).
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// The generations of the journals in `dir`, increasing.
pub fn journal_generations(dir: &Path) -> io::Result<Vec<u64>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("journal.")) else {
            continue;
        };
        if !rest.is_empty()
            && rest.bytes().all(|b| b.is_ascii_digit())
            && let Ok(generation) = rest.parse::<u64>()
        {
            found.push(generation);
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// Load journal `generation` (a file whose header is not a journal's is moved aside).
pub fn load_journal(dir: &Path, generation: u64) -> io::Result<LoadOutcome<JournalFile>> {
    load(dir, &journal_name(generation), decode_journal)
}

/// The bytes of `journal.base` naming `generation`.
pub fn encode_journal_base(generation: u64) -> Vec<u8> {
    frame(Kind::JournalBase, 0, &generation.to_be_bytes())
}

/// Decode `journal.base`.
pub fn decode_journal_base(bytes: &[u8]) -> Result<u64, PersistError> {
    let (_, body) = unframe(Kind::JournalBase, bytes)?;
    let mut r = Reader::new(body);
    let generation = r.u64()?;
    r.finish()?;
    Ok(generation)
}

/// Load `journal.base` (missing: every journal is replayed).
pub fn load_journal_base(dir: &Path) -> io::Result<LoadOutcome<u64>> {
    load(dir, JOURNAL_BASE_FILE, decode_journal_base)
}

/// Record that the snapshot files cover every journal before `generation` (atomically).
pub fn save_journal_base(dir: &Path, generation: u64) -> io::Result<()> {
    save_atomic(dir, JOURNAL_BASE_FILE, &encode_journal_base(generation))
}

/// Remove the journals before `generation`; returns how many were removed.
pub fn remove_journals_before(dir: &Path, generation: u64) -> io::Result<usize> {
    let mut removed = 0;
    for g in journal_generations(dir)? {
        if g < generation {
            fs::remove_file(dir.join(journal_name(g)))?;
            removed += 1;
        }
    }
    Ok(removed)
}
