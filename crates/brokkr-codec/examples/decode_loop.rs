//! Decode one PUBLISH many times, for counting instructions without timer noise:
//! `valgrind --tool=callgrind target/release/examples/decode_loop v5 1000000` (or `perf stat`).
//! The packets are the divan bench's (`benches/codec.rs`): 38-byte topic, 64-byte payload, QoS 1;
//! `v5` carries a Message Expiry Interval, `v5-bare` no properties. Differences between two
//! iteration counts give the cost of one decode.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use brokkr_codec::*;
use bytes::{Bytes, BytesMut};
use std::hint::black_box;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("v5", String::as_str);
    let n: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let (v, props) = match which {
        "v311" => (ProtocolVersion::V3_1_1, false),
        "v5" => (ProtocolVersion::V5, true),
        "v5-bare" => (ProtocolVersion::V5, false),
        other => panic!("unknown case {other}: v311, v5 or v5-bare"),
    };
    let mut p = Publish {
        dup: false,
        qos_pid: QosPid::AtLeastOnce(PacketId::new(7).unwrap()),
        retain: false,
        topic: TopicName::new("sensors/building-4/floor-2/temperature").unwrap(),
        properties: Default::default(),
        payload: Bytes::from(vec![b'x'; 64]),
    };
    if props {
        p.properties = PublishPropertiesBuilder {
            message_expiry_interval_secs: Some(60),
            ..Default::default()
        }
        .build()
        .unwrap();
    }
    let mut out = BytesMut::new();
    Packet::Publish(p).encode(v, &mut out).unwrap();
    let raw = next_packet(&mut out, usize::MAX).unwrap().unwrap();
    for _ in 0..n {
        let packet = Packet::decode(black_box(&raw).clone(), v).unwrap();
        black_box(&packet);
    }
}
