//! Tests of PROXY v2 (proxy-protocol.txt section 2.2) and its TLVs, including FlashMQ's seeds.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use super::*;
use bytes::BytesMut;

/// FlashMQ `fuzztests/haproxystart-with-ssl-tlv.dat`, PROXY header part (57 bytes).
const FLASHMQ_SSL_SEED: &str = "0d0a0d0a000d0a515549540a2111 0029 7f000001 7f000001 96c2 2329 \
    20001a07 00000000 210007544c5376312e33 2200086d79636c69656e74";

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn header_of(buf: &[u8]) -> (usize, ProxyHeader) {
    match parse(buf).unwrap() {
        ProxyParse::Header { consumed, header } => (consumed, header),
        ProxyParse::NeedMore => panic!("expected a complete header"),
    }
}

/// A TCP4 PROXY header from 127.0.0.1:38594 to 127.0.0.1:9001 followed by `tlvs`.
fn tcp4_with_tlvs(tlvs: &[u8]) -> Vec<u8> {
    let mut buf = V2_SIGNATURE.to_vec();
    buf.extend_from_slice(&[0x21, 0x11]);
    buf.extend_from_slice(&u16::try_from(12 + tlvs.len()).unwrap().to_be_bytes());
    buf.extend_from_slice(&hex("7f000001 7f000001 96c2 2329"));
    buf.extend_from_slice(tlvs);
    buf
}

/// One TLV: type, 16-bit length, value.
fn tlv(tlv_type: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tlv_type];
    out.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// An SSL TLV with client flags 0x07, verify 0, and the given sub-TLVs.
fn ssl_tlv(sub_tlvs: &[u8]) -> Vec<u8> {
    let mut value = vec![0x07, 0, 0, 0, 0];
    value.extend_from_slice(sub_tlvs);
    tlv(PP2_TYPE_SSL, &value)
}

#[test]
fn flashmq_haproxystart_with_ssl_tlv_seed() {
    let mut buf = hex(FLASHMQ_SSL_SEED);
    assert_eq!(buf.len(), 57);
    buf.extend_from_slice(&hex("101a 0004 4d515454 04")); // the MQTT CONNECT that follows
    let (consumed, header) = header_of(&buf);
    assert_eq!(consumed, 57);
    assert_eq!(header.source, Some("127.0.0.1:38594".parse().unwrap()));
    assert_eq!(header.destination, Some("127.0.0.1:9001".parse().unwrap()));
    assert!(!header.local);
    let ssl = header.ssl.unwrap();
    assert_eq!(ssl.version.as_deref(), Some("TLSv1.3"));
    assert_eq!(ssl.cn.as_deref(), Some("myclient"));
    assert_eq!(
        ssl.client_flags,
        PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS
    );
    assert!(ssl.client_ssl() && ssl.cert_verified());
}

#[test]
fn flashmq_seed_every_split_point_needs_more_then_parses() {
    let buf = hex(FLASHMQ_SSL_SEED);
    let whole = parse(&buf).unwrap();
    for split in 0..buf.len() {
        assert_eq!(
            parse(&buf[..split]),
            Ok(ProxyParse::NeedMore),
            "split {split}"
        );
    }
    assert_eq!(parse(&buf), Ok(whole));
}

#[test]
fn flashmq_haproxystart_seed_header_only() {
    let buf = tcp4_with_tlvs(&[]);
    assert_eq!(buf.len(), 28);
    let (consumed, header) = header_of(&buf);
    assert_eq!(consumed, 28);
    assert_eq!(header.source, Some("127.0.0.1:38594".parse().unwrap()));
    assert_eq!(header.ssl, None);
}

#[test]
fn spec_2_2_tcp6_and_encoder_bytes() {
    let header = ProxyHeader {
        source: Some("[2001:db8::1]:1883".parse().unwrap()),
        destination: Some("[2001:db8::2]:8883".parse().unwrap()),
        local: false,
        ssl: None,
    };
    let mut out = BytesMut::new();
    encode_v2(&header, &mut out).unwrap();
    assert_eq!(out[12..16], [0x21, 0x21, 0x00, 36]);
    assert_eq!(header_of(&out), (52, header));
}

#[test]
fn spec_2_2_local_command_discards_the_block() {
    let mut buf = V2_SIGNATURE.to_vec();
    buf.extend_from_slice(&[0x20, 0x11, 0x00, 0x0c]);
    buf.extend_from_slice(&[0xff; 12]);
    let (consumed, header) = header_of(&buf);
    assert_eq!(consumed, 28);
    assert_eq!(
        header,
        ProxyHeader {
            local: true,
            ..ProxyHeader::default()
        }
    );
}

