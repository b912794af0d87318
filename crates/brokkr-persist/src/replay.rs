//! Folding journal records into snapshots: the state after a crash is the snapshot files with
//! every later journal record applied in order. Pure: no I/O, no clock (`now_wall_ms` is
//! passed in).
//!
//! A `Published` record is routed again here, through the persistent sessions' subscriptions
//! as they stand at that point of the journal (a shared subscription's message goes to its
//! first member, since which member got it is not recorded), with No Local, the subscription's
//! QoS, Retain As Published, its Subscription Identifier, and the read ACL. A `Completed`
//! record removes that delivery again. Applying a journal on top of a snapshot taken after
//! some of its records can only duplicate deliveries, never lose one: every other record sets
//! state (a session's options, a subscription, a retained topic) and replays to the same end.
//!
//! Deliveries rebuilt from the journal are queued behind the snapshot's (new packet
//! identifiers, no DUP). A session created or resumed in the journal counts as offline since
//! the last record (the best estimate of the crash), and its old pending will is dropped (a
//! reconnect cancels it); the will of a connection that was open at the crash is not in the
//! journal.

use brokkr_codec::{QoS, TopicFilter};
use brokkr_core::access::{AccessPolicy, Login};
use brokkr_core::journal::JournalRecord;
use brokkr_core::message::Message;
use brokkr_core::shard::SubOptions;
use brokkr_core::snapshot::{DeliverySnapshot, RetainedSnapshot, SessionSnapshot};
use brokkr_core::subscriptions::{Match, MatchScratch, TopicTree};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Which kinds of state are kept (`persistence_data_to_save`); records of the others are
/// skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayScope {
    /// Sessions, subscriptions and their queued messages.
    pub sessions: bool,
    /// Retained messages.
    pub retained: bool,
}

/// A session being replayed.
#[derive(Debug)]
struct Replayed {
    /// Its key in the subscription tree.
    id: u64,
    snapshot: SessionSnapshot,
    /// Deliveries rebuilt from the journal, by (boot, seq).
    journaled: VecDeque<((u64, u64), DeliverySnapshot)>,
    /// Created or resumed in the journal.
    touched: bool,
}

/// What a replay did, for the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Records applied.
    pub records: u64,
    /// Deliveries queued by `Published` records.
    pub deliveries: u64,
    /// Deliveries removed again by `Completed` records.
    pub completed: u64,
}

/// Snapshots with journal records applied on top ([`Replay::apply`], then [`Replay::finish`]).
#[derive(Debug)]
pub struct Replay {
    scope: ReplayScope,
    now_wall_ms: u64,
    last_wall_ms: u64,
    sessions: BTreeMap<String, Replayed>,
    by_id: BTreeMap<u64, String>,
    next_id: u64,
    tree: TopicTree<u64, SubOptions>,
    scratch: MatchScratch,
    retained: BTreeMap<String, RetainedSnapshot>,
    stats: ReplayStats,
}

impl Replay {
    /// Start from loaded snapshots, already aged to `now_wall_ms` (`into_aged`).
    pub fn new(
        sessions: Vec<SessionSnapshot>,
        retained: Vec<RetainedSnapshot>,
        now_wall_ms: u64,
        scope: ReplayScope,
    ) -> Replay {
        let mut replay = Replay {
            scope,
            now_wall_ms,
            last_wall_ms: 0,
            sessions: BTreeMap::new(),
            by_id: BTreeMap::new(),
            next_id: 0,
            tree: TopicTree::new(),
            scratch: MatchScratch::default(),
            retained: BTreeMap::new(),
            stats: ReplayStats::default(),
        };
        for r in retained {
            replay
                .retained
                .insert(r.message.topic.as_str().to_string(), r);
        }
        for s in sessions {
            let subscriptions = s.subscriptions.clone();
            let id = replay.insert_session(s, false);
            for (filter, opts) in subscriptions {
                replay.tree.insert(&filter, id, opts);
            }
        }
        replay
    }

    /// What has been applied so far.
    pub fn stats(&self) -> ReplayStats {
        self.stats
    }

    fn insert_session(&mut self, snapshot: SessionSnapshot, touched: bool) -> u64 {
        self.remove_session(&snapshot.client_id);
        let id = self.next_id;
        self.next_id += 1;
        self.by_id.insert(id, snapshot.client_id.clone());
        let entry = Replayed {
            id,
            snapshot,
            journaled: VecDeque::new(),
            touched,
        };
        self.sessions
            .insert(entry.snapshot.client_id.clone(), entry);
        id
    }

    fn remove_session(&mut self, client_id: &str) {
        if let Some(old) = self.sessions.remove(client_id) {
            for (filter, _) in &old.snapshot.subscriptions {
                self.tree.remove(filter, &old.id);
            }
            self.by_id.remove(&old.id);
        }
    }

