//! One connection's task: it waits for the socket to be readable, reads into the worker's one
//! scratch buffer and hands the bytes to the shard (through the transport [`Stack`] when the
//! listener has one). It does not write in the ordinary case: the worker's flusher does
//! (`flush.rs`). The task waits for writability only while bytes wait for the socket, and
//! writes them itself when it may; reading goes on meanwhile, so a peer that neither reads nor
//! stops sending never blocks the other direction. Everything the connection owns lives in
//! the worker's record (`conns.rs`); the task's future is the worker, the record's key and, for
//! a closing connection, a boxed grace timer: it fits tokio's smallest task cell.
//!
//! A connection handed to another worker moves whole (socket and transport state); a closing
//! one flushes what was encoded, then the transport's goodbye (websocket close, TLS
//! close_notify), for at most [`super::WRITE_GRACE`].

use super::flush::Wrote;
use super::{Inbox, Shared, WRITE_GRACE, Worker, clock_ms};
use brokkr_core::slab::Key;
use std::future::Future;
use std::io::ErrorKind;
use std::task::{Context, Poll, ready};

/// Why the connection stopped reading.
enum Ended {
    /// The peer closed, the socket failed, or the transport gave up.
    Lost,
    /// The shard closed it.
    Closed,
    /// The shard handed it to another worker.
    Moving,
}

/// Serve the connection whose record is `key` until it closes or moves.
pub(super) async fn connection(worker: Shared, key: Key) {
    let ended = std::future::poll_fn(|cx| poll_serve(&worker, key, cx)).await;
    if let Ended::Moving = ended {
        move_away(&worker, key);
        return;
    }
    // Lost or closed by the shard: either way the shard frees the connection now (a will
    // fires now, not after the flush) and what it still had encoded is sent last, boundedly
    // (a peer that does not read would keep the socket forever).
    finish_reading(&worker, key);
    let mut grace = Box::pin(tokio::time::sleep(WRITE_GRACE));
    let mut finished = false;
    std::future::poll_fn(|cx| {
        if grace.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        poll_drain(&worker, key, &mut finished, cx)
    })
    .await;
    let conn = worker.borrow_mut().conns.remove(key);
    drop(conn); // the socket closes
}

/// The connection's life until it stops reading.
fn poll_serve(worker: &Shared, key: Key, cx: &mut Context<'_>) -> Poll<Ended> {
    let mut w = worker.borrow_mut();
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
        let read = if w.may_read(key) {
            read(&mut w, key, cx)
        } else {
            Poll::Pending
        };
        match read {
            Poll::Ready(Read::Again) => {}
            Poll::Ready(Read::Full) => {
                // More may wait: yield to the other connections and the flusher first.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(Read::Ended) => return Poll::Ready(Ended::Lost),
            Poll::Pending => {
                if let Some(c) = w.conns.get_mut(key) {
                    c.park(cx.waker());
                }
                return Poll::Pending;
            }
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
fn finish_reading(worker: &Shared, key: Key) {
    let mut w = worker.borrow_mut();
    let now = w.now_ms();
    let Some(id) = w.conns.get(key).map(|c| c.id) else {
        return;
    };
    let tail = w.shard.take_write(id);
    w.shard.connection_lost(now, id);
    if let Some(c) = w.conns.get_mut(key) {
        c.closing = true;
        if !tail.is_empty() {
            c.extra().tail = Some(tail);
        }
    }
    w.flush_outputs();
}

/// Write the rest, then the transport's goodbye, and close (bounded by the caller).
fn poll_drain(worker: &Shared, key: Key, finished: &mut bool, cx: &mut Context<'_>) -> Poll<()> {
    let mut w = worker.borrow_mut();
    loop {
        if w.write_conn(key) == Wrote::Failed {
            return Poll::Ready(());
        }
        let Some(c) = w.conns.get_mut(key) else {
            return Poll::Ready(());
        };
        if !c.holds() && !*finished {
            // Everything the shard had is queued: the goodbye goes after it.
            *finished = true;
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
        } else if *finished {
            c.stream.shutdown_write();
            return Poll::Ready(());
        }
        // Bytes wait for the socket or for the journal.
        c.park(cx.waker());
        return Poll::Pending;
    }
}

/// The shard handed the connection to the home worker of its session: the socket and the
/// transport state move there intact.
fn move_away(worker: &Shared, key: Key) {
    let (conn, peer) = {
        let mut w = worker.borrow_mut();
        let Some(mut conn) = w.conns.remove(key) else {
            return;
        };
        let handoff = conn.extra.as_mut().and_then(|e| e.handoff.take());
        let peer = handoff
            .as_ref()
            .and_then(|h| w.peers.get(h.shard as usize).cloned());
        (conn, handoff.zip(peer))
    };
    let Some((handoff, peer)) = peer else {
        return; // dropped: closed
    };
    let mut stack = conn.stack;
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

    /// The size of the future `f` returns.
    fn future_bytes<F, Fut>(_: F) -> usize
    where
        F: FnOnce(Shared, Key) -> Fut,
    {
        std::mem::size_of::<Fut>()
    }

    /// tokio's task cell is 256 bytes for a future of up to 136 bytes and 384 beyond (cells
    /// are aligned to 128 bytes): an idle connection pays for every byte over the line.
    #[test]
    fn the_connection_future_fits_the_smallest_task_cell() {
        let bytes = future_bytes(connection);
        eprintln!("the connection's future is {bytes} bytes");
        assert!(bytes <= 136, "the connection's future is {bytes} bytes");
    }
}
