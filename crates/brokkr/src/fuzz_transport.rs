//! The websocket, PROXY protocol and TLS harnesses of `--fuzz-file`, through the production
//! transport stack (`brokkr_server::transport::Stack`), the same code a listener runs.
//!
//! A PROXY header (v1 or v2) is also parsed, re-encoded and parsed again (the two parses must
//! agree); the bytes after it are the client's connection, itself possibly a websocket or TLS
//! (the fuzz mode's deterministic TLS server, so recorded sessions reach MQTT). The stack is fed
//! the input whole and in small chunks: the MQTT bytes it unwraps, its verdict, the address and
//! the username it learns must not depend on how the bytes arrived; what it writes back must
//! stay within its bound, and a websocket's must be well-formed frames. The MQTT bytes then take
//! the plain connection path with all its oracles.
//!
//! The oracles panic on purpose: in fuzz mode a panic aborts, the crash AFL reports.
#![allow(clippy::panic)]

use crate::fuzz::{Outcome, Transport, mqtt_connection};
use brokkr_codec::proxy::{self, ProxyParse};
use brokkr_codec::ws::{self, Deframer, WsEvent, WsLimits};
use brokkr_server::tls::TlsListener;
use brokkr_server::transport::{
    ProxyMode, Stack, TRANSPORT_OUT_BYTES_MAX, TransportError, TransportSpec,
};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::Arc;

/// Bound on the MQTT bytes one connection may carry in one fuzz run.
const STREAM_BYTES_MAX: usize = 8 << 20;

/// What the stack may write beyond its own bound in the one call that crosses it (a pong, a
/// close frame, a TLS alert or record).
const OUT_SLACK_BYTES: usize = 64 * 1024;

/// The upgrade request put in front of selector 0x01's bare frames.
const UPGRADE: &[u8] = b"GET /mqtt HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";

/// Run `bytes` through the harness for `transport`.
pub fn run(transport: Transport, bytes: &[u8]) -> Outcome {
    match transport {
        Transport::Proxy => proxied(bytes),
        Transport::WebsocketHandshake => stacked(spec(ProxyMode::Off, true, false), bytes),
        Transport::WebsocketUpgraded => {
            let mut framed = UPGRADE.to_vec();
            framed.extend_from_slice(bytes);
            stacked(spec(ProxyMode::Off, true, false), &framed)
        }
        _ => mqtt_connection(bytes),
    }
}

/// The listener a fuzz input is served on.
fn spec(proxy: ProxyMode, websocket: bool, tls: bool) -> Arc<TransportSpec> {
    let tls = tls
        .then(crate::fuzz_tls::server_config)
        .and_then(Result::ok)
        .map(|config| Arc::new(TlsListener::fixed(config, false)));
    Arc::new(TransportSpec {
        proxy,
        tls,
        websocket,
        ..TransportSpec::default()
    })
}

fn proxied(bytes: &[u8]) -> Outcome {
    let Ok(ProxyParse::Header { consumed, header }) = proxy::parse(bytes) else {
        // Not a complete header: the stack must refuse it or wait, never pass bytes on.
        let outcome = stacked(spec(ProxyMode::On, false, false), bytes);
        assert_eq!(
            outcome.packets, 0,
            "MQTT bytes passed a broken PROXY header"
        );
        return outcome;
    };
    assert!(
        consumed <= bytes.len(),
        "PROXY parser consumed past the input"
    );
    // Re-encode oracle, in the same version as the input.
    let mut out = BytesMut::new();
    let encoded = if proxy::looks_like_v2(bytes) {
        proxy::encode_v2(&header, &mut out)
    } else {
        proxy::encode_v1(&header, &mut out)
    };
    if encoded.is_ok() {
        match proxy::parse(&out) {
            Ok(ProxyParse::Header {
                consumed,
                header: again,
            }) => {
                assert_eq!(consumed, out.len(), "re-encoded PROXY header length");
                assert_eq!(again.source, header.source);
                assert_eq!(again.destination, header.destination);
                assert_eq!(again.local, header.local);
            }
            other => panic!("re-encoded PROXY header does not parse: {other:?}"),
        }
    }
    let rest = bytes.get(consumed..).unwrap_or_default();
    // A header with the SSL TLV goes to a `client_verification` listener (which mode comes
    // from the input's length, so both are reached); any other to `haproxy on`, so that seeds
    // without a certificate still reach MQTT.
    let mode = match (&header.ssl, bytes.len() % 3) {
        (None, _) | (Some(_), 0) => ProxyMode::On,
        (Some(_), 1) => ProxyMode::ClientVerification,
        (Some(_), _) => ProxyMode::ClientVerificationWithAuthn,
    };
    let websocket = rest.starts_with(b"GET ");
    let tls = crate::fuzz_tls::looks_like_client_hello(rest);
    stacked(spec(mode, websocket, tls), bytes)
}

/// What one pass of the input through a stack produced.
#[derive(Debug, PartialEq, Eq)]
struct Pass {
    mqtt: Vec<u8>,
    /// The error that ended it, as text (errors are not comparable otherwise).
    failed: Option<String>,
    peer: Option<SocketAddr>,
    user: Option<(String, bool)>,
    closed_by_peer: bool,
}

