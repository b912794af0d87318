//! Fuzz entry points for the core, each checked against a naive reference model.
//! The oracles panic on purpose: a panic is the crash a fuzzer reports.
#![allow(clippy::panic, clippy::indexing_slicing, clippy::unwrap_used)]

use crate::subscriptions::{Match, MatchScratch, TopicTree, naive_matches};
use brokkr_codec::{TopicFilter, TopicName};

const LEVELS: [&str; 6] = ["a", "b", "", "$SYS", "c", "x"];

fn build(bytes: &[u8], wildcards: bool) -> String {
    let mut levels = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        let last = i + 1 == bytes.len();
        let level = match b % 9 {
            6 if wildcards => "+",
            7 if wildcards && last => "#",
            n => LEVELS[usize::from(n) % LEVELS.len()],
        };
        levels.push(level);
    }
    levels.join("/")
}

/// Interpret `data` as a sequence of subscribe, unsubscribe and match operations on a
/// [`TopicTree`] and on a plain list; every match must report exactly what the list says.
pub fn subscription_ops(data: &[u8]) {
    let mut tree: TopicTree<u8, u16> = TopicTree::new();
    let mut model: Vec<(String, u8, u16)> = Vec::new();
    let mut scratch = MatchScratch::default();
    let ops = data.chunks(6);
    let mut counter: u16 = 0;
    for op in ops {
        let (&kind, rest) = op.split_first().unwrap_or((&0, &[]));
        let key = rest.first().copied().unwrap_or(0) % 4;
        let shape = rest.get(1..).unwrap_or_default();
        counter = counter.wrapping_add(1);
        match kind % 3 {
            0 | 1 => {
                let mut text = build(shape, true);
                if text.is_empty() {
                    text.push('a');
                }
                if kind & 0x10 != 0 {
                    text = format!("$share/g{}/{text}", kind >> 6);
                }
                let Ok(filter) = TopicFilter::new(&text) else {
                    continue;
                };
                if kind % 3 == 0 {
                    let old = tree.insert(&filter, key, counter);
                    let pos = model.iter().position(|(f, k, _)| *f == text && *k == key);
                    let model_old = match pos {
                        Some(p) => Some(std::mem::replace(&mut model[p].2, counter)),
                        None => {
                            model.push((text, key, counter));
                            None
                        }
                    };
                    assert_eq!(old, model_old, "insert result");
                } else {
                    let old = tree.remove(&filter, &key);
                    let pos = model.iter().position(|(f, k, _)| *f == text && *k == key);
                    assert_eq!(old, pos.map(|p| model.remove(p).2), "remove result");
                }
            }
            _ => {
                let text = build(shape, false);
                let Ok(topic) = TopicName::new(&text) else {
                    continue;
                };
                if topic.is_empty() {
                    continue;
                }
                check_match(&tree, &model, topic.as_str(), &mut scratch);
            }
        }
        assert_eq!(tree.len(), model.len(), "subscription count");
    }
    if model.is_empty() {
        assert_eq!(tree.node_count(), 1, "empty tree keeps nodes");
    }
}

fn check_match(
    tree: &TopicTree<u8, u16>,
    model: &[(String, u8, u16)],
    topic: &str,
    s: &mut MatchScratch,
) {
    let mut got: Vec<(u8, u16)> = Vec::new();
    let mut groups = 0;
    tree.for_each_match(topic, s, |m| match m {
        Match::Direct(k, v) => got.push((*k, *v)),
        Match::Shared(g) => {
            groups += 1;
            assert!(!g.members.is_empty(), "empty shared group reported");
            got.extend(g.members.iter().map(|(k, v)| (*k, *v)));
        }
    });
    let mut want: Vec<(u8, u16)> = Vec::new();
    let mut want_groups = std::collections::BTreeSet::new();
    for (filter, key, value) in model {
        let (group, pattern) = match filter.strip_prefix("$share/") {
            Some(rest) => {
                let (g, p) = rest.split_once('/').unwrap_or((rest, ""));
                (Some(g), p)
            }
            None => (None, filter.as_str()),
        };
        if naive_matches(pattern, topic) {
            want.push((*key, *value));
            if let Some(g) = group {
                want_groups.insert((g, pattern));
            }
        }
    }
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "matches for {topic}");
    assert_eq!(groups, want_groups.len(), "shared groups for {topic}");
}

/// A walk in progress and what the model knew when it started.
struct OpenWalk {
    walk: crate::retained::RetainedWalk,
    pattern: String,
    start: std::collections::BTreeMap<String, u32>,
    seen: std::collections::BTreeSet<String>,
}

