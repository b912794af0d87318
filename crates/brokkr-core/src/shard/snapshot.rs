//! Taking and restoring snapshots ([`crate::snapshot`]): the shard's persistent sessions and the
//! broker's retained messages out, and back into fresh shards after a restart.
//!
//! A snapshot holds no connection: a session online at the snapshot is saved as if its
//! connection had been lost at that moment (offline for 0 ms, its will pending with its delay).
//! Sessions that end with their connection (expiry 0) are not saved, nor are expired messages
//! or the broker's own `$` topics. Restoring never sends anything: sessions come back offline
//! with their expiry and will clocks running, and the next [`Shard::tick`] ends those whose
//! time ran out while the broker was down. Times are the shard's clock; a restore at `now_ms`
//! cannot place an event before 0, so the server's clock should start far from 0 (wall-clock
//! milliseconds, for instance) or an old session would get a few extra seconds.

use super::session::{DelayedWill, Pending, Presence, Session};
use super::{ConnId, Phase, Shard, SharedState, home_shard};
use crate::message::Message;
use crate::retained::{RetainedMessage, RetainedWalk};
use crate::session::{InboundQos2, Outbound, OutboundState};
use crate::short_str::ShortStr;
use crate::snapshot::{
    DeliverySnapshot, InFlightSnapshot, RetainedSnapshot, SessionSnapshot, WillSnapshot,
};
use brokkr_codec::{Disconnect, Packet, QoS, ReasonCode, Will};
use std::sync::Arc;

/// What a restore did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    /// Items put back.
    pub restored: usize,
    /// Items left out: a session homed on another shard or already present, an expired
    /// message, a retained payload over the cap.
    pub skipped: usize,
}

impl SharedState {
    /// Every retained message except those on `$` topics (the broker's own, published again by
    /// the new process) and those expired at `now_ms`, in topic order.
    pub fn snapshot_retained(&self, now_ms: u64) -> Vec<RetainedSnapshot> {
        let mut all: Vec<RetainedMessage> = Vec::new();
        // The read lock is held while the messages are gathered (one reference count each),
        // not while they are decoded.
        self.retained()
            .walk(&mut RetainedWalk::new("#"), usize::MAX, |m| {
                all.push(m.clone())
            });
        all.iter()
            .filter_map(RetainedMessage::to_message)
            .filter(|m| m.remaining_expiry_secs(now_ms).is_ok())
            .map(|m| RetainedSnapshot {
                age_ms: now_ms.saturating_sub(m.received_ms),
                message: detached(&m),
            })
            .collect()
    }
}

/// A copy of `m` without the shard's clock.
fn detached(m: &Message) -> Message {
    Message {
        received_ms: 0,
        ..m.clone()
    }
}

/// The message of a snapshot, received `age_ms` before `now_ms`.
fn attached(message: Message, age_ms: u64, now_ms: u64) -> Arc<Message> {
    Arc::new(Message {
        received_ms: now_ms.saturating_sub(age_ms),
        ..message
    })
}

fn delivery_snapshot(p: &Pending, now_ms: u64) -> DeliverySnapshot {
    DeliverySnapshot {
        message: detached(&p.message),
        age_ms: now_ms.saturating_sub(p.message.received_ms),
        qos: p.qos,
        retain: p.retain,
        subscription_id: p.subscription_id,
        journal: p.journal,
    }
}

fn pending(d: DeliverySnapshot, now_ms: u64) -> Pending {
    Pending {
        message: attached(d.message, d.age_ms, now_ms),
        qos: d.qos,
        retain: d.retain,
        subscription_id: d.subscription_id,
        journal: d.journal,
    }
}

