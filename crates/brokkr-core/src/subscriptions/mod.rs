//! Subscriptions: the topic tree that maps topic filters to subscribers and finds, for a topic
//! name, every subscription that matches it.
//!
//! The tree is generic over the subscriber key (a session) and value (its options), so the same
//! structure serves normal and shared subscriptions, and the retained-message walk later. It
//! never recurses: matching uses an explicit, reusable stack, so topic depth cannot grow the
//! call stack, and matching allocates nothing once the stack has grown to its working size.

mod tree;

pub use tree::{Match, MatchScratch, SharedGroup, TopicTree};

/// The MQTT matching rules written as plainly as possible, for tests and fuzz oracles: does
/// `pattern` (a filter without any `$share/group/` prefix) match `topic`?
pub fn naive_matches(pattern: &str, topic: &str) -> bool {
    let filter: Vec<&str> = pattern.split('/').collect();
    let levels: Vec<&str> = topic.split('/').collect();
    // MQTT-4.7.2-1: a leading wildcard does not match a topic that starts with '$'.
    if topic.starts_with('$') && matches!(filter.first(), Some(&"+") | Some(&"#")) {
        return false;
    }
    let mut i = 0;
    loop {
        match (filter.get(i), levels.get(i)) {
            (Some(&"#"), _) => return true,
            (Some(&"+"), Some(_)) => {}
            (Some(f), Some(t)) if f == t => {}
            (None, None) => return true,
            _ => return false,
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::naive_matches;

    #[test]
    fn naive_rules() {
        let cases = [
            ("a/b", "a/b", true),
            ("a/+", "a/b", true),
            ("a/+", "a", false),
            ("a/+", "a/", true),
            ("a/#", "a", true),
            ("a/#", "a/b/c", true),
            ("#", "a/b", true),
            ("+/+", "/x", true),
            ("+", "$SYS", false),
            ("#", "$SYS/x", false),
            ("$SYS/#", "$SYS/x", true),
            ("a/b", "a/b/c", false),
            ("+/b", "a/b/c", false),
        ];
        for (f, t, want) in cases {
            assert_eq!(naive_matches(f, t), want, "{f} vs {t}");
        }
    }
}
