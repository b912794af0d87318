//! The retained tree: set, replace, delete, look up; nodes freed as soon as they are empty.
//!
//! A node is its children (keyed by level, [`Level`]: no allocation for a level of up to 22
//! bytes) and its message. It keeps no link to its parent or copy of its own level: a removal
//! walks down from the root and prunes back up along the path it took, so every level is
//! stored once, in its parent's map.

use crate::short_str::ShortStr as Level;
use brokkr_codec::TopicName;
use std::collections::BTreeMap;

pub(super) type NodeIdx = u32;
pub(super) const ROOT: NodeIdx = 0;

#[derive(Debug)]
pub(super) struct Node<M> {
    pub(super) children: BTreeMap<Level, NodeIdx>,
    pub(super) message: Option<M>,
}

/// An arena slot. The generation changes every time the slot is reused, so a walk that kept a
/// slot number can tell that its node is gone.
#[derive(Debug)]
pub(super) struct Slot<M> {
    pub(super) generation: u32,
    pub(super) node: Option<Node<M>>,
}

/// Retained messages by topic.
#[derive(Debug)]
pub struct RetainedStore<M> {
    pub(super) slots: Vec<Slot<M>>,
    free: Vec<NodeIdx>,
    messages: usize,
    /// The nodes a removal walked through, reused.
    path: Vec<NodeIdx>,
    /// Node counts for `retained_messages_node_creation_limit`, while counting is on.
    pub(super) quota: Option<super::quota::Quota>,
}

impl<M> Default for RetainedStore<M> {
    fn default() -> Self {
        let root = Node {
            children: BTreeMap::new(),
            message: None,
        };
        RetainedStore {
            slots: vec![Slot {
                generation: 0,
                node: Some(root),
            }],
            free: Vec::new(),
            messages: 0,
            path: Vec::new(),
            quota: None,
        }
    }
}

