//! PUBLISH properties (MQTT 5 section 3.3.2.3) kept as the bytes of the property block: validated
//! once, never materialized.
//!
//! Decoding checks every property of a received block once (`parse.rs`: identifiers PUBLISH
//! allows, no forbidden repeats, lengths inside the block, UTF-8 rules, Payload Format Indicator
//! values, non-zero Topic Alias and Subscription Identifiers, Response Topic without wildcards) and
//! keeps the block as a slice of the received buffer: no allocation, no copy, and a re-encode is
//! the received bytes. Accessors parse the field they are asked for. A fan-out forwards the block
//! verbatim or copies it with per-delivery changes (`edit.rs`); the broker's own messages and
//! tests build a block from typed values (`build.rs`).
//!
//! A block of up to [`INLINE_BYTES_MAX`] bytes (an expiry, an alias, a short content type) is
//! copied into the value instead of sharing the received buffer: copying 23 bytes is cheaper than
//! the two atomic reference-count updates a shared slice costs, and it keeps `Publish` as small.
//!
//! Invariant: a [`PublishProperties`] only ever holds a block that passed the checks. Its only
//! constructors are the decoder, the builder and the editor, which write valid blocks; the
//! accessors rely on it and never fail.

mod build;
mod edit;
mod parse;

pub use build::PublishPropertiesBuilder;
pub use edit::{IdSet, PropertyEdits};

use crate::error::DecodeError;
use crate::properties::{PayloadFormat, id};
use crate::reader::Reader;
use bytes::Bytes;
use parse::{Cursor, read_value, to_property, value_len};
use std::num::{NonZeroU16, NonZeroU32};

/// The properties of one PUBLISH: the validated property block, without its length prefix.
///
/// Two values are equal when their blocks are byte for byte equal (property order included).
#[derive(Clone, Default)]
pub struct PublishProperties {
    raw: Raw,
}

/// Longest property block kept inline (the most that fits beside the enum's tag in the 32 bytes
/// of a `Bytes`).
pub const INLINE_BYTES_MAX: usize = 23;

/// Where the block's bytes live.
#[derive(Clone)]
enum Raw {
    /// A short block, copied.
    Inline {
        len: u8,
        bytes: [u8; INLINE_BYTES_MAX],
    },
    /// A longer one, shared with the buffer it was received in or built in.
    Shared(Bytes),
}

impl Default for Raw {
    fn default() -> Raw {
        Raw::Inline {
            len: 0,
            bytes: [0; INLINE_BYTES_MAX],
        }
    }
}

impl Raw {
    fn as_slice(&self) -> &[u8] {
        match self {
            Raw::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            Raw::Shared(b) => b,
        }
    }

    /// The first `len` bytes of `window` inline, or `None` when `len` is too long. When the
    /// window holds [`INLINE_BYTES_MAX`] bytes they are copied whole (a fixed-size copy, cheaper
    /// than a variable one); bytes past `len` are never read.
    fn inline(window: &[u8], len: usize) -> Option<Raw> {
        let short = u8::try_from(len).ok().filter(|_| len <= INLINE_BYTES_MAX)?;
        let bytes = match window.first_chunk::<INLINE_BYTES_MAX>() {
            Some(whole) => *whole,
            None => {
                let mut bytes = [0; INLINE_BYTES_MAX];
                bytes.get_mut(..len)?.copy_from_slice(window.get(..len)?);
                bytes
            }
        };
        Some(Raw::Inline { len: short, bytes })
    }

    fn from_bytes(block: Bytes) -> Raw {
        Raw::inline(&block, block.len()).unwrap_or(Raw::Shared(block))
    }
}

