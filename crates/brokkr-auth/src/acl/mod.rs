//! The Mosquitto-format ACL file with FlashMQ's semantics, compiled for a check per delivered
//! message.
//!
//! Semantics (FlashMQ `acltree.cpp`, checked against its tests `test_acl_tree*` and
//! `test_acl_patterns_*`):
//! - a client without a username is checked against the anonymous `topic` lines (those before any
//!   `user` line); a client with a username against that user's `topic` lines only (there is no
//!   fall-back to the anonymous ones); `pattern` lines apply to every client in addition;
//! - the grants of every matching line are collected; any `deny` wins; otherwise access is
//!   granted if some matching line grants it; no matching line means denied;
//! - `x/#` also grants `x`, as the MQTT filter `x/#` matches `x` (checked against the FlashMQ
//!   1.26.2 binary: `topic readwrite x/#` lets an anonymous client publish to and receive `x`;
//!   older FlashMQ test suites asserted the opposite);
//! - `%u` and `%c` are substituted only in `pattern` lines, and only as text compared with one
//!   topic level (see `tree.rs`); a client without a username never matches `%u`;
//! - subscriptions are not checked: read access is checked per delivered message, which is why
//!   [`Acl::check`] allocates nothing.

mod parse;
mod tree;

pub use parse::{Rule, Scope, parse_rules};

use crate::limits::Limits;
use brokkr_codec::TopicName;
use rustc_hash::FxHashMap;
use std::fmt;
use tree::{Grants, Node};

/// What an ACL line grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// `read`: the client may receive messages on matching topics.
    Read,
    /// `write`: the client may publish on matching topics.
    Write,
    /// `readwrite` (also the default when the access word is omitted).
    ReadWrite,
    /// `deny`: neither, and it overrides every other matching grant.
    Deny,
}

/// The access being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Delivering a message to the client.
    Read,
    /// Accepting a PUBLISH (or a will) from the client.
    Write,
}

/// The ACL's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum AclDecision {
    /// Access granted.
    Allowed,
    /// Access denied (by a `deny` line, or because no line grants it).
    Denied,
}

impl AclDecision {
    /// Whether access is granted.
    pub fn is_allowed(self) -> bool {
        self == AclDecision::Allowed
    }
}

/// Who is asking: the username the client authenticated with (`None` for anonymous clients)
/// and its client id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIdentity<'a> {
    /// `None` for anonymous clients.
    pub username: Option<&'a str>,
    /// The client identifier.
    pub client_id: &'a str,
}

/// Why an ACL file was rejected as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AclError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub kind: AclErrorKind,
}

/// What is wrong with an ACL line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AclErrorKind {
    /// Longer than [`Limits::line_bytes_max`].
    LineTooLong,
    /// Not `user`, `topic`, `pattern`, a comment or blank.
    UnknownKeyword,
    /// `user` without a name.
    MissingUsername,
    /// `topic` or `pattern` without a filter.
    MissingFilter,
    /// `+` or `#` inside a level, `#` not last, or a NUL character.
    InvalidFilter,
    /// More levels than [`Limits::acl_filter_levels_max`].
    FilterTooDeep,
    /// More rules than [`Limits::acl_rules_max`].
    TooManyRules,
}

impl fmt::Display for AclError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            AclErrorKind::LineTooLong => "line too long",
            AclErrorKind::UnknownKeyword => "expected 'user', 'topic' or 'pattern'",
            AclErrorKind::MissingUsername => "'user' needs a username",
            AclErrorKind::MissingFilter => "'topic' and 'pattern' need a topic filter",
            AclErrorKind::InvalidFilter => {
                "invalid topic filter ('+' and '#' must be whole levels, '#' last)"
            }
            AclErrorKind::FilterTooDeep => "topic filter has too many levels",
            AclErrorKind::TooManyRules => "too many rules",
        };
        write!(f, "ACL file line {}: {what}", self.line)
    }
}

impl std::error::Error for AclError {}

/// A compiled ACL file.
#[derive(Debug)]
pub struct Acl {
    anonymous: Node,
    users: FxHashMap<Box<str>, Node>,
    patterns: Node,
    rules: usize,
}

impl Acl {
    /// Parse and compile an ACL file; any bad line rejects it.
    pub fn parse(text: &str, limits: &Limits) -> Result<Acl, AclError> {
        Ok(Acl::from_rules(&parse_rules(text, limits)?))
    }

    /// Compile parsed rules.
    pub fn from_rules(rules: &[Rule]) -> Acl {
        let mut acl = Acl {
            anonymous: Node::default(),
            users: FxHashMap::default(),
            patterns: Node::default(),
            rules: rules.len(),
        };
        for rule in rules {
            match &rule.scope {
                Scope::Anonymous => acl.anonymous.insert(&rule.filter, rule.grant, false),
                Scope::User(name) => acl.users.entry(name.clone()).or_default().insert(
                    &rule.filter,
                    rule.grant,
                    false,
                ),
                Scope::Pattern => acl.patterns.insert(&rule.filter, rule.grant, true),
            }
        }
        acl
    }

    /// Number of `topic` and `pattern` lines.
    pub fn rule_count(&self) -> usize {
        self.rules
    }

    /// May `who` have `access` to `topic`?
    pub fn check(
        &self,
        who: &ClientIdentity<'_>,
        topic: &TopicName,
        access: Access,
    ) -> AclDecision {
        self.check_str(who, topic.as_str(), access)
    }

    /// [`Acl::check`] on a topic given as text. `topic` should be a valid topic name (no `+` or
    /// `#`); if it is not, wildcard characters in it are compared as plain text.
    pub fn check_str(&self, who: &ClientIdentity<'_>, topic: &str, access: Access) -> AclDecision {
        let mut acc = Grants::default();
        let own = match who.username {
            None => Some(&self.anonymous),
            Some(name) => self.users.get(name),
        };
        if let Some(node) = own.filter(|n| !n.is_empty()) {
            node.collect(Some(topic), who, &mut acc);
        }
        if !acc.has(Grants::DENY) && !self.patterns.is_empty() {
            self.patterns.collect(Some(topic), who, &mut acc);
        }
        decide(acc, access)
    }
}

/// Deny wins; otherwise the access bit must be present.
pub(crate) fn decide(acc: Grants, access: Access) -> AclDecision {
    let bit = match access {
        Access::Read => Grants::READ,
        Access::Write => Grants::WRITE,
    };
    if !acc.has(Grants::DENY) && acc.has(bit) {
        AclDecision::Allowed
    } else {
        AclDecision::Denied
    }
}

#[cfg(test)]
mod tests;
