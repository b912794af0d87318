//! A resumable walk over the retained messages that match one topic filter.
//!
//! The walk keeps its position as an explicit stack of frames (node, generation, pattern level,
//! last child visited), never a borrow of the store, so the store may change between two calls.
//! A frame whose node was freed (its generation changed) is dropped: that subtree no longer
//! exists. Children are visited in key order and resumed by key, so insertions and deletions
//! elsewhere neither repeat nor skip a message that stayed retained for the whole walk.

use super::store::{NodeIdx, ROOT, RetainedStore};
use crate::short_str::ShortStr as Level;
use std::ops::Bound;

/// Whether a walk has more to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkProgress {
    /// Every matching message was visited.
    Done,
    /// The budget ran out; call [`RetainedStore::walk`] again.
    Paused,
}

#[derive(Debug)]
enum Step {
    Enter,
    Children {
        after: Option<Level>,
        child_level: usize,
    },
}

#[derive(Debug)]
struct Frame {
    node: NodeIdx,
    generation: u32,
    level: usize,
    step: Step,
}

/// The position of one walk over the retained messages matching a filter.
#[derive(Debug)]
pub struct RetainedWalk {
    levels: Vec<Box<str>>,
    stack: Vec<Frame>,
    /// Tree nodes entered so far (`retained_messages_node_limit` counts these).
    entered: usize,
}

impl RetainedWalk {
    /// A walk for `pattern`, a valid topic filter without any `$share/` prefix (shared
    /// subscriptions get no retained messages).
    pub fn new(pattern: &str) -> RetainedWalk {
        RetainedWalk {
            levels: pattern.split('/').map(Box::from).collect(),
            stack: vec![Frame {
                node: ROOT,
                generation: 0,
                level: 0,
                step: Step::Enter,
            }],
            entered: 0,
        }
    }

    /// Tree nodes this walk has entered so far (each at most once).
    pub fn nodes_entered(&self) -> usize {
        self.entered
    }

    /// True once the walk has visited everything.
    pub fn is_done(&self) -> bool {
        self.stack.is_empty()
    }
}

impl<M> RetainedStore<M> {
    /// Continue `walk`, visiting at most `budget_nodes` tree nodes and calling `f` for each
    /// matching message (MQTT-4.7.2-1: a leading wildcard skips topics that start with `$`).
    pub fn walk(
        &self,
        walk: &mut RetainedWalk,
        budget_nodes: usize,
        mut f: impl FnMut(&M),
    ) -> WalkProgress {
        let mut spent = 0;
        while let Some(frame) = walk.stack.pop() {
            if spent >= budget_nodes {
                walk.stack.push(frame);
                return WalkProgress::Paused;
            }
            spent += 1;
            if self.generation(frame.node) != Some(frame.generation) {
                continue; // the node is gone, and with it everything below it
            }
            let Some(node) = self.node(frame.node) else {
                continue;
            };
            match frame.step {
                Step::Enter => {
                    walk.entered += 1;
                    let level = walk.levels.get(frame.level).map(|l| &**l);
                    match level {
                        None => {
                            if let Some(m) = &node.message {
                                f(m);
                            }
                        }
                        Some("#") => {
                            if let Some(m) = &node.message {
                                f(m);
                            }
                            walk.stack.push(Frame {
                                step: Step::Children {
                                    after: None,
                                    child_level: frame.level,
                                },
                                ..frame
                            });
                        }
                        Some("+") => walk.stack.push(Frame {
                            step: Step::Children {
                                after: None,
                                child_level: frame.level + 1,
                            },
                            ..frame
                        }),
                        Some(literal) => {
                            if let Some(&child) = node.children.get(literal.as_bytes()) {
                                self.push_enter(walk, child, frame.level + 1);
                            }
                        }
                    }
                }
                Step::Children { after, child_level } => {
                    let skip_dollar = frame.node == ROOT;
                    let lower = after
                        .as_ref()
                        .map_or(Bound::Unbounded, |l| Bound::Excluded(l.as_bytes()));
                    let next = node
                        .children
                        .range::<[u8], _>((lower, Bound::Unbounded))
                        .find(|(key, _)| !(skip_dollar && key.as_bytes().starts_with(b"$")));
                    if let Some((key, &child)) = next {
                        walk.stack.push(Frame {
                            step: Step::Children {
                                after: Some(key.clone()),
                                child_level,
                            },
                            ..frame
                        });
                        self.push_enter(walk, child, child_level);
                    }
                }
            }
        }
        WalkProgress::Done
    }

