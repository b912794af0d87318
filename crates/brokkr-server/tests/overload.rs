//! Overload protection over real sockets (`overload_mode`, `max_event_loop_drift`): a login
//! that blocks the only worker for 1.5 s stands in for an overloaded event loop; its drift
//! timer then fires late, and while that lasts a `close_new_clients` listener closes new
//! connections at accept, a `log` listener serves them, and once the loop is on time again
//! both serve.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use brokkr_codec::{Packet, ProtocolVersion, TopicName};
use brokkr_core::access::{AccessPolicy, Login, LoginCheck};
use brokkr_server::{ListenerSpec, OverloadMode, OverloadSettings, ServerConfig, run_until};
use common::{free_port, wait_listening};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everyone may connect; user `slow` blocks the worker for 1.5 s while logging in.
#[derive(Debug)]
struct SlowLogin;

impl AccessPolicy for SlowLogin {
    fn login(&self, _listener: u16, username: Option<&[u8]>, _: Option<&[u8]>) -> LoginCheck {
        if username == Some(b"slow".as_slice()) {
            std::thread::sleep(Duration::from_millis(1500));
        }
        LoginCheck::Now(Ok(Login { username: None }))
    }
    fn may_write(&self, _: &Login, _: &str, _: &TopicName) -> bool {
        true
    }
    fn may_read(&self, _: &Login, _: &str, _: &TopicName) -> bool {
        true
    }
    fn checks_reads(&self) -> bool {
        false
    }
}

/// What became of a connection attempt.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Served,
    Closed,
}

/// Connect as `user` (or anonymously) and wait for CONNACK or a close (at most 5 s).
fn attempt(addr: SocketAddr, user: Option<&str>) -> Outcome {
    let mut connect = brokkr_testkit::build::connect(ProtocolVersion::V3_1_1, "");
    connect.username = user.map(brokkr_testkit::build::string);
    let bytes =
        brokkr_testkit::build::encode(&Packet::Connect(Box::new(connect)), ProtocolVersion::V3_1_1);
    let mut s = TcpStream::connect(addr).unwrap();
    if s.write_all(&bytes).is_err() {
        return Outcome::Closed;
    }
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 4];
    match s.read(&mut buf) {
        Ok(n) if n > 0 && buf[0] == 0x20 => Outcome::Served,
        Ok(0) => Outcome::Closed,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => Outcome::Closed,
        other => panic!("neither CONNACK nor a close: {other:?}"),
    }
}

#[test]
fn close_new_clients_closes_at_accept_while_the_loop_runs_late() {
    let (closing, logging) = (free_port(), free_port());
    let spec = |port: u16, mode| ListenerSpec {
        overload_mode: mode,
        ..ListenerSpec::tcp(([127, 0, 0, 1], port).into())
    };
    let config = ServerConfig {
        listeners: vec![spec(closing, None), spec(logging, Some(OverloadMode::Log))],
        limits: Default::default(),
        seed: 1,
        workers: 1,
        access: Some(Arc::new(SlowLogin)),
        access_source: None,
        persistence: None,
        overload: OverloadSettings {
            // A 1.5 s stall makes the 1 s timer at least 0.5 s late, whatever its phase.
            max_drift_ms: 300,
            mode: OverloadMode::CloseNewClients,
        },
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let broker = std::thread::spawn(move || {
        run_until(config, async move {
            let _ = stopped.await;
        })
        .unwrap();
    });
    wait_listening(closing);
    wait_listening(logging);
    let closing: SocketAddr = ([127, 0, 0, 1], closing).into();
    let logging: SocketAddr = ([127, 0, 0, 1], logging).into();
    assert_eq!(attempt(closing, None), Outcome::Served, "on time: served");

    // The worker is stuck for 1.5 s: its once-a-second drift timer fires about 1 s late.
    assert_eq!(attempt(closing, Some("slow")), Outcome::Served);
    // Time for the worker to run its overdue timer (one loop turn).
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        attempt(closing, None),
        Outcome::Closed,
        "overloaded: closed"
    );
    assert_eq!(
        attempt(logging, None),
        Outcome::Served,
        "a listener in log mode serves"
    );

    // The next measurement is on time: served again (within a few seconds).
    let deadline = Instant::now() + Duration::from_secs(5);
    while attempt(closing, None) == Outcome::Closed {
        assert!(
            Instant::now() < deadline,
            "still refusing after the overload"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.send(()).unwrap();
    broker.join().unwrap();
}
