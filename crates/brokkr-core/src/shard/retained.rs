//! Retained messages in and out: the store updated by a PUBLISH's RETAIN flag, and the
//! matching retained messages delivered to a new subscription in bounded slices that resume
//! after other work ([`Shard::run_background`]).
//!
//! The store keeps each message as a [`RetainedMessage`] (one allocation). A QoS 0 delivery
//! that needs nothing edited (no properties on the message; for an MQTT 5 subscriber no topic
//! alias and no subscription identifier; no read ACL) is written straight from the stored
//! bytes; every other delivery is decoded back into a [`Message`] and takes the ordinary path
//! ([`Shard::deliver`]), so both give the same bytes (tested in `retained::message`).

use super::conn::Phase;
use super::session::{Pending, SubOptions};
use super::{ConnId, Shard};
use crate::limits::RetainedMode;
use crate::message::{EncodeCache, Message};
use crate::retained::{RetainedMessage, RetainedWalk};
use crate::slab::Key;
use brokkr_codec::{ProtocolVersion, QoS, RetainHandling, TopicFilter, TopicName};
use std::sync::Arc;

impl Shard {
    /// Apply a message's RETAIN flag to the store (MQTT-3.3.1-5/6/7), within
    /// `retained_message_max_payload_size` and the node creation limit. `conn` is the
    /// publisher's connection (none for a will or `$SYS`), for the log.
    pub(super) fn retain(&mut self, conn: Option<ConnId>, msg: &Arc<Message>) {
        if !msg.retain {
            return;
        }
        if !msg.topic.is_dollar() {
            self.stats.retained_sets += 1; // the broker's own $SYS sets are not counted
        }
        if self.limits.retained_mode != RetainedMode::Enabled && !msg.topic.is_dollar() {
            return; // relayed with its flag, never stored (the broker's $SYS always is)
        }
        if msg.payload.is_empty() {
            self.shared.retained_mut().remove(&msg.topic);
        } else if msg.payload.len() <= self.limits.retained_payload_bytes_max
            && let Some(stored) = RetainedMessage::new(msg)
        {
            let outcome = self.store_retained(&msg.topic, stored);
            if outcome != Retained::Stored {
                self.retained_limit_event(msg.received_ms, conn, msg, outcome);
            }
        }
    }

    /// Put `message` on `topic` (its own) in the retained store unless
    /// `retained_messages_node_creation_limit` refuses it (`reject` mode; `log` mode stores it
    /// and says so). A replacement or a topic above the enforcement depth creates no counted
    /// node and is never refused.
    pub(super) fn store_retained(
        &mut self,
        topic: &TopicName,
        message: RetainedMessage,
    ) -> Retained {
        debug_assert!(topic.as_str() == message.topic());
        let limit = self.limits.retained_creation_limit;
        let mut store = self.shared.retained_mut();
        store.count_nodes_below(limit.map(|l| l.depth_levels));
        let outcome = match limit.filter(|l| store.would_exceed(topic, l.nodes_max)) {
            Some(l) if l.reject => return Retained::Refused,
            Some(_) => Retained::StoredOverLimit,
            None => Retained::Stored,
        };
        store.set(topic, message);
        outcome
    }

    /// Report a retained message over the node creation limit, at most once a second per
    /// shard (a flood of unique topics must not flood the log too).
    fn retained_limit_event(
        &mut self,
        now_ms: u64,
        conn: Option<ConnId>,
        msg: &Message,
        outcome: Retained,
    ) {
        if !self.event_settings.connections {
            return;
        }
        let (last_ms, suppressed) = &mut self.retained_limit_log;
        if last_ms.is_some_and(|t| now_ms.saturating_sub(t) < RETAINED_LIMIT_LOG_INTERVAL_MS) {
            *suppressed += 1;
            return;
        }
        *last_ms = Some(now_ms);
        let more = std::mem::take(suppressed);
        self.events.push(crate::events::Event::RetainedLimit {
            conn,
            topic: msg.topic.as_str().to_string(),
            refused: outcome == Retained::Refused,
            suppressed: more,
        });
    }

    /// Send the retained messages matching a new subscription (MQTT-3.3.1-9..11).
    pub(super) fn send_retained(
        &mut self,
        now_ms: u64,
        session: Key,
        filter: &TopicFilter,
        opts: SubOptions,
        handling: RetainHandling,
        existed: bool,
    ) {
        let send = match handling {
            RetainHandling::SendAtSubscribe => true,
            RetainHandling::SendIfNew => !existed,
            RetainHandling::DoNotSend => false,
        };
        if !send || filter.share().is_some() {
            return; // shared subscriptions get no retained messages (FlashMQ)
        }
        let walk = RetainedWalk::new(filter.pattern());
        self.retained_jobs.push_back(RetainedJob {
            session,
            walk,
            opts,
        });
        // The first slice goes out at once, with the SUBACK's flush; the rest in later turns.
        self.run_background(now_ms, RETAINED_NODES_PER_SLICE);
    }
}

/// Retained-tree nodes one slice of background work may visit.
pub const RETAINED_NODES_PER_SLICE: usize = 1_000;

/// Least time between two reports of retained messages over the node creation limit.
pub const RETAINED_LIMIT_LOG_INTERVAL_MS: u64 = 1_000;

