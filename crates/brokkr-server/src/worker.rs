//! One worker: a current-thread tokio runtime owning a [`Shard`] and its connections.
//! (The threads and their inboxes are in `cluster.rs`.)
//!
//! One reader task reads every connection's socket into the shard when its waker says so
//! (`connection.rs`); the worker keeps the connection's record (`conns.rs`) and writes to its
//! socket itself. After
//! every input the worker collects the shard's outputs once: connections written to (listed
//! for the flusher, which writes each once per loop turn: `flush.rs`), connections to close
//! and connections handed to other workers (their tasks woken). A timer task runs [`Shard::tick`] at the shard's next
//! deadline (at least every second); a background task runs retained deliveries in slices.
//! Deferred logins go to the broker's login threads (`auth.rs`) and their verdicts come back
//! on a channel of this worker's; delivery batches for other workers leave through `outbox.rs`,
//! which holds them in a bounded backlog while a peer's inbox is full.

mod accept;
mod auth;
mod connection;
mod conns;
mod flush;
mod journal_queue;
mod outbox;
mod outgoing;

pub(crate) use auth::{AUTH_QUEUE_CAPACITY, AuthPool, auth_threads};

use crate::cluster::{BoundListener, Peers};
use crate::journal::{Cmd, Durable};
use crate::persistence::PersistSettings;
use crate::stream::{StdStream, Stream};
use crate::transport::{Stack, TransportSpec};
use accept::{listener_updates, start_accepting};
use brokkr_core::journal::JournalRecord;
use brokkr_core::limits::Limits;
use brokkr_core::shard::{ConnId, Handoff, Placement, RemoteDelivery, Shard, SharedState};
use brokkr_core::slab::Key;
use brokkr_core::snapshot::{RetainedSnapshot, SessionSnapshot};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, watch};

/// What one worker sends another.
#[derive(Debug)]
pub(crate) enum Inbox {
    /// Deliveries for sessions homed on the receiving worker, in routing order.
    Deliveries(Vec<RemoteDelivery>),
    /// A socket just accepted on listener `listener`, for the receiving worker to serve.
    Accepted {
        stream: StdStream,
        listener: u16,
        /// The listener's transport, if it is not plain MQTT.
        transport: Option<Arc<TransportSpec>>,
        /// The peer's address (none for a unix socket).
        peer: Option<std::net::SocketAddr>,
    },
    /// Snapshot this worker's persistent sessions for a periodic save.
    Snapshot(tokio::sync::oneshot::Sender<Vec<SessionSnapshot>>),
    /// A connection whose CONNECT names a session homed on the receiving worker.
    HandedOver {
        stream: StdStream,
        handoff: Handoff,
        /// Its transport state (TLS session, websocket framing), if any.
        stack: Option<Box<Stack>>,
        /// The client's address (none for a unix socket).
        peer: Option<std::net::SocketAddr>,
    },
}

/// Where the broker is in its life; every worker watches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    Running,
    /// Publish every will and pass the deliveries on.
    PublishWills,
    /// Close every connection and stop.
    Close,
}

/// Everything one worker starts from.
pub(crate) struct WorkerSetup {
    pub index: usize,
    pub count: usize,
    pub limits: Limits,
    pub seed: u64,
    pub shared: Arc<SharedState>,
    pub peers: Vec<mpsc::Sender<Inbox>>,
    pub inbox: mpsc::Receiver<Inbox>,
    pub phase: watch::Receiver<Phase>,
    /// The clock origin, the same for all workers (hand-offs carry times).
    pub epoch: Instant,
    /// `storage_dir` settings, if the state is persisted.
    pub persistence: Option<PersistSettings>,
    /// Retained messages to restore (worker 0 only).
    pub restore_retained: Vec<RetainedSnapshot>,
    /// Sessions homed on this worker, to restore.
    pub restore_sessions: Vec<SessionSnapshot>,
    /// Where this worker's sessions go when the broker stops (for the final save).
    pub saved: std::sync::mpsc::Sender<Vec<SessionSnapshot>>,
    /// New listener lists from reloads (worker 0, which accepts).
    pub listener_updates: Option<mpsc::UnboundedReceiver<Vec<crate::cluster::ListenerSpec>>>,
    /// The journal thread, with `persistence_journal`.
    pub journal: Option<JournalLink>,
    /// The login threads all workers share.
    pub auth: Arc<AuthPool>,
    /// Every worker's event-loop drift (`overload_mode`, `max_event_loop_drift`).
    pub overload: Arc<crate::overload::Overload>,
}

