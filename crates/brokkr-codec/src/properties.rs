//! MQTT 5 properties (section 2.2.2): one typed struct per packet type, each holding exactly the
//! properties that packet may carry.
//!
//! Decoding reads a property block through one generic loop that checks the identifier's data
//! type, rejects a second copy of any property except User Property (and Subscription Identifier
//! in PUBLISH), and hands each value to the packet's struct, which refuses identifiers that do not
//! belong to its packet (a Malformed Packet, section 2.2.2.2) and values the spec forbids (a
//! Protocol Error). Encoding walks the same fields twice through [`Sink`]: once to count bytes,
//! once to write them, so the two can never disagree.

use crate::error::{DecodeError, EncodeError};
use crate::reader::Reader;
use crate::string::MqttString;
use crate::topic::TopicName;
use crate::types::QoS;
use crate::vbi::{VBI_MAX, vbi_len, write_vbi};
use crate::writer::{prefixed_len, put_binary, put_string};
use bytes::{BufMut, Bytes, BytesMut};
use std::num::{NonZeroU16, NonZeroU32};

/// Property identifiers (MQTT 5 table 2-4).
pub mod id {
    #![allow(missing_docs)]
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    pub const SERVER_REFERENCE: u8 = 0x1C;
    pub const REASON_STRING: u8 = 0x1F;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// User Properties, in the order received (order is significant: MQTT-3.3.2-18).
pub type UserProperties = Vec<(MqttString, MqttString)>;

/// Largest Subscription Identifier (a Variable Byte Integer, 1..=268,435,455).
pub const SUBSCRIPTION_ID_MAX: u32 = VBI_MAX;

/// The Payload Format Indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadFormat {
    /// 0: unspecified bytes.
    Unspecified,
    /// 1: UTF-8 encoded character data.
    Utf8,
}

/// One decoded property value, typed by its identifier's data type.
#[derive(Debug)]
pub(crate) enum Value {
    Byte(u8),
    U16(u16),
    U32(u32),
    Vbi(u32),
    Str(MqttString),
    Bin(Bytes),
    Pair(MqttString, MqttString),
}

/// The data type of a property (MQTT 5 section 2.2.2.2, table 2-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Byte,
    U16,
    U32,
    Vbi,
    Str,
    Bin,
    Pair,
}

/// The data type of property `pid`, or `None` for an identifier the spec does not define. The
/// one table every property reader uses.
pub(crate) fn kind(pid: u8) -> Option<Kind> {
    use id::*;
    Some(match pid {
        PAYLOAD_FORMAT_INDICATOR
        | REQUEST_PROBLEM_INFORMATION
        | REQUEST_RESPONSE_INFORMATION
        | MAXIMUM_QOS
        | RETAIN_AVAILABLE
        | WILDCARD_SUBSCRIPTION_AVAILABLE
        | SUBSCRIPTION_IDENTIFIER_AVAILABLE
        | SHARED_SUBSCRIPTION_AVAILABLE => Kind::Byte,
        SERVER_KEEP_ALIVE | RECEIVE_MAXIMUM | TOPIC_ALIAS_MAXIMUM | TOPIC_ALIAS => Kind::U16,
        MESSAGE_EXPIRY_INTERVAL
        | SESSION_EXPIRY_INTERVAL
        | WILL_DELAY_INTERVAL
        | MAXIMUM_PACKET_SIZE => Kind::U32,
        SUBSCRIPTION_IDENTIFIER => Kind::Vbi,
        CONTENT_TYPE
        | RESPONSE_TOPIC
        | ASSIGNED_CLIENT_IDENTIFIER
        | AUTHENTICATION_METHOD
        | RESPONSE_INFORMATION
        | SERVER_REFERENCE
        | REASON_STRING => Kind::Str,
        CORRELATION_DATA | AUTHENTICATION_DATA => Kind::Bin,
        USER_PROPERTY => Kind::Pair,
        _ => return None,
    })
}

/// The error for an identifier [`kind`] does not know.
pub(crate) const fn unknown_id() -> DecodeError {
    DecodeError::malformed("unknown property identifier")
}

/// The error for a value that runs past the packet.
pub(crate) const VALUE_TRUNCATED: &str = "property value truncated";

