//! Retained flood: one client publishes `count` retained QoS 0 messages on distinct topics and
//! confirms with a PINGREQ round trip that the broker handled them all; then a new subscriber
//! subscribes to `#` and the time from its SUBSCRIBE to the last retained message is the figure.
//! Broker RSS is read after the publishing and after the delivery.

use crate::conn::{Conn, READ_CHUNK_BYTES};
use crate::procfs::{self, Meter};
use crate::transport::Dialer;
use crate::wire::{self, Frame, PublishTemplate};
use crate::workload::{Outcome, Workload};
use brokkr_codec::QoS;
use bytes::BytesMut;
use std::io;
use std::time::{Duration, Instant};

/// Longest wait for the subscriber to receive everything.
pub const DELIVERY_MAX: Duration = Duration::from_secs(60);

/// Publish the retained messages, then time a `#` subscriber receiving them.
pub async fn run(d: &Dialer, w: &Workload, broker_pid: Option<u32>) -> io::Result<Outcome> {
    let mut p = Conn::open(d, w.version, "bb-ret-p", w.tcp_nodelay).await?;
    let mut out = Vec::with_capacity(64 * 1024);
    for i in 0..w.count {
        let t = PublishTemplate::new(
            w.version,
            &format!("bench/r/{i}"),
            w.payload_bytes,
            QoS::AtMostOnce,
            true,
        )?;
        t.append(&mut out, 0, i);
        if out.len() >= 60 * 1024 {
            p.stream.write_all(&out).await?;
            out.clear();
        }
    }
    p.stream.write_all(&out).await?;
    p.ping().await?;
    let rss_stored = broker_pid.and_then(procfs::rss_bytes);
    let mut s = Conn::open(d, w.version, "bb-ret-s", w.tcp_nodelay).await?;
    let mut sub = BytesMut::new();
    wire::subscribe(w.version, "#", QoS::AtMostOnce, &mut sub)?;
    let meter = Meter::start(broker_pid);
    let start = Instant::now();
    s.stream.write_all(&sub).await?;
    let received = tokio::time::timeout(DELIVERY_MAX, count_publishes(&mut s, w.count))
        .await
        .unwrap_or(Ok(0))?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let usage = meter.stop();
    let rss_after = broker_pid.and_then(procfs::rss_bytes);
    let nan = |r: Option<u64>| r.map_or(f64::NAN, |b| b as f64);
    Ok(Outcome {
        value: if received == w.count { ms } else { f64::NAN },
        extra: vec![
            ("received", received as f64),
            ("rss_stored_bytes", nan(rss_stored)),
            ("rss_bytes", nan(rss_after)),
        ],
        usage,
    })
}

async fn count_publishes(s: &mut Conn, want: u64) -> io::Result<u64> {
    let mut n = 0;
    while n < want {
        while let Some(f) = wire::next_frame(&mut s.buf)? {
            if matches!(f, Frame::Publish { .. }) {
                n += 1;
            }
        }
        if n >= want {
            break;
        }
        s.buf.reserve(READ_CHUNK_BYTES);
        if s.stream.read_buf(&mut s.buf).await? == 0 {
            break;
        }
    }
    Ok(n)
}
