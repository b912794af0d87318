//! `retained_messages_node_creation_limit`: how many retained-tree nodes each node at one depth
//! has below it, so that a client flooding unique retained topics under one prefix (one device
//! id at depth 1, say) cannot grow the tree without bound.
//!
//! Counts are kept only while a depth is set ([`RetainedStore::count_nodes_below`]), in a map
//! beside the arena (the nodes themselves stay as small as they are), and follow every node
//! the store allocates or frees. Topics whose first level starts with `$` (the broker's own)
//! are never counted. Brokkr frees an empty node at once, so a count is the live size of the
//! subtree: deleting retained messages makes room again.

use super::store::{NodeIdx, ROOT, RetainedStore};
use brokkr_codec::TopicName;
use rustc_hash::FxHashMap;

/// The node counts of one depth.
#[derive(Debug, Default)]
pub(super) struct Quota {
    /// Depth of the anchor nodes (0: the root).
    depth: usize,
    /// Nodes below each anchor that has any.
    below: FxHashMap<NodeIdx, u32>,
}

impl Quota {
    /// The depth of the anchor nodes, for a topic that reaches it.
    pub(super) fn depth(&self) -> usize {
        self.depth
    }

    /// A node was created below `anchor`.
    pub(super) fn created(&mut self, anchor: NodeIdx) {
        let n = self.below.entry(anchor).or_insert(0);
        *n = n.saturating_add(1);
    }

    /// A node below `anchor` was freed.
    pub(super) fn freed(&mut self, anchor: NodeIdx) {
        if let Some(n) = self.below.get_mut(&anchor) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.below.remove(&anchor);
            }
        }
    }

    /// The anchor itself was freed (it had nothing below it, so no count).
    pub(super) fn anchor_freed(&mut self, anchor: NodeIdx) {
        debug_assert!(
            !self.below.contains_key(&anchor),
            "freed an anchor with nodes"
        );
        self.below.remove(&anchor);
    }

    fn count(&self, anchor: NodeIdx) -> u32 {
        self.below.get(&anchor).copied().unwrap_or(0)
    }
}

/// True for the topics the quota ignores: the broker's own (`$SYS/...`).
pub(super) fn exempt(topic: &TopicName) -> bool {
    topic.as_str().starts_with('$')
}

impl<M> RetainedStore<M> {
    /// Keep node counts below every node at `depth_levels` (`None`: stop counting). A change
    /// of depth recounts the whole tree once (an explicit stack, no recursion).
    pub fn count_nodes_below(&mut self, depth_levels: Option<u16>) {
        let depth = depth_levels.map(usize::from);
        if self.quota.as_ref().map(Quota::depth) == depth {
            return;
        }
        self.quota = depth.map(|depth| self.recount(depth));
    }

    /// Nodes counted below the anchor node on `topic`'s path (the node at the counting depth),
    /// if counting is on and that node exists.
    pub fn nodes_below_anchor(&self, topic: &TopicName) -> Option<u32> {
        let quota = self.quota.as_ref()?;
        let anchor = self.find_prefix(topic.as_str(), quota.depth)?;
        Some(quota.count(anchor))
    }

    /// True if retaining a message on `topic` would create nodes beyond `nodes_max` below its
    /// anchor. A topic already in the tree (a replacement), one that ends above the counting
    /// depth, a `$` topic, or any topic while counting is off, creates nothing counted.
    pub fn would_exceed(&self, topic: &TopicName, nodes_max: u32) -> bool {
        let Some(quota) = self.quota.as_ref().filter(|_| !exempt(topic)) else {
            return false;
        };
        let levels = topic.level_count();
        if levels <= quota.depth {
            return false;
        }
        let created = levels - self.existing_levels(topic.as_str()).max(quota.depth);
        if created == 0 {
            return false;
        }
        let count = self
            .find_prefix(topic.as_str(), quota.depth)
            .map_or(0, |anchor| quota.count(anchor));
        u64::from(count) + created as u64 > u64::from(nodes_max)
    }

    /// The anchor of `topic` for the counts, if counting is on, the topic is counted and its
    /// anchor exists: (counting depth, anchor).
    pub(super) fn anchor_of(&self, topic: &TopicName) -> Option<(usize, NodeIdx)> {
        let quota = self.quota.as_ref().filter(|_| !exempt(topic))?;
        Some((quota.depth, self.find_prefix(topic.as_str(), quota.depth)?))
    }

