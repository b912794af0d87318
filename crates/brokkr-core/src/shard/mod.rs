//! The shard: one worker's broker state machine, sans-IO.
//!
//! Inputs are [`Shard::accept`], [`Shard::bytes_received`], [`Shard::connection_lost`],
//! [`Shard::tick`] and [`Shard::auth_verdict`] (a deferred login's result, for a job taken with
//! [`Shard::take_auth_jobs`]), each with the current time in milliseconds. Outputs are each connection's
//! write buffer ([`Shard::write_buffer`], acknowledged with [`Shard::consumed`]), the
//! connections to close ([`Shard::take_closed`]) and the next time `tick` is due
//! ([`Shard::next_deadline_ms`]). The shard never reads a clock or touches a socket.
//!
//! A broker is one or more shards. A session lives on the home shard of its client id
//! ([`home_shard`]): a connection whose CONNECT names another shard's client id is handed there
//! before CONNACK ([`Shard::take_handoffs`], [`Shard::accept_handoff`]). Subscriptions and
//! retained messages are shared by all shards ([`SharedState`]); a delivery to a session on
//! another shard leaves in a batch ([`Shard::take_outbox`]) and arrives through
//! [`Shard::deliver_remote`]. Batches between two shards keep their order, so each publisher's
//! messages reach each subscriber in order.

mod authenticating;
mod client_ids;
mod conn;
mod connect;
mod connected;
mod journal;
mod retained;
mod route;
mod route_cache;
mod session;
mod shared;
mod snapshot;
mod sys;

pub use authenticating::{AuthJob, AuthToken, Authenticating};
pub use conn::{Conn, ConnIo, Connected, Phase};
pub use retained::RETAINED_NODES_PER_SLICE;
pub use session::{DelayedWill, Pending, Presence, Session, SubOptions};
pub use shared::{Placement, SessionRef, SharedState, home_shard};
pub use snapshot::Restored;

use crate::limits::Limits;
use crate::message::Message;
use crate::reject::{Phase as RejectPhase, decode_rejection};
use crate::slab::{Key, Slab};
use crate::subscriptions::MatchScratch;
use brokkr_codec::{DecodeError, Packet, PacketType, ProtocolVersion, framer};
use bytes::{BufMut, Bytes, BytesMut};
use std::sync::Arc;

/// A connection handle, as the server knows it.
pub type ConnId = Key;

/// A delivery for a session on another shard.
#[derive(Debug)]
pub struct RemoteDelivery {
    /// The session's key on its home shard.
    pub session: Key,
    /// The message, with the subscriber's QoS, RETAIN and subscription identifier.
    pub pending: Pending,
}

/// A connection whose CONNECT names a session homed on another shard: the server moves the
/// socket there and that shard starts over from `bytes` ([`Shard::accept_handoff`]).
#[derive(Debug)]
pub struct Handoff {
    /// The connection on this shard; it is already forgotten here.
    pub conn: ConnId,
    /// The home shard.
    pub shard: u32,
    /// Every byte received so far, CONNECT first.
    pub bytes: Bytes,
    /// When the connection was accepted (its CONNECT timeout keeps running).
    pub accepted_ms: u64,
    /// The listener it was accepted on.
    pub listener: u16,
    /// The username its transport proved, if any ([`Shard::set_transport_user`]).
    pub transport_user: Option<Box<crate::access::TransportUser>>,
}

