//! Reading PUBLISH properties out of borrowed bytes: the one-time validation of a received block
//! ([`check_block`]) and the typed reading that the accessors repeat on a validated block.
//!
//! Both go through the same two functions, [`read_value`] (the data type of each identifier, from
//! the crate-wide table in `properties::kind`) and [`to_property`] (what PUBLISH allows and the
//! values the spec forbids), so an accessor can never see a property the check did not accept.
//! The checks and their order are those of the generic property decoder, error for error: the
//! `properties` fuzz target compares the two on every input. Nothing here allocates or takes a
//! reference count.

use super::PublishProperty;
use crate::error::DecodeError;
use crate::properties::{self, Kind, id, kind, not_allowed};
use crate::string::check_str;
use crate::vbi::{VbiRead, read_vbi};
use std::num::NonZeroU16;

/// One property value, borrowed, typed by its identifier's data type. Strings are validated.
#[derive(Debug, Clone, Copy)]
pub(super) enum SliceValue<'a> {
    Byte(u8),
    U16(u16),
    U32(u32),
    Vbi(u32),
    Str(&'a str),
    Bin(&'a [u8]),
    Pair(&'a str, &'a str),
}

/// A bounds-checked cursor over borrowed bytes.
#[derive(Debug, Clone)]
pub(super) struct Cursor<'a> {
    pub(super) buf: &'a [u8],
}

fn short(what: &'static str) -> DecodeError {
    DecodeError::malformed(what)
}

impl<'a> Cursor<'a> {
    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        let (&byte, rest) = self.buf.split_first().ok_or(short(what))?;
        self.buf = rest;
        Ok(byte)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let (head, rest) = self.buf.split_first_chunk::<N>().ok_or(short(what))?;
        self.buf = rest;
        Ok(*head)
    }

    pub(super) fn vbi(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        match read_vbi(self.buf)? {
            VbiRead::Value { value, len } => {
                self.buf = self.buf.get(len..).ok_or(short(what))?;
                Ok(value)
            }
            VbiRead::Incomplete => Err(short(what)),
        }
    }

    /// Binary Data: a two-byte length, then that many bytes.
    fn binary(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = usize::from(u16::from_be_bytes(self.array(what)?));
        if len > self.buf.len() {
            return Err(short(what));
        }
        let (data, rest) = self.buf.split_at(len);
        self.buf = rest;
        Ok(data)
    }

    /// A UTF-8 Encoded String, validated as `MqttString` validates it.
    fn string(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        check_str(self.binary(what)?)
    }
}

/// Read the value of property `pid` (its identifier already read).
pub(super) fn read_value<'a>(c: &mut Cursor<'a>, pid: u8) -> Result<SliceValue<'a>, DecodeError> {
    const WHAT: &str = properties::VALUE_TRUNCATED;
    Ok(match kind(pid).ok_or(properties::unknown_id())? {
        Kind::Byte => SliceValue::Byte(c.u8(WHAT)?),
        Kind::U16 => SliceValue::U16(u16::from_be_bytes(c.array(WHAT)?)),
        Kind::U32 => SliceValue::U32(u32::from_be_bytes(c.array(WHAT)?)),
        Kind::Vbi => SliceValue::Vbi(c.vbi(WHAT)?),
        Kind::Str => SliceValue::Str(c.string(WHAT)?),
        Kind::Bin => SliceValue::Bin(c.binary(WHAT)?),
        Kind::Pair => SliceValue::Pair(c.string(WHAT)?, c.string(WHAT)?),
    })
}

