//! The compiled form of an ACL: one tree per scope, one node per filter level, so a check walks
//! only the branches a topic can match, with no allocation.
//!
//! A level of a `pattern` filter that contains `%u` or `%c` becomes a [`Template`]: literal
//! pieces and placeholders compared piece by piece against one topic level. The substituted value
//! is never parsed as a filter, so a username or client id containing `+`, `#` or `/` cannot act
//! as a wildcard or span levels (Mosquitto's CVE-2017-7650 class): such values, and empty ones,
//! simply match nothing. Recursion depth is bounded by the deepest filter in the file
//! ([`crate::Limits::acl_filter_levels_max`]), never by the topic.

use super::{ClientIdentity, Grant};
use rustc_hash::FxHashMap;

/// A set of grants, as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grants(u8);

impl Grants {
    pub const READ: u8 = 1;
    pub const WRITE: u8 = 2;
    pub const DENY: u8 = 4;

    pub fn add(&mut self, grant: Grant) {
        self.0 |= match grant {
            Grant::Read => Self::READ,
            Grant::Write => Self::WRITE,
            Grant::ReadWrite => Self::READ | Self::WRITE,
            Grant::Deny => Self::DENY,
        };
    }

    pub fn union(&mut self, other: Grants) {
        self.0 |= other.0;
    }

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// One piece of a template level.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Box<str>),
    Username,
    ClientId,
}

/// A pattern level with `%u` and/or `%c` in it, such as `%u`, `dev-%c` or `%u_%c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

impl Template {
    /// The template for `level`, or `None` if it has no placeholder.
    pub fn parse(level: &str) -> Option<Template> {
        if !level.contains("%u") && !level.contains("%c") {
            return None;
        }
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = level.chars().peekable();
        while let Some(c) = chars.next() {
            let placeholder = match (c, chars.peek()) {
                ('%', Some('u')) => Some(Piece::Username),
                ('%', Some('c')) => Some(Piece::ClientId),
                _ => None,
            };
            match placeholder {
                Some(p) => {
                    chars.next();
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal).into()));
                    }
                    pieces.push(p);
                }
                None => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal.into()));
        }
        Some(Template(pieces))
    }

    /// Whether one topic level equals this template with `who`'s values substituted.
    pub fn matches(&self, level: &str, who: &ClientIdentity<'_>) -> bool {
        let mut rest = level;
        for piece in &self.0 {
            let value = match piece {
                Piece::Literal(s) => &**s,
                Piece::Username => match who.username {
                    Some(u) if substitutable(u) => u,
                    _ => return false,
                },
                Piece::ClientId if substitutable(who.client_id) => who.client_id,
                Piece::ClientId => return false,
            };
            match rest.strip_prefix(value) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    }
}

/// A value that may stand for a placeholder: non-empty, no separator, no wildcard.
fn substitutable(value: &str) -> bool {
    !value.is_empty() && !value.contains(['/', '+', '#'])
}

/// One level of a compiled ACL.
#[derive(Debug, Default)]
pub struct Node {
    literal: FxHashMap<Box<str>, Node>,
    plus: Option<Box<Node>>,
    templates: Vec<(Template, Node)>,
    /// Grants of filters that end at this node.
    here: Grants,
    /// Grants of filters that end with `#` right below this node.
    pound: Grants,
    /// Whether any filter was inserted (on the root node).
    used: bool,
}

impl Node {
    pub fn is_empty(&self) -> bool {
        !self.used
    }

    /// Add a validated filter. `templates` is true for `pattern` lines.
    pub fn insert(&mut self, filter: &str, grant: Grant, templates: bool) {
        self.used = true;
        let mut node = self;
        for level in filter.split('/') {
            if level == "#" {
                node.pound.add(grant);
                return;
            }
            node = if level == "+" {
                node.plus.get_or_insert_with(Box::default)
            } else if let Some(t) = templates.then(|| Template::parse(level)).flatten() {
                let at = match node.templates.iter().position(|(x, _)| *x == t) {
                    Some(i) => i,
                    None => {
                        node.templates.push((t, Node::default()));
                        node.templates.len() - 1
                    }
                };
                match node.templates.get_mut(at) {
                    Some((_, child)) => child,
                    None => return, // unreachable: `at` was just found or pushed
                }
            } else {
                node.literal.entry(level.into()).or_default()
            };
        }
        node.here.add(grant);
    }

    /// Add every grant of this subtree that matches the remaining topic levels to `acc`.
    /// `rest` is `None` once every level is consumed.
    pub fn collect(&self, rest: Option<&str>, who: &ClientIdentity<'_>, acc: &mut Grants) {
        let Some(rest) = rest else {
            // `x/#` grants `x` too, as an MQTT `x/#` subscription matches `x`.
            acc.union(self.here);
            acc.union(self.pound);
            return;
        };
        acc.union(self.pound);
        let (level, next) = match rest.split_once('/') {
            Some((level, next)) => (level, Some(next)),
            None => (rest, None),
        };
        if let Some(child) = self.literal.get(level) {
            child.collect(next, who, acc);
        }
        for (template, child) in &self.templates {
            if template.matches(level, who) {
                child.collect(next, who, acc);
            }
        }
        if let Some(child) = &self.plus {
            child.collect(next, who, acc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who<'a>(u: Option<&'a str>, c: &'a str) -> ClientIdentity<'a> {
        ClientIdentity {
            username: u,
            client_id: c,
        }
    }

    #[test]
    fn template_pieces() {
        let t = Template::parse("dev-%u_%c").unwrap();
        assert!(t.matches("dev-bob_c1", &who(Some("bob"), "c1")));
        assert!(!t.matches("dev-bob_c2", &who(Some("bob"), "c1")));
        assert!(!t.matches("dev-bob_c1x", &who(Some("bob"), "c1")));
        assert!(Template::parse("100%").is_none());
        assert!(Template::parse("%x").is_none());
        // A username that is literally "%c" is compared as text, not substituted again.
        let t = Template::parse("%u").unwrap();
        assert!(t.matches("%c", &who(Some("%c"), "c1")));
        assert!(!t.matches("c1", &who(Some("%c"), "c1")));
    }

    #[test]
    fn unsafe_values_match_nothing() {
        let t = Template::parse("%u").unwrap();
        for u in ["", "+", "#", "a/b", "a+"] {
            assert!(!t.matches(u, &who(Some(u), "c")), "{u:?}");
        }
        assert!(!t.matches("x", &who(None, "c")));
        let t = Template::parse("%c").unwrap();
        assert!(!t.matches("", &who(None, "")));
    }
}
