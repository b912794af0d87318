//! The broker process: `workers` threads, each a current-thread tokio runtime owning one
//! [`Shard`](brokkr_core::shard::Shard), joined by bounded inboxes.
//!
//! Worker 0 runs on the calling thread and also accepts: each accepted socket goes to the next
//! worker in turn. A worker hands a connection to the home shard of its client id before
//! CONNACK, and sends deliveries for sessions homed elsewhere in one batch per peer per loop
//! turn (one wake-up per batch). Shutdown has two phases so that wills published by one worker
//! still reach subscribers on the others: every worker publishes its wills and flushes its
//! batches, then every worker closes its connections.

use crate::journal::JournalThread;
use crate::overload::{Overload, OverloadMode, OverloadSettings};
use crate::persistence::{self, PersistSettings};
use crate::stream::StdListener;
use crate::transport::TransportSpec;
use crate::worker::{self, Inbox, Phase, WorkerSetup};
use brokkr_core::access::AccessPolicy;
use brokkr_core::limits::Limits;
use brokkr_core::shard::SharedState;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{mpsc, watch};

/// A listener to open.
#[derive(Debug, Clone)]
pub struct ListenerSpec {
    /// Where it listens.
    pub addr: ListenAddr,
    /// Set TCP_NODELAY on accepted sockets (FlashMQ's `tcp_nodelay`).
    pub tcp_nodelay: bool,
    /// Which peers may connect (`only_allow_from`, `deny_from`); `None`: everyone.
    pub peers: Option<Arc<dyn PeerFilter>>,
    /// What lies between the socket and MQTT (PROXY header, TLS, websockets).
    pub transport: Arc<TransportSpec>,
    /// The listener's own `overload_mode` (`None`: the broker's).
    pub overload_mode: Option<OverloadMode>,
}

impl ListenerSpec {
    /// A plain MQTT listener on `addr` that lets everyone in.
    pub fn tcp(addr: SocketAddr) -> Self {
        Self {
            addr: ListenAddr::Tcp(addr),
            tcp_nodelay: false,
            peers: None,
            transport: Arc::default(),
            overload_mode: None,
        }
    }
}

/// Where a listener listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// A TCP address and port.
    Tcp(SocketAddr),
    /// A unix stream socket (`inet_protocol unix`).
    Unix(UnixSocketSpec),
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp(addr) => write!(f, "{addr}"),
            Self::Unix(u) => write!(f, "unix:{}", u.path.display()),
        }
    }
}

/// A unix socket listener's file and its ownership (`unix_socket_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixSocketSpec {
    /// The socket file; an existing socket there is replaced.
    pub path: std::path::PathBuf,
    /// Owner, by name or number.
    pub user: Option<String>,
    /// Group, by name or number.
    pub group: Option<String>,
    /// Permission bits.
    pub mode: Option<u32>,
}

/// Decides at accept time whether a peer address may connect at all; a refused socket is
/// closed before anything is read from it.
pub trait PeerFilter: Send + Sync + std::fmt::Debug {
    /// True if `addr` may connect.
    fn allowed(&self, addr: std::net::IpAddr) -> bool;
}

/// What the server needs to run.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listeners.
    pub listeners: Vec<ListenerSpec>,
    /// Bounds.
    pub limits: Limits,
    /// Seed for the shards' randomness (client ids, shared-subscription picks); worker `i`
    /// uses a seed derived from it and `i`.
    pub seed: u64,
    /// Worker threads (FlashMQ's `thread_count`); 0 means one per CPU.
    pub workers: usize,
    /// Who may connect, publish and receive; `None`: everyone ([`brokkr_core::access::AllowAll`]).
    pub access: Option<Arc<dyn AccessPolicy>>,
    /// Asked every [`POLICY_POLL`] for a new policy (password or ACL file changed).
    pub access_source: Option<Arc<dyn PolicySource>>,
    /// `storage_dir` and what to keep there; `None`: nothing survives a restart.
    pub persistence: Option<PersistSettings>,
    /// `max_event_loop_drift` and `overload_mode`.
    pub overload: OverloadSettings,
}

/// Where a changed access policy comes from (the password and ACL files), and what SIGHUP
/// reloads.
pub trait PolicySource: Send + Sync + std::fmt::Debug {
    /// A new policy if the rules changed since the last call.
    fn refresh(&self) -> Option<Arc<dyn AccessPolicy>>;

