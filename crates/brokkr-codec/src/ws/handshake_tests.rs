//! Tests of the upgrade handshake: RFC 6455 section 4 and FlashMQ's `plainwebsocketpacket1`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use super::*;
use bytes::BytesMut;

const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A request head with the given extra header lines (each without CRLF).
fn request_with(first_line: &str, headers: &[&str]) -> Vec<u8> {
    let mut text = format!("{first_line}\r\n");
    for header in headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.into_bytes()
}

const GOOD_HEADERS: [&str; 6] = [
    "Host: localhost:8080",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Protocol: mqtt",
];

fn good_request() -> Vec<u8> {
    request_with("GET /mqtt HTTP/1.1", &GOOD_HEADERS)
}

/// The good request with header `index` replaced by `replacement` (or removed if `None`).
fn with_header(index: usize, replacement: Option<&str>) -> Vec<u8> {
    let mut headers: Vec<&str> = GOOD_HEADERS.to_vec();
    match replacement {
        Some(line) => headers[index] = line,
        None => {
            headers.remove(index);
        }
    }
    request_with("GET /mqtt HTTP/1.1", &headers)
}

fn parse(buf: &[u8]) -> Result<UpgradeParse, HandshakeError> {
    parse_upgrade_request(buf, &WsLimits::DEFAULT)
}

fn parse_ok(buf: &[u8]) -> (usize, UpgradeRequest) {
    match parse(buf).unwrap() {
        UpgradeParse::Request { consumed, request } => (consumed, request),
        UpgradeParse::NeedMore => panic!("expected a complete request"),
    }
}

