//! Identifiers the broker hands out: packet identifiers for outbound QoS 1/2 messages (unique
//! among those in flight per session: MQTT-2.2.1-4) and client identifiers for clients that sent
//! an empty one (MQTT-3.1.3-6, returned as Assigned Client Identifier in MQTT 5: MQTT-3.2.2-16).
//!
//! Randomness comes from a seeded generator owned by the caller (the shard), never from the OS:
//! the same seed gives the same identifiers, which the simulation relies on.

use brokkr_codec::PacketId;
use rustc_hash::FxHashSet;

/// Outbound packet identifiers of one session.
#[derive(Debug, Default, Clone)]
pub struct PacketIds {
    last: u16,
    in_use: FxHashSet<u16>,
}

impl PacketIds {
    /// A fresh allocator.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next free identifier after the last one handed out, or `None` if all 65,535 are in
    /// flight (the caller's inflight cap keeps that from happening).
    pub fn allocate(&mut self) -> Option<PacketId> {
        if self.in_use.len() >= usize::from(u16::MAX) {
            return None;
        }
        let mut candidate = PacketId::new(self.last).map_or(PacketId::new(1)?, PacketId::next);
        // One hash lookup for the usual free candidate: `insert` says whether it was taken.
        while !self.in_use.insert(candidate.get()) {
            candidate = candidate.next();
        }
        self.last = candidate.get();
        Some(candidate)
    }

    /// Mark `id` as in use (when resuming a persisted session). False if it already was.
    pub fn claim(&mut self, id: PacketId) -> bool {
        self.in_use.insert(id.get())
    }

    /// Free `id` once its flow completed. False if it was not in use.
    pub fn release(&mut self, id: PacketId) -> bool {
        self.in_use.remove(&id.get())
    }

    /// Identifiers in flight.
    pub fn in_flight(&self) -> usize {
        self.in_use.len()
    }

    /// The identifier handed out last (0 before the first), which a saved session keeps so the
    /// next one continues after it.
    pub fn last(&self) -> u16 {
        self.last
    }

    /// Continue after `last` (when resuming a persisted session).
    pub fn set_last(&mut self, last: u16) {
        self.last = last;
    }
}

/// Characters of generated client identifiers: the set every server must accept (MQTT-3.1.3-5).
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
        let mut ids = PacketIds {
            last: 65_534,
            in_use: FxHashSet::default(),
        };
        ids.claim(PacketId::new(1).unwrap());
        assert_eq!(ids.allocate().unwrap().get(), 65_535);
        assert_eq!(ids.allocate().unwrap().get(), 2);
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