/// A worker's way to the journal thread.
pub(crate) struct JournalLink {
    pub tx: std::sync::mpsc::Sender<Cmd>,
    /// This worker's last durable ticket.
    pub durable: Arc<Durable>,
    /// The generation the journal started with (names this process's journaled messages).
    pub boot: u64,
    /// The bound on this worker's queue (`PersistSettings::journal_queue_bytes_max`).
    pub queue_bytes_max: usize,
}

/// A worker's journal state: tickets sent, and connections whose bytes wait for one.
struct WorkerJournal {
    link: JournalLink,
    index: usize,
    /// The last ticket sent to the journal thread (one per turn that produced records).
    sent: u64,
    /// Connections holding bytes, or stopped reading, until a ticket is durable.
    waiting: Vec<(u64, Key)>,
    /// Tickets sent and not yet durable, with their records' weight (`worker/journal_queue.rs`).
    queue: journal_queue::Queue,
}

/// Where the shards' clock starts: far enough from 0 that a restored session or message whose
/// age reaches back before this process started (`now - age`) never saturates at 0.
pub(crate) const CLOCK_ORIGIN_MS: u64 = 1 << 40;

/// The shards' clock: milliseconds since `epoch`, plus [`CLOCK_ORIGIN_MS`].
pub(crate) fn clock_ms(epoch: Instant) -> u64 {
    let elapsed = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
    CLOCK_ORIGIN_MS.saturating_add(elapsed)
}

/// Time a closing connection gets to send what was already encoded.
const WRITE_GRACE: Duration = Duration::from_secs(5);

/// Read at most this much per socket read (one buffer per worker, shared by its connections).
const READ_CHUNK_BYTES: usize = 64 * 1024;

struct Worker {
    shard: Shard,
    conns: conns::Conns,
    /// Connections to write this turn (`flush.rs`), and the flusher's wake-up.
    dirty: Vec<Key>,
    flusher: Rc<Notify>,
    /// The queue a write starts in; a connection gets its own only when its socket blocks.
    out_scratch: outgoing::Outgoing,
    /// Connections woken for the reader task (`connection.rs`).
    ready: Arc<connection::Ready>,
    /// Closing connections with the time their grace to write the rest ends, in that order.
    draining: std::collections::VecDeque<(u64, Key)>,
    epoch: Instant,
    /// The one read buffer of this worker (see `connection`).
    scratch: Vec<u8>,
    /// The MQTT bytes a transport unwrapped from one read (TLS, websocket), reused.
    plain: Vec<u8>,
    /// Wakes the background task (retained deliveries in slices).
    background: Rc<Notify>,
    peers: Peers,
    /// Delivery batches for the peers, and what waits while an inbox is full.
    outbox: outbox::Outbox,
    /// Where deferred logins go.
    auth: auth::WorkerAuth,
    /// With `persistence_journal`.
    journal: Option<WorkerJournal>,
    /// Asked at accept whether the broker is overloaded.
    overload: Arc<crate::overload::Overload>,
}

type Shared = Rc<RefCell<Worker>>;

impl Worker {
    fn now_ms(&self) -> u64 {
        clock_ms(self.epoch)
    }