/// One worker's broker.
#[derive(Debug)]
pub struct Shard {
    limits: Limits,
    rng: fastrand::Rng,
    place: Placement,
    shared: Arc<SharedState>,
    conns: Slab<Conn>,
    sessions: Slab<Session>,
    by_client_id: client_ids::ClientIds,
    /// The access policy as of `policy_generation` (refreshed from `shared` on each input).
    policy: Arc<dyn crate::access::AccessPolicy>,
    policy_generation: u64,
    /// Deliveries for other shards, by shard index.
    outbox: Vec<Vec<RemoteDelivery>>,
    handoffs: Vec<Handoff>,
    /// Deferred logins not yet taken by the server, and the last token handed out.
    auth_jobs: Vec<AuthJob>,
    auth_seq: u64,
    closed: Vec<ConnId>,
    dirty: Vec<ConnId>,
    retained_jobs: std::collections::VecDeque<retained::RetainedJob>,
    background_waiting: usize,
    route_targets: Vec<(SessionRef, SubOptions)>,
    /// Recent matches by topic.
    route_cache: route_cache::RouteCache,
    /// Allocations of finished messages, for new ones.
    message_pool: crate::message::MessagePool,
    /// The fan-out's encodings of the message being routed (reset per message, buffer reused;
    /// boxed so that taking it out for a fan-out moves a pointer).
    encode_cache: Option<Box<crate::message::EncodeCache>>,
    scratch: MatchScratch,
    /// What happened on this shard (reported to `shared` on every tick).
    stats: crate::stats::ShardStats,
    /// The `$SYS` publisher, once enabled ([`Shard::enable_sys`]; the server does on shard 0).
    sys: Option<crate::stats::SysState>,
    /// When `$SYS` is next due (shard 0).
    sys_due_ms: u64,
    /// The journal's records of this turn, once enabled ([`Shard::enable_journal`]).
    journal: Option<journal::ShardJournal>,
    /// Which events to record ([`Shard::enable_events`]).
    event_settings: crate::events::EventSettings,
    /// Events since the server last took them.
    events: Vec<crate::events::Event>,
    /// When the node creation limit was last reported, and how many reports were held back
    /// since.
    retained_limit_log: (Option<u64>, u64),
}

impl Shard {
    /// The only shard of a broker, with `limits`, its randomness seeded with `seed`.
    pub fn new(limits: Limits, seed: u64) -> Shard {
        Shard::with_placement(limits, seed, Placement::SOLE, SharedState::new())
    }

    /// Shard `place` of a broker whose shards all share `shared`.
    pub fn with_placement(
        limits: Limits,
        seed: u64,
        place: Placement,
        shared: Arc<SharedState>,
    ) -> Shard {
        let (policy_generation, policy) = shared.policy();
        Shard {
            limits,
            rng: fastrand::Rng::with_seed(seed),
            place,
            shared,
            policy,
            policy_generation,
            conns: Slab::default(),
            sessions: Slab::default(),
            by_client_id: client_ids::ClientIds::default(),
            outbox: (0..place.count).map(|_| Vec::new()).collect(),
            handoffs: Vec::new(),
            auth_jobs: Vec::new(),
            auth_seq: 0,
            stats: crate::stats::ShardStats::default(),
            sys: None,
            sys_due_ms: 0,
            journal: None,
            event_settings: crate::events::EventSettings::default(),
            events: Vec::new(),
            retained_limit_log: (None, 0),
            closed: Vec::new(),
            dirty: Vec::new(),
            retained_jobs: std::collections::VecDeque::new(),
            background_waiting: 0,
            route_targets: Vec::new(),
            route_cache: route_cache::RouteCache::default(),
            message_pool: crate::message::MessagePool::default(),
            encode_cache: None,
            scratch: MatchScratch::default(),
        }
    }

    /// A new connection was accepted on listener 0.
    pub fn accept(&mut self, now_ms: u64) -> ConnId {
        self.accept_on(now_ms, 0)
    }

    /// A new connection was accepted on listener `listener` (its index in the server's list;
    /// the access policy may treat listeners differently).
    pub fn accept_on(&mut self, now_ms: u64, listener: u16) -> ConnId {
        self.stats.socket_connects += 1;
        self.refresh_policy(); // a reload's listener limits apply to this connection
        let limits = self.limits.for_listener(listener);
        self.conns.insert(Conn::new(listener, limits, now_ms))
    }

    /// The transport proved who `conn` is (a verified client certificate's CN): its CONNECT
    /// logs in under that name. Call it before the first byte of MQTT is handed in.
    pub fn set_transport_user(&mut self, conn: ConnId, user: crate::access::TransportUser) {
        if let Some(c) = self.conns.get_mut(conn) {
            c.transport_user = Some(Box::new(user));
        }
    }

    /// A connection handed over by another shard ([`Handoff`]): accepted at `accepted_ms`,
    /// with `bytes` already received. It is never handed on again.
    pub fn accept_handoff(&mut self, now_ms: u64, h: &Handoff) -> ConnId {
        let conn = self.accept_on(h.accepted_ms.min(now_ms), h.listener);
        let bytes = &h.bytes;
        if let Some(c) = self.conns.get_mut(conn) {
            c.handed_in = true;
            c.transport_user.clone_from(&h.transport_user);
        }
        self.bytes_received(now_ms, conn, bytes);
        conn
    }

