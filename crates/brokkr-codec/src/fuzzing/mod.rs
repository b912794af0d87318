//! Fuzzing support: a structured generator of valid packets and the entry points that the
//! cargo-fuzz targets, the `--fuzz-file` mode and the replay tests call.
//!
//! Each entry point asserts invariants, not just "no panic": whatever decodes must re-encode and
//! decode to the same value, the framer never hands out a packet over the cap, and the topic
//! validators agree with a deliberately naive reimplementation. Compiled only with the `fuzzing`
//! feature; nothing here runs in production.
//!
//! The oracles panic on purpose: a panic is the crash a fuzzer reports.
#![allow(clippy::panic, clippy::indexing_slicing)]

#[cfg(feature = "arbitrary")]
pub mod generate;
mod publish_block;

pub use publish_block::publish_block;

use crate::packet::*;
use crate::properties::{self, PropertySet};
use crate::reader::Reader;
use crate::topic::{TopicFilter, TopicName};
use crate::types::ProtocolVersion;
use crate::{DecodeError, framer};
use bytes::{Bytes, BytesMut};

// ---------------------------------------------------------------- entry points

/// Frame `data` under a cap taken from its first bytes; check the framer's bookkeeping.
pub fn frame(data: &[u8]) {
    let (cap_byte, rest) = data.split_first().map_or((0, data), |(b, r)| (*b, r));
    let cap = 2 + (usize::from(cap_byte) << 4);
    let mut buf = BytesMut::from(rest);
    let mut consumed = 0;
    loop {
        let before = buf.len();
        match framer::next_packet(&mut buf, cap) {
            Ok(Some(raw)) => {
                let total = crate::packet_len(raw.body.len());
                assert!(total <= cap, "framer returned a packet over the cap");
                assert_eq!(
                    before - buf.len(),
                    total,
                    "framer consumed the wrong length"
                );
                consumed += total;
            }
            Ok(None) | Err(_) => break,
        }
    }
    assert_eq!(consumed + buf.len(), rest.len());
}

/// Frame and decode `data` as one connection speaking `version`, checking the re-encode oracle
/// on every packet that decodes. Returns how many packets decoded.
pub fn decode_stream(data: &[u8], version: ProtocolVersion) -> usize {
    let mut buf = BytesMut::from(data);
    let mut decoded = 0;
    while let Ok(Some(raw)) = framer::next_packet(&mut buf, 1 << 20) {
        if let Ok(packet) = Packet::decode(raw, version) {
            check_reencode(&packet, version);
            decoded += 1;
        }
    }
    decoded
}

/// The re-encode oracle: `packet` encodes, and its encoding decodes back to `packet`.
pub fn check_reencode(packet: &Packet, version: ProtocolVersion) {
    let version = effective_version(packet, version);
    let mut out = BytesMut::new();
    if let Err(e) = packet.encode(version, &mut out) {
        panic!("decoded packet failed to encode: {e} ({packet:?})");
    }
    let again = match crate::decode_exact(&out, version) {
        Ok(p) => p,
        Err(e) => panic!("re-encoded packet failed to decode: {e} ({packet:?})"),
    };
    assert_eq!(&again, packet, "re-encode changed the packet");
}

fn effective_version(packet: &Packet, version: ProtocolVersion) -> ProtocolVersion {
    match packet {
        Packet::Connect(c) => c.protocol.0,
        _ => version,
    }
}

