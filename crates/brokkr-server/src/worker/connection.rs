//! One connection's task: it reads the socket into the worker's one scratch buffer and hands
//! the bytes to the shard (through the transport [`Stack`] when the listener has one), and
//! writes what the shard encoded for it, woken once per loop turn. Reading and writing wait on
//! the socket's readiness in one `select!`, so a peer that neither reads nor stops sending
//! never blocks the other direction, and an idle connection holds no buffer at all.
//!
//! A connection handed to another worker moves whole (socket and transport state); a closing
//! one flushes what was encoded, for at most [`super::WRITE_GRACE`].

use super::{Inbox, Shared, WRITE_GRACE, Worker, clock_ms};
use crate::stream::Stream;
use crate::transport::Stack;
use brokkr_core::shard::ConnId;
use bytes::Bytes;
use std::collections::VecDeque;
use std::io::{ErrorKind, IoSlice};
use std::rc::Rc;
use tokio::sync::Notify;

/// Most chunks handed to one vectored write.
const WRITE_SLICES_MAX: usize = 64;

/// Bytes waiting for the socket, in order; the first chunk may be partly written. Each chunk
/// carries the number of the shard's bytes it stands for (a sealed chunk's TLS or websocket
/// framing makes it longer; a transport's own bytes stand for none): the shard hears they
/// left only when the chunk is written, so its write-buffer cap bounds what waits here.
#[derive(Debug, Default)]
struct Outgoing {
    chunks: VecDeque<(Bytes, usize)>,
    /// Bytes of the first chunk already written.
    offset: usize,
}

impl Outgoing {
    fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Queue `bytes`, which stand for `credit` of the shard's bytes.
    fn push(&mut self, bytes: Bytes, credit: usize) {
        if !bytes.is_empty() {
            self.chunks.push_back((bytes, credit));
        }
    }

    /// Write as much as the socket takes now. `Ok(credit)`: the shard's bytes of the chunks
    /// written completely; `Err` when the socket failed.
    fn write_some(&mut self, stream: &Stream) -> std::io::Result<usize> {
        let mut total = 0;
        while !self.chunks.is_empty() {
            let mut slices = [IoSlice::new(&[]); WRITE_SLICES_MAX];
            let mut used = 0;
            for (slot, (i, (chunk, _))) in slices.iter_mut().zip(self.chunks.iter().enumerate()) {
                let from = if i == 0 { self.offset } else { 0 };
                *slot = IoSlice::new(chunk.get(from..).unwrap_or_default());
                used += 1;
            }
            let n = match stream.try_write_vectored(slices.get(..used).unwrap_or_default()) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            total += self.consume(n);
        }
        Ok(total)
    }

    /// Drop `n` written bytes from the front; returns the credit of the chunks finished.
    fn consume(&mut self, mut n: usize) -> usize {
        let mut credit = 0;
        while let Some((front, c)) = self.chunks.front() {
            let left = front.len().saturating_sub(self.offset);
            if n < left {
                self.offset += n;
                break;
            }
            n -= left;
            credit += c;
            self.offset = 0;
            self.chunks.pop_front();
        }
        credit
    }

    /// Everything not written yet, as one buffer (for a connection moving to another worker).
    fn unsent(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, (chunk, _)) in self.chunks.iter().enumerate() {
            let from = if i == 0 { self.offset } else { 0 };
            out.extend_from_slice(chunk.get(from..).unwrap_or_default());
        }
        self.chunks.clear();
        self.offset = 0;
        out
    }
}

/// Why the connection stopped reading.
enum Ended {
    /// The peer closed, the socket failed, or the transport gave up.
    Lost,
    /// The shard closed it.
    Closed,
    /// The shard handed it to another worker.
    Moving,
}

pub(super) async fn connection(
    stream: Stream,
    id: ConnId,
    wake: Rc<Notify>,
    worker: Shared,
    mut stack: Option<Box<Stack>>,
) {
    let mut out = Outgoing::default();
    let ended = serve(&stream, id, &wake, &worker, &mut stack, &mut out).await;
    if let Ended::Moving = ended {
        move_away(stream, id, &worker, stack, &mut out);
        return;
    }
    // Lost or closed by the shard: either way the shard frees the connection now (a will
    // fires now, not after the flush) and what it still had encoded is sent last.
    finish_reading(id, &worker);
    if let Some(stack) = stack.as_mut() {
        stack.finish();
    }
    // Send what was already encoded, boundedly (a peer that does not read would keep the
    // socket forever), then close.
    let _ = tokio::time::timeout(
        WRITE_GRACE,
        drain(&stream, id, &wake, &worker, &mut stack, &mut out),
    )
    .await;
    worker.borrow_mut().conns.remove(&id);
}

/// The connection's life until it stops reading.
async fn serve(
    stream: &Stream,
    id: ConnId,
    wake: &Notify,
    worker: &Shared,
    stack: &mut Option<Box<Stack>>,
    out: &mut Outgoing,
) -> Ended {
    loop {
        let (closing, moving) = collect(id, worker, stack, out);
        if moving {
            return Ended::Moving;
        }
        if closing {
            return Ended::Closed;
        }
        match out.write_some(stream) {
            Ok(n) => report_written(id, worker, n),
            Err(_) => return Ended::Lost,
        }
        tokio::select! {
            ready = stream.readable() => {
                if ready.is_err() {
                    return Ended::Lost;
                }
                match read(stream, id, worker, stack) {
                    Read::Again => {}
                    Read::Ended => return Ended::Lost,
                }
            }
            ready = stream.writable(), if !out.is_empty() => {
                if ready.is_err() {
                    return Ended::Lost;
                }
            }
            () = wake.notified() => {}
        }
    }
}