    /// SIGHUP: reload the whole configuration. `None` when it failed (the old settings stay;
    /// the implementation logs why) or when nothing the running broker can apply changed.
    fn reload(&self) -> Option<Reloaded> {
        None
    }
}

/// What a successful SIGHUP reload gives the running broker.
#[derive(Debug)]
pub struct Reloaded {
    /// The access policy from the new files and settings.
    pub policy: Arc<dyn AccessPolicy>,
    /// Bounds for connections and sessions created from now on.
    pub limits: Limits,
    /// The new listener list, if it changed.
    pub listeners: Option<Vec<ListenerSpec>>,
    /// `max_event_loop_drift` and `overload_mode`.
    pub overload: OverloadSettings,
}

/// How often the access policy's files are checked for changes.
pub const POLICY_POLL: Duration = Duration::from_secs(2);

/// Delivery batches and hand-offs one worker's inbox holds before a sender has to drop.
pub const INBOX_CAPACITY: usize = 4096;

/// Time the workers get, between publishing wills and closing connections at shutdown, to pass
/// the wills' deliveries to each other.
const WILL_EXCHANGE: Duration = Duration::from_millis(100);

/// Run the broker until SIGINT or SIGTERM. Logs to stderr.
pub fn run(config: ServerConfig) -> std::io::Result<()> {
    run_with(config, None)
}

/// The number of workers `config` asks for.
pub fn worker_count(config: &ServerConfig) -> usize {
    match config.workers {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        n => n,
    }
    .clamp(1, 1024)
}

/// Run the broker until `stop` resolves (tests use this instead of a signal).
pub fn run_until(
    config: ServerConfig,
    stop: impl std::future::Future<Output = ()> + 'static,
) -> std::io::Result<()> {
    run_with(config, Some(Box::pin(stop)))
}

/// The signals the broker handles, registered before anything is bound: a SIGHUP or SIGTERM
/// that arrives while the broker starts is then handled (a reload, a graceful stop), never
/// the default action of killing the process.
struct Signals {
    hup: Option<Signal>,
    usr1: Option<Signal>,
    term: Option<Signal>,
    int: Option<Signal>,
}

impl Signals {
    /// SIGHUP and SIGUSR1, and SIGTERM and SIGINT when they stop the broker (`run`; under
    /// `run_until` a caller's future does, and a test process keeps its default SIGTERM).
    fn install(stop_on_signals: bool) -> Signals {
        let one = |kind| signal(kind).ok();
        let stop = |kind| if stop_on_signals { one(kind) } else { None };
        Signals {
            hup: one(SignalKind::hangup()),
            usr1: one(SignalKind::user_defined1()),
            term: stop(SignalKind::terminate()),
            int: stop(SignalKind::interrupt()),
        }
    }
}

type StopFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

