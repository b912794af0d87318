//! PUBLISH (MQTT 5 section 3.3, MQTT 3.1.1 section 3.3): the one packet on the hot path.
//!
//! The topic and payload stay slices of the received buffer. QoS and packet identifier are one
//! value ([`QosPid`]) so a QoS 0 PUBLISH with an identifier, or a QoS 1 one without, cannot be
//! built. Whether a topic alias is known, and direction rules (a client must not send a
//! Subscription Identifier), are the core's to check.

use super::publish_properties::{PropertyEdits, PublishProperties};
use super::{Packet, PacketType, first_byte};
use crate::error::{DecodeError, EncodeError};
use crate::reader::Reader;
use crate::topic::TopicName;
use crate::types::{PacketId, ProtocolVersion, QoS};
use crate::vbi::vbi_len;
use crate::writer::{prefixed_len, put_fixed_header, put_string};
use bytes::{BufMut, Bytes, BytesMut};

/// QoS together with the packet identifier that QoS 1 and 2 require (MQTT-2.2.1-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QosPid {
    /// QoS 0: no identifier.
    AtMostOnce,
    /// QoS 1 with its identifier.
    AtLeastOnce(PacketId),
    /// QoS 2 with its identifier.
    ExactlyOnce(PacketId),
}

impl QosPid {
    /// The QoS level.
    pub fn qos(self) -> QoS {
        match self {
            QosPid::AtMostOnce => QoS::AtMostOnce,
            QosPid::AtLeastOnce(_) => QoS::AtLeastOnce,
            QosPid::ExactlyOnce(_) => QoS::ExactlyOnce,
        }
    }

    /// The packet identifier, for QoS 1 and 2.
    pub fn packet_id(self) -> Option<PacketId> {
        match self {
            QosPid::AtMostOnce => None,
            QosPid::AtLeastOnce(p) | QosPid::ExactlyOnce(p) => Some(p),
        }
    }

    /// Combine a QoS with an identifier (ignored for QoS 0).
    pub fn from_parts(qos: QoS, packet_id: PacketId) -> QosPid {
        match qos {
            QoS::AtMostOnce => QosPid::AtMostOnce,
            QoS::AtLeastOnce => QosPid::AtLeastOnce(packet_id),
            QoS::ExactlyOnce => QosPid::ExactlyOnce(packet_id),
        }
    }
}

/// The PUBLISH packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// DUP flag: this may be a re-delivery.
    pub dup: bool,
    /// QoS and packet identifier.
    pub qos_pid: QosPid,
    /// RETAIN flag.
    pub retain: bool,
    /// Topic Name; empty only in an MQTT 5 PUBLISH that carries a Topic Alias.
    pub topic: TopicName,
    /// MQTT 5 properties (never encoded for 3.x): the validated block as received.
    pub properties: PublishProperties,
    /// Application message.
    pub payload: Bytes,
}

const FLAG_DUP: u8 = 0b1000;
const FLAG_RETAIN: u8 = 0b0001;

