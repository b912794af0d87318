//! What the shards of one broker share: the subscription tree and the retained store.
//!
//! Sessions live on a home shard chosen from their client id ([`home_shard`]), so everything
//! about a session (takeover, resume, will delay, expiry) happens inside one shard. Matching
//! and retained messages must see every shard's subscribers, so those two structures are shared
//! behind read-mostly locks, as FlashMQ shares its tree. A lock is only ever held for one match,
//! one insert or removal, or one bounded slice of a retained walk, never while delivering, and
//! never both locks at once, so no deadlock is possible and no shard waits long.
//!
//! With one shard the locks are never contended; under `--fuzz-file` and in the tests every
//! shard runs on one thread, so the whole broker stays deterministic.

use super::session::SubOptions;
use crate::access::{AccessPolicy, AllowAll};
use crate::retained::{RetainedMessage, RetainedStore};
use crate::slab::Key;
use crate::stats::ShardStats;
use crate::subscriptions::TopicTree;
use std::hash::Hasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A session anywhere in the broker: its home shard and its key there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionRef {
    /// Index of the home shard.
    pub shard: u32,
    /// The session's key in that shard.
    pub key: Key,
}

/// Where a shard sits among its peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// This shard's index, below `count`.
    pub index: u32,
    /// How many shards the broker has (at least 1).
    pub count: u32,
}

impl Placement {
    /// The only shard of a one-shard broker.
    pub const SOLE: Placement = Placement { index: 0, count: 1 };

    /// Shard `index` of `count`; `None` if `index` is out of range.
    pub fn new(index: u32, count: u32) -> Option<Placement> {
        (index < count).then_some(Placement { index, count })
    }
}

/// The home shard of a client id: a fixed hash (the same on every shard and every run) modulo
/// the shard count.
pub fn home_shard(client_id: &[u8], count: u32) -> u32 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(client_id);
    let count = u64::from(count.max(1));
    // Fold the high bits in: FxHash's low bits are weak for short keys.
    let hash = h.finish();
    u32::try_from((hash ^ (hash >> 32)) % count).unwrap_or(0)
}

/// The state all shards of one broker share.
#[derive(Debug)]
pub struct SharedState {
    /// Who may connect, publish and receive; replaced whole on reload.
    policy: RwLock<Arc<dyn AccessPolicy>>,
    /// Bumped on each replacement of the policy or the limits, so shards refresh their cached
    /// copies cheaply.
    policy_generation: AtomicU64,
    /// Limits replaced by a reload, for connections and sessions created from then on.
    limits: RwLock<Option<Arc<crate::limits::Limits>>>,
    tree: RwLock<TopicTree<SessionRef, SubOptions>>,
    /// Bumped by every change of `tree` (under its write lock, before the change), so shards
    /// know when their remembered matches (`route_cache.rs`) are stale.
    tree_generation: AtomicU64,
    retained: RwLock<RetainedStore<RetainedMessage>>,
    /// Each shard's latest statistics, by shard index (reported on its ticks).
    stats: Mutex<Vec<ShardStats>>,
}

impl Default for SharedState {
    fn default() -> Self {
        SharedState {
            policy: RwLock::new(Arc::new(AllowAll)),
            policy_generation: AtomicU64::new(0),
            limits: RwLock::new(None),
            tree: RwLock::default(),
            tree_generation: AtomicU64::new(0),
            retained: RwLock::default(),
            stats: Mutex::default(),
        }
    }
}

impl SharedState {
    /// An empty state, ready to be handed to every shard; everyone may connect
    /// ([`AllowAll`]) until [`SharedState::set_policy`].
    pub fn new() -> Arc<SharedState> {
        Arc::new(SharedState::default())
    }

    /// Replace the access policy (start-up, reload). Shards pick it up at their next input.
    pub fn set_policy(&self, policy: Arc<dyn AccessPolicy>) {
        *self.policy.write().unwrap_or_else(PoisonError::into_inner) = policy;
        self.policy_generation.fetch_add(1, Ordering::Release);
    }

