//! FlashMQ's ACL tests (FlashMQTests `test_acl_tree`, `test_acl_tree2`,
//! `test_acl_patterns_username`, `test_acl_patterns_clientid`) as ACL files, plus our own.

use super::*;

fn acl(text: &str) -> Acl {
    Acl::parse(text, &Limits::DEFAULT).unwrap()
}

/// `allowed(acl, username ("" = anonymous), client id, topic, access)`.
fn allowed(acl: &Acl, user: &str, client_id: &str, topic: &str, access: Access) -> bool {
    let who = ClientIdentity {
        username: (!user.is_empty()).then_some(user),
        client_id,
    };
    let topic = TopicName::new(topic).unwrap();
    acl.check(&who, &topic, access).is_allowed()
}

use Access::{Read as R, Write as W};

const TREE: &str = "\
topic readwrite one/two/#
topic deny one/two/three
topic read a/+/c
topic readwrite 1/+/3
topic deny 1/blocked/3
topic write cat/+/dog
topic deny cat/blocked/dog
topic deny cat/blocked/dog/bla/bla/#
topic readwrite cat/turtle/dog/%u/bla/#
";

#[test]
fn flashmq_test_acl_tree() {
    let a = acl(&format!(
        "{TREE}user john\ntopic readwrite fish/turtle/dog/%u/bla/#\n\
         user AAA\ntopic readwrite fish/turtle/dog/%u/bla/#\n"
    ));
    let c = "clientid";
    assert!(allowed(&a, "", c, "one/two/four", R));
    assert!(allowed(&a, "", c, "one/two/four/five/six", R));
    assert!(allowed(&a, "", c, "one/two/four/five/six", W));
    assert!(!allowed(&a, "", c, "one/two/three", R));
    assert!(!allowed(&a, "", c, "asdf", R));
    assert!(allowed(&a, "", c, "a/b/c", R));
    assert!(!allowed(&a, "", c, "a/b/c", W));
    assert!(allowed(&a, "", c, "a/wildcardmatch/c", R));
    assert!(allowed(&a, "", c, "1/2/3", R));
    assert!(allowed(&a, "", c, "1/2/3", W));
    assert!(allowed(&a, "", c, "1/wildcardmatch/3", W));
    assert!(allowed(&a, "", c, "1/wildcardmatch/3", R));
    assert!(allowed(&a, "", c, "cat/2/dog", W));
    assert!(!allowed(&a, "", c, "cat/2/dog", R));
    assert!(!allowed(&a, "", c, "cat/blocked/dog", W));
    assert!(!allowed(&a, "", c, "cat/blocked/dog", R));
    // `%u` is not substituted in `topic` lines.
    assert!(allowed(&a, "", c, "cat/turtle/dog/%u/bla/sdf", R));
    assert!(allowed(&a, "john", c, "fish/turtle/dog/%u/bla/sdf", R));
    assert!(!allowed(&a, "john", c, "fish/turtle/dog/john/bla/sdf", R));
    assert!(!allowed(&a, "AAA", c, "fish/turtle/dog/AAA/bla/sdf", R));
}

#[test]
fn flashmq_test_acl_tree2() {
    let a = acl(&format!(
        "{TREE}user Metusalem\ntopic readwrite one/two/three\n"
    ));
    let c = "clientid";
    // A user without user lines gets nothing from the anonymous lines.
    for (topic, access) in [
        ("one/two/four", R),
        ("one/two/four/five/six", R),
        ("one/two/four/five/six", W),
        ("one/two/three", R),
        ("asdf", R),
        ("a/b/c", R),
        ("a/b/c", W),
        ("a/wildcardmatch/c", R),
        ("1/2/3", R),
        ("1/2/3", W),
        ("1/wildcardmatch/3", W),
        ("1/wildcardmatch/3", R),
        ("cat/2/dog", W),
        ("cat/2/dog", R),
        ("cat/blocked/dog", W),
        ("cat/blocked/dog", R),
    ] {
        assert!(!allowed(&a, "a", c, topic, access), "{topic} {access:?}");
    }
    assert!(allowed(&a, "Metusalem", c, "one/two/three", R));
}