#[test]
fn spec_2_2_unspec_and_unix_have_no_socket_addresses() {
    let mut unspec = V2_SIGNATURE.to_vec();
    unspec.extend_from_slice(&[0x21, 0x00, 0x00, 0x03, 1, 2, 3]);
    assert_eq!(header_of(&unspec), (19, ProxyHeader::default()));
    let mut unix = V2_SIGNATURE.to_vec();
    let ssl = ssl_tlv(&tlv(PP2_SUBTYPE_SSL_CN, b"dev"));
    unix.extend_from_slice(&[0x21, 0x31]);
    unix.extend_from_slice(&u16::try_from(216 + ssl.len()).unwrap().to_be_bytes());
    unix.extend_from_slice(&[b'/'; 216]);
    unix.extend_from_slice(&ssl);
    let (_, header) = header_of(&unix);
    assert_eq!((header.source, header.destination), (None, None));
    assert_eq!(header.ssl.unwrap().cn.as_deref(), Some("dev"));
}

#[test]
fn bad_signature_version_command_and_family_are_refused() {
    let mut buf = tcp4_with_tlvs(&[]);
    buf[11] = 0x0b;
    assert_eq!(parse(&buf), Err(ProxyError::NotProxy));
    let cases = [
        (12, 0x11, ProxyError::V2BadVersion(1)),
        (12, 0x22, ProxyError::V2BadCommand(2)),
    ];
    for (index, byte, expected) in cases {
        let mut buf = tcp4_with_tlvs(&[]);
        buf[index] = byte;
        assert_eq!(parse(&buf[..16]), Err(expected));
    }
    for family in [0x01, 0x10, 0x13, 0x41, 0xff] {
        let mut buf = tcp4_with_tlvs(&[]);
        buf[13] = family;
        assert_eq!(parse(&buf[..16]), Err(ProxyError::V2BadFamily(family)));
    }
}

#[test]
fn length_over_cap_is_refused_from_the_fixed_bytes_alone() {
    let mut buf = V2_SIGNATURE.to_vec();
    buf.extend_from_slice(&[0x21, 0x11, 0x10, 0x01]);
    let expected = ProxyError::V2LengthOverCap {
        len_bytes: 4097,
        max_bytes: 4096,
    };
    assert_eq!(parse(&buf), Err(expected));
    let limits = ProxyLimits {
        v2_length_bytes_max: 12,
        ..ProxyLimits::DEFAULT
    };
    let seed = hex(FLASHMQ_SSL_SEED);
    let expected = ProxyError::V2LengthOverCap {
        len_bytes: 41,
        max_bytes: 12,
    };
    assert_eq!(parse_with(&seed[..16], &limits), Err(expected));
}

#[test]
fn address_block_shorter_than_family_is_refused() {
    let mut buf = V2_SIGNATURE.to_vec();
    buf.extend_from_slice(&[0x21, 0x21, 0x00, 12]);
    buf.extend_from_slice(&[0; 12]);
    assert_eq!(parse(&buf), Err(ProxyError::V2AddressTruncated));
}

#[test]
fn truncated_tlvs_are_refused() {
    let cases: [&[u8]; 4] = [
        &[0x05],
        &[0x05, 0x00],
        &[0x05, 0x00, 0x04, 1, 2, 3],
        &[0x20, 0, 3, 7, 0, 0],
    ];
    let expected = [
        ProxyError::TlvTruncated,
        ProxyError::TlvTruncated,
        ProxyError::TlvTruncated,
        ProxyError::SslTruncated,
    ];
    for (tlvs, expected) in cases.into_iter().zip(expected) {
        assert_eq!(parse(&tcp4_with_tlvs(tlvs)), Err(expected), "{tlvs:?}");
    }
    let sub_truncated = ssl_tlv(&[PP2_SUBTYPE_SSL_CN, 0x00, 0x09, b'x']);
    assert_eq!(
        parse(&tcp4_with_tlvs(&sub_truncated)),
        Err(ProxyError::TlvTruncated)
    );
}

#[test]
fn duplicate_tlvs_are_refused_at_each_level() {
    let mut top = tlv(0x05, b"id-1");
    top.extend(tlv(0x05, b"id-2"));
    assert_eq!(
        parse(&tcp4_with_tlvs(&top)),
        Err(ProxyError::TlvDuplicate(0x05))
    );
    let mut two_ssl = ssl_tlv(&[]);
    two_ssl.extend(ssl_tlv(&[]));
    assert_eq!(
        parse(&tcp4_with_tlvs(&two_ssl)),
        Err(ProxyError::TlvDuplicate(PP2_TYPE_SSL))
    );
    let mut two_cn = tlv(PP2_SUBTYPE_SSL_CN, b"a");
    two_cn.extend(tlv(PP2_SUBTYPE_SSL_CN, b"b"));
    let expected = Err(ProxyError::TlvDuplicate(PP2_SUBTYPE_SSL_CN));
    assert_eq!(parse(&tcp4_with_tlvs(&ssl_tlv(&two_cn))), expected);
    // The same type at different levels is not a duplicate; NOOP padding may repeat.
    let mut mixed = tlv(PP2_SUBTYPE_SSL_CN, b"top-level, ignored");
    mixed.extend(tlv(PP2_TYPE_NOOP, &[0; 3]));
    mixed.extend(tlv(PP2_TYPE_NOOP, &[]));
    mixed.extend(ssl_tlv(&tlv(PP2_SUBTYPE_SSL_CN, b"inner")));
    let ssl = header_of(&tcp4_with_tlvs(&mixed)).1.ssl.unwrap();
    assert_eq!(ssl.cn.as_deref(), Some("inner"));
}