impl<M> RetainedStore<M> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of retained messages.
    pub fn len(&self) -> usize {
        self.messages
    }

    /// True when no message is retained.
    pub fn is_empty(&self) -> bool {
        self.messages == 0
    }

    /// Nodes in use, the root included.
    pub fn node_count(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub(super) fn node(&self, idx: NodeIdx) -> Option<&Node<M>> {
        self.slots.get(idx as usize).and_then(|s| s.node.as_ref())
    }

    pub(super) fn generation(&self, idx: NodeIdx) -> Option<u32> {
        self.slots
            .get(idx as usize)
            .filter(|s| s.node.is_some())
            .map(|s| s.generation)
    }

    fn node_mut(&mut self, idx: NodeIdx) -> Option<&mut Node<M>> {
        self.slots
            .get_mut(idx as usize)
            .and_then(|s| s.node.as_mut())
    }

    fn child(&self, idx: NodeIdx, level: &str) -> Option<NodeIdx> {
        self.node(idx)?.children.get(level.as_bytes()).copied()
    }

    fn find(&self, topic: &str) -> Option<NodeIdx> {
        topic
            .split('/')
            .try_fold(ROOT, |idx, level| self.child(idx, level))
    }

    /// The message retained on `topic`.
    pub fn get(&self, topic: &TopicName) -> Option<&M> {
        self.node(self.find(topic.as_str())?)?.message.as_ref()
    }

    /// Retain `message` on `topic`, replacing and returning the previous one.
    /// This never refuses: see [`RetainedStore::would_exceed`] for the creation limit.
    pub fn set(&mut self, topic: &TopicName, message: M) -> Option<M> {
        let counted_below = self
            .quota
            .as_ref()
            .filter(|_| !super::quota::exempt(topic))
            .map(super::quota::Quota::depth);
        let mut idx = ROOT;
        let mut anchor = None;
        for (depth, level) in topic.as_str().split('/').enumerate() {
            if counted_below == Some(depth) {
                anchor = Some(idx);
            }
            idx = match self.child(idx, level) {
                Some(child) => child,
                None => {
                    let child = self.alloc(idx, level);
                    if let (Some(a), Some(q)) = (anchor, self.quota.as_mut()) {
                        q.created(a);
                    }
                    child
                }
            };
        }
        let old = self.node_mut(idx)?.message.replace(message);
        if old.is_none() {
            self.messages += 1;
        }
        old
    }

    /// Delete the message on `topic` (a retained PUBLISH with an empty payload: MQTT-3.3.1-6),
    /// returning it.
    pub fn remove(&mut self, topic: &TopicName) -> Option<M> {
        let mut path = std::mem::take(&mut self.path);
        path.clear();
        path.push(ROOT);
        let mut idx = ROOT;
        for level in topic.as_str().split('/') {
            match self.child(idx, level) {
                Some(child) => idx = child,
                None => {
                    self.path = path;
                    return None;
                }
            }
            path.push(idx);
        }
        let old = self.node_mut(idx).and_then(|n| n.message.take());
        if old.is_some() {
            self.messages -= 1;
            let anchor = self.anchor_of(topic);
            self.prune(&path, topic.as_str(), anchor);
        }
        self.path = path;
        old
    }

    fn alloc(&mut self, parent: NodeIdx, level: &str) -> NodeIdx {
        let node = Node {
            children: BTreeMap::new(),
            message: None,
        };
        let idx = match self.free.pop() {
            Some(idx) => {
                if let Some(slot) = self.slots.get_mut(idx as usize) {
                    slot.generation = slot.generation.wrapping_add(1);
                    slot.node = Some(node);
                }
                idx
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    node: Some(node),
                });
                NodeIdx::try_from(self.slots.len() - 1).unwrap_or(NodeIdx::MAX)
            }
        };
        if let Some(p) = self.node_mut(parent) {
            p.children.insert(Level::new(level), idx);
        }
        idx
    }

    /// Free the empty nodes at the end of `path` (the root first, then one node per level of
    /// `topic`), deepest first, and unlink each from its parent; `anchor` is the counting depth
    /// and anchor of the topic, for the creation limit's counts.
    fn prune(&mut self, path: &[NodeIdx], topic: &str, anchor: Option<(usize, NodeIdx)>) {
        let steps = path.windows(2).enumerate().rev().zip(topic.rsplit('/'));
        for ((i, pair), level) in steps {
            let depth = i + 1;
            let &[parent, idx] = pair else {
                return;
            };
            let unused = self
                .node(idx)
                .is_some_and(|n| n.message.is_none() && n.children.is_empty());
            if !unused {
                return;
            }
            if let Some(slot) = self.slots.get_mut(idx as usize) {
                slot.node = None;
            }
            self.free.push(idx);
            if let (Some((anchor_depth, a)), Some(q)) = (anchor, self.quota.as_mut()) {
                if depth > anchor_depth {
                    q.freed(a);
                } else if depth == anchor_depth {
                    q.anchor_freed(a);
                }
            }
            if let Some(p) = self.node_mut(parent) {
                p.children.remove(level.as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TopicName {
        TopicName::new(s).unwrap()
    }

    #[test]
    fn set_replace_remove() {
        let mut s = RetainedStore::new();
        assert_eq!(s.set(&t("a/b"), 1), None);
        assert_eq!(s.set(&t("a/b"), 2), Some(1));
        assert_eq!(s.set(&t("a"), 3), None);
        assert_eq!(s.len(), 2);
        assert_eq!(s.get(&t("a/b")), Some(&2));
        assert_eq!(s.remove(&t("a/b")), Some(2));
        assert_eq!(s.remove(&t("a/b")), None);
        assert_eq!(s.get(&t("a")), Some(&3));
        assert_eq!(s.remove(&t("a")), Some(3));
        assert_eq!(s.node_count(), 1);
        assert!(s.is_empty());
    }

    #[test]
    fn removal_prunes_only_empty_nodes_along_its_path() {
        let mut s = RetainedStore::new();
        s.set(&t("a/b/c/d"), 1);
        s.set(&t("a/b"), 2);
        s.set(&t("a/x"), 3);
        assert_eq!(s.node_count(), 6); // root, a, b, c, d, x
        assert_eq!(s.remove(&t("a/b/c")), None, "no message there");
        assert_eq!(s.node_count(), 6);
        assert_eq!(s.remove(&t("a/b/c/d")), Some(1));
        assert_eq!(s.node_count(), 4, "d and c freed, b keeps its message");
        assert_eq!(s.get(&t("a/b")), Some(&2));
        assert_eq!(s.remove(&t("a/b")), Some(2));
        assert_eq!(s.node_count(), 3, "b freed, a keeps x");
        assert_eq!(s.remove(&t("a/x")), Some(3));
        assert_eq!(s.node_count(), 1);
        // Freed slots are reused.
        s.set(&t("p/q"), 4);
        assert_eq!(s.slots.len(), 6);
        assert_eq!(s.get(&t("p/q")), Some(&4));
    }
}
