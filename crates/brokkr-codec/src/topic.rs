//! Topic names and topic filters (MQTT 5 section 4.7, MQTT 3.1.1 section 4.7) as validated types.
//!
//! A [`TopicName`] never contains a wildcard; a [`TopicFilter`] obeys the wildcard placement
//! rules and, when it is a shared subscription (`$share/group/filter`), the share-name rules. The
//! types make it impossible to publish to a filter or subscribe with an unchecked string. Limits
//! that depend on configuration (topic depth, length caps) are the broker core's to check.

use crate::error::DecodeError;
use crate::reason::ReasonCode;
use crate::string::MqttString;
use bytes::Bytes;
use std::fmt;

/// A topic name as carried by PUBLISH and wills: no `+` or `#`.
///
/// It may be empty only as the wire form of an MQTT 5 PUBLISH that uses a Topic Alias; the
/// PUBLISH decoder enforces when emptiness is allowed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TopicName(MqttString);

fn name_error(detail: &'static str) -> DecodeError {
    DecodeError::malformed(detail).with_reason(ReasonCode::TopicNameInvalid)
}

impl TopicName {
    /// Validate a decoded string as a topic name (wildcards refused: MQTT-3.3.2-2).
    pub fn from_string(s: MqttString) -> Result<Self, DecodeError> {
        check_no_wildcards(s.as_bytes())?;
        Ok(TopicName(s))
    }

    /// Validate raw bytes as a topic name: one scan for U+0000 and wildcards, one UTF-8 check.
    /// This is the PUBLISH hot path.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, DecodeError> {
        if bytes.len() > crate::string::STRING_LEN_MAX {
            // Found by the `topic` fuzz target: this public path skipped the length check that
            // the PUBLISH decoder gets from its two-byte length prefix.
            return Err(DecodeError::malformed("string longer than 65535 bytes"));
        }
        if has_nul_or_wildcard(&bytes) {
            if memchr::memchr(0, &bytes).is_some() {
                return Err(DecodeError::malformed("string contains U+0000").rule("MQTT-1.5.4-2"));
            }
            return Err(name_error("wildcard in topic name").rule("MQTT-3.3.2-2"));
        }
        MqttString::from_checked_bytes(bytes).map(TopicName)
    }

    /// Validate a `&str` as a topic name (copies it).
    pub fn new(s: &str) -> Result<Self, DecodeError> {
        Self::from_string(MqttString::new(s)?)
    }

    /// The topic text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The validated string.
    pub fn as_mqtt_str(&self) -> &MqttString {
        &self.0
    }

    /// A copy in its own allocation (see [`MqttString::compact`]).
    pub fn compact(&self) -> TopicName {
        TopicName(self.0.compact())
    }

    /// True for the zero-length name (allowed only with a Topic Alias).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `/`-separated levels.
    pub fn levels(&self) -> std::str::Split<'_, char> {
        self.as_str().split('/')
    }

    /// The number of levels (`levels().count()`, in one pass over the bytes without splitting).
    pub fn level_count(&self) -> usize {
        self.0.as_bytes().iter().filter(|&&b| b == b'/').count() + 1
    }

    /// Topics that start with `$` are not matched by a leading wildcard (MQTT-4.7.2-1).
    pub fn is_dollar(&self) -> bool {
        self.as_str().starts_with('$')
    }
}

/// Below this many bytes a word-at-a-time pass finds U+0000 and wildcards faster than
/// `memchr3`, whose set-up costs about 150 instructions (most topics are short).
const SHORT_SCAN_BYTES: usize = 64;

/// True if `bytes` holds U+0000, `+` or `#`.
fn has_nul_or_wildcard(bytes: &[u8]) -> bool {
    if bytes.len() >= SHORT_SCAN_BYTES {
        return memchr::memchr3(0, b'+', b'#', bytes).is_some();
    }
    let mut words = bytes.chunks_exact(8);
    let mut found = false;
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        found |= word_has_nul_or_wildcard(u64::from_le_bytes(w));
    }
    // The tail padded with a byte that is none of the three.
    let tail = words.remainder();
    let mut w = [b'a'; 8];
    if let Some(head) = w.get_mut(..tail.len()) {
        head.copy_from_slice(tail);
    }
    found | word_has_nul_or_wildcard(u64::from_le_bytes(w))
}

