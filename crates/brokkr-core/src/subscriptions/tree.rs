//! The topic tree: one node per filter level, in an arena.
//!
//! Each node holds its exact-level children in a hash map with a fixed hasher (deterministic),
//! its `+` and `#` children apart, the direct subscriptions that end there and the shared groups
//! that end there. Nodes left without subscriptions or children are freed at once, so the tree's
//! size follows the live subscriptions.

use rustc_hash::FxHashMap;

type NodeIdx = u32;
const ROOT: NodeIdx = 0;

#[derive(Debug)]
struct Node<K, V> {
    children: FxHashMap<Box<str>, NodeIdx>,
    plus: Option<NodeIdx>,
    hash: Option<NodeIdx>,
    parent: Option<(NodeIdx, Box<str>)>,
    direct: Vec<(K, V)>,
    shared: Vec<SharedGroup<K, V>>,
}

impl<K, V> Node<K, V> {
    fn new(parent: Option<(NodeIdx, Box<str>)>) -> Self {
        Node {
            children: FxHashMap::default(),
            plus: None,
            hash: None,
            parent,
            direct: Vec::new(),
            shared: Vec::new(),
        }
    }

    fn is_unused(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.hash.is_none()
            && self.direct.is_empty()
            && self.shared.is_empty()
    }
}

/// The members of one `$share/<name>/filter` group at one filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedGroup<K, V> {
    /// The share name.
    pub name: Box<str>,
    /// Members in subscription order; the router picks one per message.
    pub members: Vec<(K, V)>,
    /// The round-robin position (advanced under the tree's read lock, hence atomic).
    pub cursor: Cursor,
}

/// A round-robin position that can advance through a shared reference. It is not part of a
/// group's identity: two groups compare equal whatever their cursors.
#[derive(Debug, Default)]
pub struct Cursor(std::sync::atomic::AtomicUsize);