    /// The node reached by the first `levels` levels of `topic` (the root for 0); `None` if
    /// the topic has fewer levels or the node does not exist.
    fn find_prefix(&self, topic: &str, levels: usize) -> Option<NodeIdx> {
        let mut idx = ROOT;
        let mut taken = 0;
        for level in topic.split('/').take(levels) {
            idx = *self.node(idx)?.children.get(level.as_bytes())?;
            taken += 1;
        }
        (taken == levels).then_some(idx)
    }

    /// How many of `topic`'s levels already have nodes.
    fn existing_levels(&self, topic: &str) -> usize {
        let mut idx = ROOT;
        let mut depth = 0;
        for level in topic.split('/') {
            match self
                .node(idx)
                .and_then(|n| n.children.get(level.as_bytes()))
            {
                Some(&child) => idx = child,
                None => break,
            }
            depth += 1;
        }
        depth
    }

    /// The counts of `depth`, from the tree as it is.
    fn recount(&self, depth: usize) -> Quota {
        let mut quota = Quota {
            depth,
            below: FxHashMap::default(),
        };
        // (node, its depth, its anchor if it is below one)
        let mut stack: Vec<(NodeIdx, usize, Option<NodeIdx>)> = vec![(ROOT, 0, None)];
        while let Some((idx, d, anchor)) = stack.pop() {
            if let Some(a) = anchor {
                quota.created(a);
            }
            let Some(node) = self.node(idx) else {
                continue;
            };
            let child_anchor = if d == depth { Some(idx) } else { anchor };
            for (key, &child) in &node.children {
                if idx == ROOT && key.starts_with('$') {
                    continue;
                }
                stack.push((child, d + 1, child_anchor));
            }
        }
        quota
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TopicName {
        TopicName::new(s).unwrap()
    }

    #[test]
    fn counts_follow_sets_and_removes() {
        let mut s = RetainedStore::new();
        s.count_nodes_below(Some(1));
        s.set(&t("dev1/a"), 1);
        s.set(&t("dev1/b/c"), 2);
        s.set(&t("dev2"), 3);
        assert_eq!(s.nodes_below_anchor(&t("dev1/x")), Some(3)); // a, b, b/c
        assert_eq!(s.nodes_below_anchor(&t("dev2")), Some(0));
        s.count_nodes_below(Some(2));
        assert_eq!(
            s.nodes_below_anchor(&t("dev2")),
            None,
            "shallower than the depth"
        );
        assert_eq!(s.nodes_below_anchor(&t("dev1/b")), Some(1));
        s.count_nodes_below(Some(1));
        s.remove(&t("dev1/b/c"));
        assert_eq!(s.nodes_below_anchor(&t("dev1")), Some(1), "b and c freed");
        s.remove(&t("dev1/a"));
        assert_eq!(
            s.nodes_below_anchor(&t("dev1")),
            None,
            "dev1 freed with its last node"
        );
    }

    #[test]
    fn a_new_depth_recounts_what_is_there() {
        let mut s = RetainedStore::new();
        for topic in ["a/1", "a/2/3", "b/1", "$SYS/x/y"] {
            s.set(&t(topic), 0);
        }
        s.count_nodes_below(Some(0));
        assert_eq!(
            s.nodes_below_anchor(&t("a")),
            Some(6),
            "a, 1, 2, 3, b, 1; not $SYS"
        );
        s.count_nodes_below(Some(1));
        assert_eq!(s.nodes_below_anchor(&t("a")), Some(3));
        assert_eq!(s.nodes_below_anchor(&t("b")), Some(1));
        s.count_nodes_below(None);
        assert_eq!(s.nodes_below_anchor(&t("a")), None);
    }

    #[test]
    fn would_exceed_counts_only_nodes_to_create_below_the_anchor() {
        let mut s = RetainedStore::new();
        s.count_nodes_below(Some(1));
        for topic in ["d/1", "d/2"] {
            s.set(&t(topic), 0);
        }
        assert!(!s.would_exceed(&t("d/3"), 3));
        assert!(s.would_exceed(&t("d/3/4"), 3), "two more nodes: 4 > 3");
        assert!(
            !s.would_exceed(&t("d/1"), 2),
            "a replacement creates nothing"
        );
        assert!(
            !s.would_exceed(&t("d"), 0),
            "the anchor itself is not below itself"
        );
        assert!(
            !s.would_exceed(&t("c/1/2/3"), 3),
            "a new anchor with 3 below"
        );
        assert!(s.would_exceed(&t("c/1/2/3/4"), 3));
        assert!(
            !s.would_exceed(&t("$SYS/a/b/c/d"), 1),
            "$ topics are exempt"
        );
        s.count_nodes_below(None);
        assert!(!s.would_exceed(&t("d/3/4/5/6"), 1), "counting off");
    }
}
