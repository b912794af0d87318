//! The worker's connections on the read side, all served by one reader task per worker. Each
//! connection has a waker of its own (an `Arc` of its record's key and the worker's [`Ready`]
//! list, a few dozen bytes) that tokio's IO driver calls when the socket becomes readable or
//! writable; the reader task then steps every connection woken since its last turn: reads the
//! socket into the worker's one scratch buffer and hands the bytes to the shard (through the
//! transport [`Stack`] when the listener has one). Writing is the flusher's (`flush.rs`), once
//! per loop turn after the reads; a connection waits for writability only while bytes wait for
//! its socket, and then writes them itself when it may. Reading goes on meanwhile, so a peer
//! that neither reads nor stops sending never blocks the other direction.
//!
//! A connection is not a tokio task: a task is a 256-byte cell aligned to 128 bytes, which
//! glibc's allocator serves with some 150 bytes of slack beside it; a waker costs 32 bytes.
//!
//! A connection handed to another worker moves whole (socket and transport state); a closing
//! one flushes what was encoded, then the transport's goodbye (websocket close, TLS
//! close_notify), for at most [`super::WRITE_GRACE`] (enforced by the timer task, to within
//! its one-second tick).

use super::flush::Wrote;
use super::{Inbox, Shared, WRITE_GRACE, Worker, clock_ms};
use crate::transport::Stack;
use brokkr_core::slab::Key;
use std::io::ErrorKind;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker, ready};

/// Connections woken since the reader task's last turn, and the reader task's own waker.
#[derive(Default)]
pub(super) struct Ready {
    inner: Mutex<ReadyInner>,
}

#[derive(Default)]
struct ReadyInner {
    keys: Vec<Key>,
    reader: Option<Waker>,
}

impl Ready {
    /// `key`'s connection has something to do: the reader task steps it on its next turn.
    pub(super) fn push(&self, key: Key) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.keys.push(key);
        if inner.keys.len() == 1
            && let Some(reader) = &inner.reader
        {
            reader.wake_by_ref();
        }
    }

    /// The keys pushed since the last call (into `into`, which must be empty), and remember
    /// the reader task's waker.
    fn take(&self, into: &mut Vec<Key>, reader: &Waker) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if !inner.reader.as_ref().is_some_and(|r| r.will_wake(reader)) {
            inner.reader = Some(reader.clone());
        }
        std::mem::swap(into, &mut inner.keys);
    }
}

/// One connection's waker: tokio's driver (and the worker) wake the connection through it.
struct ConnWake {
    key: Key,
    ready: Arc<Ready>,
}

impl Wake for ConnWake {
    fn wake(self: Arc<Self>) {
        self.ready.push(self.key);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.push(self.key);
    }
}

/// The waker of the connection whose record is `key`.
pub(super) fn waker(key: Key, ready: &Arc<Ready>) -> Waker {
    Waker::from(Arc::new(ConnWake {
        key,
        ready: Arc::clone(ready),
    }))
}

/// Reads that fill the scratch buffer one connection gets per turn before the others (and the
/// flusher) go first: up to 256 KiB, so that a busy publisher's deliveries leave in large
/// writes, while no connection keeps the worker for long.
const FULL_READS_PER_TURN: u32 = 4;

/// Why the connection stopped reading (or paused: `ReadMore`).
enum Ended {
    /// Not ended: its read filled the scratch buffer, more may wait.
    ReadMore,
    /// The peer closed, the socket failed, or the transport gave up.
    Lost,
    /// The shard closed it.
    Closed,
    /// The shard handed it to another worker.
    Moving,
}

