//! Fan-in, fan-out and pairs: publishers write pre-encoded PUBLISH batches (one write each) under
//! the [`Flow`] window, subscribers count deliveries and answer QoS 1/2 in one write per read.
//! Throughput is deliveries per second counted at the subscribers over the measurement window;
//! after it, publishing stops and the run drains (bounded) so every message is accounted for:
//! `lost` is what was expected and never arrived.

use crate::conn::{Conn, READ_CHUNK_BYTES};
use crate::flow::{Flow, Lane};
use crate::procfs::Meter;
use crate::transport::{Dialer, ReadHalf, WriteHalf};
use crate::wire::{self, AckKind, Frame, PublishTemplate};
use crate::workload::{Outcome, Scenario, Workload};
use brokkr_codec::{ProtocolVersion, QoS};
use bytes::BytesMut;
use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Longest drain after the window (QoS 1/2 must all arrive; QoS 0 may be dropped).
pub const DRAIN_MAX: Duration = Duration::from_secs(5);

/// Largest write batch of PUBLISH packets, in bytes.
pub const BATCH_BYTES: usize = 16 * 1024;

/// QoS 1/2 messages a publisher may have unacknowledged.
pub const PUB_INFLIGHT_MAX: u64 = 1024;

/// Who publishes where and who listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// One topic per publisher.
    pub publishers: Vec<String>,
    /// One filter per subscriber.
    pub subscribers: Vec<String>,
}

impl Topology {
    /// The topology of a throughput scenario with `n` clients on the variable side.
    pub fn of(scenario: Scenario, n: usize) -> Topology {
        let same = |t: &str, k: usize| vec![t.to_owned(); k];
        match scenario {
            Scenario::FanIn => Topology {
                publishers: same("bench/in", n),
                subscribers: same("bench/in", 1),
            },
            Scenario::FanOut => Topology {
                publishers: same("bench/out", 1),
                subscribers: same("bench/out", n),
            },
            _ => {
                let topics: Vec<String> = (0..n).map(|i| format!("bench/pair/{i}")).collect();
                Topology {
                    publishers: topics.clone(),
                    subscribers: topics,
                }
            }
        }
    }

    /// Subscribers that receive a message on `topic` (the filters are exact topics).
    pub fn fanout(&self, topic: &str) -> u64 {
        self.fed(topic).count() as u64
    }

    /// The indices of the subscribers that receive a message on `topic`.
    pub fn fed<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.subscribers
            .iter()
            .enumerate()
            .filter(move |(_, f)| *f == topic)
            .map(|(i, _)| i)
    }
}

/// Run a fan-in, fan-out or pairs workload against the broker `d` reaches.
pub async fn run(d: &Dialer, w: &Workload, broker_pid: Option<u32>) -> io::Result<Outcome> {
    let topo = Topology::of(w.scenario, w.clients);
    // The window is per subscriber (what one subscriber may have on the way must fit in a
    // broker's write buffer, or QoS 0 is dropped); batches are small enough that every
    // publisher can have a few in flight.
    let window = w
        .window
        .saturating_mul(topo.subscribers.len().max(1) as u64);
    let per_publisher = window / (4 * topo.publishers.len().max(1) as u64);
    let flow = Rc::new(Flow::new(window, u64::MAX));
    // Every subscriber has a lane, a window of its own: a publisher sends only while each
    // subscriber it feeds has room, so one slow subscriber of a fan-out (or of a pair) cannot
    // have far more than its share on the way, overrun its buffer in the broker and have
    // QoS 0 dropped.
    let lanes: Vec<Rc<Lane>> = (0..topo.subscribers.len())
        .map(|_| Rc::new(Lane::new(w.window)))
        .collect();
    let lane = |i: usize| lanes.get(i).map(Rc::clone);
    let fed_by = |topic: &str| -> Vec<Rc<Lane>> { topo.fed(topic).filter_map(lane).collect() };
    let mut subs = JoinSet::new();
    for (i, filter) in topo.subscribers.iter().enumerate() {
        let mut c = Conn::open(d, w.version, &format!("bb-s{i}"), w.tcp_nodelay).await?;
        c.subscribe(filter, w.qos).await?;
        subs.spawn_local(subscriber(c, Rc::clone(&flow), lane(i)));
    }
    let mut pubs = JoinSet::new();
    for (i, topic) in topo.publishers.iter().enumerate() {
        let c = Conn::open(d, w.version, &format!("bb-p{i}"), w.tcp_nodelay).await?;
        let t = PublishTemplate::new(w.version, topic, w.payload_bytes, w.qos, false)?;
        let fanout = topo.fanout(topic);
        let batch = (BATCH_BYTES / t.len().max(1)).clamp(1, 256) as u64;
        let batch = batch.min(per_publisher / fanout.max(1)).max(1);
        let shares = (Rc::clone(&flow), fed_by(topic));
        pubs.spawn_local(publisher(c, t, (batch, fanout), w.qos, shares));
    }
    tokio::time::sleep(w.warmup).await;
    let before = flow.delivered_count();
    let meter = Meter::start(broker_pid);
    tokio::time::sleep(w.measure).await;
    let usage = meter.stop();
    let in_window = flow.delivered_count() - before;
    flow.stop();
    let drained = drain(&flow, &mut pubs, &mut subs).await;
    let mut outcome = Outcome {
        value: in_window as f64 / usage.wall_secs.max(1e-9),
        usage,
        ..Outcome::default()
    };
    outcome.extra = vec![
        ("published", flow.published() as f64),
        ("expected", flow.expected() as f64),
        ("delivered", flow.delivered_count() as f64),
        ("lost", flow.outstanding() as f64),
        ("drained", if drained { 1.0 } else { 0.0 }),
    ];
    Ok(outcome)
}

