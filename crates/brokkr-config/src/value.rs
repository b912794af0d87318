//! Value kinds: how the option table says what a directive takes, and the one function that
//! checks a directive's tokens against it.
//!
//! FlashMQ has no unit suffixes: the unit is part of the directive (`..._seconds`, `..._ms`,
//! sizes in bytes) and a number is digits only; trailing junk (`10s`, `1k`) is refused. The
//! `expected` text of each kind is what error messages and the docs show.

use crate::lexer::Token;
use crate::types::{BridgeTopic, Cidr, ConnectionCount, PersistenceData};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The unit of an integer directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A plain count.
    Count,
    /// Seconds.
    Seconds,
    /// Milliseconds.
    Millis,
    /// Bytes.
    Bytes,
}

impl Unit {
    fn suffix(self) -> &'static str {
        match self {
            Unit::Count => "",
            Unit::Seconds => " seconds",
            Unit::Millis => " milliseconds",
            Unit::Bytes => " bytes",
        }
    }
}

/// What a directive takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueKind {
    /// `yes`/`no`, `true`/`false`, `on`/`off`.
    Bool,
    /// Digits only, in `min..=max`.
    Int { min: u64, max: u64, unit: Unit },
    /// A power of two in `min..=max` bytes.
    PowerOfTwo { min: u64, max: u64 },
    /// One of these words (case-insensitive).
    Keyword(&'static [&'static str]),
    /// A non-empty path.
    Path,
    /// Any string, even empty.
    Text,
    /// A non-empty string without spaces (a username, a client id prefix, a host name).
    Word,
    /// A topic prefix ending in `/`.
    Prefix,
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// An address or network, `addr[/bits]`.
    Cidr,
    /// A topic filter and an optional QoS (bridge `publish`/`subscribe`).
    TopicQos,
    /// `persistence_data_to_save` words.
    PersistenceList,
    /// A number or `auto`.
    ConnectionCount,
    /// Octal permission bits such as `600`.
    OctalMode,
}

/// A checked value, as the kind produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Value {
    Bool(bool),
    Int(u64),
    Keyword(&'static str),
    Text(String),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    Cidr(Cidr),
    Topic(BridgeTopic),
    Persistence(PersistenceData),
    Count(ConnectionCount),
}

impl ValueKind {
    /// Fewest and most values on the line.
    pub fn arity(self) -> (usize, usize) {
        match self {
            ValueKind::TopicQos => (1, 2),
            ValueKind::PersistenceList => (1, 4),
            _ => (1, 1),
        }
    }

    /// The expected form, for messages and docs.
    pub fn expected(self) -> String {
        match self {
            ValueKind::Bool => "a boolean: yes/no, true/false or on/off".to_owned(),
            ValueKind::Int { min, max, unit } => {
                format!("a whole number from {min} to {max}{}", unit.suffix())
            }
            ValueKind::PowerOfTwo { min, max } => {
                format!("a power of two from {min} to {max} bytes")
            }
            ValueKind::Keyword(words) => format!("one of: {}", words.join(", ")),
            ValueKind::Path => "a path".to_owned(),
            ValueKind::Text => "a string".to_owned(),
            ValueKind::Word => "a non-empty word without spaces".to_owned(),
            ValueKind::Prefix => "a topic prefix ending in `/`".to_owned(),
            ValueKind::Ipv4 => "an IPv4 address such as 0.0.0.0".to_owned(),
            ValueKind::Ipv6 => "an IPv6 address such as ::".to_owned(),
            ValueKind::Cidr => "an IP address or network such as 10.0.0.0/8".to_owned(),
            ValueKind::TopicQos => {
                "a topic filter, optionally followed by a QoS (0, 1 or 2)".into()
            }
            ValueKind::PersistenceList => format!(
                "one or more of: {} (each may be negated with `!`)",
                PersistenceData::WORDS.join(", ")
            ),
            ValueKind::ConnectionCount => "a number from 1 to 65535, or `auto`".to_owned(),
            ValueKind::OctalMode => "octal permission bits such as 600".to_owned(),
        }
    }

