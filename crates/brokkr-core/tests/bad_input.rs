//! Table-driven bad input: each malformed or forbidden packet, in the phase where it is sent,
//! gets exactly the expected answer (a CONNACK or DISCONNECT reason code, or a bare close), and
//! the broker keeps serving a bystander.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr_codec::*;
use brokkr_core::limits::Limits;
use brokkr_core::shard::Shard;
use brokkr_testkit::build::{self, encode};
use bytes::BytesMut;

use ProtocolVersion::{V3_1_1 as V311, V5};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Closed without a packet.
    Close,
    /// CONNACK with this reason, then closed.
    ConnAck(ReasonCode),
    /// DISCONNECT with this reason, then closed.
    Disconnect(ReasonCode),
}

fn connect_bytes(v: ProtocolVersion) -> Vec<u8> {
    encode(&Packet::Connect(Box::new(build::connect(v, "bad"))), v)
}

fn read_all(shard: &mut Shard, id: brokkr_core::shard::ConnId, v: ProtocolVersion) -> Vec<Packet> {
    let mut buf = BytesMut::from(shard.write_buffer(id));
    shard.consumed(id, buf.len());
    let mut out = Vec::new();
    while let Some(raw) = framer::next_packet(&mut buf, usize::MAX).unwrap() {
        out.push(Packet::decode(raw, v).unwrap());
    }
    out
}

