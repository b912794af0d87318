//! The application message as the broker keeps it, and its encoding for each subscriber.
//!
//! A PUBLISH is turned into one [`Message`] (reference-counted by the caller) that every
//! delivery shares. Encoding for a subscriber depends on the protocol version, the delivery QoS,
//! the RETAIN flag, the DUP flag, a topic alias and subscription identifiers; a fan-out to many
//! subscribers encodes each combination of version, QoS and RETAIN once ([`EncodeCache`]) and
//! only patches the two packet-identifier bytes per subscriber. Deliveries that carry an alias
//! or subscription identifiers are encoded individually. The received property block is never
//! parsed here: it is copied with the per-delivery changes applied ([`PropertyEdits`]).

use brokkr_codec::properties::id;
use brokkr_codec::{
    EncodeError, IdSet, PropertyEdits, ProtocolVersion, Publish, PublishProperties, PublishView,
    QoS, QosPid, TopicName,
};
use bytes::{Bytes, BytesMut};
use std::num::{NonZeroU16, NonZeroU32};
use std::sync::Arc;

/// Properties that belong to one connection, never forwarded as received: the Topic Alias (its
/// mapping lives in one network connection) and Subscription Identifiers (a client must not send
/// them; the broker sends each subscriber its own).
const PER_CONNECTION: IdSet = IdSet::EMPTY
    .with(id::TOPIC_ALIAS)
    .with(id::SUBSCRIPTION_IDENTIFIER);

/// An application message, shared by all its deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The topic (an alias already resolved).
    pub topic: TopicName,
    /// The payload.
    pub payload: Bytes,
    /// The QoS it was published with.
    pub qos: QoS,
    /// The RETAIN flag it was published with.
    pub retain: bool,
    /// MQTT 5 properties to forward: without Topic Alias and Subscription Identifiers, which are
    /// per connection; Message Expiry Interval as received.
    pub properties: PublishProperties,
    /// When the broker received it, in milliseconds of the shard's clock.
    pub received_ms: u64,
}

impl Message {
    /// The message a PUBLISH carries. `topic` is the resolved topic (the PUBLISH's own, or the
    /// one its alias stands for).
    pub fn from_publish(publish: Publish, topic: TopicName, now_ms: u64) -> Message {
        Message {
            topic,
            payload: publish.payload,
            qos: publish.qos_pid.qos(),
            retain: publish.retain,
            // The received block itself; a copy only when it holds an alias or identifiers.
            properties: publish.properties.without(PER_CONNECTION),
            received_ms: now_ms,
        }
    }

    /// A message with no topic, payload or properties (what a [`MessagePool`] keeps).
    pub fn empty() -> Message {
        Message {
            topic: TopicName::default(),
            payload: Bytes::new(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: PublishProperties::default(),
            received_ms: 0,
        }
    }

    /// A copy whose topic and payload have their own allocations, for messages kept beyond the
    /// read buffer they arrived in (queues, retained store).
    pub fn compact(&self) -> Message {
        Message {
            topic: self.topic.compact(),
            payload: Bytes::copy_from_slice(&self.payload),
            properties: self.properties.compact(),
            ..self.clone()
        }
    }

    /// Remaining Message Expiry Interval at `now_ms`: `Ok(None)` without one, `Err(Expired)` once
    /// it has passed (the message is dropped: MQTT-3.3.2-5), else the interval minus the whole
    /// seconds waited (MQTT-3.3.2-6).
    pub fn remaining_expiry_secs(&self, now_ms: u64) -> Result<Option<u32>, Expired> {
        let Some(interval) = self.properties.message_expiry_interval_secs() else {
            return Ok(None);
        };
        let waited_secs = now_ms.saturating_sub(self.received_ms) / 1000;
        let left = u64::from(interval).saturating_sub(waited_secs);
        if left == 0 {
            Err(Expired)
        } else {
            Ok(Some(u32::try_from(left).unwrap_or(interval)))
        }
    }
}

/// Allocations of finished messages, for the next ones: a QoS 1/2 message lives until its
/// subscriber's acknowledgement, so under load hundreds are alive at once and each new one would
/// take malloc's slow path (a `Message` is 112 bytes, above glibc's fast bins). A message whose
/// flow ended is handed back ([`MessagePool::give`]) and, if nothing else holds it, emptied
/// (so it pins no received buffer) and kept, up to [`MESSAGE_POOL_MAX`].
#[derive(Debug, Default)]
pub struct MessagePool {
    free: Vec<Arc<Message>>,
}

/// Empty messages a [`MessagePool`] keeps (128 bytes each).
pub const MESSAGE_POOL_MAX: usize = 256;

impl MessagePool {
    /// `message` in a shared allocation, a kept one if there is one.
    pub fn take(&mut self, message: Message) -> Arc<Message> {
        if let Some(mut kept) = self.free.pop()
            && let Some(slot) = Arc::get_mut(&mut kept)
        {
            *slot = message;
            return kept;
        }
        Arc::new(message)
    }

