//! Tests of websocket framing: RFC 6455 section 5 and FlashMQ's websocket tests (group O).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use super::*;
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A client frame, masked with `MASK` when `masked`.
fn client(fin: bool, opcode: Opcode, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_frame_with(fin, opcode, masked.then_some(MASK), payload, &mut out);
    out.to_vec()
}

fn limits(require_mask: bool) -> WsLimits {
    WsLimits {
        require_mask,
        ..WsLimits::DEFAULT
    }
}

/// Decodes everything in `bytes` at once; stops at the first error.
fn decode_all(bytes: &[u8], limits: &WsLimits) -> (Vec<WsEvent>, Option<WsError>) {
    let mut deframer = Deframer::new(limits);
    let mut buf = BytesMut::from(bytes);
    let mut events = Vec::new();
    loop {
        match deframer.next(&mut buf) {
            Ok(Some(event)) => events.push(event),
            Ok(None) => return (events, None),
            Err(error) => return (events, Some(error)),
        }
    }
}

/// Feeds `bytes` in the given chunk sizes, draining events after each chunk.
fn decode_chunked(bytes: &[u8], splits: &[usize], limits: &WsLimits) -> Vec<WsEvent> {
    let mut deframer = Deframer::new(limits);
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    let mut start = 0;
    for end in splits.iter().copied().chain([bytes.len()]) {
        buf.extend_from_slice(&bytes[start..end]);
        start = end;
        while let Some(event) = deframer.next(&mut buf).unwrap() {
            events.push(event);
        }
    }
    assert!(buf.is_empty());
    events
}

fn data(bytes: &[u8]) -> WsEvent {
    WsEvent::Data(Bytes::copy_from_slice(bytes))
}

#[test]
fn masked_and_unmasked_binary_frames_decode() {
    for masked in [false, true] {
        let frame = client(true, Opcode::Binary, b"\x10\x0c", masked);
        assert_eq!(
            decode_all(&frame, &limits(false)),
            (vec![data(b"\x10\x0c")], None)
        );
    }
}

#[test]
fn rfc6455_5_1_unmasked_client_frame_refused_when_mask_required() {
    let frame = client(true, Opcode::Binary, b"x", false);
    assert_eq!(
        decode_all(&frame[..2], &limits(true)).1,
        Some(WsError::UnmaskedFrame)
    );
    let frame = client(true, Opcode::Binary, b"x", true);
    assert_eq!(decode_all(&frame, &limits(true)).0, vec![data(b"x")]);
}

