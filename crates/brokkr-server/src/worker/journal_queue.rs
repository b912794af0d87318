//! With `persistence_journal`: the bound on what a worker has sent the journal thread and not
//! yet seen durable, and the backpressure that keeps it there.
//!
//! Each loop turn's records go to the journal thread as one ticket; [`Queue`] keeps the
//! weight of the tickets not yet durable. While it is over its bound, a connection whose reads
//! produced records that are not durable yet stops being read: its acknowledgements are held
//! until then anyway, so it loses nothing by waiting, and the socket's buffers, then TCP flow
//! control, push back on the client. The event loop itself never blocks: every other
//! connection is still read and written, timers and deliveries from peers still run, and the
//! stopped connection is woken (with the writers waiting for the same ticket) when its ticket
//! is durable. Records are never kept back in the worker, so the journal's order stays the
//! order the shard made them in.
//!
//! The bound is soft by one read per connection: a connection that was not waiting reads once
//! more (at most the worker's read chunk, 64 KiB of packets) before it waits. A journal
//! slower than the load thus caps what waits at the bound plus one read per active
//! connection, instead of growing without limit. A disk that stops altogether stops exactly
//! the connections whose state changes need it.

use super::Worker;
use brokkr_core::slab::Key;
use std::collections::VecDeque;

/// Tickets sent to the journal thread and not yet durable, with their weight.
#[derive(Debug)]
pub(super) struct Queue {
    tickets: VecDeque<(u64, usize)>,
    bytes: usize,
    bytes_max: usize,
}

impl Queue {
    /// An empty queue bounded at `bytes_max`.
    pub(super) fn new(bytes_max: usize) -> Queue {
        Queue {
            tickets: VecDeque::new(),
            bytes: 0,
            bytes_max,
        }
    }

    /// Ticket `ticket` (above every earlier one) went to the journal with `bytes` of records.
    pub(super) fn push(&mut self, ticket: u64, bytes: usize) {
        debug_assert!(self.tickets.back().is_none_or(|&(t, _)| t < ticket));
        self.tickets.push_back((ticket, bytes));
        self.bytes = self.bytes.saturating_add(bytes);
    }

    /// Every ticket up to `durable` is durable.
    pub(super) fn durable(&mut self, durable: u64) {
        while let Some(&(ticket, bytes)) = self.tickets.front() {
            if ticket > durable {
                break;
            }
            self.tickets.pop_front();
            self.bytes = self.bytes.saturating_sub(bytes);
        }
        debug_assert!(!self.tickets.is_empty() || self.bytes == 0);
    }

    /// Over the bound: connections whose records wait stop reading.
    pub(super) fn full(&self) -> bool {
        self.bytes >= self.bytes_max
    }
}

/// One connection's reads and the journal.
#[derive(Debug, Default)]
pub(super) struct Reads {
    /// The last ticket that holds records its reads produced (0: none).
    ticket: u64,
    /// It stopped reading until `ticket` is durable (and is in the worker's waiting list).
    paused: bool,
}

impl Reads {
    /// Its ticket is durable (the worker's `release`): it may read again. True if it had
    /// stopped reading (its task must be woken).
    pub(super) fn resume(&mut self) -> bool {
        std::mem::replace(&mut self.paused, false)
    }
}

impl Worker {
    /// The last ticket sent to the journal thread (0 without the journal).
    pub(super) fn journal_sent(&self) -> u64 {
        self.journal.as_ref().map_or(0, |j| j.sent)
    }

    /// Connection `key`'s read was handled; `before` is [`Worker::journal_sent`] from before
    /// it. A ticket sent since holds records the read produced.
    pub(super) fn note_read(&mut self, key: Key, before: u64) {
        let sent = self.journal_sent();
        if sent > before
            && let Some(c) = self.conns.get_mut(key)
        {
            c.extra().reads.ticket = sent;
        }
    }

    /// Whether connection `key` may read now. No while the journal queue is full and the
    /// records its reads produced are not durable yet; it is then woken when they are.
    pub(super) fn may_read(&mut self, key: Key) -> bool {
        let Some(j) = self.journal.as_mut() else {
            return true;
        };
        let Some(c) = self.conns.get_mut(key).and_then(|c| c.extra.as_mut()) else {
            return true;
        };
        if c.reads.paused {
            return false;
        }
        if !j.queue.full() {
            return true;
        }
        let durable = j
            .link
            .durable
            .ticket
            .load(std::sync::atomic::Ordering::Acquire);
        if c.reads.ticket <= durable {
            return true;
        }
        c.reads.paused = true;
        j.waiting.push((c.reads.ticket, key));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_counts_what_is_not_durable() {
        let mut q = Queue::new(100);
        q.push(1, 60);
        assert!(!q.full());
        q.push(2, 40);
        assert!(q.full());
        q.durable(1);
        assert!(!q.full());
        q.push(3, 70);
        assert!(q.full());
        q.durable(3);
        assert_eq!((q.bytes, q.tickets.len()), (0, 0));
    }
}
