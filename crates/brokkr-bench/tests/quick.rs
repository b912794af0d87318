//! The quick fan-out and pairs scenarios against an in-process brokkr on a free loopback port:
//! at QoS 1 every message published must be delivered to every matching subscriber, and the
//! generator's counts must say so. No timing assertion (figures belong to the benchmarks).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr_bench::scenario;
use brokkr_bench::workload::{Scenario, Workload};
use brokkr_codec::{ProtocolVersion, QoS};
use brokkr_core::limits::Limits;
use brokkr_server::{ListenerSpec, ServerConfig, run_until};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn start_broker() -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let config = ServerConfig {
        listeners: vec![ListenerSpec {
            tcp_nodelay: true,
            ..ListenerSpec::tcp(addr)
        }],
        // As the comparative configs: the default pending caps (512 messages, 64 KiB) drop
        // QoS 1 messages under a flood, as FlashMQ does.
        limits: Limits {
            qos_pending_messages_max: 65_535,
            qos_pending_bytes_max: 268_435_456,
            ..Limits::default()
        },
        seed: 1,
        workers: 1,
        access: None,
        access_source: None,
        persistence: None,
        overload: Default::default(),
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        run_until(config, async move {
            let _ = rx.await;
        })
        .unwrap();
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "broker did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (addr, tx, thread)
}

fn quick(scenario: Scenario, version: ProtocolVersion) -> Workload {
    let mut w = Workload::standard(scenario, QoS::AtLeastOnce, true);
    w.version = version;
    w.clients = 4;
    w.warmup = Duration::from_millis(100);
    w.measure = Duration::from_millis(500);
    w.bounded()
}

#[test]
fn quick_fan_out_and_pairs_account_for_every_qos1_message() {
    let (addr, stop, thread) = start_broker();
    let rt = scenario::runtime().unwrap();
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        for s in [Scenario::FanOut, Scenario::Pairs] {
            let w = quick(s, version);
            let o = scenario::run(&rt, addr, &w, None).unwrap();
            let published = o.get("published").unwrap();
            let expected = o.get("expected").unwrap();
            let fanout = if s == Scenario::FanOut { 4.0 } else { 1.0 };
            assert!(published > 0.0, "{s:?} published nothing");
            assert_eq!(expected, published * fanout, "{s:?}");
            assert_eq!(o.get("delivered"), Some(expected), "{s:?} {version:?}");
            assert_eq!(o.get("lost"), Some(0.0), "{s:?} {version:?}");
            assert_eq!(o.get("drained"), Some(1.0));
            assert!(o.value > 0.0);
        }
    }
    let _ = stop.send(());
    thread.join().unwrap();
}

#[test]
fn quick_retained_flood_delivers_every_message() {
    let (addr, stop, thread) = start_broker();
    let rt = scenario::runtime().unwrap();
    let mut w = Workload::standard(Scenario::Retained, QoS::AtMostOnce, true);
    w.count = 2000;
    let o = scenario::run(&rt, addr, &w.bounded(), None).unwrap();
    assert_eq!(o.get("received"), Some(2000.0));
    assert!(o.value.is_finite());
    let _ = stop.send(());
    thread.join().unwrap();
}