/// Feed `bytes` to a new stack `chunk` bytes at a time; check its output as it goes.
fn feed(spec: &Arc<TransportSpec>, bytes: &[u8], chunk: usize) -> Pass {
    let direct: SocketAddr = ([127, 0, 0, 1], 1).into();
    let mut pass = Pass {
        mqtt: Vec::new(),
        failed: None,
        peer: None,
        user: None,
        closed_by_peer: false,
    };
    let Ok(mut stack) = Stack::new(Arc::clone(spec), Some(direct)) else {
        panic!("the fuzz listener cannot make a connection");
    };
    let mut written = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        let result = stack.ingest(piece, &mut pass.mqtt);
        let out = stack.take_out();
        assert!(
            out.len() <= TRANSPORT_OUT_BYTES_MAX + OUT_SLACK_BYTES,
            "the transport wrote {} bytes in one step",
            out.len()
        );
        written.extend_from_slice(&out);
        written.truncate(TRANSPORT_OUT_BYTES_MAX);
        match result {
            Ok(learned) => {
                if let Some(peer) = learned.peer {
                    assert!(pass.peer.is_none(), "the address was learned twice");
                    pass.peer = Some(peer);
                }
                if let Some(user) = learned.user {
                    assert!(pass.user.is_none(), "the username was learned twice");
                    pass.user = Some((user.name.to_string(), user.still_authenticate));
                }
            }
            Err(e) => {
                if let TransportError::OutputOverflow = e {
                    panic!("a fuzz input overflowed the transport's output: {e}");
                }
                pass.failed = Some(e.to_string());
                break;
            }
        }
        if stack.closed_by_peer() {
            pass.closed_by_peer = true;
            break;
        }
        if pass.mqtt.len() > STREAM_BYTES_MAX {
            break;
        }
    }
    if pass.failed.is_none() {
        assert_eq!(
            stack.peer(),
            pass.peer.or(Some(direct)),
            "the address it reported"
        );
    } else {
        // One read carrying a PROXY header and then something refused reports only the
        // refusal: compare what was learned through the stack's state instead, and drop the
        // username of a refused connection.
        pass.peer = stack.peer().filter(|p| *p != direct);
        pass.user = None;
    }
    if spec.websocket && spec.tls.is_none() && spec.proxy == ProxyMode::Off {
        check_websocket_output(&written, pass.failed.is_some());
        check_seal(&mut stack);
    }
    pass
}

/// After the `101` response, the server wrote only whole, well-formed frames.
fn check_websocket_output(written: &[u8], failed: bool) {
    let Some(end) = written.windows(4).position(|w| w == b"\r\n\r\n") else {
        // No complete response: the request was incomplete, or refused with an HTTP error.
        assert!(
            written.is_empty() || written.starts_with(b"HTTP/1.1 4") || !failed,
            "a websocket answer that is neither a 101 nor an HTTP error"
        );
        return;
    };
    if !written.starts_with(b"HTTP/1.1 101") {
        return; // an HTTP error response
    }
    if written.len() >= TRANSPORT_OUT_BYTES_MAX {
        return; // cut by the harness's own bound
    }
    let mut frames = BytesMut::from(written.get(end + 4..).unwrap_or_default());
    let mut deframer = Deframer::new(&WsLimits::DEFAULT);
    while !frames.is_empty() {
        match deframer.next(&mut frames) {
            Ok(Some(WsEvent::Pong | WsEvent::Close { .. })) => {}
            Ok(other) => panic!("the server sent an unexpected frame: {other:?}"),
            Err(e) => panic!("the server sent a malformed frame: {e}"),
        }
    }
}

/// MQTT bytes sealed by a websocket stack come out as one binary frame carrying them.
fn check_seal(stack: &mut Stack) {
    let payload = [0x30, 3, 0, 1, b'x'];
    stack.seal(&payload);
    let out = stack.take_out();
    let mut frames = BytesMut::from(out.as_slice());
    let mut deframer = Deframer::new(&WsLimits::DEFAULT);
    match deframer.next(&mut frames) {
        Ok(Some(WsEvent::Data(data))) => assert_eq!(&data[..], &payload[..]),
        other => panic!("a sealed chunk is not one binary frame: {other:?}"),
    }
    assert!(frames.is_empty(), "bytes after the sealed frame");
    let mut check = BytesMut::new();
    ws::encode_binary(&payload, &mut check);
    assert_eq!(&out[..], &check[..]);
}

/// Run the input through a stack for `spec` whole and chunked; compare; then the MQTT path.
fn stacked(spec: Arc<TransportSpec>, bytes: &[u8]) -> Outcome {
    let whole = feed(&spec, bytes, bytes.len());
    let chunked = feed(&spec, bytes, 1 + bytes.len() % 7);
    assert_eq!(
        whole, chunked,
        "the transport's result depends on how the bytes arrived"
    );
    mqtt_connection(&whole.mqtt)
}
