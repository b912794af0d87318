//! The broker half of `--fuzz-file`: the client's bytes go into a one-shard world with the
//! production [`Shard`], beside two sink subscribers on `#` (MQTT 3.1.1 and MQTT 5, QoS 2).
//! Every byte the shard writes, to the sinks and back to the fuzzed client, must decode with our
//! codec, and the sinks must only ever receive PUBLISH (plus their own CONNACK and SUBACK). The
//! clock advances 10 ms per chunk, so timers run too; at the end the
//! client's connection drops, so its will fires.
#![allow(clippy::panic)] // the oracles panic on purpose: in fuzz mode a panic aborts

use brokkr_codec::{
    ClientId, Connect, ConnectProtocol, MqttString, Packet, PacketType, ProtocolVersion, QoS,
    Subscribe, SubscriptionOptions, TopicFilter, framer,
};
use brokkr_core::limits::Limits;
use brokkr_core::shard::{ConnId, Shard};
use bytes::BytesMut;

struct Sink {
    id: ConnId,
    version: ProtocolVersion,
    inbox: BytesMut,
}

/// Run `bytes` as one client of a fresh shard; `chunk` is how many bytes arrive at a time.
/// Returns the number of PUBLISH packets the sinks received.
pub fn run(bytes: &[u8], chunk: usize) -> usize {
    let mut now = 1_000_000;
    let mut shard = Shard::new(Limits::default(), 7);
    let mut sinks = [
        sink(&mut shard, now, ProtocolVersion::V3_1_1),
        sink(&mut shard, now, ProtocolVersion::V5),
    ];
    let client = shard.accept(now);
    let mut delivered = 0;
    for piece in bytes.chunks(chunk.max(1)) {
        shard.bytes_received(now, client, piece);
        now += 10;
        shard.tick(now);
        delivered += drain(&mut shard, &mut sinks);
    }
    let client_out = shard.write_buffer(client).to_vec();
    check_client_output(&client_out);
    shard.connection_lost(now, client);
    shard.tick(now + 3_700_000);
    delivered + drain(&mut shard, &mut sinks)
}

fn sink(shard: &mut Shard, now: u64, version: ProtocolVersion) -> Sink {
    let id = shard.accept(now);
    let connect = Connect {
        protocol: ConnectProtocol(version),
        clean_start: true,
        client_id: ClientId::new(MqttString::new(&format!("sink-{version:?}")).unwrap_or_default()),
        ..Default::default()
    };
    let options = SubscriptionOptions {
        qos: QoS::ExactlyOnce,
        ..Default::default()
    };
    let mut bytes = BytesMut::new();
    let Some(packet_id) = brokkr_codec::PacketId::new(1) else {
        panic!("1 is a packet id")
    };
    let subscribe = TopicFilter::new("#").ok().map(|f| Subscribe {
        packet_id,
        properties: Default::default(),
        filters: vec![(f, options)],
    });
    let ok = Packet::Connect(Box::new(connect))
        .encode(version, &mut bytes)
        .is_ok()
        && subscribe.is_some_and(|s| Packet::Subscribe(s).encode(version, &mut bytes).is_ok());
    assert!(ok, "sink packets encode");
    shard.bytes_received(now, id, &bytes);
    let mut s = Sink {
        id,
        version,
        inbox: BytesMut::new(),
    };
    let mut first = Vec::new();
    read(shard, &mut s, |p| first.push(p.packet_type()));
    assert_eq!(
        first,
        [PacketType::ConnAck, PacketType::SubAck],
        "sink set-up"
    );
    s
}

/// Decode everything written to the sinks; acknowledge QoS 1/2 so flows continue. Returns the
/// number of PUBLISH packets seen.
fn drain(shard: &mut Shard, sinks: &mut [Sink; 2]) -> usize {
    // Background work (retained deliveries) runs in bounded slices; finish it, boundedly.
    for _ in 0..10_000 {
        if !shard.run_background(0, 64) {
            break;
        }
    }
    let mut publishes = 0;
    for s in sinks.iter_mut() {
        let mut acks = Vec::new();
        read(shard, s, |p| match p {
            Packet::Publish(p) => {
                publishes += 1;
                match p.qos_pid {
                    brokkr_codec::QosPid::AtMostOnce => {}
                    brokkr_codec::QosPid::AtLeastOnce(id) => {
                        acks.push(Packet::PubAck(brokkr_codec::PubAck::new(id)))
                    }
                    brokkr_codec::QosPid::ExactlyOnce(id) => {
                        acks.push(Packet::PubRec(brokkr_codec::PubRec::new(id)))
                    }
                }
            }
            Packet::PubRel(r) => {
                acks.push(Packet::PubComp(brokkr_codec::PubComp::new(r.packet_id)))
            }
            // Only at shutdown (the end of a script).
            Packet::Disconnect(d) if d.reason == brokkr_codec::ReasonCode::ServerShuttingDown => {}
            other => panic!("sink received {other:?}"),
        });
        let mut bytes = BytesMut::new();
        for a in acks {
            assert!(a.encode(s.version, &mut bytes).is_ok());
        }
        shard.bytes_received(0, s.id, &bytes);
    }
    publishes
}