#[test]
fn rfc6455_4_2_2_accept_key_example() {
    assert_eq!(accept_key(RFC_KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

#[test]
fn happy_path_collects_path_subprotocol_and_key() {
    let buf = good_request();
    let (consumed, request) = parse_ok(&buf);
    assert_eq!(consumed, buf.len());
    assert_eq!(request.path, "/mqtt");
    assert_eq!(request.subprotocol, Some(MqttSubprotocol::Mqtt));
    assert_eq!(request.real_ip, None);
    assert_eq!(request.key(), RFC_KEY);
}

#[test]
fn mqtt_6_0_0_4_response_echoes_mqtt_subprotocol() {
    let (_, request) = parse_ok(&good_request());
    let mut out = BytesMut::new();
    write_switching_protocols(&request, &mut out);
    let expected = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
        Sec-WebSocket-Protocol: mqtt\r\n\r\n";
    assert_eq!(&out[..], expected.as_bytes());
}

#[test]
fn response_without_subprotocol_has_no_protocol_header() {
    let (_, request) = parse_ok(&with_header(5, None));
    assert_eq!(request.subprotocol, None);
    let mut out = BytesMut::new();
    write_switching_protocols(&request, &mut out);
    let text = std::str::from_utf8(&out).unwrap();
    assert!(!text.contains("Sec-WebSocket-Protocol"));
    assert!(text.ends_with("\r\n\r\n"));
}

#[test]
fn subprotocol_lists_prefer_mqtt_and_accept_mqttv31() {
    let only_v31 = with_header(5, Some("Sec-WebSocket-Protocol: foo, mqttv3.1"));
    assert_eq!(
        parse_ok(&only_v31).1.subprotocol,
        Some(MqttSubprotocol::MqttV31)
    );
    let both = with_header(5, Some("Sec-WebSocket-Protocol: mqttv3.1 , MQTT"));
    assert_eq!(parse_ok(&both).1.subprotocol, Some(MqttSubprotocol::Mqtt));
    let neither = with_header(5, Some("Sec-WebSocket-Protocol: mqtt-ish, chat"));
    assert_eq!(parse_ok(&neither).1.subprotocol, None);
}

#[test]
fn header_names_and_tokens_are_case_insensitive_lists() {
    let mut headers = GOOD_HEADERS.to_vec();
    headers[1] = "UPGRADE: h2c, WebSocket";
    headers[2] = "connection: keep-alive, Upgrade";
    let buf = request_with("GET / HTTP/1.1", &headers);
    assert_eq!(parse_ok(&buf).1.path, "/");
}

#[test]
fn x_real_ip_is_kept_as_text_and_x_forwarded_for_ignored() {
    let mut headers = GOOD_HEADERS.to_vec();
    headers.push("X-Forwarded-For: 10.9.9.9");
    headers.push("X-Real-IP:  192.0.2.7 ");
    let (_, request) = parse_ok(&request_with("GET /mqtt HTTP/1.1", &headers));
    assert_eq!(request.real_ip.as_deref(), Some("192.0.2.7"));
}

#[test]
fn repeated_x_real_ip_is_refused() {
    let mut headers = GOOD_HEADERS.to_vec();
    headers.push("X-Real-IP: 192.0.2.7");
    headers.push("X-Real-IP: 192.0.2.8");
    let buf = request_with("GET /mqtt HTTP/1.1", &headers);
    assert_eq!(parse(&buf), Err(HandshakeError::BadRealIp));
}

#[test]
fn trailing_frame_bytes_are_not_consumed() {
    let mut buf = good_request();
    let head_len = buf.len();
    buf.extend_from_slice(&[0x82, 0x80, 1, 2, 3, 4]);
    assert_eq!(parse_ok(&buf).0, head_len);
}

#[test]
fn every_split_point_needs_more_then_parses() {
    let buf = good_request();
    for split in 0..buf.len() {
        assert_eq!(
            parse(&buf[..split]),
            Ok(UpgradeParse::NeedMore),
            "split at {split}"
        );
    }
    assert_eq!(parse_ok(&buf).0, buf.len());
}

#[test]
fn bad_request_line_is_refused() {
    let post = request_with("POST /mqtt HTTP/1.1", &GOOD_HEADERS);
    assert_eq!(parse(&post), Err(HandshakeError::MethodNotGet));
    let http10 = request_with("GET /mqtt HTTP/1.0", &GOOD_HEADERS);
    assert_eq!(parse(&http10), Err(HandshakeError::VersionNotHttp11));
    assert_eq!(
        parse(b"\x10\x1f\x00\x04MQTT"),
        Err(HandshakeError::MalformedHttp)
    );
}

#[test]
fn each_missing_or_bad_header_is_refused() {
    use HandshakeError as E;
    let cases: [(usize, Option<&str>, HandshakeError); 11] = [
        (1, None, E::MissingUpgradeWebsocket),
        (1, Some("Upgrade: h2c"), E::MissingUpgradeWebsocket),
        (2, None, E::MissingConnectionUpgrade),
        (
            2,
            Some("Connection: keep-alive"),
            E::MissingConnectionUpgrade,
        ),
        (3, None, E::MissingKey),
        (
            3,
            Some("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ"),
            E::BadKey,
        ),
        (
            3,
            Some("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA"),
            E::BadKey,
        ),
        (
            3,
            Some("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ!=="),
            E::BadKey,
        ),
        (
            3,
            Some("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR=="),
            E::BadKey,
        ),
        (4, None, E::UnsupportedWebsocketVersion),
        (
            4,
            Some("Sec-WebSocket-Version: 8"),
            E::UnsupportedWebsocketVersion,
        ),
    ];
    for (index, replacement, expected) in cases {
        assert_eq!(
            parse(&with_header(index, replacement)),
            Err(expected),
            "{replacement:?}"
        );
    }
}

#[test]
fn repeated_key_or_version_is_refused() {
    let mut headers = GOOD_HEADERS.to_vec();
    headers.push("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==");
    let buf = request_with("GET / HTTP/1.1", &headers);
    assert_eq!(parse(&buf), Err(HandshakeError::DuplicateKey));
    let mut headers = GOOD_HEADERS.to_vec();
    headers.push("Sec-WebSocket-Version: 13");
    let buf = request_with("GET / HTTP/1.1", &headers);
    assert_eq!(
        parse(&buf),
        Err(HandshakeError::UnsupportedWebsocketVersion)
    );
}

#[test]
fn oversize_head_is_refused_at_the_cap() {
    let limits = WsLimits {
        handshake_head_bytes_max: 256,
        ..WsLimits::DEFAULT
    };
    let mut buf = b"GET /mqtt HTTP/1.1\r\nX-Pad: ".to_vec();
    buf.resize(255, b'a');
    assert_eq!(
        parse_upgrade_request(&buf, &limits),
        Ok(UpgradeParse::NeedMore)
    );
    buf.push(b'a');
    let expected = Err(HandshakeError::HeadTooLarge { max_bytes: 256 });
    assert_eq!(parse_upgrade_request(&buf, &limits), expected);
    buf.resize(100_000, b'a');
    assert_eq!(parse_upgrade_request(&buf, &limits), expected);
}

#[test]
fn head_exactly_at_the_cap_is_accepted() {
    let buf = good_request();
    let limits = WsLimits {
        handshake_head_bytes_max: buf.len(),
        ..WsLimits::DEFAULT
    };
    assert!(matches!(
        parse_upgrade_request(&buf, &limits),
        Ok(UpgradeParse::Request { .. })
    ));
    let limits = WsLimits {
        handshake_head_bytes_max: buf.len() - 1,
        ..WsLimits::DEFAULT
    };
    assert!(matches!(
        parse_upgrade_request(&buf, &limits),
        Err(HandshakeError::HeadTooLarge { .. })
    ));
}

#[test]
fn too_many_headers_is_refused() {
    let limits = WsLimits {
        handshake_headers_max: 6,
        ..WsLimits::DEFAULT
    };
    assert!(matches!(
        parse_upgrade_request(&good_request(), &limits),
        Ok(UpgradeParse::Request { .. })
    ));
    let limits = WsLimits {
        handshake_headers_max: 5,
        ..WsLimits::DEFAULT
    };
    let expected = Err(HandshakeError::TooManyHeaders { max: 5 });
    assert_eq!(parse_upgrade_request(&good_request(), &limits), expected);
}

#[test]
fn rejections_are_400_or_426() {
    let mut out = BytesMut::new();
    write_rejection(&HandshakeError::MissingKey, &mut out);
    let expected = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(&out[..], expected.as_bytes());
    out.clear();
    write_rejection(&HandshakeError::UnsupportedWebsocketVersion, &mut out);
    let text = std::str::from_utf8(&out).unwrap();
    assert!(text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
    assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"));
    assert!(text.ends_with("\r\n\r\n"));
}

#[test]
fn flashmq_plainwebsocketpacket1_shape_parses() {
    let buf = b"GET /mqtt HTTP/1.1\r\nHost: localhost:1883\r\nUser-Agent: test\r\n\
        Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Key: 7bfyDEkO6bQB5eDKb6I7Qg==\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
    let (consumed, request) = parse_ok(buf);
    assert_eq!(consumed, buf.len());
    assert_eq!(request.key(), "7bfyDEkO6bQB5eDKb6I7Qg==");
}

#[test]
fn v311_mqtt_6_0_0_4_response_echoes_mqtt_subprotocol() {
    mqtt_6_0_0_4_response_echoes_mqtt_subprotocol();
}

#[test]
fn the_handshake_fuzz_seeds_pass_the_fuzz_oracle() {
    // The seeds of the `ws_handshake` target (no file I/O in the codec, even in tests).
    let seeds: [&[u8]; 3] = [
        include_bytes!("../../../../fuzz/seeds/ws_handshake/upgrade.txt"),
        include_bytes!("../../../../fuzz/seeds/ws_handshake/upgrade-then-frame.txt"),
        include_bytes!("../../../../fuzz/seeds/ws_handshake/not-an-upgrade.txt"),
    ];
    for data in seeds {
        crate::fuzzing::websocket_handshake(data);
    }
    assert!(matches!(
        parse_upgrade_request(seeds[1], &WsLimits::DEFAULT),
        Ok(UpgradeParse::Request { consumed, .. }) if consumed + 4 == seeds[1].len()
    ));
    // A request with a key that is not 16 bytes of base64 is refused, never answered 101.
    let bad = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n";
    assert!(parse_upgrade_request(bad, &WsLimits::DEFAULT).is_err());
    crate::fuzzing::websocket_handshake(bad);
}
