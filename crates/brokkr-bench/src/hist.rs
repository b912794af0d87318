//! Latency accounting with coordinated omission corrected: every message's latency is measured
//! from the time it was *meant* to be sent (start + sequence / rate), not from when the
//! generator got round to sending it. A broker (or generator) stall therefore shows up in the
//! percentiles as the delay every message scheduled during the stall suffered, instead of as
//! one slow message. Values go into an HDR histogram in nanoseconds, 3 significant digits.

use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

/// Highest latency the histogram holds exactly; beyond it values are clamped.
pub const LATENCY_NS_MAX: u64 = 60_000_000_000;

/// The fixed-rate schedule: message `seq` is due at `start + seq * interval`.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub start: Instant,
    pub interval: Duration,
}

impl Schedule {
    /// A schedule of `rate_per_sec` messages per second from `start`.
    pub fn new(start: Instant, rate_per_sec: u64) -> Schedule {
        let interval = Duration::from_nanos(1_000_000_000 / rate_per_sec.max(1));
        Schedule { start, interval }
    }

    /// When message `seq` is due.
    pub fn intended(&self, seq: u64) -> Instant {
        let nanos = u64::try_from(self.interval.as_nanos()).unwrap_or(u64::MAX);
        self.start + Duration::from_nanos(seq.saturating_mul(nanos))
    }
}

/// Latencies of received messages, from their intended send time.
#[derive(Debug, Clone)]
pub struct Recorder {
    schedule: Schedule,
    hist: Histogram<u64>,
    /// Messages whose sequence number is below this are warm-up: not recorded.
    pub skip_below: u64,
}

impl Recorder {
    /// A recorder for `schedule`.
    pub fn new(schedule: Schedule, skip_below: u64) -> std::io::Result<Recorder> {
        let hist = Histogram::new_with_bounds(1, LATENCY_NS_MAX, 3)
            .map_err(|e| std::io::Error::other(format!("histogram: {e:?}")))?;
        Ok(Recorder {
            schedule,
            hist,
            skip_below,
        })
    }

    /// Record message `seq`, received at `received`; returns its latency in nanoseconds.
    pub fn record(&mut self, seq: u64, received: Instant) -> u64 {
        let due = self.schedule.intended(seq);
        let ns = u64::try_from(received.saturating_duration_since(due).as_nanos())
            .unwrap_or(u64::MAX)
            .clamp(1, LATENCY_NS_MAX);
        if seq >= self.skip_below {
            self.hist.saturating_record(ns);
        }
        ns
    }

    /// Recorded messages.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// The latency at quantile `q` (0.5, 0.99, 0.999) in microseconds.
    pub fn quantile_us(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }

    /// The largest recorded latency in microseconds.
    pub fn max_us(&self) -> f64 {
        self.hist.max() as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_is_measured_from_the_intended_time() {
        let start = Instant::now();
        let s = Schedule::new(start, 1000); // one message per ms
        let mut r = Recorder::new(s, 0).unwrap();
        // Message 10 was due at 10 ms; sent late at 15 ms and received at 15.1 ms.
        let ns = r.record(10, start + Duration::from_micros(15_100));
        assert_eq!(ns, 5_100_000);
    }

    #[test]
    fn a_stall_shows_in_the_percentiles_not_as_one_message() {
        // 1000 messages at 1000/s, each received 100 µs after it was due, except that the
        // sender stalled for 100 ms at message 500: messages 500..600 all went out at 600 ms.
        let start = Instant::now();
        let s = Schedule::new(start, 1000);
        let mut r = Recorder::new(s, 0).unwrap();
        for seq in 0..1000u64 {
            let due = s.intended(seq);
            let sent = if (500..600).contains(&seq) {
                s.intended(600)
            } else {
                due
            };
            r.record(seq, sent + Duration::from_micros(100));
        }
        assert_eq!(r.count(), 1000);
        // 10% of the messages waited: p50 stays at 100 µs, p95 sees the stall.
        assert!((r.quantile_us(0.5) - 100.0).abs() < 1.0);
        assert!(r.quantile_us(0.95) > 40_000.0);
        assert!((r.max_us() - 100_100.0).abs() < 100.0);
    }

    #[test]
    fn warm_up_messages_are_not_recorded() {
        let start = Instant::now();
        let mut r = Recorder::new(Schedule::new(start, 1000), 5).unwrap();
        for seq in 0..10 {
            r.record(seq, start + Duration::from_secs(1));
        }
        assert_eq!(r.count(), 5);
    }

    #[test]
    fn early_arrival_clamps_to_the_smallest_value() {
        let start = Instant::now();
        let mut r = Recorder::new(Schedule::new(start, 10), 0).unwrap();
        assert_eq!(r.record(5, start), 1);
    }
}
