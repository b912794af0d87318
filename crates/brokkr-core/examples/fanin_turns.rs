//! Fan-in turns on one shard, for counting instructions without timer noise: 16 publishers on
//! distinct topics (`bench/fanin/<i>`), one subscriber to `bench/#` (or, with `topics`, to the
//! 16 topics one by one), MQTT 3.1.1, 64-byte payloads: brokkr-bench's `fan-in`. Each turn
//! every publisher's read holds `per_read` PUBLISH packets (a real socket read carries many),
//! then the outputs are taken as the server takes them (`take_dirty`, `take_write`, `written`)
//! and the subscriber answers every QoS 1/2 delivery of the turn in one read, as brokkr-bench's
//! subscriber does:
//!
//!     valgrind --tool=callgrind target/release/examples/fanin_turns 1 2000 16
//!
//! The broker alone (without this harness's client, which decodes the deliveries and encodes
//! the acknowledgements): add `--toggle-collect='*Shard::bytes_received'
//! --toggle-collect='*broker_*'`.
//!
//! Arguments: QoS (0, 1, 2), turns, PUBLISH packets per read (16), `wild` or `topics`. The
//! difference between two turn counts, divided by 16 × `per_read` times their difference, is
//! the cost of one message end to end (decode, route, encode, acknowledgements).

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

const PUBLISHERS: usize = 16;

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
    let turns: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2_000);
    let per_read: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(16);
    let wild = args.get(4).is_none_or(|s| s != "topics");
    let v = ProtocolVersion::V3_1_1;
    // FlashMQ's defaults: 512 QoS 1/2 messages and 64 KiB pending per session, enough for
    // one turn of 16 reads of 16 (the assertion at the end fails if any was dropped).
    let mut shard = Shard::new(Limits::default(), 1);
    let now = 1_000;
    let open = |shard: &mut Shard, id: &str| {
        let c = shard.accept(now);
        let connect = build::connect(v, id);
        shard.bytes_received(now, c, &encode(&Packet::Connect(Box::new(connect)), v));
        c
    };
    let topics: Vec<String> = (0..PUBLISHERS)
        .map(|i| format!("bench/fanin/{i}"))
        .collect();
    let sub = open(&mut shard, "sub");
    let filters: Vec<&str> = if wild {
        vec!["bench/#"]
    } else {
        topics.iter().map(String::as_str).collect()
    };
    let subscribe = build::subscribe(1, &filters, qos);
    shard.bytes_received(now, sub, &encode(&Packet::Subscribe(subscribe), v));
    let publishers: Vec<ConnId> = (0..PUBLISHERS)
        .map(|i| open(&mut shard, &format!("pub{i}")))
        .collect();
    drain(&mut shard, now, v);
    // Encoded once; each packet patches its packet identifier (after the 2-byte fixed header,
    // the topic's length and the topic).
    let templates: Vec<(Vec<u8>, usize)> = topics
        .iter()
        .map(|topic| {
            let p = build::publish(topic, &[b'x'; 64], qos, false);
            (encode(&Packet::Publish(p), v), 2 + 2 + topic.len())
        })
        .collect();
    let mut delivered = 0u64;
    let mut read = Vec::new();
    for turn in 0..turns {
        for (p, (bytes, at)) in publishers.iter().zip(&templates) {
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
    let expected = turns * per_read * PUBLISHERS as u64;
    assert_eq!(delivered, expected, "every message delivered");
    println!("{turns} turns, {delivered} deliveries");
}
