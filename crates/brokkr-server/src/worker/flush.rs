//! Writes from the worker, coalesced per loop turn. Every input the worker handles lists the
//! connections the shard wrote to; one flusher task per worker writes them all, each with one
//! vectored non-blocking write (sealed through its transport first), after the connections
//! that were ready to read this turn have been read (tokio's current-thread scheduler runs
//! woken tasks in order, and the flusher is woken by the first of them, from inside the reader
//! task's turn). A connection goes back to the reader task only when its socket would block
//! (it then waits for writability and writes the rest itself), or when it must close or move
//! to another worker.
//!
//! Accounting is the one the shard expects: [`brokkr_core::shard::Shard::written`] hears of a
//! chunk only once it is written whole, so the shard's write-buffer cap bounds what waits in
//! [`Outgoing`]; with the journal, bytes are taken from the shard at once and held until their
//! ticket is durable (`Worker::hold`), and written in order after that.

use super::conns::Conn;
use super::outgoing::Outgoing;
use super::{Shared, Worker};
use brokkr_core::shard::Shard;
use brokkr_core::slab::Key;
use bytes::Bytes;
use std::rc::Rc;
use tokio::sync::Notify;

/// What a write left to the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wrote {
    /// Everything collected went out (or nothing was there).
    Done,
    /// The socket would block: bytes wait in the record's [`Outgoing`].
    Blocked,
    /// The socket failed.
    Failed,
}

impl Worker {
    /// `key`'s connection has bytes to write: the flusher writes it this turn.
    pub(super) fn queue_write(&mut self, key: Key) {
        let Some(c) = self.conns.get_mut(key) else {
            return;
        };
        if c.queued {
            return;
        }
        c.queued = true;
        if self.dirty.is_empty() {
            self.flusher.notify_one();
        }
        self.dirty.push(key);
    }

    /// Write every queued connection once: the flusher's turn.
    fn flush_queued(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &key in &dirty {
            let Some(c) = self.conns.get_mut(key) else {
                continue;
            };
            c.queued = false;
            if c.closing || c.moving {
                // The reader sends the rest (or moves it) itself.
                c.wake();
                continue;
            }
            if c.blocked() {
                // It waits for writability, then the reader writes everything there is.
                continue;
            }
            if self.write_conn(key) != Wrote::Done
                && let Some(c) = self.conns.get(key)
            {
                c.wake();
            }
        }
        dirty.clear();
        if self.dirty.is_empty() {
            self.dirty = dirty; // keep the capacity
        }
    }

    /// Collect what `key`'s connection may write now (the transport's own bytes, the shard's,
    /// held bytes now durable, the tail) and write as much as the socket takes; the shard hears
    /// of every chunk written whole.
    pub(super) fn write_conn(&mut self, key: Key) -> Wrote {
        let durable = self.durable_ticket();
        let Worker {
            shard,
            conns,
            out_scratch,
            ..
        } = self;
        let Some(c) = conns.get_mut(key) else {
            return Wrote::Done;
        };
        // Bytes that waited go first; otherwise the worker's one reusable queue serves, and
        // only what the socket does not take is moved into a box of the connection's own.
        let mut own = c.out.take();
        let out: &mut Outgoing = match own.as_deref_mut() {
            Some(o) => o,
            None => out_scratch,
        };
        collect(shard, durable, c, out);
        let result = match out.write_some(&c.stream) {
            Ok(credit) => {
                if credit > 0 {
                    shard.written(c.id, credit);
                }
                if out.is_empty() {
                    Wrote::Done
                } else {
                    Wrote::Blocked
                }
            }
            Err(_) => Wrote::Failed,
        };
        if own.is_none() && !out_scratch.is_empty() {
            own = Some(Box::new(std::mem::take(out_scratch)));
        }
        c.out = own.filter(|o| !o.is_empty());
        result
    }

    /// With the journal, the last durable ticket (`None` without: nothing is held).
    fn durable_ticket(&self) -> Option<u64> {
        self.journal.as_ref().map(|j| {
            j.link
                .durable
                .ticket
                .load(std::sync::atomic::Ordering::Acquire)
        })
    }
}
/// Move what `c` may write now into `out`, in order: the transport's own bytes first (a pong,
/// handshake records), then the shard's (without the journal its write buffer; with it the held
/// chunks whose ticket is `durable`), then the tail once nothing is held; each sealed by the
/// transport and standing for its MQTT bytes.
fn collect(shard: &mut Shard, durable: Option<u64>, c: &mut Conn, out: &mut Outgoing) {
    if let Some(stack) = c.stack.as_mut()
        && stack.has_out()
    {
        out.push(Bytes::from(stack.take_out()), 0);
    }
    if c.moving {
        return; // nothing of the shard's goes to a connection on its way elsewhere
    }
    let Conn {
        id, stack, extra, ..
    } = c;
    if durable.is_none() {
        // With the journal every byte was taken by `Worker::hold` when the shard wrote it.
        push_sealed(stack, out, shard.take_write(*id));
    }
    let Some(extra) = extra.as_mut() else {
        return;
    };
    let durable = durable.unwrap_or(u64::MAX);
    while let Some((_, chunk)) = extra.held.pop_front_if(|(t, _)| *t <= durable) {
        push_sealed(stack, out, chunk);
    }
    if extra.held.is_empty()
        && let Some(tail) = extra.tail.take()
    {
        push_sealed(stack, out, tail);
    }
}

/// Queue `chunk` of the shard's bytes, sealed by the transport if there is one.
fn push_sealed(stack: &mut Option<Box<crate::transport::Stack>>, out: &mut Outgoing, chunk: Bytes) {
    if chunk.is_empty() {
        return;
    }
    let credit = chunk.len();
    match stack.as_mut() {
        None => out.push(chunk, credit),
        Some(stack) => {
            stack.seal(&chunk);
            out.push(Bytes::from(stack.take_out()), credit);
        }
    }
}

/// The flusher: once per turn in which the shard wrote to connections, after the connections
/// ready to read have been read.
pub(super) async fn flusher(worker: Shared) {
    let wake: Rc<Notify> = Rc::clone(&worker.borrow().flusher);
    loop {
        wake.notified().await;
        worker.borrow_mut().flush_queued();
    }
}
