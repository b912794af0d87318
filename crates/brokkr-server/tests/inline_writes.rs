//! The worker writes to connections itself, once per loop turn, and leaves a connection's
//! socket to its task only once it would block. These tests make sockets block for real (a
//! subscriber with a tiny receive buffer that does not read for a while) and check that
//! nothing is lost or reordered on the way: at QoS 1 while the subscriber catches up, and at
//! QoS 0 when the connection closes with bytes still waiting for the socket.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use brokkr_codec::*;
use brokkr_core::limits::Limits;
use brokkr_testkit::build;
use common::{Broker, Client, free_port};
use std::net::TcpStream;
use std::time::Duration;

const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

/// Messages of this size, this many: far more than the subscriber's socket buffers hold.
const PAYLOAD_BYTES: usize = 4096;
const MESSAGES: u32 = 1500;

/// Limits under which nothing the test sends is dropped: what waits for the slow subscriber
/// fits its write buffer and its session's queue.
fn roomy() -> Limits {
    Limits {
        qos_pending_messages_max: 65_000,
        qos_pending_bytes_max: 64 << 20,
        write_buffer_bytes_max: 64 << 20,
        ..Limits::default()
    }
}

/// A connected client whose socket has a small receive buffer, so that the broker's socket
/// to it blocks long before the test sends everything.
fn small_window_client(broker: &Broker, id: &str) -> Client {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&broker.addr.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_nodelay(true).unwrap();
    let mut c = Client::from_stream(stream, V311);
    c.send(&Packet::Connect(Box::new(build::connect(V311, id))));
    assert!(matches!(
        c.recv(Duration::from_secs(5)),
        Some(Packet::ConnAck(_))
    ));
    c
}

fn subscribe(c: &mut Client, filter: &str, qos: QoS) {
    c.send(&Packet::Subscribe(build::subscribe(1, &[filter], qos)));
    assert!(matches!(
        c.recv(Duration::from_secs(5)),
        Some(Packet::SubAck(_))
    ));
}

/// Publish message `i` of the sequence: its number, then filler.
fn numbered(i: u32, qos: QoS, pid: u16) -> Packet {
    let mut payload = vec![0u8; PAYLOAD_BYTES];
    payload[..4].copy_from_slice(&i.to_be_bytes());
    let mut p = build::publish("slow/seq", &payload, qos, false);
    p.qos_pid = QosPid::from_parts(qos, build::pid(pid));
    Packet::Publish(p)
}

/// Publish the whole sequence at QoS 1 and wait for every PUBACK: the broker has routed it all.
fn publish_all(publisher: &mut Client) {
    for i in 0..MESSAGES {
        let pid = u16::try_from(i % 60_000 + 1).unwrap();
        publisher.send(&numbered(i, QoS::AtLeastOnce, pid));
    }
    for _ in 0..MESSAGES {
        match publisher.recv(Duration::from_secs(10)) {
            Some(Packet::PubAck(_)) => {}
            other => panic!("expected PUBACK, got {other:?}"),
        }
    }
}

/// The number a received PUBLISH carries.
fn number_of(p: &Publish) -> u32 {
    assert_eq!(p.payload.len(), PAYLOAD_BYTES);
    u32::from_be_bytes(p.payload[..4].try_into().unwrap())
}

fn slow_qos1_subscriber_gets_everything_in_order(workers: usize) {
    let broker = Broker::start_with(free_port(), workers, roomy());
    let mut sub = small_window_client(&broker, "slow-sub");
    subscribe(&mut sub, "slow/#", QoS::AtLeastOnce);
    let (mut publisher, _) = Client::connect(broker.addr, V311, build::connect(V311, "fast-pub"));
    // The subscriber reads nothing until everything is published: its socket blocks, and the
    // rest waits in the broker.
    publish_all(&mut publisher);
    for expected in 0..MESSAGES {
        match sub.recv(Duration::from_secs(10)) {
            Some(Packet::Publish(p)) => {
                assert_eq!(number_of(&p), expected, "out of order");
                let id = p.qos_pid.packet_id().expect("QoS 1 has an id");
                sub.send(&Packet::PubAck(PubAck::new(id)));
            }
            other => panic!("message {expected}: expected PUBLISH, got {other:?}"),
        }
    }
    // Nothing more, nothing twice.
    assert!(sub.recv(Duration::from_millis(200)).is_none());
}

#[test]
fn a_slow_qos1_subscriber_whose_socket_blocks_gets_everything_in_order() {
    slow_qos1_subscriber_gets_everything_in_order(1);
}

/// Publisher and subscriber on different workers: deliveries arrive through the inbox.
#[test]
fn a_slow_qos1_subscriber_on_another_worker_gets_everything_in_order() {
    slow_qos1_subscriber_gets_everything_in_order(2);
}

/// A subscriber whose socket is blocked disconnects: what was encoded for it before (waiting
/// for the socket, and still in the shard's buffer) is written in order, then the socket
/// closes.
#[test]
fn a_closing_connection_with_bytes_waiting_for_its_socket_gets_them_all_then_eof() {
    let broker = Broker::start_with(free_port(), 1, roomy());
    let mut sub = small_window_client(&broker, "closing-sub");
    subscribe(&mut sub, "slow/#", QoS::AtMostOnce);
    let (mut publisher, _) = Client::connect(broker.addr, V311, build::connect(V311, "fast-pub"));
    // One worker: every PUBACK means the delivery is in the subscriber's buffers.
    publish_all(&mut publisher);
    sub.send(&Packet::Disconnect(Disconnect::default()));
    for expected in 0..MESSAGES {
        match sub.recv(Duration::from_secs(10)) {
            Some(Packet::Publish(p)) => assert_eq!(number_of(&p), expected, "out of order"),
            other => panic!("message {expected}: expected PUBLISH, got {other:?}"),
        }
    }
    // Then the end of the stream.
    let mut s = sub.into_stream();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 64];
    let n = std::io::Read::read(&mut s, &mut buf).unwrap();
    assert_eq!(n, 0, "the broker wrote more after the last message");
}

/// A subscriber writes a PUBLISH to its own topic and DISCONNECT in one segment: the delivery
/// the read produced is written before the socket closes, although the connection closes in
/// the same turn it was written in.
#[test]
fn a_delivery_made_in_the_closing_turn_is_written_before_the_close() {
    let broker = Broker::start(1);
    let (mut c, _) = Client::connect(broker.addr, V311, build::connect(V311, "self-sub"));
    subscribe(&mut c, "loop/#", QoS::AtMostOnce);
    let mut bytes = build::encode(
        &Packet::Publish(build::publish(
            "loop/x",
            b"last words",
            QoS::AtMostOnce,
            false,
        )),
        V311,
    );
    bytes.extend(build::encode(
        &Packet::Disconnect(Disconnect::default()),
        V311,
    ));
    c.write_raw(&bytes);
    match c.recv(Duration::from_secs(5)) {
        Some(Packet::Publish(p)) => assert_eq!(&p.payload[..], b"last words"),
        other => panic!("expected the PUBLISH, got {other:?}"),
    }
    assert!(c.recv(Duration::from_secs(5)).is_none(), "not closed");
}