impl PartialEq for PublishProperties {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for PublishProperties {}

impl std::hash::Hash for PublishProperties {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

/// One PUBLISH property, borrowed from its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishProperty<'a> {
    /// Payload Format Indicator (0x01).
    PayloadFormatIndicator(PayloadFormat),
    /// Message Expiry Interval in seconds (0x02).
    MessageExpiryInterval(u32),
    /// Topic Alias (0x23).
    TopicAlias(NonZeroU16),
    /// Response Topic (0x08), a topic name.
    ResponseTopic(&'a str),
    /// Correlation Data (0x09).
    CorrelationData(&'a [u8]),
    /// User Property (0x26): name and value.
    UserProperty(&'a str, &'a str),
    /// Subscription Identifier (0x0B).
    SubscriptionIdentifier(NonZeroU32),
    /// Content Type (0x03).
    ContentType(&'a str),
}

impl PublishProperties {
    /// Read a property block (length prefix, then the properties) and validate it in place.
    ///
    /// The common case is handled inline: a block short enough to keep inline (its one-byte
    /// length included: 23 < 128) that the quick pass accepts. Longer blocks and every error go
    /// out of line.
    #[inline]
    pub(crate) fn decode(r: &mut Reader) -> Result<PublishProperties, DecodeError> {
        let buf = r.as_slice();
        if buf.first() == Some(&0) {
            r.skip(1, "property length")?;
            return Ok(PublishProperties::default());
        }
        if let Some((&len, window)) = buf.split_first()
            && let len = usize::from(len)
            && len <= INLINE_BYTES_MAX
            && window.get(..len).is_some_and(parse::quick_check)
            && let Some(raw) = Raw::inline(window, len)
        {
            r.skip(1 + len, "property block longer than packet")?;
            return Ok(PublishProperties { raw });
        }
        Self::decode_block(r)
    }

    #[inline(never)]
    fn decode_block(r: &mut Reader) -> Result<PublishProperties, DecodeError> {
        let len = r.vbi("property length truncated")? as usize;
        if len > r.remaining() {
            return Err(DecodeError::malformed("property block longer than packet"));
        }
        parse::check_block(r.as_slice(), len)?;
        let raw = match Raw::inline(r.as_slice(), len) {
            Some(inline) => {
                r.skip(len, "property block longer than packet")?;
                inline
            }
            None => Raw::Shared(r.take(len, "property block longer than packet")?),
        };
        Ok(PublishProperties { raw })
    }

    /// Wrap bytes this crate just wrote as a valid block (builder, editor).
    fn from_written(raw: Bytes) -> PublishProperties {
        debug_assert!(
            parse::check_block(&raw, raw.len()).is_ok(),
            "wrote an invalid PUBLISH property block"
        );
        PublishProperties {
            raw: Raw::from_bytes(raw),
        }
    }

    /// The block's bytes, without the length prefix; what a re-encode writes.
    pub fn as_bytes(&self) -> &[u8] {
        self.raw.as_slice()
    }

    /// True when there are no properties.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    /// A copy that shares no received buffer, for messages kept beyond the read buffer they
    /// arrived in.
    pub fn compact(&self) -> PublishProperties {
        match &self.raw {
            Raw::Inline { .. } => self.clone(),
            Raw::Shared(b) => PublishProperties {
                raw: Raw::Shared(Bytes::copy_from_slice(b)),
            },
        }
    }

    /// Every property, in block order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            c: Cursor {
                buf: self.as_bytes(),
            },
        }
    }

    /// Each property as (identifier, its bytes from the identifier on), in block order.
    fn spans(&self) -> Spans<'_> {
        Spans {
            buf: self.as_bytes(),
        }
    }

    /// The value bytes of the first property `pid`, found from lengths alone.
    #[inline]
    fn value_of(&self, pid: u8) -> Option<&[u8]> {
        // Most PUBLISH packets (every 3.x one) have none: no walk for them.
        if self.is_empty() {
            return None;
        }
        self.spans()
            .find(|&(p, _)| p == pid)
            .and_then(|(_, span)| span.get(1..))
    }

