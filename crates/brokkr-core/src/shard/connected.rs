//! The Connected phase: every packet a connected client may send, and what it gets back.

use super::conn::Phase;
use super::connect::grant;
use super::session::SubOptions;
use super::{ConnId, Shard};
use crate::events::Event;
use crate::limits::RetainedMode;
use crate::message::Message;
use crate::session::{AckError, Qos2Receipt};
use brokkr_codec::properties::id;
use brokkr_codec::{
    DecodeError, Packet, PayloadFormat, ProtocolVersion, PubAck, PubComp, PubRec, Publish, QoS,
    QosPid, ReasonCode, SubAck, Subscribe, UnsubAck, Unsubscribe,
};
use std::sync::Arc;

/// The broker's own maximum QoS (FlashMQ's `max_qos`, 2 by default).
const MAX_QOS: QoS = QoS::ExactlyOnce;

fn protocol(detail: &'static str) -> DecodeError {
    DecodeError::protocol(detail)
}

impl Shard {
    /// Handle one packet from a connected client. An error closes the connection with the
    /// error's reason code.
    pub(super) fn handle_packet(
        &mut self,
        now_ms: u64,
        conn: ConnId,
        packet: Packet,
    ) -> Result<(), DecodeError> {
        let Some((v, session)) = self
            .conns
            .get(conn)
            .and_then(|c| c.connected())
            .map(|k| (k.version, k.session))
        else {
            return Ok(());
        };
        match packet {
            Packet::Publish(p) => self.handle_publish(now_ms, conn, v, session, p)?,
            Packet::PubAck(a) => {
                self.journal_completed(session, a.packet_id);
                self.outbound_ack(now_ms, session, |o| o.puback_take(a.packet_id))?;
            }
            Packet::PubRec(r) => {
                self.journal_completed(session, r.packet_id);
                let accepted = !r.reason.is_error();
                self.outbound_ack(now_ms, session, |o| o.pubrec_take(r.packet_id, accepted))?;
                if accepted {
                    self.send_success_ack(conn, r.packet_id, brokkr_codec::PubRel::encode_success);
                }
            }
            Packet::PubComp(c) => {
                self.outbound_ack(now_ms, session, |o| o.pubcomp(c.packet_id).map(|()| None))?;
            }
            Packet::PubRel(r) => {
                let known = self
                    .sessions
                    .get_mut(session)
                    .is_some_and(|s| s.inbound_qos2.release(r.packet_id));
                if !known && v.is_v5() {
                    let mut comp = PubComp::new(r.packet_id);
                    comp.reason = ReasonCode::PacketIdentifierNotFound;
                    self.send(conn, &Packet::PubComp(comp), v);
                } else {
                    self.send_success_ack(conn, r.packet_id, PubComp::encode_success);
                }
            }
            Packet::Subscribe(s) => self.handle_subscribe(now_ms, conn, v, session, s)?,
            Packet::Unsubscribe(u) => self.handle_unsubscribe(conn, v, session, u),
            Packet::PingReq => self.send(conn, &Packet::PingResp, v),
            Packet::Disconnect(d) => {
                // MQTT-3.14.4-3: a normal DISCONNECT discards the will; 0x04 publishes it.
                let with_will = d.reason == ReasonCode::DisconnectWithWill;
                if let Some(s) = self.sessions.get_mut(session) {
                    if let Some(expiry) = d.properties.session_expiry_interval_secs {
                        if s.expiry_secs == 0 && expiry != 0 {
                            return Err(protocol("session expiry set after connecting with 0"));
                        }
                        s.expiry_secs = self.limits.clamp_session_expiry(expiry);
                    }
                    if !with_will {
                        s.will = None;
                    }
                }
                if d.properties.session_expiry_interval_secs.is_some() {
                    self.journal_session(session, false);
                }
                self.close(now_ms, conn, with_will);
            }
            Packet::Auth(_) => return Err(protocol("AUTH without an authentication method")),
            Packet::Connect(_) => return Err(protocol("second CONNECT").rule("MQTT-3.1.0-2")),
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                return Err(protocol("server packet sent by a client"));
            }
        }
        Ok(())
    }

    fn outbound_ack(
        &mut self,
        now_ms: u64,
        session: crate::slab::Key,
        ack: impl FnOnce(
            &mut crate::session::Outbound<super::Pending>,
        ) -> Result<Option<super::Pending>, AckError>,
    ) -> Result<(), DecodeError> {
        let Some(s) = self.sessions.get_mut(session) else {
            return Ok(());
        };
        match ack(&mut s.outbound) {
            // The flow no longer needs its message: its allocation may serve the next one.
            Ok(Some(done)) => self.message_pool.give(done.message),
            // An acknowledgement for an identifier not in flight is ignored (it may be late).
            Ok(None) | Err(AckError::UnknownId) => {}
            Err(AckError::WrongState) => return Err(protocol("acknowledgement out of order")),
        }
        self.pump(now_ms, session);
        Ok(())
    }

    /// `log_subscriptions`: one filter of a SUBSCRIBE and what it was granted.
    fn subscription_event(
        &mut self,
        conn: ConnId,
        session: crate::slab::Key,
        filter: &str,
        granted: Option<QoS>,
    ) {
        if !self.event_settings.subscriptions {
            return;
        }
        if let Some(s) = self.sessions.get(session) {
            self.events.push(Event::Subscribed {
                conn,
                client_id: s.client_id.to_string(),
                filter: filter.to_string(),
                granted,
            });
        }
    }

    fn handle_publish(
        &mut self,
        now_ms: u64,
        conn: ConnId,
        v: ProtocolVersion,
        session: crate::slab::Key,
        mut publish: Publish,
    ) -> Result<(), DecodeError> {
        if publish.properties.contains(id::SUBSCRIPTION_IDENTIFIER) {
            return Err(protocol("client PUBLISH with a subscription identifier"));
        }
        let topic = match self.conns.get_mut(conn).map(|c| &mut c.phase) {
            Some(Phase::Connected(k)) => k
                .inbound_aliases
                .resolve(&publish.topic, publish.properties.topic_alias())?,
            _ => return Ok(()),
        };
        // A topic of n bytes has at most n + 1 levels: most are too short to need counting.
        let levels_max = self.limits.topic_levels_max;
        if topic.len() > self.limits.string_bytes_max
            || (topic.len() >= levels_max && topic.level_count() > levels_max)
        {
            return Err(DecodeError::limit(
                ReasonCode::TopicNameInvalid,
                "topic too long or deep",
            ));
        }
        if self.event_settings.publishes
            && let Some(s) = self.sessions.get(session)
        {
            self.events.push(Event::Published {
                conn,
                client_id: s.client_id.to_string(),
                topic: topic.as_str().to_string(),
                qos: publish.qos_pid.qos(),
                retain: publish.retain,
                payload_bytes: publish.payload.len(),
            });
        }
        if publish.properties.payload_format_indicator() == Some(PayloadFormat::Utf8)
            && std::str::from_utf8(&publish.payload).is_err()
        {
            return Err(
                protocol("payload is not UTF-8").with_reason(ReasonCode::PayloadFormatInvalid)
            );
        }
        let qos_pid = publish.qos_pid;
        let own = self.conn_limits(conn);
        if qos_pid.qos() > own.max_qos {
            if v.is_v5() || own.mqtt3_qos_exceed_disconnects {
                return Err(
                    protocol("PUBLISH above max_qos").with_reason(ReasonCode::QosNotSupported)
                );
            }
            // mqtt3_qos_exceed_action drop: acknowledged, then discarded.
            self.acknowledge(conn, qos_pid);
            return Ok(());
        }
        if publish.retain {
            match self.limits.retained_mode {
                RetainedMode::DisconnectWithError => {
                    return Err(protocol("retained PUBLISH (retained_messages_mode)")
                        .with_reason(ReasonCode::RetainNotSupported));
                }
                RetainedMode::Drop => {
                    self.acknowledge(conn, qos_pid);
                    return Ok(());
                }
                RetainedMode::Downgrade => publish.retain = false,
                RetainedMode::Enabled | RetainedMode::WithoutRetaining => {}
            }
        }
        if !self.may_write(session, &topic) {
            // Not allowed by the ACL: MQTT 5 hears 0x87 in the acknowledgement (which ends a
            // QoS 2 flow at once); 3.x cannot be told, so it is acknowledged and dropped.
            let mut reason = ReasonCode::NotAuthorized;
            if !v.is_v5() {
                reason = ReasonCode::Success;
            }
            match qos_pid {
                QosPid::AtMostOnce => {}
                QosPid::AtLeastOnce(id) => {
                    let mut ack = PubAck::new(id);
                    ack.reason = reason;
                    self.send(conn, &Packet::PubAck(ack), v);
                }
                QosPid::ExactlyOnce(id) => {
                    let mut rec = PubRec::new(id);
                    rec.reason = reason;
                    self.send(conn, &Packet::PubRec(rec), v);
                }
            }
            return Ok(());
        }
        if let QosPid::ExactlyOnce(id) = qos_pid {
            let max = self.limits.qos_pending_messages_max;
            let receipt = self
                .sessions
                .get_mut(session)
                .map(|s| s.inbound_qos2.receive(id, max));
            match receipt {
                Some(Qos2Receipt::New) => {}
                Some(Qos2Receipt::Duplicate) => {
                    self.send_success_ack(conn, id, PubRec::encode_success);
                    return Ok(());
                }
                _ => {
                    return Err(DecodeError::limit(
                        ReasonCode::ReceiveMaximumExceeded,
                        "QoS 2 receive maximum",
                    ));
                }
            }
        }
        // Acknowledge first, then fan out (as FlashMQ does): a publisher subscribed to its own
        // topic sees its PUBACK before its copy of the message.
        self.acknowledge(conn, qos_pid);
        self.stats.messages_received += 1;
        let msg = self
            .message_pool
            .take(Message::from_publish(publish, topic, now_ms));
        if msg.topic.is_dollar() {
            // `$` topics belong to the broker: acknowledged above, never retained or routed.
            return Ok(());
        }
        self.journal_publish_start(&msg);
        self.retain(Some(conn), &msg);
        self.route(now_ms, Some(session), Arc::clone(&msg));
        self.journal_publish_end(session, &msg);
        // Kept for the next PUBLISH if no delivery or record holds it (QoS 0 to online
        // subscribers, or no subscriber).
        self.message_pool.give(msg);
        Ok(())
    }

    /// Acknowledge a PUBLISH with success (PUBACK or PUBREC; nothing for QoS 0).
    fn acknowledge(&mut self, conn: ConnId, qos_pid: QosPid) {
        match qos_pid {
            QosPid::AtMostOnce => {}
            QosPid::AtLeastOnce(id) => self.send_success_ack(conn, id, PubAck::encode_success),
            QosPid::ExactlyOnce(id) => self.send_success_ack(conn, id, PubRec::encode_success),
        }
    }

    fn handle_subscribe(
        &mut self,
        now_ms: u64,
        conn: ConnId,
        v: ProtocolVersion,
        session: crate::slab::Key,
        sub: Subscribe,
    ) -> Result<(), DecodeError> {
        let subscription_id = sub.properties.subscription_identifier;
        if subscription_id.is_some() && !self.limits.subscription_identifiers_enabled {
            return Err(protocol("subscription identifiers are disabled")
                .with_reason(ReasonCode::SubscriptionIdentifiersNotSupported));
        }
        let mut reasons = Vec::with_capacity(sub.filters.len().min(64));
        let mut accepted = Vec::new();
        for (filter, options) in sub.filters {
            let too_deep = filter.pattern().split('/').count() > self.limits.topic_levels_max;
            let full = self.sessions.get(session).is_some_and(|s| {
                s.subscriptions.len() >= self.limits.subscriptions_per_session_max
            });
            if too_deep || filter.as_str().len() > self.limits.string_bytes_max {
                reasons.push(ReasonCode::TopicFilterInvalid);
                self.subscription_event(conn, session, filter.as_str(), None);
                continue;
            }
            if full {
                reasons.push(ReasonCode::QuotaExceeded);
                self.subscription_event(conn, session, filter.as_str(), None);
                continue;
            }
            let shallow_wildcard = self.wildcard_too_shallow(&filter);
            if shallow_wildcard && !self.limits.wildcard_deny_retained_only {
                reasons.push(ReasonCode::WildcardSubscriptionsNotSupported);
                self.subscription_event(conn, session, filter.as_str(), None);
                continue;
            }
            let granted = grant(options.qos, MAX_QOS.min(self.conn_limits(conn).max_qos));
            self.subscription_event(conn, session, filter.as_str(), Some(granted));
            let opts = SubOptions {
                qos: granted,
                no_local: options.no_local,
                retain_as_published: options.retain_as_published,
                subscription_id,
            };
            let filter = filter.compact();
            let sref = self.session_ref(session);
            let existed = self.shared.tree_mut().insert(&filter, sref, opts).is_some();
            self.journal_subscribed(session, &filter, opts);
            if let Some(s) = self.sessions.get_mut(session) {
                match s.subscriptions.iter_mut().find(|(f, _)| *f == filter) {
                    Some(entry) => entry.1 = opts,
                    None => s.subscriptions.push((filter.clone(), opts)),
                }
            }
            reasons.push(match granted {
                QoS::AtMostOnce => ReasonCode::Success,
                QoS::AtLeastOnce => ReasonCode::GrantedQos1,
                QoS::ExactlyOnce => ReasonCode::GrantedQos2,
            });
            let handling = if shallow_wildcard {
                brokkr_codec::RetainHandling::DoNotSend // deny_retained_only
            } else {
                options.retain_handling
            };
            accepted.push((filter, opts, handling, existed));
        }
        let ack = SubAck {
            packet_id: sub.packet_id,
            properties: Default::default(),
            reasons,
        };
        self.send(conn, &Packet::SubAck(ack), v);
        for (filter, opts, handling, existed) in accepted {
            self.send_retained(now_ms, session, &filter, opts, handling, existed);
        }
        Ok(())
    }

    fn handle_unsubscribe(
        &mut self,
        conn: ConnId,
        v: ProtocolVersion,
        session: crate::slab::Key,
        unsub: Unsubscribe,
    ) {
        let mut reasons = Vec::new();
        for filter in &unsub.filters {
            if self.event_settings.subscriptions
                && let Some(s) = self.sessions.get(session)
            {
                self.events.push(Event::Unsubscribed {
                    conn,
                    client_id: s.client_id.to_string(),
                    filter: filter.as_str().to_string(),
                });
            }
            let sref = self.session_ref(session);
            let removed = self.shared.tree_mut().remove(filter, &sref).is_some();
            if removed {
                self.journal_unsubscribed(session, filter);
            }
            if let Some(s) = self.sessions.get_mut(session) {
                s.subscriptions.retain(|(f, _)| f != filter);
            }
            reasons.push(if removed {
                ReasonCode::Success
            } else {
                ReasonCode::NoSubscriptionExisted
            });
        }
        let ack = UnsubAck {
            packet_id: unsub.packet_id,
            properties: Default::default(),
            reasons: if v.is_v5() { reasons } else { Vec::new() },
        };
        self.send(conn, &Packet::UnsubAck(ack), v);
    }
}

impl Shard {
    /// The write ACL for session `session` (FlashMQ's `aclchecks/write`).
    fn may_write(&self, session: crate::slab::Key, topic: &brokkr_codec::TopicName) -> bool {
        if !self.policy.checks_writes() {
            return true;
        }
        self.sessions
            .get(session)
            .is_some_and(|s| self.policy.may_write(&s.login, &s.client_id, topic))
    }
}

impl Shard {
    /// `minimum_wildcard_subscription_depth`: a `+` or `#` in one of the first
    /// `wildcard_depth_min` levels of the filter (ignoring a `$share/group/` prefix).
    fn wildcard_too_shallow(&self, filter: &brokkr_codec::TopicFilter) -> bool {
        let depth = self.limits.wildcard_depth_min;
        depth > 0
            && filter
                .pattern()
                .split('/')
                .take(depth)
                .any(|level| level == "+" || level == "#")
    }
}
