//! The worker's record of each connection it serves, in a slab: the socket, the transport
//! stack, the waker of the connection's task, and (boxed, since most connections never need
//! them) what waits for the socket, the journal or a hand-off.
//!
//! The worker writes to the socket itself once per loop turn (`flush.rs`) and reads it when
//! the connection's waker says so (`connection.rs`). Keys are the slab's own and stay valid for the
//! record's whole life; the shard's [`ConnId`]s find their record through a side table indexed
//! like the shard's slab. The two differ because a connection outlives its id in the shard: it
//! is freed there as soon as reading ends (wills fire then) or it is handed over, and its
//! record stays until the last bytes are written or the socket has moved.

use super::journal_queue::Reads;
use super::outgoing::Outgoing;
use crate::stream::Stream;
use crate::transport::Stack;
use brokkr_core::shard::{ConnId, Handoff};
use brokkr_core::slab::{Key, Slab};
use std::collections::VecDeque;
use std::task::Waker;

/// One connection, as its worker keeps it.
pub(super) struct Conn {
    /// The shard's id for it (freed in the shard once reading ends or it is handed over).
    pub id: ConnId,
    pub stream: Stream,
    /// The connection's waker: the IO driver's way to it, and the worker's when the socket
    /// would block, or the connection must close or move.
    pub waker: Waker,
    /// The transport between the socket and MQTT (TLS, websockets, PROXY), if any.
    pub stack: Option<Box<Stack>>,
    /// Bytes the socket did not take yet; only while there are some.
    pub out: Option<Box<Outgoing>>,
    /// The client's address as far as we know it (a PROXY header or a trusted `X-Real-IP`
    /// replaces the socket's peer); `None` for a unix socket.
    pub peer: Option<std::net::SocketAddr>,
    /// The rarely needed rest.
    pub extra: Option<Box<Extra>>,
    /// The shard closed it, or reading ended: the reader sends what is left and closes it.
    pub closing: bool,
    /// The shard handed it to another worker: the reader moves it there.
    pub moving: bool,
    /// It is in the worker's list of connections to write this turn.
    pub queued: bool,
    /// Reading is over: it writes what is left and closes.
    pub draining: bool,
    /// The transport's goodbye is sealed after the last bytes (draining).
    pub finished: bool,
}

/// What few connections need, boxed to keep [`Conn`] small.
#[derive(Default)]
pub(super) struct Extra {
    /// What the shard still had for this connection when it was freed; written last.
    pub tail: Option<bytes::Bytes>,
    /// The shard handed the connection to another worker, until the reader moves it there.
    pub handoff: Option<Handoff>,
    /// With the journal: bytes taken from the shard, each chunk with the ticket that must be
    /// durable before it is written (0: none), in order.
    pub held: VecDeque<(u64, bytes::Bytes)>,
    /// With the journal: the last ticket holding records this connection's reads produced,
    /// and whether it stopped reading until that ticket is durable (`journal_queue.rs`).
    pub reads: Reads,
}

impl Conn {
    /// A connection just registered with the worker.
    pub fn new(
        id: ConnId,
        stream: Stream,
        stack: Option<Box<Stack>>,
        peer: Option<std::net::SocketAddr>,
    ) -> Conn {
        Conn {
            id,
            stream,
            waker: Waker::noop().clone(),
            stack,
            out: None,
            peer,
            extra: None,
            closing: false,
            moving: false,
            queued: false,
            draining: false,
            finished: false,
        }
    }

    /// The boxed rest, made on first use.
    pub fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Held bytes still wait for the journal.
    pub fn holds(&self) -> bool {
        self.extra.as_ref().is_some_and(|e| !e.held.is_empty())
    }

    /// Bytes wait for the socket to take them.
    pub fn blocked(&self) -> bool {
        self.out.as_ref().is_some_and(|o| !o.is_empty())
    }

    /// Have the reader task look at the connection (`connection.rs`).
    pub fn wake(&self) {
        self.waker.wake_by_ref();
    }
}

/// The worker's connections: a slab, and the way from the shard's ids to it.
#[derive(Default)]
pub(super) struct Conns {
    slab: Slab<Conn>,
    /// Indexed like the shard's slab of connections: the record of the connection that has
    /// (or last had) each shard slot.
    by_shard: Vec<Option<Key>>,
}

impl Conns {
    /// Store `conn`; the shard's id finds it from now on.
    pub fn insert(&mut self, conn: Conn) -> Key {
        let index = conn.id.index();
        let key = self.slab.insert(conn);
        if self.by_shard.len() <= index {
            self.by_shard.resize(index + 1, None);
        }
        if let Some(slot) = self.by_shard.get_mut(index) {
            *slot = Some(key);
        }
        key
    }

    pub fn get(&self, key: Key) -> Option<&Conn> {
        self.slab.get(key)
    }

    pub fn get_mut(&mut self, key: Key) -> Option<&mut Conn> {
        self.slab.get_mut(key)
    }

    /// The record of the shard's connection `id`, if it is still served here.
    pub fn key_of(&self, id: ConnId) -> Option<Key> {
        let key = (*self.by_shard.get(id.index())?)?;
        self.slab.get(key).filter(|c| c.id == id).map(|_| key)
    }

    /// The record of the shard's connection `id`.
    pub fn by_id(&self, id: ConnId) -> Option<&Conn> {
        self.get(self.key_of(id)?)
    }

    /// The record of the shard's connection `id`, mutably.
    pub fn by_id_mut(&mut self, id: ConnId) -> Option<(Key, &mut Conn)> {
        let key = self.key_of(id)?;
        self.slab.get_mut(key).map(|c| (key, c))
    }

    /// Forget `key`'s connection (the side table entry stays until the shard slot is reused:
    /// the id check in [`Conns::key_of`] keeps it from matching anything else).
    pub fn remove(&mut self, key: Key) -> Option<Conn> {
        let conn = self.slab.remove(key)?;
        if let Some(slot) = self.by_shard.get_mut(conn.id.index())
            && *slot == Some(key)
        {
            *slot = None;
        }
        Some(conn)
    }

    pub fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every connection pays for a slab slot of this size, idle or not.
    #[test]
    fn the_record_stays_small() {
        let bytes = std::mem::size_of::<Conn>();
        eprintln!("a connection's record is {bytes} bytes");
        assert!(bytes <= 136, "a connection's record is {bytes} bytes");
    }
}