    /// List every connection the shard wrote to for the flusher, wake the tasks of those it
    /// wants closed or moved and the background task if the shard has background work; send
    /// delivery batches to peers.
    fn flush_outputs(&mut self) {
        // First, since a refused login writes a CONNACK and closes.
        self.start_logins();
        if self.shard.has_events() {
            self.log_events();
        }
        // Deliveries leave before this turn's records reach the journal thread: a snapshot
        // taken after a rotation then includes every delivery of the older journal's messages
        // (but those waiting in a backlog for a full inbox: see ARCHITECTURE.md).
        if self.shard.has_outbox() {
            self.send_batches();
        }
        let gate = self.journal_turn();
        if self.shard.has_background_work() {
            self.background.notify_one();
        }
        for conn in self.shard.take_dirty() {
            if self.journal.is_some() {
                self.hold(conn, gate);
            } else if let Some(key) = self.conns.key_of(conn) {
                self.queue_write(key);
            }
        }
        for conn in self.shard.take_closed() {
            if let Some((_, c)) = self.conns.by_id_mut(conn) {
                c.closing = true;
                c.wake();
            }
        }
        for h in self.shard.take_handoffs() {
            if let Some((_, c)) = self.conns.by_id_mut(h.conn) {
                c.extra().handoff = Some(h);
                c.moving = true;
                c.wake();
            }
        }
    }

    /// Log what the shard reports (logins, refusals, disconnects; subscriptions and publishes
    /// when configured), with the client's address.
    fn log_events(&mut self) {
        use brokkr_core::events::Event;
        for event in self.shard.take_events() {
            let conn = event.conn().and_then(|c| self.conns.by_id(c));
            let from = match conn.and_then(|c| c.peer) {
                Some(addr) => addr.ip().to_string(),
                None => "a unix socket".to_string(),
            };
            let over = conn
                .and_then(|c| c.stack.as_ref())
                .map_or_else(|| "mqtt".to_string(), |s| s.spec().describe());
            match event {
                Event::LoggedIn {
                    client_id,
                    username,
                    version,
                    session_present,
                    ..
                } => log::info!(
                    target: crate::logging::NOTICE,
                    "Client '{client_id}' logged in from {from} over {over} ({}, user '{}'{})",
                    version_name(version),
                    username.as_deref().unwrap_or(""),
                    if session_present { ", session resumed" } else { "" }
                ),
                Event::Refused {
                    client_id, reason, ..
                } => log::info!(
                    target: crate::logging::NOTICE,
                    "Client '{client_id}' from {from} refused: {reason:?}"
                ),
                Event::Disconnected {
                    client_id, clean, ..
                } => log::info!(
                    target: crate::logging::NOTICE,
                    "Client '{client_id}' from {from} {}",
                    if clean { "disconnected" } else { "lost its connection" }
                ),
                Event::Subscribed {
                    client_id,
                    filter,
                    granted,
                    ..
                } => match granted {
                    Some(qos) => log::info!(
                        target: crate::logging::NOTICE,
                        "Client '{client_id}' subscribed to '{filter}' at QoS {}",
                        qos as u8
                    ),
                    None => log::info!(
                        target: crate::logging::NOTICE,
                        "Client '{client_id}' was refused a subscription to '{filter}'"
                    ),
                },
                Event::Unsubscribed {
                    client_id, filter, ..
                } => log::info!(
                    target: crate::logging::NOTICE,
                    "Client '{client_id}' unsubscribed from '{filter}'"
                ),
                Event::Published {
                    client_id,
                    topic,
                    qos,
                    retain,
                    payload_bytes,
                    ..
                } => log::info!(
                    target: crate::logging::NOTICE,
                    "Client '{client_id}' published to '{topic}' (QoS {}, retain {retain}, \
                     {payload_bytes} bytes)",
                    qos as u8
                ),
                Event::RetainedLimit {
                    topic,
                    refused,
                    suppressed,
                    ..
                } => log::warn!(
                    "retained_messages_node_creation_limit reached setting the retained message \
                     on '{topic}'{}{}",
                    if refused {
                        ": not retained"
                    } else {
                        " (log mode: retained)"
                    },
                    if suppressed > 0 {
                        format!(" ({suppressed} more since the last report)")
                    } else {
                        String::new()
                    }
                ),
            }
        }
    }