    /// Check the tokens (already counted against [`ValueKind::arity`]): the first value and
    /// the rest. On failure, the token that is wrong.
    pub(crate) fn check<'t>(self, first: &'t Token, rest: &'t [Token]) -> Result<Value, &'t Token> {
        let text = first.text.as_str();
        let bad = || first;
        match self {
            ValueKind::Bool => parse_bool(text).map(Value::Bool).ok_or_else(bad),
            ValueKind::Int { min, max, .. } => parse_uint(text)
                .filter(|n| (min..=max).contains(n))
                .map(Value::Int)
                .ok_or_else(bad),
            ValueKind::PowerOfTwo { min, max } => parse_uint(text)
                .filter(|n| (min..=max).contains(n) && n.is_power_of_two())
                .map(Value::Int)
                .ok_or_else(bad),
            ValueKind::Keyword(words) => words
                .iter()
                .find(|w| w.eq_ignore_ascii_case(text))
                .map(|w| Value::Keyword(w))
                .ok_or_else(bad),
            ValueKind::Path | ValueKind::Word if text.is_empty() => Err(first),
            ValueKind::Word if text.contains(crate::lexer::is_space) => Err(first),
            ValueKind::Path | ValueKind::Word | ValueKind::Text => Ok(Value::Text(text.to_owned())),
            ValueKind::Prefix if text.ends_with('/') && valid_topic(text) => {
                Ok(Value::Text(text.to_owned()))
            }
            ValueKind::Prefix => Err(first),
            ValueKind::Ipv4 => text.parse().map(Value::Ipv4).map_err(|_| first),
            ValueKind::Ipv6 => text.parse().map(Value::Ipv6).map_err(|_| first),
            ValueKind::Cidr => Cidr::parse(text).map(Value::Cidr).ok_or_else(bad),
            ValueKind::TopicQos => check_topic_qos(first, rest),
            ValueKind::PersistenceList => {
                let all = std::iter::once(first).chain(rest);
                let words = all.clone().map(|t| t.text.as_str());
                PersistenceData::from_words(words)
                    .map(Value::Persistence)
                    .ok_or_else(|| {
                        let mut all = all;
                        all.find(|t| PersistenceData::from_words([t.text.as_str()]).is_none())
                            .unwrap_or(first)
                    })
            }
            ValueKind::ConnectionCount if text.eq_ignore_ascii_case("auto") => {
                Ok(Value::Count(ConnectionCount::Auto))
            }
            ValueKind::ConnectionCount => parse_uint(text)
                .and_then(|n| u16::try_from(n).ok())
                .filter(|&n| n >= 1)
                .map(|n| Value::Count(ConnectionCount::Fixed(n)))
                .ok_or_else(bad),
            ValueKind::OctalMode => {
                let octal = !text.is_empty() && text.len() <= 4;
                let octal = octal && text.bytes().all(|b| (b'0'..=b'7').contains(&b));
                octal
                    .then(|| u64::from_str_radix(text, 8).ok())
                    .flatten()
                    .map(Value::Int)
                    .ok_or_else(bad)
            }
        }
    }
}

fn check_topic_qos<'t>(first: &'t Token, rest: &'t [Token]) -> Result<Value, &'t Token> {
    if !valid_topic_filter(&first.text) {
        return Err(first);
    }
    let qos = match rest.first() {
        None => 0,
        Some(t) => match t.text.as_str() {
            "0" => 0,
            "1" => 1,
            "2" => 2,
            _ => return Err(t),
        },
    };
    Ok(Value::Topic(BridgeTopic {
        filter: first.text.clone(),
        qos,
    }))
}

/// yes/no, true/false, on/off, case-insensitive.
pub fn parse_bool(s: &str) -> Option<bool> {
    ["yes", "true", "on"]
        .iter()
        .any(|w| w.eq_ignore_ascii_case(s))
        .then_some(true)
        .or_else(|| {
            ["no", "false", "off"]
                .iter()
                .any(|w| w.eq_ignore_ascii_case(s))
                .then_some(false)
        })
}

/// Digits only (no sign, no spaces, no suffix), at most `u64`.
pub fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn valid_topic(s: &str) -> bool {
    !s.is_empty() && s.len() <= 65_535 && !s.contains('\0')
}

/// An MQTT topic filter: `#` only as the last level, `+` only as a whole level.
pub fn valid_topic_filter(s: &str) -> bool {
    if !valid_topic(s) {
        return false;
    }
    let levels: Vec<&str> = s.split('/').collect();
    let last = levels.len() - 1;
    levels.iter().enumerate().all(|(i, level)| match *level {
        "#" => i == last,
        "+" => true,
        l => !l.contains(['#', '+']),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(s: &str) -> Token {
        Token {
            text: s.to_owned(),
            col: 1,
            quoted: false,
        }
    }

    #[test]
    fn numbers_are_digits_only() {
        assert_eq!(parse_uint("1883"), Some(1883));
        for bad in [
            "",
            "+1",
            "-1",
            "1883x",
            " 1",
            "1k",
            "10s",
            "0x10",
            "99999999999999999999",
        ] {
            assert_eq!(parse_uint(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn booleans() {
        for t in ["yes", "TRUE", "On"] {
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["no", "false", "OFF"] {
            assert_eq!(parse_bool(f), Some(false));
        }
        assert_eq!(parse_bool("1"), None);
        assert_eq!(parse_bool("y"), None);
    }

    #[test]
    fn topic_filters() {
        assert!(valid_topic_filter("a/+/b/#"));
        assert!(valid_topic_filter("#"));
        assert!(!valid_topic_filter("a/#/b"));
        assert!(!valid_topic_filter("a/b#"));
        assert!(!valid_topic_filter(""));
    }

    #[test]
    fn kinds_check_tokens() {
        let int = ValueKind::Int {
            min: 1,
            max: 10,
            unit: Unit::Count,
        };
        assert_eq!(int.check(&tok("10"), &[]), Ok(Value::Int(10)));
        assert!(int.check(&tok("11"), &[]).is_err());
        let p2 = ValueKind::PowerOfTwo { min: 1, max: 1024 };
        assert!(p2.check(&tok("1000"), &[]).is_err());
        assert_eq!(
            ValueKind::OctalMode.check(&tok("640"), &[]),
            Ok(Value::Int(0o640))
        );
        assert!(ValueKind::OctalMode.check(&tok("9"), &[]).is_err());
        let rest = [tok("!bogus")];
        assert_eq!(
            ValueKind::PersistenceList.check(&tok("all"), &rest),
            Err(&rest[0])
        );
        let qos = [tok("3")];
        assert_eq!(ValueKind::TopicQos.check(&tok("a/#"), &qos), Err(&qos[0]));
    }
}