impl Cursor {
    /// The next position, then advance.
    pub fn advance(&self) -> usize {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

impl Clone for Cursor {
    fn clone(&self) -> Self {
        Cursor(std::sync::atomic::AtomicUsize::new(
            self.0.load(std::sync::atomic::Ordering::Relaxed),
        ))
    }
}

impl PartialEq for Cursor {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for Cursor {}

/// One matching subscription, as reported by [`TopicTree::for_each_match`].
#[derive(Debug)]
pub enum Match<'a, K, V> {
    /// A normal subscription.
    Direct(&'a K, &'a V),
    /// A shared group: exactly one member should receive the message.
    Shared(&'a SharedGroup<K, V>),
}

/// Reusable scratch space for matching, so a match allocates nothing in steady state.
#[derive(Debug, Default)]
pub struct MatchScratch {
    stack: Vec<(NodeIdx, usize)>,
}

/// Topic filters to subscribers.
#[derive(Debug)]
pub struct TopicTree<K, V> {
    nodes: Vec<Option<Node<K, V>>>,
    free: Vec<NodeIdx>,
    subscriptions: usize,
}

impl<K, V> Default for TopicTree<K, V> {
    fn default() -> Self {
        TopicTree {
            nodes: vec![Some(Node::new(None))],
            free: Vec::new(),
            subscriptions: 0,
        }
    }
}

/// Split `filter` into its share group (if any) and its pattern.
fn split_share(filter: &brokkr_codec::TopicFilter) -> (Option<&str>, &str) {
    match filter.share() {
        Some((group, pattern)) => (Some(group), pattern),
        None => (None, filter.as_str()),
    }
}

impl<K: PartialEq, V> TopicTree<K, V> {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of subscriptions (direct ones plus shared-group members).
    pub fn len(&self) -> usize {
        self.subscriptions
    }

    /// True when there are no subscriptions.
    pub fn is_empty(&self) -> bool {
        self.subscriptions == 0
    }

    /// Nodes in use, the root included.
    pub fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    fn node(&self, idx: NodeIdx) -> Option<&Node<K, V>> {
        self.nodes.get(idx as usize).and_then(Option::as_ref)
    }

    fn node_mut(&mut self, idx: NodeIdx) -> Option<&mut Node<K, V>> {
        self.nodes.get_mut(idx as usize).and_then(Option::as_mut)
    }

    fn alloc(&mut self, parent: NodeIdx, level: &str) -> NodeIdx {
        let node = Node::new(Some((parent, level.into())));
        match self.free.pop() {
            Some(idx) => {
                if let Some(slot) = self.nodes.get_mut(idx as usize) {
                    *slot = Some(node);
                }
                idx
            }
            None => {
                self.nodes.push(Some(node));
                NodeIdx::try_from(self.nodes.len() - 1).unwrap_or(NodeIdx::MAX)
            }
        }
    }

    /// The child of `parent` for `level`, created if missing.
    fn child_or_insert(&mut self, parent: NodeIdx, level: &str) -> NodeIdx {
        let existing = self.node(parent).and_then(|n| match level {
            "+" => n.plus,
            "#" => n.hash,
            _ => n.children.get(level).copied(),
        });
        if let Some(idx) = existing {
            return idx;
        }
        let idx = self.alloc(parent, level);
        if let Some(n) = self.node_mut(parent) {
            match level {
                "+" => n.plus = Some(idx),
                "#" => n.hash = Some(idx),
                _ => {
                    n.children.insert(level.into(), idx);
                }
            }
        }
        idx
    }

    fn find(&self, pattern: &str) -> Option<NodeIdx> {
        let mut idx = ROOT;
        for level in pattern.split('/') {
            let n = self.node(idx)?;
            idx = match level {
                "+" => n.plus?,
                "#" => n.hash?,
                _ => *n.children.get(level)?,
            };
        }
        Some(idx)
    }

    /// Subscribe `key` to `filter` with `value`. A key already subscribed to the same filter
    /// (and share group) has its value replaced, and the old value is returned (MQTT-3.8.4-3).
    pub fn insert(&mut self, filter: &brokkr_codec::TopicFilter, key: K, value: V) -> Option<V> {
        let (group, pattern) = split_share(filter);
        let mut idx = ROOT;
        for level in pattern.split('/') {
            idx = self.child_or_insert(idx, level);
        }
        let node = self.node_mut(idx)?;
        let list = match group {
            None => &mut node.direct,
            Some(name) => {
                let pos = match node.shared.iter().position(|g| &*g.name == name) {
                    Some(pos) => pos,
                    None => {
                        node.shared.push(SharedGroup {
                            name: name.into(),
                            members: Vec::new(),
                            cursor: Cursor::default(),
                        });
                        node.shared.len() - 1
                    }
                };
                &mut node.shared.get_mut(pos)?.members
            }
        };
        if let Some(entry) = list.iter_mut().find(|(k, _)| *k == key) {
            return Some(std::mem::replace(&mut entry.1, value));
        }
        list.push((key, value));
        self.subscriptions += 1;
        None
    }

    /// Remove `key`'s subscription to `filter`; returns its value, or `None` if there was none.
    pub fn remove(&mut self, filter: &brokkr_codec::TopicFilter, key: &K) -> Option<V> {
        let (group, pattern) = split_share(filter);
        let idx = self.find(pattern)?;
        let node = self.node_mut(idx)?;
        let removed = match group {
            None => {
                let pos = node.direct.iter().position(|(k, _)| k == key)?;
                node.direct.remove(pos).1
            }
            Some(name) => {
                let gpos = node.shared.iter().position(|g| &*g.name == name)?;
                let members = &mut node.shared.get_mut(gpos)?.members;
                let pos = members.iter().position(|(k, _)| k == key)?;
                let value = members.remove(pos).1;
                if members.is_empty() {
                    node.shared.remove(gpos);
                }
                value
            }
        };
        self.subscriptions -= 1;
        self.prune(idx);
        Some(removed)
    }

    /// Free `idx` and its ancestors while they hold nothing.
    fn prune(&mut self, mut idx: NodeIdx) {
        while idx != ROOT {
            let Some(node) = self.node(idx) else { return };
            if !node.is_unused() {
                return;
            }
            let Some((parent, level)) = self
                .nodes
                .get_mut(idx as usize)
                .and_then(Option::take)
                .and_then(|n| n.parent)
            else {
                return;
            };
            self.free.push(idx);
            if let Some(p) = self.node_mut(parent) {
                match &*level {
                    "+" => p.plus = None,
                    "#" => p.hash = None,
                    _ => {
                        p.children.remove(&level);
                    }
                }
            }
            idx = parent;
        }
    }

    /// Call `f` for every subscription whose filter matches `topic` (a valid topic name):
    /// exact levels, `+` for one level, `#` for the rest (including none: `a/#` matches `a`), and
    /// no leading wildcard for a topic that starts with `$` (MQTT-4.7.2-1).
    pub fn for_each_match<'a>(
        &'a self,
        topic: &str,
        scratch: &mut MatchScratch,
        mut f: impl FnMut(Match<'a, K, V>),
    ) {
        let dollar = topic.starts_with('$');
        let end = topic.len() + 1; // a level offset past the end: every level consumed
        let stack = &mut scratch.stack;
        stack.clear();
        stack.push((ROOT, 0));
        while let Some((idx, start)) = stack.pop() {
            let Some(node) = self.node(idx) else { continue };
            let wildcards_allowed = !(dollar && idx == ROOT);
            if wildcards_allowed && let Some(hash) = node.hash.and_then(|h| self.node(h)) {
                report(hash, &mut f);
            }
            if start >= end {
                report(node, &mut f);
                continue;
            }
            let rest = topic.get(start..).unwrap_or_default();
            // A byte search: `str::find` with a char pattern costs ~100 instructions of set-up.
            let (level, next) = match rest.as_bytes().iter().position(|&b| b == b'/') {
                Some(i) => (rest.get(..i).unwrap_or_default(), start + i + 1),
                None => (rest, end),
            };
            if wildcards_allowed && let Some(plus) = node.plus {
                stack.push((plus, next));
            }
            if let Some(&child) = node.children.get(level) {
                stack.push((child, next));
            }
        }
    }
}

fn report<'a, K, V>(node: &'a Node<K, V>, f: &mut impl FnMut(Match<'a, K, V>)) {
    for (k, v) in &node.direct {
        f(Match::Direct(k, v));
    }
    for group in &node.shared {
        f(Match::Shared(group));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brokkr_codec::TopicFilter;

    fn filter(s: &str) -> TopicFilter {
        TopicFilter::new(s).unwrap()
    }

    fn matching(tree: &TopicTree<u32, &'static str>, topic: &str) -> Vec<String> {
        let mut out = Vec::new();
        tree.for_each_match(topic, &mut MatchScratch::default(), |m| match m {
            Match::Direct(k, v) => out.push(format!("{k}:{v}")),
            Match::Shared(g) => out.push(format!("share {} x{}", g.name, g.members.len())),
        });
        out.sort();
        out
    }

    #[test]
    // FlashMQ: testTopicMatchingInSubscriptionTree
    fn matches_as_the_spec_says() {
        let mut t = TopicTree::new();
        for (k, f) in [
            (1, "a/b"),
            (2, "a/+"),
            (3, "a/#"),
            (4, "#"),
            (5, "+/b"),
            (6, "$SYS/#"),
        ] {
            t.insert(&filter(f), k, f);
        }
        assert_eq!(
            matching(&t, "a/b"),
            ["1:a/b", "2:a/+", "3:a/#", "4:#", "5:+/b"]
        );
        assert_eq!(matching(&t, "a"), ["3:a/#", "4:#"]);
        assert_eq!(matching(&t, "a/"), ["2:a/+", "3:a/#", "4:#"]);
        assert_eq!(matching(&t, "$SYS/x"), ["6:$SYS/#"]);
        assert_eq!(matching(&t, "b"), ["4:#"]);
    }

    #[test]
    fn mqtt_3_8_4_3_same_filter_replaces() {
        let mut t = TopicTree::new();
        assert_eq!(t.insert(&filter("a"), 1, "first"), None);
        assert_eq!(t.insert(&filter("a"), 1, "second"), Some("first"));
        assert_eq!(t.len(), 1);
        assert_eq!(matching(&t, "a"), ["1:second"]);
    }

    #[test]
    fn shared_groups_are_reported_once_per_group() {
        let mut t = TopicTree::new();
        t.insert(&filter("$share/g/a/+"), 1, "x");
        t.insert(&filter("$share/g/a/+"), 2, "y");
        t.insert(&filter("$share/h/a/+"), 3, "z");
        t.insert(&filter("a/+"), 1, "plain");
        assert_eq!(matching(&t, "a/b"), ["1:plain", "share g x2", "share h x1"]);
        assert_eq!(t.remove(&filter("$share/g/a/+"), &1), Some("x"));
        assert_eq!(matching(&t, "a/b"), ["1:plain", "share g x1", "share h x1"]);
    }

    #[test]
    fn removal_frees_nodes() {
        let mut t = TopicTree::new();
        t.insert(&filter("a/b/c/d"), 1, "x");
        t.insert(&filter("a/+/#"), 2, "y");
        assert!(t.node_count() > 4);
        assert_eq!(t.remove(&filter("a/b/c/d"), &1), Some("x"));
        assert_eq!(t.remove(&filter("a/b/c/d"), &1), None);
        assert_eq!(t.remove(&filter("a/+/#"), &2), Some("y"));
        assert_eq!(t.node_count(), 1);
        assert!(t.is_empty());
    }
}