/// Wait (bounded) until publishers have their acknowledgements and subscribers have every
/// expected delivery; then end every task. True when everything arrived.
async fn drain(flow: &Flow, pubs: &mut JoinSet<io::Result<()>>, subs: &mut JoinSet<()>) -> bool {
    let deadline = Instant::now() + DRAIN_MAX;
    while Instant::now() < deadline && !pubs.is_empty() {
        let _ = tokio::time::timeout(Duration::from_millis(10), pubs.join_next()).await;
    }
    let mut quiet_since = (flow.delivered_count(), Instant::now());
    while Instant::now() < deadline && flow.outstanding() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if flow.delivered_count() != quiet_since.0 {
            quiet_since = (flow.delivered_count(), Instant::now());
        } else if quiet_since.1.elapsed() > crate::flow::STALL * 4 {
            break; // QoS 0 messages dropped by the broker: nothing more will come
        }
    }
    pubs.abort_all();
    subs.abort_all();
    flow.outstanding() == 0
}

/// Count deliveries; answer QoS 1 with PUBACK, QoS 2 with PUBREC and PUBREL with PUBCOMP.
async fn subscriber(c: Conn, flow: Rc<Flow>, lane: Option<Rc<Lane>>) {
    let _ = subscribe_loop(c, &flow, lane.as_deref()).await;
}

async fn subscribe_loop(mut c: Conn, flow: &Flow, lane: Option<&Lane>) -> io::Result<()> {
    let mut out = BytesMut::new();
    loop {
        let mut count = 0;
        while let Some(frame) = wire::next_frame(&mut c.buf)? {
            match frame {
                Frame::Publish { qos, id, .. } => {
                    count += 1;
                    match qos {
                        1 => wire::ack(AckKind::PubAck, c.version, id, &mut out)?,
                        2 => wire::ack(AckKind::PubRec, c.version, id, &mut out)?,
                        _ => {}
                    }
                }
                Frame::PubRel(id) => wire::ack(AckKind::PubComp, c.version, id, &mut out)?,
                _ => {}
            }
        }
        if let Some(lane) = lane {
            lane.delivered(count);
        }
        flow.delivered(count);
        if !out.is_empty() {
            c.stream.write_all(&out).await?;
            out.clear();
        }
        c.buf.reserve(READ_CHUNK_BYTES);
        if c.stream.read_buf(&mut c.buf).await? == 0 {
            return Ok(());
        }
    }
}

/// State shared by a publisher's writer and its acknowledgement reader.
#[derive(Debug, Default)]
struct PubState {
    acked: Cell<u64>,
    /// PUBRELs to send (QoS 2), written by the writer before its next batch.
    control: RefCell<BytesMut>,
}