fn run_with(config: ServerConfig, stop: Option<StopFuture>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let signals = {
        let _context = runtime.enter();
        Signals::install(stop.is_none())
    };
    let stop = stop.unwrap_or_else(|| Box::pin(stop_signal(signals.term, signals.int)));
    let count = worker_count(&config);
    let listeners = bind_all(&config.listeners)?;
    let config_persistence = config.persistence.clone();
    let shared = SharedState::new();
    let overload = Overload::new(count, config.overload);
    if let Some(policy) = &config.access {
        shared.set_policy(Arc::clone(policy));
    }
    let epoch = Instant::now();
    let policy: Arc<dyn AccessPolicy> = config
        .access
        .clone()
        .unwrap_or_else(|| Arc::new(brokkr_core::access::AllowAll));
    let mut loaded = config
        .persistence
        .as_ref()
        .map(|p| persistence::load(p, u32::try_from(count).unwrap_or(1), &*policy))
        .unwrap_or_default();
    let journal = match config.persistence.as_ref().filter(|p| p.journal) {
        Some(p) => Some(JournalThread::start(
            &p.dir,
            loaded.journal_generation,
            count,
        )?),
        None => None,
    };
    let auth = Arc::new(worker::AuthPool::start(
        worker::auth_threads(),
        worker::AUTH_QUEUE_CAPACITY,
    )?);
    let (saved_tx, saved_rx) = std::sync::mpsc::channel();
    let (listener_tx, listener_rx) = mpsc::unbounded_channel();
    let mut listener_rx = Some(listener_rx);
    let (phase_tx, phase_rx) = watch::channel(Phase::Running);
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..count)
        .map(|_| mpsc::channel::<Inbox>(INBOX_CAPACITY))
        .unzip();
    let mut threads = Vec::new();
    let mut own = None;
    for (index, inbox) in receivers.into_iter().enumerate() {
        let setup = WorkerSetup {
            index,
            count,
            limits: config.limits.clone(),
            seed: config.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            shared: shared.clone(),
            peers: senders.clone(),
            inbox,
            phase: phase_rx.clone(),
            epoch,
            persistence: config.persistence.clone(),
            restore_retained: if index == 0 {
                std::mem::take(&mut loaded.retained)
            } else {
                Vec::new()
            },
            restore_sessions: loaded
                .sessions
                .get_mut(index)
                .map(std::mem::take)
                .unwrap_or_default(),
            saved: saved_tx.clone(),
            listener_updates: if index == 0 { listener_rx.take() } else { None },
            auth: Arc::clone(&auth),
            overload: Arc::clone(&overload),
            journal: journal.as_ref().and_then(|j| {
                let durable = Arc::clone(j.durable.get(index)?);
                Some(worker::JournalLink {
                    tx: j.tx.clone(),
                    durable,
                })
            }),
        };
        if index == 0 {
            own = Some(setup);
            continue;
        }
        let thread = std::thread::Builder::new()
            .name(format!("brokkr-worker-{index}"))
            .spawn(move || run_worker(setup, Vec::new()))?;
        threads.push(thread);
    }
    drop(senders);
    drop(saved_tx);
    let shared_at_exit = shared.clone();
    let own = own.ok_or_else(|| std::io::Error::other("no worker"))?;
    log::info!("{count} worker thread(s)");
    let (hup, usr1) = (signals.hup, signals.usr1);
    let local = tokio::task::LocalSet::new();
    let result = local.block_on(&runtime, async move {
        let first = tokio::task::spawn_local(worker::serve(own, listeners));
        let usr1 = tokio::task::spawn_local(reopen_log_on_sigusr1(usr1));
        let watchdog = tokio::task::spawn_local(crate::systemd::watchdog());
        crate::systemd::ready();
        let poll = config.access_source.clone().map(|source| {
            let hup = tokio::task::spawn_local(reload_on_sighup(
                hup,
                source.clone(),
                (shared.clone(), overload),
                listener_tx,
            ));
            (
                tokio::task::spawn_local(poll_policy(source, shared.clone())),
                hup,
            )
        });
        stop.await;
        crate::systemd::stopping();
        usr1.abort();
        watchdog.abort();
        if let Some((poll, hup)) = poll {
            poll.abort();
            hup.abort();
        }
        log::info!(target: crate::logging::NOTICE, "shutting down");
        let _ = phase_tx.send(Phase::PublishWills);
        tokio::time::sleep(WILL_EXCHANGE).await;
        let _ = phase_tx.send(Phase::Close);
        first.await.map_err(std::io::Error::other)
    });
    for t in threads {
        if t.join().is_err() {
            return Err(std::io::Error::other("a worker thread failed"));
        }
    }
    if let Some(settings) = &config_persistence {
        // Every worker sent its sessions when it closed; the retained store is shared.
        let sessions: Vec<_> = saved_rx.try_iter().flatten().collect();
        let now_ms = worker::clock_ms(epoch);
        let retained = shared_at_exit.snapshot_retained(now_ms);
        // Everything journaled so far is in this snapshot: the journal restarts after it.
        let base = journal.as_ref().and_then(JournalThread::rotate_blocking);
        persistence::save(settings, &retained, &sessions, base);
    }
    if let Some(journal) = journal {
        journal.stop();
    }
    result
}

/// One worker on its own thread.
fn run_worker(setup: WorkerSetup, listeners: Vec<BoundListener>) {
    let index = setup.index;
    crate::logging::set_thread_tag(index);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            log::error!("worker {index} cannot start: {e}");
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, worker::serve(setup, listeners));
}

/// Bind every listener now, so that a port in use is reported before any thread starts.
fn bind_all(specs: &[ListenerSpec]) -> std::io::Result<Vec<BoundListener>> {
    let out = bind_each(specs);
    if out.is_empty() {
        return Err(std::io::Error::other("no listener could be opened"));
    }
    Ok(out)
}

