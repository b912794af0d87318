//! Journal records: the state changes a shard acknowledges, as plain data, for the server to
//! make durable before the acknowledgement reaches the socket (`persistence_journal`).
//!
//! A record names sessions by client id and messages by a journal sequence number, never by a
//! shard, a connection or a slab key, so a journal replays into any number of shards
//! (brokkr-persist folds it into a snapshot). A published message is journaled once, by the
//! shard that received it, with the publisher's client id: replay routes it again through the
//! persistent sessions' subscriptions as they stand at that point of the journal, so a
//! delivery to a session on another shard needs no record of its own and the publisher's
//! acknowledgement waits for one record only. This module never does I/O.

use crate::message::Message;
use crate::shard::SubOptions;
use brokkr_codec::{ProtocolVersion, TopicFilter};
use std::num::NonZeroU64;
use std::sync::Arc;

/// A journaled message, across restarts: the journal generation the publishing process
/// started with (its `boot`), and the sequence number that process gave the message. Every
/// delivery of the message carries it ([`crate::shard::Pending::journal`]), in memory and in
/// snapshots, so a subscriber's acknowledgement is journaled whether the delivery was routed
/// by this process or restored from a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JournalId {
    /// The generation its publisher's process started with.
    pub boot: u64,
    /// Unique within one boot (a per-shard counter with the shard index in its low bits).
    pub seq: NonZeroU64,
}

/// One state change, in the order the shard made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalRecord {
    /// A CONNECT created or resumed a session, or a DISCONNECT changed its expiry. An expiry
    /// of 0 means the session no longer outlives its connection (replay forgets it).
    Session {
        /// The client identifier.
        client_id: String,
        /// The user name the session was created with.
        username: Option<String>,
        /// Protocol version of the connection.
        version: ProtocolVersion,
        /// Session Expiry Interval now in force.
        expiry_secs: u32,
        /// The session started empty (clean start, or no session existed).
        fresh: bool,
    },
    /// A persistent session ended (expired, or replaced by a clean start).
    SessionEnded {
        /// The client identifier.
        client_id: String,
    },
    /// A persistent session subscribed (or changed a subscription's options).
    Subscribed {
        /// The client identifier.
        client_id: String,
        /// The filter, with any `$share/group/` prefix.
        filter: TopicFilter,
        /// The granted options.
        options: SubOptions,
    },
    /// A persistent session unsubscribed.
    Unsubscribed {
        /// The client identifier.
        client_id: String,
        /// The filter removed.
        filter: TopicFilter,
    },
    /// A client's PUBLISH that was acknowledged (QoS 1 or 2 with a matching subscription) or
    /// changes the retained store (RETAIN set, any QoS).
    Published {
        /// Its sequence number in the writer's boot (the journal file's header names the boot;
        /// deliveries carry both as [`JournalId`]).
        seq: u64,
        /// The publisher's client id (for No Local).
        publisher: String,
        /// The message.
        message: Arc<Message>,
    },
    /// A persistent session acknowledged (PUBACK, or PUBREC) the delivery of message `id`,
    /// which an earlier boot may have journaled. Losing this record only costs a duplicate
    /// after a crash, so it does not hold back any acknowledgement.
    Completed {
        /// The client identifier.
        client_id: String,
        /// The message.
        id: JournalId,
    },
}

/// Bytes counted for every record besides its strings and payload (the encoded framing and
/// fixed fields, and the record in memory).
const RECORD_OVERHEAD_BYTES: usize = 64;

impl JournalRecord {
    /// About what the record costs while it waits for the journal (its encoded size, and the
    /// memory it holds): what bounds a worker's journal queue.
    pub fn weight_bytes(&self) -> usize {
        let variable = match self {
            JournalRecord::Session {
                client_id,
                username,
                ..
            } => client_id.len() + username.as_ref().map_or(0, String::len),
            JournalRecord::SessionEnded { client_id }
            | JournalRecord::Completed { client_id, .. } => client_id.len(),
            JournalRecord::Subscribed {
                client_id, filter, ..
            }
            | JournalRecord::Unsubscribed { client_id, filter } => {
                client_id.len() + filter.as_str().len()
            }
            JournalRecord::Published {
                publisher, message, ..
            } => {
                publisher.len()
                    + message.topic.len()
                    + message.payload.len()
                    + message.properties.as_bytes().len()
            }
        };
        RECORD_OVERHEAD_BYTES + variable
    }

    /// True if an acknowledgement written in the same turn depends on this record being
    /// durable first ([`JournalRecord::Completed`] is the one that does not).
    pub fn needs_durability(&self) -> bool {
        !matches!(self, JournalRecord::Completed { .. })
    }
}
