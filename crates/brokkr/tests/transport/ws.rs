//! A hand-written websocket client over a `TcpStream`, for what real clients will not send: the
//! RFC 6455 upgrade with the RFC's own sample key, masked frames of any opcode, and a frame
//! reader. Also the raw MQTT 3.1.1 packets the websocket tests carry. Every read has a timeout.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// RFC 6455 section 1.3's sample key and the accept value it must produce.
pub const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// Connect to 127.0.0.1:`port` and upgrade with `extra_headers` (each ending in "\r\n").
/// The stream and the response head.
pub fn upgrade(port: u16, extra_headers: &str) -> (TcpStream, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let request = format!(
        "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {SAMPLE_KEY}\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n{extra_headers}\r\n"
    );
    s.write_all(request.as_bytes()).unwrap();
    // Read byte by byte up to the blank line, so no frame byte is taken with the head.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert!(head.len() < 8192, "response head too long");
        let n = s.read(&mut byte).unwrap();
        assert_eq!(n, 1, "closed during the handshake: {head:?}");
        head.push(byte[0]);
    }
    (s, String::from_utf8_lossy(&head).into_owned())
}

/// The value of header `name` (case-insensitive) in a response head.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// One final frame of `opcode` with `payload`, masked as a client must.
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

pub fn send(s: &mut TcpStream, opcode: u8, payload: &[u8]) {
    s.write_all(&frame(opcode, payload)).unwrap();
}

/// Read one frame: (opcode, payload). Panics on timeout or a close of the stream.
pub fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    let masked = h[1] & 0x80 != 0;
    let len = match h[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            s.read_exact(&mut b).unwrap();
            u64::from(u16::from_be_bytes(b))
        }
        127 => {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b)
        }
        n => u64::from(n),
    };
    assert!(len < 1 << 20, "frame of {len} bytes");
    let mut mask = [0u8; 4];
    if masked {
        s.read_exact(&mut mask).unwrap();
    }
    let mut payload = vec![0u8; len as usize];
    s.read_exact(&mut payload).unwrap();
    if masked {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    (h[0] & 0x0f, payload)
}

/// Read until the server closes the stream (at most `secs`): every frame seen on the way, or
/// None if the stream was still open at the deadline.
pub fn read_until_closed(s: &mut TcpStream, secs: u64) -> Option<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Some(seen),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(seen),
            Err(_) => {}
        }
    }
    None
}

fn mqtt_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

fn with_fixed_header(first: u8, body: Vec<u8>) -> Vec<u8> {
    assert!(body.len() < 128);
    let mut out = vec![first, body.len() as u8];
    out.extend(body);
    out
}

/// MQTT 3.1.1 CONNECT, clean session, keepalive 60 s, with an optional QoS 0 will.
pub fn connect(client_id: &str, will: Option<(&str, &str)>) -> Vec<u8> {
    let mut body = Vec::new();
    mqtt_str(&mut body, b"MQTT");
    body.push(4);
    body.push(if will.is_some() { 0x06 } else { 0x02 });
    body.extend_from_slice(&60u16.to_be_bytes());
    mqtt_str(&mut body, client_id.as_bytes());
    if let Some((topic, message)) = will {
        mqtt_str(&mut body, topic.as_bytes());
        mqtt_str(&mut body, message.as_bytes());
    }
    with_fixed_header(0x10, body)
}

/// MQTT 3.1.1 QoS 0 PUBLISH.
pub fn publish(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    mqtt_str(&mut body, topic.as_bytes());
    body.extend_from_slice(payload);
    with_fixed_header(0x30, body)
}

pub const CONNACK_OK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
pub const PINGREQ: [u8; 2] = [0xC0, 0x00];
pub const PINGRESP: [u8; 2] = [0xD0, 0x00];

/// Upgrade, CONNECT in a binary frame, and check the CONNACK frame.
pub fn mqtt_session(port: u16, client_id: &str, will: Option<(&str, &str)>) -> TcpStream {
    let (mut s, head) = upgrade(port, "");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    send(&mut s, OP_BINARY, &connect(client_id, will));
    let (op, payload) = read_frame(&mut s);
    assert_eq!((op, payload.as_slice()), (OP_BINARY, &CONNACK_OK[..]));
    s
}