fn read_value(r: &mut Reader, pid: u8) -> Result<Value, DecodeError> {
    const WHAT: &str = VALUE_TRUNCATED;
    Ok(match kind(pid).ok_or(unknown_id())? {
        Kind::Byte => Value::Byte(r.u8(WHAT)?),
        Kind::U16 => Value::U16(r.u16(WHAT)?),
        Kind::U32 => Value::U32(r.u32(WHAT)?),
        Kind::Vbi => Value::Vbi(r.vbi(WHAT)?),
        Kind::Str => Value::Str(r.string(WHAT)?),
        Kind::Bin => Value::Bin(r.binary(WHAT)?),
        Kind::Pair => Value::Pair(r.string(WHAT)?, r.string(WHAT)?),
    })
}

/// A packet's property struct: accepts the properties that belong to it and visits them for
/// encoding.
pub(crate) trait PropertySet: Default {
    /// The order the properties were received in, for sets that keep it.
    fn wire_order(&self) -> Option<&WireOrder> {
        None
    }
    /// Where decoding records that order, for sets that keep it.
    fn wire_order_mut(&mut self) -> Option<&mut WireOrder> {
        None
    }
    /// Store one property; refuse identifiers that do not belong to this packet.
    fn set(&mut self, pid: u8, value: Value) -> Result<(), DecodeError>;
    /// Identifiers that may repeat in this packet (besides User Property).
    const REPEATABLE: u64 = 0;
    /// Walk every present property in a fixed order.
    fn visit<S: Sink>(&self, sink: &mut S);
}

/// Read a property block: a Variable Byte Integer length, then that many bytes of properties.
pub(crate) fn decode<P: PropertySet>(r: &mut Reader) -> Result<P, DecodeError> {
    let mut props = P::default();
    decode_into(r, &mut props)?;
    Ok(props)
}

/// Read a property block into `props`. The block is read in place (no sub-buffer): after each
/// property the reader must still be inside the block, so a value cannot run past its end.
fn decode_into<P: PropertySet>(r: &mut Reader, props: &mut P) -> Result<(), DecodeError> {
    let len = r.vbi("property length truncated")? as usize;
    let end = r
        .remaining()
        .checked_sub(len)
        .ok_or(DecodeError::malformed("property block longer than packet"))?;
    let mut seen: u64 = 0;
    while r.remaining() > end {
        let raw_id = r.vbi("property identifier truncated")?;
        let pid = u8::try_from(raw_id)
            .ok()
            .filter(|&p| p < 64)
            .ok_or(unknown_id())?;
        let bit = 1u64 << pid;
        let repeatable = pid == id::USER_PROPERTY || P::REPEATABLE & bit != 0;
        if seen & bit != 0 && !repeatable {
            return Err(DecodeError::protocol("property included more than once"));
        }
        seen |= bit;
        let value = read_value(r, pid)?;
        if r.remaining() < end {
            return Err(DecodeError::malformed("property runs past its block"));
        }
        props.set(pid, value)?;
        if let Some(order) = props.wire_order_mut() {
            order.push(pid);
        }
    }
    Ok(())
}

/// Bytes the block takes on the wire, its length prefix included.
pub(crate) fn encoded_len<P: PropertySet>(props: &P) -> Result<usize, EncodeError> {
    let mut counter = Counter::default();
    props.visit(&mut counter);
    if counter.too_large || counter.len > VBI_MAX as usize {
        return Err(EncodeError::TooLarge);
    }
    Ok(vbi_len(counter.len as u32) + counter.len)
}

/// Write the block, length prefix first. Call [`encoded_len`] first: it validates sizes.
///
/// Properties are written in the order they were received when the value came from the wire
/// (see [`WireOrder`]), else in a fixed canonical order.
pub(crate) fn write<P: PropertySet>(props: &P, out: &mut BytesMut) {
    let mut counter = Counter::default();
    props.visit(&mut counter);
    write_vbi(out, u32::try_from(counter.len).unwrap_or(VBI_MAX));
    let start = out.len();
    let mut writer = Writer {
        out,
        base: start,
        segments: Segments::default(),
    };
    props.visit(&mut writer);
    let segments = writer.segments;
    debug_assert_eq!(out.len() - start, counter.len, "property length mismatch");
    if let Some(order) = props.wire_order().and_then(WireOrder::ids)
        && !segments.overflow
        && !segments.in_order(order)
    {
        reorder(out, start, &segments, order);
    }
}

