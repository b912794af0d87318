//! The bytes the generator sends, encoded once with brokkr-codec into reusable templates, and a
//! cheap scan of what it receives with the codec's framer (`peek_header`).
//!
//! A PUBLISH template is encoded once; sending one more message copies the template and patches
//! the packet identifier (and, for latency, the sequence number in the last 8 payload bytes).
//! The scan reads the fixed header, the packet identifier and the payload's last 8 bytes and
//! decodes nothing else. Received bytes are untrusted: every access is checked, a malformed
//! stream is an error, never a panic.

use brokkr_codec::{
    ClientId, Connect, ConnectProtocol, MqttString, Packet, PacketId, ProtocolVersion, PubAck,
    PubComp, PubRec, PubRel, Publish, QoS, QosPid, Subscribe, SubscriptionOptions, TopicFilter,
    TopicName, peek_header,
};
use bytes::{Buf, Bytes, BytesMut};
use std::io;

/// Largest packet the generator accepts from a broker.
pub const PACKET_BYTES_MAX: usize = 1 << 20;

/// Turn a codec error into an I/O error (the generator's one error type).
pub fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

fn pid(n: u16) -> io::Result<PacketId> {
    PacketId::new(n).ok_or_else(|| invalid("packet identifier 0"))
}

/// Encode any packet for `v`.
pub fn encode(p: &Packet, v: ProtocolVersion, out: &mut BytesMut) -> io::Result<()> {
    p.encode(v, out).map_err(invalid)
}

/// CONNECT with clean start and a 60 s keep alive.
pub fn connect(v: ProtocolVersion, client_id: &str, out: &mut BytesMut) -> io::Result<()> {
    let c = Connect {
        protocol: ConnectProtocol(v),
        clean_start: true,
        keep_alive_secs: 60,
        client_id: ClientId::new(MqttString::new(client_id).map_err(invalid)?),
        ..Default::default()
    };
    encode(&Packet::Connect(Box::new(c)), v, out)
}

/// SUBSCRIBE to one filter.
pub fn subscribe(v: ProtocolVersion, filter: &str, qos: QoS, out: &mut BytesMut) -> io::Result<()> {
    let options = SubscriptionOptions {
        qos,
        ..Default::default()
    };
    let s = Subscribe {
        packet_id: pid(1)?,
        properties: Default::default(),
        filters: vec![(TopicFilter::new(filter).map_err(invalid)?, options)],
    };
    encode(&Packet::Subscribe(s), v, out)
}

/// The response a received QoS 1/2 PUBLISH, PUBREC or PUBREL asks for.
pub fn ack(kind: AckKind, v: ProtocolVersion, id: u16, out: &mut BytesMut) -> io::Result<()> {
    let p = match kind {
        AckKind::PubAck => Packet::PubAck(PubAck::new(pid(id)?)),
        AckKind::PubRec => Packet::PubRec(PubRec::new(pid(id)?)),
        AckKind::PubRel => Packet::PubRel(PubRel::new(pid(id)?)),
        AckKind::PubComp => Packet::PubComp(PubComp::new(pid(id)?)),
    };
    encode(&p, v, out)
}

/// Which publish response to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckKind {
    PubAck,
    PubRec,
    PubRel,
    PubComp,
}

/// One PUBLISH encoded once; copies get their own packet identifier and sequence number.
#[derive(Debug, Clone)]
pub struct PublishTemplate {
    bytes: Vec<u8>,
    pid_offset: Option<usize>,
}

/// Bytes of the payload's tail that carry a sequence number (latency, retained checks).
pub const SEQ_BYTES: usize = 8;

impl PublishTemplate {
    /// A PUBLISH on `topic` with `payload_bytes` of payload (at least [`SEQ_BYTES`]).
    pub fn new(
        v: ProtocolVersion,
        topic: &str,
        payload_bytes: usize,
        qos: QoS,
        retain: bool,
    ) -> io::Result<PublishTemplate> {
        let payload = Bytes::from(vec![b'x'; payload_bytes.max(SEQ_BYTES)]);
        let p = Publish {
            dup: false,
            qos_pid: QosPid::from_parts(qos, pid(1)?),
            retain,
            topic: TopicName::new(topic).map_err(invalid)?,
            properties: Default::default(),
            payload,
        };
        let mut out = BytesMut::new();
        encode(&Packet::Publish(p), v, &mut out)?;
        let header = peek_header(&out, usize::MAX)
            .map_err(invalid)?
            .ok_or_else(|| invalid("template incomplete"))?;
        let pid_offset = (qos != QoS::AtMostOnce).then_some(header.header_len + 2 + topic.len());
        Ok(PublishTemplate {
            bytes: out.to_vec(),
            pid_offset,
        })
    }