/// (name, version, connect first?, bytes, expected answer)
fn cases() -> Vec<(&'static str, ProtocolVersion, bool, Vec<u8>, Expect)> {
    use Expect::*;
    use ReasonCode as R;
    let mut bad_flags_connect = connect_bytes(V5);
    bad_flags_connect[9] |= 1; // reserved connect flag
    let mut level_9 = connect_bytes(V5);
    level_9[8] = 9;
    vec![
        ("first packet PINGREQ", V311, false, vec![0xC0, 0x00], Close),
        (
            "first packet PUBLISH",
            V5,
            false,
            vec![0x30, 0x03, 0x00, 0x01, b't'],
            Close,
        ),
        (
            "reserved CONNECT flag v5",
            V5,
            false,
            bad_flags_connect,
            ConnAck(R::MalformedPacket),
        ),
        (
            "protocol level 9",
            V5,
            false,
            level_9,
            ConnAck(R::UnsupportedProtocolVersion),
        ),
        (
            "5-byte remaining length",
            V311,
            true,
            vec![0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
            Close,
        ),
        (
            "5-byte remaining length v5",
            V5,
            true,
            vec![0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
            Disconnect(R::MalformedPacket),
        ),
        (
            "QoS 3 PUBLISH",
            V5,
            true,
            vec![0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01],
            Disconnect(R::MalformedPacket),
        ),
        (
            "wildcard in topic",
            V5,
            true,
            vec![0x30, 0x04, 0x00, 0x02, b'a', b'#'],
            Disconnect(R::TopicNameInvalid),
        ),
        (
            "topic alias 0",
            V5,
            true,
            vec![0x30, 0x07, 0x00, 0x01, b't', 0x03, 0x23, 0x00, 0x00],
            Disconnect(R::TopicAliasInvalid),
        ),
        (
            "unknown topic alias",
            V5,
            true,
            vec![0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x05],
            Disconnect(R::ProtocolError),
        ),
        (
            "subscription id from client",
            V5,
            true,
            vec![0x30, 0x06, 0x00, 0x01, b't', 0x02, 0x0B, 0x01],
            Disconnect(R::ProtocolError),
        ),
        (
            "second CONNECT v5",
            V5,
            true,
            connect_bytes(V5),
            Disconnect(R::ProtocolError),
        ),
        ("second CONNECT v3", V311, true, connect_bytes(V311), Close),
        (
            "SUBSCRIBE bad flags",
            V311,
            true,
            vec![0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b't', 0x00],
            Close,
        ),
        (
            "SUBSCRIBE no filters",
            V5,
            true,
            vec![0x82, 0x03, 0x00, 0x01, 0x00],
            Disconnect(R::ProtocolError),
        ),
        (
            "UNSUBSCRIBE no filters",
            V5,
            true,
            vec![0xA2, 0x03, 0x00, 0x01, 0x00],
            Disconnect(R::ProtocolError),
        ),
        (
            "PUBREL bad flags",
            V5,
            true,
            vec![0x60, 0x02, 0x00, 0x01],
            Disconnect(R::MalformedPacket),
        ),
        (
            "PINGREQ with body",
            V5,
            true,
            vec![0xC0, 0x01, 0x00],
            Disconnect(R::MalformedPacket),
        ),
        (
            "CONNACK from client",
            V5,
            true,
            vec![0x20, 0x03, 0x00, 0x00, 0x00],
            Disconnect(R::ProtocolError),
        ),
        ("AUTH in 3.1.1", V311, true, vec![0xF0, 0x00], Close),
        (
            "AUTH after CONNECT",
            V5,
            true,
            vec![0xF0, 0x00],
            Disconnect(R::ProtocolError),
        ),
        (
            "invalid UTF-8 topic",
            V311,
            true,
            vec![0x30, 0x04, 0x00, 0x02, 0xC0, 0xAF],
            Close,
        ),
        (
            "packet type 0",
            V5,
            true,
            vec![0x00, 0x00],
            Disconnect(R::MalformedPacket),
        ),
        (
            "DISCONNECT bad reason",
            V5,
            true,
            vec![0xE0, 0x01, 0x18],
            Disconnect(R::MalformedPacket),
        ),
    ]
}

#[test]
fn every_bad_packet_gets_its_answer_and_others_are_still_served() {
    for (name, v, connect_first, bytes, expect) in cases() {
        let mut shard = Shard::new(Limits::default(), 3);
        // A bystander subscribed to `b`, and its publisher.
        let by = shard.accept(0);
        let mut setup = encode(
            &Packet::Connect(Box::new(build::connect(V311, "bystander"))),
            V311,
        );
        setup.extend(encode(
            &Packet::Subscribe(build::subscribe(1, &["b"], QoS::AtMostOnce)),
            V311,
        ));
        shard.bytes_received(0, by, &setup);
        let _ = read_all(&mut shard, by, V311);

        let bad = shard.accept(0);
        if connect_first {
            shard.bytes_received(0, bad, &connect_bytes(v));
            let got = read_all(&mut shard, bad, v);
            assert!(
                matches!(&got[..], [Packet::ConnAck(a)] if a.reason == ReasonCode::Success),
                "{name}: {got:?}"
            );
        }
        shard.bytes_received(0, bad, &bytes);
        let got = read_all(&mut shard, bad, v);
        match expect {
            Expect::Close => assert!(got.is_empty(), "{name}: expected a bare close, got {got:?}"),
            Expect::ConnAck(r) => assert!(
                matches!(&got[..], [Packet::ConnAck(a)] if a.reason == r),
                "{name}: {got:?}"
            ),
            Expect::Disconnect(r) => assert!(
                matches!(&got[..], [Packet::Disconnect(d)] if d.reason == r),
                "{name}: {got:?}"
            ),
        }
        assert!(shard.take_closed().contains(&bad), "{name}: not closed");

        // The broker still serves others.
        let publisher = shard.accept(0);
        let mut p = encode(
            &Packet::Connect(Box::new(build::connect(V311, "publisher"))),
            V311,
        );
        p.extend(encode(
            &Packet::Publish(build::publish("b", b"still here", QoS::AtMostOnce, false)),
            V311,
        ));
        shard.bytes_received(0, publisher, &p);
        let got = read_all(&mut shard, by, V311);
        assert!(
            matches!(&got[..], [Packet::Publish(p)] if &p.payload[..] == b"still here"),
            "{name}: bystander got {got:?}"
        );
    }
}