#[test]
fn flashmq_test_acl_patterns_username() {
    let a = acl("\
pattern readwrite one/%u/three
pattern read a/%u/c
pattern read d/%u/f/#
topic deny one/Jheronimus/three
pattern readwrite some/thing
user santaclause
topic deny one/santaclause/three
user Rembrandt
topic readwrite some/thing
");
    let c = "clientid";
    // The anonymous deny does not apply to an authenticated user; the pattern grants.
    assert!(allowed(&a, "Jheronimus", c, "one/Jheronimus/three", R));
    // The user's own deny overrides the pattern's grant.
    assert!(!allowed(&a, "santaclause", c, "one/santaclause/three", R));
    for user in ["Jheronimus", "Rembrandt"] {
        assert!(allowed(&a, user, c, &format!("one/{user}/three"), R));
        assert!(!allowed(&a, user, c, "one/Theo/three", R));
        assert!(allowed(&a, user, c, &format!("a/{user}/c"), R));
        assert!(!allowed(&a, user, c, &format!("a/Not{user}/c"), R));
        assert!(!allowed(&a, user, c, &format!("a/{user}/c"), W));
        // Older FlashMQ suites denied `d/<user>/f`; FlashMQ 1.26.2 and Mosquitto grant it, as
        // the MQTT filter `d/%u/f/#` matches `d/<user>/f`.
        assert!(allowed(&a, user, c, &format!("d/{user}/f"), R));
        assert!(allowed(&a, user, c, &format!("d/{user}/f/A"), R));
        assert!(allowed(&a, user, c, &format!("d/{user}/f/A/B"), R));
    }
}

#[test]
fn flashmq_test_acl_patterns_clientid() {
    let a = acl("\
pattern readwrite one/%c/three
pattern read a/%c/c
pattern read d/%c/f/#
");
    let (u, c) = ("foo", "clientid_one");
    assert!(allowed(&a, u, c, "one/clientid_one/three", R));
    assert!(!allowed(&a, u, c, "one/clientid_two/three", R));
    assert!(allowed(&a, u, c, "a/clientid_one/c", R));
    assert!(!allowed(&a, u, c, "a/not_clientidone/c", R));
    assert!(!allowed(&a, u, c, "a/clientid_one/c", W));
    // See flashmq_test_acl_patterns_username: `x/#` grants `x` here.
    assert!(allowed(&a, u, c, "d/clientid_one/f", R));
    assert!(allowed(&a, u, c, "d/clientid_one/f/A", R));
    assert!(allowed(&a, u, c, "d/clientid_one/f/A/B", R));
}

#[test]
fn pound_grants_its_parent_and_root_pound_grants_everything() {
    let a = acl("topic read x/#\ntopic deny y/#\ntopic read y\ntopic write #\n");
    assert!(allowed(&a, "", "c", "x", R));
    assert!(allowed(&a, "", "c", "x/", R));
    assert!(!allowed(&a, "", "c", "xx", R));
    assert!(!allowed(&a, "", "c", "y", R));
    assert!(allowed(&a, "", "c", "anything/at/all", W));
    assert!(allowed(&a, "", "c", "$SYS/broker/uptime", W));
}

#[test]
fn deny_in_a_pattern_wins_over_user_grant() {
    let a = acl("pattern deny secret/#\nuser bob\ntopic readwrite #\n");
    assert!(allowed(&a, "bob", "c", "public", R));
    assert!(!allowed(&a, "bob", "c", "secret/x", R));
    assert!(!allowed(&a, "bob", "c", "secret", W));
}

#[test]
fn wildcard_characters_in_username_or_client_id_grant_nothing() {
    // Mosquitto CVE-2017-7650: a username of "#" or "+" must not turn `%u` into a wildcard.
    let a = acl("pattern readwrite users/%u/#\npattern readwrite dev/%c/in\n");
    for evil in ["#", "+", "a/b", "+/+", ""] {
        for topic in ["users/alice/x", "users/a/b/x", "users/+/x", "users/#"] {
            let who = ClientIdentity {
                username: Some(evil),
                client_id: "c",
            };
            assert!(
                !a.check_str(&who, topic, R).is_allowed(),
                "{evil:?} {topic}"
            );
        }
        for topic in ["dev/x/in", "dev/a/b/in", "dev/+/in", "dev//in"] {
            let who = ClientIdentity {
                username: None,
                client_id: evil,
            };
            assert!(
                !a.check_str(&who, topic, W).is_allowed(),
                "{evil:?} {topic}"
            );
        }
    }
    // The honest user still gets exactly its own subtree.
    assert!(allowed(&a, "alice", "c", "users/alice/x", R));
    assert!(!allowed(&a, "alice", "c", "users/bob/x", R));
}

#[test]
fn anonymous_clients_never_match_username_patterns() {
    let a = acl("pattern readwrite u/%u/x\n");
    assert!(!allowed(&a, "", "c", "u//x", R));
}

#[test]
fn templates_inside_a_level() {
    let a = acl("pattern write sensors/dev-%c/%u_data\n");
    assert!(allowed(&a, "bob", "17", "sensors/dev-17/bob_data", W));
    assert!(!allowed(&a, "bob", "17", "sensors/dev-18/bob_data", W));
    assert!(!allowed(&a, "bob", "17", "sensors/dev-17/bob_data", R));
}

#[test]
fn empty_acl_denies_everything() {
    let a = acl("# nothing\n\n");
    assert_eq!(a.rule_count(), 0);
    assert!(!allowed(&a, "", "c", "a", R));
    assert!(!allowed(&a, "u", "c", "a", W));
}