/// Interpret `data` as set/remove operations on a [`crate::retained::RetainedStore`] interleaved with chunks of
/// one retained walk. Checked: each visited message matches the filter and is retained at that
/// moment; no topic is visited twice; every topic that matched and stayed unchanged for the
/// whole walk is visited; store size agrees with a plain map.
pub fn retained_ops(data: &[u8]) {
    use crate::retained::{RetainedStore, RetainedWalk, WalkProgress};
    use std::collections::{BTreeMap, BTreeSet};

    let mut store: RetainedStore<String> = RetainedStore::new();
    let mut model: BTreeMap<String, u32> = BTreeMap::new(); // topic -> version
    let mut walk: Option<OpenWalk> = None;
    let mut version = 0u32;
    // The node creation limit's counts, at a depth chosen by the first byte (or off).
    let depth = data
        .first()
        .map(|b| b % 4)
        .filter(|&d| d < 3)
        .map(u16::from);
    store.count_nodes_below(depth);
    for op in data.chunks(5) {
        let (&kind, rest) = op.split_first().unwrap_or((&0, &[]));
        version += 1;
        match kind % 4 {
            0 | 1 => {
                let text = build(rest, false);
                let Ok(topic) = TopicName::new(&text) else {
                    continue;
                };
                if topic.is_empty() {
                    continue;
                }
                if kind % 4 == 0 {
                    if let Some(d) = depth {
                        let nodes_max = u32::from(rest.first().copied().unwrap_or(0) % 6);
                        let (count, created) = naive_quota(&model, &text, usize::from(d));
                        let exceeds = created > 0 && count + created > nodes_max as usize;
                        let exempt = text.starts_with('$');
                        assert_eq!(store.would_exceed(&topic, nodes_max), exceeds && !exempt);
                    }
                    store.set(&topic, text.clone());
                    model.insert(text.clone(), version);
                    check_quota(&store, &model, &topic, depth);
                } else {
                    assert_eq!(
                        store.remove(&topic).is_some(),
                        model.remove(&text).is_some()
                    );
                    check_quota(&store, &model, &topic, depth);
                }
            }
            2 => {
                let mut pattern = build(rest, true);
                if pattern.is_empty() {
                    pattern.push('#');
                }
                if TopicFilter::new(&pattern).is_err() {
                    continue;
                }
                let start = model.clone();
                walk = Some(OpenWalk {
                    walk: RetainedWalk::new(&pattern),
                    pattern,
                    start,
                    seen: BTreeSet::new(),
                });
            }
            _ => {
                let Some(OpenWalk {
                    walk: w,
                    pattern,
                    start,
                    seen,
                }) = walk.as_mut()
                else {
                    continue;
                };
                let budget = usize::from(rest.first().copied().unwrap_or(1) % 8);
                let progress = store.walk(w, budget, |m| {
                    assert!(naive_matches(pattern, m), "{m} visited for {pattern}");
                    assert!(model.contains_key(m), "{m} visited but not retained");
                    assert!(seen.insert(m.clone()), "{m} visited twice");
                });
                if progress == WalkProgress::Done {
                    for (topic, v) in start.iter() {
                        let stable = model.get(topic) == Some(v);
                        if stable && naive_matches(pattern, topic) {
                            assert!(seen.contains(topic), "{topic} missed by {pattern}");
                        }
                    }
                    walk = None;
                }
            }
        }
        assert_eq!(store.len(), model.len());
    }
    if model.is_empty() {
        assert_eq!(store.node_count(), 1, "empty store keeps nodes");
    }
}

/// With counting on, the count below `topic`'s anchor agrees with [`naive_quota`].
fn check_quota(
    store: &crate::retained::RetainedStore<String>,
    model: &std::collections::BTreeMap<String, u32>,
    topic: &TopicName,
    depth: Option<u16>,
) {
    let Some(d) = depth.map(usize::from) else {
        return;
    };
    if topic.as_str().starts_with('$') {
        return;
    }
    let (count, _) = naive_quota(model, topic.as_str(), d);
    let levels = topic.levels().count();
    let got = store.nodes_below_anchor(topic);
    // The anchor exists while a retained topic still passes through it.
    let anchor: Vec<&str> = topic.as_str().split('/').take(d).collect();
    let anchor_exists = levels >= d
        && model.keys().any(|t| {
            let theirs: Vec<&str> = t.split('/').take(d).collect();
            theirs == anchor
        });
    let anchor_exists = anchor_exists || (d == 0);
    let want = anchor_exists.then(|| u32::try_from(count).unwrap_or(u32::MAX));
    assert_eq!(got, want, "nodes below the anchor of {topic:?}");
}

