//! Identifiers the broker hands out: packet identifiers for outbound QoS 1/2 messages (unique
//! among those in flight per session: MQTT-2.2.1-4) and client identifiers for clients that sent
//! an empty one (MQTT-3.1.3-6, returned as Assigned Client Identifier in MQTT 5: MQTT-3.2.2-16).
//!
//! Randomness comes from a seeded generator owned by the caller (the shard), never from the OS:
//! the same seed gives the same identifiers, which the simulation relies on.

use brokkr_codec::PacketId;
use std::collections::VecDeque;

/// 64-bit words covering all 65,536 values of a `u16` (0 is never used).
const WORDS: usize = 1024;

/// Outbound packet identifiers of one session.
///
/// The identifiers in use are bits in a window of 64-bit words over the circle of `u16`
/// values: identifiers are handed out in sequence and mostly released in order, so the window
/// covers little more than the identifiers in flight (a word per 64), slides along, and a check
/// or a change is a shift and a mask, not a hash. Scattered identifiers (a restored session) can
/// stretch it to the whole circle, 8 KiB at most.
#[derive(Debug, Default, Clone)]
pub struct PacketIds {
    last: u16,
    /// Index (0..1024) of the word `window[0]` stands for.
    first_word: usize,
    window: VecDeque<u64>,
    in_use: usize,
}

impl PacketIds {
    /// A fresh allocator.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next free identifier after the last one handed out, or `None` if all 65,535 are in
    /// flight (the caller's inflight cap keeps that from happening).
    pub fn allocate(&mut self) -> Option<PacketId> {
        if self.in_use >= usize::from(u16::MAX) {
            return None;
        }
        let mut candidate = PacketId::new(self.last).map_or(PacketId::new(1)?, PacketId::next);
        while !self.insert(candidate.get()) {
            candidate = candidate.next();
        }
        self.last = candidate.get();
        Some(candidate)
    }

    /// Mark `id` as in use (when resuming a persisted session). False if it already was.
    pub fn claim(&mut self, id: PacketId) -> bool {
        self.insert(id.get())
    }

    /// Free `id` once its flow is complete. False if it was not in use.
    pub fn release(&mut self, id: PacketId) -> bool {
        let (word, bit) = split(id.get());
        let Some(w) = self.offset(word).and_then(|i| self.window.get_mut(i)) else {
            return false;
        };
        if *w & bit == 0 {
            return false;
        }
        *w &= !bit;
        self.in_use -= 1;
        // Slide the window past words left empty at either end.
        while self.window.front() == Some(&0) {
            self.window.pop_front();
            self.first_word = (self.first_word + 1) % WORDS;
        }
        while self.window.back() == Some(&0) {
            self.window.pop_back();
        }
        true
    }

    /// Identifiers in use.
    pub fn in_flight(&self) -> usize {
        self.in_use
    }

    /// The identifier handed out last (0 before the first).
    pub fn last(&self) -> u16 {
        self.last
    }

    /// Continue after `last` (restoring a session).
    pub fn set_last(&mut self, last: u16) {
        self.last = last;
    }

    /// Where word `word` sits in the window, if it does.
    fn offset(&self, word: usize) -> Option<usize> {
        let i = (word + WORDS - self.first_word) % WORDS;
        (i < self.window.len()).then_some(i)
    }

    /// Mark `value` in use; false if it already was.
    fn insert(&mut self, value: u16) -> bool {
        let (word, bit) = split(value);
        if self.window.is_empty() {
            self.first_word = word;
            self.window.push_back(0);
        }
        let i = match self.offset(word) {
            Some(i) => i,
            None => {
                // Grow towards the word on the shorter way round the circle.
                let ahead = (word + WORDS - self.first_word) % WORDS; // >= len: past the back
                let behind = (self.first_word + WORDS - word) % WORDS; // before the front
                if ahead + 1 - self.window.len() <= behind {
                    self.window.resize(ahead + 1, 0);
                    ahead
                } else {
                    for _ in 0..behind {
                        self.window.push_front(0);
                    }
                    self.first_word = word;
                    0
                }
            }
        };
        debug_assert!(
            self.window.len() <= WORDS,
            "the window never exceeds the circle"
        );
        let Some(w) = self.window.get_mut(i) else {
            return false;
        };
        if *w & bit != 0 {
            return false;
        }
        *w |= bit;
        self.in_use += 1;
        true
    }
}

