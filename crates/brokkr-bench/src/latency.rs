//! Latency at a fixed offered rate: one publisher, one subscriber, blocking sockets on two
//! threads (a tokio timer's 1 ms granularity would add its own delay). Message `seq` carries its
//! sequence number in the payload's last 8 bytes and is due at `start + seq / rate`; the
//! subscriber measures from that intended time ([`crate::hist`]), so a late send counts against
//! the run instead of hiding (coordinated omission). The first 10% of messages are warm-up.
//! Every transport works: [`crate::blocking`] carries TLS and websockets on blocking sockets.

use crate::blocking::BlockingStream;
use crate::hist::{Recorder, Schedule};
use crate::procfs::Meter;
use crate::transport::Dialer;
use crate::wire::{self, AckKind, Frame, PublishTemplate};
use crate::workload::{Outcome, Workload};
use brokkr_codec::ProtocolVersion;
use bytes::BytesMut;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Wait for the last messages after the schedule ends, at most.
pub const TAIL_WAIT: Duration = Duration::from_secs(3);

const READ_TIMEOUT: Duration = Duration::from_millis(100);

fn lock_err<T>(_: T) -> io::Error {
    io::Error::other("lock poisoned")
}

/// A blocking connection with its leftover read bytes.
struct Blocking {
    stream: BlockingStream,
    buf: BytesMut,
    version: ProtocolVersion,
}

impl Blocking {
    fn open(d: &Dialer, v: ProtocolVersion, id: &str, nodelay: bool) -> io::Result<Self> {
        let stream = BlockingStream::connect(d, nodelay, crate::conn::HANDSHAKE_TIMEOUT)?;
        let mut b = Blocking {
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
            version: v,
        };
        let mut out = BytesMut::new();
        wire::connect(v, id, &mut out)?;
        b.stream.write_all(&out)?;
        match b.wait_for(|f| matches!(f, Frame::ConnAck { .. }))? {
            Frame::ConnAck { code: 0 } => Ok(b),
            other => Err(wire::invalid(format!("connection refused: {other:?}"))),
        }
    }

    fn wait_for(&mut self, want: impl Fn(&Frame) -> bool) -> io::Result<Frame> {
        loop {
            while let Some(f) = wire::next_frame(&mut self.buf)? {
                if want(&f) {
                    return Ok(f);
                }
            }
            self.read_some()?;
        }
    }

    fn read_some(&mut self) -> io::Result<usize> {
        let n = self.stream.read_some(&mut self.buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(n)
    }
}

/// Run the latency scenario: `w.count` messages per second for warm-up plus window.
pub fn run(d: &Dialer, w: &Workload, broker_pid: Option<u32>) -> io::Result<Outcome> {
    let rate = w.count.max(1);
    let total = (rate as f64 * (w.warmup + w.measure).as_secs_f64()) as u64;
    let mut sub = Blocking::open(d, w.version, "bb-lat-s", w.tcp_nodelay)?;
    let mut out = BytesMut::new();
    wire::subscribe(w.version, "bench/lat", w.qos, &mut out)?;
    sub.stream.write_all(&out)?;
    sub.wait_for(|f| matches!(f, Frame::SubAck { .. }))?;
    sub.stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let publisher = Blocking::open(d, w.version, "bb-lat-p", w.tcp_nodelay)?;
    let template = PublishTemplate::new(w.version, "bench/lat", w.payload_bytes, w.qos, false)?;
    let schedule = Schedule::new(Instant::now() + Duration::from_millis(20), rate);
    let mut rec = Recorder::new(schedule, total / 10)?;
    let meter = Meter::start(broker_pid);
    let sender = std::thread::spawn(move || send_on_schedule(publisher, template, schedule, total));
    let received = receive(
        &mut sub,
        &mut rec,
        total,
        schedule.intended(total) + TAIL_WAIT,
    )?;
    let usage = meter.stop();
    let sent = sender.join().map_err(lock_err)??;
    Ok(Outcome {
        value: rec.quantile_us(0.99),
        extra: vec![
            ("p50_us", rec.quantile_us(0.5)),
            ("p99_us", rec.quantile_us(0.99)),
            ("p999_us", rec.quantile_us(0.999)),
            ("max_us", rec.max_us()),
            ("sent", sent as f64),
            ("received", received as f64),
            ("lost", sent.saturating_sub(received) as f64),
        ],
        usage,
    })
}

fn receive(sub: &mut Blocking, rec: &mut Recorder, total: u64, until: Instant) -> io::Result<u64> {
    let mut received = 0u64;
    let mut out = BytesMut::new();
    while received < total && Instant::now() < until {
        match sub.read_some() {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        }
        let now = Instant::now();
        while let Some(f) = wire::next_frame(&mut sub.buf)? {
            match f {
                Frame::Publish { qos, id, seq } => {
                    received += 1;
                    rec.record(seq, now);
                    match qos {
                        1 => wire::ack(AckKind::PubAck, sub.version, id, &mut out)?,
                        2 => wire::ack(AckKind::PubRec, sub.version, id, &mut out)?,
                        _ => {}
                    }
                }
                Frame::PubRel(id) => wire::ack(AckKind::PubComp, sub.version, id, &mut out)?,
                _ => {}
            }
        }
        if !out.is_empty() {
            sub.stream.write_all(&out)?;
            out.clear();
        }
    }
    Ok(received)
}

/// Send every message due by now in one write, then sleep until the next is due.
fn send_on_schedule(
    p: Blocking,
    t: PublishTemplate,
    schedule: Schedule,
    total: u64,
) -> io::Result<u64> {
    let writer = Arc::new(Mutex::new(p.stream.try_clone()?));
    let acks = spawn_ack_reader(p, Arc::clone(&writer));
    let mut out = Vec::new();
    let mut seq = 0u64;
    while seq < total {
        let due = schedule.intended(seq);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
            continue;
        }
        out.clear();
        while seq < total && schedule.intended(seq) <= now {
            let id = u16::try_from(seq % 65_535 + 1).unwrap_or(1);
            t.append(&mut out, id, seq);
            seq += 1;
        }
        writer.lock().map_err(lock_err)?.write_all(&out)?;
    }
    drop(acks);
    Ok(seq)
}

/// Read the publisher's acknowledgements; answer PUBREC with PUBREL (QoS 2). Ends when the
/// socket closes or stays silent past the tail wait.
fn spawn_ack_reader(
    mut p: Blocking,
    writer: Arc<Mutex<BlockingStream>>,
) -> std::thread::JoinHandle<io::Result<()>> {
    std::thread::spawn(move || {
        p.stream.set_read_timeout(Some(TAIL_WAIT))?;
        let mut out = BytesMut::new();
        loop {
            p.read_some()?;
            while let Some(f) = wire::next_frame(&mut p.buf)? {
                if let Frame::PubRec(id) = f {
                    wire::ack(AckKind::PubRel, p.version, id, &mut out)?;
                }
            }
            if !out.is_empty() {
                writer.lock().map_err(lock_err)?.write_all(&out)?;
                out.clear();
            }
        }
    })
}