fn read(shard: &mut Shard, s: &mut Sink, mut f: impl FnMut(Packet)) {
    let out = shard.write_buffer(s.id).to_vec();
    shard.consumed(s.id, out.len());
    s.inbox.extend_from_slice(&out);
    loop {
        match framer::next_packet(&mut s.inbox, usize::MAX) {
            Ok(Some(raw)) => match Packet::decode(raw, s.version) {
                Ok(p) => f(p),
                Err(e) => panic!("broker wrote an undecodable packet to a sink: {e}"),
            },
            Ok(None) => return,
            Err(e) => panic!("broker wrote a malformed frame to a sink: {e}"),
        }
    }
}

/// The bytes written back to the fuzzed client must frame and decode in some protocol version
/// (the client's: CONNACK comes first and its layout tells which).
fn check_client_output(out: &[u8]) {
    if out.is_empty() {
        return;
    }
    let decodes = |v: ProtocolVersion| {
        let mut buf = BytesMut::from(out);
        loop {
            match framer::next_packet(&mut buf, usize::MAX) {
                Ok(Some(raw)) => {
                    if Packet::decode(raw, v).is_err() {
                        return false;
                    }
                }
                Ok(None) => return buf.is_empty(),
                Err(_) => return false,
            }
        }
    };
    assert!(
        ProtocolVersion::ALL.into_iter().any(decodes),
        "broker wrote undecodable bytes to the client: {out:02x?}"
    );
}

/// Clients a script can drive.
const SCRIPT_CLIENTS: usize = 4;

/// A multi-client script (selector 0x07): steps of `[op, len_hi, len_lo, data...]`. The low two
/// bits of `op` pick the action, the next two the client:
/// 0 the client sends `data`; 1 the clock advances by `data[0] * 100` ms and the shard ticks;
/// 2 the client's socket drops (its will fires); 3 the client reconnects on a new connection.
/// Takeovers, shared groups, wills and will delay, retained delivery, aliases and queues all
/// arise between clients. The sink checks run after every step. Returns PUBLISH packets the
/// sinks received.
pub fn run_script(script: &[u8]) -> usize {
    let mut now = 1_000_000;
    let mut shard = Shard::new(Limits::default(), 11);
    let mut sinks = [
        sink(&mut shard, now, ProtocolVersion::V3_1_1),
        sink(&mut shard, now, ProtocolVersion::V5),
    ];
    let mut clients: [Option<ConnId>; SCRIPT_CLIENTS] = [None; SCRIPT_CLIENTS];
    let mut delivered = 0;
    let mut rest = script;
    while let Some((&op, tail)) = rest.split_first() {
        let len = tail
            .first_chunk::<2>()
            .map_or(0, |b| usize::from(u16::from_be_bytes(*b)));
        let body = tail.get(2..).unwrap_or_default();
        let data = body.get(..len.min(body.len())).unwrap_or_default();
        rest = body.get(data.len()..).unwrap_or_default();
        let Some(slot) = clients.get_mut(usize::from(op >> 2) % SCRIPT_CLIENTS) else {
            continue;
        };
        match op & 0b11 {
            0 => {
                let id = *slot.get_or_insert_with(|| shard.accept(now));
                shard.bytes_received(now, id, data);
            }
            1 => {
                now += u64::from(data.first().copied().unwrap_or(1)) * 100;
                shard.tick(now);
            }
            2 => {
                if let Some(id) = slot.take() {
                    check_client_output(&shard.take_write(id));
                    shard.connection_lost(now, id);
                }
            }
            _ => {
                if let Some(id) = slot.replace(shard.accept(now)) {
                    shard.connection_lost(now, id);
                }
            }
        }
        for id in clients.iter().flatten() {
            let out = shard.take_write(*id);
            check_client_output(&out);
            shard.written(*id, out.len());
        }
        for id in shard.take_closed() {
            if let Some(slot) = clients.iter_mut().find(|c| **c == Some(id)) {
                *slot = None;
                shard.connection_lost(now, id);
            }
        }
        delivered += drain(&mut shard, &mut sinks);
    }
    shard.shutdown(now);
    delivered + drain(&mut shard, &mut sinks)
}
