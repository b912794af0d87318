//! Start-up with a journal: the snapshot files with every journal generation they do not cover
//! replayed on top (brokkr-persist `Replay`), then folded: the result is saved as the new
//! snapshot, `journal.base` moves past the replayed journals and they are removed, so the
//! process appends to a fresh generation. Runs whether or not `persistence_journal` is on now:
//! journals left by an earlier run hold acknowledged state.

use crate::persistence::{PersistSettings, report, save};
use brokkr_core::access::AccessPolicy;
use brokkr_core::snapshot::{RetainedSnapshot, SessionSnapshot};
use brokkr_persist::{LoadOutcome, Replay, ReplayScope};
use std::path::Path;

/// The state after replaying the journals.
pub(crate) struct Folded {
    pub sessions: Vec<SessionSnapshot>,
    pub retained: Vec<RetainedSnapshot>,
    /// The generation to append to next, above every journal found.
    pub next_generation: u64,
}

/// Replay the journals of `settings.dir` over the loaded (and aged) snapshots and fold them.
pub(crate) fn fold(
    settings: &PersistSettings,
    now_wall_ms: u64,
    sessions: Vec<SessionSnapshot>,
    retained: Vec<RetainedSnapshot>,
    policy: &dyn AccessPolicy,
) -> Folded {
    let dir = &settings.dir;
    let base = match brokkr_persist::load_journal_base(dir) {
        Ok(outcome) => report(brokkr_persist::JOURNAL_BASE_FILE, outcome).unwrap_or(0),
        Err(e) => {
            log::error!("{}: {e}", brokkr_persist::JOURNAL_BASE_FILE);
            0
        }
    };
    let generations = brokkr_persist::journal_generations(dir).unwrap_or_else(|e| {
        log::error!("listing the journals in {}: {e}", dir.display());
        Vec::new()
    });
    let next_generation = generations
        .last()
        .map_or(base, |g| g.saturating_add(1))
        .max(base)
        .max(1);
    let replayed: Vec<u64> = generations.into_iter().filter(|&g| g >= base).collect();
    if replayed.is_empty() {
        return Folded {
            sessions,
            retained,
            next_generation,
        };
    }
    let scope = ReplayScope {
        sessions: settings.sessions,
        retained: settings.retained,
    };
    let mut replay = Replay::new(sessions, retained, now_wall_ms, scope);
    for &generation in &replayed {
        replay_one(dir, generation, &mut replay, policy);
    }
    let stats = replay.stats();
    log::info!(
        "replayed {} journal records from {} journal(s): {} deliveries rebuilt, {} of them completed",
        stats.records,
        replayed.len(),
        stats.deliveries,
        stats.completed
    );
    let (sessions, retained) = replay.finish();
    if save(settings, &retained, &sessions, Some(next_generation)) {
        log::info!("journal folded into the snapshot files");
    }
    Folded {
        sessions,
        retained,
        next_generation,
    }
}

fn replay_one(dir: &Path, generation: u64, replay: &mut Replay, policy: &dyn AccessPolicy) {
    let name = brokkr_persist::journal_name(generation);
    let file = match brokkr_persist::load_journal(dir, generation) {
        Ok(LoadOutcome::Loaded(file)) => file,
        Ok(outcome @ (LoadOutcome::Missing | LoadOutcome::Corrupt { .. })) => {
            report(&name, outcome);
            return;
        }
        Err(e) => {
            log::error!("{name}: {e}");
            return;
        }
    };
    for (wall_ms, record) in &file.records {
        replay.apply(file.boot, *wall_ms, record, policy);
    }
    if let Some((offset, why)) = file.torn {
        log::warn!(
            "{name}: {} records replayed, the rest ignored from byte {offset} ({why}): \
             a record torn by a crash",
            file.records.len()
        );
    }
}

/// The snapshot files now cover every journal before `generation`: say so, then remove them.
pub(crate) fn truncate(dir: &Path, generation: u64) {
    if let Err(e) = brokkr_persist::save_journal_base(dir, generation) {
        log::error!("saving {}: {e}", brokkr_persist::JOURNAL_BASE_FILE);
        return;
    }
    match brokkr_persist::remove_journals_before(dir, generation) {
        Ok(n) => log::debug!("{n} journal(s) before {generation} removed"),
        Err(e) => log::error!("removing old journals in {}: {e}", dir.display()),
    }
}
