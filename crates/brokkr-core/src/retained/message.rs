//! A retained message as the store keeps it: one allocation per message.
//!
//! The body of the message's PUBLISH, as MQTT 5 encodes it at QoS 0 (topic, property block,
//! payload), is kept in one reference-counted buffer beside the message's QoS and reception
//! time. That is some 100 bytes less per message than a shared [`Message`] with its own topic
//! and payload buffers (the retained-flood target bounds the broker's memory), and it is what
//! a QoS 0 delivery writes: a subscriber to `#` gets most retained messages as one fixed header
//! and one copy of the stored bytes ([`RetainedMessage::encode_qos0`]). Deliveries that need
//! more (QoS 1/2, an expiry to lower, a topic alias or subscription identifier, a read ACL)
//! decode the stored body back into a [`Message`] whose topic and payload share the buffer
//! ([`RetainedMessage::to_message`]).

use crate::message::Message;
use brokkr_codec::vbi::{vbi_len, write_vbi};
use brokkr_codec::{Packet, PacketType, ProtocolVersion, QoS, RawPacket};
use bytes::{BufMut, Bytes, BytesMut};
use std::sync::Arc;

/// The fixed header's first byte of a retained delivery at QoS 0: PUBLISH, RETAIN set.
const FIRST_BYTE_QOS0_RETAIN: u8 = ((PacketType::Publish as u8) << 4) | 0b0001;

/// A retained message, compact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedMessage {
    /// Topic (length-prefixed), property block (its length a Variable Byte Integer), payload.
    body: Arc<[u8]>,
    received_ms: u64,
    qos: QoS,
}

impl RetainedMessage {
    /// The stored form of `msg` (its property block as forwarded: no Topic Alias or
    /// Subscription Identifier). `None` if it could not be a PUBLISH (longer than a packet may
    /// be), which a message that arrived in one never is.
    pub fn new(msg: &Message) -> Option<RetainedMessage> {
        let topic = msg.topic.as_str().as_bytes();
        let props = msg.properties.as_bytes();
        let props_len = u32::try_from(props.len()).ok()?;
        let len = 2 + topic.len() + vbi_len(props_len) + props.len() + msg.payload.len();
        if u32::try_from(len).ok()? > brokkr_codec::vbi::VBI_MAX {
            return None;
        }
        let mut body = Vec::with_capacity(len);
        body.put_u16(u16::try_from(topic.len()).ok()?);
        body.put_slice(topic);
        write_vbi(&mut body, props_len);
        body.put_slice(props);
        body.put_slice(&msg.payload);
        debug_assert_eq!(body.len(), len);
        Some(RetainedMessage {
            body: body.into(),
            received_ms: msg.received_ms,
            qos: msg.qos,
        })
    }

    /// When the broker received it (the shard's clock).
    pub fn received_ms(&self) -> u64 {
        self.received_ms
    }

    /// The QoS it was published with.
    pub fn qos(&self) -> QoS {
        self.qos
    }

    fn topic_len(&self) -> usize {
        match self.body.get(..2) {
            Some(&[hi, lo]) => usize::from(u16::from_be_bytes([hi, lo])),
            _ => 0,
        }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        let bytes = self.body.get(2..2 + self.topic_len()).unwrap_or_default();
        std::str::from_utf8(bytes).unwrap_or_default()
    }

    /// True if the message has MQTT 5 properties (a Message Expiry Interval among them,
    /// perhaps): such a message is delivered through [`RetainedMessage::to_message`].
    pub fn has_properties(&self) -> bool {
        // A Variable Byte Integer of 0 is the single byte 0.
        self.body.get(2 + self.topic_len()) != Some(&0)
    }

    /// The message, its topic, payload and properties slices of the stored buffer (no copy).
    pub fn to_message(&self) -> Option<Message> {
        let raw = RawPacket {
            first_byte: FIRST_BYTE_QOS0_RETAIN,
            body: Bytes::from_owner(Arc::clone(&self.body)),
        };
        let decoded = Packet::decode(raw, ProtocolVersion::V5);
        debug_assert!(decoded.is_ok(), "a stored retained message decodes");
        let Ok(Packet::Publish(p)) = decoded else {
            return None;
        };
        Some(Message {
            topic: p.topic,
            payload: p.payload,
            qos: self.qos,
            retain: true,
            properties: p.properties,
            received_ms: self.received_ms,
        })
    }

    /// Append its delivery at QoS 0 with RETAIN set for a client speaking `v`, the message as
    /// stored: only for a message without properties ([`RetainedMessage::has_properties`]),
    /// since nothing is edited here. Returns the bytes written.
    pub fn encode_qos0(&self, v: ProtocolVersion, out: &mut BytesMut) -> usize {
        debug_assert!(!self.has_properties(), "properties are edited per delivery");
        let before = out.len();
        let body: &[u8] = &self.body;
        let (head, tail) = if v.is_v5() {
            (body, &[][..])
        } else {
            // MQTT 3.x has no property block: the topic, then the payload after the block's
            // one-byte length.
            let topic_end = 2 + self.topic_len();
            (
                body.get(..topic_end).unwrap_or_default(),
                body.get(topic_end + 1..).unwrap_or_default(),
            )
        };
        let len = head.len() + tail.len();
        out.reserve(1 + vbi_len(u32::try_from(len).unwrap_or(u32::MAX)) + len);
        out.put_u8(FIRST_BYTE_QOS0_RETAIN);
        write_vbi(out, u32::try_from(len).unwrap_or(u32::MAX));
        out.put_slice(head);
        out.put_slice(tail);
        out.len() - before
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Delivery, EncodeCache, encode_delivery};
    use brokkr_codec::{PublishPropertiesBuilder, QosPid, TopicName};

    fn message(props: bool) -> Message {
        let properties = if props {
            PublishPropertiesBuilder {
                message_expiry_interval_secs: Some(60),
                content_type: brokkr_codec::MqttString::new("text/plain").ok(),
                ..Default::default()
            }
            .build()
            .unwrap()
        } else {
            Default::default()
        };
        Message {
            topic: TopicName::new("plant/line-3/temp").unwrap(),
            payload: Bytes::from(vec![7u8; 300]),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties,
            received_ms: 1_234,
        }
    }

    #[test]
    fn round_trips_to_the_message() {
        for props in [false, true] {
            let m = message(props);
            let r = RetainedMessage::new(&m).unwrap();
            assert_eq!(r.to_message().unwrap(), m);
            assert_eq!(r.topic(), "plant/line-3/temp");
            assert_eq!((r.qos(), r.received_ms()), (QoS::AtLeastOnce, 1_234));
            assert_eq!(r.has_properties(), props);
        }
    }

    #[test]
    fn qos0_encoding_is_what_the_encoder_writes_for_a_retained_delivery() {
        let m = message(false);
        let r = RetainedMessage::new(&m).unwrap();
        for v in [
            ProtocolVersion::V3_1,
            ProtocolVersion::V3_1_1,
            ProtocolVersion::V5,
        ] {
            let mut fast = BytesMut::from(&b"before"[..]);
            let n = r.encode_qos0(v, &mut fast);
            let mut slow = BytesMut::from(&b"before"[..]);
            let d = Delivery {
                version: v,
                qos_pid: QosPid::AtMostOnce,
                retain: true,
                dup: false,
                alias: None,
                subscription_ids: &[],
            };
            let want = encode_delivery(&m, &d, 1_234, &mut EncodeCache::default(), &mut slow);
            assert_eq!(fast, slow, "{v:?}");
            assert_eq!(Ok(n), want);
        }
    }
}
