//! Shared harness for the shard tests: a world with a simulated clock and byte-level clients.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

use brokkr_codec::*;
use brokkr_core::limits::Limits;
use brokkr_core::shard::{ConnId, Shard};
use brokkr_testkit::build::{self, encode};
use bytes::BytesMut;

pub struct World {
    pub shard: Shard,
    pub now: u64,
}

pub struct Client {
    pub id: ConnId,
    pub v: ProtocolVersion,
    pub inbox: BytesMut,
}

impl World {
    pub fn new() -> World {
        World {
            shard: Shard::new(Limits::default(), 42),
            now: 1_000,
        }
    }

    /// A world whose shard enforces `limits`.
    pub fn with_limits(limits: Limits) -> World {
        World {
            shard: Shard::new(limits, 42),
            now: 1_000,
        }
    }

    /// Open a connection, send `connect`, return the client and what came back.
    pub fn connect_with(&mut self, connect: Connect) -> (Client, Vec<Packet>) {
        let mut c = self.open(connect.protocol.0);
        self.send(&c, Packet::Connect(Box::new(connect)));
        let got = self.recv(&mut c);
        (c, got)
    }

    /// True if the shard queued `c` for closing since the last call (the list is taken).
    pub fn is_closed(&mut self, c: &Client) -> bool {
        self.closed().contains(&c.id)
    }

    pub fn open(&mut self, v: ProtocolVersion) -> Client {
        Client {
            id: self.shard.accept(self.now),
            v,
            inbox: BytesMut::new(),
        }
    }

    pub fn send(&mut self, c: &Client, p: Packet) {
        let bytes = encode(&p, c.v);
        self.shard.bytes_received(self.now, c.id, &bytes);
    }

    pub fn send_raw(&mut self, c: &Client, bytes: &[u8]) {
        self.shard.bytes_received(self.now, c.id, bytes);
    }

    /// Everything the shard wrote to `c` since the last call, decoded.
    pub fn recv(&mut self, c: &mut Client) -> Vec<Packet> {
        while self.shard.run_background(self.now, 1_000) {}
        let out = self.shard.write_buffer(c.id).to_vec();
        self.shard.consumed(c.id, out.len());
        c.inbox.extend_from_slice(&out);
        let mut packets = Vec::new();
        while let Some(raw) = framer::next_packet(&mut c.inbox, usize::MAX).unwrap() {
            packets.push(Packet::decode(raw, c.v).unwrap());
        }
        packets
    }

    pub fn connect(&mut self, v: ProtocolVersion, id: &str, clean: bool) -> Client {
        let mut c = self.open(v);
        let mut connect = build::connect(v, id);
        connect.clean_start = clean;
        if v.is_v5() && !clean {
            connect.properties.session_expiry_interval_secs = Some(3600);
        }
        self.send(&c, Packet::Connect(Box::new(connect)));
        let got = self.recv(&mut c);
        assert!(
            matches!(&got[..], [Packet::ConnAck(a)] if a.reason == ReasonCode::Success),
            "{got:?}"
        );
        c
    }

    pub fn closed(&mut self) -> Vec<ConnId> {
        self.shard.take_closed()
    }
}

pub fn connack(p: &[Packet]) -> &ConnAck {
    match p {
        [Packet::ConnAck(a), ..] => a,
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

pub fn publishes(p: &[Packet]) -> Vec<&Publish> {
    p.iter()
        .filter_map(|p| {
            if let Packet::Publish(x) = p {
                Some(x)
            } else {
                None
            }
        })
        .collect()
}

pub fn subscribe(w: &mut World, c: &mut Client, filter: &str, qos: QoS) {
    w.send(c, Packet::Subscribe(build::subscribe(1, &[filter], qos)));
    let got = w.recv(c);
    assert!(matches!(got.first(), Some(Packet::SubAck(_))), "{got:?}");
}

pub fn publish(w: &mut World, c: &Client, topic: &str, payload: &[u8], qos: QoS, retain: bool) {
    let mut p = build::publish(topic, payload, qos, retain);
    if qos != QoS::AtMostOnce {
        p.qos_pid = QosPid::from_parts(qos, build::pid(77));
    }
    w.send(c, Packet::Publish(p));
}

/// Connect `id` with a session that outlives the connection (Clean Start 0; for MQTT 5 a
/// five-minute Session Expiry Interval). Returns the client and CONNACK's Session Present.
pub fn persistent(w: &mut World, v: ProtocolVersion, id: &str) -> (Client, bool) {
    let mut c = w.open(v);
    let mut connect = build::connect(v, id);
    connect.clean_start = false;
    if v.is_v5() {
        connect.properties.session_expiry_interval_secs = Some(300);
    }
    w.send(&c, Packet::Connect(Box::new(connect)));
    let got = w.recv(&mut c);
    let present = connack(&got).session_present;
    (c, present)
}

/// Like [`persistent`], but returns everything that came back (CONNACK first, then whatever
/// the resumed session had waiting).
pub fn resume(w: &mut World, v: ProtocolVersion, id: &str) -> (Client, Vec<Packet>) {
    let mut connect = build::connect(v, id);
    connect.clean_start = false;
    if v.is_v5() {
        connect.properties.session_expiry_interval_secs = Some(300);
    }
    w.connect_with(connect)
}

/// A QoS 0 PUBLISH to `topic` with Topic Alias `alias`.
pub fn aliased(topic: &str, alias: u16) -> Packet {
    let mut p = build::publish(topic, b"x", QoS::AtMostOnce, false);
    build::edit_props(&mut p, |b| b.topic_alias = std::num::NonZeroU16::new(alias));
    Packet::Publish(p)
}
