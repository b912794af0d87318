//! The broker half of `--fuzz-file`: the client's bytes go into a one-shard world with the
//! production [`Shard`], beside two sink subscribers on `#` (MQTT 3.1.1 and MQTT 5, QoS 2).
//! Multi-client scripts ([`run_script`]) run on two shards.
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
use brokkr_core::shard::{ConnId, Placement, Shard, SharedState, home_shard};
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
    // A client id homed on this shard, so the sink is never handed over.
    let count = shard.placement().count;
    let name = (0u32..)
        .map(|i| format!("sink-{version:?}-{i}"))
        .find(|n| home_shard(n.as_bytes(), count) == shard.placement().index)
        .unwrap_or_default();
    let connect = Connect {
        protocol: ConnectProtocol(version),
        clean_start: true,
        client_id: ClientId::new(MqttString::new(&name).unwrap_or_default()),
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
/// 0 the client sends `data`; 1 the clock advances by `data[0] * 100` ms and the shards tick;
/// 2 the client's socket drops (its will fires); 3 the client reconnects on a new connection.
/// Takeovers, shared groups, wills and will delay, retained delivery, aliases and queues all
/// arise between clients. The broker has two shards sharing one subscription tree and retained
/// store, as two workers do: clients 0 and 2 are accepted by shard 0, clients 1 and 3 by shard
/// 1, and a CONNECT whose client id is homed on the other shard is handed over, so hand-offs,
/// takeovers across shards and delivery batches between shards are fuzzed too. The sinks live
/// on shard 0. The sink checks run after every step. Returns the PUBLISH packets the sinks
/// received and the connections handed between shards.
pub fn run_script(script: &[u8]) -> (usize, usize) {
    let mut now = 1_000_000;
    let shared = SharedState::new();
    let mut shards = [0u32, 1].map(|i| {
        let place = Placement::new(i, 2).unwrap_or(Placement::SOLE);
        Shard::with_placement(Limits::default(), 11 + u64::from(i), place, shared.clone())
    });
    let [first, _] = &mut shards;
    let mut sinks = [
        sink(first, now, ProtocolVersion::V3_1_1),
        sink(first, now, ProtocolVersion::V5),
    ];
    let mut clients: [Option<(usize, ConnId)>; SCRIPT_CLIENTS] = [None; SCRIPT_CLIENTS];
    let (mut delivered, mut handoffs) = (0, 0);
    let mut rest = script;
    while let Some((&op, tail)) = rest.split_first() {
        let len = tail
            .first_chunk::<2>()
            .map_or(0, |b| usize::from(u16::from_be_bytes(*b)));
        let body = tail.get(2..).unwrap_or_default();
        let data = body.get(..len.min(body.len())).unwrap_or_default();
        rest = body.get(data.len()..).unwrap_or_default();
        let client = usize::from(op >> 2) % SCRIPT_CLIENTS;
        let home = client % 2;
        let Some(slot) = clients.get_mut(client) else {
            continue;
        };
        match op & 0b11 {
            0 => {
                let (at, id) =
                    *slot.get_or_insert_with(|| (home, shard_at(&mut shards, home).accept(now)));
                shard_at(&mut shards, at).bytes_received(now, id, data);
            }
            1 => {
                now += u64::from(data.first().copied().unwrap_or(1)) * 100;
                shards.iter_mut().for_each(|s| s.tick(now));
            }
            2 => {
                if let Some((at, id)) = slot.take() {
                    let shard = shard_at(&mut shards, at);
                    check_client_output(&shard.take_write(id));
                    shard.connection_lost(now, id);
                }
            }
            _ => {
                let fresh = (home, shard_at(&mut shards, home).accept(now));
                if let Some((at, id)) = slot.replace(fresh) {
                    shard_at(&mut shards, at).connection_lost(now, id);
                }
            }
        }
        handoffs += settle(&mut shards, now, &mut clients);
        for &(at, id) in clients.iter().flatten() {
            let shard = shard_at(&mut shards, at);
            let out = shard.take_write(id);
            check_client_output(&out);
            shard.written(id, out.len());
        }
        for (at, shard) in shards.iter_mut().enumerate() {
            for id in shard.take_closed() {
                if let Some(slot) = clients.iter_mut().find(|c| **c == Some((at, id))) {
                    *slot = None;
                    shard.connection_lost(now, id);
                }
            }
        }
        handoffs += settle(&mut shards, now, &mut clients);
        delivered += drain_all(&mut shards, &mut sinks);
    }
    shards.iter_mut().for_each(|s| s.shutdown_wills(now));
    settle(&mut shards, now, &mut clients);
    shards.iter_mut().for_each(|s| s.shutdown_close(now));
    (delivered + drain_all(&mut shards, &mut sinks), handoffs)
}

/// Shard `at` of two (a client slot's shard index is always 0 or 1).
fn shard_at(shards: &mut [Shard; 2], at: usize) -> &mut Shard {
    let [first, second] = shards;
    if at == 0 { first } else { second }
}

/// Move hand-offs and delivery batches between the two shards, as the server's inboxes do.
/// Returns the hand-offs.
fn settle(shards: &mut [Shard; 2], now: u64, clients: &mut [Option<(usize, ConnId)>]) -> usize {
    let mut handoffs = 0;
    // Hand-offs are answered where they land and deliveries fan out no further, so two rounds
    // always suffice; the bound only makes that visible.
    for _ in 0..4 {
        let mut moved = false;
        for from in 0..2 {
            let to = 1 - from;
            for h in shard_at(shards, from).take_handoffs() {
                assert_eq!(h.shard as usize, to, "hand-off to the other shard");
                let id = shard_at(shards, to).accept_handoff(now, &h);
                if let Some(slot) = clients.iter_mut().find(|c| **c == Some((from, h.conn))) {
                    *slot = Some((to, id));
                }
                handoffs += 1;
                moved = true;
            }
            let batch = shard_at(shards, from).take_outbox(to as u32);
            assert!(shard_at(shards, from).take_outbox(from as u32).is_empty());
            if !batch.is_empty() {
                shard_at(shards, to).deliver_remote(now, batch);
                moved = true;
            }
        }
        if !moved {
            return handoffs;
        }
    }
    assert!(
        shards.iter().all(|s| !s.has_outbox()),
        "deliveries keep bouncing between shards"
    );
    handoffs
}

/// Finish shard 1's background work (its subscribers' retained deliveries), pass what it
/// produced to shard 0, then drain the sinks there.
fn drain_all(shards: &mut [Shard; 2], sinks: &mut [Sink; 2]) -> usize {
    let [first, second] = shards;
    for _ in 0..10_000 {
        if !second.run_background(0, 64) {
            break;
        }
    }
    let batch = second.take_outbox(0);
    first.deliver_remote(0, batch);
    drain(first, sinks)
}
