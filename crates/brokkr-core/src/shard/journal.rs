//! The shard's side of the journal ([`crate::journal`]): which inputs become records, and the
//! sequence numbers that tie a subscriber's acknowledgement to the message it acknowledges.
//!
//! Off unless [`Shard::enable_journal`] was called: every hook then returns at its first line,
//! so a broker without `persistence_journal` pays one branch per hook. Only persistent sessions
//! (Session Expiry above 0) are journaled; a published message is journaled when it has at
//! least one QoS 1/2 subscriber (any shard, persistent or not: the publishing shard cannot see
//! another shard's sessions) or sets or clears a retained message.

use super::{SessionRef, Shard};
use crate::journal::{JournalId, JournalRecord};
use crate::message::Message;
use crate::slab::Key;
use brokkr_codec::{PacketId, QoS, TopicFilter};
use std::num::NonZeroU64;
use std::sync::Arc;

/// Shards a sequence number can tell apart (its low bits).
const SHARD_BITS: u32 = 10;

/// The records a shard produced since the server last took them.
#[derive(Debug)]
pub(super) struct ShardJournal {
    records: Vec<JournalRecord>,
    /// The journal generation this process started with ([`JournalId::boot`]).
    boot: u64,
    /// Messages journaled so far by this shard.
    published: u64,
    /// The message being routed, if it is journaled.
    current: Option<JournalId>,
}

impl Shard {
    /// Journal every acknowledged state change from now on ([`Shard::take_journal`]). `boot`
    /// names this process's journals: the generation it started with, which no earlier
    /// process used, so (boot, sequence number) tells every journaled message apart.
    pub fn enable_journal(&mut self, boot: u64) {
        if self.journal.is_none() {
            self.journal = Some(ShardJournal {
                records: Vec::new(),
                boot,
                published: 0,
                current: None,
            });
        }
    }

    /// True if [`Shard::enable_journal`] was called.
    pub fn journal_enabled(&self) -> bool {
        self.journal.is_some()
    }

    /// The records of this turn, in order, taken once. The server makes them durable before it
    /// writes the bytes this turn put in write buffers (acknowledgements among them).
    pub fn take_journal(&mut self) -> Vec<JournalRecord> {
        self.journal
            .as_mut()
            .map(|j| std::mem::take(&mut j.records))
            .unwrap_or_default()
    }

    fn push_record(&mut self, record: JournalRecord) {
        if let Some(j) = self.journal.as_mut() {
            j.records.push(record);
        }
    }

    /// Session `key` was created or resumed (`fresh`: it started empty) by a CONNECT, or its
    /// expiry changed. Sessions that never outlive their connection are not journaled.
    pub(super) fn journal_session(&mut self, key: Key, fresh: bool) {
        if self.journal.is_none() {
            return;
        }
        let Some(s) = self.sessions.get(key) else {
            return;
        };
        if s.expiry_secs == 0 && fresh {
            return; // never persistent; a resumed one going to 0 is recorded (replay forgets it)
        }
        let record = JournalRecord::Session {
            client_id: s.client_id.to_string(),
            username: s.username.as_deref().map(str::to_string),
            version: s.version,
            expiry_secs: s.expiry_secs,
            fresh,
        };
        self.push_record(record);
    }

    /// A session with expiry `expiry_secs` ended.
    pub(super) fn journal_session_ended(&mut self, client_id: &str, expiry_secs: u32) {
        if self.journal.is_some() && expiry_secs > 0 {
            let client_id = client_id.to_string();
            self.push_record(JournalRecord::SessionEnded { client_id });
        }
    }

    /// The client id of session `key` if it is persistent and the journal is on.
    fn persistent_client_id(&self, key: Key) -> Option<String> {
        self.journal.as_ref()?;
        let s = self.sessions.get(key)?;
        (s.expiry_secs > 0).then(|| s.client_id.to_string())
    }

    /// Session `key` subscribed to `filter` with `options`.
    pub(super) fn journal_subscribed(
        &mut self,
        key: Key,
        filter: &TopicFilter,
        options: super::SubOptions,
    ) {
        if let Some(client_id) = self.persistent_client_id(key) {
            let filter = filter.clone();
            let record = JournalRecord::Subscribed {
                client_id,
                filter,
                options,
            };
            self.push_record(record);
        }
    }

    /// Session `key` unsubscribed from `filter`.
    pub(super) fn journal_unsubscribed(&mut self, key: Key, filter: &TopicFilter) {
        if let Some(client_id) = self.persistent_client_id(key) {
            let filter = filter.clone();
            self.push_record(JournalRecord::Unsubscribed { client_id, filter });
        }
    }

    /// A client's message is about to be routed: give it a sequence number, which every
    /// delivery made by the routing carries ([`super::Pending::journal`]).
    pub(super) fn journal_publish_start(&mut self, msg: &Message) {
        let index = u64::from(self.place.index) & ((1 << SHARD_BITS) - 1);
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        j.current = None;
        if msg.qos != QoS::AtMostOnce || msg.retain {
            j.published += 1;
            let seq = NonZeroU64::new(j.published << SHARD_BITS | index);
            debug_assert!(seq.is_some(), "published counts from 1");
            j.current = seq.map(|seq| JournalId { boot: j.boot, seq });
        }
    }

    /// The journaled message being routed, which its deliveries carry (`None`: not journaled).
    pub(super) fn journal_id(&self) -> Option<JournalId> {
        self.journal.as_ref().and_then(|j| j.current)
    }

    /// The message from session `publisher` has been routed (its targets are still in
    /// `route_targets`): journal it if a QoS 1/2 delivery or the retained store depends on it.
    pub(super) fn journal_publish_end(&mut self, publisher: Key, msg: &Arc<Message>) {
        let Some(JournalId { seq, .. }) = self.journal_id() else {
            return;
        };
        let queued = msg.qos != QoS::AtMostOnce
            && self
                .route_targets
                .iter()
                .any(|(_, o): &(SessionRef, super::SubOptions)| o.qos != QoS::AtMostOnce);
        if queued || msg.retain {
            let publisher = self
                .sessions
                .get(publisher)
                .map(|s| s.client_id.to_string())
                .unwrap_or_default();
            let message = Arc::clone(msg);
            self.push_record(JournalRecord::Published {
                seq: seq.get(),
                publisher,
                message,
            });
        }
        if let Some(j) = self.journal.as_mut() {
            j.current = None;
        }
    }

    /// Session `key` acknowledged (PUBACK or PUBREC) the in-flight message `packet_id`; a
    /// delivery restored from a snapshot keeps the id its message was journaled under, so its
    /// acknowledgement is journaled too.
    pub(super) fn journal_completed(&mut self, key: Key, packet_id: PacketId) {
        let Some(client_id) = self.persistent_client_id(key) else {
            return;
        };
        let id = self.sessions.get(key).and_then(|s| {
            s.outbound
                .in_flight_entries()
                .find(|(i, _, _)| *i == packet_id)
                .and_then(|(_, _, p)| p.and_then(|p| p.journal))
        });
        if let Some(id) = id {
            self.push_record(JournalRecord::Completed { client_id, id });
        }
    }
}
