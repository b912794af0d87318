//! Delivery batches for the other workers, and the backlog that holds them while a peer's
//! inbox is full.
//!
//! A batch goes straight into the peer's bounded inbox when it has room and nothing older waits
//! for that peer. Otherwise it joins the peer's backlog (merged into the last waiting batch
//! while that stays under [`MERGED_DELIVERIES_MAX`]), and one task per peer with a backlog
//! waits for room (`Sender::reserve`, no polling) and sends the oldest batch each time there
//! is. Batches leave in the order they were made, so each publisher's messages still reach
//! each subscriber in order.
//!
//! A backlog is bounded ([`BacklogLimits`]). Beyond the bound its QoS 0 deliveries are dropped
//! first (QoS 0 may be lost: a full client buffer drops them too); only if that is not enough
//! are the newest deliveries dropped, QoS 1/2 included, logged as an error (a gap at the end:
//! what is kept stays in order). The oldest delivery is never dropped, so a single message
//! larger than the byte bound still gets through. Drops are
//! returned to the caller, who counts them in `$SYS` (`messages/dropped`). This module never
//! blocks a worker: two workers with full inboxes both keep serving.

use super::Inbox;
use crate::cluster::Peers;
use brokkr_codec::QoS;
use brokkr_core::message::Message;
use brokkr_core::session::Queued;
use brokkr_core::shard::RemoteDelivery;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use tokio::sync::mpsc::Sender;
use tokio::sync::mpsc::error::TrySendError;

/// The bound of one peer's backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BacklogLimits {
    /// Deliveries waiting for one peer.
    pub deliveries_max: usize,
    /// Their weight: each distinct message's topic and payload once per run of adjacent
    /// deliveries sharing it, plus the size of each delivery record.
    pub bytes_max: usize,
}

/// Deliveries one worker keeps for one peer whose inbox is full, beyond which QoS 0 is dropped.
pub const BACKLOG_DELIVERIES_MAX: usize = 262_144;

/// Bytes one worker keeps for one peer whose inbox is full (see [`BacklogLimits::bytes_max`]).
pub const BACKLOG_BYTES_MAX: usize = 64 << 20;

/// A waiting batch grows by merging until it holds this many deliveries; a new one starts
/// then, so the receiving worker handles at most about this much per inbox message.
pub const MERGED_DELIVERIES_MAX: usize = 4096;

impl Default for BacklogLimits {
    fn default() -> Self {
        BacklogLimits {
            deliveries_max: BACKLOG_DELIVERIES_MAX,
            bytes_max: BACKLOG_BYTES_MAX,
        }
    }
}

/// What one [`Outbox::send`] had to drop.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// QoS 0 deliveries.
    pub qos0: u64,
    /// QoS 1 and 2 deliveries.
    pub acknowledged: u64,
}

impl Dropped {
    pub fn total(self) -> u64 {
        self.qos0 + self.acknowledged
    }
}

/// What waits for one peer: batches in order, each with its weight.
#[derive(Debug, Default)]
struct Backlog {
    batches: VecDeque<(Vec<RemoteDelivery>, usize)>,
    deliveries: usize,
    /// QoS 0 deliveries among them (a full backlog without any skips looking for them).
    qos0: usize,
    bytes: usize,
    /// A task waits for room in the peer's inbox.
    draining: bool,
    /// Dropped since the backlog last emptied (for the log line when it does).
    dropped: Dropped,
}

/// One worker's batches for its peers, and their backlogs.
pub(crate) struct Outbox {
    peers: Peers,
    backlogs: Rc<RefCell<Vec<Backlog>>>,
    limits: BacklogLimits,
}

impl Outbox {
    /// An outbox to `peers` (this worker's own inbox among them, never used).
    pub fn new(peers: Peers, limits: BacklogLimits) -> Outbox {
        let backlogs = (0..peers.len()).map(|_| Backlog::default()).collect();
        Outbox {
            peers,
            backlogs: Rc::new(RefCell::new(backlogs)),
            limits,
        }
    }

    /// Send `batch` to peer `index` now, or queue it behind what already waits for it. Must
    /// run inside a `LocalSet` (the backlog's task is local).
    pub fn send(&self, index: usize, batch: Vec<RemoteDelivery>) -> Dropped {
        let Some(peer) = self.peers.get(index) else {
            return Dropped::default();
        };
        let mut backlogs = self.backlogs.borrow_mut();
        let Some(backlog) = backlogs.get_mut(index) else {
            return Dropped::default();
        };
        let batch = if backlog.draining {
            batch // something older waits: this one must not overtake it
        } else {
            match peer.try_send(Inbox::Deliveries(batch)) {
                Ok(()) => return Dropped::default(),
                Err(TrySendError::Closed(_)) => return Dropped::default(), // stopping
                Err(TrySendError::Full(Inbox::Deliveries(batch))) => batch,
                Err(TrySendError::Full(_)) => return Dropped::default(),
            }
        };
        let dropped = backlog.push(batch, self.limits, index);
        if !backlog.draining {
            backlog.draining = true;
            log::warn!("worker {index}'s inbox is full: its deliveries wait in a backlog");
            let task = drain(peer.clone(), Rc::clone(&self.backlogs), index);
            tokio::task::spawn_local(task);
        }
        dropped
    }

    /// Deliveries waiting for peer `index`.
    #[cfg(test)]
    pub fn waiting(&self, index: usize) -> usize {
        self.backlogs
            .borrow()
            .get(index)
            .map_or(0, |b| b.deliveries)
    }
}

