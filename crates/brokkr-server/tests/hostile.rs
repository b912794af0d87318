//! Hostile load over real sockets, with the broker still serving everyone else: silent
//! connections time out, a huge length before CONNECT is refused before anything is buffered,
//! a subscriber that stops reading costs no more than its write cap and is disconnected, and
//! 2,000 clients dying at once deliver all 2,000 wills. Memory is measured as this process's
//! resident set (the broker runs in it; the clients here hold no growing buffers).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use brokkr_codec::*;
use brokkr_core::limits::Limits;
use brokkr_testkit::build;
use common::{Broker, Client, free_port};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

/// The tests share one process, hence one resident set: they run one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// This process's resident set in bytes.
fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// True once the broker closed `s` (EOF or reset) within `within`; data is read and dropped.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    drain_until_closed(s, within).0
}

/// A subscriber on `filter` that the test reads.
fn subscriber(broker: &Broker, id: &str, filter: &str) -> Client {
    let (mut c, _) = Client::connect(broker.addr, V311, build::connect(V311, id));
    c.send(&Packet::Subscribe(build::subscribe(
        1,
        &[filter],
        QoS::AtMostOnce,
    )));
    assert!(matches!(
        c.recv(Duration::from_secs(5)),
        Some(Packet::SubAck(_))
    ));
    c
}

/// The broker still routes: a fresh publisher reaches `sub`.
fn still_serving(broker: &Broker, sub: &mut Client, topic: &str) {
    let (mut p, _) = Client::connect(broker.addr, V311, build::connect(V311, "canary-pub"));
    p.send(&Packet::Publish(build::publish(
        topic,
        b"alive",
        QoS::AtMostOnce,
        false,
    )));
    let got = sub.recv(Duration::from_secs(5));
    assert!(
        matches!(&got, Some(Packet::Publish(x)) if &x.payload[..] == b"alive"),
        "{got:?}"
    );
}

#[test]
fn connections_without_a_complete_connect_are_closed_after_the_timeout() {
    let _serial = serial();
    let limits = Limits {
        connect_timeout_ms: 300,
        ..Limits::default()
    };
    let broker = Broker::start_with(free_port(), 2, limits);
    let mut canary = subscriber(&broker, "canary", "canary");
    let connect = build::encode(
        &Packet::Connect(Box::new(build::connect(V311, "slow"))),
        V311,
    );
    let mut silent: Vec<TcpStream> = (0..100)
        .map(|i| {
            let mut s = TcpStream::connect(broker.addr).unwrap();
            if i % 2 == 1 {
                // Half a CONNECT, then nothing.
                s.write_all(&connect[..connect.len() / 2]).unwrap();
            }
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    still_serving(&broker, &mut canary, "canary");
    for (i, s) in silent.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(3)),
            "connection {i} still open"
        );
    }
    still_serving(&broker, &mut canary, "canary");
}

#[test]
fn a_huge_length_before_connect_is_refused_before_its_body_is_buffered() {
    let _serial = serial();
    let broker = Broker::start(2);
    let mut canary = subscriber(&broker, "canary", "canary");
    let before = rss_bytes();
    let junk = vec![0x5au8; 256 * 1024];
    let mut conns = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(broker.addr).unwrap();
        // A CONNECT claiming 268,435,455 bytes, then the start of a body that never ends.
        s.write_all(&[0x10, 0xff, 0xff, 0xff, 0x7f]).unwrap();
        let _ = s.write_all(&junk);
        conns.push(s);
    }
    for (i, s) in conns.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(3)),
            "connection {i} still open"
        );
    }
    let grown = rss_bytes().saturating_sub(before);
    eprintln!("200 connections offered 50 MiB before CONNECT: RSS grew {grown} bytes");
    // 200 x 256 KiB = 50 MiB were offered; a broker that buffered them would grow by that.
    assert!(grown < 16 << 20, "RSS grew by {grown} bytes");
    still_serving(&broker, &mut canary, "canary");
}

