//! The websocket and PROXY protocol harnesses of `--fuzz-file`.
//!
//! A PROXY header (v1 or v2) is parsed, re-encoded and parsed again (the two parses must agree);
//! the bytes after it are the client's connection, itself possibly a websocket or TLS. A websocket
//! connection is the upgrade request (answered with our 101 response), then frames: data frames
//! are joined into the MQTT byte stream, pings are answered, a close frame ends the connection.
//! The MQTT stream then takes the plain connection path with all its oracles.
//!
//! The oracles panic on purpose: in fuzz mode a panic aborts, the crash AFL reports.
#![allow(clippy::panic)]

use crate::fuzz::{Outcome, Transport, mqtt_connection};
use brokkr_codec::proxy::{self, ProxyParse};
use brokkr_codec::ws::{self, Deframer, UpgradeParse, WsEvent, WsLimits};
use bytes::BytesMut;

/// Bound on the MQTT bytes a websocket connection may carry in one fuzz run.
const WS_STREAM_BYTES_MAX: usize = 8 << 20;

/// Run `bytes` through the harness for `transport`.
pub fn run(transport: Transport, bytes: &[u8]) -> Outcome {
    match transport {
        Transport::Proxy => proxied(bytes),
        Transport::WebsocketHandshake => websocket(bytes, true),
        Transport::WebsocketUpgraded => websocket(bytes, false),
        _ => mqtt_connection(bytes),
    }
}

fn proxied(bytes: &[u8]) -> Outcome {
    let Ok(ProxyParse::Header { consumed, header }) = proxy::parse(bytes) else {
        return Outcome::default();
    };
    let rest = bytes.get(consumed..).unwrap_or_default();
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
    if rest.starts_with(b"GET ") {
        websocket(rest, true)
    } else if crate::fuzz_tls::looks_like_client_hello(rest) {
        crate::fuzz_tls::run(rest)
    } else {
        mqtt_connection(rest)
    }
}

fn websocket(bytes: &[u8], with_handshake: bool) -> Outcome {
    let limits = WsLimits::default();
    let mut frames = bytes;
    if with_handshake {
        match ws::parse_upgrade_request(bytes, &limits) {
            Ok(UpgradeParse::Request { consumed, request }) => {
                assert!(consumed <= bytes.len());
                let mut response = BytesMut::new();
                ws::write_switching_protocols(&request, &mut response);
                assert!(response.starts_with(b"HTTP/1.1 101"));
                frames = bytes.get(consumed..).unwrap_or_default();
            }
            Ok(UpgradeParse::NeedMore) => return Outcome::default(),
            Err(e) => {
                let mut response = BytesMut::new();
                ws::write_rejection(&e, &mut response);
                return Outcome::default();
            }
        }
    }
    let mut deframer = Deframer::new(&limits);
    let mut buf = BytesMut::from(frames);
    let mut stream = Vec::new();
    let mut replies = BytesMut::new();
    while let Ok(Some(event)) = deframer.next(&mut buf) {
        match event {
            WsEvent::Data(data) => {
                if stream.len() + data.len() > WS_STREAM_BYTES_MAX {
                    break;
                }
                stream.extend_from_slice(&data);
            }
            WsEvent::Ping(payload) => {
                let _ = ws::encode_pong(&payload, &mut replies);
            }
            WsEvent::Pong => {}
            WsEvent::Close { .. } => break,
        }
    }
    mqtt_connection(&stream)
}