impl Backlog {
    /// Queue `batch`, then bring the backlog back under `limits`.
    fn push(&mut self, batch: Vec<RemoteDelivery>, limits: BacklogLimits, peer: usize) -> Dropped {
        let mut weight = batch_weight(&batch);
        self.deliveries += batch.len();
        self.qos0 += batch.iter().filter(|d| is_qos0(d)).count();
        match self.batches.back_mut() {
            Some((last, last_weight)) if last.len() + batch.len() <= MERGED_DELIVERIES_MAX => {
                if let (Some(a), Some(b)) = (last.last(), batch.first())
                    && Arc::ptr_eq(&a.pending.message, &b.pending.message)
                {
                    // One run across the seam: its message is counted once.
                    weight = weight.saturating_sub(b.pending.weight_bytes());
                }
                *last_weight += weight;
                last.extend(batch);
            }
            _ => self.batches.push_back((batch, weight)),
        }
        self.bytes += weight;
        let mut dropped = Dropped::default();
        if self.over(limits) && self.qos0 > 0 {
            dropped.qos0 = self.drop_qos0();
        }
        while self.over(limits) && self.deliveries > 1 {
            if !self.drop_newest() {
                break;
            }
            dropped.acknowledged += 1;
        }
        if dropped.acknowledged > 0 {
            log::error!(
                "worker {peer}'s backlog is over its bound ({} deliveries, {} bytes): dropped {} \
                 deliveries, QoS 1/2 among them",
                limits.deliveries_max,
                limits.bytes_max,
                dropped.acknowledged
            );
        }
        self.dropped.qos0 += dropped.qos0;
        self.dropped.acknowledged += dropped.acknowledged;
        dropped
    }

    fn over(&self, limits: BacklogLimits) -> bool {
        self.deliveries > limits.deliveries_max || self.bytes > limits.bytes_max
    }

    /// Drop every QoS 0 delivery waiting (the others keep their order); returns how many.
    fn drop_qos0(&mut self) -> u64 {
        let before = self.deliveries;
        for (batch, weight) in &mut self.batches {
            batch.retain(|d| !is_qos0(d));
            *weight = batch_weight(batch);
        }
        self.batches.retain(|(b, _)| !b.is_empty());
        self.deliveries = self.batches.iter().map(|(b, _)| b.len()).sum();
        self.bytes = self.batches.iter().map(|(_, w)| w).sum();
        self.qos0 = 0;
        (before - self.deliveries) as u64
    }

    /// Drop the newest delivery; false if there is none.
    fn drop_newest(&mut self) -> bool {
        let Some((last, weight)) = self.batches.back_mut() else {
            return false;
        };
        let Some(d) = last.pop() else {
            self.batches.pop_back();
            return true;
        };
        let mut removed = std::mem::size_of::<RemoteDelivery>();
        if !last
            .last()
            .is_some_and(|p| Arc::ptr_eq(&p.pending.message, &d.pending.message))
        {
            removed += d.pending.weight_bytes();
        }
        *weight = weight.saturating_sub(removed);
        if last.is_empty() {
            self.batches.pop_back();
        }
        self.bytes = self.bytes.saturating_sub(removed);
        self.deliveries = self.deliveries.saturating_sub(1);
        self.qos0 = self.qos0.saturating_sub(usize::from(is_qos0(&d)));
        true
    }

    /// The oldest batch, to send.
    fn pop(&mut self) -> Option<Vec<RemoteDelivery>> {
        let (batch, weight) = self.batches.pop_front()?;
        let qos0 = batch.iter().filter(|d| is_qos0(d)).count();
        self.deliveries = self.deliveries.saturating_sub(batch.len());
        self.qos0 = self.qos0.saturating_sub(qos0);
        self.bytes = self.bytes.saturating_sub(weight);
        debug_assert_eq!(self.batches.is_empty(), self.deliveries == 0);
        debug_assert!(!self.batches.is_empty() || self.bytes == 0 && self.qos0 == 0);
        Some(batch)
    }
}

fn is_qos0(d: &RemoteDelivery) -> bool {
    d.pending.qos == QoS::AtMostOnce
}

/// A batch's weight for [`BacklogLimits::bytes_max`].
fn batch_weight(batch: &[RemoteDelivery]) -> usize {
    let record = std::mem::size_of::<RemoteDelivery>();
    let mut last: Option<&Arc<Message>> = None;
    let mut total = 0usize;
    for d in batch {
        let m = &d.pending.message;
        if !last.is_some_and(|l| Arc::ptr_eq(l, m)) {
            total = total.saturating_add(d.pending.weight_bytes());
            last = Some(m);
        }
        total = total.saturating_add(record);
    }
    total
}

/// Peer `index`'s backlog task: each time its inbox has room, send the oldest waiting batch;
/// end when nothing waits (the next full inbox starts a new one).
async fn drain(peer: Sender<Inbox>, backlogs: Rc<RefCell<Vec<Backlog>>>, index: usize) {
    loop {
        let permit = peer.reserve().await;
        let mut all = backlogs.borrow_mut();
        let Some(backlog) = all.get_mut(index) else {
            return;
        };
        let Ok(permit) = permit else {
            // The peer stopped (shutdown): nothing can reach it any more.
            *backlog = Backlog::default();
            return;
        };
        match backlog.pop() {
            Some(batch) => permit.send(Inbox::Deliveries(batch)),
            None => {
                backlog.draining = false;
                let d = std::mem::take(&mut backlog.dropped);
                log::warn!(
                    "worker {index}'s backlog is sent; dropped meanwhile: {} QoS 0 and {} \
                     QoS 1/2 deliveries",
                    d.qos0,
                    d.acknowledged
                );
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