    /// A message no longer needed by its holder: kept for reuse if it was the last reference.
    pub fn give(&mut self, mut message: Arc<Message>) {
        if self.free.len() >= MESSAGE_POOL_MAX {
            return;
        }
        if let Some(m) = Arc::get_mut(&mut message) {
            *m = Message::empty();
            self.free.push(message);
        }
    }

    /// Allocations kept.
    pub fn len(&self) -> usize {
        self.free.len()
    }

    /// True if none is kept.
    pub fn is_empty(&self) -> bool {
        self.free.is_empty()
    }
}

/// The message's expiry interval has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired;

/// How one subscriber receives one message.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The subscriber's protocol version.
    pub version: ProtocolVersion,
    /// min(published QoS, granted QoS, max QoS), with the packet id for QoS 1 and 2.
    pub qos_pid: QosPid,
    /// RETAIN as the subscriber sees it (Retain As Published, or retained-on-subscribe).
    pub retain: bool,
    /// DUP: this is a resend.
    pub dup: bool,
    /// Topic alias to send (MQTT 5): `Some((alias, true))` defines it with the topic,
    /// `Some((alias, false))` uses it with an empty topic.
    pub alias: Option<(NonZeroU16, bool)>,
    /// Subscription identifiers of the matching subscriptions (MQTT 5).
    pub subscription_ids: &'a [NonZeroU32],
}

impl Delivery<'_> {
    fn cacheable(&self) -> bool {
        self.alias.is_none() && self.subscription_ids.is_empty() && !self.dup
    }

    fn cache_slot(&self) -> usize {
        let version = usize::from(self.version.is_v5());
        let qos = usize::from(self.qos_pid.qos().as_u8());
        (version * 3 + qos) * 2 + usize::from(self.retain)
    }
}

/// What a cache knows of one (version, QoS, RETAIN) combination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Slot {
    /// Not delivered yet.
    #[default]
    Empty,
    /// Delivered once, encoded straight into that subscriber's buffer and not kept: most
    /// messages (fan-in, pairs) have one subscriber, who should not pay for a copy.
    Once,
    /// Kept in the cache's buffer at `start..start + len`, the packet identifier (QoS 1 and 2)
    /// at `pid_offset` within it.
    Kept {
        start: u32,
        len: u32,
        pid_offset: Option<u32>,
    },
}

/// Encodings of one message during one fan-out (one `now`), by version, QoS and RETAIN. The
/// first delivery of a combination is encoded straight into its subscriber's buffer; the second
/// encodes it once more into the cache's buffer, which every later one copies. A cache can be
/// kept and [`reset`](EncodeCache::reset) for the next message, so its buffer is reused.
#[derive(Debug, Default)]
pub struct EncodeCache {
    slots: [Slot; 12],
    /// The kept encodings, back to back.
    buf: BytesMut,
    /// Encodings kept for reuse (for tests and statistics).
    pub built: usize,
}

/// Buffer capacity a reset cache keeps: a burst of large messages does not stay resident.
const CACHE_KEEP_BYTES: usize = 16 * 1024;

