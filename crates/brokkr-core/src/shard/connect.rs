//! The AwaitingConnect phase: CONNECT in, CONNACK out (MQTT 5 section 3.1-3.2).
//!
//! Client identifier rules by version, session take-over and resume, the effective session
//! expiry and keep alive, and the CONNACK that states them. Authentication arrives with the
//! operations issue; until then every client is accepted (the server only listens on loopback
//! without a config file).

use super::conn::{Connected, Phase};
use super::session::{DelayedWill, Presence, Session};
use super::{ConnId, Shard};
use crate::ids::generate_client_id;
use crate::session::{InboundQos2, Outbound};
use crate::short_str::ShortStr;
use crate::topic_alias::{InboundAliases, OutboundAliases};
use brokkr_codec::{
    ConnAck, Connect, Disconnect, MqttString, Packet, ProtocolVersion, QoS, ReasonCode, TopicName,
    Will, WillProperties,
};
use bytes::Bytes;
use std::num::NonZeroU16;

impl Shard {
    pub(super) fn handle_connect(&mut self, now_ms: u64, conn: ConnId, mut connect: Connect) {
        let v = connect.protocol.0;
        if connect.properties.authentication_method.is_some() {
            // Enhanced authentication needs an auth plugin, which does not exist yet.
            return self.refuse(now_ms, conn, v, ReasonCode::BadAuthenticationMethod);
        }
        let mut assigned = None;
        let client_id = if connect.client_id.is_empty() {
            // MQTT 3.1 refuses an empty id; 3.1.1 needs clean session for one (MQTT-3.1.3-8).
            if v == ProtocolVersion::V3_1 || (v == ProtocolVersion::V3_1_1 && !connect.clean_start)
            {
                return self.refuse(now_ms, conn, v, ReasonCode::ClientIdentifierNotValid);
            }
            let id = self.unique_client_id();
            assigned = Some(id.clone());
            id
        } else {
            connect.client_id.as_str().to_string()
        };
        if client_id.len() > self.limits.string_bytes_max
            || (!self.limits.allow_unsafe_clientid_chars && client_id.contains(['+', '#']))
        {
            return self.refuse(now_ms, conn, v, ReasonCode::ClientIdentifierNotValid);
        }
        if !self.limits.allow_unsafe_username_chars
            && connect
                .username
                .as_ref()
                .is_some_and(|u| u.as_str().contains(['+', '#']))
        {
            return self.refuse(now_ms, conn, v, ReasonCode::BadUserNameOrPassword);
        }
        if !self.limits.wills_enabled {
            connect.will = None;
        }
        if connect
            .will
            .as_ref()
            .is_some_and(|w| w.qos > self.limits.max_qos)
        {
            if v.is_v5() || self.limits.mqtt3_qos_exceed_disconnects {
                return self.refuse(now_ms, conn, v, ReasonCode::QosNotSupported);
            }
            connect.will = None; // mqtt3_qos_exceed_action drop
        }
        let expiry_secs = match v {
            ProtocolVersion::V5 => self
                .limits
                .clamp_session_expiry(connect.properties.session_expiry_interval_secs.unwrap_or(0)),
            _ if connect.clean_start => 0,
            _ => self.limits.clamp_session_expiry(u32::MAX),
        };
        let listener = self.conns.get(conn).map_or(0, |c| c.listener);
        let login = match self.policy.login(
            listener,
            connect.username.as_ref().map(|u| u.as_str().as_bytes()),
            connect.password.as_deref(),
        ) {
            Ok(login) => login,
            Err(reason) => return self.refuse(now_ms, conn, v, reason),
        };
        if let Some(will) = &connect.will
            && !self.policy.may_write(&login, &client_id, &will.topic)
        {
            // A will the ACL would not let the client publish is not registered (FlashMQ's
            // `aclchecks/registerwill`); the connection itself is fine.
            connect.will = None;
        }
        let username = connect.username.as_ref().map(|u| u.as_str());
        let owner = self
            .by_client_id
            .get(&self.sessions, &client_id)
            .and_then(|k| self.sessions.get(k));
        if owner.is_some_and(|s| s.username.as_deref() != username) {
            // A session is not handed to another user (FlashMQ: NotAuthorized).
            return self.refuse(now_ms, conn, v, ReasonCode::NotAuthorized);
        }
        let session_present = self.take_over(now_ms, &client_id, connect.clean_start);
        let session = self.attach_session(&client_id, conn, v, &connect, expiry_secs, login);
        self.journal_session(session, !session_present);
        let (keep_alive_secs, keep_alive_changed) =
            self.limits.grant_keep_alive(connect.keep_alive_secs);
        let keep_alive_ms = u32::from(keep_alive_secs) * 1000;
        let receive_maximum = connect
            .properties
            .receive_maximum
            .map_or(u16::MAX, NonZeroU16::get);
        let max_packet_bytes = connect
            .properties
            .maximum_packet_size
            .map_or(u32::MAX, |m| m.get());
        let outbound_alias_max = connect
            .properties
            .topic_alias_maximum
            .unwrap_or(0)
            .min(self.limits.outgoing_topic_aliases_max);
        let inbound_alias_max = if v.is_v5() {
            self.limits.incoming_topic_aliases_max
        } else {
            0
        };
        let mut ack = ConnAck {
            session_present,
            reason: ReasonCode::Success,
            ..Default::default()
        };
        if v.is_v5() {
            let p = &mut ack.properties;
            p.assigned_client_identifier = assigned.and_then(|id| MqttString::new(&id).ok());
            p.receive_maximum = NonZeroU16::new(self.limits.qos_pending_messages_max);
            p.topic_alias_maximum = Some(inbound_alias_max);
            // No property means "no limit"; clients such as paho refuse values above
            // 268,435,455, so a limit at or above the protocol's own is not advertised.
            if self.limits.packet_bytes_max < 268_435_455 {
                p.maximum_packet_size = u32::try_from(self.limits.packet_bytes_max)
                    .ok()
                    .and_then(std::num::NonZeroU32::new);
            }

            p.retain_available = Some(true);
            p.wildcard_subscription_available = Some(true);
            p.subscription_identifiers_available =
                Some(self.limits.subscription_identifiers_enabled);
            if self.limits.max_qos < QoS::ExactlyOnce {
                p.maximum_qos = Some(self.limits.max_qos);
            }
            p.shared_subscription_available = Some(true);
            if keep_alive_changed {
                p.server_keep_alive_secs = Some(keep_alive_secs); // MQTT-3.2.2-21
            }
            if connect.properties.session_expiry_interval_secs != Some(expiry_secs) {
                p.session_expiry_interval_secs = Some(expiry_secs);
            }
        }
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        c.phase = Phase::Connected(Connected {
            version: v,
            session,
            keep_alive_ms,
            inbound_aliases: InboundAliases::new(inbound_alias_max),
            outbound_aliases: OutboundAliases::new(outbound_alias_max),
            max_packet_bytes,
        });
        self.send(conn, &Packet::ConnAck(ack), v);
        self.stats.mqtt_connects += 1;
        self.resume_session(now_ms, conn, session, receive_maximum);
    }

