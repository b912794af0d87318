//! The shard's index from client identifier to session.
//!
//! The identifier is stored once, in the session; the index holds only session keys (8 bytes a
//! slot instead of a second copy of the string with its 24-byte header) and compares through
//! the session slab. Hashing is FxHash, fixed: the index is never iterated, so its order cannot
//! reach an output anyway.

use super::session::Session;
use crate::slab::{Key, Slab};
use hashbrown::HashTable;
use std::hash::{BuildHasher, BuildHasherDefault};

type Fx = BuildHasherDefault<rustc_hash::FxHasher>;

fn hash(client_id: &[u8]) -> u64 {
    Fx::default().hash_one(client_id)
}

fn id_of(sessions: &Slab<Session>, key: Key) -> &[u8] {
    sessions.get(key).map_or(&[], |s| s.client_id.as_bytes())
}

/// Session keys by client identifier.
#[derive(Debug, Default)]
pub(super) struct ClientIds {
    table: HashTable<Key>,
}

impl ClientIds {
    /// The session of `client_id`.
    pub(super) fn get(&self, sessions: &Slab<Session>, client_id: &str) -> Option<Key> {
        let id = client_id.as_bytes();
        self.table
            .find(hash(id), |&k| id_of(sessions, k) == id)
            .copied()
    }

    /// True if `client_id` has a session.
    pub(super) fn contains(&self, sessions: &Slab<Session>, client_id: &str) -> bool {
        self.get(sessions, client_id).is_some()
    }

    /// Index session `key`, already in `sessions`, under its client id (which has no entry
    /// yet).
    pub(super) fn insert(&mut self, sessions: &Slab<Session>, key: Key) {
        let client_id = id_of(sessions, key);
        debug_assert!(
            !client_id.is_empty(),
            "a session is in the slab before indexing"
        );
        debug_assert!(
            self.table
                .find(hash(client_id), |&k| id_of(sessions, k) == client_id)
                .is_none(),
            "one session per id"
        );
        self.table
            .insert_unique(hash(client_id), key, |&k| hash(id_of(sessions, k)));
    }

    /// Forget session `key`, indexed under `client_id` (it may already be gone from the slab).
    pub(super) fn remove(&mut self, client_id: &str, key: Key) {
        if let Ok(entry) = self
            .table
            .find_entry(hash(client_id.as_bytes()), |&k| k == key)
        {
            entry.remove();
        }
    }

    /// Sessions indexed.
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Login;
    use crate::session::{InboundQos2, Outbound};
    use brokkr_codec::ProtocolVersion;

    fn session(id: &str) -> Session {
        Session {
            client_id: id.into(),
            username: None,
            login: Login::default(),
            presence: super::super::session::Presence::Offline { since_ms: 0 },
            version: ProtocolVersion::V5,
            subscriptions: Vec::new(),
            outbound: Outbound::new(1, 1, 1),
            inbound_qos2: InboundQos2::default(),
            will: None,
            pending_will: None,
            expiry_secs: 0,
        }
    }

    #[test]
    fn finds_by_id_through_the_slab_and_forgets_by_key() {
        let mut slab = Slab::default();
        let mut ids = ClientIds::default();
        let keys: Vec<Key> = (0..100)
            .map(|i| {
                let k = slab.insert(session(&format!("c{i}")));
                ids.insert(&slab, k);
                k
            })
            .collect();
        assert_eq!(ids.len(), 100);
        assert_eq!(ids.get(&slab, "c42"), Some(keys[42]));
        assert!(!ids.contains(&slab, "c100"));
        let gone = slab.remove(keys[42]).unwrap();
        ids.remove(&gone.client_id, keys[42]);
        assert_eq!(ids.get(&slab, "c42"), None);
        assert_eq!(ids.len(), 99);
        // A new session under the same id is found, not the old key.
        let k = slab.insert(session("c42"));
        ids.insert(&slab, k);
        assert_eq!(ids.get(&slab, "c42"), Some(k));
        assert_eq!(ids.get(&slab, "c7"), Some(keys[7]));
    }
}