#[test]
fn rfc6455_5_7_examples() {
    let masked_hello = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(client(true, Opcode::Text, b"Hello", true), masked_hello);
    let masked_pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(
        decode_all(&masked_pong, &limits(true)),
        (vec![WsEvent::Pong], None)
    );
    let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let expected = vec![WsEvent::Ping(Bytes::from_static(b"Hello"))];
    assert_eq!(decode_all(&ping, &limits(false)), (expected, None));
    let mut out = BytesMut::new();
    encode_binary(&[0; 256], &mut out);
    assert_eq!(out[..4], [0x82, 0x7e, 0x01, 0x00]);
    out.clear();
    encode_binary(&[0; 65536], &mut out);
    assert_eq!(out[..10], [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
}

#[test]
fn mqtt_6_0_0_1_text_frame_is_refused() {
    let frame = client(true, Opcode::Text, b"{}", true);
    assert_eq!(
        decode_all(&frame[..1], &limits(false)).1,
        Some(WsError::TextFrame)
    );
}

#[test]
fn lengths_7_16_and_64_bit_decode_including_non_minimal() {
    for len in [0, 1, 125, 126, 127, 65535, 65536, 70000] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let frame = client(true, Opcode::Binary, &payload, true);
        assert_eq!(
            decode_all(&frame, &limits(true)),
            (vec![data(&payload)], None),
            "{len}"
        );
    }
    let mut non_minimal = vec![0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 3];
    non_minimal.extend_from_slice(b"abc");
    assert_eq!(
        decode_all(&non_minimal, &limits(false)).0,
        vec![data(b"abc")]
    );
    let non_minimal_16 = [0x82, 0x7e, 0, 1, b'z'];
    assert_eq!(
        decode_all(&non_minimal_16, &limits(false)).0,
        vec![data(b"z")]
    );
}

/// A stream mixing fragments, control frames and a close, all masked.
fn mixed_stream() -> (Vec<u8>, Vec<WsEvent>) {
    let mut stream = Vec::new();
    stream.extend(client(false, Opcode::Binary, b"\x10\x1f\x00", true));
    stream.extend(client(true, Opcode::Ping, b"hi", true));
    stream.extend(client(false, Opcode::Continuation, &[7; 300], true));
    stream.extend(client(true, Opcode::Continuation, b"", true));
    stream.extend(client(true, Opcode::Pong, b"", true));
    stream.extend(client(true, Opcode::Binary, b"\xe0\x00", true));
    stream.extend(client(true, Opcode::Close, b"\x03\xe8bye", true));
    let events = vec![
        data(b"\x10\x1f\x00"),
        WsEvent::Ping(Bytes::from_static(b"hi")),
        data(&[7; 300]),
        data(b""),
        WsEvent::Pong,
        data(b"\xe0\x00"),
        WsEvent::Close {
            code: Some(1000),
            reason: Bytes::from_static(b"bye"),
        },
    ];
    (stream, events)
}

#[test]
fn every_split_point_gives_the_same_events() {
    let (stream, expected) = mixed_stream();
    for split in 0..=stream.len() {
        assert_eq!(
            decode_chunked(&stream, &[split], &limits(true)),
            expected,
            "split {split}"
        );
    }
}

#[test]
fn byte_by_byte_feeding_gives_the_same_events() {
    let (stream, expected) = mixed_stream();
    let splits: Vec<usize> = (1..stream.len()).collect();
    assert_eq!(decode_chunked(&stream, &splits, &limits(true)), expected);
}

#[test]
fn rfc6455_5_4_continuation_without_start_is_refused() {
    let frame = client(true, Opcode::Continuation, b"x", true);
    assert_eq!(
        decode_all(&frame, &limits(true)).1,
        Some(WsError::ContinuationWithoutStart)
    );
}

#[test]
fn rfc6455_5_4_new_message_inside_fragmented_is_refused() {
    let mut stream = client(false, Opcode::Binary, b"a", true);
    stream.extend(client(true, Opcode::Binary, b"b", true));
    let (events, error) = decode_all(&stream, &limits(true));
    assert_eq!(events, vec![data(b"a")]);
    assert_eq!(error, Some(WsError::MessageInsideFragmented));
}

#[test]
fn fragmentation_state_is_tracked() {
    let mut deframer = Deframer::new(&limits(true));
    let mut buf = BytesMut::from(&client(false, Opcode::Binary, b"a", true)[..]);
    deframer.next(&mut buf).unwrap();
    assert!(deframer.in_fragmented_message());
    buf.extend_from_slice(&client(true, Opcode::Continuation, b"b", true));
    deframer.next(&mut buf).unwrap();
    assert!(!deframer.in_fragmented_message());
}

#[test]
fn rfc6455_5_5_control_frames_must_be_final_and_short() {
    let fragmented_ping = client(false, Opcode::Ping, b"", true);
    let result = decode_all(&fragmented_ping[..1], &limits(true));
    assert_eq!(result.1, Some(WsError::ControlFragmented));
    let huge_ping = client(true, Opcode::Ping, &[0; 126], true);
    let result = decode_all(&huge_ping[..4], &limits(true));
    assert_eq!(result.1, Some(WsError::ControlTooLong { len_bytes: 126 }));
    let ok_ping = client(true, Opcode::Ping, &[1; 125], true);
    assert_eq!(decode_all(&ok_ping, &limits(true)).0.len(), 1);
}

#[test]
fn rfc6455_5_5_1_close_payload_rules() {
    let decode =
        |payload: &[u8]| decode_all(&client(true, Opcode::Close, payload, true), &limits(true));
    let empty = WsEvent::Close {
        code: None,
        reason: Bytes::new(),
    };
    assert_eq!(decode(b""), (vec![empty], None));
    assert_eq!(decode(b"\x03").1, Some(WsError::CloseOneBytePayload));
    assert_eq!(decode(b"\x03\xed").1, Some(WsError::BadCloseCode(1005)));
    assert_eq!(decode(b"\x03\xe7").1, Some(WsError::BadCloseCode(999)));
    assert_eq!(decode(b"\x03\xe8\xff").1, Some(WsError::CloseReasonNotUtf8));
    let app = WsEvent::Close {
        code: Some(4000),
        reason: Bytes::new(),
    };
    assert_eq!(decode(b"\x0f\xa0"), (vec![app], None));
}

#[test]
fn reserved_bits_and_opcodes_are_refused() {
    for first in [0xc2_u8, 0xa2, 0x92] {
        assert_eq!(
            decode_all(&[first], &limits(false)).1,
            Some(WsError::ReservedBitsSet)
        );
    }
    for opcode in [0x3_u8, 0x7, 0xb, 0xf] {
        let error = decode_all(&[0x80 | opcode], &limits(false)).1;
        assert_eq!(error, Some(WsError::UnknownOpcode(opcode)));
    }
}

#[test]
fn flashmq_corrupt_length_is_refused_from_the_header_alone() {
    // Only the 14 header bytes of a frame claiming 2^40 bytes: refused without its body.
    let mut header = vec![0x82, 0xff];
    header.extend_from_slice(&(1_u64 << 40).to_be_bytes());
    header.extend_from_slice(&MASK);
    let expected = WsError::PayloadTooLarge {
        len_bytes: 1 << 40,
        max_bytes: WsLimits::DEFAULT.frame_payload_bytes_max,
    };
    assert_eq!(decode_all(&header[..10], &limits(true)).1, Some(expected));
    let mut top_bit = vec![0x82, 0xff];
    top_bit.extend_from_slice(&(1_u64 << 63).to_be_bytes());
    assert_eq!(
        decode_all(&top_bit, &limits(true)).1,
        Some(WsError::LengthTopBitSet)
    );
}

#[test]
fn payload_cap_is_inclusive_and_enforced_before_buffering() {
    let small = WsLimits {
        frame_payload_bytes_max: 300,
        ..limits(true)
    };
    let at_cap = client(true, Opcode::Binary, &[1; 300], true);
    assert_eq!(decode_all(&at_cap, &small).0.len(), 1);
    let over = client(true, Opcode::Binary, &[1; 301], true);
    let error = WsError::PayloadTooLarge {
        len_bytes: 301,
        max_bytes: 300,
    };
    assert_eq!(decode_all(&over[..4], &small).1, Some(error));
}

#[test]
fn errors_are_sticky() {
    let mut deframer = Deframer::new(&limits(false));
    let mut buf = BytesMut::from(&[0x81_u8, 0x00][..]);
    assert_eq!(deframer.next(&mut buf), Err(WsError::TextFrame));
    buf.clear();
    buf.extend_from_slice(&client(true, Opcode::Binary, b"ok", false));
    assert_eq!(deframer.next(&mut buf), Err(WsError::TextFrame));
}

#[test]
fn server_encoders() {
    let mut out = BytesMut::new();
    encode_close(1000, "bye", &mut out).unwrap();
    assert_eq!(&out[..], b"\x88\x05\x03\xe8bye");
    out.clear();
    encode_pong(b"hi", &mut out).unwrap();
    assert_eq!(&out[..], b"\x8a\x02hi");
    let long = "x".repeat(124);
    let error = WsEncodeError::ControlTooLong { len_bytes: 126 };
    assert_eq!(encode_close(1000, &long, &mut out), Err(error));
    let error = WsEncodeError::ControlTooLong { len_bytes: 126 };
    assert_eq!(encode_pong(&[0; 126], &mut out), Err(error));
    assert_eq!(encode_frame(Opcode::Binary, &[0; 126], &mut out), Ok(()));
}

#[test]
fn pong_echoes_a_decoded_ping() {
    let (events, _) = decode_all(&client(true, Opcode::Ping, &[9; 125], true), &limits(true));
    let WsEvent::Ping(payload) = &events[0] else {
        panic!("expected a ping")
    };
    let mut out = BytesMut::new();
    encode_pong(payload, &mut out).unwrap();
    assert_eq!(decode_all(&out, &limits(false)).0, vec![WsEvent::Pong]);
}

proptest! {
    #[test]
    fn server_binary_frames_round_trip(payload in proptest::collection::vec(any::<u8>(), 0..70_000)) {
        let mut out = BytesMut::new();
        encode_binary(&payload, &mut out);
        prop_assert_eq!(decode_all(&out, &limits(false)), (vec![data(&payload)], None));
    }

    #[test]
    fn fragmented_masked_stream_round_trips_at_any_split(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..6),
        mask in any::<[u8; 4]>(),
        split in any::<proptest::sample::Index>(),
    ) {
        let mut stream = BytesMut::new();
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.iter().enumerate() {
            let opcode = if i == 0 { Opcode::Binary } else { Opcode::Continuation };
            encode_frame_with(i == last, opcode, Some(mask), chunk, &mut stream);
        }
        let split = split.index(stream.len() + 1);
        let events = decode_chunked(&stream, &[split], &limits(true));
        let expected: Vec<WsEvent> = chunks.iter().map(|chunk| data(chunk)).collect();
        prop_assert_eq!(events, expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_never_overrun(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let small = WsLimits { frame_payload_bytes_max: 64, ..limits(false) };
        let (events, _) = decode_all(&bytes, &small);
        for event in events {
            if let WsEvent::Data(payload) | WsEvent::Ping(payload) = event {
                prop_assert!(payload.len() <= 64);
            }
        }
    }
}

#[test]
fn mqtt_6_0_0_2_packets_need_not_line_up_with_frames() {
    // A PUBLISH split over two frames, the second also carrying the start of a PINGREQ whose
    // last byte comes in a third frame.
    let mut stream = client(true, Opcode::Binary, &[0x30, 0x03, 0x00], true);
    stream.extend(client(true, Opcode::Binary, &[0x01, b't', 0xC0], true));
    stream.extend(client(true, Opcode::Binary, &[0x00], true));
    let (events, error) = decode_all(&stream, &limits(true));
    assert_eq!(error, None);
    let mut mqtt = BytesMut::new();
    let mut packets = Vec::new();
    for event in events {
        let WsEvent::Data(bytes) = event else {
            panic!("{event:?}")
        };
        mqtt.extend_from_slice(&bytes);
        while let Some(raw) = crate::framer::next_packet(&mut mqtt, 1024).unwrap() {
            packets.push((raw.first_byte, raw.body.to_vec()));
        }
    }
    assert_eq!(
        packets,
        [(0x30, vec![0x00, 0x01, b't']), (0xC0, vec![])],
        "two whole packets from three frames"
    );
}

#[test]
fn v311_mqtt_6_0_0_1_text_frame_is_refused() {
    mqtt_6_0_0_1_text_frame_is_refused();
}

#[test]
fn v311_mqtt_6_0_0_2_packets_need_not_line_up_with_frames() {
    mqtt_6_0_0_2_packets_need_not_line_up_with_frames();
}

#[test]
fn each_refusal_has_the_close_code_rfc_6455_gives_it() {
    assert_eq!(WsError::TextFrame.close_code(), 1003);
    let big = WsError::PayloadTooLarge {
        len_bytes: 2,
        max_bytes: 1,
    };
    assert_eq!(big.close_code(), 1009);
    assert_eq!(WsError::UnmaskedFrame.close_code(), 1002);
    assert_eq!(WsError::UnknownOpcode(3).close_code(), 1002);
}