impl Publish {
    /// Decode straight into a [`Packet`]: building the PUBLISH in the returned value, rather than
    /// returning it and wrapping it, saves moving it twice (measured: some 40 instructions of the
    /// 500 a decode takes).
    pub(crate) fn decode(
        flags: u8,
        body: Bytes,
        v: ProtocolVersion,
    ) -> Result<Packet, DecodeError> {
        let qos = QoS::from_u8((flags >> 1) & 0b11)
            .ok_or(DecodeError::malformed("PUBLISH with QoS 3").rule("MQTT-3.3.1-4"))?;
        let dup = flags & FLAG_DUP != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::malformed("DUP set on a QoS 0 PUBLISH").rule("MQTT-3.3.1-2"));
        }
        let mut r = Reader::new(body);
        let topic = TopicName::from_bytes(r.binary("topic name missing")?)?;
        let qos_pid = match qos {
            QoS::AtMostOnce => QosPid::AtMostOnce,
            _ => QosPid::from_parts(qos, PacketId::decode(r.u16("packet identifier missing")?)?),
        };
        let properties = if v.is_v5() {
            PublishProperties::decode(&mut r)?
        } else {
            Default::default()
        };
        if topic.is_empty() && properties.topic_alias().is_none() {
            let err = if v.is_v5() {
                DecodeError::protocol("empty topic name without a topic alias")
                    .with_reason(crate::ReasonCode::TopicNameInvalid)
            } else {
                DecodeError::malformed("empty topic name").rule("MQTT-4.7.3-1")
            };
            return Err(err);
        }
        Ok(Packet::Publish(Publish {
            dup,
            qos_pid,
            retain: flags & FLAG_RETAIN != 0,
            topic,
            properties,
            payload: r.rest(),
        }))
    }

    /// The fixed-header flags this PUBLISH encodes to.
    pub fn flags(&self) -> u8 {
        self.view().flags()
    }

    /// The PUBLISH as borrowed parts, the form the encoder works on.
    pub fn view(&self) -> PublishView<'_> {
        PublishView {
            dup: self.dup,
            qos_pid: self.qos_pid,
            retain: self.retain,
            topic: &self.topic,
            properties: &self.properties,
            payload: &self.payload,
        }
    }

    /// Length of the body (everything after the fixed header) for version `v`.
    pub fn body_len(&self, v: ProtocolVersion) -> Result<usize, EncodeError> {
        self.body_len_edited(v, &PropertyEdits::default())
    }

    /// Length of the body for version `v` with `edits` applied to the properties.
    pub fn body_len_edited(
        &self,
        v: ProtocolVersion,
        edits: &PropertyEdits<'_>,
    ) -> Result<usize, EncodeError> {
        Ok(self.body_and_properties_len(v, edits)?.0)
    }

    fn body_and_properties_len(
        &self,
        v: ProtocolVersion,
        edits: &PropertyEdits<'_>,
    ) -> Result<(usize, usize), EncodeError> {
        self.view().body_and_properties_len(v, edits)
    }

    /// Encode for a connection speaking `v`: the properties exactly as received or built.
    pub fn encode(&self, v: ProtocolVersion, out: &mut BytesMut) -> Result<(), EncodeError> {
        self.encode_edited(v, &PropertyEdits::default(), out)
    }

    /// Encode for a connection speaking `v` with `edits` applied to the properties while they
    /// are copied (forwarding: see [`PropertyEdits`]). Ignored for 3.x, which has no properties.
    pub fn encode_edited(
        &self,
        v: ProtocolVersion,
        edits: &PropertyEdits<'_>,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        self.view().encode_edited(v, edits, out)
    }
}

/// A PUBLISH as borrowed parts: what the broker encodes a stored message from for each
/// subscriber, without building a [`Publish`] (which would take a reference to the topic and
/// the payload, two atomic counts up and down per delivery). [`Publish::encode_edited`] is this
/// encoder too.
#[derive(Debug, Clone, Copy)]
pub struct PublishView<'a> {
    /// DUP flag (never with QoS 0).
    pub dup: bool,
    /// QoS and packet identifier.
    pub qos_pid: QosPid,
    /// RETAIN flag.
    pub retain: bool,
    /// Topic Name; empty only with a Topic Alias among the properties.
    pub topic: &'a TopicName,
    /// MQTT 5 properties (ignored for 3.x).
    pub properties: &'a PublishProperties,
    /// Application message.
    pub payload: &'a [u8],
}

impl PublishView<'_> {
    /// The fixed-header flags.
    pub fn flags(&self) -> u8 {
        let mut flags = self.qos_pid.qos().as_u8() << 1;
        if self.dup {
            flags |= FLAG_DUP;
        }
        if self.retain {
            flags |= FLAG_RETAIN;
        }
        flags
    }

    /// (body length, property block length without its prefix; 0 for 3.x).
    fn body_and_properties_len(
        &self,
        v: ProtocolVersion,
        edits: &PropertyEdits<'_>,
    ) -> Result<(usize, usize), EncodeError> {
        let mut len = prefixed_len(self.topic.len()) + self.payload.len();
        if self.qos_pid.packet_id().is_some() {
            len += 2;
        }
        let mut props = 0;
        if v.is_v5() {
            props = self.properties.edited_len(edits)?;
            len += vbi_len(u32::try_from(props).unwrap_or(u32::MAX)) + props;
        }
        Ok((len, props))
    }

    /// Encode for a connection speaking `v` with `edits` applied to the properties while they
    /// are copied (ignored for 3.x, which has no properties).
    pub fn encode_edited(
        &self,
        v: ProtocolVersion,
        edits: &PropertyEdits<'_>,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        debug_assert!(
            !(self.dup && self.qos_pid == QosPid::AtMostOnce),
            "DUP on QoS 0"
        );
        let (len, props_len) = self.body_and_properties_len(v, edits)?;
        put_fixed_header(out, first_byte(PacketType::Publish, self.flags()), len)?;
        put_string(out, self.topic.as_mqtt_str());
        if let Some(pid) = self.qos_pid.packet_id() {
            out.put_u16(pid.get());
        }
        if v.is_v5() {
            self.properties.write_edited(edits, props_len, out);
        }
        out.put_slice(self.payload);
        Ok(())
    }
}