impl EncodeCache {
    /// Forget every encoding, for another message (or another `now`); the buffer is kept
    /// unless it grew past [`CACHE_KEEP_BYTES`].
    pub fn reset(&mut self) {
        self.slots = Default::default();
        if self.buf.capacity() > CACHE_KEEP_BYTES {
            self.buf = BytesMut::new();
        } else {
            self.buf.clear();
        }
    }
}

/// Encode `msg` for one subscriber into `out`; returns the bytes written. The caller drops
/// expired messages first ([`Message::remaining_expiry_secs`]); an expired one is refused here,
/// except as a resend (DUP), which goes out with 0 seconds left (MQTT-4.3.3-7).
/// A cache is valid for one message at one `now_ms`.
pub fn encode_delivery(
    msg: &Message,
    d: &Delivery<'_>,
    now_ms: u64,
    cache: &mut EncodeCache,
    out: &mut BytesMut,
) -> Result<usize, EncodeError> {
    let start = out.len();
    let slot = d.cacheable().then(|| d.cache_slot());
    let kept = match slot.and_then(|i| cache.slots.get(i).copied()) {
        Some(Slot::Kept {
            start,
            len,
            pid_offset,
        }) => Some((start, len, pid_offset)),
        Some(Slot::Once) => cache.keep(msg, d, now_ms, slot)?,
        Some(Slot::Empty) | None => None,
    };
    let Some((kept_start, kept_len, pid_offset)) = kept else {
        // Not cacheable, or the first delivery of its combination: straight into `out`.
        encode_one(msg, d, now_ms, out)?;
        if let Some(s) = slot.and_then(|i| cache.slots.get_mut(i))
            && *s == Slot::Empty
        {
            *s = Slot::Once;
        }
        return Ok(out.len() - start);
    };
    let (kept_start, kept_len) = (kept_start as usize, kept_len as usize);
    let bytes = cache.buf.get(kept_start..kept_start + kept_len);
    out.extend_from_slice(bytes.unwrap_or_default());
    if let (Some(offset), Some(pid)) = (pid_offset, d.qos_pid.packet_id()) {
        let at = start + offset as usize;
        if let Some(slot) = out.get_mut(at..at + 2) {
            slot.copy_from_slice(&pid.get().to_be_bytes());
        }
    }
    Ok(out.len() - start)
}

impl EncodeCache {
    /// Encode `d` into the cache's buffer and remember it in `slot`: (start, length, offset of
    /// the packet identifier). `None` if it does not fit the cache's 32-bit offsets (then every
    /// delivery is encoded on its own).
    fn keep(
        &mut self,
        msg: &Message,
        d: &Delivery<'_>,
        now_ms: u64,
        slot: Option<usize>,
    ) -> Result<Option<(u32, u32, Option<u32>)>, EncodeError> {
        let before = self.buf.len();
        encode_one(msg, d, now_ms, &mut self.buf)?;
        let encoded = self.buf.get(before..).unwrap_or_default();
        let pid_at = d.qos_pid.packet_id().map(|_| pid_offset(encoded, msg));
        let fits = |n: usize| u32::try_from(n).ok();
        let (Some(start), Some(len)) = (fits(before), fits(encoded.len())) else {
            self.buf.truncate(before);
            return Ok(None);
        };
        // Inside the encoding, so it fits when the length does.
        let pid_at = pid_at.and_then(fits);
        if let Some(s) = slot.and_then(|i| self.slots.get_mut(i)) {
            *s = Slot::Kept {
                start,
                len,
                pid_offset: pid_at,
            };
        }
        self.built += 1;
        Ok(Some((start, len, pid_at)))
    }
}

/// Offset of the packet identifier in an encoded PUBLISH: fixed header, topic length and topic.
fn pid_offset(encoded: &[u8], msg: &Message) -> usize {
    let mut header = 1;
    while encoded.get(header).is_some_and(|b| b & 0x80 != 0) {
        header += 1;
    }
    header + 1 + 2 + msg.topic.len()
}

