//! brokkr-bench's `retained` scenario on one shard, for heap profiling and instruction counts:
//! a client publishes N retained QoS 0 messages (64-byte payloads, topics `bench/retained/<i>`,
//! MQTT 3.1.1, sent in 60 KiB writes as the generator sends them), then a new MQTT 3.1.1
//! client subscribes to `#` at QoS 0 and receives them all, its output taken as the server
//! takes it between the slices of the retained walk. The process exits with everything alive.
//!
//!     valgrind --tool=dhat target/release/examples/retained_flood 100000 store
//!     valgrind --tool=dhat target/release/examples/retained_flood 100000 deliver
//!     valgrind --tool=callgrind target/release/examples/retained_flood 100000 deliver
//!
//! `store` stops after the publishing (dhat's end-of-run heap is the store), `deliver` after
//! the delivery; the instruction difference between the two is the delivery's cost. A third
//! argument `v5-id` makes the subscriber an MQTT 5 client whose subscription carries a
//! Subscription Identifier, so every delivery is encoded for it alone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr_codec::{Packet, PacketType, ProtocolVersion, QoS, framer};
use brokkr_core::limits::Limits;
use brokkr_core::shard::{ConnId, RETAINED_NODES_PER_SLICE, Shard};
use brokkr_testkit::build::{self, encode};
use bytes::BytesMut;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let deliver = match args.get(2).map_or("deliver", String::as_str) {
        "store" => false,
        "deliver" => true,
        other => panic!("{other}: store or deliver"),
    };
    let v = ProtocolVersion::V3_1_1;
    let mut shard = Shard::new(Limits::default(), 1);
    let now = 1_000;
    let publisher = open(&mut shard, now, "bb-ret-p");
    let mut out = Vec::with_capacity(64 * 1024);
    let mut payload = [b'x'; 64];
    for i in 0..n {
        payload[56..].copy_from_slice(&(i as u64).to_be_bytes());
        let p = build::publish(
            &format!("bench/retained/{i}"),
            &payload,
            QoS::AtMostOnce,
            true,
        );
        out.extend_from_slice(&encode(&Packet::Publish(p), v));
        if out.len() >= 60 * 1024 {
            shard.bytes_received(now, publisher, &out);
            out.clear();
        }
    }
    shard.bytes_received(now, publisher, &out);
    drop(out);
    assert_eq!(shard.retained_count(), n);
    if deliver {
        let edited = args.get(3).is_some_and(|a| a == "v5-id");
        let sv = if edited { ProtocolVersion::V5 } else { v };
        let sub = open_as(&mut shard, now, "bb-ret-s", sv);
        let mut s = build::subscribe(1, &["#"], QoS::AtMostOnce);
        if edited {
            s.properties.subscription_identifier = std::num::NonZeroU32::new(7);
        }
        shard.bytes_received(now, sub, &encode(&Packet::Subscribe(s), sv));
        let mut received = 0;
        loop {
            received += take_publishes(&mut shard, sub);
            if !shard.run_background(now, RETAINED_NODES_PER_SLICE) {
                received += take_publishes(&mut shard, sub);
                break;
            }
        }
        assert_eq!(received, n, "every retained message delivered");
    }
    println!("{n} retained messages, delivered: {deliver}");
    std::process::exit(0);
}

fn open(shard: &mut Shard, now: u64, id: &str) -> ConnId {
    open_as(shard, now, id, ProtocolVersion::V3_1_1)
}

fn open_as(shard: &mut Shard, now: u64, id: &str, v: ProtocolVersion) -> ConnId {
    let c = shard.accept(now);
    let connect = build::connect(v, id);
    shard.bytes_received(now, c, &encode(&Packet::Connect(Box::new(connect)), v));
    let bytes = shard.take_write(c);
    shard.written(c, bytes.len());
    c
}

/// Take `conn`'s output as the server does; count the PUBLISH packets in it.
fn take_publishes(shard: &mut Shard, conn: ConnId) -> usize {
    shard.take_dirty();
    let bytes = shard.take_write(conn);
    shard.written(conn, bytes.len());
    let mut buf = BytesMut::from(&bytes[..]);
    let mut n = 0;
    while let Some(raw) = framer::next_packet(&mut buf, usize::MAX).unwrap() {
        n += usize::from(raw.first_byte >> 4 == PacketType::Publish as u8);
    }
    n
}