fn session_snapshot(s: &Session, now_ms: u64) -> SessionSnapshot {
    let in_flight = s
        .outbound
        .in_flight_entries()
        .map(|(id, _, message)| match message {
            Some(p) => InFlightSnapshot::Publish(id, delivery_snapshot(p, now_ms)),
            None => InFlightSnapshot::PubRel(id),
        })
        .collect();
    let queued = s
        .outbound
        .queued_messages()
        .filter(|p| p.message.remaining_expiry_secs(now_ms).is_ok())
        .map(|p| delivery_snapshot(p, now_ms))
        .collect();
    // An online session's will is saved as if its connection were lost now (detach_session).
    let will: Option<(&Will, u64)> = match (&s.pending_will, &s.will) {
        (Some(d), _) => Some((&d.will, d.fires_at_ms.saturating_sub(now_ms))),
        (None, Some(will)) => {
            let delay_secs = will.properties.will_delay_interval_secs.unwrap_or(0);
            Some((will, u64::from(delay_secs.min(s.expiry_secs)) * 1000))
        }
        (None, None) => None,
    };
    let will = will.map(|(will, delay_ms)| {
        let mut will = Will::clone(will);
        will.properties.will_delay_interval_secs = None;
        WillSnapshot { will, delay_ms }
    });
    SessionSnapshot {
        client_id: s.client_id.to_string(),
        username: s.username.as_deref().map(str::to_string),
        version: s.version,
        expiry_secs: s.expiry_secs,
        offline_for_ms: s.offline_since_ms().map_or(0, |t| now_ms.saturating_sub(t)),
        subscriptions: s.subscriptions.clone(),
        in_flight,
        queued,
        inbound_qos2: s.inbound_qos2.ids(),
        last_packet_id: s.outbound.last_packet_id(),
        will,
    }
}

impl Shard {
    /// This shard's persistent sessions (Session Expiry Interval above 0), by client id.
    pub fn snapshot_sessions(&self, now_ms: u64) -> Vec<SessionSnapshot> {
        let mut all: Vec<SessionSnapshot> = self
            .sessions
            .keys()
            .filter_map(|k| self.sessions.get(k))
            .filter(|s| s.expiry_secs > 0)
            .map(|s| session_snapshot(s, now_ms))
            .collect();
        all.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        all
    }

    /// Put saved retained messages back into the broker's shared store (call it on one shard).
    /// A message expired at `now_ms`, whose payload is over the cap, or that the node creation
    /// limit refuses, is left out; one that is already retained on its topic is replaced.
    pub fn restore_retained(&mut self, now_ms: u64, saved: Vec<RetainedSnapshot>) -> Restored {
        let mut report = Restored::default();
        for r in saved {
            let message = attached(r.message, r.age_ms, now_ms);
            let keep = self.limits.retained_mode == crate::limits::RetainedMode::Enabled
                && message.remaining_expiry_secs(now_ms).is_ok()
                && !message.payload.is_empty()
                && message.payload.len() <= self.limits.retained_payload_bytes_max;
            if !keep {
                report.skipped += 1;
                continue;
            }
            let Some(stored) = RetainedMessage::new(&message) else {
                report.skipped += 1;
                continue;
            };
            if self.store_retained(&message.topic, stored) == super::retained::Retained::Refused {
                report.skipped += 1;
                continue;
            }
            report.restored += 1;
        }
        report
    }

    /// Put saved sessions homed on this shard back, offline: subscriptions (into the shared
    /// tree), outbound flows and queue, inbound QoS 2 identifiers, packet identifiers, the
    /// pending will with the delay it had left, and the expiry clock continuing from the time
    /// it had already been offline. A session homed elsewhere, or whose client id already has
    /// a session here, is skipped.
    pub fn restore_sessions(&mut self, now_ms: u64, saved: Vec<SessionSnapshot>) -> Restored {
        let mut report = Restored::default();
        for s in saved {
            let home = home_shard(s.client_id.as_bytes(), self.place.count);
            if home != self.place.index
                || s.expiry_secs == 0
                || self.by_client_id.contains(&self.sessions, &s.client_id)
            {
                report.skipped += 1;
                continue;
            }
            self.restore_session(now_ms, s);
            report.restored += 1;
        }
        report
    }