    /// Apply one record made at `wall_ms` by a process that started with generation `boot`.
    /// `policy` is the read ACL for rebuilt deliveries.
    pub fn apply(
        &mut self,
        boot: u64,
        wall_ms: u64,
        record: &JournalRecord,
        policy: &dyn AccessPolicy,
    ) {
        self.stats.records += 1;
        self.last_wall_ms = self.last_wall_ms.max(wall_ms);
        match record {
            JournalRecord::Published {
                seq,
                publisher,
                message,
            } => self.published((boot, *seq), wall_ms, publisher, message, policy),
            _ if !self.scope.sessions => {}
            JournalRecord::Session {
                client_id,
                username,
                version,
                expiry_secs,
                fresh,
            } => {
                if *expiry_secs == 0 {
                    return self.remove_session(client_id);
                }
                match self.sessions.get_mut(client_id) {
                    Some(s) if !fresh => {
                        s.snapshot.version = *version;
                        s.snapshot.expiry_secs = *expiry_secs;
                        s.snapshot.will = None;
                        s.touched = true;
                    }
                    _ => {
                        let snapshot = empty_session(client_id, username, *version, *expiry_secs);
                        self.insert_session(snapshot, true);
                    }
                }
            }
            JournalRecord::SessionEnded { client_id } => self.remove_session(client_id),
            JournalRecord::Subscribed {
                client_id,
                filter,
                options,
            } => self.subscribed(client_id, filter, *options),
            JournalRecord::Unsubscribed { client_id, filter } => {
                if let Some(s) = self.sessions.get_mut(client_id) {
                    s.snapshot.subscriptions.retain(|(f, _)| f != filter);
                    self.tree.remove(filter, &s.id);
                }
            }
            JournalRecord::Completed { client_id, seq } => {
                if let Some(s) = self.sessions.get_mut(client_id)
                    && let Some(pos) = s.journaled.iter().position(|(k, _)| *k == (boot, *seq))
                {
                    s.journaled.remove(pos);
                    self.stats.completed += 1;
                }
            }
        }
    }

    fn subscribed(&mut self, client_id: &str, filter: &TopicFilter, options: SubOptions) {
        let Some(s) = self.sessions.get_mut(client_id) else {
            return; // not a persistent session (or not in the saved state)
        };
        match s
            .snapshot
            .subscriptions
            .iter_mut()
            .find(|(f, _)| f == filter)
        {
            Some(entry) => entry.1 = options,
            None => s.snapshot.subscriptions.push((filter.clone(), options)),
        }
        self.tree.insert(filter, s.id, options);
    }

    fn published(
        &mut self,
        key: (u64, u64),
        wall_ms: u64,
        publisher: &str,
        message: &Arc<Message>,
        policy: &dyn AccessPolicy,
    ) {
        let age_ms = self.now_wall_ms.saturating_sub(wall_ms);
        let detached = Message {
            received_ms: 0,
            ..Message::clone(message)
        };
        if self.scope.retained && message.retain {
            let topic = message.topic.as_str().to_string();
            if message.payload.is_empty() {
                self.retained.remove(&topic);
            } else {
                let message = detached.clone();
                self.retained
                    .insert(topic, RetainedSnapshot { message, age_ms });
            }
        }
        if !self.scope.sessions || message.qos == QoS::AtMostOnce {
            return;
        }
        let mut targets: Vec<(u64, SubOptions)> = Vec::new();
        self.tree
            .for_each_match(message.topic.as_str(), &mut self.scratch, |m| match m {
                Match::Direct(id, o) => targets.push((*id, *o)),
                Match::Shared(group) => targets.extend(group.members.first().copied()),
            });
        for (id, opts) in targets {
            let qos = message.qos.min(opts.qos);
            let Some(s) = self
                .by_id
                .get(&id)
                .and_then(|client_id| self.sessions.get_mut(client_id))
            else {
                continue;
            };
            if qos == QoS::AtMostOnce || (opts.no_local && s.snapshot.client_id == publisher) {
                continue;
            }
            let login = Login {
                username: s
                    .snapshot
                    .username
                    .as_deref()
                    .filter(|u| !u.is_empty())
                    .map(Arc::from),
            };
            if !policy.may_read(&login, &s.snapshot.client_id, &message.topic) {
                continue;
            }
            let delivery = DeliverySnapshot {
                message: detached.clone(),
                age_ms,
                qos,
                retain: opts.retain_as_published && message.retain,
                subscription_id: opts.subscription_id,
            };
            s.journaled.push_back((key, delivery));
            self.stats.deliveries += 1;
        }
    }

    /// The resulting sessions (by client id) and retained messages (by topic).
    pub fn finish(self) -> (Vec<SessionSnapshot>, Vec<RetainedSnapshot>) {
        let offline_ms = self.now_wall_ms.saturating_sub(self.last_wall_ms);
        let sessions = self
            .sessions
            .into_values()
            .map(|mut s| {
                if s.touched {
                    s.snapshot.offline_for_ms = offline_ms;
                }
                s.snapshot
                    .queued
                    .extend(s.journaled.into_iter().map(|(_, d)| d));
                s.snapshot
            })
            .collect();
        (sessions, self.retained.into_values().collect())
    }
}

fn empty_session(
    client_id: &str,
    username: &Option<String>,
    version: brokkr_codec::ProtocolVersion,
    expiry_secs: u32,
) -> SessionSnapshot {
    SessionSnapshot {
        client_id: client_id.to_string(),
        username: username.clone(),
        version,
        expiry_secs,
        offline_for_ms: 0,
        subscriptions: Vec::new(),
        in_flight: Vec::new(),
        queued: Vec::new(),
        inbound_qos2: Vec::new(),
        last_packet_id: 0,
        will: None,
    }
}
