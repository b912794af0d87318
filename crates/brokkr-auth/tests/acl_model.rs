//! Property test: the compiled ACL tree agrees with the naive rule-by-rule evaluator
//! (`brokkr_auth::fuzzing::naive_check`) on random ACL files over a small alphabet of levels,
//! including wildcards, placeholders and identities whose names contain `+`, `#` and `/`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use brokkr_auth::Limits;
use brokkr_auth::acl::{Access, Acl, ClientIdentity, parse_rules};
use brokkr_auth::fuzzing::naive_check;
use proptest::prelude::*;

const LEVELS: &[&str] = &[
    "a", "b", "u", "c", "", "+", "%u", "%c", "x%u", "%u%c", "$SYS",
];
const TOPIC_LEVELS: &[&str] = &["a", "b", "u", "c", "", "xu", "uc", "$SYS", "+", "#"];
const SCOPES: &[&str] = &["", "user u", "user v", "user +", "pattern"];
const GRANTS: &[&str] = &["", "read ", "write ", "readwrite ", "deny "];

fn filter() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(LEVELS), 1..4),
        any::<bool>(),
    )
        .prop_map(|(mut levels, pound)| {
            if pound {
                levels.push("#");
            }
            let f = levels.join("/");
            // A filter that is one empty level is an empty line remainder: not a filter.
            if f.is_empty() { "a".to_owned() } else { f }
        })
}

fn acl_text() -> impl Strategy<Value = String> {
    let line = (
        prop::sample::select(SCOPES),
        prop::sample::select(GRANTS),
        filter(),
    );
    prop::collection::vec(line, 0..12).prop_map(|lines| {
        let mut text = String::new();
        for (scope, grant, filter) in lines {
            match scope {
                "pattern" => text.push_str(&format!("pattern {grant}{filter}\n")),
                "" => text.push_str(&format!("topic {grant}{filter}\n")),
                user => text.push_str(&format!("{user}\ntopic {grant}{filter}\n")),
            }
        }
        text
    })
}

fn topic() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOPIC_LEVELS), 1..5).prop_map(|l| l.join("/"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn tree_agrees_with_naive_evaluator(text in acl_text(), topics in prop::collection::vec(topic(), 1..8)) {
        let rules = parse_rules(&text, &Limits::DEFAULT).unwrap();
        let acl = Acl::from_rules(&rules);
        for username in [None, Some("u"), Some("v"), Some("+"), Some("#"), Some("u/c")] {
            for client_id in ["c", "+", "a/b"] {
                let who = ClientIdentity { username, client_id };
                for topic in &topics {
                    for access in [Access::Read, Access::Write] {
                        prop_assert_eq!(
                            acl.check_str(&who, topic, access),
                            naive_check(&rules, &who, topic, access),
                            "{:?} {} {:?}\n{}", who, topic, access, text
                        );
                    }
                }
            }
        }
    }
}
