//! Two real shards joined by a real inbox of capacity 1 whose receiving worker is stalled on
//! purpose (nobody reads it), then released: nothing acknowledged is lost and order holds; over
//! the backlog's bound QoS 0 goes first.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use super::*;
use brokkr_codec::{Packet, ProtocolVersion, QosPid, framer};
use brokkr_core::limits::Limits;
use brokkr_core::shard::{ConnId, Placement, Shard, SharedState, home_shard};
use brokkr_testkit::build::{self, encode};
use std::time::Duration;
use tokio::sync::mpsc;

const V: ProtocolVersion = ProtocolVersion::V3_1_1;

/// A publisher on shard 0, a subscriber to `t/#` (QoS 1) on shard 1.
struct Pair {
    shards: Vec<Shard>,
    publisher: ConnId,
    subscriber: ConnId,
    now: u64,
    inbox: bytes::BytesMut,
}

fn id_homed_on(prefix: &str, home: u32) -> String {
    (0..)
        .map(|i| format!("{prefix}-{i}"))
        .find(|id| home_shard(id.as_bytes(), 2) == home)
        .unwrap()
}

impl Pair {
    fn new() -> Pair {
        let shared = SharedState::new();
        // Session queues deep enough for every message: this is about the inbox, not them.
        let limits = Limits {
            qos_pending_messages_max: u16::MAX,
            qos_pending_bytes_max: 64 << 20,
            ..Limits::default()
        };
        let mut shards: Vec<Shard> = (0..2)
            .map(|i| {
                let place = Placement::new(i, 2).unwrap();
                Shard::with_placement(limits.clone(), 3, place, shared.clone())
            })
            .collect();
        let now = 1_000;
        let subscriber = shards[1].accept(now);
        let connect = build::connect(V, &id_homed_on("sub", 1));
        let mut bytes = encode(&Packet::Connect(Box::new(connect)), V);
        let subscribe = build::subscribe(1, &["t/#"], QoS::AtLeastOnce);
        bytes.extend(encode(&Packet::Subscribe(subscribe), V));
        shards[1].bytes_received(now, subscriber, &bytes);
        let publisher = shards[0].accept(now);
        let connect = build::connect(V, &id_homed_on("pub", 0));
        shards[0].bytes_received(
            now,
            publisher,
            &encode(&Packet::Connect(Box::new(connect)), V),
        );
        let mut pair = Pair {
            shards,
            publisher,
            subscriber,
            now,
            inbox: bytes::BytesMut::new(),
        };
        assert!(pair.received().is_empty(), "CONNACK and SUBACK only");
        pair
    }

    /// The publisher sends message `i` with `qos`; returns what shard 0 has for shard 1.
    fn publish(&mut self, i: u32, qos: QoS) -> Vec<RemoteDelivery> {
        let mut p = build::publish("t/x", &i.to_be_bytes(), qos, false);
        if qos != QoS::AtMostOnce {
            let pid = u16::try_from(i % 60_000 + 1).unwrap();
            p.qos_pid = QosPid::from_parts(qos, build::pid(pid));
        }
        let bytes = encode(&Packet::Publish(p), V);
        self.shards[0].bytes_received(self.now, self.publisher, &bytes);
        self.shards[0].take_outbox(1)
    }

    /// The numbers of the messages the subscriber received since the last call, in order.
    fn received(&mut self) -> Vec<u32> {
        let out = self.shards[1].take_write(self.subscriber);
        self.inbox.extend_from_slice(&out);
        let mut numbers = Vec::new();
        while let Some(raw) = framer::next_packet(&mut self.inbox, usize::MAX).unwrap() {
            if let Packet::Publish(p) = Packet::decode(raw, V).unwrap() {
                numbers.push(u32::from_be_bytes(p.payload[..].try_into().unwrap()));
            }
        }
        numbers
    }
}

/// Run `test` on a current-thread runtime inside a `LocalSet`, as a worker does.
fn on_a_worker(test: impl std::future::Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, test);
}

/// The stalled worker 1's inbox (capacity 1) and an outbox towards it.
fn tiny_inbox(limits: BacklogLimits) -> (Outbox, mpsc::Receiver<Inbox>, mpsc::Receiver<Inbox>) {
    let (to_0, rx_0) = mpsc::channel(1);
    let (to_1, rx_1) = mpsc::channel(1);
    (Outbox::new(Rc::new(vec![to_0, to_1]), limits), rx_0, rx_1)
}

