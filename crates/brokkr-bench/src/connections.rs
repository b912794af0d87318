//! Connection storm and idle connections: `n` clients connect (at most
//! `Workload::handshakes`, by default [`CONCURRENCY`], at a time), each to a successful CONNACK. The storm reports connects per second from the first
//! connect to the last CONNACK; the idle scenario holds every connection open and reports the
//! broker's RSS growth per connection (`/proc/PID/status`, so it needs the broker's PID).

use crate::conn::Conn;
use crate::procfs::{self, Meter};
use crate::transport::Dialer;
use crate::workload::{Outcome, Workload};
use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Handshakes in progress at once by default (`--handshakes`). Below Mosquitto's listen backlog (100): a SYN dropped by a
/// full backlog is retried after a second, which would measure TCP, not the broker.
pub const CONCURRENCY: usize = 64;

/// Time the broker gets to settle before the idle RSS is read.
pub const SETTLE: Duration = Duration::from_millis(500);

/// Open `n` connections; returns them (kept open) and the failures.
async fn open_all(d: &Dialer, w: &Workload, n: usize) -> (Vec<Conn>, usize) {
    let conns = Rc::new(RefCell::new(Vec::with_capacity(n)));
    let failures = Rc::new(RefCell::new(0usize));
    let mut tasks = JoinSet::new();
    let d = Rc::new(d.clone());
    let lanes = w.handshakes.max(1);
    for lane in 0..lanes.min(n) {
        let (conns, failures, w) = (Rc::clone(&conns), Rc::clone(&failures), w.clone());
        let d = Rc::clone(&d);
        tasks.spawn_local(async move {
            for i in (lane..n).step_by(lanes) {
                match Conn::open(&d, w.version, &format!("bb-c{i}"), w.tcp_nodelay).await {
                    Ok(c) => conns.borrow_mut().push(c),
                    Err(_) => *failures.borrow_mut() += 1,
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let failed = *failures.borrow();
    let opened = std::mem::take(&mut *conns.borrow_mut());
    (opened, failed)
}

/// Connects per second to a full CONNACK.
pub async fn storm(d: &Dialer, w: &Workload, broker_pid: Option<u32>) -> io::Result<Outcome> {
    let meter = Meter::start(broker_pid);
    let start = Instant::now();
    let (conns, failed) = open_all(d, w, w.clients).await;
    let secs = start.elapsed().as_secs_f64();
    let usage = meter.stop();
    let rss = broker_pid.and_then(procfs::rss_bytes);
    let value = conns.len() as f64 / secs.max(1e-9);
    drop(conns);
    Ok(Outcome {
        value,
        extra: vec![
            ("failed", failed as f64),
            ("secs", secs),
            ("rss_bytes", rss.map_or(f64::NAN, |r| r as f64)),
        ],
        usage,
    })
}

/// Broker RSS per idle connection.
pub async fn idle(d: &Dialer, w: &Workload, broker_pid: Option<u32>) -> io::Result<Outcome> {
    let pid =
        broker_pid.ok_or_else(|| io::Error::other("the idle scenario needs the broker's PID"))?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = procfs::rss_bytes(pid).ok_or_else(|| io::Error::other("no broker RSS"))?;
    let meter = Meter::start(broker_pid);
    let (conns, failed) = open_all(d, w, w.clients).await;
    tokio::time::sleep(SETTLE).await;
    let after = procfs::rss_bytes(pid).ok_or_else(|| io::Error::other("no broker RSS"))?;
    let usage = meter.stop();
    let opened = conns.len().max(1) as f64;
    let per_conn = after.saturating_sub(before) as f64 / opened;
    drop(conns);
    Ok(Outcome {
        value: per_conn,
        extra: vec![
            ("connections", opened),
            ("failed", failed as f64),
            ("rss_before_bytes", before as f64),
            ("rss_bytes", after as f64),
        ],
        usage,
    })
}
