//! A broker of several shards on one thread with a simulated clock (as brokkr-core's
//! `multi_shard.rs`), which can be saved through the state files and restarted as a fresh
//! broker, with any shard count, on a new clock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

use brokkr_codec::*;
use brokkr_core::limits::Limits;
use brokkr_core::shard::{ConnId, Placement, Shard, SharedState, home_shard};
use brokkr_core::snapshot::split_by_home;
use brokkr_persist::{decode_retained, decode_sessions, encode_retained, encode_sessions};
use brokkr_testkit::build::{self, encode};
use bytes::BytesMut;

pub const V5: ProtocolVersion = ProtocolVersion::V5;
pub const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

/// The wall clock of the save (milliseconds since 1970).
pub const SAVED_AT_MS: u64 = 1_700_000_000_000;

pub struct Cluster {
    pub shards: Vec<Shard>,
    pub now: u64,
    moved: Vec<((usize, ConnId), (usize, ConnId))>,
}

pub struct Client {
    pub shard: usize,
    pub id: ConnId,
    pub v: ProtocolVersion,
    inbox: BytesMut,
    /// Packets that arrived with a CONNACK or SUBACK, returned by the next `recv`.
    backlog: Vec<Packet>,
}

impl Cluster {
    /// A broker of `count` shards whose clock reads `now`.
    pub fn new(count: u32, now: u64) -> Cluster {
        let shared = SharedState::new();
        let shards = (0..count)
            .map(|i| {
                let place = Placement::new(i, count).unwrap();
                Shard::with_placement(Limits::default(), 7 + u64::from(i), place, shared.clone())
            })
            .collect();
        Cluster {
            shards,
            now,
            moved: Vec::new(),
        }
    }

    /// Save as the server does (snapshots encoded into file bytes at `SAVED_AT_MS`), then
    /// start a fresh broker of `count` shards after `down_ms`, on a clock reading `now`, and
    /// load the files into it.
    pub fn restart(&self, count: u32, down_ms: u64, now: u64) -> Cluster {
        let (retained, sessions) = self.save();
        let mut fresh = Cluster::new(count, now);
        fresh.load(&retained, &sessions, SAVED_AT_MS + down_ms);
        fresh
    }

    /// The two files' bytes.
    pub fn save(&self) -> (Vec<u8>, Vec<u8>) {
        let sessions: Vec<_> = self
            .shards
            .iter()
            .flat_map(|s| s.snapshot_sessions(self.now))
            .collect();
        let retained = self.shards[0].shared().snapshot_retained(self.now);
        (
            encode_retained(SAVED_AT_MS, &retained).unwrap(),
            encode_sessions(SAVED_AT_MS, &sessions).unwrap(),
        )
    }

    /// Load the files' bytes as the server will at start-up, the wall clock reading `wall_ms`.
    pub fn load(&mut self, retained: &[u8], sessions: &[u8], wall_ms: u64) {
        let retained = decode_retained(retained).unwrap().into_aged(wall_ms);
        let sessions = decode_sessions(sessions).unwrap().into_aged(wall_ms);
        let count = self.shards.len() as u32;
        let now = self.now;
        self.shards[0].restore_retained(now, retained);
        for (i, list) in split_by_home(sessions, count).into_iter().enumerate() {
            let n = list.len();
            let report = self.shards[i].restore_sessions(now, list);
            assert_eq!((report.restored, report.skipped), (n, 0));
        }
    }

    pub fn id_homed_on(&self, prefix: &str, shard: usize) -> String {
        let count = self.shards.len() as u32;
        (0..)
            .map(|i| format!("{prefix}-{i}"))
            .find(|id| home_shard(id.as_bytes(), count) as usize == shard)
            .unwrap()
    }

    pub fn open(&mut self, on: usize, v: ProtocolVersion) -> Client {
        Client {
            shard: on,
            id: self.shards[on].accept(self.now),
            v,
            inbox: BytesMut::new(),
            backlog: Vec::new(),
        }
    }

    pub fn settle(&mut self) {
        loop {
            let mut moved_any = false;
            for from in 0..self.shards.len() {
                for h in self.shards[from].take_handoffs() {
                    let to = h.shard as usize;
                    let id = self.shards[to].accept_handoff(self.now, &h);
                    self.moved.push(((from, h.conn), (to, id)));
                    moved_any = true;
                }
                for to in 0..self.shards.len() {
                    let batch = self.shards[from].take_outbox(to as u32);
                    if !batch.is_empty() {
                        self.shards[to].deliver_remote(self.now, batch);
                        moved_any = true;
                    }
                }
            }
            if !moved_any {
                return;
            }
        }
    }