/// Release the stalled worker: take inbox messages until `count` deliveries arrived, handing
/// them to shard 1 as its inbox loop would. Returns how many inbox messages it took.
async fn release(pair: &mut Pair, rx: &mut mpsc::Receiver<Inbox>, count: usize) -> usize {
    let (mut delivered, mut messages) = (0, 0);
    while delivered < count {
        let next = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        let Ok(Some(Inbox::Deliveries(batch))) = next else {
            panic!("only {delivered} of {count} deliveries arrived");
        };
        delivered += batch.len();
        messages += 1;
        pair.shards[1].deliver_remote(pair.now, batch);
    }
    messages
}

#[test]
fn a_stalled_peer_gets_every_qos1_delivery_in_order_once_released() {
    on_a_worker(async {
        const N: u32 = 3_000;
        let mut pair = Pair::new();
        let (outbox, _rx_0, mut rx_1) = tiny_inbox(BacklogLimits::default());
        for i in 0..N {
            let batch = pair.publish(i, QoS::AtLeastOnce);
            assert_eq!(batch.len(), 1);
            assert_eq!(outbox.send(1, batch), Dropped::default());
            // Let the backlog's task run: it must not send while the inbox stays full.
            tokio::task::yield_now().await;
        }
        // One batch sits in the full inbox, every other delivery waits in the backlog.
        assert_eq!(outbox.waiting(1), N as usize - 1);
        assert!(pair.received().is_empty(), "worker 1 is stalled");
        let messages = release(&mut pair, &mut rx_1, N as usize).await;
        assert_eq!(pair.received(), (0..N).collect::<Vec<_>>());
        assert_eq!(outbox.waiting(1), 0);
        // The waiting deliveries were merged: two inbox messages instead of 3,000.
        assert_eq!(messages, 2);
        // The backlog is empty and its task gone: the next batch goes straight in.
        tokio::task::yield_now().await;
        assert_eq!(
            outbox.send(1, pair.publish(N, QoS::AtLeastOnce)),
            Dropped::default()
        );
        assert_eq!(outbox.waiting(1), 0);
        release(&mut pair, &mut rx_1, 1).await;
        assert_eq!(pair.received(), [N]);
    });
}

#[test]
fn over_its_bound_a_backlog_drops_qos0_first_then_the_newest() {
    on_a_worker(async {
        let mut pair = Pair::new();
        let limits = BacklogLimits {
            deliveries_max: 10,
            bytes_max: usize::MAX,
        };
        let (outbox, _rx_0, mut rx_1) = tiny_inbox(limits);
        // Message 0 fills the inbox; 1..=16 wait, odd ones QoS 0. The 11th waiting delivery
        // (message 11) puts the backlog over its bound: the 6 QoS 0 ones go, nothing else.
        let mut dropped = Dropped::default();
        for i in 0..=16 {
            let qos = if i % 2 == 1 {
                QoS::AtMostOnce
            } else {
                QoS::AtLeastOnce
            };
            let d = outbox.send(1, pair.publish(i, qos));
            dropped.qos0 += d.qos0;
            dropped.acknowledged += d.acknowledged;
        }
        assert_eq!(
            dropped,
            Dropped {
                qos0: 6,
                acknowledged: 0
            }
        );
        assert_eq!(outbox.waiting(1), 10);
        // QoS 1 from now on: 13 and 15 (QoS 0) make room for 17 and 18; then only QoS 1 is
        // left, and the newest is dropped each time.
        for i in 17..=30 {
            let d = outbox.send(1, pair.publish(i, QoS::AtLeastOnce));
            dropped.qos0 += d.qos0;
            dropped.acknowledged += d.acknowledged;
        }
        assert_eq!(
            dropped,
            Dropped {
                qos0: 8,
                acknowledged: 12
            }
        );
        assert_eq!(outbox.waiting(1), 10);
        release(&mut pair, &mut rx_1, 11).await;
        assert_eq!(pair.received(), [0, 2, 4, 6, 8, 10, 12, 14, 16, 17, 18]);
    });
}