enum Read {
    Again,
    Ended,
}

/// Read what the socket has and hand it to the shard.
fn read(stream: &Stream, id: ConnId, worker: &Shared, stack: &mut Option<Box<Stack>>) -> Read {
    let mut w = worker.borrow_mut();
    let n = {
        let Worker { scratch, .. } = &mut *w;
        match stream.try_read(scratch) {
            Ok(0) => return Read::Ended,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                return Read::Again;
            }
            Err(_) => return Read::Ended,
        }
    };
    let now = clock_ms(w.epoch);
    let Worker {
        shard,
        scratch,
        plain,
        conns,
        ..
    } = &mut *w;
    let raw = scratch.get(..n).unwrap_or_default();
    let mut ended = false;
    match stack.as_mut() {
        None => shard.bytes_received(now, id, raw),
        Some(stack) => {
            plain.clear();
            match stack.ingest(raw, plain) {
                Ok(learned) => {
                    if let Some(peer) = learned.peer
                        && !stack.source_allowed(peer.ip())
                    {
                        log::info!("connection from {peer} refused by only_allow_from/deny_from");
                        ended = true;
                    } else {
                        if let Some(peer) = learned.peer {
                            log::debug!("connection {id:?} comes from {peer}");
                            if let Some(c) = conns.get_mut(&id) {
                                c.peer = Some(peer);
                            }
                        }
                        if let Some(user) = learned.user {
                            shard.set_transport_user(id, user);
                        }
                        if !plain.is_empty() {
                            shard.bytes_received(now, id, plain);
                        }
                        ended = stack.closed_by_peer();
                    }
                }
                Err(e) => {
                    log::info!(
                        "closing connection from {}: {e}",
                        stack
                            .peer()
                            .map_or_else(|| "a unix socket".into(), |p| p.to_string())
                    );
                    ended = true;
                }
            }
            if plain.capacity() > super::READ_CHUNK_BYTES * 4 {
                *plain = Vec::new();
            }
        }
    }
    w.flush_outputs();
    if ended { Read::Ended } else { Read::Again }
}

/// Take what the shard (and the transport) has for the socket. Returns (closing, moving).
fn collect(
    id: ConnId,
    worker: &Shared,
    stack: &mut Option<Box<Stack>>,
    out: &mut Outgoing,
) -> (bool, bool) {
    let mut w = worker.borrow_mut();
    let (chunks, closing, moving) = w.writable(id);
    if moving {
        return (false, true);
    }
    match stack.as_mut() {
        None => chunks.into_iter().for_each(|c| {
            let n = c.len();
            out.push(c, n);
        }),
        Some(stack) => {
            // The transport's own bytes first (a pong, handshake records), then each chunk
            // sealed, standing for its MQTT bytes.
            if stack.has_out() {
                out.push(Bytes::from(stack.take_out()), 0);
            }
            for chunk in chunks.iter().filter(|c| !c.is_empty()) {
                stack.seal(chunk);
                out.push(Bytes::from(stack.take_out()), chunk.len());
            }
        }
    }
    (closing, false)
}

/// Tell the shard `n` of its bytes reached the socket.
fn report_written(id: ConnId, worker: &Shared, n: usize) {
    if n > 0 {
        worker.borrow_mut().shard.written(id, n);
    }
}

/// Reading is done: the peer closed, the socket failed, the transport gave up, or the shard
/// closed the connection. The shard hears it at once and frees the connection.
fn finish_reading(id: ConnId, worker: &Shared) {
    let mut w = worker.borrow_mut();
    let now = w.now_ms();
    let tail = w.shard.take_write(id);
    w.shard.connection_lost(now, id);
    if let Some(c) = w.conns.get_mut(&id) {
        c.closing = true;
        if !tail.is_empty() {
            c.tail = Some(tail);
        }
    }
    w.flush_outputs();
}

/// Write the rest and close (bounded by the caller).
async fn drain(
    stream: &Stream,
    id: ConnId,
    wake: &Notify,
    worker: &Shared,
    stack: &mut Option<Box<Stack>>,
    out: &mut Outgoing,
) {
    loop {
        let (closing, _) = collect(id, worker, stack, out);
        match out.write_some(stream) {
            Ok(n) => report_written(id, worker, n),
            Err(_) => return,
        }
        if closing && out.is_empty() {
            stream.shutdown_write();
            return;
        }
        tokio::select! {
            ready = stream.writable(), if !out.is_empty() => {
                if ready.is_err() {
                    return;
                }
            }
            () = wake.notified() => {}
        }
    }
}

/// The shard handed the connection to the home worker of its session: the socket and the
/// transport state move there intact.
fn move_away(
    stream: Stream,
    id: ConnId,
    worker: &Shared,
    mut stack: Option<Box<Stack>>,
    out: &mut Outgoing,
) {
    let (handoff, peer, addr) = {
        let mut w = worker.borrow_mut();
        let (handoff, addr) = w
            .conns
            .remove(&id)
            .map_or((None, None), |mut c| (c.handoff.take(), c.peer));
        let peer = handoff
            .as_ref()
            .and_then(|h| w.peers.get(h.shard as usize).cloned());
        (handoff, peer, addr)
    };
    // Nothing of the shard's was written before CONNACK; transport bytes not yet written
    // (TLS session tickets) go with the transport.
    let unsent = out.unsent();
    if let Some(stack) = stack.as_mut() {
        stack.put_back(unsent);
    }
    if let (Some(handoff), Some(peer), Ok(stream)) = (handoff, peer, stream.into_std()) {
        let _ = peer.try_send(Inbox::HandedOver {
            stream,
            handoff,
            stack,
            peer: addr,
        });
    }
}
