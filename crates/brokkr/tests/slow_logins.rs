//! Password hashes run off the event loop: with one worker and a password file of argon2id
//! users, twenty logins in progress do not hold up a connected client's PUBLISH round trip.
//! (Before the authenticating phase the worker hashed each password itself, and the round trip
//! waited for all twenty.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use brokkr_auth::PasswordHash;
use brokkr_codec::{Packet, ProtocolVersion, QoS, ReasonCode, framer};
use brokkr_testkit::build::{self, encode};
use common::{TempDir, free_port, listen_block, spawn};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const V: ProtocolVersion = ProtocolVersion::V3_1_1;
const LOGINS: usize = 20;

/// Kills the broker this test started when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A blocking MQTT 3.1.1 client over a loopback socket.
struct Client {
    stream: TcpStream,
    inbox: bytes::BytesMut,
}

impl Client {
    fn open(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        Client {
            stream,
            inbox: bytes::BytesMut::new(),
        }
    }

    fn send(&mut self, p: &Packet) {
        self.stream.write_all(&encode(p, V)).unwrap();
    }

    /// The next packet (at most 60 s).
    fn recv(&mut self) -> Packet {
        loop {
            if let Some(raw) = framer::next_packet(&mut self.inbox, usize::MAX).unwrap() {
                return Packet::decode(raw, V).unwrap();
            }
            let mut buf = [0u8; 4096];
            let n = self.stream.read(&mut buf).unwrap();
            assert!(n > 0, "the broker closed the connection");
            self.inbox.extend_from_slice(&buf[..n]);
        }
    }
}

fn connack_reason(p: &Packet) -> ReasonCode {
    match p {
        Packet::ConnAck(a) => a.reason,
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

#[test]
fn a_publish_round_trip_completes_while_twenty_argon2id_logins_run() {
    let dir = TempDir::new("slow-logins");
    // 4 MiB and one pass: tens of milliseconds per check in a debug build, and one login
    // thread on this two-CPU machine, so twenty take a good while.
    let hash = PasswordHash::new_argon2id(b"pw", b"brokkr-test-salt", 4096, 1, 1).unwrap();
    std::fs::write(dir.0.join("passwd"), format!("slow:{}\n", hash.encode())).unwrap();
    let port = free_port();
    let conf = dir.0.join("brokkr.conf");
    let global = format!(
        "allow_anonymous true\nthread_count 1\nmosquitto_password_file {}\n",
        dir.0.join("passwd").display()
    );
    std::fs::write(&conf, format!("{global}{}", listen_block(port, ""))).unwrap();
    let _broker = Running(spawn(&conf, port, Stdio::null()));

    // The client already connected (anonymous: no hash), subscribed to its own topic.
    let mut fast = Client::open(port);
    fast.send(&Packet::Connect(Box::new(build::connect(V, "fast"))));
    assert_eq!(connack_reason(&fast.recv()), ReasonCode::Success);
    let subscribe = build::subscribe(1, &["round/trip"], QoS::AtMostOnce);
    fast.send(&Packet::Subscribe(subscribe));
    assert!(matches!(fast.recv(), Packet::SubAck(_)));

    // Twenty logins as user "slow", each CONNECT written before the round trip starts.
    let sent = Arc::new(Barrier::new(LOGINS + 1));
    let done = Arc::new(AtomicUsize::new(0));
    let logins: Vec<_> = (0..LOGINS)
        .map(|i| {
            let (sent, done) = (Arc::clone(&sent), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut c = Client::open(port);
                let mut connect = build::connect(V, &format!("slow-{i}"));
                connect.username = Some(brokkr_codec::MqttString::new("slow").unwrap());
                connect.password = Some(bytes::Bytes::from_static(b"pw"));
                c.send(&Packet::Connect(Box::new(connect)));
                sent.wait();
                let reason = connack_reason(&c.recv());
                done.fetch_add(1, Ordering::SeqCst);
                (reason, Instant::now())
            })
        })
        .collect();
    sent.wait();
    // Round trips for as long as the logins run. With the hashes on the worker, a round trip
    // waits for the hashes ahead of it; off the worker, it takes a millisecond or less and a
    // login tens.
    let started = Instant::now();
    let mut round_trips = 0usize;
    let mut first_round_trip = None;
    while done.load(Ordering::SeqCst) < LOGINS && started.elapsed() < Duration::from_secs(120) {
        let publish = build::publish("round/trip", b"ping", QoS::AtMostOnce, false);
        fast.send(&Packet::Publish(publish));
        assert!(matches!(fast.recv(), Packet::Publish(p) if &p.payload[..] == b"ping"));
        round_trips += 1;
        first_round_trip.get_or_insert_with(|| (started.elapsed(), done.load(Ordering::SeqCst)));
        // Paced, so that the test's client and the worker leave the login thread its CPU.
        std::thread::sleep(Duration::from_millis(2));
    }
    let results: Vec<_> = logins.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(
        results.iter().all(|(r, _)| *r == ReasonCode::Success),
        "{results:?}"
    );
    let (first, logins_then) = first_round_trip.unwrap();
    let all_logins = started.elapsed();
    eprintln!(
        "{round_trips} round trips during {LOGINS} logins ({all_logins:?}); the first took \
         {first:?}, when {logins_then} logins were done"
    );
    // Relative, not absolute: the first round trip (which, with hashing on the worker, waits
    // behind the CONNECTs read before it) must take less than an average login.
    assert!(
        logins_then < LOGINS,
        "the first round trip waited for every login"
    );
    assert!(
        first < all_logins / LOGINS as u32,
        "the first round trip took {first:?}, longer than an average login"
    );
    assert!(
        round_trips >= 5 * LOGINS,
        "only {round_trips} round trips while {LOGINS} logins ran"
    );
}