    fn refuse(&mut self, now_ms: u64, conn: ConnId, v: ProtocolVersion, reason: ReasonCode) {
        self.send(
            conn,
            &Packet::ConnAck(ConnAck {
                reason,
                ..Default::default()
            }),
            v,
        );
        self.close(now_ms, conn, false);
    }

    fn unique_client_id(&mut self) -> String {
        loop {
            let id = generate_client_id(&mut self.rng);
            // Homed here, so that a later CONNECT with this id finds its session here (one
            // try in `count` succeeds).
            let home = super::home_shard(id.as_bytes(), self.place.count);
            if home == self.place.index && !self.by_client_id.contains(&self.sessions, &id) {
                return id;
            }
        }
    }

    /// Disconnect a live connection with the same client id (0x8E for MQTT 5; its will is
    /// published, as FlashMQ does), and drop the old session if `clean_start`. Returns whether a
    /// session is resumed (Session Present).
    fn take_over(&mut self, now_ms: u64, client_id: &str, clean_start: bool) -> bool {
        let Some(key) = self.by_client_id.get(&self.sessions, client_id) else {
            return false;
        };
        let old_conn = self.sessions.get(key).and_then(Session::conn);
        if let Some(old) = old_conn {
            if let Some(v) = self.conns.get(old).and_then(|c| c.version())
                && v.is_v5()
            {
                let d = Packet::Disconnect(Disconnect::new(ReasonCode::SessionTakenOver));
                self.send(old, &d, v);
            }
            self.close(now_ms, old, true);
        }
        if clean_start {
            self.end_session(now_ms, key);
            return false;
        }
        self.sessions.get(key).is_some()
    }

    fn attach_session(
        &mut self,
        client_id: &str,
        conn: ConnId,
        v: ProtocolVersion,
        connect: &Connect,
        expiry_secs: u32,
        login: crate::access::Login,
    ) -> crate::slab::Key {
        let will = connect.will.as_ref().map(compact_will);
        if let Some(key) = self.by_client_id.get(&self.sessions, client_id)
            && let Some(s) = self.sessions.get_mut(key)
        {
            s.presence = Presence::Online(conn);
            s.version = v;
            s.will = will;
            s.login = login;
            // A new connection before the will delay ran out: the will is not sent
            // (MQTT-3.1.3-9).
            s.pending_will = None;
            s.expiry_secs = expiry_secs;
            return key;
        }
        let limits = &self.limits;
        let key = self.sessions.insert(Session {
            client_id: ShortStr::new(client_id),
            username: connect.username.as_ref().map(|u| u.as_str().into()),
            login,
            presence: Presence::Online(conn),
            version: v,
            subscriptions: Vec::new(),
            outbound: Outbound::new(
                limits.qos_pending_messages_max,
                usize::from(limits.qos_pending_messages_max),
                limits.qos_pending_bytes_max,
            ),
            inbound_qos2: InboundQos2::default(),
            will,
            pending_will: None,
            expiry_secs,
        });
        self.by_client_id.insert(&self.sessions, key);
        key
    }