#[test]
fn a_subscriber_that_stops_reading_costs_its_cap_and_is_disconnected() {
    let _serial = serial();
    let limits = Limits {
        stuck_reader_ms: 1_000,
        ..Limits::default()
    };
    let cap = limits.write_buffer_bytes_max;
    let broker = Broker::start_with(free_port(), 2, limits);
    let stuck = subscriber(&broker, "stuck", "flood/#");
    let mut reader = subscriber(&broker, "reader", "canary");
    let (mut p, _) = Client::connect(broker.addr, V311, build::connect(V311, "flooder"));
    let before = rss_bytes();
    // 256 MiB of QoS 0 at the stuck subscriber, bounded in time.
    let payload = vec![7u8; 64 * 1024];
    let publish = build::encode(
        &Packet::Publish(build::publish("flood/x", &payload, QoS::AtMostOnce, false)),
        V311,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut peak = 0;
    let mut sent = 0usize;
    for i in 0..4096 {
        p.write_raw(&publish);
        sent += publish.len();
        if i % 256 == 0 {
            peak = peak.max(rss_bytes().saturating_sub(before));
        }
        if Instant::now() > deadline {
            break;
        }
    }
    peak = peak.max(rss_bytes().saturating_sub(before));
    eprintln!(
        "{} MiB at a subscriber that does not read: RSS grew at most {peak} bytes",
        sent >> 20
    );
    // The cap, plus the socket reads in flight and allocator slack; 256 MiB were sent.
    assert!(
        peak < cap + (24 << 20),
        "RSS grew by {peak} bytes for a {cap}-byte cap"
    );
    still_serving(&broker, &mut reader, "canary");
    // The flood goes on, and QoS 0 keeps being dropped for the subscriber, for longer than
    // stuck_reader_ms: it is disconnected.
    let until = Instant::now() + Duration::from_millis(3_000);
    while Instant::now() < until {
        p.write_raw(&publish);
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut stuck = stuck.into_stream();
    let (closed, drained) = drain_until_closed(&mut stuck, Duration::from_secs(10));
    assert!(closed, "the stuck subscriber is still connected");
    eprintln!("the stuck subscriber was closed with {drained} bytes on their way to it");
    // What reached it is the broker's cap plus what the kernel's socket buffers held.
    assert!(
        drained < cap + (16 << 20),
        "{drained} bytes were queued for it"
    );
    still_serving(&broker, &mut reader, "canary");
}

/// Read and count until the broker closes `s` or `within` passes.
fn drain_until_closed(s: &mut TcpStream, within: Duration) -> (bool, usize) {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 64 * 1024];
    let mut total = 0;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (true, total),
            Ok(n) => total += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (false, total);
            }
            Err(_) => return (true, total),
        }
    }
    (false, total)
}

#[test]
fn two_thousand_clients_dying_at_once_deliver_two_thousand_wills() {
    let _serial = serial();
    let broker = Broker::start(2);
    let mut watcher = subscriber(&broker, "watcher", "will/#");
    let mut dying = Vec::new();
    for i in 0..2000 {
        let mut connect = build::connect(V311, &format!("mortal-{i}"));
        connect.will = Some(build::will(
            build::topic(&format!("will/{i}")),
            bytes::Bytes::from(format!("{i}")),
            QoS::AtMostOnce,
            false,
        ));
        dying.push(Client::connect(broker.addr, V311, connect).0);
    }
    let before = Instant::now();
    drop(dying); // every socket closes without DISCONNECT
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 2000 {
        match watcher.recv(Duration::from_secs(10)) {
            Some(Packet::Publish(p)) => {
                assert!(seen.insert(p.topic.as_str().to_string()), "duplicate will");
            }
            other => panic!("after {} wills: {other:?}", seen.len()),
        }
    }
    eprintln!("2000 wills in {:?}", before.elapsed());
    still_serving(&broker, &mut watcher, "will/canary");
}