/// Decode `data` as a property block of every packet type; whatever decodes must round-trip.
pub fn property_block(data: &[u8]) {
    fn one<P: PropertySet + PartialEq + std::fmt::Debug>(data: &[u8]) {
        let mut r = Reader::new(Bytes::copy_from_slice(data));
        if let Ok(props) = properties::decode::<P>(&mut r) {
            let mut out = BytesMut::new();
            assert!(properties::encoded_len(&props).is_ok());
            properties::write(&props, &mut out);
            let mut r2 = Reader::new(out.freeze());
            let again = properties::decode::<P>(&mut r2).ok();
            assert_eq!(
                again.as_ref(),
                Some(&props),
                "property block did not round-trip"
            );
            assert!(r2.is_empty());
        }
    }
    one::<ConnectProperties>(data);
    one::<WillProperties>(data);
    one::<ConnAckProperties>(data);
    publish_block(data);
    one::<AckProperties>(data);
    one::<SubscribeProperties>(data);
    one::<UnsubscribeProperties>(data);
    one::<DisconnectProperties>(data);
    one::<AuthProperties>(data);
}

/// Validate `data` as a topic name and a topic filter; compare with the naive rules.
pub fn topic(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(TopicName::from_bytes(bytes.clone()).is_err());
        assert!(TopicFilter::from_bytes(bytes).is_err());
        return;
    };
    let clean = !text.contains('\0') && text.len() <= 65_535;
    let name_ok = TopicName::from_bytes(bytes.clone()).is_ok();
    assert_eq!(
        name_ok,
        clean && !text.contains(['+', '#']),
        "topic name {text:?}"
    );
    let filter_ok = TopicFilter::from_bytes(bytes).is_ok();
    assert_eq!(
        filter_ok,
        clean && naive_filter_ok(text),
        "topic filter {text:?}"
    );
}

fn naive_filter_ok(text: &str) -> bool {
    let pattern = match text.strip_prefix("$share/") {
        Some(rest) => match rest.find('/') {
            Some(i) => {
                let group = &rest[..i];
                if group.is_empty() || group.contains('+') || group.contains('#') {
                    return false;
                }
                &rest[i + 1..]
            }
            None => return false,
        },
        None => text,
    };
    if pattern.is_empty() {
        return false;
    }
    let levels: Vec<&str> = pattern.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        let last = i + 1 == levels.len();
        if level.contains('#') && !(*level == "#" && last) {
            return false;
        }
        if level.contains('+') && *level != "+" {
            return false;
        }
    }
    true
}

/// Encode `packet`, check the framing, decode it back and compare.
pub fn roundtrip(packet: &Packet, version: ProtocolVersion) {
    let mut out = BytesMut::new();
    if let Err(e) = packet.encode(version, &mut out) {
        panic!("generated packet failed to encode: {e} ({packet:?})");
    }
    let header = framer::peek_header(&out, usize::MAX).ok().flatten();
    assert_eq!(
        header.map(|h| h.packet_len()),
        Some(out.len()),
        "length field disagrees"
    );
    match crate::decode_exact(&out, version) {
        Ok(decoded) => assert_eq!(&decoded, packet, "round trip changed the packet"),
        Err(DecodeError { detail, .. }) => panic!("round trip failed: {detail} ({packet:?})"),
    }
}

/// Deframe `data` as websocket frames, whole and in small chunks: both must give the same events,
/// and no event may exceed the payload cap.
pub fn websocket_frames(data: &[u8]) {
    use crate::ws::{Deframer, WsLimits};
    let (chunk_byte, rest) = data.split_first().map_or((0, data), |(b, r)| (*b, r));
    let limits = WsLimits {
        frame_payload_bytes_max: 4096,
        ..WsLimits::default()
    };
    let run = |chunk: usize| {
        let mut deframer = Deframer::new(&limits);
        let mut buf = BytesMut::new();
        let mut events = Vec::new();
        for piece in rest.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                match deframer.next(&mut buf) {
                    Ok(Some(event)) => events.push(Ok(event)),
                    Ok(None) => break,
                    Err(e) => {
                        events.push(Err(e));
                        return events;
                    }
                }
            }
        }
        events
    };
    let whole = run(rest.len());
    let chunked = run(1 + usize::from(chunk_byte % 16));
    assert_eq!(
        whole, chunked,
        "websocket events depend on how the bytes arrived"
    );
    for event in whole.iter().flatten() {
        if let crate::ws::WsEvent::Data(d) | crate::ws::WsEvent::Ping(d) = event {
            assert!(d.len() <= 4096, "event over the payload cap");
        }
    }
}

