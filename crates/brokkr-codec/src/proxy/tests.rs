//! Tests of detection, PROXY v1 (proxy-protocol.txt section 2.1) and encode/parse round trips.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use super::*;
use bytes::BytesMut;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn header_of(buf: &[u8]) -> (usize, ProxyHeader) {
    match parse(buf).unwrap() {
        ProxyParse::Header { consumed, header } => (consumed, header),
        ProxyParse::NeedMore => panic!("expected a complete header"),
    }
}

fn tcp(source: &str, destination: &str) -> ProxyHeader {
    ProxyHeader {
        source: Some(source.parse().unwrap()),
        destination: Some(destination.parse().unwrap()),
        local: false,
        ssl: None,
    }
}

#[test]
fn detection_works_on_partial_input() {
    assert!(looks_like_v1(b""));
    assert!(looks_like_v1(b"PRO"));
    assert!(looks_like_v1(b"PROXY TCP4"));
    assert!(!looks_like_v1(b"PROXX"));
    assert!(!looks_like_v1(b"\x10\x1f"));
    assert!(looks_like_v2(b"\r\n\r\n\0"));
    assert!(looks_like_v2(&V2_SIGNATURE));
    assert!(!looks_like_v2(b"\r\n\r\n\x01"));
    assert!(!looks_like_v2(b"GET / HTTP/1.1"));
    assert_eq!(parse(b""), Ok(ProxyParse::NeedMore));
    assert_eq!(parse(b"\x10\x1f\x00\x04MQTT"), Err(ProxyError::NotProxy));
}

#[test]
fn spec_2_1_v1_examples() {
    let line = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n";
    assert_eq!(
        header_of(line),
        (47, tcp("192.168.0.1:56324", "192.168.0.11:443"))
    );
    let max4 = b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
    assert_eq!(
        header_of(max4).1,
        tcp("255.255.255.255:65535", "255.255.255.255:65535")
    );
    let ffff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    let max6 = format!("PROXY TCP6 {ffff} {ffff} 65535 65535\r\n");
    assert_eq!(max6.len(), 104);
    let expected = tcp(&format!("[{ffff}]:65535"), &format!("[{ffff}]:65535"));
    assert_eq!(header_of(max6.as_bytes()), (104, expected));
    assert_eq!(
        header_of(b"PROXY UNKNOWN\r\n"),
        (15, ProxyHeader::default())
    );
    let unknown = format!("PROXY UNKNOWN {ffff} {ffff} 65535 65535\r\n");
    assert_eq!(unknown.len(), V1_HEADER_BYTES_MAX);
    assert_eq!(header_of(unknown.as_bytes()), (107, ProxyHeader::default()));
    let binary_tail = b"PROXY UNKNOWN \xff\x00 whatever\r\n";
    assert_eq!(
        header_of(binary_tail),
        (binary_tail.len(), ProxyHeader::default())
    );
    assert_eq!(parse(b"PROXY UNKNOWNX\r\n"), Err(ProxyError::V1BadProtocol));
}

#[test]
fn v1_every_split_point_needs_more_then_parses() {
    let line = b"PROXY TCP6 2001:db8::1 ::1 1883 8883\r\n";
    for split in 0..line.len() {
        assert_eq!(
            parse(&line[..split]),
            Ok(ProxyParse::NeedMore),
            "split {split}"
        );
    }
    assert_eq!(header_of(line).1, tcp("[2001:db8::1]:1883", "[::1]:8883"));
}

#[test]
fn v1_without_crlf_in_107_bytes_is_refused() {
    let mut line = b"PROXY UNKNOWN ".to_vec();
    line.resize(106, b'x');
    assert_eq!(parse(&line), Ok(ProxyParse::NeedMore));
    line.push(b'x');
    assert_eq!(parse(&line), Err(ProxyError::V1TooLong));
    line.extend_from_slice(b"\r\n");
    assert_eq!(parse(&line), Err(ProxyError::V1TooLong));
}

