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
use brokkr_bench::transport::Dialer;
use brokkr_bench::workload::{Scenario, Workload};
use brokkr_codec::{ProtocolVersion, QoS};
use brokkr_server::transport::TransportSpec;
use common::start_broker;
use std::time::Duration;

mod common;

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
    let broker = start_broker(TransportSpec::default());
    let addr = broker.addr;
    let rt = scenario::runtime().unwrap();
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        for s in [Scenario::FanOut, Scenario::Pairs] {
            let w = quick(s, version);
            let o = scenario::run(&rt, &Dialer::tcp(addr), &w, None).unwrap();
            let published = o.get("published").unwrap();
            let expected = o.get("expected").unwrap();
            let fanout = if s == Scenario::FanOut { 4.0 } else { 1.0 };
            assert!(published > 0.0, "{s:?} published nothing");
            assert_eq!(expected, published * fanout, "{s:?}");
            assert_eq!(o.get("delivered"), Some(expected), "{s:?} {version:?}");
            assert_eq!(o.get("lost"), Some(0.0), "{s:?} {version:?}");
            assert_eq!(o.get("drained"), Some(1.0));
            assert!(o.value > 0.0, "{s:?} {version:?} {o:?}");
        }
    }
    drop(broker);
}

#[test]
fn quick_retained_flood_delivers_every_message() {
    let broker = start_broker(TransportSpec::default());
    let addr = broker.addr;
    let rt = scenario::runtime().unwrap();
    let mut w = Workload::standard(Scenario::Retained, QoS::AtMostOnce, true);
    w.count = 2000;
    let o = scenario::run(&rt, &Dialer::tcp(addr), &w.bounded(), None).unwrap();
    assert_eq!(o.get("received"), Some(2000.0));
    assert!(o.value.is_finite());
    drop(broker);
}