/// `sizes`: messages per write batch, deliveries per message.
async fn publisher(
    c: Conn,
    t: PublishTemplate,
    sizes: (u64, u64),
    qos: QoS,
    (flow, lanes): (Rc<Flow>, Vec<Rc<Lane>>),
) -> io::Result<()> {
    let version = c.version;
    let (read, mut write) = c.stream.into_split();
    let state = Rc::new(PubState::default());
    let reader = tokio::task::spawn_local(ack_reader(
        read,
        c.buf,
        version,
        Rc::clone(&state),
        Rc::clone(&flow),
    ));
    let shares = (&*flow, lanes.as_slice());
    let result = publish_loop(&mut write, &t, sizes, qos, shares, &state).await;
    reader.abort();
    result
}

async fn publish_loop(
    write: &mut WriteHalf,
    t: &PublishTemplate,
    (batch, fanout): (u64, u64),
    qos: QoS,
    (flow, lanes): (&Flow, &[Rc<Lane>]),
    state: &PubState,
) -> io::Result<()> {
    let mut out = Vec::with_capacity(t.len() * batch as usize);
    let (mut sent, mut id, mut seq) = (0u64, 0u16, 0u64);
    loop {
        let control = std::mem::take(&mut *state.control.borrow_mut());
        if !control.is_empty() {
            write.write_all(&control).await?;
        }
        let inflight = sent - state.acked.get();
        let window_ok = qos == QoS::AtMostOnce || inflight + batch <= PUB_INFLIGHT_MAX;
        let deliveries = batch * fanout;
        // Each subscriber fed gets `batch` of the deliveries.
        let lane_ok = lanes.iter().all(|l| l.has_room(batch));
        if !flow.is_stopped() && window_ok && lane_ok && flow.has_room(deliveries) {
            out.clear();
            for _ in 0..batch {
                id = id.checked_add(1).unwrap_or(1);
                seq += 1;
                t.append(&mut out, id, seq);
            }
            sent += batch;
            flow.sent(batch, fanout);
            lanes.iter().for_each(|l| l.sent(batch));
            write.write_all(&out).await?;
            continue;
        }
        if flow.is_stopped() && (qos == QoS::AtMostOnce || state.acked.get() >= sent) {
            return Ok(());
        }
        flow.wait().await;
    }
}

async fn ack_reader(
    mut read: ReadHalf,
    mut buf: BytesMut,
    version: ProtocolVersion,
    state: Rc<PubState>,
    flow: Rc<Flow>,
) -> io::Result<()> {
    loop {
        let mut progressed = false;
        while let Some(frame) = wire::next_frame(&mut buf)? {
            match frame {
                Frame::PubAck(_) | Frame::PubComp(_) => {
                    state.acked.set(state.acked.get() + 1);
                    progressed = true;
                }
                Frame::PubRec(id) => {
                    wire::ack(
                        AckKind::PubRel,
                        version,
                        id,
                        &mut state.control.borrow_mut(),
                    )?;
                    progressed = true;
                }
                _ => {}
            }
        }
        if progressed {
            flow.poke();
        }
        buf.reserve(READ_CHUNK_BYTES);
        if read.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topologies_have_the_right_fanout() {
        let t = Topology::of(Scenario::FanOut, 8);
        assert_eq!((t.publishers.len(), t.fanout("bench/out")), (1, 8));
        let t = Topology::of(Scenario::FanIn, 8);
        assert_eq!((t.publishers.len(), t.fanout("bench/in")), (8, 1));
        let t = Topology::of(Scenario::Pairs, 8);
        assert!(t.publishers.iter().all(|p| t.fanout(p) == 1));
    }

    #[test]
    fn each_publisher_waits_for_every_subscriber_it_feeds() {
        // The lanes a publisher checks: all of a fan-out's subscribers, its own pair's one.
        let t = Topology::of(Scenario::FanOut, 8);
        assert_eq!(
            t.fed("bench/out").collect::<Vec<_>>(),
            (0..8).collect::<Vec<_>>()
        );
        let t = Topology::of(Scenario::Pairs, 4);
        for (i, topic) in t.publishers.iter().enumerate() {
            assert_eq!(t.fed(topic).collect::<Vec<_>>(), vec![i]);
        }
    }
}