#[test]
fn v1_strict_fields() {
    use ProxyError as E;
    let cases: [(&[u8], ProxyError); 14] = [
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", E::V1Malformed),
        (b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", E::V1BadAddress),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", E::V1Malformed),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", E::V1Malformed),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", E::V1Malformed),
        (b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", E::V1BadProtocol),
        (b"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", E::V1BadProtocol),
        (b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", E::V1BadAddress),
        (b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", E::V1BadAddress),
        (b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", E::V1BadAddress),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", E::V1BadPort),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n", E::V1BadPort),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", E::V1BadPort),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 \xff\r\n", E::V1Malformed),
    ];
    for (line, expected) in cases {
        assert_eq!(
            parse(line),
            Err(expected),
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    assert_eq!(
        header_of(b"PROXY TCP4 1.2.3.4 5.6.7.8 0 2\r\n").1,
        tcp("1.2.3.4:0", "5.6.7.8:2")
    );
}

#[test]
fn v1_refused_on_v2_only_listener() {
    let limits = ProxyLimits {
        accept_v1: false,
        ..ProxyLimits::DEFAULT
    };
    assert_eq!(
        parse_with(b"PROXY UNKNOWN\r\n", &limits),
        Err(ProxyError::V1NotAccepted)
    );
}

#[test]
fn v1_encoder_refuses_what_v1_cannot_say() {
    let mut out = BytesMut::new();
    let local = ProxyHeader {
        local: true,
        ..ProxyHeader::default()
    };
    assert_eq!(encode_v1(&local, &mut out), Err(ProxyEncodeError::V1Local));
    let ssl = ProxyHeader {
        ssl: Some(SslInfo::default()),
        ..tcp("1.2.3.4:1", "5.6.7.8:2")
    };
    assert_eq!(encode_v1(&ssl, &mut out), Err(ProxyEncodeError::V1Tlv));
    let mixed = tcp("1.2.3.4:1", "[::1]:2");
    assert_eq!(
        encode_v1(&mixed, &mut out),
        Err(ProxyEncodeError::AddressMismatch)
    );
    assert_eq!(
        encode_v2(&mixed, &mut out),
        Err(ProxyEncodeError::AddressMismatch)
    );
    let half = ProxyHeader {
        destination: None,
        ..tcp("1.2.3.4:1", "5.6.7.8:2")
    };
    assert_eq!(
        encode_v2(&half, &mut out),
        Err(ProxyEncodeError::AddressMismatch)
    );
    assert!(out.is_empty());
}

fn arb_endpoints() -> impl Strategy<Value = Option<(SocketAddr, SocketAddr)>> {
    let v4 = (
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(src, dst, sport, dport)| {
            let src = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(src)), sport);
            (src, SocketAddr::new(IpAddr::V4(Ipv4Addr::from(dst)), dport))
        });
    let v6 = (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(src, dst, sport, dport)| {
            let src = SocketAddr::new(IpAddr::V6(Ipv6Addr::from(src)), sport);
            (src, SocketAddr::new(IpAddr::V6(Ipv6Addr::from(dst)), dport))
        });
    prop_oneof![Just(None), v4.prop_map(Some), v6.prop_map(Some)]
}

fn arb_ssl() -> impl Strategy<Value = SslInfo> {
    let text = || proptest::option::of("\\PC{0,40}");
    (
        any::<u8>(),
        any::<u32>(),
        text(),
        text(),
        text(),
        text(),
        text(),
    )
        .prop_map(
            |(client_flags, verify, version, cn, cipher, sig_alg, key_alg)| SslInfo {
                client_flags,
                verify,
                version,
                cn,
                cipher,
                sig_alg,
                key_alg,
            },
        )
}

proptest! {
    #[test]
    fn v1_encode_parse_round_trip(endpoints in arb_endpoints(), tail in any::<Vec<u8>>()) {
        let header = ProxyHeader {
            source: endpoints.map(|(src, _)| src),
            destination: endpoints.map(|(_, dst)| dst),
            local: false,
            ssl: None,
        };
        let mut out = BytesMut::new();
        encode_v1(&header, &mut out).unwrap();
        let len = out.len();
        prop_assert!(len <= V1_HEADER_BYTES_MAX);
        out.extend_from_slice(&tail);
        prop_assert_eq!(parse(&out), Ok(ProxyParse::Header { consumed: len, header }));
    }

    #[test]
    fn v2_encode_parse_round_trip(
        endpoints in arb_endpoints(),
        ssl in proptest::option::of(arb_ssl()),
        local in any::<bool>(),
        split in any::<proptest::sample::Index>(),
    ) {
        let header = if local {
            ProxyHeader { local: true, ..ProxyHeader::default() }
        } else {
            ProxyHeader {
                source: endpoints.map(|(src, _)| src),
                destination: endpoints.map(|(_, dst)| dst),
                local: false,
                ssl: ssl.filter(|_| endpoints.is_some()),
            }
        };
        let mut out = BytesMut::new();
        encode_v2(&header, &mut out).unwrap();
        let split = split.index(out.len());
        prop_assert_eq!(parse(&out[..split]), Ok(ProxyParse::NeedMore));
        let expected = ProxyParse::Header { consumed: out.len(), header };
        prop_assert_eq!(parse(&out), Ok(expected));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut v2 = V2_SIGNATURE.to_vec();
        v2.extend_from_slice(&bytes);
        for input in [&bytes[..], &v2[..]] {
            if let Ok(ProxyParse::Header { consumed, .. }) = parse(input) {
                prop_assert!(consumed <= input.len());
            }
        }
    }
}