/// The word index and bit mask of `value`.
fn split(value: u16) -> (usize, u64) {
    (usize::from(value) / 64, 1u64 << (value % 64))
}

const CLIENT_ID_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Length of generated client identifiers: 23, the longest every server must accept.
pub const GENERATED_CLIENT_ID_LEN: usize = 23;

/// A random client identifier from the caller's seeded generator.
pub fn generate_client_id(rng: &mut fastrand::Rng) -> String {
    (0..GENERATED_CLIENT_ID_LEN)
        .map(|_| {
            let i = rng.usize(..CLIENT_ID_ALPHABET.len());
            char::from(CLIENT_ID_ALPHABET.get(i).copied().unwrap_or(b'0'))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_2_2_1_4_ids_in_flight_are_unique() {
        let mut ids = PacketIds::new();
        let a = ids.allocate().unwrap();
        let b = ids.allocate().unwrap();
        assert_ne!(a, b);
        assert_eq!((a.get(), b.get()), (1, 2));
        assert!(ids.release(a));
        assert!(!ids.release(a));
        // Wraps around 65535 and skips ids still in flight.
        let mut ids = PacketIds::new();
        ids.set_last(65_534);
        ids.claim(PacketId::new(1).unwrap());
        assert_eq!(ids.allocate().unwrap().get(), 65_535);
        assert_eq!(ids.allocate().unwrap().get(), 2);
    }

    #[test]
    fn ids_in_use_follow_a_plain_set_model() {
        // Random allocations, releases and claims against a hash set, from several starting
        // points (the window must wrap around the circle correctly).
        for seed in 0..40u64 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut ids = PacketIds::new();
            ids.set_last(rng.u16(..));
            let mut model = std::collections::BTreeSet::new();
            for _ in 0..3_000 {
                match rng.u8(..10) {
                    0..=4 => {
                        let id = ids.allocate().unwrap();
                        assert!(model.insert(id.get()), "{id:?} handed out twice");
                    }
                    5..=7 if !model.is_empty() => {
                        // Mostly the oldest, sometimes any.
                        let pick = if rng.bool() {
                            0
                        } else {
                            rng.usize(..model.len())
                        };
                        let v = *model.iter().nth(pick).unwrap();
                        assert!(ids.release(PacketId::new(v).unwrap()));
                        model.remove(&v);
                    }
                    _ => {
                        let id = PacketId::new(rng.u16(1..)).unwrap();
                        assert_eq!(ids.claim(id), model.insert(id.get()));
                    }
                }
                assert_eq!(ids.in_flight(), model.len());
            }
            for v in 1..=u16::MAX {
                let id = PacketId::new(v).unwrap();
                assert_eq!(ids.release(id), model.remove(&v), "{v}");
            }
            assert!(ids.window.is_empty(), "an empty allocator holds no words");
        }
    }

    #[test]
    fn exhaustion_is_reported_not_looped() {
        let mut ids = PacketIds::new();
        for _ in 0..u16::MAX {
            assert!(ids.allocate().is_some());
        }
        assert_eq!(ids.allocate(), None);
        assert!(ids.release(PacketId::new(300).unwrap()));
        assert_eq!(ids.allocate().unwrap().get(), 300);
    }

    #[test]
    fn generated_client_ids_are_23_safe_chars_and_seeded() {
        let a = generate_client_id(&mut fastrand::Rng::with_seed(7));
        let b = generate_client_id(&mut fastrand::Rng::with_seed(7));
        let c = generate_client_id(&mut fastrand::Rng::with_seed(8));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 23);
        assert!(a.bytes().all(|ch| ch.is_ascii_alphanumeric()));
    }
}
