//! What `fanin_turns` and `pubsub_turns` share: the server's side of a turn (take the dirty
//! list and each connection's output) and the harness's client (count deliveries, answer QoS
//! 1/2). Included by both with `#[path]`; not an example of its own.

use brokkr_codec::{Packet, ProtocolVersion, QoS, framer};
use brokkr_core::shard::{ConnId, Shard};
use brokkr_testkit::build::encode;
use bytes::BytesMut;

/// Take every connection's output as the server does; answer what needs an answer. Returns
/// the PUBLISH packets delivered.
pub fn drain(shard: &mut Shard, now: u64, v: ProtocolVersion) -> u64 {
    let mut delivered = 0;
    loop {
        let dirty = broker_dirty(shard);
        if dirty.is_empty() {
            return delivered;
        }
        for conn in dirty {
            let bytes = broker_output(shard, conn);
            let mut buf = BytesMut::from(&bytes[..]);
            let mut answer = BytesMut::new();
            while let Some(raw) = framer::next_packet(&mut buf, usize::MAX).unwrap() {
                match Packet::decode(raw, v).unwrap() {
                    Packet::Publish(p) => {
                        delivered += 1;
                        if let Some(id) = p.qos_pid.packet_id() {
                            let ack = match p.qos_pid.qos() {
                                QoS::ExactlyOnce => Packet::PubRec(brokkr_codec::PubRec::new(id)),
                                _ => Packet::PubAck(brokkr_codec::PubAck::new(id)),
                            };
                            answer.extend_from_slice(&encode(&ack, v));
                        }
                    }
                    Packet::PubRec(r) => answer.extend_from_slice(&encode(
                        &Packet::PubRel(brokkr_codec::PubRel::new(r.packet_id)),
                        v,
                    )),
                    Packet::PubRel(r) => answer.extend_from_slice(&encode(
                        &Packet::PubComp(brokkr_codec::PubComp::new(r.packet_id)),
                        v,
                    )),
                    _ => {}
                }
            }
            if !answer.is_empty() {
                shard.bytes_received(now, conn, &answer);
            }
        }
    }
}

/// The shard's side of taking the dirty list, kept out of line so that callgrind can count the
/// broker apart from this harness's client (`--toggle-collect`, see the header).
#[inline(never)]
fn broker_dirty(shard: &mut Shard) -> Vec<ConnId> {
    shard.take_dirty()
}

/// The shard's side of one connection's output, as the server takes it (out of line, as above).
#[inline(never)]
fn broker_output(shard: &mut Shard, conn: ConnId) -> bytes::Bytes {
    let bytes = shard.take_write(conn);
    shard.written(conn, bytes.len());
    bytes
}