    fn push_enter(&self, walk: &mut RetainedWalk, node: NodeIdx, level: usize) {
        if let Some(generation) = self.generation(node) {
            walk.stack.push(Frame {
                node,
                generation,
                level,
                step: Step::Enter,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brokkr_codec::TopicName;

    fn store(topics: &[&str]) -> RetainedStore<String> {
        let mut s = RetainedStore::new();
        for t in topics {
            s.set(&TopicName::new(t).unwrap(), (*t).to_string());
        }
        s
    }

    fn all(s: &RetainedStore<String>, pattern: &str, budget: usize) -> Vec<String> {
        let mut w = RetainedWalk::new(pattern);
        let mut out = Vec::new();
        let mut rounds = 0;
        while s.walk(&mut w, budget, |m| out.push(m.clone())) == WalkProgress::Paused {
            rounds += 1;
            assert!(rounds < 10_000, "walk does not finish");
        }
        assert!(w.is_done());
        out.sort();
        out
    }

    #[test]
    fn filters_select_as_the_spec_says() {
        let s = store(&["a", "a/b", "a/c", "a/b/c", "b", "$SYS/x", "/lead"]);
        assert_eq!(
            all(&s, "#", 100),
            ["/lead", "a", "a/b", "a/b/c", "a/c", "b"]
        );
        assert_eq!(all(&s, "a/#", 100), ["a", "a/b", "a/b/c", "a/c"]);
        assert_eq!(all(&s, "a/+", 100), ["a/b", "a/c"]);
        assert_eq!(all(&s, "+", 100), ["a", "b"]);
        assert_eq!(all(&s, "+/+", 100), ["/lead", "a/b", "a/c"]);
        assert_eq!(all(&s, "$SYS/#", 100), ["$SYS/x"]);
        assert_eq!(all(&s, "a/b", 100), ["a/b"]);
    }

    #[test]
    fn a_budget_of_one_gives_the_same_result() {
        let s = store(&["a", "a/b", "a/c", "a/b/c", "b", "x/y/z"]);
        for pattern in ["#", "a/#", "+/+", "+/b/+", "x/y/z"] {
            assert_eq!(all(&s, pattern, 1), all(&s, pattern, 1_000), "{pattern}");
        }
    }

    #[test]
    fn nodes_entered_counts_each_node_once() {
        let s = store(&["a", "a/b", "a/c", "a/b/c", "b", "x/y/z"]);
        let mut w = RetainedWalk::new("#");
        while s.walk(&mut w, 1, |_| {}) == WalkProgress::Paused {}
        // The root and the 8 nodes under it: a, a/b, a/c, a/b/c, b, x, x/y, x/y/z.
        assert_eq!(w.nodes_entered(), 9);
        let mut w = RetainedWalk::new("a/b");
        while s.walk(&mut w, 1, |_| {}) == WalkProgress::Paused {}
        assert_eq!(w.nodes_entered(), 3, "root, a, a/b");
    }

    #[test]
    fn changes_between_chunks_neither_repeat_nor_lose_stable_messages() {
        let mut s = store(&["a/1", "a/2", "a/3", "a/4"]);
        let mut w = RetainedWalk::new("a/#");
        let mut seen = Vec::new();
        assert_eq!(
            s.walk(&mut w, 3, |m| seen.push(m.clone())),
            WalkProgress::Paused
        );
        s.remove(&TopicName::new("a/1").unwrap());
        s.remove(&TopicName::new("a/2").unwrap());
        s.set(&TopicName::new("a/0").unwrap(), "a/0".into());
        while s.walk(&mut w, 3, |m| seen.push(m.clone())) == WalkProgress::Paused {}
        // a/3 and a/4 stayed retained throughout: each exactly once.
        assert_eq!(seen.iter().filter(|m| *m == "a/3").count(), 1);
        assert_eq!(seen.iter().filter(|m| *m == "a/4").count(), 1);
    }
}