/// Every kind of ending frees the connection in the shard, not only the socket: connections
/// the broker refuses or times out, connections the peer drops, and clean DISCONNECTs, all
/// leave `$SYS/broker/sockets/open` (every open connection, logged in or not) at the one
/// subscriber that reads it.
#[test]
fn every_ended_connection_is_freed_in_the_shard() {
    let _serial = serial();
    let limits = Limits {
        connect_timeout_ms: 500,
        ..Limits::default()
    };
    let broker = Broker::start_with(free_port(), 2, limits);
    let mut ended = Vec::new();
    for i in 0..20 {
        // Refused by the shard: protocol level 9.
        let mut s = TcpStream::connect(broker.addr).unwrap();
        s.write_all(&[0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 9, 2, 0, 60, 0, 0])
            .unwrap();
        ended.push(s);
        // Silent until the CONNECT timeout closes it.
        ended.push(TcpStream::connect(broker.addr).unwrap());
        // Logged in, then dropped by the peer, or disconnected cleanly.
        let (mut c, _) = Client::connect(
            broker.addr,
            V311,
            build::connect(V311, &format!("gone-{i}")),
        );
        if i % 2 == 0 {
            c.send(&Packet::Disconnect(Disconnect::default()));
        }
        drop(c);
    }
    for s in &mut ended {
        assert!(
            closed_within(s, Duration::from_secs(5)),
            "the broker closes it"
        );
    }
    drop(ended);
    // $SYS is published every 10 s; wait for a value published after everything ended.
    let mut watch = subscriber(&broker, "watch", "$SYS/broker/sockets/open");
    let deadline = Instant::now() + Duration::from_secs(25);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Some(Packet::Publish(p)) = watch.recv(Duration::from_secs(1)) {
            last = String::from_utf8_lossy(&p.payload).to_string();
            if last == "1" && !p.retain {
                break;
            }
        }
    }
    assert_eq!(last, "1", "only the watcher's connection is left open");
    broker.stop();
}

/// The same over websockets: what waits for a subscriber that stops reading is bounded by its
/// cap once framed too (the shard hears its bytes left only when their frames are written).
#[test]
fn a_websocket_subscriber_that_stops_reading_costs_its_cap() {
    use tungstenite::Message;
    use tungstenite::client::IntoClientRequest;
    let _serial = serial();
    let limits = Limits {
        stuck_reader_ms: 60_000,
        ..Limits::default()
    };
    let cap = limits.write_buffer_bytes_max;
    let spec = brokkr_server::transport::TransportSpec {
        websocket: true,
        ..Default::default()
    };
    let broker = Broker::start_transport(free_port(), 2, limits, spec);
    let open = |id: &str, filter: Option<&str>| {
        let stream = TcpStream::connect(broker.addr).unwrap();
        let request = format!("ws://{}/", broker.addr)
            .into_client_request()
            .unwrap();
        let (mut ws, _) = tungstenite::client(request, stream).unwrap();
        let mut bytes = build::encode(&Packet::Connect(Box::new(build::connect(V311, id))), V311);
        if let Some(f) = filter {
            bytes.extend(build::encode(
                &Packet::Subscribe(build::subscribe(1, &[f], QoS::AtMostOnce)),
                V311,
            ));
        }
        ws.send(Message::binary(bytes)).unwrap();
        // CONNACK (and SUBACK), in one message or two.
        let want = if filter.is_some() { 4 + 5 } else { 4 };
        let mut got = 0;
        while got < want {
            if let Message::Binary(b) = ws.read().unwrap() {
                got += b.len();
            }
        }
        ws
    };
    let stuck = open("ws-stuck", Some("flood/#"));
    let mut flooder = open("ws-flooder", None);
    let before = rss_bytes();
    let payload = vec![7u8; 64 * 1024];
    let publish = build::encode(
        &Packet::Publish(build::publish("flood/x", &payload, QoS::AtMostOnce, false)),
        V311,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut peak = 0;
    let mut sent = 0usize;
    for i in 0..4096 {
        flooder.send(Message::binary(publish.clone())).unwrap();
        sent += publish.len();
        if i % 256 == 0 {
            peak = peak.max(rss_bytes().saturating_sub(before));
        }
        if Instant::now() > deadline {
            break;
        }
    }
    peak = peak.max(rss_bytes().saturating_sub(before));
    eprintln!(
        "{} MiB at a websocket subscriber that does not read: RSS grew at most {peak} bytes",
        sent >> 20
    );
    assert!(sent >= 64 << 20, "the flood was too short to show anything");
    assert!(
        peak < cap + (24 << 20),
        "RSS grew by {peak} bytes for a {cap}-byte cap"
    );
    // What waited for it: the cap plus the kernel's socket buffers, not the flood.
    let mut stuck = stuck.into_inner();
    let (closed, drained) = drain_until_closed(&mut stuck, Duration::from_secs(3));
    eprintln!("{drained} bytes were waiting for the websocket subscriber (closed: {closed})");
    assert!(
        drained > 0 && drained < cap + (16 << 20),
        "{drained} bytes were queued for it"
    );
    broker.stop();
}