    fn locate(&self, c: &mut Client) {
        while let Some(&(_, to)) = self.moved.iter().find(|(from, _)| *from == (c.shard, c.id)) {
            (c.shard, c.id) = to;
        }
    }

    pub fn send(&mut self, c: &mut Client, p: Packet) {
        self.locate(c);
        let bytes = encode(&p, c.v);
        self.shards[c.shard].bytes_received(self.now, c.id, &bytes);
        self.settle();
    }

    pub fn recv(&mut self, c: &mut Client) -> Vec<Packet> {
        self.locate(c);
        loop {
            let mut more = false;
            for s in &mut self.shards {
                more |= s.run_background(self.now, 1_000);
            }
            self.settle();
            if !more {
                break;
            }
        }
        let shard = &mut self.shards[c.shard];
        let out = shard.write_buffer(c.id).to_vec();
        shard.consumed(c.id, out.len());
        c.inbox.extend_from_slice(&out);
        let mut packets = std::mem::take(&mut c.backlog);
        while let Some(raw) = framer::next_packet(&mut c.inbox, usize::MAX).unwrap() {
            packets.push(Packet::decode(raw, c.v).unwrap());
        }
        packets
    }

    pub fn lose(&mut self, c: &mut Client) {
        self.locate(c);
        self.shards[c.shard].connection_lost(self.now, c.id);
        self.settle();
    }

    /// Let `ms` pass and tick every shard.
    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
        let now = self.now;
        for s in &mut self.shards {
            s.tick(now);
        }
        self.settle();
    }

    /// Connect; returns the client and CONNACK's Session Present.
    pub fn connect_with(
        &mut self,
        on: usize,
        v: ProtocolVersion,
        connect: Connect,
    ) -> (Client, bool) {
        let mut c = self.open(on, v);
        self.send(&mut c, Packet::Connect(Box::new(connect)));
        let got = self.recv(&mut c);
        let present = match &got[..] {
            [Packet::ConnAck(a), ..] if a.reason == ReasonCode::Success => a.session_present,
            other => panic!("expected CONNACK, got {other:?}"),
        };
        c.backlog = got.into_iter().skip(1).collect();
        (c, present)
    }

    /// Connect `id` with Clean Start 0 and, for MQTT 5, Session Expiry `expiry_secs`.
    pub fn persistent(&mut self, v: ProtocolVersion, id: &str, expiry_secs: u32) -> (Client, bool) {
        self.connect_with(0, v, persistent_connect(v, id, expiry_secs))
    }

    pub fn subscribe(&mut self, c: &mut Client, filter: &str, qos: QoS) {
        self.send(c, Packet::Subscribe(build::subscribe(1, &[filter], qos)));
        let got = self.recv(c);
        let at = got.iter().position(|p| matches!(p, Packet::SubAck(_)));
        let Some(at) = at else {
            panic!("no SUBACK in {got:?}");
        };
        c.backlog = got;
        c.backlog.remove(at);
    }

    pub fn publish(&mut self, c: &mut Client, p: Publish) {
        self.send(c, Packet::Publish(p));
    }

    pub fn sessions(&self) -> usize {
        self.shards.iter().map(Shard::session_count).sum()
    }
}

pub fn persistent_connect(v: ProtocolVersion, id: &str, expiry_secs: u32) -> Connect {
    let mut connect = build::connect(v, id);
    connect.clean_start = false;
    if v.is_v5() {
        connect.properties.session_expiry_interval_secs = Some(expiry_secs);
    }
    connect
}

/// PUBLISH `payload` on `topic` with packet id `id` (for QoS 1 and 2).
pub fn publish(topic: &str, payload: &[u8], qos: QoS, id: u16, retain: bool) -> Publish {
    let mut p = build::publish(topic, payload, qos, retain);
    if qos != QoS::AtMostOnce {
        p.qos_pid = QosPid::from_parts(qos, build::pid(id));
    }
    p
}

pub fn publishes(p: &[Packet]) -> Vec<&Publish> {
    p.iter()
        .filter_map(|p| match p {
            Packet::Publish(x) => Some(x),
            _ => None,
        })
        .collect()
}

pub fn payloads(p: &[Packet]) -> Vec<Vec<u8>> {
    publishes(p).iter().map(|x| x.payload.to_vec()).collect()
}