    /// Encoded size.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a PUBLISH has a fixed header.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Append a copy with packet identifier `id` (ignored at QoS 0) and sequence number `seq`.
    pub fn append(&self, out: &mut Vec<u8>, id: u16, seq: u64) {
        let start = out.len();
        out.extend_from_slice(&self.bytes);
        let Some(copy) = out.get_mut(start..) else {
            return;
        };
        if let Some(at) = self.pid_offset
            && let Some(dst) = copy.get_mut(at..at + 2)
        {
            dst.copy_from_slice(&id.to_be_bytes());
        }
        let tail = copy.len().saturating_sub(SEQ_BYTES);
        if let Some(dst) = copy.get_mut(tail..) {
            dst.copy_from_slice(&seq.to_be_bytes());
        }
    }
}

/// What the scan found at the front of the read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A PUBLISH: its QoS, identifier (QoS 1/2) and the last 8 payload bytes as a number.
    Publish {
        qos: u8,
        id: u16,
        seq: u64,
    },
    /// CONNACK with its return code / reason code.
    ConnAck {
        code: u8,
    },
    /// SUBACK (the generator subscribes one filter at a time).
    SubAck {
        code: u8,
    },
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    /// Anything else (PINGRESP, DISCONNECT, ...): its packet type.
    Other(u8),
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
        _ => 0,
    }
}

fn tail_u64(b: &[u8]) -> u64 {
    let at = b.len().saturating_sub(SEQ_BYTES);
    b.get(at..)
        .and_then(|t| <[u8; 8]>::try_from(t).ok())
        .map_or(0, u64::from_be_bytes)
}

/// Cut the next packet off `buf`: `Ok(None)` when it is not complete yet.
pub fn next_frame(buf: &mut BytesMut) -> io::Result<Option<Frame>> {
    let Some(h) = peek_header(buf, PACKET_BYTES_MAX).map_err(invalid)? else {
        return Ok(None);
    };
    let len = h.packet_len();
    let Some(body) = buf.get(h.header_len..len) else {
        return Ok(None);
    };
    let frame = match h.packet_type() {
        3 => {
            let qos = (h.flags() >> 1) & 3;
            let topic_len = usize::from(be16(body, 0));
            let id = if qos > 0 {
                be16(body, 2 + topic_len)
            } else {
                0
            };
            Frame::Publish {
                qos,
                id,
                seq: tail_u64(body),
            }
        }
        2 => Frame::ConnAck {
            code: body.get(1).copied().unwrap_or(0xFF),
        },
        9 => Frame::SubAck {
            code: body.last().copied().unwrap_or(0xFF),
        },
        4 => Frame::PubAck(be16(body, 0)),
        5 => Frame::PubRec(be16(body, 0)),
        6 => Frame::PubRel(be16(body, 0)),
        7 => Frame::PubComp(be16(body, 0)),
        t => Frame::Other(t),
    };
    buf.advance(len);
    Ok(Some(frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_copies_carry_id_and_sequence() {
        for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            let t = PublishTemplate::new(v, "bench/a", 64, QoS::AtLeastOnce, false).unwrap();
            let mut out = Vec::new();
            t.append(&mut out, 7, 42);
            t.append(&mut out, 8, 43);
            let mut buf = BytesMut::from(&out[..]);
            let a = next_frame(&mut buf).unwrap().unwrap();
            let b = next_frame(&mut buf).unwrap().unwrap();
            assert_eq!(
                a,
                Frame::Publish {
                    qos: 1,
                    id: 7,
                    seq: 42
                }
            );
            assert_eq!(
                b,
                Frame::Publish {
                    qos: 1,
                    id: 8,
                    seq: 43
                }
            );
            assert!(buf.is_empty());
            let decoded = brokkr_codec::decode_exact(&out[..t.len()], v).unwrap();
            assert!(matches!(decoded, Packet::Publish(p) if p.payload.len() == 64));
        }
    }

    #[test]
    fn partial_packets_wait_for_more() {
        let t =
            PublishTemplate::new(ProtocolVersion::V3_1_1, "a", 16, QoS::AtMostOnce, false).unwrap();
        let mut out = Vec::new();
        t.append(&mut out, 0, 1);
        let mut buf = BytesMut::from(&out[..out.len() - 1]);
        assert_eq!(next_frame(&mut buf).unwrap(), None);
    }
}
