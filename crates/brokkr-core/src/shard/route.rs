//! Fan-out: from one message to every matching subscription, and from a delivery to bytes in a
//! connection's write buffer or a place in a session's queue.

use super::session::Pending;
use super::{ConnId, Shard};
use crate::limits::RetainedMode;
use crate::message::{Delivery, EncodeCache, Message, encode_delivery};
use crate::session::Resend;
use crate::slab::Key;
use crate::subscriptions::Match;
use crate::topic_alias::OutboundTopic;
use brokkr_codec::{Packet, PubRel, PublishPropertiesBuilder, QoS, QosPid, Will};
use std::sync::Arc;

impl Shard {
    /// Deliver `msg` to every matching subscription. `publisher` is the sending session, for
    /// No Local. Topics starting with `$` from clients are not routed (only the broker
    /// publishes there, as FlashMQ).
    pub(super) fn route(&mut self, now_ms: u64, publisher: Option<Key>, msg: Arc<Message>) {
        if publisher.is_some() && msg.topic.is_dollar() {
            return;
        }
        let publisher = publisher.map(|k| self.session_ref(k));
        // Reuse one target list across publishes: matching allocates nothing in steady state.
        let mut targets = std::mem::take(&mut self.route_targets);
        targets.clear();
        let targeting = self.limits.share_targeting;
        let sender_hash = match (targeting, publisher) {
            (crate::limits::ShareTargeting::SenderHash, Some(p)) => self
                .sessions
                .get(p.key)
                .map_or(0, |s| home_shard_hash(s.client_id.as_bytes())),
            _ => 0,
        };
        let topic = msg.topic.as_str();
        if let Some(hit) = self.route_cache.get(self.shared.tree_generation(), topic) {
            targets.extend_from_slice(hit);
        } else {
            // The tree's read lock is held for the match only, never while delivering.
            let tree = self.shared.tree();
            let generation = self.shared.tree_generation();
            let mut shared_group = false;
            tree.for_each_match(topic, &mut self.scratch, |m| match m {
                Match::Direct(k, o) => targets.push((*k, *o)),
                Match::Shared(group) => {
                    shared_group = true;
                    let n = group.members.len().max(1);
                    let pick = match targeting {
                        crate::limits::ShareTargeting::RoundRobin => group.cursor.advance() % n,
                        crate::limits::ShareTargeting::SenderHash => sender_hash % n,
                        crate::limits::ShareTargeting::First => 0,
                    };
                    if let Some((k, o)) = group.members.get(pick) {
                        targets.push((*k, *o));
                    }
                }
            });
            drop(tree);
            if !shared_group {
                self.route_cache.put(generation, topic, &targets);
            }
        }
        // One encode cache per shard, reset for each message: its buffer is reused.
        let mut cache = self.encode_cache.take().unwrap_or_default();
        cache.reset();
        let journal = self.journal_id();
        for &(session, opts) in &targets {
            if opts.no_local && Some(session) == publisher {
                continue;
            }
            let pending = Pending {
                message: Arc::clone(&msg),
                qos: msg.qos.min(opts.qos),
                retain: opts.retain_as_published && msg.retain,
                subscription_id: opts.subscription_id,
                journal,
            };
            if session.shard == self.place.index {
                self.deliver(now_ms, session.key, pending, &mut cache);
            } else if let Some(batch) = usize::try_from(session.shard)
                .ok()
                .and_then(|i| self.outbox.get_mut(i))
            {
                batch.push(super::RemoteDelivery {
                    session: session.key,
                    pending,
                });
            }
        }
        self.route_targets = targets;
        self.encode_cache = Some(cache);
    }

    /// One delivery to one session.
    pub(super) fn deliver(
        &mut self,
        now_ms: u64,
        session: Key,
        p: Pending,
        cache: &mut EncodeCache,
    ) {
        let Some(s) = self.sessions.get_mut(session) else {
            return;
        };
        if self.policy.checks_reads()
            && !self
                .policy
                .may_read(&s.login, &s.client_id, &p.message.topic)
        {
            return; // the read ACL, checked per delivered message as FlashMQ does
        }
        if p.qos == QoS::AtMostOnce {
            // QoS 0 goes straight to an online client; offline sessions do not queue it.
            if let Some(conn) = s.conn() {
                self.write_publish(now_ms, conn, &p, QosPid::AtMostOnce, false, cache);
            }
            return;
        }
        let message = Arc::clone(&p.message);
        // At a cap, queued messages whose Message Expiry passed give up their places first
        // (they would be dropped at sending anyway, MQTT-3.3.2-5); then the offer is retried.
        let offered = s.outbound.offer(p).or_else(|p| {
            let expired = |q: &Pending| q.message.remaining_expiry_secs(now_ms).is_err();
            if s.outbound.purge_queued(expired) == 0 {
                return Err(p);
            }
            s.outbound.offer(p)
        });
        if offered.is_err() {
            self.stats.messages_dropped += 1;
            return; // over the session's caps: dropped and counted
        }
        self.pump_with(now_ms, session, Some((&message, cache)));
    }

    /// Move queued messages into the window while it has room, writing them to the client.
    pub(super) fn pump(&mut self, now_ms: u64, session: Key) {
        self.pump_with(now_ms, session, None);
    }

