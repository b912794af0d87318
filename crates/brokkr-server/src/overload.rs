//! Overload protection (FlashMQ's `overload_mode` and `max_event_loop_drift`): each worker
//! measures how late its event loop runs, and new connections are logged or closed at accept
//! while the broker is overloaded.
//!
//! Every worker runs [`measure_drift`]: a timer due every second that notes how late it fired
//! (a loop busy with one long turn, or starved of CPU, runs its timers late). The broker counts
//! as overloaded while worker 0 (which accepts, as FlashMQ's main loop does) or the median of
//! all workers ran later than `max_event_loop_drift` at its last measurement. Worker 0's
//! accept loops ask [`Overload::refuse`] about each new socket: in `close_new_clients` mode it
//! is closed before anything is read from it (against reconnect storms after a restart, when
//! TLS handshakes and logins would deepen the overload); in `log` mode it is served. Both are
//! logged, at most once a second. Nothing here blocks or allocates per connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// What to do with new connections while overloaded (`overload_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverloadMode {
    /// Serve them and log (FlashMQ's default).
    #[default]
    Log,
    /// Close them at accept.
    CloseNewClients,
}

/// The broker-wide overload settings (listeners may override the mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverloadSettings {
    /// `max_event_loop_drift`, in milliseconds.
    pub max_drift_ms: u64,
    /// `overload_mode`.
    pub mode: OverloadMode,
}

impl Default for OverloadSettings {
    fn default() -> Self {
        OverloadSettings {
            max_drift_ms: 2000,
            mode: OverloadMode::Log,
        }
    }
}

/// How often each worker's drift timer is due.
pub(crate) const DRIFT_PERIOD: Duration = Duration::from_secs(1);

/// Least time between two log lines about connections accepted or closed while overloaded.
const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// The drift of every worker and what follows from it; shared by all workers.
#[derive(Debug)]
pub(crate) struct Overload {
    /// Each worker's lateness at its last measurement, by worker index.
    drift_ms: Vec<AtomicU64>,
    max_drift_ms: AtomicU64,
    /// The global mode is `close_new_clients`.
    close_new: AtomicBool,
    overloaded: AtomicBool,
    /// When the accept path last logged, and the connections it saw since.
    accept_log: Mutex<(Option<Instant>, u64)>,
}

impl Overload {
    /// No worker late yet.
    pub(crate) fn new(workers: usize, settings: OverloadSettings) -> Arc<Overload> {
        let o = Overload {
            drift_ms: (0..workers.max(1)).map(|_| AtomicU64::new(0)).collect(),
            max_drift_ms: AtomicU64::new(0),
            close_new: AtomicBool::new(false),
            overloaded: AtomicBool::new(false),
            accept_log: Mutex::new((None, 0)),
        };
        o.set_settings(settings);
        Arc::new(o)
    }

    /// A reload's settings, from the next measurement and the next accept on.
    pub(crate) fn set_settings(&self, settings: OverloadSettings) {
        self.max_drift_ms
            .store(settings.max_drift_ms, Ordering::Relaxed);
        self.close_new.store(
            settings.mode == OverloadMode::CloseNewClients,
            Ordering::Relaxed,
        );
    }

    /// Worker `worker`'s timer fired `late_ms` late.
    pub(crate) fn record(&self, worker: usize, late_ms: u64) {
        if let Some(d) = self.drift_ms.get(worker) {
            d.store(late_ms, Ordering::Relaxed);
        }
        let drifts: Vec<u64> = self
            .drift_ms
            .iter()
            .map(|d| d.load(Ordering::Relaxed))
            .collect();
        let max = self.max_drift_ms.load(Ordering::Relaxed);
        let now = is_overloaded(&drifts, max);
        let was = self.overloaded.swap(now, Ordering::Relaxed);
        if now && !was {
            log::warn!(
                "[OVERLOAD] event loops run late (worker 0: {} ms, median: {} ms) beyond \
                 max_event_loop_drift {max} ms",
                drifts.first().copied().unwrap_or(0),
                median(&drifts)
            );
        } else if was && !now {
            log::info!(target: crate::logging::NOTICE, "[OVERLOAD] over: event loops on time again");
        }
    }

