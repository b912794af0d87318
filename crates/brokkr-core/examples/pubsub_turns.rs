//! Publish/subscribe turns on one shard, for counting instructions without timer noise: 16
//! publisher/subscriber pairs on distinct topics (brokkr-bench's `pairs`), MQTT 3.1.1, 64-byte
//! payloads; each turn every publisher sends one PUBLISH, then the outputs are taken as the
//! server takes them (`take_dirty`, `take_write`, `written`) and QoS 1/2 acknowledgements are
//! answered. One message per connection per turn is the worst case for per-turn costs (buffer
//! allocation, the dirty list):
//!
//!     valgrind --tool=callgrind target/release/examples/pubsub_turns 1 20000
//!
//! The broker alone (without this harness's client, which decodes the deliveries and encodes
//! the acknowledgements): add `--toggle-collect='*Shard::bytes_received'
//! --toggle-collect='*broker_*'`.
//!
//! Arguments: QoS (0, 1, 2), turns, PUBLISH packets per read (1; brokkr-bench's pairs keep up
//! to 4,096 messages per pair on the way, so a real read carries many). The difference between
//! two turn counts, divided by 16 × `per_read` times their difference, is the cost of one
//! message end to end (decode, route, encode, acknowledgements).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr_codec::{Packet, ProtocolVersion, QoS};
use brokkr_core::limits::Limits;
use brokkr_core::shard::{ConnId, Shard};
use brokkr_testkit::build::{self, encode};

const PAIRS: usize = 16;

#[path = "common/turns.rs"]
mod turns;

use turns::drain;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let qos = match args.get(1).map_or("0", String::as_str) {
        "0" => QoS::AtMostOnce,
        "1" => QoS::AtLeastOnce,
        "2" => QoS::ExactlyOnce,
        other => panic!("QoS {other}?"),
    };
    let turns: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let per_read: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let v = ProtocolVersion::V3_1_1;
    let mut shard = Shard::new(Limits::default(), 1);
    let now = 1_000;
    let open = |shard: &mut Shard, id: &str| {
        let c = shard.accept(now);
        let connect = build::connect(v, id);
        shard.bytes_received(now, c, &encode(&Packet::Connect(Box::new(connect)), v));
        c
    };
    let mut pairs: Vec<(ConnId, ConnId)> = Vec::new();
    for i in 0..PAIRS {
        let p = open(&mut shard, &format!("pub{i}"));
        let s = open(&mut shard, &format!("sub{i}"));
        let sub = build::subscribe(1, &[&format!("bench/pairs/{i}")], qos);
        shard.bytes_received(now, s, &encode(&Packet::Subscribe(sub), v));
        pairs.push((p, s));
    }
    drain(&mut shard, now, v);
    // Encoded once; each turn patches the packet identifier (after the 2-byte fixed header,
    // the topic's length and the topic).
    let publishes: Vec<(Vec<u8>, usize)> = (0..PAIRS)
        .map(|i| {
            let topic = format!("bench/pairs/{i}");
            let p = build::publish(&topic, &[b'x'; 64], qos, false);
            (encode(&Packet::Publish(p), v), 2 + 2 + topic.len())
        })
        .collect();
    let mut delivered = 0u64;
    let mut read = Vec::new();
    for turn in 0..turns {
        for ((p, _), (bytes, at)) in pairs.iter().zip(&publishes) {
            read.clear();
            for j in 0..per_read {
                let start = read.len();
                read.extend_from_slice(bytes);
                if qos != QoS::AtMostOnce {
                    let pid = u16::try_from((turn * per_read + j) % 60_000).unwrap() + 1;
                    read[start + at..start + at + 2].copy_from_slice(&pid.to_be_bytes());
                }
            }
            shard.bytes_received(now, *p, &read);
        }
        delivered += drain(&mut shard, now, v);
    }
    assert_eq!(
        delivered,
        turns * per_read * PAIRS as u64,
        "every message delivered"
    );
    println!("{turns} turns, {delivered} deliveries");
}
