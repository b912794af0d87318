//! The ACL file's text into a list of [`Rule`]s, in file order, with FlashMQ's scoping: `topic`
//! lines before any `user` line belong to anonymous clients, `topic` lines after `user NAME` to
//! NAME, and `pattern` lines (with `%u` and `%c`) to every client wherever they appear.
//!
//! Syntax, as Mosquitto's: `user <name>`, `topic [read|write|readwrite|deny] <filter>`,
//! `pattern [read|write|readwrite|deny] <filter>`; the access word is optional (readwrite) and
//! case-insensitive; the filter is the rest of the line and may contain spaces. Blank lines and
//! lines whose first non-blank character is `#` are ignored. Any other line, or an invalid filter,
//! rejects the whole file with its line number: the caller keeps the ACL it had.

use super::{AclError, AclErrorKind, Grant};
use crate::limits::Limits;

/// Whom a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A `topic` line before any `user` line: clients without a username.
    Anonymous,
    /// A `topic` line after `user NAME`.
    User(Box<str>),
    /// A `pattern` line: every client, with `%u` and `%c` substituted.
    Pattern,
}

/// One `topic` or `pattern` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// 1-based line number.
    pub line: usize,
    /// Whom it applies to.
    pub scope: Scope,
    /// What it grants (or denies).
    pub grant: Grant,
    /// The filter, validated: `+` and `#` only as whole levels, `#` only last.
    pub filter: Box<str>,
}

/// Parse the whole file, or fail on its first bad line.
pub fn parse_rules(text: &str, limits: &Limits) -> Result<Vec<Rule>, AclError> {
    let mut rules = Vec::new();
    let mut user: Option<Box<str>> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = index.saturating_add(1);
        let err = |kind| AclError { line, kind };
        if raw.len() > limits.line_bytes_max {
            return Err(err(AclErrorKind::LineTooLong));
        }
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let (keyword, rest) = split_word(content);
        let scope = match keyword {
            "user" => {
                if rest.is_empty() {
                    return Err(err(AclErrorKind::MissingUsername));
                }
                user = Some(rest.into());
                continue;
            }
            "topic" => match &user {
                None => Scope::Anonymous,
                Some(name) => Scope::User(name.clone()),
            },
            "pattern" => Scope::Pattern,
            _ => return Err(err(AclErrorKind::UnknownKeyword)),
        };
        let (grant, filter) = split_grant(rest);
        if filter.is_empty() {
            return Err(err(AclErrorKind::MissingFilter));
        }
        validate_filter(filter, limits).map_err(err)?;
        if rules.len() >= limits.acl_rules_max {
            return Err(err(AclErrorKind::TooManyRules));
        }
        rules.push(Rule {
            line,
            scope,
            grant,
            filter: filter.into(),
        });
    }
    Ok(rules)
}

/// The first whitespace-separated word and the trimmed rest.
fn split_word(s: &str) -> (&str, &str) {
    match s.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim_start()),
        None => (s, ""),
    }
}

/// An optional access word, then the filter. A lone word is a filter with readwrite access.
fn split_grant(rest: &str) -> (Grant, &str) {
    let (word, filter) = split_word(rest);
    if filter.is_empty() {
        return (Grant::ReadWrite, rest);
    }
    let grant = match word.to_ascii_lowercase().as_str() {
        "read" => Grant::Read,
        "write" => Grant::Write,
        "readwrite" => Grant::ReadWrite,
        "deny" => Grant::Deny,
        _ => return (Grant::ReadWrite, rest),
    };
    (grant, filter)
}

fn validate_filter(filter: &str, limits: &Limits) -> Result<(), AclErrorKind> {
    let mut levels = 0usize;
    let mut after_pound = false;
    for level in filter.split('/') {
        if after_pound {
            return Err(AclErrorKind::InvalidFilter);
        }
        levels = levels.saturating_add(1);
        if levels > limits.acl_filter_levels_max {
            return Err(AclErrorKind::FilterTooDeep);
        }
        match level {
            "#" => after_pound = true,
            "+" => {}
            _ if level.contains(['+', '#', '\0']) => return Err(AclErrorKind::InvalidFilter),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<Rule> {
        parse_rules(text, &Limits::DEFAULT).unwrap()
    }

    fn error(text: &str) -> AclError {
        parse_rules(text, &Limits::DEFAULT).unwrap_err()
    }

    #[test]
    fn scopes_follow_flashmq() {
        let r = rules(
            "# c\n\ntopic a\npattern read p/%u\nuser bob\n  topic deny b c\nuser eve smith\ntopic x",
        );
        assert_eq!(r.len(), 4);
        assert_eq!(
            (r[0].line, &r[0].scope, r[0].grant, &*r[0].filter),
            (3, &Scope::Anonymous, Grant::ReadWrite, "a")
        );
        assert_eq!((&r[1].scope, r[1].grant), (&Scope::Pattern, Grant::Read));
        assert_eq!(
            (&r[2].scope, r[2].grant, &*r[2].filter),
            (&Scope::User("bob".into()), Grant::Deny, "b c")
        );
        assert_eq!(r[3].scope, Scope::User("eve smith".into()));
    }

    #[test]
    fn access_word_is_optional_and_case_insensitive() {
        assert_eq!(rules("topic READ a")[0].grant, Grant::Read);
        assert_eq!(rules("topic read")[0].filter.as_ref(), "read");
        assert_eq!(rules("topic readonly a")[0].filter.as_ref(), "readonly a");
    }

    #[test]
    fn one_bad_line_rejects_the_file_with_its_number() {
        assert_eq!(
            error("topic a\nbogus line\n"),
            AclError {
                line: 2,
                kind: AclErrorKind::UnknownKeyword
            }
        );
        assert_eq!(error("user\n").kind, AclErrorKind::MissingUsername);
        assert_eq!(error("topic\n").kind, AclErrorKind::MissingFilter);
        for bad in [
            "topic a/#/b",
            "topic a+",
            "topic a/b#",
            "pattern read x/%u+",
        ] {
            assert_eq!(error(bad).kind, AclErrorKind::InvalidFilter, "{bad}");
        }
        let deep = format!("topic {}", ["a"; 129].join("/"));
        assert_eq!(error(&deep).kind, AclErrorKind::FilterTooDeep);
        let limits = Limits {
            acl_rules_max: 1,
            ..Limits::DEFAULT
        };
        assert_eq!(
            parse_rules("topic a\ntopic b", &limits).unwrap_err().kind,
            AclErrorKind::TooManyRules
        );
    }
}