    fn restore_session(&mut self, now_ms: u64, saved: SessionSnapshot) {
        let limits = &self.limits;
        let mut outbound = Outbound::new(
            limits.qos_pending_messages_max,
            usize::from(limits.qos_pending_messages_max),
            limits.qos_pending_bytes_max,
        );
        for f in saved.in_flight {
            let restored = match f {
                InFlightSnapshot::Publish(id, d) => {
                    let state = match d.qos {
                        QoS::ExactlyOnce => OutboundState::AwaitingPubRec,
                        _ => OutboundState::AwaitingPubAck,
                    };
                    outbound.restore_in_flight(id, state, Some(pending(d, now_ms)))
                }
                InFlightSnapshot::PubRel(id) => {
                    outbound.restore_in_flight(id, OutboundState::AwaitingPubComp, None)
                }
            };
            debug_assert!(
                restored,
                "a decoded snapshot has distinct ids and valid QoS"
            );
        }
        outbound.restore_last_packet_id(saved.last_packet_id);
        for d in saved.queued {
            if d.qos != QoS::AtMostOnce && outbound.offer(pending(d, now_ms)).is_err() {
                self.stats.messages_dropped += 1; // the caps may be lower than at the save
            }
        }
        let mut inbound_qos2 = InboundQos2::default();
        for id in saved.inbound_qos2 {
            inbound_qos2.receive(id, u16::MAX);
        }
        let mut subscriptions = saved.subscriptions;
        subscriptions.truncate(self.limits.subscriptions_per_session_max);
        // The ACL name until the client logs in again: its user name (an empty one counts as
        // anonymous, as with `zero_byte_username_is_anonymous`).
        let login = crate::access::Login {
            username: saved
                .username
                .as_deref()
                .filter(|u| !u.is_empty())
                .map(std::sync::Arc::from),
        };
        let key = self.sessions.insert(Session {
            client_id: ShortStr::new(&saved.client_id),
            username: saved.username.map(String::into_boxed_str),
            login,
            presence: Presence::Offline {
                since_ms: now_ms.saturating_sub(saved.offline_for_ms),
            },
            version: saved.version,
            subscriptions: Vec::new(),
            outbound,
            inbound_qos2,
            will: None,
            pending_will: saved.will.map(|w| {
                Box::new(DelayedWill {
                    will: w.will,
                    fires_at_ms: now_ms.saturating_add(w.delay_ms),
                })
            }),
            expiry_secs: saved.expiry_secs,
        });
        self.by_client_id.insert(&self.sessions, key);
        let sref = self.session_ref(key);
        let mut kept: Vec<(brokkr_codec::TopicFilter, super::SubOptions)> = Vec::new();
        for (filter, opts) in subscriptions {
            let filter = filter.compact();
            self.shared.tree_mut().insert(&filter, sref, opts);
            // A repeated filter is kept once, with its last options (as the tree keeps it).
            match kept.iter_mut().find(|(f, _)| *f == filter) {
                Some(entry) => entry.1 = opts,
                None => kept.push((filter, opts)),
            }
        }
        if let Some(s) = self.sessions.get_mut(key) {
            s.subscriptions = kept;
        }
    }

    /// Stop for a save: MQTT 5 clients get DISCONNECT 0x8B (Server shutting down) and every
    /// connection is closed as lost, so wills without a delay are published now and delayed
    /// ones wait in their sessions, which stay. Then (once other shards' deliveries have been
    /// exchanged) [`Shard::snapshot_sessions`] saves the sessions with their pending wills,
    /// which continue after the restart. Use this instead of [`Shard::shutdown`], which ends
    /// every session and publishes every will.
    pub fn shutdown_for_save(&mut self, now_ms: u64) {
        let conns: Vec<ConnId> = self.conns.keys().collect();
        for conn in conns {
            let Some(c) = self.conns.get(conn) else {
                continue;
            };
            if matches!(c.phase, Phase::Closing) {
                continue;
            }
            if let Some(v) = c.version()
                && v.is_v5()
            {
                let d = Disconnect::new(ReasonCode::ServerShuttingDown);
                self.send(conn, &Packet::Disconnect(d), v);
            }
            self.close(now_ms, conn, true);
        }
    }
}
