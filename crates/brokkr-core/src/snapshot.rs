//! Saved state as plain data: retained messages and persistent sessions, for the persistence
//! files (`brokkr-persist`) to encode and for fresh shards to restore.
//!
//! Every time is relative to the moment of the snapshot: a message keeps its age (so Message
//! Expiry continues), an offline session how long it has been offline (so Session Expiry
//! continues), a pending will the delay it has left. [`SessionSnapshot::age_by`] and
//! [`RetainedSnapshot::age_by`] add the time the broker was down before a restore. Nothing here
//! refers to a shard, a connection or a slab key, so a snapshot restores into any number of
//! shards ([`split_by_home`]). Building and restoring are methods of the shard
//! (`shard/snapshot.rs`); this module never reads a clock or a file.

use crate::journal::JournalId;
use crate::message::Message;
use crate::shard::{SubOptions, home_shard};
use brokkr_codec::{PacketId, ProtocolVersion, QoS, TopicFilter, Will};
use std::num::NonZeroU32;

/// A retained message and how long it had been retained at the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedSnapshot {
    /// The message; its `received_ms` is 0 (meaningless outside the shard's clock).
    pub message: Message,
    /// Milliseconds since the broker received it.
    pub age_ms: u64,
}

impl RetainedSnapshot {
    /// The broker was down for `elapsed_ms` since the snapshot.
    pub fn age_by(&mut self, elapsed_ms: u64) {
        self.age_ms = self.age_ms.saturating_add(elapsed_ms);
    }
}

/// A QoS 1/2 delivery to a session: queued, or in flight before its PUBACK or PUBREC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySnapshot {
    /// The message; its `received_ms` is 0.
    pub message: Message,
    /// Milliseconds since the broker received the message.
    pub age_ms: u64,
    /// Delivery QoS: 1 or 2, at most the message's own.
    pub qos: QoS,
    /// RETAIN as the subscriber sees it.
    pub retain: bool,
    /// Subscription identifier of the matching subscription.
    pub subscription_id: Option<NonZeroU32>,
    /// The journaled message it carries, so its acknowledgement after a restart is journaled
    /// and replay can match it (`None`: not journaled).
    pub journal: Option<JournalId>,
}

/// One outbound flow that had started at the snapshot; resent on reconnect, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InFlightSnapshot {
    /// PUBLISH sent, PUBACK (QoS 1) or PUBREC (QoS 2) awaited: resent with DUP set.
    Publish(PacketId, DeliverySnapshot),
    /// PUBREL sent, PUBCOMP awaited: PUBREL resent.
    PubRel(PacketId),
}

impl InFlightSnapshot {
    /// The flow's packet identifier.
    pub fn packet_id(&self) -> PacketId {
        match self {
            InFlightSnapshot::Publish(id, _) | InFlightSnapshot::PubRel(id) => *id,
        }
    }
}

/// A will waiting for its delay (or for its session's end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WillSnapshot {
    /// The will; its Will Delay Interval is `None` (`delay_ms` replaces it).
    pub will: Will,
    /// Milliseconds left before it is published.
    pub delay_ms: u64,
}

/// A session that outlives its connection (Session Expiry Interval above 0), as if offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSnapshot {
    /// The client identifier.
    pub client_id: String,
    /// The user name the session was created with.
    pub username: Option<String>,
    /// Protocol version of its last connection.
    pub version: ProtocolVersion,
    /// Session Expiry Interval, above 0.
    pub expiry_secs: u32,
    /// Milliseconds it had been offline (0 for a session online at the snapshot).
    pub offline_for_ms: u64,
    /// Its subscriptions.
    pub subscriptions: Vec<(TopicFilter, SubOptions)>,
    /// Outbound flows in the order they started, with distinct packet identifiers.
    pub in_flight: Vec<InFlightSnapshot>,
    /// Outbound messages not yet sent, in order.
    pub queued: Vec<DeliverySnapshot>,
    /// Inbound QoS 2 identifiers that got PUBREC and await PUBREL, increasing.
    pub inbound_qos2: Vec<PacketId>,
    /// The outbound packet identifier handed out last (0: none yet).
    pub last_packet_id: u16,
    /// The will waiting for its delay. A session online at the snapshot saves its
    /// connection's will here, as if the connection had been lost then.
    pub will: Option<WillSnapshot>,
}

impl SessionSnapshot {
    /// The broker was down for `elapsed_ms` since the snapshot: the session was offline that
    /// much longer, its messages are that much older, its will that much closer.
    pub fn age_by(&mut self, elapsed_ms: u64) {
        self.offline_for_ms = self.offline_for_ms.saturating_add(elapsed_ms);
        for d in &mut self.queued {
            d.age_ms = d.age_ms.saturating_add(elapsed_ms);
        }
        for f in &mut self.in_flight {
            if let InFlightSnapshot::Publish(_, d) = f {
                d.age_ms = d.age_ms.saturating_add(elapsed_ms);
            }
        }
        if let Some(w) = &mut self.will {
            w.delay_ms = w.delay_ms.saturating_sub(elapsed_ms);
        }
    }
}

/// Split saved sessions by the home shard of their client id among `count` shards (index `i`
/// of the result is for shard `i`), so each goes to the shard that will receive its client's
/// CONNECT, whatever the shard count was when they were saved.
pub fn split_by_home(sessions: Vec<SessionSnapshot>, count: u32) -> Vec<Vec<SessionSnapshot>> {
    let count = count.max(1);
    let mut split: Vec<Vec<SessionSnapshot>> = (0..count).map(|_| Vec::new()).collect();
    for s in sessions {
        let home = home_shard(s.client_id.as_bytes(), count);
        if let Some(list) = usize::try_from(home).ok().and_then(|i| split.get_mut(i)) {
            list.push(s);
        }
    }
    split
}