    /// Send this turn's journal records; returns the ticket this turn's bytes wait for (0 when
    /// nothing they acknowledge needs to be durable).
    fn journal_turn(&mut self) -> u64 {
        let Some(j) = self.journal.as_mut() else {
            return 0;
        };
        let records = self.shard.take_journal();
        if records.is_empty() {
            return 0;
        }
        let needs = records.iter().any(JournalRecord::needs_durability);
        j.sent += 1;
        j.queue.push(
            j.sent,
            records.iter().map(JournalRecord::weight_bytes).sum(),
        );
        let cmd = Cmd::Append {
            worker: j.index,
            ticket: j.sent,
            records,
        };
        if j.link.tx.send(cmd).is_err() {
            log::error!("the journal thread is gone");
        }
        if needs { j.sent } else { 0 }
    }

    /// With the journal: take `conn`'s bytes now, to be written once `gate` (and every chunk
    /// before them) is durable.
    fn hold(&mut self, conn: ConnId, gate: u64) {
        let bytes = self.shard.take_write(conn);
        let (Some(j), Some((key, c))) = (self.journal.as_mut(), self.conns.by_id_mut(conn)) else {
            return;
        };
        let held = &mut c.extra().held;
        let ticket = gate.max(held.back().map_or(0, |(t, _)| *t));
        if !bytes.is_empty() {
            held.push_back((ticket, bytes));
        }
        if ticket
            > j.link
                .durable
                .ticket
                .load(std::sync::atomic::Ordering::Acquire)
        {
            j.waiting.push((ticket, key));
        } else {
            self.queue_write(key);
        }
    }

    /// The journal made tickets up to `durable` durable: the flusher writes what was held for
    /// them, and connections that stopped reading for them read again.
    fn release(&mut self, durable: u64) {
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        j.queue.durable(durable);
        let mut ready = Vec::new();
        j.waiting.retain(|&(ticket, key)| {
            if ticket > durable {
                return true;
            }
            ready.push(key);
            false
        });
        for key in ready {
            if let Some(c) = self.conns.get_mut(key) {
                if c.extra.as_mut().is_some_and(|e| e.reads.resume()) {
                    c.wake();
                }
                self.queue_write(key);
            }
        }
    }

    /// Close the connections whose grace to write what was left ran out (a peer that does not
    /// read would keep its socket forever).
    fn end_expired_drains(&mut self, now: u64) {
        while let Some(&(deadline, key)) = self.draining.front() {
            if deadline > now {
                break;
            }
            self.draining.pop_front();
            if self.conns.get(key).is_some_and(|c| c.draining) {
                let conn = self.conns.remove(key);
                drop(conn); // the socket closes
            }
        }
    }

    /// One batch per peer with deliveries waiting, sent or kept in order in the outbox's
    /// backlog; what its bound drops is counted in `$SYS`.
    fn send_batches(&mut self) {
        for index in 0..self.peers.len() {
            let batch = self
                .shard
                .take_outbox(u32::try_from(index).unwrap_or(u32::MAX));
            if batch.is_empty() {
                continue;
            }
            let dropped = self.outbox.send(index, batch);
            self.shard.count_dropped(dropped.total());
        }
    }

    /// Hand the shard's deferred logins to the login threads; a full queue answers Server
    /// busy at once.
    fn start_logins(&mut self) {
        if !self.shard.has_auth_jobs() {
            return;
        }
        let now = self.now_ms();
        for job in self.shard.take_auth_jobs() {
            if let Err(job) = self.auth.submit(job) {
                self.shard.auth_busy(now, job.conn, job.token);
            }
        }
    }

    /// Serve `stream` on this worker: the shard already knows it as `id`.
    fn register(
        worker: &Shared,
        stream: Stream,
        id: ConnId,
        stack: Option<Box<Stack>>,
        peer: Option<std::net::SocketAddr>,
    ) {
        let mut w = worker.borrow_mut();
        let peer = stack.as_ref().map_or(peer, |s| s.peer());
        let key = w.conns.insert(conns::Conn::new(id, stream, stack, peer));
        let waker = connection::waker(key, &w.ready);
        if let Some(c) = w.conns.get_mut(key) {
            c.waker = waker;
            c.wake(); // its first step registers it for readability
        }
        w.flush_outputs();
    }
}

