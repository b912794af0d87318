//! One connection's two tasks: the reader (socket to shard, through the worker's one scratch
//! buffer) and the writer (shard to socket, woken once per loop turn). A connection handed to
//! another worker gives its socket back whole; a closing one flushes what was encoded, for at
//! most [`super::WRITE_GRACE`].

use super::{Inbox, Shared, WRITE_GRACE, Worker, clock_ms};
use brokkr_core::shard::ConnId;
use std::rc::Rc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;

pub(super) async fn connection(
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
            let (chunks, closing, handoff) = writer_worker.borrow_mut().writable(id);
            if handoff {
                // Nothing was written before CONNACK: the socket moves on intact.
                return Some(writer);
            }
            for bytes in chunks.iter().filter(|b| !b.is_empty()) {
                if writer.write_all(bytes).await.is_err() {
                    return None;
                }
                writer_worker.borrow_mut().shard.written(id, bytes.len());
            }
            if closing {
                let _ = writer.shutdown().await;
                return None;
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
                let now = clock_ms(w.epoch);
                let Worker { shard, scratch, .. } = &mut *w;
                shard.bytes_received(now, id, scratch.get(..n).unwrap_or_default());
                w.flush_outputs();
                if w.conns.get(&id).is_some_and(|c| c.closing || c.moving) {
                    break;
                }
            }
            () = stop.notified() => break,
        }
    }
    let handoff = worker
        .borrow_mut()
        .conns
        .get_mut(&id)
        .and_then(|c| c.handoff.take());
    if let Some(handoff) = handoff {
        // The shard already forgot the connection; move the socket to the session's home.
        let half: Option<OwnedWriteHalf> = writing.await.ok().flatten();
        let peer = {
            let mut w = worker.borrow_mut();
            w.conns.remove(&id);
            w.peers.get(handoff.shard as usize).cloned()
        };
        if let (Some(half), Some(peer)) = (half, peer)
            && let Ok(stream) = reader.reunite(half)
            && let Ok(stream) = stream.into_std()
        {
            let _ = peer.try_send(Inbox::HandedOver { stream, handoff });
        }
        return;
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
    // A peer that does not read would keep the writer (and the socket) forever: after the
    // grace period the writer is dropped, which closes the socket.
    let mut writing = writing;
    if tokio::time::timeout(WRITE_GRACE, &mut writing)
        .await
        .is_err()
    {
        writing.abort();
    }
    worker.borrow_mut().conns.remove(&id);
}