/// The worker's reader task: every turn, step each connection woken since the last, once.
///
/// A connection whose read filled the scratch buffer (more may wait) is stepped again on the
/// next turn, after `yield_now`: tokio polls its IO driver before it runs a task that yielded,
/// so connections with new input are read in that turn too (a wake-up of our own would run the
/// reader again before the driver is polled, up to 61 times, starving the others). The task
/// runs without tokio's cooperative budget: each connection is stepped once per turn anyway,
/// and a budget spent halfway would leave the rest of the turn's connections unread.
pub(super) async fn reader(worker: Shared) {
    let ready = Arc::clone(&worker.borrow().ready);
    let mut batch = Vec::new();
    let mut again = Vec::new();
    tokio::task::unconstrained(async {
        loop {
            std::future::poll_fn(|cx| {
                ready.take(&mut batch, cx.waker());
                batch.append(&mut again);
                if batch.is_empty() {
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
            {
                let mut w = worker.borrow_mut();
                for key in batch.drain(..) {
                    if step(&mut w, key) == Step::ReadMore {
                        again.push(key);
                    }
                }
            }
            if !again.is_empty() {
                tokio::task::yield_now().await;
            }
        }
    })
    .await;
}

/// What a step left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Wait for the connection's waker.
    Wait,
    /// The read filled the scratch buffer: step it again next turn.
    ReadMore,
}

/// Do what connection `key` can do now: read, write what waited for its socket, start
/// closing, move, or finish closing.
fn step(w: &mut Worker, key: Key) -> Step {
    let Some(c) = w.conns.get_mut(key) else {
        return Step::Wait; // gone since it was woken
    };
    // The connection's waker, out of the record while the record is borrowed (a wake meanwhile
    // would be lost: every path below looks at the record's flags again before it waits).
    let waker = std::mem::replace(&mut c.waker, Waker::noop().clone());
    let mut cx = Context::from_waker(&waker);
    let mut next = Step::Wait;
    let done = if c.draining {
        poll_drain(w, key, &mut cx).is_ready()
    } else {
        match poll_serve(w, key, &mut cx) {
            Poll::Pending => false,
            Poll::Ready(Ended::ReadMore) => {
                next = Step::ReadMore;
                false
            }
            Poll::Ready(Ended::Moving) => {
                move_away(w, key);
                return Step::Wait;
            }
            // Lost or closed by the shard: either way the shard frees the connection now (a
            // will fires now, not after the flush) and what it still had encoded is sent
            // last, boundedly (a peer that does not read would keep the socket forever).
            Poll::Ready(Ended::Lost | Ended::Closed) => {
                finish_reading(w, key);
                poll_drain(w, key, &mut cx).is_ready()
            }
        }
    };
    if done {
        let conn = w.conns.remove(key);
        drop(conn); // the socket closes
    } else if let Some(c) = w.conns.get_mut(key) {
        c.waker = waker;
    }
    next
}

/// The connection's life until it stops reading.
fn poll_serve(w: &mut Worker, key: Key, cx: &mut Context<'_>) -> Poll<Ended> {
    let mut full_reads = 0;
    loop {
        let Some(c) = w.conns.get(key) else {
            return Poll::Ready(Ended::Lost);
        };
        if c.moving {
            return Poll::Ready(Ended::Moving);
        }
        if c.closing {
            return Poll::Ready(Ended::Closed);
        }
        if c.blocked() {
            match c.stream.poll_write_ready(cx) {
                Poll::Ready(Ok(())) => {
                    if w.write_conn(key) == Wrote::Failed {
                        return Poll::Ready(Ended::Lost);
                    }
                }
                Poll::Ready(Err(_)) => return Poll::Ready(Ended::Lost),
                Poll::Pending => {}
            }
        }
        // Not while the journal queue is full and this connection's records wait in it
        // (`journal_queue.rs`); it is woken when they are durable.
        if !w.may_read(key) {
            return Poll::Pending;
        }
        match read(w, key, cx) {
            Poll::Ready(Read::Again) => {}
            Poll::Ready(Read::Full) => {
                full_reads += 1;
                if full_reads == FULL_READS_PER_TURN {
                    // More may wait: the other connections and the flusher go first.
                    return Poll::Ready(Ended::ReadMore);
                }
            }
            Poll::Ready(Read::Ended) => return Poll::Ready(Ended::Lost),
            Poll::Pending => return Poll::Pending,
        }
    }
}

enum Read {
    /// Read part of the scratch buffer: the socket is drained for now.
    Again,
    /// Filled the scratch buffer.
    Full,
    Ended,
}

/// Read what the socket has and hand it to the shard.
fn read(w: &mut Worker, key: Key, cx: &mut Context<'_>) -> Poll<Read> {
    let Worker { conns, scratch, .. } = w;
    let Some(c) = conns.get_mut(key) else {
        return Poll::Ready(Read::Ended);
    };
    let n = match ready!(c.stream.poll_read(cx, scratch)) {
        Ok(0) => return Poll::Ready(Read::Ended),
        Ok(n) => n,
        Err(e) if e.kind() == ErrorKind::Interrupted => return Poll::Ready(Read::Again),
        Err(_) => return Poll::Ready(Read::Ended),
    };
    let full = n == scratch.len();
    let sent_before = w.journal_sent();
    let ended = handle_bytes(w, key, n);
    w.flush_outputs();
    w.note_read(key, sent_before);
    if w.conns
        .get(key)
        .and_then(|c| c.stack.as_ref())
        .is_some_and(|s| s.has_out())
    {
        // The transport answered on its own (handshake records, a pong).
        w.queue_write(key);
    }
    Poll::Ready(match (ended, full) {
        (true, _) => Read::Ended,
        (false, true) => Read::Full,
        (false, false) => Read::Again,
    })
}

/// Give the `n` bytes read into the scratch buffer to the shard, through the transport if
/// there is one. True when the transport ended the connection.
fn handle_bytes(w: &mut Worker, key: Key, n: usize) -> bool {
    let now = clock_ms(w.epoch);
    let Worker {
        shard,
        scratch,
        plain,
        conns,
        ..
    } = w;
    let Some(c) = conns.get_mut(key) else {
        return true;
    };
    let id = c.id;
    let raw = scratch.get(..n).unwrap_or_default();
    let Some(stack) = c.stack.as_mut() else {
        shard.bytes_received(now, id, raw);
        return false;
    };
    plain.clear();
    let ended = match stack.ingest(raw, plain) {
        Ok(learned) => {
            if let Some(peer) = learned.peer
                && !stack.source_allowed(peer.ip())
            {
                log::info!("connection from {peer} refused by only_allow_from/deny_from");
                true
            } else {
                if let Some(user) = learned.user {
                    shard.set_transport_user(id, user);
                }
                if !plain.is_empty() {
                    shard.bytes_received(now, id, plain);
                }
                let ended = stack.closed_by_peer();
                if let Some(peer) = learned.peer {
                    log::debug!("connection {id:?} comes from {peer}");
                    c.peer = Some(peer);
                }
                ended
            }
        }
        Err(e) => {
            log::info!(
                "closing connection from {}: {e}",
                stack
                    .peer()
                    .map_or_else(|| "a unix socket".into(), |p| p.to_string())
            );
            true
        }
    };
    if plain.capacity() > super::READ_CHUNK_BYTES * 4 {
        *plain = Vec::new();
    }
    ended
}

/// Reading is done: the peer closed, the socket failed, the transport gave up, or the shard
/// closed the connection. The shard hears it at once and frees the connection; what it still
/// had for the socket becomes the record's tail.
fn finish_reading(w: &mut Worker, key: Key) {
    let now = w.now_ms();
    let Some(id) = w.conns.get(key).map(|c| c.id) else {
        return;
    };
    let tail = w.shard.take_write(id);
    w.shard.connection_lost(now, id);
    if let Some(c) = w.conns.get_mut(key) {
        c.closing = true;
        c.draining = true;
        if !tail.is_empty() {
            c.extra().tail = Some(tail);
        }
    }
    let grace_ms = u64::try_from(WRITE_GRACE.as_millis()).unwrap_or(u64::MAX);
    w.draining.push_back((now.saturating_add(grace_ms), key));
    w.flush_outputs();
}

/// Write the rest, then the transport's goodbye, and close (bounded by the timer task).
fn poll_drain(w: &mut Worker, key: Key, cx: &mut Context<'_>) -> Poll<()> {
    loop {
        if w.write_conn(key) == Wrote::Failed {
            return Poll::Ready(());
        }
        let Some(c) = w.conns.get_mut(key) else {
            return Poll::Ready(());
        };
        if !c.holds() && !c.finished {
            // Everything the shard had is queued: the goodbye goes after it.
            c.finished = true;
            if let Some(stack) = c.stack.as_mut() {
                stack.finish();
                continue;
            }
        }
        if c.blocked() {
            match c.stream.poll_write_ready(cx) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => {}
            }
        } else if c.finished {
            c.stream.shutdown_write();
            return Poll::Ready(());
        }
        // Bytes wait for the socket or for the journal.
        return Poll::Pending;
    }
}

/// The shard handed the connection to the home worker of its session: the socket and the
/// transport state move there intact.
fn move_away(w: &mut Worker, key: Key) {
    let Some(mut conn) = w.conns.remove(key) else {
        return;
    };
    let handoff = conn.extra.as_mut().and_then(|e| e.handoff.take());
    let peer = handoff
        .as_ref()
        .and_then(|h| w.peers.get(h.shard as usize).cloned());
    let (Some(handoff), Some(peer)) = (handoff, peer) else {
        return; // dropped: closed
    };
    let mut stack: Option<Box<Stack>> = conn.stack;
    // Nothing of the shard's was written before CONNACK; transport bytes not yet written
    // (TLS session tickets) go with the transport.
    if let (Some(mut out), Some(stack)) = (conn.out, stack.as_mut()) {
        stack.put_back(out.unsent());
    }
    if let Ok(stream) = conn.stream.into_std() {
        let _ = peer.try_send(Inbox::HandedOver {
            stream,
            handoff,
            stack,
            peer: conn.peer,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> Key {
        let mut slab = brokkr_core::slab::Slab::default();
        let mut last = slab.insert(());
        for _ in 0..n {
            last = slab.insert(());
        }
        last
    }

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Count(std::sync::atomic::AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// A connection's waker is its one allocation besides tokio's `ScheduledIo`: the `Arc`'s
    /// two counts and this (32 bytes, glibc's smallest chunk but one).
    #[test]
    fn a_connection_waker_stays_small() {
        assert_eq!(std::mem::size_of::<ConnWake>(), 16);
    }

    #[test]
    fn the_reader_is_woken_once_per_batch_and_gets_every_key_in_order() {
        let ready = Arc::new(Ready::default());
        let count = Arc::new(Count::default());
        let reader = Waker::from(Arc::clone(&count));
        let mut batch = Vec::new();
        ready.take(&mut batch, &reader);
        assert!(batch.is_empty());
        let (a, b) = (key(0), key(1));
        waker(a, &ready).wake_by_ref();
        waker(b, &ready).wake();
        waker(a, &ready).wake_by_ref();
        assert_eq!(count.0.load(std::sync::atomic::Ordering::Relaxed), 1);
        ready.take(&mut batch, &reader);
        assert_eq!(batch, vec![a, b, a]);
        batch.clear();
        waker(b, &ready).wake_by_ref();
        assert_eq!(count.0.load(std::sync::atomic::Ordering::Relaxed), 2);
    }
}