/// What became of a retained message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Retained {
    Stored,
    /// Over the node creation limit, stored anyway (`log` mode).
    StoredOverLimit,
    /// Over the node creation limit, not stored (`reject` mode); it is still delivered.
    Refused,
}

/// A subscriber's pending delivery of retained messages.
#[derive(Debug)]
pub(super) struct RetainedJob {
    session: Key,
    walk: RetainedWalk,
    opts: SubOptions,
}

impl Shard {
    /// True when retained deliveries are pending; the server then calls
    /// [`Shard::run_background`] between other work until this is false.
    pub fn has_background_work(&self) -> bool {
        !self.retained_jobs.is_empty()
    }

    /// True when every pending background job is waiting for its client to read (the server
    /// should wait a little instead of spinning).
    pub fn background_waiting(&self) -> bool {
        self.background_waiting >= self.retained_jobs.len() && !self.retained_jobs.is_empty()
    }

    /// Do one slice of background work: walk at most `budget_nodes` retained-tree nodes for the
    /// next pending subscriber and deliver what matched. Subscribers take turns; one whose write
    /// buffer is more than half full waits (its messages are not dropped), so a big retained
    /// set costs neither a long stall nor unbounded memory. Returns whether work remains.
    pub fn run_background(&mut self, now_ms: u64, budget_nodes: usize) -> bool {
        let Some(mut job) = self.retained_jobs.pop_front() else {
            return false;
        };
        let Some(s) = self.sessions.get(job.session) else {
            return self.has_background_work(); // session gone: drop the job
        };
        let Some(conn) = s.conn() else {
            return self.has_background_work();
        };
        if self
            .conns
            .get(conn)
            .is_some_and(|c| c.pending_bytes() > c.limits.write_buffer_bytes() / 2)
        {
            self.retained_jobs.push_back(job);
            self.background_waiting += 1;
            return true;
        }
        self.background_waiting = 0;
        let mut found: Vec<RetainedMessage> = Vec::new();
        // retained_messages_node_limit: a walk never enters more nodes than that, since each
        // node entered costs at least one step of the budget.
        let nodes_max = self.limits.retained_walk_nodes_max;
        let budget = budget_nodes.min(nodes_max.saturating_sub(job.walk.nodes_entered()));
        let progress = self
            .shared
            .retained()
            .walk(&mut job.walk, budget, |m| found.push(m.clone()));
        let ttl_ms = self
            .limits
            .retained_expiry_secs
            .map(|s| u64::from(s) * 1000);
        let plain = self.plain_qos0_version(conn, &job.opts);
        for stored in found {
            if ttl_ms.is_some_and(|ttl| now_ms.saturating_sub(stored.received_ms()) > ttl) {
                continue; // expire_retained_messages_after_seconds
            }
            let qos = stored.qos().min(job.opts.qos);
            if let Some(v) = plain
                && qos == QoS::AtMostOnce
                && !stored.has_properties()
            {
                self.write_retained_qos0(now_ms, conn, v, &stored);
                continue;
            }
            let Some(message) = stored.to_message() else {
                continue;
            };
            if message.remaining_expiry_secs(now_ms).is_err() {
                continue; // its Message Expiry passed
            }
            let p = Pending {
                message: Arc::new(message),
                qos,
                retain: true,
                subscription_id: job.opts.subscription_id,
                journal: None,
            };
            self.deliver(now_ms, job.session, p, &mut EncodeCache::default());
        }
        if progress == crate::retained::WalkProgress::Paused && job.walk.nodes_entered() < nodes_max
        {
            self.retained_jobs.push_back(job);
        }
        self.has_background_work()
    }

    /// The protocol version of `conn` if a retained QoS 0 delivery to it under `opts` needs
    /// nothing edited and no read ACL check: the stored bytes can be written as they are.
    fn plain_qos0_version(&self, conn: ConnId, opts: &SubOptions) -> Option<ProtocolVersion> {
        if self.policy.checks_reads() {
            return None;
        }
        let k = self.conns.get(conn)?.connected()?;
        let edited =
            k.version.is_v5() && (opts.subscription_id.is_some() || k.outbound_aliases.enabled());
        (!edited).then_some(k.version)
    }

    /// Write one retained message at QoS 0 from its stored bytes, with the checks of
    /// [`Shard::deliver`] for QoS 0: dropped (and counted) when the write buffer is full or the
    /// packet is over the client's Maximum Packet Size.
    fn write_retained_qos0(
        &mut self,
        now_ms: u64,
        conn: ConnId,
        v: ProtocolVersion,
        stored: &RetainedMessage,
    ) {
        self.mark_dirty(conn);
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        let write_max = c.limits.write_buffer_bytes();
        let Phase::Connected(k) = &c.phase else {
            return;
        };
        let max_packet_bytes = k.max_packet_bytes;
        let io = c.io_mut();
        if io.pending_bytes() >= write_max {
            io.over_cap_since_ms.get_or_insert(now_ms);
            self.stats.messages_dropped += 1;
            return;
        }
        let before = io.write.len();
        let n = stored.encode_qos0(v, &mut io.write);
        if u32::try_from(n).is_ok_and(|n| n <= max_packet_bytes) && io.pending_bytes() <= write_max
        {
            self.stats.messages_sent += 1;
        } else {
            io.write.truncate(before);
            io.over_cap_since_ms.get_or_insert(now_ms);
            self.stats.messages_dropped += 1;
        }
    }
}
