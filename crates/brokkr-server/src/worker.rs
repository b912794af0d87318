//! One worker: a current-thread tokio runtime owning a [`Shard`] and its connections.
//!
//! Each connection has a reader task (socket to shard) and a writer task (shard to socket,
//! woken when the shard wrote to that connection). After every input the worker collects the
//! shard's outputs once: connections written to (each writer woken once: writes are coalesced
//! per turn) and connections to close. A timer task runs [`Shard::tick`] at the shard's next
//! deadline (at least every second); a background task runs retained deliveries in slices.

use brokkr_core::limits::Limits;
use brokkr_core::shard::{ConnId, Shard};
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// A listener to open.
#[derive(Debug, Clone)]
pub struct ListenerSpec {
    /// Address and port.
    pub addr: SocketAddr,
}

/// What the server needs to run.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listeners.
    pub listeners: Vec<ListenerSpec>,
    /// Bounds.
    pub limits: Limits,
    /// Seed for the shard's randomness (client ids, shared-subscription picks).
    pub seed: u64,
}

/// Read at most this much per socket read (one buffer per worker, shared by its connections).
const READ_CHUNK_BYTES: usize = 64 * 1024;

struct Conn {
    /// Wakes the writer task.
    wake: Rc<Notify>,
    /// Stops the reader task when the shard closes the connection.
    stop: Rc<Notify>,
    closing: bool,
    /// What the shard still had for this connection when it was freed; the writer sends it
    /// last.
    tail: Option<bytes::Bytes>,
}

struct Worker {
    shard: Shard,
    conns: HashMap<ConnId, Conn>,
    epoch: Instant,
    /// The one read buffer of this worker (see `connection`).
    scratch: Vec<u8>,
    /// Wakes the background task (retained deliveries in slices).
    background: Rc<Notify>,
}

type Shared = Rc<RefCell<Worker>>;

impl Worker {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Wake the writers of every connection the shard wrote to or wants closed, and the
    /// background task if the shard has background work.
    fn flush_outputs(&mut self) {
        if self.shard.has_background_work() {
            self.background.notify_one();
        }
        for conn in self.shard.take_dirty() {
            if let Some(c) = self.conns.get(&conn) {
                c.wake.notify_one();
            }
        }
        for conn in self.shard.take_closed() {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.closing = true;
                c.wake.notify_one();
                c.stop.notify_one();
            }
        }
    }
}

/// Run the broker until SIGINT or SIGTERM. Logs to stderr.
pub fn run(config: ServerConfig) -> std::io::Result<()> {
    run_until(config, shutdown_signal())
}

/// Run the broker until `stop` resolves (tests use this instead of a signal).
pub fn run_until(
    config: ServerConfig,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, serve(config, stop))
}

async fn serve(
    config: ServerConfig,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let worker = Rc::new(RefCell::new(Worker {
        shard: Shard::new(config.limits.clone(), config.seed),
        conns: HashMap::new(),
        epoch: Instant::now(),
        scratch: vec![0; READ_CHUNK_BYTES],
        background: Rc::new(Notify::new()),
    }));
    let mut opened = 0;
    for spec in &config.listeners {
        match TcpListener::bind(spec.addr).await {
            Ok(listener) => {
                eprintln!("brokkr: listening on {}", spec.addr);
                opened += 1;
                tokio::task::spawn_local(accept_loop(listener, Rc::clone(&worker)));
            }
            Err(e) => eprintln!("brokkr: cannot listen on {}: {e}", spec.addr),
        }
    }
    if opened == 0 {
        return Err(std::io::Error::other("no listener could be opened"));
    }
    tokio::task::spawn_local(timer_loop(Rc::clone(&worker)));
    tokio::task::spawn_local(background_loop(Rc::clone(&worker)));
    stop.await;
    eprintln!("brokkr: shutting down");
    {
        let mut w = worker.borrow_mut();
        let now = w.now_ms();
        w.shard.shutdown(now);
        w.flush_outputs();
    }
    // Give the writers a moment to send the DISCONNECTs and wills (bounded).
    let deadline = Instant::now() + Duration::from_secs(2);
    while !worker.borrow().conns.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn accept_loop(listener: TcpListener, worker: Shared) {
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                let _ = stream.set_nodelay(true);
                let wake = Rc::new(Notify::new());
                let stop = Rc::new(Notify::new());
                let id = {
                    let mut w = worker.borrow_mut();
                    let now = w.now_ms();
                    let id = w.shard.accept(now);
                    let conn = Conn {
                        wake: Rc::clone(&wake),
                        stop: Rc::clone(&stop),
                        closing: false,
                        tail: None,
                    };
                    w.conns.insert(id, conn);
                    w.flush_outputs();
                    id
                };
                tokio::task::spawn_local(connection(stream, id, wake, stop, Rc::clone(&worker)));
            }
            Err(e) => {
                eprintln!("brokkr: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn connection(
    stream: TcpStream,
    id: ConnId,
    wake: Rc<Notify>,
    stop: Rc<Notify>,
    worker: Shared,
) {
    let (reader, mut writer) = stream.into_split();
    let writer_worker = Rc::clone(&worker);
    let writing = tokio::task::spawn_local(async move {
        loop {
            wake.notified().await;
            let (bytes, closing) = {
                let mut w = writer_worker.borrow_mut();
                let mut bytes = w.shard.take_write(id);
                let closing = w.conns.get(&id).is_none_or(|c| c.closing);
                if bytes.is_empty()
                    && let Some(tail) = w.conns.get_mut(&id).and_then(|c| c.tail.take())
                {
                    bytes = tail;
                }
                (bytes, closing)
            };
            if !bytes.is_empty() {
                if writer.write_all(&bytes).await.is_err() {
                    return;
                }
                writer_worker.borrow_mut().shard.written(id, bytes.len());
            }
            if closing {
                let _ = writer.shutdown().await;
                return;
            }
        }
    });
    // No read buffer per connection: wait until the socket is readable, then read into the
    // worker's one scratch buffer and hand the bytes to the shard at once. An idle connection
    // holds no read memory here.
    loop {
        tokio::select! {
            ready = reader.readable() => {
                if ready.is_err() {
                    break;
                }
                let mut w = worker.borrow_mut();
                let n = match reader.try_read(&mut w.scratch) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(_) => break,
                };
                let now = u64::try_from(w.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
                let Worker { shard, scratch, .. } = &mut *w;
                shard.bytes_received(now, id, scratch.get(..n).unwrap_or_default());
                w.flush_outputs();
                if w.conns.get(&id).is_some_and(|c| c.closing) {
                    break;
                }
            }
            () = stop.notified() => break,
        }
    }
    // The reader is done: the peer closed, the socket failed, or the shard closed the
    // connection. Tell the shard at once (a will fires now, not after the flush), then let the
    // writer send what was already encoded, boundedly, and finish.
    {
        let mut w = worker.borrow_mut();
        let now = w.now_ms();
        let tail = w.shard.take_write(id);
        w.shard.connection_lost(now, id);
        if let Some(c) = w.conns.get_mut(&id) {
            c.closing = true;
            if !tail.is_empty() {
                c.tail = Some(tail);
            }
            c.wake.notify_one();
        }
        w.flush_outputs();
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), writing).await;
    worker.borrow_mut().conns.remove(&id);
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