    /// True when a property with identifier `pid` is present.
    #[inline]
    pub fn contains(&self, pid: u8) -> bool {
        !self.is_empty() && self.spans().any(|(p, _)| p == pid)
    }

    /// True when any property of `ids` is present.
    #[inline]
    pub fn contains_any(&self, ids: IdSet) -> bool {
        !self.is_empty() && self.spans().any(|(p, _)| ids.contains(p))
    }

    /// Payload Format Indicator.
    pub fn payload_format_indicator(&self) -> Option<PayloadFormat> {
        match self.value_of(id::PAYLOAD_FORMAT_INDICATOR)?.first()? {
            0 => Some(PayloadFormat::Unspecified),
            _ => Some(PayloadFormat::Utf8),
        }
    }

    /// Message Expiry Interval in seconds, as in the block.
    pub fn message_expiry_interval_secs(&self) -> Option<u32> {
        let v = self.value_of(id::MESSAGE_EXPIRY_INTERVAL)?;
        Some(u32::from_be_bytes(*v.first_chunk::<4>()?))
    }

    /// Topic Alias.
    pub fn topic_alias(&self) -> Option<NonZeroU16> {
        let v = self.value_of(id::TOPIC_ALIAS)?;
        NonZeroU16::new(u16::from_be_bytes(*v.first_chunk::<2>()?))
    }

    /// Response Topic.
    pub fn response_topic(&self) -> Option<&str> {
        self.iter().find_map(|p| match p {
            PublishProperty::ResponseTopic(t) => Some(t),
            _ => None,
        })
    }

    /// Correlation Data.
    pub fn correlation_data(&self) -> Option<&[u8]> {
        self.iter().find_map(|p| match p {
            PublishProperty::CorrelationData(d) => Some(d),
            _ => None,
        })
    }

    /// Content Type.
    pub fn content_type(&self) -> Option<&str> {
        self.iter().find_map(|p| match p {
            PublishProperty::ContentType(t) => Some(t),
            _ => None,
        })
    }

    /// User Properties (name, value), in order (order is significant: MQTT-3.3.2-18).
    pub fn user_properties(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter().filter_map(|p| match p {
            PublishProperty::UserProperty(k, v) => Some((k, v)),
            _ => None,
        })
    }

    /// Subscription Identifiers, in order.
    pub fn subscription_identifiers(&self) -> impl Iterator<Item = NonZeroU32> {
        self.iter().filter_map(|p| match p {
            PublishProperty::SubscriptionIdentifier(s) => Some(s),
            _ => None,
        })
    }
}

impl std::fmt::Debug for PublishProperties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a PublishProperties {
    type Item = PublishProperty<'a>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The properties of a block, typed, in block order ([`PublishProperties::iter`]).
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    c: Cursor<'a>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = PublishProperty<'a>;

    fn next(&mut self) -> Option<PublishProperty<'a>> {
        if self.c.buf.is_empty() {
            return None;
        }
        let item = self
            .c
            .u8("")
            .and_then(|pid| Ok((pid, read_value(&mut self.c, pid)?)))
            .and_then(|(pid, value)| to_property(pid, value));
        debug_assert!(item.is_ok(), "validated block failed to parse");
        if item.is_err() {
            self.c.buf = &[];
        }
        item.ok()
    }
}

/// (identifier, whole property bytes) of each property of a validated block.
#[derive(Debug, Clone)]
struct Spans<'a> {
    buf: &'a [u8],
}

impl<'a> Iterator for Spans<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&pid, rest) = self.buf.split_first()?;
        let len = value_len(pid, rest).and_then(|n| n.checked_add(1));
        debug_assert!(
            len.is_some_and(|n| n <= self.buf.len()),
            "validated block failed to walk"
        );
        let Some((span, rest)) = len.and_then(|n| self.buf.split_at_checked(n)) else {
            self.buf = &[];
            return None;
        };
        self.buf = rest;
        Some((pid, span))
    }
}

#[cfg(test)]
mod tests;
