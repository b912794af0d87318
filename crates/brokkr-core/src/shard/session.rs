//! A session as the shard keeps it: identity, subscriptions, QoS state, will, expiry.

use crate::message::Message;
use crate::session::{InboundQos2, Outbound, Queued};
use crate::short_str::ShortStr;
use crate::slab::Key;
use brokkr_codec::{ProtocolVersion, QoS, TopicFilter, Will};
use std::num::NonZeroU32;
use std::sync::Arc;

/// The options of one subscription, as stored in the topic tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubOptions {
    /// Granted QoS.
    pub qos: QoS,
    /// MQTT 5 No Local.
    pub no_local: bool,
    /// MQTT 5 Retain As Published.
    pub retain_as_published: bool,
    /// MQTT 5 Subscription Identifier.
    pub subscription_id: Option<NonZeroU32>,
}

/// A QoS 1/2 delivery waiting in a session's window or queue.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The message.
    pub message: Arc<Message>,
    /// Delivery QoS (1 or 2).
    pub qos: QoS,
    /// RETAIN as the subscriber sees it.
    pub retain: bool,
    /// Subscription identifier of the matching subscription.
    pub subscription_id: Option<NonZeroU32>,
    /// The journaled message it carries (`None`: not journaled), so the subscriber's
    /// acknowledgement can be journaled ([`crate::journal::JournalRecord::Completed`]).
    pub journal: Option<crate::journal::JournalId>,
}

impl Queued for Pending {
    fn qos(&self) -> QoS {
        self.qos
    }

    fn weight_bytes(&self) -> usize {
        self.message.payload.len() + self.message.topic.len()
    }
}

/// Whether a session has a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Attached to this connection.
    Online(Key),
    /// Without one since `since_ms`; its Session Expiry Interval counts from then.
    Offline {
        /// When the connection went away (or, for a restored session, the equivalent time).
        since_ms: u64,
    },
}

/// A will waiting for its Will Delay Interval (or its session's end).
#[derive(Debug)]
pub struct DelayedWill {
    /// The will.
    pub will: Will,
    /// When it is published, unless a connection resumes the session first.
    pub fires_at_ms: u64,
}

/// One session. Kept small, since every idle client has one: what most sessions never use
/// (wills, QoS 1/2 state) is boxed or allocated on first use, and a client id of up to 22
/// bytes is kept inline.
#[derive(Debug)]
pub struct Session {
    /// The client identifier (also the key of the shard's index by client id).
    pub client_id: ShortStr,
    /// The user name the session was created with; another user may not take it over.
    pub username: Option<Box<str>>,
    /// The proof of its current (or last) CONNECT, for the ACL.
    pub login: crate::access::Login,
    /// Its connection, or since when it has none.
    pub presence: Presence,
    /// The protocol version of its last connection.
    pub version: ProtocolVersion,
    /// Its subscriptions (also in the topic tree, keyed by this session).
    pub subscriptions: Vec<(TopicFilter, SubOptions)>,
    /// Outbound QoS 1/2.
    pub outbound: Outbound<Pending>,
    /// Inbound QoS 2 awaiting PUBREL.
    pub inbound_qos2: InboundQos2,
    /// The will of the current connection, compacted (it never pins a read buffer).
    pub will: Option<Box<Will>>,
    /// A will waiting for its Will Delay Interval (or the session's end).
    pub pending_will: Option<Box<DelayedWill>>,
    /// Session Expiry Interval in force (0: ends with the connection).
    pub expiry_secs: u32,
}

impl Session {
    /// The connection attached to it, if online.
    pub fn conn(&self) -> Option<Key> {
        match self.presence {
            Presence::Online(conn) => Some(conn),
            Presence::Offline { .. } => None,
        }
    }

    /// Since when it has been offline, if it is.
    pub fn offline_since_ms(&self) -> Option<u64> {
        match self.presence {
            Presence::Online(_) => None,
            Presence::Offline { since_ms } => Some(since_ms),
        }
    }
}
