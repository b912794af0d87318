//! The shard: one worker's broker state machine, sans-IO.
//!
//! Inputs are [`Shard::accept`], [`Shard::bytes_received`], [`Shard::connection_lost`] and
//! [`Shard::tick`], each with the current time in milliseconds. Outputs are each connection's
//! write buffer ([`Shard::write_buffer`], acknowledged with [`Shard::consumed`]), the
//! connections to close ([`Shard::take_closed`]) and the next time `tick` is due
//! ([`Shard::next_deadline_ms`]). The shard never reads a clock or touches a socket.
//!
//! This first version is a single-shard world: subscriptions, retained messages and sessions
//! are all local. Cross-shard hand-off and delivery batches come next (ARCHITECTURE.md).

mod conn;
mod connect;
mod connected;
mod route;
mod session;

pub use conn::{Conn, Connected, Phase};
pub use route::RETAINED_NODES_PER_SLICE;
pub use session::{Pending, Session, SubOptions};

use crate::limits::Limits;
use crate::message::Message;
use crate::reject::{Phase as RejectPhase, decode_rejection};
use crate::retained::RetainedStore;
use crate::slab::{Key, Slab};
use crate::subscriptions::{MatchScratch, TopicTree};
use brokkr_codec::{DecodeError, Packet, PacketType, ProtocolVersion, framer};
use bytes::BytesMut;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// A connection handle, as the server knows it.
pub type ConnId = Key;

/// One worker's broker.
#[derive(Debug)]
pub struct Shard {
    limits: Limits,
    rng: fastrand::Rng,
    conns: Slab<Conn>,
    sessions: Slab<Session>,
    by_client_id: FxHashMap<String, Key>,
    tree: TopicTree<Key, SubOptions>,
    retained: RetainedStore<Arc<Message>>,
    closed: Vec<ConnId>,
    dirty: Vec<ConnId>,
    retained_jobs: std::collections::VecDeque<route::RetainedJob>,
    background_waiting: usize,
    route_targets: Vec<(Key, SubOptions)>,
    scratch: MatchScratch,
}

impl Shard {
    /// A shard with `limits`, its randomness seeded with `seed`.
    pub fn new(limits: Limits, seed: u64) -> Shard {
        Shard {
            limits,
            rng: fastrand::Rng::with_seed(seed),
            conns: Slab::default(),
            sessions: Slab::default(),
            by_client_id: FxHashMap::default(),
            tree: TopicTree::new(),
            retained: RetainedStore::new(),
            closed: Vec::new(),
            dirty: Vec::new(),
            retained_jobs: std::collections::VecDeque::new(),
            background_waiting: 0,
            route_targets: Vec::new(),
            scratch: MatchScratch::default(),
        }
    }

    /// A new connection was accepted.
    pub fn accept(&mut self, now_ms: u64) -> ConnId {
        self.conns.insert(Conn {
            read: BytesMut::new(),
            write: BytesMut::new(),
            phase: Phase::AwaitingConnect,
            accepted_ms: now_ms,
            last_packet_ms: now_ms,
            dirty: false,
            in_transit_bytes: 0,
            over_cap_since_ms: None,
        })
    }

