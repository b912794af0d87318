//! Entry points for the cargo-fuzz targets `passwd_file` and `acl_file` (each target is one line
//! over these), with their oracles, so `cargo test` can replay saved inputs through the same code.
//!
//! - `passwd_file`: parse arbitrary text with tiny cost caps, verify a fixed password against
//!   every parsed entry, check that every entry's text form parses back to the same hash, and that
//!   `set_user`/`delete_user` on the same text leave a file in which the user is (not) found.
//! - `acl_file`: parse arbitrary text; if it parses, check topics derived from its own filters for
//!   several identities (including wildcard-laden ones) and compare every verdict with
//!   [`naive_check`], a direct transcription of the semantics in [`crate::acl`].

use crate::acl::{Access, Acl, AclDecision, ClientIdentity, Grant, Rule, Scope, parse_rules};
use crate::limits::Limits;
use crate::passwd::{PasswordDb, PasswordHash, SALT_BYTES, delete_user, set_user};

/// The `passwd_file` fuzz target.
pub fn passwd_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let limits = Limits::FUZZ;
    let (db, warnings) = PasswordDb::parse(&text, &limits);
    let lines = text.lines().count();
    assert!(db.len() <= limits.users_max);
    assert!(warnings.iter().all(|w| w.line >= 1 && w.line <= lines));
    for (user, hash) in db.iter() {
        let _ = db.verify(user, b"password");
        assert_eq!(
            PasswordHash::parse(&hash.encode(), &limits).as_ref(),
            Ok(hash)
        );
    }
    let new = PasswordHash::new_pbkdf2(b"fuzz", [9; SALT_BYTES], 1).encode();
    if let Ok(edited) = set_user(&text, "fuzzuser", &new) {
        let (db, _) = PasswordDb::parse(&edited, &limits);
        assert!(db.verify("fuzzuser", b"fuzz").is_ok());
        if let Ok(deleted) = delete_user(&edited, "fuzzuser") {
            assert!(!PasswordDb::parse(&deleted, &limits).0.contains("fuzzuser"));
        }
    }
}

/// The `acl_file` fuzz target.
pub fn acl_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(rules) = parse_rules(&text, &Limits::DEFAULT) else {
        return;
    };
    let acl = Acl::from_rules(&rules);
    let mut topics: Vec<String> = ["a", "a/b", "u", "$SYS/x", "/"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    topics.extend(rules.iter().take(16).flat_map(|r| topics_for(&r.filter)));
    let mut users: Vec<Option<&str>> =
        vec![None, Some("u"), Some("+"), Some("#"), Some("a/b"), Some("")];
    users.extend(rules.iter().take(4).filter_map(|r| match &r.scope {
        Scope::User(name) => Some(Some(&**name)),
        _ => None,
    }));
    for username in users {
        for client_id in ["c", "#", "%u"] {
            let who = ClientIdentity {
                username,
                client_id,
            };
            for topic in &topics {
                for access in [Access::Read, Access::Write] {
                    let fast = acl.check_str(&who, topic, access);
                    let slow = naive_check(&rules, &who, topic, access);
                    assert_eq!(fast, slow, "{who:?} {topic:?} {access:?}");
                }
            }
        }
    }
}

/// Topics a filter should match: wildcards and placeholders replaced by plausible values.
fn topics_for(filter: &str) -> Vec<String> {
    let concrete = |pound: &str| {
        filter
            .split('/')
            .map(|l| match l {
                "+" => "x".to_owned(),
                "#" => pound.to_owned(),
                _ => l.replace("%u", "u").replace("%c", "c"),
            })
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut out = vec![concrete("y"), concrete("y/z")];
    if let Some(parent) = filter.strip_suffix("/#") {
        out.push(parent.replace('+', "x").replace("%u", "u"));
    }
    out
}

/// The ACL semantics, evaluated rule by rule with no tree: the oracle for [`Acl::check_str`].
pub fn naive_check(
    rules: &[Rule],
    who: &ClientIdentity<'_>,
    topic: &str,
    access: Access,
) -> AclDecision {
    let (mut read, mut write, mut deny) = (false, false, false);
    for rule in rules {
        let applies = match &rule.scope {
            Scope::Anonymous => who.username.is_none(),
            Scope::User(name) => who.username == Some(&**name),
            Scope::Pattern => true,
        };
        if !applies || !naive_matches(&rule.filter, rule.scope == Scope::Pattern, who, topic) {
            continue;
        }
        match rule.grant {
            Grant::Read => read = true,
            Grant::Write => write = true,
            Grant::ReadWrite => (read, write) = (true, true),
            Grant::Deny => deny = true,
        }
    }
    let granted = match access {
        Access::Read => read,
        Access::Write => write,
    };
    if granted && !deny {
        AclDecision::Allowed
    } else {
        AclDecision::Denied
    }
}

fn naive_matches(filter: &str, pattern: bool, who: &ClientIdentity<'_>, topic: &str) -> bool {
    let topic: Vec<&str> = topic.split('/').collect();
    let filter: Vec<&str> = filter.split('/').collect();
    for (i, f) in filter.iter().enumerate() {
        if *f == "#" {
            return true;
        }
        let Some(t) = topic.get(i) else {
            return false;
        };
        let ok = if *f == "+" {
            true
        } else if pattern {
            substitute(f, who).is_some_and(|s| s == *t)
        } else {
            f == t
        };
        if !ok {
            return false;
        }
    }
    filter.len() == topic.len()
}

/// One left-to-right pass replacing `%u` and `%c`; `None` if a value may not be substituted.
fn substitute(level: &str, who: &ClientIdentity<'_>) -> Option<String> {
    let safe = |v: &str| !v.is_empty() && !v.contains(['/', '+', '#']);
    let mut out = String::new();
    let mut chars = level.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('%', Some('u')) => {
                chars.next();
                out.push_str(who.username.filter(|u| safe(u))?);
            }
            ('%', Some('c')) => {
                chars.next();
                out.push_str(Some(who.client_id).filter(|c| safe(c))?);
            }
            _ => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_run_on_samples() {
        passwd_file(b"");
        passwd_file(b"a:$7$101$txgxIZk+SJ2hCHX1$kuq5gTzgPqNjyJaVv44jZS4rYDw1Qb9ExCAClqwhHBgS6NcN0VO8D2AmnfFDi0OzoB8MuhnDLM1RJdCIWnL1CQ==\nfuzzuser:x\n");
        passwd_file(b"a:$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
        acl_file(b"");
        acl_file(b"topic read a/#\npattern write +/%u/%c\nuser u\ntopic deny a/b\ntopic #\npattern deny %c/#\n");
        acl_file(b"pattern readwrite x%u%c/+/#\nuser +\ntopic read +/+\n");
    }
}