    /// True while the last measurements say the broker is overloaded.
    pub(crate) fn is_overloaded(&self) -> bool {
        self.overloaded.load(Ordering::Relaxed)
    }

    /// A socket from `peer` was just accepted on a listener whose own `overload_mode` is
    /// `listener_mode` (`None`: the global one): true if it must be closed now. Logs, at most
    /// once a second, while overloaded.
    pub(crate) fn refuse(
        &self,
        listener_mode: Option<OverloadMode>,
        peer: Option<SocketAddr>,
    ) -> bool {
        if !self.is_overloaded() {
            return false;
        }
        let close = match listener_mode {
            Some(mode) => mode == OverloadMode::CloseNewClients,
            None => self.close_new.load(Ordering::Relaxed),
        };
        let mut log = self
            .accept_log
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (last, seen) = &mut *log;
        *seen += 1;
        if last.is_none_or(|t| t.elapsed() >= ACCEPT_LOG_INTERVAL) {
            let from = peer.map_or_else(|| "a unix socket".to_string(), |a| a.ip().to_string());
            let what = if close {
                "closing new connections (overload_mode close_new_clients)"
            } else {
                "still accepting them (overload_mode log)"
            };
            log::warn!(
                "[OVERLOAD] {} new connection(s) while overloaded, the last from {from}: {what}; \
                 see max_event_loop_drift",
                *seen
            );
            *last = Some(Instant::now());
            *seen = 0;
        }
        close
    }
}

/// Overloaded: worker 0 or the median worker later than `max_ms`.
fn is_overloaded(drifts_ms: &[u64], max_ms: u64) -> bool {
    drifts_ms.first().is_some_and(|&d| d > max_ms) || median(drifts_ms) > max_ms
}

/// The median (the upper one of an even count); 0 for none.
fn median(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or(0)
}

/// Worker `worker`'s drift timer: due every [`DRIFT_PERIOD`], it records how late it ran.
pub(crate) async fn measure_drift(overload: Arc<Overload>, worker: usize) {
    loop {
        let due = Instant::now() + DRIFT_PERIOD;
        tokio::time::sleep_until(due.into()).await;
        let late = Instant::now().saturating_duration_since(due);
        overload.record(worker, u64::try_from(late.as_millis()).unwrap_or(u64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_drift_ms: u64, mode: OverloadMode) -> OverloadSettings {
        OverloadSettings { max_drift_ms, mode }
    }

    #[test]
    fn worker_0_or_the_median_decides() {
        assert!(!is_overloaded(&[], 100));
        assert!(!is_overloaded(&[100, 0, 0], 100), "at the limit is fine");
        assert!(
            is_overloaded(&[101, 0, 0], 100),
            "worker 0 accepts: it alone counts"
        );
        assert!(
            !is_overloaded(&[0, 500, 0], 100),
            "one slow worker of three"
        );
        assert!(is_overloaded(&[0, 500, 500], 100), "the median is late");
        assert_eq!(median(&[5, 1, 3, 2]), 3);
    }

    #[test]
    fn close_new_clients_refuses_only_while_overloaded() {
        let o = Overload::new(2, settings(100, OverloadMode::CloseNewClients));
        assert!(!o.refuse(None, None));
        o.record(0, 250);
        assert!(o.is_overloaded());
        assert!(o.refuse(None, None));
        assert!(
            !o.refuse(Some(OverloadMode::Log), None),
            "a listener in log mode serves"
        );
        o.record(0, 3);
        assert!(!o.is_overloaded());
        assert!(!o.refuse(None, None));
    }

    #[test]
    fn log_mode_serves_unless_a_listener_says_close() {
        let o = Overload::new(1, OverloadSettings::default());
        o.record(0, 2500);
        assert!(o.is_overloaded());
        assert!(!o.refuse(None, None));
        assert!(o.refuse(Some(OverloadMode::CloseNewClients), None));
    }

    #[test]
    fn a_reload_changes_the_threshold_and_the_mode() {
        let o = Overload::new(1, settings(2000, OverloadMode::Log));
        o.record(0, 1500);
        assert!(!o.is_overloaded());
        o.set_settings(settings(1000, OverloadMode::CloseNewClients));
        o.record(0, 1500);
        assert!(o.refuse(None, None));
    }
}
