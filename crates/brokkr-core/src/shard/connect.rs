//! The AwaitingConnect phase: CONNECT in, CONNACK out (MQTT 5 section 3.1-3.2).
//!
//! Client identifier rules by version, session take-over and resume, the effective session
//! expiry and keep alive, and the CONNACK that states them. The access policy's login sits
//! between the checks of the CONNECT itself and everything that acts on it; a login the policy
//! defers parks the connection in the authenticating phase (`authenticating.rs`), which
//! resumes at [`Shard::complete_connect`].

use super::conn::{Connected, Phase};
use super::session::{DelayedWill, Presence, Session};
use super::{ConnId, Shard};
use crate::access::{Login, LoginCheck};
use crate::events::Event;
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

/// A CONNECT that passed every check but the access policy's login.
#[derive(Debug)]
pub(super) struct Checked {
    pub connect: Connect,
    /// The client identifier in force (generated for an empty one).
    pub client_id: String,
    /// The generated identifier to tell an MQTT 5 client (Assigned Client Identifier).
    pub assigned: Option<String>,
    /// The Session Expiry Interval granted.
    pub expiry_secs: u32,
}

impl Shard {
    pub(super) fn handle_connect(&mut self, now_ms: u64, conn: ConnId, mut connect: Connect) {
        let v = connect.protocol.0;
        if connect.properties.authentication_method.is_some() {
            // Enhanced authentication needs an auth plugin, which does not exist yet.
            return self.refuse(
                now_ms,
                conn,
                v,
                ReasonCode::BadAuthenticationMethod,
                connect.client_id.as_str(),
            );
        }
        let mut assigned = None;
        let client_id = if connect.client_id.is_empty() {
            // MQTT 3.1 refuses an empty id; 3.1.1 needs clean session for one (MQTT-3.1.3-8).
            if v == ProtocolVersion::V3_1 || (v == ProtocolVersion::V3_1_1 && !connect.clean_start)
            {
                return self.refuse(
                    now_ms,
                    conn,
                    v,
                    ReasonCode::ClientIdentifierNotValid,
                    connect.client_id.as_str(),
                );
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
            return self.refuse(
                now_ms,
                conn,
                v,
                ReasonCode::ClientIdentifierNotValid,
                &client_id,
            );
        }
        if !self.limits.allow_unsafe_username_chars
            && connect
                .username
                .as_ref()
                .is_some_and(|u| u.as_str().contains(['+', '#']))
        {
            return self.refuse(
                now_ms,
                conn,
                v,
                ReasonCode::BadUserNameOrPassword,
                &client_id,
            );
        }
        if !self.limits.wills_enabled {
            connect.will = None;
        }
        let own = self.conn_limits(conn);
        if connect.will.as_ref().is_some_and(|w| w.qos > own.max_qos) {
            if v.is_v5() || own.mqtt3_qos_exceed_disconnects {
                return self.refuse(now_ms, conn, v, ReasonCode::QosNotSupported, &client_id);
            }
            connect.will = None; // mqtt3_qos_exceed_action drop
        }
        if self.limits.retained_mode == crate::limits::RetainedMode::DisconnectWithError
            && connect.will.as_ref().is_some_and(|w| w.retain)
        {
            return self.refuse(now_ms, conn, v, ReasonCode::RetainNotSupported, &client_id);
        }
        let expiry_secs = match v {
            ProtocolVersion::V5 => self
                .limits
                .clamp_session_expiry(connect.properties.session_expiry_interval_secs.unwrap_or(0)),
            _ if connect.clean_start => 0,
            _ => self.limits.clamp_session_expiry(u32::MAX),
        };
        let listener = self.conns.get(conn).map_or(0, |c| c.listener);
        let proven = self
            .conns
            .get(conn)
            .and_then(|c| c.transport_user.as_deref())
            .cloned();
        let check = match proven {
            // A verified certificate is the login (FlashMQ skips the password file then).
            Some(user) if !user.still_authenticate => LoginCheck::Now(Ok(Login {
                username: Some(user.name),
            })),
            Some(user) => self.policy.login(
                listener,
                Some(user.name.as_bytes()),
                connect.password.as_deref(),
            ),
            None => self.policy.login(
                listener,
                connect.username.as_ref().map(|u| u.as_str().as_bytes()),
                connect.password.as_deref(),
            ),
        };
        let checked = Checked {
            connect,
            client_id,
            assigned,
            expiry_secs,
        };
        match check {
            LoginCheck::Now(Ok(login)) => self.complete_connect(now_ms, conn, checked, login),
            LoginCheck::Now(Err(reason)) => {
                self.refuse(now_ms, conn, v, reason, &checked.client_id)
            }
            LoginCheck::Deferred(job) => self.defer_login(conn, checked, job),
        }
    }

    /// The rest of a CONNECT once its login succeeded: the will's ACL, takeover, the session,
    /// CONNACK, and what the resumed session has waiting.
    pub(super) fn complete_connect(
        &mut self,
        now_ms: u64,
        conn: ConnId,
        checked: Checked,
        login: Login,
    ) {
        let Checked {
            mut connect,
            client_id,
            assigned,
            expiry_secs,
        } = checked;
        let v = connect.protocol.0;
        if let Some(will) = &connect.will
            && !self.policy.may_write(&login, &client_id, &will.topic)
        {
            // A will the ACL would not let the client publish is not registered (FlashMQ's
            // `aclchecks/registerwill`); the connection itself is fine.
            connect.will = None;
        }
        // The session belongs to the name the client logged in under (a certificate's CN
        // replaces the CONNECT's username).
        let username = login.username.as_deref();
        let owner = self
            .by_client_id
            .get(&self.sessions, &client_id)
            .and_then(|k| self.sessions.get(k));
        if owner.is_some_and(|s| s.username.as_deref() != username) {
            // A session is not handed to another user (FlashMQ: NotAuthorized).
            return self.refuse(now_ms, conn, v, ReasonCode::NotAuthorized, &client_id);
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

            p.retain_available =
                Some(self.limits.retained_mode == crate::limits::RetainedMode::Enabled);
            p.wildcard_subscription_available = Some(true);
            p.subscription_identifiers_available =
                Some(self.limits.subscription_identifiers_enabled);
            let max_qos = self.conn_limits(conn).max_qos; // the listener's `max_qos`
            if max_qos < QoS::ExactlyOnce {
                p.maximum_qos = Some(max_qos);
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
        if self.event_settings.connections {
            let username = self
                .sessions
                .get(session)
                .and_then(|s| s.login.username.clone());
            self.events.push(Event::LoggedIn {
                conn,
                client_id: client_id.clone(),
                username,
                version: v,
                session_present,
            });
        }
        self.resume_session(now_ms, conn, session, receive_maximum);
    }

    pub(super) fn refuse(
        &mut self,
        now_ms: u64,
        conn: ConnId,
        v: ProtocolVersion,
        reason: ReasonCode,
        client_id: &str,
    ) {
        if self.event_settings.connections {
            self.events.push(Event::Refused {
                conn,
                client_id: client_id.to_string(),
                reason,
            });
        }
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
        login: Login,
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
            username: login.username.as_deref().map(Box::from),
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