/// Encode one delivery: the message's properties copied with the Message Expiry Interval
/// lowered by the time waited, and this subscriber's alias and identifiers (MQTT 5 only).
fn encode_one(
    msg: &Message,
    d: &Delivery<'_>,
    now_ms: u64,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let mut edits = PropertyEdits::default();
    if d.version.is_v5() {
        edits = PropertyEdits {
            remove: PER_CONNECTION.with(id::MESSAGE_EXPIRY_INTERVAL),
            message_expiry_interval_secs: match msg.remaining_expiry_secs(now_ms) {
                Ok(left) => left,
                // A resend of a PUBLISH already sent finishes its flow (MQTT-4.3.3-7).
                Err(_) if d.dup => Some(0),
                Err(_) => return Err(EncodeError::TooLarge),
            },
            topic_alias: d.alias.map(|(alias, _)| alias),
            subscription_identifiers: d.subscription_ids,
        };
    }
    let empty = TopicName::default();
    let publish = PublishView {
        dup: d.dup && d.qos_pid != QosPid::AtMostOnce,
        qos_pid: d.qos_pid,
        retain: d.retain,
        // An alias in use stands for the topic, which is then empty (MQTT-3.3.2-12).
        topic: match d.alias {
            Some((_, false)) => &empty,
            _ => &msg.topic,
        },
        properties: &msg.properties,
        payload: &msg.payload,
    };
    publish.encode_edited(d.version, &edits, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use brokkr_codec::{Packet, PacketId, PublishPropertiesBuilder, decode_exact};

    fn message(expiry: Option<u32>) -> Message {
        let properties = PublishPropertiesBuilder {
            message_expiry_interval_secs: expiry,
            user_properties: vec![(
                brokkr_codec::MqttString::new("k").unwrap(),
                brokkr_codec::MqttString::new("v").unwrap(),
            )],
            ..Default::default()
        }
        .build()
        .unwrap();
        Message {
            topic: TopicName::new("plant/line-3/temp").unwrap(),
            payload: Bytes::from_static(b"21.5"),
            qos: QoS::ExactlyOnce,
            retain: true,
            properties,
            received_ms: 1_000,
        }
    }

    fn delivery(version: ProtocolVersion, qos: QoS, pid: u16, retain: bool) -> Delivery<'static> {
        Delivery {
            version,
            qos_pid: QosPid::from_parts(qos, PacketId::new(pid).unwrap()),
            retain,
            dup: false,
            alias: None,
            subscription_ids: &[],
        }
    }

    fn decode(bytes: &[u8], v: ProtocolVersion) -> Publish {
        match decode_exact(bytes, v).unwrap() {
            Packet::Publish(p) => p,
            other => panic!("not a publish: {other:?}"),
        }
    }

    #[test]
    // FlashMQ: testNotMessingUpQosLevels
    fn cached_encodings_match_individual_ones_with_their_own_packet_ids() {
        let msg = message(Some(60));
        let mut cache = EncodeCache::default();
        for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                for pid in [1u16, 300, 65_535] {
                    let d = delivery(version, qos, pid, false);
                    let mut cached = BytesMut::new();
                    encode_delivery(&msg, &d, 3_500, &mut cache, &mut cached).unwrap();
                    let mut single = BytesMut::new();
                    encode_one(&msg, &d, 3_500, &mut single).unwrap();
                    assert_eq!(cached, single, "{version:?} {qos:?} {pid}");
                    let p = decode(&cached, version);
                    assert_eq!(p.qos_pid, d.qos_pid);
                }
            }
        }
        assert_eq!(cache.built, 6, "one encoding per version and QoS");
    }

    #[test]
    fn mqtt_3_3_2_6_expiry_is_reduced_by_the_time_waited() {
        let msg = message(Some(60));
        assert_eq!(msg.remaining_expiry_secs(1_000), Ok(Some(60)));
        assert_eq!(msg.remaining_expiry_secs(11_999), Ok(Some(50)));
        assert_eq!(msg.remaining_expiry_secs(61_000), Err(Expired));
        let mut out = BytesMut::new();
        let d = delivery(ProtocolVersion::V5, QoS::AtMostOnce, 1, false);
        encode_delivery(&msg, &d, 21_000, &mut EncodeCache::default(), &mut out).unwrap();
        assert_eq!(
            decode(&out, ProtocolVersion::V5)
                .properties
                .message_expiry_interval_secs(),
            Some(40)
        );
    }

    #[test]
    // FlashMQ: testUserProperties
    fn v3_receivers_get_no_properties_and_v5_ones_get_them_all() {
        let msg = message(None);
        let mut out = BytesMut::new();
        let d = delivery(ProtocolVersion::V3_1_1, QoS::AtLeastOnce, 9, true);
        encode_delivery(&msg, &d, 0, &mut EncodeCache::default(), &mut out).unwrap();
        assert!(decode(&out, ProtocolVersion::V3_1_1).retain);
        let mut out = BytesMut::new();
        let ids = [NonZeroU32::new(7).unwrap()];
        let d = Delivery {
            subscription_ids: &ids,
            ..delivery(ProtocolVersion::V5, QoS::AtLeastOnce, 9, false)
        };
        encode_delivery(&msg, &d, 0, &mut EncodeCache::default(), &mut out).unwrap();
        let p = decode(&out, ProtocolVersion::V5);
        assert!(p.properties.subscription_identifiers().eq(ids));
        assert_eq!(p.properties.user_properties().count(), 1);
    }

    #[test]
    fn aliases_send_the_topic_once() {
        let msg = message(None);
        let alias = NonZeroU16::new(3).unwrap();
        let mut out = BytesMut::new();
        let d = Delivery {
            alias: Some((alias, true)),
            ..delivery(ProtocolVersion::V5, QoS::AtMostOnce, 1, false)
        };
        encode_delivery(&msg, &d, 0, &mut EncodeCache::default(), &mut out).unwrap();
        let first = decode(&out, ProtocolVersion::V5);
        assert_eq!(
            (first.topic.as_str(), first.properties.topic_alias()),
            ("plant/line-3/temp", Some(alias))
        );
        let mut out = BytesMut::new();
        let d = Delivery {
            alias: Some((alias, false)),
            ..d
        };
        encode_delivery(&msg, &d, 0, &mut EncodeCache::default(), &mut out).unwrap();
        let second = decode(&out, ProtocolVersion::V5);
        assert!(second.topic.is_empty());
    }

    #[test]
    fn the_pool_reuses_a_finished_message_and_nothing_still_shared() {
        let mut pool = MessagePool::default();
        let first = pool.take(message(None));
        let at = Arc::as_ptr(&first);
        let shared = Arc::clone(&first);
        pool.give(first);
        assert!(pool.is_empty(), "still held elsewhere: not kept");
        pool.give(shared);
        assert_eq!(pool.len(), 1);
        let second = pool.take(message(Some(5)));
        assert_eq!(Arc::as_ptr(&second), at, "the same allocation");
        assert_eq!(*second, message(Some(5)));
        for _ in 0..MESSAGE_POOL_MAX + 1 {
            pool.give(Arc::new(message(None)));
        }
        assert_eq!(pool.len(), MESSAGE_POOL_MAX);
        // What is kept holds nothing of the old message.
        pool.give(second);
        assert!(
            pool.free
                .iter()
                .all(|m| m.payload.is_empty() && m.topic.is_empty())
        );
    }

    #[test]
    fn from_publish_drops_per_connection_properties() {
        let mut p = Publish {
            dup: false,
            qos_pid: QosPid::AtMostOnce,
            retain: false,
            topic: TopicName::default(),
            properties: Default::default(),
            payload: Bytes::from_static(b"x"),
        };
        p.properties = PublishPropertiesBuilder {
            topic_alias: NonZeroU16::new(4),
            subscription_identifiers: vec![NonZeroU32::new(2).unwrap()],
            content_type: brokkr_codec::MqttString::new("text/plain").ok(),
            ..Default::default()
        }
        .build()
        .unwrap();
        let m = Message::from_publish(p, TopicName::new("t").unwrap(), 5);
        assert_eq!(m.properties.topic_alias(), None);
        assert_eq!(m.properties.subscription_identifiers().count(), 0);
        assert_eq!(m.properties.content_type(), Some("text/plain"));
        assert_eq!(m.topic.as_str(), "t");
    }
}