/// Bind each listener that can be; the others are logged. Each keeps its index in `specs`
/// (the access policy's per-listener settings are by that index).
pub(crate) fn bind_each(specs: &[ListenerSpec]) -> Vec<BoundListener> {
    let mut out = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let bound = match &spec.addr {
            ListenAddr::Tcp(addr) => bind(*addr).map(StdListener::Tcp),
            ListenAddr::Unix(unix) => crate::unix::bind(unix),
        };
        match bound {
            Ok(l) => {
                log::info!("listening on {} ({})", spec.addr, spec.transport.describe());
                let plain = spec.transport.is_plain();
                out.push(BoundListener {
                    socket: l,
                    index: u16::try_from(index).unwrap_or(u16::MAX),
                    tcp_nodelay: spec.tcp_nodelay,
                    // Behind a PROXY header, the address that counts is the one it names.
                    peers: if spec.transport.proxy == crate::transport::ProxyMode::Off {
                        spec.peers.clone()
                    } else {
                        None
                    },
                    transport: (!plain).then(|| Arc::clone(&spec.transport)),
                    overload_mode: spec.overload_mode,
                });
            }
            Err(e) => log::error!("cannot listen on {}: {e}", spec.addr),
        }
    }
    out
}

/// A listening socket and what its accept loop needs to know.
#[derive(Debug)]
pub(crate) struct BoundListener {
    pub socket: StdListener,
    /// Its index in the configured list.
    pub index: u16,
    pub tcp_nodelay: bool,
    /// Checked at accept time.
    pub peers: Option<Arc<dyn PeerFilter>>,
    /// `None` for plain MQTT.
    pub transport: Option<Arc<TransportSpec>>,
    /// Its own `overload_mode`, if it has one.
    pub overload_mode: Option<OverloadMode>,
}

/// Connections the kernel queues for accept before refusing more.
const LISTEN_BACKLOG: i32 = 4096;

/// A non-blocking listener on `addr`. An IPv6 socket is IPv6-only, so `0.0.0.0:1883` and
/// `[::]:1883` can both be bound (as FlashMQ's default listener does).
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Re-read the policy's files now and then; shards take up a new policy at their next input.
async fn poll_policy(source: Arc<dyn PolicySource>, shared: Arc<SharedState>) {
    loop {
        tokio::time::sleep(POLICY_POLL).await;
        if let Some(policy) = source.refresh() {
            shared.set_policy(policy);
        }
    }
}

/// SIGHUP reloads the configuration atomically: a file that fails validation changes nothing
/// (the source logs why); a valid one replaces the access policy, the limits for new
/// connections and the overload settings at once.
async fn reload_on_sighup(
    hup: Option<Signal>,
    source: Arc<dyn PolicySource>,
    (shared, overload): (Arc<SharedState>, Arc<Overload>),
    listeners: mpsc::UnboundedSender<Vec<ListenerSpec>>,
) {
    let Some(mut hup) = hup else {
        return;
    };
    while hup.recv().await.is_some() {
        crate::systemd::reloading();
        if let Some(reloaded) = source.reload() {
            shared.set_policy(reloaded.policy);
            shared.set_limits(reloaded.limits);
            overload.set_settings(reloaded.overload);
            if let Some(specs) = reloaded.listeners {
                let _ = listeners.send(specs);
            }
        }
        crate::systemd::ready();
    }
}

/// SIGUSR1 reopens the log file, as FlashMQ (logrotate moves the file, then signals).
async fn reopen_log_on_sigusr1(usr1: Option<Signal>) {
    let Some(mut usr1) = usr1 else {
        return;
    };
    while usr1.recv().await.is_some() {
        match crate::logging::reopen() {
            Ok(()) => log::info!("log file reopened"),
            Err(e) => log::error!("cannot reopen the log file: {e}"),
        }
    }
}

/// SIGTERM or SIGINT (whichever could be registered).
async fn stop_signal(term: Option<Signal>, int: Option<Signal>) {
    async fn next(s: Option<Signal>) {
        match s {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    tokio::select! {
        () = next(term) => {}
        () = next(int) => {}
    }
}

/// Shared by the worker tasks of one thread.
pub(crate) type Peers = Rc<Vec<mpsc::Sender<Inbox>>>;
