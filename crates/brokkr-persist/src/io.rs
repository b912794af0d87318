//! The only file I/O of brokkr's state: an atomic save and a load that never stops the broker.
//!
//! A save writes a temporary file in the same directory (so the rename cannot cross file
//! systems), fsyncs it, renames it over the old file and fsyncs the directory: after a crash at
//! any point the file is either the old one or the new one, whole. Files are created readable
//! by the owner only (they hold user names and message payloads).
//!
//! A load that finds a file it cannot use (unreadable, too large, or refused by the decoder)
//! moves it aside to `<name>.corrupt.<n>` and reports it, so the broker starts without that
//! state and the operator can inspect the file (FlashMQ aborts start-up once instead).

use crate::PersistError;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Largest state file loaded (16 GiB): a larger one is treated as corrupt rather than read
/// into memory.
pub const FILE_BYTES_MAX: u64 = 16 << 30;

/// How many `<name>.corrupt.<n>` names are tried before giving up.
const CORRUPT_NAMES_MAX: u32 = 10_000;

/// Distinguishes the temporary files of saves running at the same time in one process.
static SAVE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Write `bytes` to `dir/name` atomically: temporary file, fsync, rename, fsync of `dir`.
pub fn save_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let n = SAVE_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!("{name}.new.{}.{n}", std::process::id()));
    let result = write_synced(&tmp, bytes).and_then(|()| {
        fs::rename(&tmp, dir.join(name))?;
        // The rename is durable once the directory entry is.
        File::open(dir)?.sync_all()
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp); // best effort: the error reported is the first one
    }
    result
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Why a state file was not used.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadFault {
    /// It exists but could not be read.
    Unreadable(io::Error),
    /// It is larger than [`FILE_BYTES_MAX`].
    TooLarge(u64),
    /// The decoder refused it.
    Invalid(PersistError),
}

impl fmt::Display for LoadFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadFault::Unreadable(e) => write!(f, "unreadable: {e}"),
            LoadFault::TooLarge(n) => write!(f, "{n} bytes, over the {FILE_BYTES_MAX} limit"),
            LoadFault::Invalid(e) => e.fmt(f),
        }
    }
}

/// What [`load`] found.
#[derive(Debug)]
pub enum LoadOutcome<T> {
    /// No such file: a first start, or the state was never saved.
    Missing,
    /// The decoded file.
    Loaded(T),
    /// The file could not be used and was moved to `moved_to`; start without it.
    Corrupt {
        /// Where the file is now.
        moved_to: PathBuf,
        /// Why it was not used.
        reason: LoadFault,
    },
}

/// Read and decode `dir/name`. `Err` only when a bad file could not be moved aside either (the
/// broker may still start; the next save replaces the file).
pub fn load<T>(
    dir: &Path,
    name: &str,
    decode: impl FnOnce(&[u8]) -> Result<T, PersistError>,
) -> io::Result<LoadOutcome<T>> {
    let path = dir.join(name);
    let fault = match read_bounded(&path) {
        Ok(None) => return Ok(LoadOutcome::Missing),
        Ok(Some(bytes)) => match decode(&bytes) {
            Ok(value) => return Ok(LoadOutcome::Loaded(value)),
            Err(e) => LoadFault::Invalid(e),
        },
        Err(fault) => fault,
    };
    let moved_to = move_aside(dir, name)?;
    Ok(LoadOutcome::Corrupt {
        moved_to,
        reason: fault,
    })
}

/// The file's bytes, `None` if it does not exist.
fn read_bounded(path: &Path) -> Result<Option<Vec<u8>>, LoadFault> {
    let len = match fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LoadFault::Unreadable(e)),
    };
    if len > FILE_BYTES_MAX {
        return Err(LoadFault::TooLarge(len));
    }
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LoadFault::Unreadable(e)),
    }
}

/// Rename `dir/name` to the first free `dir/name.corrupt.<n>`.
fn move_aside(dir: &Path, name: &str) -> io::Result<PathBuf> {
    for n in 1..=CORRUPT_NAMES_MAX {
        let target = dir.join(format!("{name}.corrupt.{n}"));
        match fs::symlink_metadata(&target) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::rename(dir.join(name), &target)?;
                return Ok(target);
            }
            Err(e) => return Err(e),
            Ok(_) => continue,
        }
    }
    Err(io::Error::other(format!(
        "{CORRUPT_NAMES_MAX} corrupt copies of {name} already kept"
    )))
}