    /// Replace the limits (reload): connections and sessions created from the next input on
    /// use them; existing sessions keep the queue caps they were created with.
    pub fn set_limits(&self, limits: crate::limits::Limits) {
        *self.limits.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(limits));
        self.policy_generation.fetch_add(1, Ordering::Release);
    }

    /// Limits set by a reload, if any.
    pub(super) fn reloaded_limits(&self) -> Option<Arc<crate::limits::Limits>> {
        self.limits
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The policy and its generation.
    pub(super) fn policy(&self) -> (u64, Arc<dyn AccessPolicy>) {
        let policy = self.policy.read().unwrap_or_else(PoisonError::into_inner);
        (
            self.policy_generation.load(Ordering::Acquire),
            Arc::clone(&policy),
        )
    }

    /// The current policy generation (one atomic load).
    pub(super) fn policy_generation(&self) -> u64 {
        self.policy_generation.load(Ordering::Acquire)
    }

    /// The subscription tree, for matching. A panic while a lock is held aborts the process
    /// (release builds abort on panic), so a poisoned lock only happens in tests; the data is
    /// still consistent then, because every write is one call into the tree.
    pub(super) fn tree(&self) -> RwLockReadGuard<'_, TopicTree<SessionRef, SubOptions>> {
        self.tree.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The subscription tree, for a change (which bumps its generation).
    pub(super) fn tree_mut(&self) -> RwLockWriteGuard<'_, TopicTree<SessionRef, SubOptions>> {
        let tree = self.tree.write().unwrap_or_else(PoisonError::into_inner);
        self.tree_generation.fetch_add(1, Ordering::Release);
        tree
    }

    /// The subscription tree's generation: read under [`SharedState::tree`]'s lock it is the
    /// generation of what the lock shows; read without it, a generation equal to a match's
    /// means nothing changed since that match (a change in progress may be missed, as if the
    /// PUBLISH had come just before it).
    pub(super) fn tree_generation(&self) -> u64 {
        self.tree_generation.load(Ordering::Acquire)
    }

    /// The retained store, for a walk.
    pub(super) fn retained(&self) -> RwLockReadGuard<'_, RetainedStore<RetainedMessage>> {
        self.retained.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The retained store, for a change.
    pub(super) fn retained_mut(&self) -> RwLockWriteGuard<'_, RetainedStore<RetainedMessage>> {
        self.retained
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Retained messages stored.
    pub fn retained_count(&self) -> usize {
        self.retained().len()
    }

    /// Subscriptions in the tree.
    pub fn subscription_count(&self) -> usize {
        self.tree().len()
    }

    /// Shard `index` reports its statistics.
    pub(super) fn report(&self, index: u32, stats: ShardStats) {
        let mut all = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        let Ok(i) = usize::try_from(index) else {
            return;
        };
        if all.len() <= i {
            all.resize(i + 1, ShardStats::default());
        }
        if let Some(slot) = all.get_mut(i) {
            *slot = stats;
        }
    }

    /// The broker-wide statistics as last reported by every shard.
    pub fn totals(&self) -> ShardStats {
        let all = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        ShardStats::sum(all.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_shard_is_stable_and_in_range() {
        for count in 1..9 {
            for id in ["a", "client-1", "", "\u{e9}t\u{e9}", "x/y/z"] {
                let home = home_shard(id.as_bytes(), count);
                assert!(home < count);
                assert_eq!(home, home_shard(id.as_bytes(), count));
            }
        }
    }

    #[test]
    fn home_shard_spreads_client_ids() {
        let mut seen = [0u32; 4];
        for i in 0..4000 {
            let home = home_shard(format!("client-{i}").as_bytes(), 4);
            seen[home as usize] += 1;
        }
        // A fair spread: no shard gets less than a sixth or more than a third.
        for n in seen {
            assert!((666..=1333).contains(&n), "uneven spread {seen:?}");
        }
    }

    #[test]
    fn placement_refuses_an_index_out_of_range() {
        assert!(Placement::new(3, 3).is_none());
        assert_eq!(Placement::new(2, 3), Some(Placement { index: 2, count: 3 }));
    }
}
