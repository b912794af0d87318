//! A connection as the shard keeps it: its buffers and its phase.

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
    /// Keep Alive in milliseconds (0: none).
    pub keep_alive_ms: u64,
    /// Aliases the client defined.
    pub inbound_aliases: InboundAliases,
    /// Aliases we defined.
    pub outbound_aliases: OutboundAliases,
    /// The client's Maximum Packet Size (MQTT-3.1.2-24).
    pub max_packet_bytes: usize,
    /// Receive Maximum the client gave us (our send window).
    pub receive_maximum: u16,
}

/// One connection.
#[derive(Debug)]
pub struct Conn {
    /// The listener it was accepted on.
    pub listener: u16,
    /// Its listener's bounds (`max_qos`, `max_buffer_size`, `mqtt3_qos_exceed_action`),
    /// fixed when it was accepted.
    pub limits: crate::limits::ListenerLimits,
    /// Bytes received and not yet framed.
    pub read: BytesMut,
    /// Bytes encoded and not yet written to the socket.
    pub write: BytesMut,
    /// The phase.
    pub phase: Phase,
    /// When it was accepted.
    pub accepted_ms: u64,
    /// When the last packet arrived (keep alive).
    pub last_packet_ms: u64,
    /// Listed in the shard's dirty list (written to since the server last looked).
    pub dirty: bool,
    /// Bytes handed to the server by `take_write` and not yet reported written.
    pub in_transit_bytes: usize,
    /// Since when this client's buffer has been full (a QoS 0 message was dropped for lack of
    /// room and it has not drained below half the cap since).
    pub over_cap_since_ms: Option<u64>,
    /// Handed over by another shard: it stays here whatever its CONNECT says.
    pub handed_in: bool,
    /// The username the transport proved (a verified client certificate), if any.
    pub transport_user: Option<Box<crate::access::TransportUser>>,
}

impl Conn {
    /// Bytes encoded for this client and not yet written to its socket.
    pub fn pending_bytes(&self) -> usize {
        self.write.len() + self.in_transit_bytes
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