/// Rewrite the canonical block that starts at `start` in `order`: each id takes the first unused
/// segment with that id; segments the order does not name follow in canonical order.
fn reorder(out: &mut BytesMut, start: usize, segments: &Segments, order: &[u8]) {
    let canonical = out.split_off(start);
    let mut used = [false; SEGMENTS_MAX];
    for &pid in order {
        let next = (0..segments.len).find(|&i| {
            let unused = !used.get(i).copied().unwrap_or(true);
            unused && segments.items.get(i).is_some_and(|&(id, _)| id == pid)
        });
        if let Some(i) = next {
            emit_segment(i, &mut used, segments, &canonical, out);
        }
    }
    for i in 0..segments.len {
        emit_segment(i, &mut used, segments, &canonical, out);
    }
    debug_assert_eq!(
        out.len() - start,
        canonical.len(),
        "reorder changed the length"
    );
}

fn emit_segment(
    i: usize,
    used: &mut [bool; SEGMENTS_MAX],
    segments: &Segments,
    canonical: &[u8],
    out: &mut BytesMut,
) {
    let (Some(flag), Some(&(_, from)), Some(to)) = (
        used.get_mut(i),
        segments.items.get(i),
        segments.end(i, canonical.len()),
    ) else {
        return;
    };
    if !*flag {
        *flag = true;
        out.extend_from_slice(canonical.get(from as usize..to).unwrap_or_default());
    }
}

/// Property ids in the order received, kept so a decoded packet re-encodes byte for byte (the
/// golden tests hold us to that). It is presentation, not value: two `WireOrder`s always compare
/// equal, so it never makes two packets differ. Beyond [`WIRE_ORDER_MAX`] properties the order
/// is not kept and the canonical order is used.
#[derive(Clone, Copy, Default)]
pub struct WireOrder {
    ids: [u8; WIRE_ORDER_MAX],
    len: u8,
    overflow: bool,
}

impl WireOrder {
    /// No recorded order.
    pub const EMPTY: WireOrder = WireOrder {
        ids: [0; WIRE_ORDER_MAX],
        len: 0,
        overflow: false,
    };
}

/// Properties whose order a [`WireOrder`] remembers.
pub const WIRE_ORDER_MAX: usize = 24;

impl WireOrder {
    fn push(&mut self, pid: u8) {
        match self.ids.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = pid;
                self.len += 1;
            }
            None => self.overflow = true,
        }
    }

    /// The recorded order, if one was recorded and it is complete.
    pub fn ids(&self) -> Option<&[u8]> {
        if self.overflow || self.len == 0 {
            return None;
        }
        self.ids.get(..usize::from(self.len))
    }
}

impl PartialEq for WireOrder {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for WireOrder {}

impl std::fmt::Debug for WireOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WireOrder({:?})", self.ids())
    }
}

const SEGMENTS_MAX: usize = 32;

/// Where each property landed in the canonical encoding: (id, start offset).
#[derive(Default)]
struct Segments {
    items: [(u8, u32); SEGMENTS_MAX],
    len: usize,
    overflow: bool,
}

impl Segments {
    fn push(&mut self, pid: u8, offset: usize) {
        match (self.items.get_mut(self.len), u32::try_from(offset)) {
            (Some(slot), Ok(offset)) => {
                *slot = (pid, offset);
                self.len += 1;
            }
            _ => self.overflow = true,
        }
    }

    fn end(&self, i: usize, total: usize) -> Option<usize> {
        match self.items.get(i + 1) {
            Some(&(_, next)) if i + 1 < self.len => Some(next as usize),
            _ => (i < self.len).then_some(total),
        }
    }

    fn in_order(&self, order: &[u8]) -> bool {
        self.items.get(..self.len).is_some_and(|items| {
            items.len() == order.len() && items.iter().zip(order).all(|(&(id, _), &o)| id == o)
        })
    }
}

/// Receives properties during encoding (counting or writing).
pub(crate) trait Sink {
    fn byte(&mut self, pid: u8, v: u8);
    fn u16(&mut self, pid: u8, v: u16);
    fn u32(&mut self, pid: u8, v: u32);
    fn vbi(&mut self, pid: u8, v: u32);
    fn str(&mut self, pid: u8, v: &MqttString);
    fn bin(&mut self, pid: u8, v: &[u8]);
    fn pair(&mut self, pid: u8, k: &MqttString, v: &MqttString);

