//! Flow control shared by the tasks of one throughput run (one thread, so `Cell`s): publishers
//! may have at most `window` deliveries on the way (sent times fan-out, minus received). This
//! keeps every broker saturated without letting QoS 0 messages pile up and be dropped. When
//! nothing arrives for [`STALL`], the outstanding deliveries are written off as lost so a broker
//! that drops QoS 0 messages cannot stall the run; the final count still shows them.

use std::cell::Cell;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// No delivery for this long: the outstanding ones are presumed lost. 250 ms, not less: a
/// broker descheduled by other load for 50 ms looked like one dropping messages, and the
/// write-off then let publishers overrun the window and cause real drops (docs/benchmarks.md).
pub const STALL: Duration = Duration::from_millis(250);

/// How long a waiting publisher sleeps before it looks again without a wake-up.
pub const RECHECK: Duration = Duration::from_millis(1);

/// Counters and the wake-up of one run.
#[derive(Debug)]
pub struct Flow {
    window: u64,
    expected: Cell<u64>,
    delivered: Cell<u64>,
    written_off: Cell<u64>,
    published: Cell<u64>,
    publish_max: u64,
    stopped: Cell<bool>,
    last_progress: Cell<(u64, Instant)>,
    wake: Notify,
}

impl Flow {
    /// A flow allowing `window` deliveries on the way and `publish_max` messages in all.
    pub fn new(window: u64, publish_max: u64) -> Flow {
        Flow {
            window,
            expected: Cell::new(0),
            delivered: Cell::new(0),
            written_off: Cell::new(0),
            published: Cell::new(0),
            publish_max,
            stopped: Cell::new(false),
            last_progress: Cell::new((0, Instant::now())),
            wake: Notify::new(),
        }
    }

    /// May a publisher send `deliveries` more?
    pub fn has_room(&self, deliveries: u64) -> bool {
        let on_way = self.outstanding().saturating_sub(self.written_off.get());
        on_way + deliveries <= self.window.max(deliveries)
    }

    /// Record `messages` sent, each expecting `fanout` deliveries.
    pub fn sent(&self, messages: u64, fanout: u64) {
        self.published.set(self.published.get() + messages);
        self.expected.set(self.expected.get() + messages * fanout);
        if self.published.get() >= self.publish_max {
            self.stop();
        }
    }

    /// Record deliveries counted at a subscriber.
    pub fn delivered(&self, n: u64) {
        if n > 0 {
            self.delivered.set(self.delivered.get() + n);
            self.wake.notify_waiters();
        }
    }

    /// Wake waiting publishers (an acknowledgement arrived).
    pub fn poke(&self) {
        self.wake.notify_waiters();
    }

    /// Wait for a wake-up or [`RECHECK`]; write off outstanding deliveries after a [`STALL`].
    pub async fn wait(&self) {
        let _ = tokio::time::timeout(RECHECK, self.wake.notified()).await;
        let (seen, at) = self.last_progress.get();
        let now = Instant::now();
        if self.delivered.get() != seen {
            self.last_progress.set((self.delivered.get(), now));
        } else if now.duration_since(at) >= STALL {
            self.written_off.set(self.outstanding());
            self.last_progress.set((seen, now));
        }
    }

    /// Stop publishing.
    pub fn stop(&self) {
        self.stopped.set(true);
        self.wake.notify_waiters();
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.get()
    }

    /// Deliveries the messages sent so far should cause.
    pub fn expected(&self) -> u64 {
        self.expected.get()
    }

    /// Deliveries counted so far.
    pub fn delivered_count(&self) -> u64 {
        self.delivered.get()
    }

    /// Messages published so far.
    pub fn published(&self) -> u64 {
        self.published.get()
    }

    /// Expected deliveries not (yet) received.
    pub fn outstanding(&self) -> u64 {
        self.expected.get().saturating_sub(self.delivered.get())
    }
}

/// The window of one subscriber: without it the shared window would let one subscriber (of a
/// pair, or the slowest of a fan-out) hold far more than its share, overrun its buffer in the
/// broker and have QoS 0 dropped. Written off after [`STALL`] like the shared one.
#[derive(Debug)]
pub struct Lane {
    window: u64,
    expected: Cell<u64>,
    delivered: Cell<u64>,
    written_off: Cell<u64>,
    last_progress: Cell<(u64, Instant)>,
}

impl Lane {
    /// A lane allowing `window` deliveries on the way.
    pub fn new(window: u64) -> Lane {
        Lane {
            window,
            expected: Cell::new(0),
            delivered: Cell::new(0),
            written_off: Cell::new(0),
            last_progress: Cell::new((0, Instant::now())),
        }
    }

    /// May the pair's publisher send `deliveries` more? Writes off a stalled lane.
    pub fn has_room(&self, deliveries: u64) -> bool {
        let outstanding = self.expected.get().saturating_sub(self.delivered.get());
        let on_way = outstanding.saturating_sub(self.written_off.get());
        if on_way + deliveries <= self.window.max(deliveries) {
            return true;
        }
        let (seen, at) = self.last_progress.get();
        let now = Instant::now();
        if self.delivered.get() != seen {
            self.last_progress.set((self.delivered.get(), now));
        } else if now.duration_since(at) >= STALL {
            self.written_off.set(outstanding);
            self.last_progress.set((seen, now));
        }
        false
    }

    pub fn sent(&self, deliveries: u64) {
        self.expected.set(self.expected.get() + deliveries);
    }

    pub fn delivered(&self, n: u64) {
        self.delivered.set(self.delivered.get() + n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_deliveries_on_the_way() {
        let f = Flow::new(100, u64::MAX);
        assert!(f.has_room(100));
        f.sent(10, 8);
        assert!(!f.has_room(40));
        f.delivered(50);
        assert!(f.has_room(70));
        assert_eq!(f.outstanding(), 30);
    }

    #[test]
    fn a_single_large_fanout_is_always_allowed_when_idle() {
        let f = Flow::new(16, u64::MAX);
        assert!(f.has_room(1000));
    }

    #[test]
    fn a_lane_limits_its_own_pair() {
        let lane = Lane::new(10);
        assert!(lane.has_room(10));
        lane.sent(10);
        assert!(!lane.has_room(1));
        lane.delivered(5);
        assert!(lane.has_room(5));
    }

    #[test]
    fn the_count_bound_stops_publishing() {
        let f = Flow::new(100, 20);
        f.sent(10, 1);
        assert!(!f.is_stopped());
        f.sent(10, 1);
        assert!(f.is_stopped());
    }
}