/// True if one of the eight bytes of `w` is 0x00, `+` or `#` (a byte is zero exactly when
/// subtracting 1 from it borrows into its high bit while that bit was clear).
fn word_has_nul_or_wildcard(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS != 0;
    has_zero(w) | has_zero(w ^ (ONES * u64::from(b'+'))) | has_zero(w ^ (ONES * u64::from(b'#')))
}

/// Refuse wildcards in a topic name (MQTT-3.3.2-2); the bytes are already a valid string.
pub(crate) fn check_no_wildcards(bytes: &[u8]) -> Result<(), DecodeError> {
    if memchr::memchr2(b'+', b'#', bytes).is_some() {
        return Err(name_error("wildcard in topic name").rule("MQTT-3.3.2-2"));
    }
    Ok(())
}

/// A topic filter as carried by SUBSCRIBE and UNSUBSCRIBE.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter(MqttString);

fn filter_error(detail: &'static str, rule: &'static str) -> DecodeError {
    DecodeError::malformed(detail)
        .with_reason(ReasonCode::TopicFilterInvalid)
        .rule(rule)
}

/// The prefix of a shared subscription.
pub const SHARE_PREFIX: &str = "$share/";

impl TopicFilter {
    /// Validate a decoded string as a topic filter.
    pub fn from_string(s: MqttString) -> Result<Self, DecodeError> {
        validate_filter(s.as_str())?;
        Ok(TopicFilter(s))
    }

    /// Validate raw bytes as a topic filter.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, DecodeError> {
        Self::from_string(MqttString::from_bytes(bytes)?)
    }

    /// Validate a `&str` as a topic filter (copies it).
    pub fn new(s: &str) -> Result<Self, DecodeError> {
        Self::from_string(MqttString::new(s)?)
    }

    /// A copy in its own allocation (see [`MqttString::compact`]).
    pub fn compact(&self) -> TopicFilter {
        TopicFilter(self.0.compact())
    }

    /// The filter text, including any `$share/group/` prefix.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The validated string.
    pub fn as_mqtt_str(&self) -> &MqttString {
        &self.0
    }

    /// For `$share/group/filter`: the group and the filter; `None` for a plain filter.
    pub fn share(&self) -> Option<(&str, &str)> {
        let rest = self.as_str().strip_prefix(SHARE_PREFIX)?;
        rest.split_once('/')
    }

    /// The filter without a share prefix.
    pub fn pattern(&self) -> &str {
        self.share().map_or(self.as_str(), |(_, filter)| filter)
    }

    /// Whether the pattern contains `+` or `#`.
    pub fn has_wildcards(&self) -> bool {
        memchr::memchr2(b'+', b'#', self.pattern().as_bytes()).is_some()
    }
}

fn validate_filter(s: &str) -> Result<(), DecodeError> {
    let pattern = match s.strip_prefix(SHARE_PREFIX) {
        Some(rest) => {
            let (group, filter) = rest.split_once('/').ok_or(filter_error(
                "shared subscription without a filter",
                "MQTT-4.8.2-2",
            ))?;
            if group.is_empty() || group.contains(['+', '#']) {
                return Err(filter_error("invalid share name", "MQTT-4.8.2-1"));
            }
            filter
        }
        None => s,
    };
    if pattern.is_empty() {
        return Err(filter_error("empty topic filter", "MQTT-4.7.3-1"));
    }
    let mut levels = pattern.split('/').peekable();
    while let Some(level) = levels.next() {
        let last = levels.peek().is_none();
        if level.contains('#') && (level != "#" || !last) {
            return Err(filter_error(
                "'#' not alone in the last level",
                "MQTT-4.7.1-1",
            ));
        }
        if level.contains('+') && level != "+" {
            return Err(filter_error("'+' not alone in its level", "MQTT-4.7.1-2"));
        }
    }
    Ok(())
}