    /// `shared` is the fan-out's encode cache and the message it is for: it serves only that
    /// message; every other one pumped out of the queue gets its own cache (a cache is valid
    /// for one message).
    fn pump_with(
        &mut self,
        now_ms: u64,
        session: Key,
        mut shared: Option<(&Arc<Message>, &mut EncodeCache)>,
    ) {
        loop {
            let Some(s) = self.sessions.get_mut(session) else {
                return;
            };
            let Some(conn) = s.conn() else { return };
            let Some((id, p)) = s.outbound.next_to_send() else {
                return;
            };
            let qos_pid = QosPid::from_parts(p.qos, id);
            // A cache of its own only for a message other than the fan-out's (built lazily:
            // most pumped messages are the one just offered).
            let mut own = None;
            let cache = match shared.as_mut() {
                Some((m, c)) if Arc::ptr_eq(m, &p.message) => &mut **c,
                _ => own.insert(EncodeCache::default()),
            };
            if !self.write_publish(now_ms, conn, &p, qos_pid, false, cache)
                && let Some(s) = self.sessions.get_mut(session)
            {
                s.outbound.abandon(id);
            }
        }
    }

    /// Encode one PUBLISH into `conn`'s write buffer. False if it was not written (expired,
    /// over the client's Maximum Packet Size, or a QoS 0 message while the buffer is full).
    fn write_publish(
        &mut self,
        now_ms: u64,
        conn: ConnId,
        p: &Pending,
        qos_pid: QosPid,
        dup: bool,
        cache: &mut EncodeCache,
    ) -> bool {
        self.mark_dirty(conn);
        let Some(c) = self.conns.get_mut(conn) else {
            return false;
        };
        let write_max = c.limits.write_buffer_bytes();
        let super::conn::Phase::Connected(k) = &mut c.phase else {
            return false;
        };
        let io = c.io.get_or_insert_with(Box::default);
        if qos_pid == QosPid::AtMostOnce && io.pending_bytes() >= write_max {
            io.over_cap_since_ms.get_or_insert(now_ms);
            self.stats.messages_dropped += 1;
            return false;
        }
        // A resend is not expired: once a PUBLISH went out its flow is finished whatever its
        // expiry (MQTT-4.3.3-7), with an interval of 0 left.
        if !dup && p.message.remaining_expiry_secs(now_ms).is_err() {
            return false;
        }
        let version = k.version;
        let alias = match (
            version.is_v5(),
            k.outbound_aliases.for_topic(&p.message.topic),
        ) {
            (true, OutboundTopic::Define(a)) => Some((a, true)),
            (true, OutboundTopic::Use(a)) => Some((a, false)),
            _ => None,
        };
        let d = Delivery {
            version,
            qos_pid,
            retain: p.retain,
            dup,
            alias,
            subscription_ids: if version.is_v5() {
                p.subscription_id.as_slice()
            } else {
                &[]
            },
        };
        let before = io.write.len();
        match encode_delivery(&p.message, &d, now_ms, cache, io.write_for_delivery()) {
            // QoS 0 never takes the buffer past its cap: a client that reads slowly loses QoS 0
            // messages, not the broker's memory.
            Ok(n)
                if u32::try_from(n).is_ok_and(|n| n <= k.max_packet_bytes)
                    && (qos_pid != QosPid::AtMostOnce || io.pending_bytes() <= write_max) =>
            {
                self.stats.messages_sent += 1;
                true
            }
            result => {
                io.write.truncate(before);
                if let Some((a, true)) = alias {
                    k.outbound_aliases.undefine(&p.message.topic, a);
                }
                if result.is_ok() && qos_pid == QosPid::AtMostOnce {
                    io.over_cap_since_ms.get_or_insert(now_ms);
                }
                self.stats.messages_dropped += 1;
                false
            }
        }
    }

    /// Resend one unacknowledged flow on a resumed session.
    pub(super) fn resend(&mut self, now_ms: u64, conn: ConnId, item: Resend<Pending>) {
        match item {
            Resend::Publish(id, p) => {
                let qos_pid = QosPid::from_parts(p.qos, id);
                self.write_publish(now_ms, conn, &p, qos_pid, true, &mut EncodeCache::default());
            }
            Resend::PubRel(id) => {
                if let Some(v) = self.conns.get(conn).and_then(|c| c.version()) {
                    self.send(conn, &Packet::PubRel(PubRel::new(id)), v);
                }
            }
        }
    }

    /// Publish a will: retained if it says so, then routed like any message.
    /// `retained_messages_mode` applies to a will's RETAIN flag as to a PUBLISH's (a retained
    /// will never gets here in `disconnect_with_error` mode: its CONNECT was refused).
    pub(super) fn publish_will(&mut self, now_ms: u64, mut will: Will) {
        if will.retain {
            match self.limits.retained_mode {
                RetainedMode::Drop | RetainedMode::DisconnectWithError => return,
                RetainedMode::Downgrade => will.retain = false,
                RetainedMode::Enabled | RetainedMode::WithoutRetaining => {}
            }
        }
        let wp = will.properties;
        let properties = PublishPropertiesBuilder {
            payload_format_indicator: wp.payload_format_indicator,
            message_expiry_interval_secs: wp.message_expiry_interval_secs,
            response_topic: wp.response_topic,
            correlation_data: wp.correlation_data,
            user_properties: wp.user_properties,
            content_type: wp.content_type,
            ..Default::default()
        }
        .build()
        // Cannot fail: every value came from a CONNECT that fit in one packet.
        .unwrap_or_default();
        let msg = Arc::new(Message {
            topic: will.topic,
            payload: will.payload,
            qos: will.qos,
            retain: will.retain,
            properties,
            received_ms: now_ms,
        });
        self.retain(None, &msg);
        self.route(now_ms, None, msg);
    }
}

/// A fixed hash of a client id (for `sender_hash` targeting: the same on every shard and run).
fn home_shard_hash(client_id: &[u8]) -> usize {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(client_id);
    let hash = h.finish();
    usize::try_from(hash ^ (hash >> 32)).unwrap_or(0)
}