/// The nodes below `topic`'s anchor at `depth` (distinct topic prefixes longer than `depth`
/// under it, `$` topics aside) and how many more retaining on `topic` would create.
fn naive_quota(
    model: &std::collections::BTreeMap<String, u32>,
    topic: &str,
    depth: usize,
) -> (usize, usize) {
    let prefixes = |t: &str| -> Vec<String> {
        let levels: Vec<&str> = t.split('/').collect();
        (1..=levels.len())
            .map(|n| levels.get(..n).unwrap_or_default().join("/"))
            .collect()
    };
    let mine = prefixes(topic);
    let Some(anchor) = (depth > 0).then(|| mine.get(depth - 1)).flatten() else {
        if depth > 0 {
            return (0, 0); // shallower than the depth: nothing counted
        }
        // depth 0: the whole tree.
        let all: std::collections::BTreeSet<String> = model
            .keys()
            .filter(|t| !t.starts_with('$'))
            .flat_map(|t| prefixes(t))
            .collect();
        let created = mine.iter().filter(|p| !all.contains(*p)).count();
        return (all.len(), created);
    };
    let below: std::collections::BTreeSet<String> = model
        .keys()
        .filter(|t| !t.starts_with('$'))
        .flat_map(|t| prefixes(t))
        .filter(|p| p.len() > anchor.len() && p.starts_with(&format!("{anchor}/")))
        .collect();
    let created = mine
        .iter()
        .skip(depth)
        .filter(|p| !below.contains(*p))
        .count();
    (below.len(), created)
}

/// A test message for [`outbound_ops`]: sequence number, QoS, weight.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seq(u32, brokkr_codec::QoS, usize);

impl crate::session::Queued for Seq {
    fn qos(&self) -> brokkr_codec::QoS {
        self.1
    }
    fn weight_bytes(&self) -> usize {
        self.2
    }
}

/// Interpret `data` as offers, sends, acknowledgements and reconnects on a session's outbound
/// state. Checked: the window and the caps hold; messages are sent in the order they were
/// accepted, none twice (resends on reconnect aside) and none lost; identifiers in flight are
/// distinct; acknowledgements that do not fit are refused without changing anything.
pub fn outbound_ops(data: &[u8]) {
    use crate::session::{Outbound, Resend};
    use brokkr_codec::{PacketId, QoS};
    let quota = data.first().map_or(3, |b| u16::from(*b % 6));
    let mut o: Outbound<Seq> = Outbound::new(quota, 8, 200);
    let mut accepted: std::collections::VecDeque<u32> = Default::default();
    let mut in_flight: Vec<(PacketId, u32, QoS, bool)> = Vec::new(); // (id, seq, qos, pubrec'd)
    let mut next_seq = 0u32;
    for pair in data.get(1..).unwrap_or_default().chunks(2) {
        let (&op, arg) = pair.split_first().unwrap_or((&0, &[]));
        let arg = arg.first().copied().unwrap_or(0);
        match op % 6 {
            0 | 1 => {
                let qos = if op & 0x10 != 0 {
                    QoS::ExactlyOnce
                } else {
                    QoS::AtLeastOnce
                };
                let m = Seq(next_seq, qos, usize::from(arg % 64));
                next_seq += 1;
                if o.offer(m).is_ok() {
                    accepted.push_back(next_seq - 1);
                }
            }
            2 => {
                if let Some((id, m)) = o.next_to_send() {
                    assert_eq!(Some(m.0), accepted.pop_front(), "sent out of order");
                    assert!(
                        in_flight.iter().all(|f| f.0 != id),
                        "identifier reused in flight"
                    );
                    in_flight.push((id, m.0, m.1, false));
                }
            }
            3 | 4 => {
                if in_flight.is_empty() {
                    continue;
                }
                let i = usize::from(arg) % in_flight.len();
                let (id, _, qos, recd) = in_flight[i];
                match (qos, recd, op % 6) {
                    (QoS::AtLeastOnce, _, 3) => {
                        o.puback(id).unwrap();
                        in_flight.remove(i);
                    }
                    (QoS::ExactlyOnce, false, 3) => {
                        assert!(o.puback(id).is_err());
                        o.pubrec(id, true).unwrap();
                        in_flight[i].3 = true;
                    }
                    (QoS::ExactlyOnce, true, _) => {
                        o.pubcomp(id).unwrap();
                        in_flight.remove(i);
                    }
                    _ => assert!(o.pubcomp(id).is_err()),
                }
            }
            _ => {
                let resent = o.resume(quota);
                assert_eq!(resent.len(), in_flight.len());
                for (r, f) in resent.iter().zip(&in_flight) {
                    match r {
                        Resend::Publish(id, m) => assert!(*id == f.0 && m.0 == f.1 && !f.3),
                        Resend::PubRel(id) => assert!(*id == f.0 && f.3),
                    }
                }
            }
        }
        assert!(o.in_flight() <= usize::from(quota), "window exceeded");
        assert!(o.in_flight() + o.queued() <= 8, "message cap exceeded");
        assert_eq!(o.in_flight(), in_flight.len());
        assert_eq!(o.queued(), accepted.len());
    }
}