#[test]
fn ssl_strings_must_be_utf8() {
    let cn = ssl_tlv(&tlv(PP2_SUBTYPE_SSL_CN, b"my\xffclient"));
    assert_eq!(parse(&tcp4_with_tlvs(&cn)), Err(ProxyError::SslCnNotUtf8));
    let version = ssl_tlv(&tlv(PP2_SUBTYPE_SSL_VERSION, b"\xc3"));
    let expected = Err(ProxyError::SslFieldNotUtf8(PP2_SUBTYPE_SSL_VERSION));
    assert_eq!(parse(&tcp4_with_tlvs(&version)), expected);
    // Unknown sub-TLVs are skipped, whatever they hold.
    let unknown = ssl_tlv(&tlv(0x7f, b"\xff\xfe"));
    assert!(header_of(&tcp4_with_tlvs(&unknown)).1.ssl.is_some());
}

#[test]
fn nested_ssl_inside_ssl_is_skipped_not_entered() {
    let inner = ssl_tlv(&tlv(PP2_SUBTYPE_SSL_CN, b"\xff"));
    let outer = ssl_tlv(&inner);
    let ssl = header_of(&tcp4_with_tlvs(&outer)).1.ssl.unwrap();
    assert_eq!(ssl.cn, None);
}

#[test]
fn tlv_count_is_bounded_across_levels() {
    let limits = ProxyLimits {
        tlv_count_max: 3,
        ..ProxyLimits::DEFAULT
    };
    let mut subs = tlv(PP2_SUBTYPE_SSL_VERSION, b"TLSv1.3");
    subs.extend(tlv(PP2_SUBTYPE_SSL_CN, b"c"));
    let three = tcp4_with_tlvs(&ssl_tlv(&subs));
    assert!(matches!(
        parse_with(&three, &limits),
        Ok(ProxyParse::Header { .. })
    ));
    subs.extend(tlv(PP2_SUBTYPE_SSL_CIPHER, b"x"));
    let four = tcp4_with_tlvs(&ssl_tlv(&subs));
    assert_eq!(
        parse_with(&four, &limits),
        Err(ProxyError::TlvCountOverCap { max: 3 })
    );
    let noops: Vec<u8> = (0..4).flat_map(|_| tlv(PP2_TYPE_NOOP, &[])).collect();
    let noops = tcp4_with_tlvs(&noops);
    assert_eq!(
        parse_with(&noops, &limits),
        Err(ProxyError::TlvCountOverCap { max: 3 })
    );
}

#[test]
fn cert_verified_needs_a_certificate_and_verify_zero() {
    let mut ssl = SslInfo {
        client_flags: PP2_CLIENT_SSL,
        ..SslInfo::default()
    };
    assert!(ssl.client_ssl() && !ssl.cert_verified());
    ssl.client_flags |= PP2_CLIENT_CERT_SESS;
    assert!(ssl.cert_verified());
    ssl.verify = 1;
    assert!(!ssl.cert_verified());
}

#[test]
fn v2_encoder_refuses_inconsistent_headers() {
    let mut out = BytesMut::new();
    let local_ssl = ProxyHeader {
        local: true,
        ssl: Some(SslInfo::default()),
        ..Default::default()
    };
    assert_eq!(
        encode_v2(&local_ssl, &mut out),
        Err(ProxyEncodeError::LocalWithData)
    );
    let unspec_ssl = ProxyHeader {
        ssl: Some(SslInfo::default()),
        ..Default::default()
    };
    assert_eq!(
        encode_v2(&unspec_ssl, &mut out),
        Err(ProxyEncodeError::TlvWithoutAddresses)
    );
    let huge = SslInfo {
        cn: Some("x".repeat(70_000)),
        ..SslInfo::default()
    };
    let huge = ProxyHeader {
        source: Some("1.2.3.4:1".parse().unwrap()),
        destination: Some("1.2.3.4:2".parse().unwrap()),
        local: false,
        ssl: Some(huge),
    };
    assert_eq!(encode_v2(&huge, &mut out), Err(ProxyEncodeError::TooLong));
    assert!(out.is_empty());
}

#[test]
fn encoder_reproduces_the_flashmq_seed() {
    let (_, header) = header_of(&hex(FLASHMQ_SSL_SEED));
    let mut out = BytesMut::new();
    encode_v2(&header, &mut out).unwrap();
    assert_eq!(&out[..], &hex(FLASHMQ_SSL_SEED)[..]);
}
