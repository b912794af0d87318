//! Folding journal records into snapshots: the state after a crash is the snapshot files with
//! every later journal record applied in order. Pure: no I/O, no clock (`now_wall_ms` is
//! passed in).
//!
//! A `Published` record is routed again here, through the persistent sessions' subscriptions
//! as they stand at that point of the journal (a shared subscription's message goes to its
//! first member, since which member got it is not recorded), with No Local, the subscription's
//! QoS, Retain As Published, its Subscription Identifier, and the read ACL. A `Completed`
//! record removes a delivery of that message again, whether replay rebuilt it or the snapshot
//! held it: every delivery carries its message's [`JournalId`], in snapshots too, so a
//! subscriber's acknowledgement made after a restart counts at the next crash.
//!
//! Replaying a journal over a snapshot taken after some of its records (the snapshot after a
//! rotation, or a crash between saving a snapshot and `journal.base`) does not duplicate: a
//! `Published` record adds nothing to a session whose snapshot already holds deliveries of
//! that message, and a delivery acknowledged before the snapshot is added and then removed
//! again by its `Completed` record. Every other record sets state (a session's options, a
//! subscription, a retained topic) and replays to the same end.
//!
//! Deliveries rebuilt from the journal are queued behind the snapshot's (new packet
//! identifiers, no DUP). A session created or resumed in the journal counts as offline since
//! the last record (the best estimate of the crash), and its old pending will is dropped (a
//! reconnect cancels it); the will of a connection that was open at the crash is not in the
//! journal.

use brokkr_codec::{QoS, TopicFilter};
use brokkr_core::access::{AccessPolicy, Login};
use brokkr_core::journal::{JournalId, JournalRecord};
use brokkr_core::message::Message;
use brokkr_core::shard::SubOptions;
use brokkr_core::snapshot::{
    DeliverySnapshot, InFlightSnapshot, RetainedSnapshot, SessionSnapshot,
};
use brokkr_core::subscriptions::{Match, MatchScratch, TopicTree};
use std::collections::BTreeMap;
use std::num::NonZeroU64;
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

/// What replay knows of one journaled message in one session.
#[derive(Debug, Default)]
struct Tracked {
    /// The snapshot held deliveries of it: it was routed before the snapshot, so its
    /// `Published` record adds none.
    in_snapshot: bool,
    /// Deliveries of it in the session not matched by a `Completed` record.
    live: u32,
    /// Deliveries matched by a `Completed` record, dropped at [`Replay::finish`] (the oldest
    /// first: in flight, queued, rebuilt).
    completed: u32,
    /// `Completed` records that came before any delivery of it (a delivery to another worker
    /// leaves before its `Published` record reaches the journal, so the acknowledgement can
    /// win the race): the next deliveries rebuilt are dropped against them.
    early: u32,
}

/// A session being replayed.
#[derive(Debug)]
struct Replayed {
    /// Its key in the subscription tree.
    id: u64,
    snapshot: SessionSnapshot,
    /// Deliveries rebuilt from the journal, in order.
    journaled: Vec<DeliverySnapshot>,
    /// Journaled messages with deliveries in this session (snapshot's or rebuilt).
    tracked: BTreeMap<JournalId, Tracked>,
    /// Created or resumed in the journal.
    touched: bool,
}

impl Replayed {
    fn new(id: u64, snapshot: SessionSnapshot, touched: bool) -> Replayed {
        let mut tracked: BTreeMap<JournalId, Tracked> = BTreeMap::new();
        let in_flight = snapshot.in_flight.iter().filter_map(|f| match f {
            InFlightSnapshot::Publish(_, d) => d.journal,
            InFlightSnapshot::PubRel(_) => None,
        });
        let queued = snapshot.queued.iter().filter_map(|d| d.journal);
        for id in in_flight.chain(queued) {
            let t = tracked.entry(id).or_default();
            t.in_snapshot = true;
            t.live += 1;
        }
        Replayed {
            id,
            snapshot,
            journaled: Vec::new(),
            tracked,
            touched,
        }
    }

    /// A `Completed` record for message `id`; true if it matched a delivery.
    fn complete(&mut self, id: JournalId) -> bool {
        let t = self.tracked.entry(id).or_default();
        if t.live == 0 {
            t.early += 1;
            return false;
        }
        t.live -= 1;
        t.completed += 1;
        true
    }

    /// Whether a delivery of `id` rebuilt now is kept (see [`Tracked`]).
    fn admit(&mut self, id: JournalId) -> bool {
        let t = self.tracked.entry(id).or_default();
        if t.in_snapshot {
            return false;
        }
        if t.early > 0 {
            t.early -= 1;
            return false;
        }
        t.live += 1;
        true
    }

    /// Whether the delivery carrying `id` was completed (counted once per delivery).
    fn take_completed(&mut self, id: Option<JournalId>) -> bool {
        match id.and_then(|id| self.tracked.get_mut(&id)) {
            Some(t) if t.completed > 0 => {
                t.completed -= 1;
                true
            }
            _ => false,
        }
    }

    /// The session as saved: completed deliveries gone (a QoS 2 one in flight becomes its
    /// PUBREL, since PUBREC completes it), rebuilt ones queued behind the snapshot's.
    fn into_snapshot(mut self, offline_ms: u64) -> SessionSnapshot {
        if self.touched {
            self.snapshot.offline_for_ms = offline_ms;
        }
        let in_flight = std::mem::take(&mut self.snapshot.in_flight);
        let mut kept = Vec::with_capacity(in_flight.len());
        for f in in_flight {
            match f {
                InFlightSnapshot::Publish(pid, d) if self.take_completed(d.journal) => {
                    if d.qos == QoS::ExactlyOnce {
                        kept.push(InFlightSnapshot::PubRel(pid));
                    }
                }
                f => kept.push(f),
            }
        }
        self.snapshot.in_flight = kept;
        let queued = std::mem::take(&mut self.snapshot.queued);
        let journaled = std::mem::take(&mut self.journaled);
        let mut all = Vec::with_capacity(queued.len() + journaled.len());
        for d in queued.into_iter().chain(journaled) {
            if !self.take_completed(d.journal) {
                all.push(d);
            }
        }
        self.snapshot.queued = all;
        self.snapshot
    }
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
        let entry = Replayed::new(id, snapshot, touched);
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
            } => {
                let id = NonZeroU64::new(*seq).map(|seq| JournalId { boot, seq });
                self.published(id, wall_ms, publisher, message, policy);
            }
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
            JournalRecord::Completed { client_id, id } => {
                if let Some(s) = self.sessions.get_mut(client_id)
                    && s.complete(*id)
                {
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
        id: Option<JournalId>,
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
        for (key, opts) in targets {
            let qos = message.qos.min(opts.qos);
            let Some(s) = self
                .by_id
                .get(&key)
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
            if id.is_some_and(|id| !s.admit(id)) {
                continue; // in the snapshot already, or acknowledged before this record
            }
            let delivery = DeliverySnapshot {
                message: detached.clone(),
                age_ms,
                qos,
                retain: opts.retain_as_published && message.retain,
                subscription_id: opts.subscription_id,
                journal: id,
            };
            s.journaled.push(delivery);
            self.stats.deliveries += 1;
        }
    }

    /// The resulting sessions (by client id) and retained messages (by topic).
    pub fn finish(self) -> (Vec<SessionSnapshot>, Vec<RetainedSnapshot>) {
        let offline_ms = self.now_wall_ms.saturating_sub(self.last_wall_ms);
        let sessions = self
            .sessions
            .into_values()
            .map(|s| s.into_snapshot(offline_ms))
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
