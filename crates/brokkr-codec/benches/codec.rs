//! Codec benchmarks (divan): decode and encode of a 64-byte-payload PUBLISH, a CONNECT and a
//! SUBSCRIBE, in MQTT 3.1.1 and 5.0, plus framing a buffer of 1,000 PUBLISH packets.
//! Run: `cargo bench -p brokkr-codec`. Figures go to docs/benchmarks.md.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr_codec::*;
use bytes::{Bytes, BytesMut};
use divan::{Bencher, black_box};
use std::num::NonZeroU32;

fn main() {
    divan::main();
}

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V3_1_1, ProtocolVersion::V5];

fn publish(v: ProtocolVersion) -> Packet {
    let mut p = Publish {
        dup: false,
        qos_pid: QosPid::AtLeastOnce(PacketId::new(7).unwrap()),
        retain: false,
        topic: TopicName::new("sensors/building-4/floor-2/temperature").unwrap(),
        properties: Default::default(),
        payload: Bytes::from(vec![b'x'; 64]),
    };
    if v.is_v5() {
        p.properties = PublishPropertiesBuilder {
            message_expiry_interval_secs: Some(60),
            ..Default::default()
        }
        .build()
        .unwrap();
    }
    Packet::Publish(p)
}

fn connect(v: ProtocolVersion) -> Packet {
    let mut c = Connect {
        protocol: ConnectProtocol(v),
        clean_start: true,
        keep_alive_secs: 60,
        client_id: ClientId::new(MqttString::new("device-0042-abcdef").unwrap()),
        username: Some(MqttString::new("fleet").unwrap()),
        password: Some(Bytes::from_static(b"correct horse battery staple")),
        ..Default::default()
    };
    if v.is_v5() {
        c.properties.session_expiry_interval_secs = Some(3600);
        c.properties.receive_maximum = std::num::NonZeroU16::new(100);
    }
    Packet::Connect(Box::new(c))
}

fn subscribe(v: ProtocolVersion) -> Packet {
    let opts = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        ..Default::default()
    };
    let mut s = Subscribe {
        packet_id: PacketId::new(1).unwrap(),
        properties: Default::default(),
        filters: vec![
            (TopicFilter::new("sensors/+/floor-2/#").unwrap(), opts),
            (TopicFilter::new("commands/device-0042").unwrap(), opts),
        ],
    };
    if v.is_v5() {
        s.properties.subscription_identifier = NonZeroU32::new(5);
    }
    Packet::Subscribe(s)
}

fn raw(p: &Packet, v: ProtocolVersion) -> RawPacket {
    let mut out = BytesMut::new();
    p.encode(v, &mut out).unwrap();
    next_packet(&mut out, usize::MAX).unwrap().unwrap()
}

fn bench_decode(b: Bencher, packet: Packet, v: ProtocolVersion) {
    let raw = raw(&packet, v);
    // The decoded packet is dropped inside the timed region (a broker pays for that too); the
    // clone of the raw body is one reference-count increment, as a received packet costs.
    b.counter(divan::counter::ItemsCount::new(1usize))
        .bench_local(|| {
            let r = black_box(&raw).clone();
            let packet = Packet::decode(r, v).unwrap();
            black_box(&packet);
        });
}

fn bench_encode(b: Bencher, packet: Packet, v: ProtocolVersion) {
    let mut out = BytesMut::with_capacity(4096);
    b.counter(divan::counter::ItemsCount::new(1usize))
        .bench_local(|| {
            out.clear();
            black_box(&packet).encode(v, &mut out).unwrap();
            black_box(out.len())
        });
}

// Fixed batches: divan's automatic sizing picked one iteration per sample for some of these
// (timer overhead then dominates), so each runs 200 samples of 10,000 iterations.
#[divan::bench(args = VERSIONS, sample_count = 200, sample_size = 10_000)]
fn decode_publish(b: Bencher, v: ProtocolVersion) {
    bench_decode(b, publish(v), v);
}

// Fixed batches: divan's automatic sizing picked one iteration per sample for some of these
// (timer overhead then dominates), so each runs 200 samples of 10,000 iterations.
/// MQTT 5 PUBLISH without properties (what mosquitto_pub and most devices send).
#[divan::bench(sample_count = 200, sample_size = 10_000)]
fn decode_publish_v5_without_properties(b: Bencher) {
    let mut p = publish(ProtocolVersion::V3_1_1);
    if let Packet::Publish(inner) = &mut p {
        inner.properties = Default::default();
    }
    bench_decode(b, p, ProtocolVersion::V5);
}

#[divan::bench(args = VERSIONS, sample_count = 200, sample_size = 10_000)]
fn encode_publish(b: Bencher, v: ProtocolVersion) {
    bench_encode(b, publish(v), v);
}

// Fixed batches: divan's automatic sizing picked one iteration per sample for some of these
// (timer overhead then dominates), so each runs 200 samples of 10,000 iterations.
#[divan::bench(args = VERSIONS, sample_count = 200, sample_size = 10_000)]
fn decode_connect(b: Bencher, v: ProtocolVersion) {
    bench_decode(b, connect(v), v);
}

// Fixed batches: divan's automatic sizing picked one iteration per sample for some of these
// (timer overhead then dominates), so each runs 200 samples of 10,000 iterations.
#[divan::bench(args = VERSIONS, sample_count = 200, sample_size = 10_000)]
fn encode_connect(b: Bencher, v: ProtocolVersion) {
    bench_encode(b, connect(v), v);
}

// Fixed batches: divan's automatic sizing picked one iteration per sample for some of these
// (timer overhead then dominates), so each runs 200 samples of 10,000 iterations.
#[divan::bench(args = VERSIONS, sample_count = 200, sample_size = 10_000)]
fn decode_subscribe(b: Bencher, v: ProtocolVersion) {
    bench_decode(b, subscribe(v), v);
}

// Fixed batches: divan's automatic sizing picked one iteration per sample for some of these
// (timer overhead then dominates), so each runs 200 samples of 10,000 iterations.
#[divan::bench(args = VERSIONS, sample_count = 200, sample_size = 10_000)]
fn encode_subscribe(b: Bencher, v: ProtocolVersion) {
    bench_encode(b, subscribe(v), v);
}

/// Framing plus decoding of 1,000 back-to-back PUBLISH packets from one read buffer.
#[divan::bench(args = VERSIONS, sample_count = 200, sample_size = 10)]
fn frame_and_decode_1000_publish(b: Bencher, v: ProtocolVersion) {
    let mut one = BytesMut::new();
    publish(v).encode(v, &mut one).unwrap();
    let stream: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1000).collect();
    b.counter(divan::counter::ItemsCount::new(1000usize))
        .with_inputs(|| BytesMut::from(&stream[..]))
        .bench_local_values(|mut buf| {
            let mut n = 0;
            while let Some(raw) = next_packet(&mut buf, 1 << 20).unwrap() {
                black_box(Packet::decode(raw, v).unwrap());
                n += 1;
            }
            n
        });
}
