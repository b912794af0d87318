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
    /// Accepted at `accepted_ms`; the first packet must be a CONNECT (MQTT-3.1.0-1), within
    /// the CONNECT timeout.
    AwaitingConnect {
        /// When the connection was accepted.
        accepted_ms: u64,
    },
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

/// One connection.
#[derive(Debug)]
pub struct Conn {
    /// The listener it was accepted on.
    pub listener: u16,
    /// Bytes received and not yet framed.
    pub read: BytesMut,
    /// Bytes encoded and not yet written to the socket.
    pub write: BytesMut,
    /// The phase.
    pub phase: Phase,
    /// When the last packet arrived (keep alive).
    pub last_packet_ms: u64,
    /// Listed in the shard's dirty list (written to since the server last looked).
    pub dirty: bool,
    /// The client just signalled idleness (CONNECT, PINGREQ): let the write buffer go once
    /// everything in it was written.
    pub release_write: bool,
    /// Bytes handed to the server by `take_write` and not yet reported written.
    pub in_transit_bytes: usize,
    /// Since when this client's buffer has been full (a QoS 0 message was dropped for lack of
    /// room and it has not drained below half the cap since).
    pub over_cap_since_ms: Option<u64>,
    /// Handed over by another shard: it stays here whatever its CONNECT says.
    pub handed_in: bool,
}

impl Conn {
    /// Bytes encoded for this client and not yet written to its socket.
    pub fn pending_bytes(&self) -> usize {
        self.write.len() + self.in_transit_bytes
    }

    /// Everything was written: let the write buffer's allocation go if the client signalled
    /// idleness or the buffer grew past [`super::IDLE_BUFFER_BYTES_MAX`].
    pub(super) fn release_write_when_flushed(&mut self) {
        if self.in_transit_bytes == 0 && self.write.is_empty() {
            if self.release_write {
                self.write = BytesMut::new();
                self.release_write = false;
            }
            super::shrink_when_idle(&mut self.write);
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
