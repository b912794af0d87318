//! The shard's memory of recent matches: topic name to the subscriptions it matched.
//!
//! Matching walks the shared subscription tree under its read lock, one hash lookup per topic
//! level; most traffic repeats a small set of topics (a sensor, a pair, a device), so each shard
//! keeps the last match of each of a few hundred topics and skips both the walk and the lock.
//! Every change of the tree bumps its generation ([`SharedState::tree_generation`]); an entry
//! serves only the generation it was matched under, so a subscription or unsubscription on any
//! shard is seen by the next PUBLISH. A match that met a `$share` group is not kept (its member
//! is chosen per message). The cache is direct-mapped by a fixed hash (deterministic, no
//! eviction order to keep) and bounded: [`SLOTS`] entries of at most [`TOPIC_BYTES_MAX`] bytes
//! of topic and [`TARGETS_MAX`] subscriptions each; it allocates nothing until the first match
//! and reuses each entry's buffers after that.
//!
//! [`SharedState::tree_generation`]: super::SharedState::tree_generation

use super::{SessionRef, SubOptions};

/// Entries (a power of two: the slot is the hash's low bits).
pub(super) const SLOTS: usize = 256;
/// Longer topics are matched every time.
pub(super) const TOPIC_BYTES_MAX: usize = 128;
/// Matches of more subscriptions are not kept (a fan-out that large costs far more than its
/// match).
pub(super) const TARGETS_MAX: usize = 32;

/// One matched subscription: the session and its options.
pub(super) type Target = (SessionRef, SubOptions);

#[derive(Debug, Default)]
struct Entry {
    /// The tree generation it was matched under; `None`: empty.
    generation: Option<u64>,
    topic: String,
    targets: Vec<Target>,
}

/// Recent matches by topic (see the module documentation).
#[derive(Debug, Default)]
pub(super) struct RouteCache {
    entries: Vec<Entry>,
}

impl RouteCache {
    /// The subscriptions `topic` matched under tree generation `generation`, if known.
    pub(super) fn get(&self, generation: u64, topic: &str) -> Option<&[Target]> {
        let e = self.entries.get(slot(topic))?;
        (e.generation == Some(generation) && e.topic == topic).then_some(&e.targets[..])
    }

    /// Remember that `topic` matched `targets` under `generation` (unless either is too large).
    pub(super) fn put(&mut self, generation: u64, topic: &str, targets: &[Target]) {
        if topic.len() > TOPIC_BYTES_MAX || targets.len() > TARGETS_MAX {
            return;
        }
        if self.entries.is_empty() {
            self.entries.resize_with(SLOTS, Entry::default);
        }
        let Some(e) = self.entries.get_mut(slot(topic)) else {
            return;
        };
        e.generation = Some(generation);
        e.topic.clear();
        e.topic.push_str(topic);
        e.targets.clear();
        e.targets.extend_from_slice(targets);
    }
}

/// The entry for `topic`: a fixed hash, the same on every run.
fn slot(topic: &str) -> usize {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(topic.as_bytes());
    let hash = h.finish();
    // Fold the high bits in: FxHash's low bits are weak for short keys.
    usize::try_from((hash ^ (hash >> 32)) & (SLOTS as u64 - 1)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slab::Key;
    use brokkr_codec::QoS;

    fn key() -> Key {
        crate::slab::Slab::default().insert(())
    }

    fn target(n: u32) -> Target {
        let opts = SubOptions {
            qos: QoS::AtLeastOnce,
            no_local: false,
            retain_as_published: false,
            subscription_id: None,
        };
        (
            SessionRef {
                shard: n,
                key: key(),
            },
            opts,
        )
    }

    #[test]
    fn an_entry_serves_its_topic_and_generation_only() {
        let mut c = RouteCache::default();
        assert_eq!(c.get(1, "a/b"), None);
        c.put(1, "a/b", &[target(0), target(1)]);
        assert_eq!(c.get(1, "a/b"), Some(&[target(0), target(1)][..]));
        assert_eq!(c.get(2, "a/b"), None, "the tree changed since");
        assert_eq!(c.get(1, "a/c"), None);
        c.put(2, "a/b", &[]);
        assert_eq!(
            c.get(2, "a/b"),
            Some(&[][..]),
            "no subscriber is an answer too"
        );
        assert_eq!(c.get(1, "a/b"), None);
    }

    #[test]
    fn colliding_topics_replace_each_other() {
        let mut c = RouteCache::default();
        let topics: Vec<String> = (0..=SLOTS).map(|i| format!("t/{i}")).collect();
        for (i, t) in topics.iter().enumerate() {
            c.put(7, t, &[target(u32::try_from(i).unwrap())]);
        }
        // More topics than slots: at least two shared a slot and the first is gone.
        let kept = topics.iter().filter(|t| c.get(7, t).is_some()).count();
        assert!(kept < topics.len());
        assert!(
            c.get(7, topics.last().unwrap()).is_some(),
            "the latest stays"
        );
        assert_eq!(c.entries.len(), SLOTS);
    }

    #[test]
    fn large_topics_and_matches_are_not_kept() {
        let mut c = RouteCache::default();
        let long = "x".repeat(TOPIC_BYTES_MAX + 1);
        c.put(1, &long, &[target(0)]);
        assert_eq!(c.get(1, &long), None);
        let many: Vec<Target> = (0..=TARGETS_MAX as u32).map(target).collect();
        c.put(1, "t", &many);
        assert_eq!(c.get(1, "t"), None);
        assert!(
            c.entries.is_empty(),
            "nothing allocated for what is not kept"
        );
    }
}