    /// Remove a session and its subscriptions; a will still waiting for its delay fires now
    /// (it fires at the earlier of its delay and the session's end).
    pub(super) fn end_session(&mut self, now_ms: u64, key: crate::slab::Key) {
        let Some(session) = self.sessions.remove(key) else {
            return;
        };
        self.by_client_id.remove(&session.client_id, key);
        self.journal_session_ended(&session.client_id, session.expiry_secs);
        let sref = self.session_ref(key);
        for (filter, _) in &session.subscriptions {
            self.shared.tree_mut().remove(filter, &sref);
        }
        if let Some(delayed) = session.pending_will {
            self.publish_will(now_ms, delayed.will);
        }
    }

    /// The connection of session `key` went away: publish the will if the close was abnormal
    /// (after its Will Delay Interval, if it has one and the session outlives the connection),
    /// then end the session or keep it for its expiry.
    pub(super) fn detach_session(
        &mut self,
        now_ms: u64,
        key: crate::slab::Key,
        conn: ConnId,
        abnormal: bool,
    ) {
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        if s.presence != Presence::Online(conn) {
            return;
        }
        s.presence = Presence::Offline { since_ms: now_ms };
        let will = s.will.take();
        let expiry = s.expiry_secs;
        if abnormal && let Some(will) = will {
            let delay_secs = will
                .properties
                .will_delay_interval_secs
                .unwrap_or(0)
                .min(expiry);
            if delay_secs == 0 {
                self.publish_will(now_ms, *will);
            } else if let Some(s) = self.sessions.get_mut(key) {
                s.pending_will = Some(Box::new(DelayedWill {
                    will: *will,
                    fires_at_ms: now_ms + u64::from(delay_secs) * 1000,
                }));
            }
        }
        if expiry == 0 {
            self.end_session(now_ms, key);
        }
    }

    /// Fire wills whose delay ran out.
    pub(super) fn fire_delayed_wills(&mut self, now_ms: u64) {
        let due: Vec<_> = self
            .sessions
            .keys()
            .filter(|&k| {
                self.sessions
                    .get(k)
                    .and_then(|s| s.pending_will.as_ref())
                    .is_some_and(|d| d.fires_at_ms <= now_ms)
            })
            .collect();
        for key in due {
            if let Some(delayed) = self
                .sessions
                .get_mut(key)
                .and_then(|s| s.pending_will.take())
            {
                self.publish_will(now_ms, delayed.will);
            }
        }
    }

    pub(super) fn expire_sessions(&mut self, now_ms: u64) {
        let expired: Vec<_> = self
            .sessions
            .keys()
            .filter(|&k| {
                self.sessions.get(k).is_some_and(|s| {
                    s.offline_since_ms().is_some_and(|t| {
                        now_ms.saturating_sub(t) >= u64::from(s.expiry_secs) * 1000
                    })
                })
            })
            .collect();
        for key in expired {
            self.end_session(now_ms, key);
        }
    }

    /// Resend unacknowledged messages in order, then whatever queued while offline.
    fn resume_session(
        &mut self,
        now_ms: u64,
        conn: ConnId,
        key: crate::slab::Key,
        receive_maximum: u16,
    ) {
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        let resend = s.outbound.resume(receive_maximum);
        for item in resend {
            self.resend(now_ms, conn, item);
        }
        self.pump(now_ms, key);
    }
}

/// A copy of `will` that shares nothing with the CONNECT's read buffer: a session keeps it for
/// as long as the connection lives, and a slice would pin the buffer it arrived in.
fn compact_will(will: &Will) -> Box<Will> {
    let p = &will.properties;
    Box::new(Will {
        topic: will.topic.compact(),
        payload: Bytes::copy_from_slice(&will.payload),
        qos: will.qos,
        retain: will.retain,
        properties: WillProperties {
            content_type: p.content_type.as_ref().map(MqttString::compact),
            response_topic: p.response_topic.as_ref().map(TopicName::compact),
            correlation_data: p.correlation_data.as_deref().map(Bytes::copy_from_slice),
            user_properties: p
                .user_properties
                .iter()
                .map(|(k, v)| (k.compact(), v.compact()))
                .collect(),
            ..p.clone()
        },
    })
}

/// QoS granted for a requested one under the broker's maximum.
pub(super) fn grant(requested: QoS, max: QoS) -> QoS {
    requested.min(max)
}
