//! Each transport of the generator (tls, ws, wss) once, briefly, against an in-process brokkr
//! listening with that transport, with certificates from the bench's own generator: fan-in at
//! QoS 1 must deliver every message it published (QoS 0 is left out: the broker here is a debug
//! build, slower than the generator, and the flow's write-off would let a QoS 0 flood overrun
//! it), a small storm and idle run must open every connection, a retained flood must arrive
//! whole, and the latency scenario's blocking sockets must carry every message. Counts, not
//! speed (figures belong to docs/benchmarks.md). A plain TCP client against a TLS or websocket
//! listener must fail, so the transport is really in use.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr_bench::pki::{self, KeyKind, PkiFiles};
use brokkr_bench::scenario;
use brokkr_bench::tls::{self, TlsClient};
use brokkr_bench::transport::{Dialer, TransportKind};
use brokkr_bench::workload::{Scenario, Workload};
use brokkr_codec::QoS;
use brokkr_server::tls::{MinTlsVersion, TlsFiles, TlsListener};
use brokkr_server::transport::TransportSpec;
use common::Broker;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

mod common;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brokkr-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn start_broker(kind: TransportKind, files: &PkiFiles) -> Broker {
    let tls = kind.is_tls().then(|| {
        let files = TlsFiles {
            fullchain: files.fullchain.clone(),
            privkey: files.privkey.clone(),
            minimum: MinTlsVersion::Tls12,
            client_ca_file: None,
            client_ca_dir: None,
        };
        Arc::new(TlsListener::load(files).unwrap())
    });
    let transport = TransportSpec {
        tls,
        websocket: kind.is_ws(),
        ..TransportSpec::default()
    };
    common::start_broker(transport)
}

fn workload(scenario: Scenario, qos: QoS, transport: TransportKind) -> Workload {
    let mut w = Workload::standard(scenario, qos, true);
    w.transport = transport;
    w.clients = match scenario {
        Scenario::Storm | Scenario::Idle => 100,
        _ => 4,
    };
    w.count = 500;
    // A small window: the broker here is a debug build on a shared machine, and each stall
    // of the flow (50 ms without a delivery) writes off the window; a large one would let the
    // publishers run past the subscriber's QoS 1 queue cap (65,535), which drops beyond it.
    w.window = 256;
    w.warmup = Duration::from_millis(100);
    w.measure = Duration::from_millis(400);
    w.bounded()
}

#[test]
fn every_transport_carries_every_scenario() {
    let dir = temp_dir("transports");
    let files = pki::write(&dir, KeyKind::EcdsaP256).unwrap();
    let client = TlsClient::new(&files.ca, tls::SERVER_NAME_DEFAULT).unwrap();
    let rt = scenario::runtime().unwrap();
    for kind in [TransportKind::Tls, TransportKind::Ws, TransportKind::Wss] {
        let broker = start_broker(kind, &files);
        let d = Dialer::new(broker.addr, kind, Some(client.clone())).unwrap();
        let run = |s: Scenario, qos: QoS| {
            let pid = Some(std::process::id());
            scenario::run(&rt, &d, &workload(s, qos, kind), pid).unwrap()
        };

        let o = run(Scenario::FanIn, QoS::AtLeastOnce);
        let published = o.get("published").unwrap();
        assert!(published > 0.0, "{kind:?}: nothing published");
        assert_eq!(o.get("expected"), Some(published), "{kind:?}");
        assert_eq!(o.get("delivered"), Some(published), "{kind:?}");
        assert_eq!(o.get("lost"), Some(0.0), "{kind:?}");

        let o = run(Scenario::Storm, QoS::AtMostOnce);
        assert_eq!(o.get("failed"), Some(0.0), "{kind:?}");
        assert!(o.value > 0.0, "{kind:?}");
        let o = run(Scenario::Idle, QoS::AtMostOnce);
        assert_eq!(o.get("failed"), Some(0.0), "{kind:?}");
        assert_eq!(o.get("connections"), Some(100.0), "{kind:?}");
        let o = run(Scenario::Retained, QoS::AtMostOnce);
        assert_eq!(o.get("received"), Some(500.0), "{kind:?}");
        // Latency on the blocking sockets: 500 messages per second for half a second.
        let o = run(Scenario::Latency, QoS::AtLeastOnce);
        assert!(o.get("sent").unwrap() >= 200.0, "{kind:?}");
        assert_eq!(o.get("received"), o.get("sent"), "{kind:?}");
        assert!(o.get("p50_us").unwrap() > 0.0, "{kind:?}");

        // The listener really speaks the transport: plain MQTT on TCP gets no CONNACK.
        let plain = Dialer::tcp(broker.addr);
        let v = brokkr_codec::ProtocolVersion::V3_1_1;
        let refused = rt.block_on(brokkr_bench::conn::Conn::open(&plain, v, "x", true));
        assert!(refused.is_err(), "{kind:?}: plain TCP got a CONNACK");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tls_needs_a_ca_and_refuses_an_untrusted_certificate() {
    let addr: SocketAddr = ([127, 0, 0, 1], 1).into();
    assert!(Dialer::new(addr, TransportKind::Tls, None).is_err());
    assert!(Dialer::new(addr, TransportKind::Ws, None).is_ok());
    let dir = temp_dir("untrusted");
    let files = pki::write(&dir, KeyKind::EcdsaP256).unwrap();
    let broker = start_broker(TransportKind::Tls, &files);
    // A CA from another run does not vouch for this broker's certificate.
    let other = pki::generate_pem(KeyKind::EcdsaP256).unwrap();
    let stranger = TlsClient::from_pem(other.ca.as_bytes(), tls::SERVER_NAME_DEFAULT).unwrap();
    let d = Dialer::new(broker.addr, TransportKind::Tls, Some(stranger)).unwrap();
    let rt = scenario::runtime().unwrap();
    let v = brokkr_codec::ProtocolVersion::V3_1_1;
    let result = rt.block_on(brokkr_bench::conn::Conn::open(&d, v, "x", true));
    assert!(result.is_err(), "an untrusted certificate was accepted");
    let _ = std::fs::remove_dir_all(&dir);
}