    /// Take up a replaced access policy and limits (one atomic load when nothing changed).
    fn refresh_policy(&mut self) {
        if self.shared.policy_generation() != self.policy_generation {
            (self.policy_generation, self.policy) = self.shared.policy();
            if let Some(limits) = self.shared.reloaded_limits() {
                self.limits = Limits::clone(&limits);
                if self.event_settings.connections {
                    self.enable_events(crate::events::EventSettings::connections());
                }
            }
        }
    }

    /// The listener-dependent bounds of `conn` (the globals for a connection that is gone).
    pub(super) fn conn_limits(&self, conn: ConnId) -> crate::limits::ListenerLimits {
        self.conns
            .get(conn)
            .map_or_else(|| self.limits.for_listener(u16::MAX), |c| c.limits)
    }

    /// This shard's place among its peers.
    pub fn placement(&self) -> Placement {
        self.place
    }

    /// The state this shard shares with its peers.
    pub fn shared(&self) -> &Arc<SharedState> {
        &self.shared
    }

    /// Connections to move to another shard, taken once.
    pub fn take_handoffs(&mut self) -> Vec<Handoff> {
        std::mem::take(&mut self.handoffs)
    }

    /// Deliveries waiting for shard `shard`, taken once; empty for this shard itself.
    pub fn take_outbox(&mut self, shard: u32) -> Vec<RemoteDelivery> {
        usize::try_from(shard)
            .ok()
            .and_then(|i| self.outbox.get_mut(i))
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// True if any delivery waits for another shard.
    pub fn has_outbox(&self) -> bool {
        self.outbox.iter().any(|b| !b.is_empty())
    }

    /// A batch of deliveries from another shard, in the order that shard routed them.
    pub fn deliver_remote(&mut self, now_ms: u64, batch: Vec<RemoteDelivery>) {
        let mut cache = self.encode_cache.take().unwrap_or_default();
        let mut last: Option<Arc<Message>> = None;
        for d in batch {
            // Deliveries of one message are adjacent in a batch: they share one encode cache.
            if !last
                .as_ref()
                .is_some_and(|m| Arc::ptr_eq(m, &d.pending.message))
            {
                cache.reset();
                last = Some(Arc::clone(&d.pending.message));
            }
            self.deliver(now_ms, d.session, d.pending, &mut cache);
        }
        self.encode_cache = Some(cache);
    }

    /// Move `conn`, whose CONNECT (`first_byte`, `body`) names a session homed on `home`, to
    /// that shard: everything it sent so far goes along, nothing was answered here.
    fn hand_off(&mut self, conn: ConnId, home: u32, first_byte: u8, body: &Bytes) {
        let Some(c) = self.conns.remove(conn) else {
            return;
        };
        let Ok(len) = u32::try_from(body.len()) else {
            return; // the framer's cap keeps every body far below this
        };
        let rest: &[u8] = c.io.as_ref().map_or(&[], |io| &io.read[..]);
        let mut bytes = BytesMut::with_capacity(5 + body.len() + rest.len());
        bytes.put_u8(first_byte);
        brokkr_codec::vbi::write_vbi(&mut bytes, len);
        bytes.extend_from_slice(body);
        bytes.extend_from_slice(rest);
        let accepted_ms = c.accepted_ms;
        self.handoffs.push(Handoff {
            conn,
            shard: home,
            bytes: bytes.freeze(),
            accepted_ms,
            listener: c.listener,
            transport_user: c.transport_user.clone(),
        });
    }

    /// The home of `client_id` if it is another shard and `conn` may still move.
    fn foreign_home(&self, conn: ConnId, client_id: &str) -> Option<u32> {
        if self.place.count <= 1 || client_id.is_empty() {
            return None; // an empty id gets a generated one homed here
        }
        if self.conns.get(conn).is_none_or(|c| c.handed_in) {
            return None;
        }
        let home = home_shard(client_id.as_bytes(), self.place.count);
        (home != self.place.index).then_some(home)
    }

    /// This shard's reference to its session `key`.
    pub(super) fn session_ref(&self, key: Key) -> SessionRef {
        SessionRef {
            shard: self.place.index,
            key,
        }
    }

    /// Bytes arrived on `conn`.
    pub fn bytes_received(&mut self, now_ms: u64, conn: ConnId, bytes: &[u8]) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        if matches!(c.phase, Phase::Closing) {
            return;
        }
        c.io_mut().read.extend_from_slice(bytes);
        self.stats.bytes_received += bytes.len() as u64;
        self.refresh_policy();
        self.process(now_ms, conn);
    }

