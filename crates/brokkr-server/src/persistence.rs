//! `storage_dir`: the state is loaded before the listeners accept, saved every
//! `save_state_interval` (sessions snapshotted by each worker on its own thread, encoding and
//! file writes on a separate thread) and at a graceful stop. A corrupt file is moved aside by
//! brokkr-persist and logged; the broker starts without it.

use brokkr_core::shard::{SharedState, home_shard};
use brokkr_core::snapshot::{RetainedSnapshot, SessionSnapshot};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Journal records a worker may have sent the journal thread and not yet seen durable, in
/// [`brokkr_core::journal::JournalRecord::weight_bytes`]: past it, the connections whose
/// records wait stop being read (`worker/journal.rs`).
pub const JOURNAL_QUEUE_BYTES_MAX: usize = 8 << 20;

/// What to persist, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistSettings {
    /// `storage_dir` (created if missing).
    pub dir: PathBuf,
    /// `save_state_interval`.
    pub interval: Duration,
    /// `persistence_data_to_save` includes sessions and subscriptions.
    pub sessions: bool,
    /// `persistence_data_to_save` includes retained messages.
    pub retained: bool,
    /// `persistence_journal`: every acknowledged change is made durable in a journal before
    /// its acknowledgement is sent, and replayed after a crash.
    pub journal: bool,
    /// The bound on each worker's journal queue ([`JOURNAL_QUEUE_BYTES_MAX`]).
    pub journal_queue_bytes_max: usize,
    /// For tests: the journal thread waits this long before each sync, as a slow disk would.
    pub journal_sync_delay: Duration,
}

impl Default for PersistSettings {
    /// `storage_dir` `.`, FlashMQ's `save_state_interval` (3623 s), sessions and retained
    /// messages, no journal.
    fn default() -> PersistSettings {
        PersistSettings {
            dir: PathBuf::from("."),
            interval: Duration::from_secs(3623),
            sessions: true,
            retained: true,
            journal: false,
            journal_queue_bytes_max: JOURNAL_QUEUE_BYTES_MAX,
            journal_sync_delay: Duration::ZERO,
        }
    }
}

/// The state read at start-up: retained messages, and sessions by home worker.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub retained: Vec<RetainedSnapshot>,
    pub sessions: Vec<Vec<SessionSnapshot>>,
    /// The journal generation to append to next (above every journal on disk).
    pub journal_generation: u64,
}

/// Milliseconds since 1970 (the files' save epoch).
pub(crate) fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Read the state files, aged by the time the broker was down, with any journal replayed on
/// top (`policy` is the read ACL for the deliveries it rebuilds), sessions split by the home
/// worker of their client id among `count` workers.
pub(crate) fn load(
    settings: &PersistSettings,
    count: u32,
    policy: &dyn brokkr_core::access::AccessPolicy,
) -> Loaded {
    let mut loaded = Loaded {
        retained: Vec::new(),
        sessions: (0..count).map(|_| Vec::new()).collect(),
        journal_generation: 1,
    };
    if let Err(e) = std::fs::create_dir_all(&settings.dir) {
        log::error!(
            "storage_dir {}: {e}; no state loaded",
            settings.dir.display()
        );
        return loaded;
    }
    let now = wall_ms();
    let mut retained = Vec::new();
    let mut sessions = Vec::new();
    if settings.retained {
        match brokkr_persist::load_retained(&settings.dir) {
            Ok(outcome) => {
                if let Some(file) = report("retained.db", outcome) {
                    retained = file.into_aged(now);
                    log::info!("loaded {} retained messages", retained.len());
                }
            }
            Err(e) => log::error!("retained.db: {e}"),
        }
    }
    if settings.sessions {
        match brokkr_persist::load_sessions(&settings.dir) {
            Ok(outcome) => {
                if let Some(file) = report("sessions.db", outcome) {
                    sessions = file.into_aged(now);
                    log::info!("loaded {} sessions", sessions.len());
                }
            }
            Err(e) => log::error!("sessions.db: {e}"),
        }
    }
    let folded = crate::journal_replay::fold(settings, now, sessions, retained, policy);
    loaded.journal_generation = folded.next_generation;
    loaded.retained = folded.retained;
    for s in folded.sessions {
        let home = home_shard(s.client_id.as_bytes(), count) as usize;
        if let Some(part) = loaded.sessions.get_mut(home) {
            part.push(s);
        }
    }
    loaded
}

pub(crate) fn report<T>(name: &str, outcome: brokkr_persist::LoadOutcome<T>) -> Option<T> {
    match outcome {
        brokkr_persist::LoadOutcome::Missing => None,
        brokkr_persist::LoadOutcome::Loaded(file) => Some(file),
        brokkr_persist::LoadOutcome::Corrupt { moved_to, reason } => {
            log::error!(
                "{name} is corrupt ({reason}); moved to {} and starting without it",
                moved_to.display()
            );
            None
        }
    }
}

/// Write the state files (blocking: run it off the workers, or at the very end). With
/// `journal_base`, the snapshot covers every journal before that generation: once both files
/// are saved, `journal.base` says so and those journals are removed. Returns whether every
/// file was saved.
pub(crate) fn save(
    settings: &PersistSettings,
    retained: &[RetainedSnapshot],
    sessions: &[SessionSnapshot],
    journal_base: Option<u64>,
) -> bool {
    let now = wall_ms();
    let started = std::time::Instant::now();
    let mut saved = true;
    if settings.retained
        && let Err(e) = brokkr_persist::save_retained(&settings.dir, now, retained)
    {
        log::error!("saving retained.db in {}: {e}", settings.dir.display());
        saved = false;
    }
    if settings.sessions
        && let Err(e) = brokkr_persist::save_sessions(&settings.dir, now, sessions)
    {
        log::error!("saving sessions.db in {}: {e}", settings.dir.display());
        saved = false;
    }
    if saved && let Some(generation) = journal_base {
        crate::journal_replay::truncate(&settings.dir, generation);
    }
    log::info!(
        "saved {} retained messages and {} sessions in {:?}",
        retained.len(),
        sessions.len(),
        started.elapsed()
    );
    saved
}

/// Save in the background unless a save is still running; `busy` marks one.
pub(crate) fn save_in_background(
    settings: PersistSettings,
    shared: &Arc<SharedState>,
    now_ms: u64,
    sessions: Vec<SessionSnapshot>,
    busy: Arc<AtomicBool>,
    journal_base: Option<u64>,
) {
    if busy.swap(true, Ordering::AcqRel) {
        log::warn!("the previous state save is still running; skipping this one");
        return;
    }
    let retained = if settings.retained {
        shared.snapshot_retained(now_ms)
    } else {
        Vec::new()
    };
    let done = Arc::clone(&busy);
    let spawned = std::thread::Builder::new()
        .name("brokkr-save".into())
        .spawn(move || {
            save(&settings, &retained, &sessions, journal_base);
            done.store(false, Ordering::Release);
        });
    if let Err(e) = spawned {
        log::error!("cannot start the save thread: {e}");
        busy.store(false, Ordering::Release);
    }
}
