//! N idle connections on one shard, driven as the server drives them: accept, a CONNECT as
//! brokkr-bench's `idle` scenario sends it (MQTT 3.1.1, clean, keep alive 60 s, client id
//! `bb-c<i>`), the CONNACK taken and reported written. Then the process exits with everything
//! still alive, so a heap profiler's end-of-run figure is the shard's idle state:
//!
//!     valgrind --tool=dhat target/release/examples/idle_conns 10000
//!
//! The difference between two connection counts, divided by their difference, is the core's
//! heap per idle connection (dhat's "At t-end"). The struct sizes are printed too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use brokkr_codec::{Packet, ProtocolVersion};
use brokkr_core::limits::Limits;
use brokkr_core::shard::{Conn, Session, Shard};
use brokkr_testkit::build::{self, encode};
use std::mem::size_of;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let v = ProtocolVersion::V3_1_1;
    let mut shard = Shard::new(Limits::default(), 1);
    let now = 1_000;
    for i in 0..n {
        let id = shard.accept(now);
        let connect = build::connect(v, &format!("bb-c{i}"));
        shard.bytes_received(now, id, &encode(&Packet::Connect(Box::new(connect)), v));
        for conn in shard.take_dirty() {
            let bytes = shard.take_write(conn);
            shard.written(conn, bytes.len());
        }
    }
    assert_eq!(shard.session_count(), n);
    println!(
        "connections {} sessions {}; size_of Conn {} B, Session {} B",
        shard.connection_count(),
        shard.session_count(),
        size_of::<Conn>(),
        size_of::<Session>()
    );
    // Exit with the shard alive: the profiler's end-of-run heap is the idle state.
    std::process::exit(0);
}