/// A value as a PUBLISH property: refuses identifiers PUBLISH may not carry (Malformed, section
/// 2.2.2.2) and the values the spec forbids.
pub(super) fn to_property(
    pid: u8,
    value: SliceValue<'_>,
) -> Result<PublishProperty<'_>, DecodeError> {
    Ok(match (pid, value) {
        (id::PAYLOAD_FORMAT_INDICATOR, SliceValue::Byte(v)) => {
            PublishProperty::PayloadFormatIndicator(properties::payload_format(v)?)
        }
        (id::MESSAGE_EXPIRY_INTERVAL, SliceValue::U32(v)) => {
            PublishProperty::MessageExpiryInterval(v)
        }
        (id::TOPIC_ALIAS, SliceValue::U16(v)) => PublishProperty::TopicAlias(
            NonZeroU16::new(v).ok_or(
                DecodeError::protocol("topic alias is 0")
                    .with_reason(crate::ReasonCode::TopicAliasInvalid)
                    .rule("MQTT-3.3.2-8"),
            )?,
        ),
        (id::RESPONSE_TOPIC, SliceValue::Str(v)) => {
            crate::topic::check_no_wildcards(v.as_bytes()).map_err(|e| {
                e.rule("MQTT-3.3.2-14")
                    .with_reason(crate::ReasonCode::ProtocolError)
            })?;
            PublishProperty::ResponseTopic(v)
        }
        (id::CORRELATION_DATA, SliceValue::Bin(v)) => PublishProperty::CorrelationData(v),
        (id::USER_PROPERTY, SliceValue::Pair(k, v)) => PublishProperty::UserProperty(k, v),
        (id::SUBSCRIPTION_IDENTIFIER, SliceValue::Vbi(v)) => {
            PublishProperty::SubscriptionIdentifier(properties::subscription_id(v)?)
        }
        (id::CONTENT_TYPE, SliceValue::Str(v)) => PublishProperty::ContentType(v),
        _ => return Err(not_allowed()),
    })
}

/// Validate a PUBLISH property block in place. `rest` starts at the block's first property and
/// runs to the end of the packet; the block is its first `len` bytes.
///
/// A quick pass accepts the common valid block; anything it is unsure of goes to the exact pass,
/// which finds the error the generic decoder would report (or accepts after all).
pub(super) fn check_block(rest: &[u8], len: usize) -> Result<(), DecodeError> {
    if rest.get(..len).is_some_and(quick_check) {
        return Ok(());
    }
    exact_check(rest, len)
}

/// True only when `block` is certainly a valid PUBLISH property block: every property allowed
/// and inside the block, no forbidden repeat, every value allowed. False says nothing: the exact
/// pass decides. (It errs toward false: a multi-byte Subscription Identifier is left to it.)
///
/// Numeric properties are walked inline; the first string or binary property hands the rest of
/// the walk to an out-of-line copy of the same loop (string checks call `memchr` and UTF-8
/// validation, whose register saving would otherwise burden every block).
#[inline]
pub(super) fn quick_check(block: &[u8]) -> bool {
    match quick_walk::<false>(block, 0, 0) {
        Walk::Done(valid) => valid,
        Walk::Strings { at, seen } => quick_check_strings(block, at, seen),
    }
}

#[inline(never)]
fn quick_check_strings(block: &[u8], at: usize, seen: u64) -> bool {
    matches!(quick_walk::<true>(block, at, seen), Walk::Done(true))
}

/// Where a quick walk stopped.
enum Walk {
    /// At the end (true) or at something it cannot vouch for (false).
    Done(bool),
    /// At a string or binary property, which this walk was told not to check.
    Strings { at: usize, seen: u64 },
}

