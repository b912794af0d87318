//! A connection as the shard keeps it: its buffers and its phase.
//!
//! Every idle client has one, so it is kept small: buffers that are empty hold no allocation,
//! topic alias maps are allocated by the first alias, and what only one phase needs lives in
//! that phase.

use crate::slab::Key;
use crate::topic_alias::{InboundAliases, OutboundAliases};
use brokkr_codec::ProtocolVersion;
use bytes::BytesMut;

/// Where a connection is in its life.
#[derive(Debug)]
pub enum Phase {
    /// Accepted; the first packet must be a CONNECT (MQTT-3.1.0-1).
    AwaitingConnect,
    /// A CONNECT decoded and checked, waiting for the access policy's deferred verdict
    /// (`authenticating.rs`); later bytes wait in the read buffer.
    Authenticating(Box<super::authenticating::Authenticating>),
    /// CONNACK with success sent.
    Connected(Connected),
    /// Closing: nothing more is read; the write buffer is flushed, then the socket closed.
    Closing,
}

/// State of a connected client.
#[derive(Debug)]
pub struct Connected {
    /// Protocol version from CONNECT.
    pub version: ProtocolVersion,
    /// The session it is attached to.
    pub session: Key,
    /// Keep Alive in milliseconds (0: none); at most 65,535 s.
    pub keep_alive_ms: u32,
    /// Aliases the client defined.
    pub inbound_aliases: InboundAliases,
    /// Aliases we defined.
    pub outbound_aliases: OutboundAliases,
    /// The client's Maximum Packet Size (MQTT-3.1.2-24; a four-byte integer on the wire).
    pub max_packet_bytes: u32,
}

/// A connection's buffers and write state. Allocated when bytes arrive or are written, let go
/// once the connection has flushed everything after signalling idleness (CONNECT, PINGREQ), so
/// an idle connection holds none of it.
#[derive(Debug, Default)]
pub struct ConnIo {
    /// Bytes received and not yet framed.
    pub read: BytesMut,
    /// Bytes encoded and not yet written to the socket.
    pub write: BytesMut,
    /// Bytes handed to the server by `take_write` and not yet reported written.
    pub in_transit_bytes: usize,
    /// Since when this client's buffer has been full (a QoS 0 message was dropped for lack of
    /// room and it has not drained below half the cap since).
    pub over_cap_since_ms: Option<u64>,
    /// Bytes the server last took at once (at most [`WRITE_HINT_BYTES_MAX`]): a delivery into
    /// an empty write buffer reserves this much, so a busy connection's buffer, let go after
    /// each flush, comes back in one allocation instead of growing by doubling every turn.
    pub write_hint_bytes: usize,
}

/// The most a write buffer reserves ahead ([`ConnIo::write_hint_bytes`]).
pub const WRITE_HINT_BYTES_MAX: usize = 64 * 1024;

impl ConnIo {
    /// The write buffer, for a delivery: reserved to the last turn's size if it is empty.
    pub fn write_for_delivery(&mut self) -> &mut BytesMut {
        if self.write.capacity() == 0 {
            self.write.reserve(self.write_hint_bytes);
        }
        &mut self.write
    }

    /// Bytes encoded and not yet written to the socket.
    pub fn pending_bytes(&self) -> usize {
        self.write.len() + self.in_transit_bytes
    }
}

/// One connection.
#[derive(Debug)]
pub struct Conn {
    /// Buffers and write state, while there is anything to buffer.
    pub io: Option<Box<ConnIo>>,
    /// The phase.
    pub phase: Phase,
    /// When it was accepted (the CONNECT timeout runs from here).
    pub accepted_ms: u64,
    /// When the last packet arrived (keep alive).
    pub last_packet_ms: u64,
    /// Its listener's bounds (`max_qos`, `max_buffer_size`, `mqtt3_qos_exceed_action`),
    /// fixed when it was accepted.
    pub limits: crate::limits::ListenerLimits,
    /// The listener it was accepted on.
    pub listener: u16,
    /// Listed in the shard's dirty list (written to since the server last looked).
    pub dirty: bool,
    /// The client signalled idleness (CONNECT, PINGREQ): let the buffers go once everything
    /// was written.
    pub idle_pending: bool,
    /// Handed over by another shard: it stays here whatever its CONNECT says.
    pub handed_in: bool,
    /// The username the transport proved (a verified client certificate), if any.
    pub transport_user: Option<Box<crate::access::TransportUser>>,
}

impl Conn {
    /// A connection accepted on `listener` (whose bounds are `limits`) at `now_ms`.
    pub(super) fn new(listener: u16, limits: crate::limits::ListenerLimits, now_ms: u64) -> Conn {
        Conn {
            io: None,
            phase: Phase::AwaitingConnect,
            accepted_ms: now_ms,
            last_packet_ms: now_ms,
            limits,
            listener,
            dirty: false,
            idle_pending: false,
            handed_in: false,
            transport_user: None,
        }
    }

    /// The buffers, allocated if they were not.
    pub fn io_mut(&mut self) -> &mut ConnIo {
        self.io.get_or_insert_with(Box::default)
    }

    /// Bytes encoded for this client and not yet written to its socket.
    pub fn pending_bytes(&self) -> usize {
        self.io.as_ref().map_or(0, |io| io.pending_bytes())
    }

    /// After the client signalled idleness: let the read buffer go if it is empty, and the
    /// whole [`ConnIo`] once nothing waits to be written either.
    pub(super) fn go_idle(&mut self) {
        let Some(io) = self.io.as_deref_mut() else {
            self.idle_pending = false;
            return;
        };
        if io.read.is_empty() {
            io.read = BytesMut::new();
            if io.pending_bytes() == 0 {
                self.io = None;
                self.idle_pending = false;
            }
        }
    }

    /// Everything taken by the server was written: let the buffers go if the client signalled
    /// idleness, else only a write buffer grown past `idle_buffer_bytes_max`.
    pub(super) fn flushed(&mut self, idle_buffer_bytes_max: usize) {
        let Some(io) = self.io.as_deref_mut() else {
            return;
        };
        if io.pending_bytes() > 0 {
            return;
        }
        if self.idle_pending {
            self.go_idle();
        } else {
            super::shrink_when_idle(&mut io.write, idle_buffer_bytes_max);
        }
    }
}

impl Conn {
    /// The connected state, if connected.
    pub fn connected(&self) -> Option<&Connected> {
        match &self.phase {
            Phase::Connected(c) => Some(c),
            _ => None,
        }
    }

    /// The protocol version, once known.
    pub fn version(&self) -> Option<ProtocolVersion> {
        self.connected().map(|c| c.version)
    }
}