macro_rules! str_debug {
    ($($ty:ty),*) => {$(
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
str_debug!(TopicName, TopicFilter);

#[cfg(test)]
mod tests {
    #[test]
    fn the_short_scan_finds_every_nul_and_wildcard_wherever_it_is() {
        for len in 0..80 {
            let clean: Vec<u8> = (0..len).map(|i| b"ab/c\xC3\xA9z"[i % 7]).collect();
            assert!(!super::has_nul_or_wildcard(&clean), "{len}");
            for at in 0..len {
                for bad in [0u8, b'+', b'#'] {
                    let mut b = clean.clone();
                    b[at] = bad;
                    assert!(super::has_nul_or_wildcard(&b), "{len} {at} {bad}");
                }
                // Neighbours of the three (a borrow must not be mistaken for a match).
                for near in [1u8, b'*', b',', b'"', b'$', 0x80, 0xFF] {
                    let mut b = clean.clone();
                    b[at] = near;
                    assert!(!super::has_nul_or_wildcard(&b), "{len} {at} {near}");
                }
            }
        }
    }

    use super::*;

    #[test]
    fn regression_topic_name_from_bytes_refuses_more_than_65535_bytes() {
        // fuzz/regressions/topic-over-65535-bytes: a debug assertion fired on this path.
        let long = Bytes::from(vec![b'a'; 65_536]);
        assert!(TopicName::from_bytes(long).is_err());
        assert!(TopicName::from_bytes(Bytes::from(vec![b'a'; 65_535])).is_ok());
    }

    #[test]
    fn mqtt_3_3_2_2_topic_names_have_no_wildcards() {
        for bad in ["a/+", "#", "a/#/b", "+"] {
            let err = TopicName::new(bad).unwrap_err();
            assert_eq!(err.rule, Some("MQTT-3.3.2-2"));
            assert_eq!(err.reason, ReasonCode::TopicNameInvalid);
        }
        assert!(TopicName::new("a/b/c").is_ok());
        assert!(TopicName::new("$SYS/x").unwrap().is_dollar());
    }

    #[test]
    fn mqtt_4_7_1_1_multi_level_wildcard_is_last_and_alone() {
        for good in ["#", "a/#", "/#", "+/+/#"] {
            assert!(TopicFilter::new(good).is_ok(), "{good}");
        }
        for bad in ["a#", "a/#/b", "#/a", "a/b#"] {
            assert_eq!(
                TopicFilter::new(bad).unwrap_err().rule,
                Some("MQTT-4.7.1-1"),
                "{bad}"
            );
        }
    }

    #[test]
    fn mqtt_4_7_1_2_single_level_wildcard_fills_its_level() {
        for good in ["+", "+/a", "a/+/b", "/+", "+/+"] {
            assert!(TopicFilter::new(good).is_ok(), "{good}");
        }
        for bad in ["a+", "+a", "a/b+/c"] {
            assert_eq!(
                TopicFilter::new(bad).unwrap_err().rule,
                Some("MQTT-4.7.1-2"),
                "{bad}"
            );
        }
    }

    #[test]
    fn mqtt_4_7_3_1_filters_are_not_empty() {
        assert_eq!(TopicFilter::new("").unwrap_err().rule, Some("MQTT-4.7.3-1"));
    }

    #[test]
    fn mqtt_4_8_2_1_share_names_have_no_wildcards_or_slashes() {
        assert_eq!(
            TopicFilter::new("$share/g+/a").unwrap_err().rule,
            Some("MQTT-4.8.2-1")
        );
        assert_eq!(
            TopicFilter::new("$share//a").unwrap_err().rule,
            Some("MQTT-4.8.2-1")
        );
        let f = TopicFilter::new("$share/group/a/+").unwrap();
        assert_eq!(f.share(), Some(("group", "a/+")));
        assert_eq!(f.pattern(), "a/+");
        assert!(f.has_wildcards());
    }

    #[test]
    fn mqtt_4_8_2_2_share_name_is_followed_by_a_filter() {
        assert_eq!(
            TopicFilter::new("$share/group").unwrap_err().rule,
            Some("MQTT-4.8.2-2")
        );
        assert_eq!(
            TopicFilter::new("$share/group/").unwrap_err().rule,
            Some("MQTT-4.7.3-1")
        );
    }
}