/// One worker's life: serve until the broker closes, then shut the shard down in two phases.
pub(crate) async fn serve(setup: WorkerSetup, listeners: Vec<BoundListener>) {
    let place = Placement::new(
        u32::try_from(setup.index).unwrap_or(0),
        u32::try_from(setup.count).unwrap_or(1),
    )
    .unwrap_or(Placement::SOLE);
    let peers = Rc::new(setup.peers);
    let (auth, verdicts) = auth::WorkerAuth::new(setup.auth);
    let worker = Rc::new(RefCell::new(Worker {
        shard: Shard::with_placement(setup.limits, setup.seed, place, setup.shared),
        conns: conns::Conns::default(),
        dirty: Vec::new(),
        flusher: Rc::new(Notify::new()),
        out_scratch: outgoing::Outgoing::default(),
        ready: Arc::default(),
        draining: std::collections::VecDeque::new(),
        epoch: setup.epoch,
        scratch: vec![0; READ_CHUNK_BYTES],
        plain: Vec::new(),
        background: Rc::new(Notify::new()),
        outbox: outbox::Outbox::new(Rc::clone(&peers), outbox::BacklogLimits::default()),
        peers,
        auth,
        journal: None,
        overload: Arc::clone(&setup.overload),
    }));
    let journal_tx = setup.journal.as_ref().map(|l| l.tx.clone());
    if let Some(link) = setup.journal {
        let durable = Arc::clone(&link.durable);
        let mut w = worker.borrow_mut();
        w.shard.enable_journal(link.boot);
        let queue = journal_queue::Queue::new(link.queue_bytes_max);
        w.journal = Some(WorkerJournal {
            link,
            index: setup.index,
            sent: 0,
            waiting: Vec::new(),
            queue,
        });
        drop(w);
        tokio::task::spawn_local(journal_loop(durable, Rc::clone(&worker)));
    }
    {
        let mut w = worker.borrow_mut();
        let now = w.now_ms();
        if setup.index == 0 {
            // Worker 0 publishes $SYS, as FlashMQ's thread 0 does.
            w.shard.enable_sys(now);
        }
        w.shard
            .enable_events(brokkr_core::events::EventSettings::connections());
        // The saved state goes back before anything is accepted.
        if !setup.restore_retained.is_empty() {
            let r = w.shard.restore_retained(now, setup.restore_retained);
            log::info!(
                "restored {} retained messages ({} left out)",
                r.restored,
                r.skipped
            );
        }
        if !setup.restore_sessions.is_empty() {
            let r = w.shard.restore_sessions(now, setup.restore_sessions);
            log::info!("restored {} sessions ({} left out)", r.restored, r.skipped);
        }
    }
    let save_sessions = setup.persistence.as_ref().is_some_and(|p| p.sessions);
    let accepting = Rc::new(RefCell::new(start_accepting(
        listeners,
        setup.index,
        &worker,
    )));
    let mut tasks = vec![tokio::task::spawn_local(inbox_loop(
        setup.inbox,
        Rc::clone(&worker),
    ))];
    tasks.push(tokio::task::spawn_local(connection::reader(Rc::clone(
        &worker,
    ))));
    tasks.push(tokio::task::spawn_local(flush::flusher(Rc::clone(&worker))));
    tasks.push(tokio::task::spawn_local(timer_loop(Rc::clone(&worker))));
    let drift = crate::overload::measure_drift(setup.overload, setup.index);
    tasks.push(tokio::task::spawn_local(drift));
    tasks.push(tokio::task::spawn_local(auth::verdict_loop(
        verdicts,
        Rc::clone(&worker),
    )));
    tasks.push(tokio::task::spawn_local(background_loop(Rc::clone(
        &worker,
    ))));
    if let Some(updates) = setup.listener_updates {
        tasks.push(tokio::task::spawn_local(listener_updates(
            updates,
            Rc::clone(&accepting),
            setup.index,
            Rc::clone(&worker),
        )));
    }
    if let Some(settings) = setup.persistence.clone()
        && setup.index == 0
    {
        tasks.push(tokio::task::spawn_local(save_loop(
            settings,
            Rc::clone(&worker),
            journal_tx,
        )));
    }
    let mut phase = setup.phase;
    let _ = phase.wait_for(|p| *p >= Phase::PublishWills).await;
    for t in accepting.borrow_mut().drain(..) {
        t.abort(); // stop accepting
    }
    {
        let mut w = worker.borrow_mut();
        let now = w.now_ms();
        if save_sessions {
            // Connections close as lost: wills without a delay go out now, delayed ones stay
            // in their sessions, which are saved.
            w.shard.shutdown_for_save(now);
        } else {
            w.shard.shutdown_wills(now);
        }
        w.flush_outputs();
    }
    let _ = phase.wait_for(|p| *p >= Phase::Close).await;
    {
        let mut w = worker.borrow_mut();
        let now = w.now_ms();
        if save_sessions {
            let sessions = w.shard.snapshot_sessions(now);
            let _ = setup.saved.send(sessions);
        } else {
            w.shard.shutdown_close(now);
        }
        w.flush_outputs();
    }
    // Give the connections a moment to send the DISCONNECTs and wills (bounded).
    let deadline = Instant::now() + Duration::from_secs(2);
    while !worker.borrow().conns.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for t in tasks {
        t.abort();
    }
}