/// Parse `data` as a websocket upgrade request. A request that parses must answer with a `101`
/// carrying the RFC 6455 accept key of its `Sec-WebSocket-Key` and the MQTT subprotocol it
/// offered; parsing just its head again gives the same request; a shorter prefix never parses
/// as a request; a refusal writes an HTTP error response.
pub fn websocket_handshake(data: &[u8]) {
    use crate::ws::{self, UpgradeParse, WsLimits};
    let limits = WsLimits::DEFAULT;
    match ws::parse_upgrade_request(data, &limits) {
        Ok(UpgradeParse::Request { consumed, request }) => {
            assert!(consumed <= data.len() && consumed <= limits.handshake_head_bytes_max);
            let mut out = BytesMut::new();
            ws::write_switching_protocols(&request, &mut out);
            let text = String::from_utf8_lossy(&out);
            assert!(text.starts_with("HTTP/1.1 101 "), "{text}");
            let accept = format!(
                "Sec-WebSocket-Accept: {}\r\n",
                ws::accept_key(request.key())
            );
            assert!(text.contains(&accept), "no accept key in {text}");
            if let Some(sub) = request.subprotocol {
                let echoed = format!("Sec-WebSocket-Protocol: {}\r\n", sub.as_str());
                assert!(text.contains(&echoed), "subprotocol not echoed in {text}");
            }
            assert!(text.ends_with("\r\n\r\n"));
            let head = &data[..consumed];
            match ws::parse_upgrade_request(head, &limits) {
                Ok(UpgradeParse::Request {
                    consumed: again,
                    request: same,
                }) => {
                    assert_eq!(again, consumed);
                    assert_eq!(same, request);
                }
                other => panic!("the head alone parses differently: {other:?}"),
            }
            for cut in [consumed / 2, consumed.saturating_sub(1)] {
                if cut < consumed {
                    assert!(
                        !matches!(
                            ws::parse_upgrade_request(&data[..cut], &limits),
                            Ok(UpgradeParse::Request { .. })
                        ),
                        "a prefix of the request parsed as a request"
                    );
                }
            }
        }
        Ok(UpgradeParse::NeedMore) => {
            assert!(
                data.len() < limits.handshake_head_bytes_max,
                "waiting past the head cap"
            );
        }
        Err(e) => {
            let mut out = BytesMut::new();
            ws::write_rejection(&e, &mut out);
            let text = String::from_utf8_lossy(&out);
            assert!(
                text.starts_with("HTTP/1.1 4") || text.starts_with("HTTP/1.1 5"),
                "{text}"
            );
        }
    }
}

/// Parse `data` as a PROXY header; every prefix of a header must ask for more, and a parsed
/// header must re-encode to bytes that parse to the same addresses.
pub fn proxy_header(data: &[u8]) {
    use crate::proxy::{self, ProxyParse};
    let Ok(ProxyParse::Header { consumed, header }) = proxy::parse(data) else {
        return;
    };
    assert!(consumed <= data.len());
    for cut in [consumed / 2, consumed.saturating_sub(1)] {
        if cut < consumed {
            let prefix = &data[..cut];
            assert!(
                matches!(proxy::parse(prefix), Ok(ProxyParse::NeedMore) | Err(_)),
                "a prefix of a header parsed as a header"
            );
        }
    }
    let mut out = BytesMut::new();
    let v2 = proxy::looks_like_v2(data);
    let encoded = if v2 {
        proxy::encode_v2(&header, &mut out)
    } else {
        proxy::encode_v1(&header, &mut out)
    };
    if encoded.is_ok() {
        let Ok(ProxyParse::Header { header: again, .. }) = proxy::parse(&out) else {
            panic!("re-encoded PROXY header does not parse");
        };
        assert_eq!(
            (again.source, again.destination),
            (header.source, header.destination)
        );
    }
}