    fn users(&mut self, users: &UserProperties) {
        for (k, v) in users {
            self.pair(id::USER_PROPERTY, k, v);
        }
    }
}

#[derive(Default)]
struct Counter {
    len: usize,
    too_large: bool,
}

impl Sink for Counter {
    fn byte(&mut self, _: u8, _: u8) {
        self.len += 2;
    }
    fn u16(&mut self, _: u8, _: u16) {
        self.len += 3;
    }
    fn u32(&mut self, _: u8, _: u32) {
        self.len += 5;
    }
    fn vbi(&mut self, _: u8, v: u32) {
        self.too_large |= v > VBI_MAX;
        self.len += 1 + vbi_len(v);
    }
    fn str(&mut self, _: u8, v: &MqttString) {
        self.len += 1 + prefixed_len(v.len());
    }
    fn bin(&mut self, _: u8, v: &[u8]) {
        self.too_large |= v.len() > usize::from(u16::MAX);
        self.len += 1 + prefixed_len(v.len());
    }
    fn pair(&mut self, _: u8, k: &MqttString, v: &MqttString) {
        self.len += 1 + prefixed_len(k.len()) + prefixed_len(v.len());
    }
}

struct Writer<'a> {
    out: &'a mut BytesMut,
    base: usize,
    segments: Segments,
}

impl Writer<'_> {
    /// Record where property `pid` starts and write its identifier; offsets are relative to the
    /// start of the block, which is where `out` stood when the writer was made.
    fn id(&mut self, pid: u8) {
        let offset = self.out.len() - self.base;
        self.segments.push(pid, offset);
        self.out.put_u8(pid);
    }
}

impl Sink for Writer<'_> {
    fn byte(&mut self, pid: u8, v: u8) {
        self.id(pid);
        self.out.put_u8(v);
    }
    fn u16(&mut self, pid: u8, v: u16) {
        self.id(pid);
        self.out.put_u16(v);
    }
    fn u32(&mut self, pid: u8, v: u32) {
        self.id(pid);
        self.out.put_u32(v);
    }
    fn vbi(&mut self, pid: u8, v: u32) {
        self.id(pid);
        write_vbi(self.out, v);
    }
    fn str(&mut self, pid: u8, v: &MqttString) {
        self.id(pid);
        put_string(self.out, v);
    }
    fn bin(&mut self, pid: u8, v: &[u8]) {
        self.id(pid);
        put_binary(self.out, v);
    }
    fn pair(&mut self, pid: u8, k: &MqttString, v: &MqttString) {
        self.id(pid);
        put_string(self.out, k);
        put_string(self.out, v);
    }
}

// ---- value conversions shared by the property structs ----

pub(crate) fn not_allowed() -> DecodeError {
    DecodeError::malformed("property not allowed in this packet")
}

pub(crate) fn flag(v: u8, what: &'static str) -> Result<bool, DecodeError> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError::protocol(what)),
    }
}

pub(crate) fn payload_format(v: u8) -> Result<PayloadFormat, DecodeError> {
    Ok(if flag(v, "payload format indicator not 0 or 1")? {
        PayloadFormat::Utf8
    } else {
        PayloadFormat::Unspecified
    })
}

pub(crate) fn payload_format_byte(p: PayloadFormat) -> u8 {
    match p {
        PayloadFormat::Unspecified => 0,
        PayloadFormat::Utf8 => 1,
    }
}

pub(crate) fn non_zero_u16(v: u16, what: &'static str) -> Result<NonZeroU16, DecodeError> {
    NonZeroU16::new(v).ok_or(DecodeError::protocol(what))
}

pub(crate) fn non_zero_u32(v: u32, what: &'static str) -> Result<NonZeroU32, DecodeError> {
    NonZeroU32::new(v).ok_or(DecodeError::protocol(what))
}

pub(crate) fn max_qos(v: u8) -> Result<QoS, DecodeError> {
    match v {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        _ => Err(DecodeError::protocol("maximum QoS not 0 or 1")),
    }
}

pub(crate) fn subscription_id(v: u32) -> Result<NonZeroU32, DecodeError> {
    non_zero_u32(v, "subscription identifier is 0")
}

pub(crate) fn response_topic(s: MqttString) -> Result<TopicName, DecodeError> {
    TopicName::from_string(s).map_err(|e| {
        e.rule("MQTT-3.3.2-14")
            .with_reason(crate::ReasonCode::ProtocolError)
    })
}