/// `MQTT 3.1.1` and the like, for the log.
fn version_name(v: brokkr_codec::ProtocolVersion) -> &'static str {
    match v {
        brokkr_codec::ProtocolVersion::V3_1 => "MQTT 3.1",
        brokkr_codec::ProtocolVersion::V3_1_1 => "MQTT 3.1.1",
        _ => "MQTT 5",
    }
}

/// Serve a connection accepted on `listener`: its transport state starts here.
fn serve_accepted(
    worker: &Shared,
    stream: Stream,
    listener: u16,
    transport: Option<Arc<TransportSpec>>,
    peer: Option<std::net::SocketAddr>,
) {
    let stack = match transport {
        None => None,
        Some(spec) => match Stack::new(spec, peer) {
            Ok(stack) => Some(Box::new(stack)),
            Err(e) => {
                log::error!("cannot serve a connection: {e}");
                return; // dropped: closed
            }
        },
    };
    let id = {
        let mut w = worker.borrow_mut();
        let now = w.now_ms();
        w.shard.accept_on(now, listener)
    };
    Worker::register(worker, stream, id, stack, peer);
}

/// Deliveries and connections from the other workers.
async fn inbox_loop(mut inbox: mpsc::Receiver<Inbox>, worker: Shared) {
    while let Some(msg) = inbox.recv().await {
        match msg {
            Inbox::Snapshot(reply) => {
                let w = worker.borrow();
                let _ = reply.send(w.shard.snapshot_sessions(w.now_ms()));
            }
            Inbox::Deliveries(batch) => {
                let mut w = worker.borrow_mut();
                let now = w.now_ms();
                w.shard.deliver_remote(now, batch);
                w.flush_outputs();
            }
            Inbox::Accepted {
                stream,
                listener,
                transport,
                peer,
            } => {
                let Ok(stream) = Stream::from_std(stream) else {
                    continue;
                };
                serve_accepted(&worker, stream, listener, transport, peer);
            }
            Inbox::HandedOver {
                stream,
                handoff,
                stack,
                peer,
            } => {
                let Ok(stream) = Stream::from_std(stream) else {
                    continue;
                };
                let id = {
                    let mut w = worker.borrow_mut();
                    let now = w.now_ms();
                    // The CONNECT is handled here, before the connection's tasks exist; the
                    // flusher finds the CONNACK in the shard.
                    w.shard.accept_handoff(now, &handoff)
                };
                let peer = stack.as_ref().and_then(|s| s.peer()).or(peer);
                Worker::register(&worker, stream, id, stack, peer);
            }
        }
    }
}