    /// Bytes arrived on `conn`.
    pub fn bytes_received(&mut self, now_ms: u64, conn: ConnId, bytes: &[u8]) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        if matches!(c.phase, Phase::Closing) {
            return;
        }
        c.read.extend_from_slice(bytes);
        self.process(now_ms, conn);
    }

    /// Frame and handle every complete packet in `conn`'s read buffer.
    fn process(&mut self, now_ms: u64, conn: ConnId) {
        loop {
            let Some(c) = self.conns.get_mut(conn) else {
                return;
            };
            let (version, connected) = match &c.phase {
                Phase::AwaitingConnect => (None, false),
                Phase::Connected(k) => (Some(k.version), true),
                Phase::Closing => return,
            };
            let cap = self.limits.packet_cap(connected);
            let raw = match framer::next_packet(&mut c.read, cap) {
                Ok(Some(raw)) => raw,
                Ok(None) => return,
                Err(e) => return self.fail(now_ms, conn, version, &e),
            };
            c.last_packet_ms = now_ms;
            let is_connect = raw.first_byte >> 4 == PacketType::Connect as u8;
            let result = match version {
                None if !is_connect => {
                    Err(DecodeError::protocol("first packet is not CONNECT").rule("MQTT-3.1.0-1"))
                }
                None => {
                    let level = brokkr_codec::connect_level(&raw.body);
                    match Packet::decode(raw, ProtocolVersion::V3_1_1) {
                        Ok(Packet::Connect(connect)) => {
                            self.handle_connect(now_ms, conn, *connect);
                            continue;
                        }
                        Ok(_) => Err(DecodeError::protocol("first packet is not CONNECT")),
                        Err(e) => {
                            let v = level_version(level);
                            return self.fail(now_ms, conn, v, &e);
                        }
                    }
                }
                Some(_) if is_connect => {
                    Err(DecodeError::protocol("second CONNECT").rule("MQTT-3.1.0-2"))
                }
                Some(v) => Packet::decode(raw, v),
            };
            match result {
                Ok(packet) => {
                    if let Err(e) = self.handle_packet(now_ms, conn, packet) {
                        return self.fail(now_ms, conn, version, &e);
                    }
                }
                Err(e) => return self.fail(now_ms, conn, version, &e),
            }
        }
    }

    /// Answer a fault on the wire as the connection's phase and version require, then close.
    fn fail(
        &mut self,
        now_ms: u64,
        conn: ConnId,
        version: Option<ProtocolVersion>,
        e: &DecodeError,
    ) {
        let connected = self
            .conns
            .get(conn)
            .is_some_and(|c| c.connected().is_some());
        let phase = if connected {
            RejectPhase::Connected(version.unwrap_or(ProtocolVersion::V3_1_1))
        } else {
            RejectPhase::BeforeConnAck(version)
        };
        if let Some(packet) = decode_rejection(phase, e) {
            let v = version.unwrap_or(ProtocolVersion::V3_1_1);
            self.send(conn, &packet, v);
        }
        self.close(now_ms, conn, true);
    }

    /// Encode `packet` into `conn`'s write buffer.
    fn send(&mut self, conn: ConnId, packet: &Packet, v: ProtocolVersion) {
        self.mark_dirty(conn);
        if let Some(c) = self.conns.get_mut(conn) {
            // Our own packets always encode; a failure would be a bug, not peer input.
            let ok = packet.encode(v, &mut c.write).is_ok();
            debug_assert!(ok, "control packet failed to encode");
        }
    }

    /// Close `conn`: publish the will if `abnormal`, detach or end its session, queue the close.
    fn close(&mut self, now_ms: u64, conn: ConnId, abnormal: bool) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        if matches!(c.phase, Phase::Closing) {
            return;
        }
        let phase = std::mem::replace(&mut c.phase, Phase::Closing);
        c.read = BytesMut::new();
        self.closed.push(conn);
        if let Phase::Connected(k) = phase {
            self.detach_session(now_ms, k.session, conn, abnormal);
        }
    }

    /// The socket of `conn` closed or failed.
    pub fn connection_lost(&mut self, now_ms: u64, conn: ConnId) {
        self.close(now_ms, conn, true);
        self.conns.remove(conn);
    }

    /// Bytes waiting to be written to `conn`'s socket.
    pub fn write_buffer(&self, conn: ConnId) -> &[u8] {
        self.conns.get(conn).map_or(&[], |c| &c.write[..])
    }

    /// Remember that `conn` has bytes to write (once per batch).
    pub(super) fn mark_dirty(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(conn)
            && !c.dirty
        {
            c.dirty = true;
            self.dirty.push(conn);
        }
    }

    /// Connections written to since the last call, each once: the server flushes each once per
    /// loop turn (writes are coalesced).
    pub fn take_dirty(&mut self) -> Vec<ConnId> {
        let dirty = std::mem::take(&mut self.dirty);
        for &conn in &dirty {
            if let Some(c) = self.conns.get_mut(conn) {
                c.dirty = false;
            }
        }
        dirty
    }

    /// Take the whole write buffer of `conn` (no copy), for the server to write out.
    pub fn take_write(&mut self, conn: ConnId) -> bytes::Bytes {
        let Some(c) = self.conns.get_mut(conn) else {
            return bytes::Bytes::new();
        };
        c.in_transit_bytes += c.write.len();
        c.write.split().freeze()
    }

    /// The server wrote `n` bytes it had taken with [`Shard::take_write`] to the socket.
    pub fn written(&mut self, conn: ConnId, n: usize) {
        if let Some(c) = self.conns.get_mut(conn) {
            c.in_transit_bytes = c.in_transit_bytes.saturating_sub(n);
        }
    }

    /// `n` bytes of the write buffer were written.
    pub fn consumed(&mut self, conn: ConnId, n: usize) {
        if let Some(c) = self.conns.get_mut(conn) {
            let n = n.min(c.write.len());
            bytes::Buf::advance(&mut c.write, n);
        }
    }

    /// Connections to close once their write buffer is flushed; the server then calls
    /// [`Shard::connection_lost`] to free them.
    pub fn take_closed(&mut self) -> Vec<ConnId> {
        std::mem::take(&mut self.closed)
    }

    /// Connections currently open (including those closing).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Sessions, online and offline.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Retained messages.
    pub fn retained_count(&self) -> usize {
        self.retained.len()
    }

    /// Time a client may stay at or over its write cap before it is disconnected as a reader
    /// that stopped reading.
    pub const STUCK_READER_MS: u64 = 60_000;

    /// Time passes: stuck readers (full, with QoS 0 dropped, for [`Self::STUCK_READER_MS`]),
    /// CONNECT timeouts, keep alive (1.5x, MQTT-3.1.2-22), delayed wills, session
    /// expiry.
    pub fn tick(&mut self, now_ms: u64) {
        let conns: Vec<ConnId> = self.conns.keys().collect();
        for conn in conns {
            let Some(c) = self.conns.get(conn) else {
                continue;
            };
            // Full since a QoS 0 message was dropped for lack of room; drained below half the cap
            // clears it.
            let drained = c.pending_bytes() < self.limits.write_buffer_bytes_max / 2;
            let since = if drained { None } else { c.over_cap_since_ms };
            if let Some(c) = self.conns.get_mut(conn) {
                c.over_cap_since_ms = since;
            }
            let stuck = since.is_some_and(|t| now_ms.saturating_sub(t) >= Self::STUCK_READER_MS);
            let Some(c) = self.conns.get(conn) else {
                continue;
            };
            if stuck && !matches!(c.phase, Phase::Closing) {
                // Nothing more can be written to it: close without a DISCONNECT.
                self.close(now_ms, conn, true);
                continue;
            }
            let expired = match &c.phase {
                Phase::AwaitingConnect => {
                    now_ms.saturating_sub(c.accepted_ms) >= self.limits.connect_timeout_ms
                }
                Phase::Connected(k) => {
                    k.keep_alive_ms > 0
                        && now_ms.saturating_sub(c.last_packet_ms) >= k.keep_alive_ms * 3 / 2
                }
                Phase::Closing => false,
            };
            if expired {
                let version = c.version();
                let e = DecodeError::protocol("keep alive timeout")
                    .with_reason(brokkr_codec::ReasonCode::KeepAliveTimeout);
                self.fail(now_ms, conn, version, &e);
            }
        }
        self.fire_delayed_wills(now_ms);
        self.expire_sessions(now_ms);
    }

    /// The broker is stopping: MQTT 5 clients get DISCONNECT 0x8B (Server shutting down), every
    /// connection is closed as an abnormal close (wills are published), and wills still waiting
    /// for their delay fire now, since no session outlives this process yet.
    pub fn shutdown(&mut self, now_ms: u64) {
        // Wills first, while every subscriber is still connected to receive them.
        let sessions: Vec<_> = self.sessions.keys().collect();
        let mut wills = Vec::new();
        for &key in &sessions {
            if let Some(s) = self.sessions.get_mut(key) {
                wills.extend(s.will.take());
                wills.extend(s.pending_will.take().map(|(will, _)| will));
            }
        }
        for will in wills {
            self.publish_will(now_ms, will);
        }
        let conns: Vec<ConnId> = self.conns.keys().collect();
        for conn in conns {
            if let Some(v) = self.conns.get(conn).and_then(Conn::version)
                && v.is_v5()
            {
                let d = Packet::Disconnect(brokkr_codec::Disconnect::new(
                    brokkr_codec::ReasonCode::ServerShuttingDown,
                ));
                self.send(conn, &d, v);
            }
            self.close(now_ms, conn, true);
        }
        for key in sessions {
            self.end_session(now_ms, key);
        }
    }

    /// When `tick` should next run, if anything is pending.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        let mut next: Option<u64> = None;
        for key in self.conns.keys() {
            let Some(c) = self.conns.get(key) else {
                continue;
            };
            let due = match &c.phase {
                Phase::AwaitingConnect => Some(c.accepted_ms + self.limits.connect_timeout_ms),
                Phase::Connected(k) if k.keep_alive_ms > 0 => {
                    Some(c.last_packet_ms + k.keep_alive_ms * 3 / 2)
                }
                _ => None,
            };
            next = match (next, due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        for key in self.sessions.keys() {
            let due = self.sessions.get(key).and_then(|s| {
                let expiry = s
                    .offline_since_ms
                    .map(|t| t + u64::from(s.expiry_secs) * 1000);
                let will = s.pending_will.as_ref().map(|(_, at)| *at);
                match (expiry, will) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            });
            next = match (next, due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        next
    }
}

fn level_version(level: Option<u8>) -> Option<ProtocolVersion> {
    match level {
        Some(3) => Some(ProtocolVersion::V3_1),
        Some(4) | Some(0..=2) => Some(ProtocolVersion::V3_1_1),
        Some(_) => Some(ProtocolVersion::V5),
        None => None,
    }
}