/// The quick walk from property offset `at`, with the identifiers `seen` so far.
#[inline(always)]
fn quick_walk<const STRINGS: bool>(block: &[u8], mut at: usize, mut seen: u64) -> Walk {
    const REPEATABLE: u64 = 1 << id::USER_PROPERTY | 1 << id::SUBSCRIPTION_IDENTIFIER;
    while let Some(&pid) = block.get(at) {
        let value = at + 1;
        let end = match pid {
            id::PAYLOAD_FORMAT_INDICATOR if matches!(block.get(value), Some(0 | 1)) => value + 1,
            id::MESSAGE_EXPIRY_INTERVAL => value + 4,
            id::TOPIC_ALIAS if block.get(value..value + 2).is_some_and(|v| v != [0, 0]) => {
                value + 2
            }
            id::SUBSCRIPTION_IDENTIFIER if matches!(block.get(value), Some(1..=0x7F)) => value + 1,
            id::CONTENT_TYPE | id::RESPONSE_TOPIC | id::CORRELATION_DATA | id::USER_PROPERTY
                if !STRINGS =>
            {
                return Walk::Strings { at, seen };
            }
            id::CONTENT_TYPE => value.saturating_add(quick_string(block.get(value..), false)),
            id::RESPONSE_TOPIC => value.saturating_add(quick_string(block.get(value..), true)),
            id::CORRELATION_DATA => {
                value.saturating_add(quick_binary(block.get(value..)).map_or(NO, |d| 2 + d.len()))
            }
            id::USER_PROPERTY => {
                let key = value.saturating_add(quick_string(block.get(value..), false));
                key.saturating_add(quick_string(block.get(key..), false))
            }
            _ => return Walk::Done(false),
        };
        // Every identifier matched above is below 64.
        let bit = 1u64 << (pid & 63);
        if end > block.len() || seen & bit & !REPEATABLE != 0 {
            return Walk::Done(false);
        }
        seen |= bit;
        at = end;
    }
    Walk::Done(true)
}

/// A length no block has: what the quick pass uses for "not sure".
const NO: usize = usize::MAX / 4;

fn quick_binary(b: Option<&[u8]>) -> Option<&[u8]> {
    let (len, rest) = b?.split_first_chunk::<2>()?;
    rest.get(..usize::from(u16::from_be_bytes(*len)))
}

/// Bytes a valid string field takes (a topic name without wildcards if `topic`), or [`NO`].
fn quick_string(b: Option<&[u8]>, topic: bool) -> usize {
    let Some(s) = quick_binary(b) else {
        return NO;
    };
    let forbidden = if topic {
        memchr::memchr3(0, b'+', b'#', s)
    } else {
        memchr::memchr(0, s)
    };
    if forbidden.is_none() && std::str::from_utf8(s).is_ok() {
        2 + s.len()
    } else {
        NO
    }
}

/// The exact pass: the generic decoder's checks in its order. A value is read from `rest` and
/// only then checked against the end of the block, so the first error is the one it reports.
fn exact_check(rest: &[u8], len: usize) -> Result<(), DecodeError> {
    let mut c = Cursor { buf: rest };
    let consumed = |c: &Cursor<'_>| rest.len() - c.buf.len();
    let mut seen: u64 = 0;
    while consumed(&c) < len {
        let raw_id = c.vbi("property identifier truncated")?;
        let pid = u8::try_from(raw_id)
            .ok()
            .filter(|&p| p < 64)
            .ok_or(properties::unknown_id())?;
        let bit = 1u64 << pid;
        let repeatable = pid == id::USER_PROPERTY || pid == id::SUBSCRIPTION_IDENTIFIER;
        if seen & bit != 0 && !repeatable {
            return Err(DecodeError::protocol("property included more than once"));
        }
        seen |= bit;
        let value = read_value(&mut c, pid)?;
        if consumed(&c) > len {
            return Err(DecodeError::malformed("property runs past its block"));
        }
        to_property(pid, value)?;
    }
    Ok(())
}

/// Bytes property `pid`'s value takes at the start of `buf`, read from lengths alone (no UTF-8
/// check): for walking a block that was validated when it was made.
pub(super) fn value_len(pid: u8, buf: &[u8]) -> Option<usize> {
    let prefixed = |at: usize| -> Option<usize> {
        let b = buf.get(at..at + 2)?;
        Some(2 + usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?])))
    };
    Some(match kind(pid)? {
        Kind::Byte => 1,
        Kind::U16 => 2,
        Kind::U32 => 4,
        Kind::Vbi => match read_vbi(buf).ok()? {
            VbiRead::Value { len, .. } => len,
            VbiRead::Incomplete => return None,
        },
        Kind::Str | Kind::Bin => prefixed(0)?,
        Kind::Pair => {
            let key = prefixed(0)?;
            key + prefixed(key)?
        }
    })
}