/// Every `save_state_interval`: each worker snapshots its own sessions (the others through
/// their inboxes), and a separate thread encodes and writes the files.
async fn save_loop(
    settings: PersistSettings,
    worker: Shared,
    journal: Option<std::sync::mpsc::Sender<Cmd>>,
) {
    let busy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    loop {
        tokio::time::sleep(settings.interval.max(Duration::from_secs(1))).await;
        if busy.load(std::sync::atomic::Ordering::Acquire) {
            log::warn!("the previous state save is still running; skipping this one");
            continue;
        }
        // Records from now on go to the next journal; the snapshots below, taken after this
        // point on every worker, cover everything in the journals before it.
        let mut journal_base = None;
        if let Some(tx) = &journal {
            let (reply, rx) = tokio::sync::oneshot::channel();
            if tx.send(Cmd::Rotate(reply)).is_ok() {
                journal_base = rx.await.ok();
            }
        }
        let (mut sessions, peers, shared, now) = {
            let w = worker.borrow();
            let now = w.now_ms();
            let own = if settings.sessions {
                w.shard.snapshot_sessions(now)
            } else {
                Vec::new()
            };
            (own, Rc::clone(&w.peers), Arc::clone(w.shard.shared()), now)
        };
        if settings.sessions {
            let mut replies = Vec::new();
            for peer in peers.iter().skip(1) {
                let (tx, rx) = tokio::sync::oneshot::channel();
                if peer.try_send(Inbox::Snapshot(tx)).is_ok() {
                    replies.push(rx);
                }
            }
            for rx in replies {
                match tokio::time::timeout(Duration::from_secs(10), rx).await {
                    Ok(Ok(part)) => sessions.extend(part),
                    _ => log::warn!("a worker did not send its sessions for the save"),
                }
            }
        }
        crate::persistence::save_in_background(
            settings.clone(),
            &shared,
            now,
            sessions,
            Arc::clone(&busy),
            journal_base,
        );
    }
}

async fn timer_loop(worker: Shared) {
    loop {
        // At most a second between ticks, so a deadline added meanwhile (a new connection's
        // CONNECT timeout, a keep alive) is never missed by more than that; recomputing the
        // deadline on every packet would cost O(connections) per packet.
        let sleep_ms = {
            let w = worker.borrow();
            let now = w.now_ms();
            let next = w.shard.next_deadline_ms().unwrap_or(now + 1000);
            next.saturating_sub(now).clamp(1, 1000)
        };
        tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
        let mut w = worker.borrow_mut();
        let now = w.now_ms();
        w.shard.tick(now);
        w.flush_outputs();
        w.end_expired_drains(now);
    }
}

/// Background work in slices, yielding to the connections between slices: a subscriber to `#`
/// over a large retained set does not stall anyone.
async fn background_loop(worker: Shared) {
    let wake = Rc::clone(&worker.borrow().background);
    loop {
        wake.notified().await;
        loop {
            let (more, waiting) = {
                let mut w = worker.borrow_mut();
                let now = w.now_ms();
                let slice = brokkr_core::shard::RETAINED_NODES_PER_SLICE;
                let more = w.shard.run_background(now, slice);
                w.flush_outputs();
                (more, w.shard.background_waiting())
            };
            if !more {
                break;
            }
            if waiting {
                // Every pending subscriber is still reading what it got: do not spin.
                tokio::time::sleep(Duration::from_millis(5)).await;
            } else {
                tokio::task::yield_now().await;
            }
        }
    }
}

/// Release the bytes and reads that waited for the journal, each time it says what is durable.
async fn journal_loop(durable: Arc<Durable>, worker: Shared) {
    loop {
        durable.notify.notified().await;
        let ticket = durable.ticket.load(std::sync::atomic::Ordering::Acquire);
        worker.borrow_mut().release(ticket);
    }
}
