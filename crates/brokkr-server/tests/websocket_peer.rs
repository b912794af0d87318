//! Our websocket listener against another implementation: tungstenite's client (its own
//! upgrade request, masked frames; it checks our 101 and our unmasked server frames) carries
//! MQTT through brokkr and back, gets pongs for its pings and a close frame for its close.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use brokkr_codec::*;
use brokkr_core::limits::Limits;
use brokkr_server::transport::TransportSpec;
use brokkr_testkit::build;
use bytes::BytesMut;
use common::{Broker, free_port};
use std::net::TcpStream;
use std::time::Duration;
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

fn ws_broker() -> Broker {
    let spec = TransportSpec {
        websocket: true,
        ..TransportSpec::default()
    };
    Broker::start_transport(free_port(), 2, Limits::default(), spec)
}

fn open(broker: &Broker) -> WebSocket<TcpStream> {
    let stream = TcpStream::connect(broker.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut request = format!("ws://{}/mqtt", broker.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "mqtt".parse().unwrap());
    let (ws, response) = tungstenite::client(request, stream).unwrap();
    assert_eq!(
        response.headers()["Sec-WebSocket-Protocol"],
        "mqtt",
        "the subprotocol is echoed"
    );
    ws
}

fn send(ws: &mut WebSocket<TcpStream>, p: &Packet) {
    let mut out = BytesMut::new();
    p.encode(V311, &mut out).unwrap();
    ws.send(Message::binary(out.to_vec())).unwrap();
}

/// The next MQTT packet, from however many binary messages it takes.
fn recv(ws: &mut WebSocket<TcpStream>, buf: &mut BytesMut) -> Packet {
    loop {
        if let Ok(Some(raw)) = framer::next_packet(buf, usize::MAX) {
            return Packet::decode(raw, V311).unwrap();
        }
        match ws.read().unwrap() {
            Message::Binary(b) => buf.extend_from_slice(&b),
            other => panic!("expected a binary message, got {other:?}"),
        }
    }
}

#[test]
fn mqtt_through_tungstenite_both_ways() {
    let broker = ws_broker();
    let mut sub = open(&broker);
    let mut sub_buf = BytesMut::new();
    send(
        &mut sub,
        &Packet::Connect(Box::new(build::connect(V311, "ws-sub"))),
    );
    assert!(matches!(recv(&mut sub, &mut sub_buf), Packet::ConnAck(_)));
    send(
        &mut sub,
        &Packet::Subscribe(build::subscribe(1, &["t/#"], QoS::AtLeastOnce)),
    );
    assert!(matches!(recv(&mut sub, &mut sub_buf), Packet::SubAck(_)));

    let mut publisher = open(&broker);
    let mut pub_buf = BytesMut::new();
    send(
        &mut publisher,
        &Packet::Connect(Box::new(build::connect(V311, "ws-pub"))),
    );
    assert!(matches!(
        recv(&mut publisher, &mut pub_buf),
        Packet::ConnAck(_)
    ));
    // A 100 KB payload: several server frames' worth of TCP, one binary message each way.
    let payload = vec![7u8; 100_000];
    send(
        &mut publisher,
        &Packet::Publish(build::publish("t/big", &payload, QoS::AtLeastOnce, false)),
    );
    assert!(matches!(
        recv(&mut publisher, &mut pub_buf),
        Packet::PubAck(_)
    ));
    match recv(&mut sub, &mut sub_buf) {
        Packet::Publish(p) => {
            assert_eq!(p.topic.as_str(), "t/big");
            assert_eq!(&p.payload[..], &payload[..]);
        }
        other => panic!("expected the PUBLISH, got {other:?}"),
    }
    broker.stop();
}

#[test]
fn pings_get_pongs_and_a_close_gets_a_close() {
    let broker = ws_broker();
    let mut ws = open(&broker);
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .unwrap();
    match ws.read().unwrap() {
        Message::Pong(p) => assert_eq!(&p[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
    ws.close(None).unwrap();
    // tungstenite answers our close frame's echo by finishing the handshake.
    loop {
        match ws.read() {
            Ok(Message::Close(_)) => {}
            Ok(other) => panic!("unexpected message after close: {other:?}"),
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("the close handshake failed: {e}"),
        }
    }
    broker.stop();
}