    /// Frame and handle every complete packet in `conn`'s read buffer.
    ///
    /// Buffers are kept while a connection carries traffic (reused, no allocation per packet)
    /// and let go once empty after a CONNECT or a PINGREQ, the packets a client sends when it
    /// has nothing else to say: an idle connection holds no buffer memory.
    fn process(&mut self, now_ms: u64, conn: ConnId) {
        let mut idle_signal = false;
        loop {
            let Some(c) = self.conns.get_mut(conn) else {
                return;
            };
            let (version, connected) = match &c.phase {
                Phase::AwaitingConnect => (None, false),
                Phase::Authenticating(_) => return self.hold_while_authenticating(now_ms, conn),
                Phase::Connected(k) => (Some(k.version), true),
                Phase::Closing => return,
            };
            let cap = self.limits.packet_cap(connected);
            // Acknowledgements in their four-byte form skip the general framing and decoding.
            let short = match c.io.as_deref_mut() {
                Some(io) if connected && cap >= 4 => framer::next_short_response(&mut io.read),
                _ => None,
            };
            let result = if let Some(packet) = short {
                c.last_packet_ms = now_ms;
                idle_signal = false;
                Ok(packet)
            } else {
                let raw = match framer::next_packet(&mut c.io_mut().read, cap) {
                    Ok(Some(raw)) => raw,
                    Ok(None) => {
                        if idle_signal {
                            // The buffers go once the CONNACK or PINGRESP is written.
                            c.idle_pending = true;
                            c.go_idle();
                        } else if let Some(io) = c.io.as_deref_mut() {
                            shrink_when_idle(&mut io.read, self.limits.idle_buffer_bytes_max);
                        }
                        return;
                    }
                    Err(e) => return self.fail(now_ms, conn, version, &e),
                };
                c.last_packet_ms = now_ms;
                let is_connect = raw.first_byte >> 4 == PacketType::Connect as u8;
                idle_signal = is_connect || raw.first_byte >> 4 == PacketType::PingReq as u8;
                match version {
                    None if !is_connect => {
                        Err(DecodeError::protocol("first packet is not CONNECT")
                            .rule("MQTT-3.1.0-1"))
                    }
                    None => {
                        let level = brokkr_codec::connect_level(&raw.body);
                        let (first_byte, body) = (raw.first_byte, raw.body.clone());
                        match Packet::decode(raw, ProtocolVersion::V3_1_1) {
                            Ok(Packet::Connect(connect)) => {
                                if let Some(home) =
                                    self.foreign_home(conn, connect.client_id.as_str())
                                {
                                    return self.hand_off(conn, home, first_byte, &body);
                                }
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
                }
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
            let ok = packet.encode(v, &mut c.io_mut().write).is_ok();
            debug_assert!(ok, "control packet failed to encode");
        }
    }

    /// Write a PUBACK, PUBREC, PUBREL or PUBCOMP with reason Success and no properties (the
    /// same bytes for every version) into `conn`'s write buffer: `encode` is the packet type's
    /// `encode_success`.
    fn send_success_ack(
        &mut self,
        conn: ConnId,
        id: brokkr_codec::PacketId,
        encode: fn(brokkr_codec::PacketId, &mut BytesMut),
    ) {
        self.mark_dirty(conn);
        if let Some(c) = self.conns.get_mut(conn) {
            encode(id, &mut c.io_mut().write);
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
        if let Some(io) = c.io.as_deref_mut() {
            io.read = BytesMut::new();
        }
        self.closed.push(conn);
        if let Phase::Connected(k) = phase {
            if self.event_settings.connections
                && let Some(s) = self.sessions.get(k.session)
            {
                self.events.push(crate::events::Event::Disconnected {
                    conn,
                    client_id: s.client_id.to_string(),
                    clean: !abnormal,
                });
            }
            self.detach_session(now_ms, k.session, conn, abnormal);
        }
    }

    /// Record `settings`' events from now on, for [`Shard::take_events`]; subscriptions and
    /// publishes also when the limits' `log_subscriptions` and `log_publishes` ask (a reload
    /// that changes those applies at once).
    pub fn enable_events(&mut self, settings: crate::events::EventSettings) {
        self.event_settings = crate::events::EventSettings {
            connections: settings.connections,
            subscriptions: settings.subscriptions || self.limits.log_subscriptions,
            publishes: settings.publishes || self.limits.log_publishes,
        };
    }

    /// The events recorded since the last call, in order.
    pub fn take_events(&mut self) -> Vec<crate::events::Event> {
        std::mem::take(&mut self.events)
    }

    /// True if events wait for [`Shard::take_events`].
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The socket of `conn` closed or failed.
    pub fn connection_lost(&mut self, now_ms: u64, conn: ConnId) {
        self.close(now_ms, conn, true);
        self.conns.remove(conn);
    }

    /// Bytes waiting to be written to `conn`'s socket.
    pub fn write_buffer(&self, conn: ConnId) -> &[u8] {
        self.conns
            .get(conn)
            .and_then(|c| c.io.as_ref())
            .map_or(&[], |io| &io.write[..])
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
        let Some(io) = self.conns.get_mut(conn).and_then(|c| c.io.as_deref_mut()) else {
            return bytes::Bytes::new();
        };
        io.in_transit_bytes += io.write.len();
        self.stats.bytes_sent += io.write.len() as u64;
        io.write_hint_bytes = io.write.len().min(conn::WRITE_HINT_BYTES_MAX);
        io.write.split().freeze()
    }

    /// The server wrote `n` bytes it had taken with [`Shard::take_write`] to the socket.
    pub fn written(&mut self, conn: ConnId, n: usize) {
        if let Some(c) = self.conns.get_mut(conn) {
            if let Some(io) = c.io.as_deref_mut() {
                io.in_transit_bytes = io.in_transit_bytes.saturating_sub(n);
            }
            c.flushed(self.limits.idle_buffer_bytes_max);
        }
    }

    /// `n` bytes of the write buffer were written.
    pub fn consumed(&mut self, conn: ConnId, n: usize) {
        if let Some(c) = self.conns.get_mut(conn) {
            if let Some(io) = c.io.as_deref_mut() {
                let n = n.min(io.write.len());
                bytes::Buf::advance(&mut io.write, n);
            }
            c.flushed(self.limits.idle_buffer_bytes_max);
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

    /// Bytes allocated for `conn`'s buffers: the [`ConnIo`] and the capacity of its read and
    /// write buffers (0 for an idle connection).
    pub fn buffer_capacity_bytes(&self, conn: ConnId) -> usize {
        self.conns
            .get(conn)
            .and_then(|c| c.io.as_deref())
            .map_or(0, |io| {
                std::mem::size_of::<ConnIo>() + io.read.capacity() + io.write.capacity()
            })
    }

    /// Sessions, online and offline.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Retained messages (of the whole broker: the store is shared).
    pub fn retained_count(&self) -> usize {
        self.shared.retained_count()
    }

    /// Time passes: stuck readers (full, with QoS 0 dropped, for `Limits::stuck_reader_ms`),
    /// CONNECT timeouts, keep alive (1.5x, MQTT-3.1.2-22), delayed wills, session
    /// expiry.
    pub fn tick(&mut self, now_ms: u64) {
        self.refresh_policy();
        let conns: Vec<ConnId> = self.conns.keys().collect();
        let mut connected = 0;
        for conn in conns {
            let Some(c) = self.conns.get(conn) else {
                continue;
            };
            connected += u64::from(c.connected().is_some());
            // Full since a QoS 0 message was dropped for lack of room; drained below half the cap
            // clears it.
            let drained = c.pending_bytes() < c.limits.write_buffer_bytes() / 2;
            let since = c.io.as_ref().and_then(|io| io.over_cap_since_ms);
            let since = if drained { None } else { since };
            if let Some(io) = self.conns.get_mut(conn).and_then(|c| c.io.as_deref_mut()) {
                io.over_cap_since_ms = since;
            }
            let stuck =
                since.is_some_and(|t| now_ms.saturating_sub(t) >= self.limits.stuck_reader_ms);
            let Some(c) = self.conns.get(conn) else {
                continue;
            };
            if stuck && !matches!(c.phase, Phase::Closing) {
                // Nothing more can be written to it: close without a DISCONNECT.
                self.close(now_ms, conn, true);
                continue;
            }
            let expired = match &c.phase {
                Phase::AwaitingConnect | Phase::Authenticating(_) => {
                    now_ms.saturating_sub(c.accepted_ms) >= self.limits.connect_timeout_ms
                }
                Phase::Connected(k) => {
                    k.keep_alive_ms > 0
                        && now_ms.saturating_sub(c.last_packet_ms)
                            >= u64::from(k.keep_alive_ms) * 3 / 2
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
        debug_assert_eq!(
            self.by_client_id.len(),
            self.sessions.len(),
            "one index entry each"
        );
        self.stats.clients_connected = connected;
        self.stats.sessions = self.sessions.len() as u64;
        self.stats.sockets_open = self.conns.len() as u64;
        self.shared.report(self.place.index, self.stats);
        self.publish_sys_if_due(now_ms);
    }

    /// This shard's statistics so far (gauges as of the last tick).
    pub fn stats(&self) -> crate::stats::ShardStats {
        self.stats
    }

    /// The server dropped `n` of this shard's deliveries for other shards (a peer's backlog
    /// over its bound): counted with the messages dropped in `$SYS`.
    pub fn count_dropped(&mut self, n: u64) {
        self.stats.messages_dropped = self.stats.messages_dropped.saturating_add(n);
    }

    /// The broker is stopping: MQTT 5 clients get DISCONNECT 0x8B (Server shutting down), every
    /// connection is closed as an abnormal close (wills are published), and wills still waiting
    /// for their delay fire now, since no session outlives this process yet.
    pub fn shutdown(&mut self, now_ms: u64) {
        self.shutdown_wills(now_ms);
        self.shutdown_close(now_ms);
    }

    /// The first half of [`Shard::shutdown`]: publish every will (current and delayed) while
    /// every subscriber is still connected. A broker of several shards runs this on all of them,
    /// exchanges the deliveries, then runs [`Shard::shutdown_close`].
    pub fn shutdown_wills(&mut self, now_ms: u64) {
        let sessions: Vec<_> = self.sessions.keys().collect();
        let mut wills = Vec::new();
        for &key in &sessions {
            if let Some(s) = self.sessions.get_mut(key) {
                wills.extend(s.will.take().map(|w| *w));
                wills.extend(s.pending_will.take().map(|d| d.will));
            }
        }
        for will in wills {
            self.publish_will(now_ms, will);
        }
    }

    /// The second half of [`Shard::shutdown`]: DISCONNECT 0x8B to MQTT 5 clients, every
    /// connection closed, every session ended.
    pub fn shutdown_close(&mut self, now_ms: u64) {
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
        let sessions: Vec<_> = self.sessions.keys().collect();
        for key in sessions {
            self.end_session(now_ms, key);
        }
    }

    /// When `tick` should next run, if anything is pending.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        let mut next: Option<u64> = self.sys.as_ref().map(|_| self.sys_due_ms);
        for key in self.conns.keys() {
            let Some(c) = self.conns.get(key) else {
                continue;
            };
            let due = match &c.phase {
                Phase::AwaitingConnect | Phase::Authenticating(_) => {
                    Some(c.accepted_ms + self.limits.connect_timeout_ms)
                }
                Phase::Connected(k) if k.keep_alive_ms > 0 => {
                    Some(c.last_packet_ms + u64::from(k.keep_alive_ms) * 3 / 2)
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
                    .offline_since_ms()
                    .map(|t| t + u64::from(s.expiry_secs) * 1000);
                let will = s.pending_will.as_ref().map(|d| d.fires_at_ms);
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

/// Release an empty connection buffer holding more than `idle_bytes_max`
/// (`client_initial_buffer_size`), so a burst (a large packet in, a fan-out burst out) does not
/// stay resident while the connection idles.
pub(super) fn shrink_when_idle(buf: &mut BytesMut, idle_bytes_max: usize) {
    if buf.is_empty() && buf.capacity() > idle_bytes_max {
        *buf = BytesMut::new();
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
