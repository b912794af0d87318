//! The generator of `fuzztests/`: the seed corpus for `brokkr --fuzz-file` and AFL.
//!
//! Every seed is raw bytes as a client sends them (optionally behind a PROXY header, a websocket
//! handshake or one of the selector bytes that `--fuzz-file` understands), produced by our own
//! encoder: every packet type in every version, whole sessions, boundary lengths and malformed
//! variants. The output is deterministic, so the committed corpus can be checked against it.
#![allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use crate::build::*;
use arbitrary::Unstructured;
use brokkr_codec::fuzzing::generate::gen_packet_of;
use brokkr_codec::*;
use bytes::Bytes;
use std::num::{NonZeroU16, NonZeroU32};

/// One seed file: name and content.
pub type Seed = (String, Vec<u8>);

const VERSIONS: [(ProtocolVersion, &str); 3] = [
    (ProtocolVersion::V3_1, "v31"),
    (ProtocolVersion::V3_1_1, "v311"),
    (ProtocolVersion::V5, "v5"),
];

const KINDS: [(PacketType, &str); 15] = [
    (PacketType::Connect, "connect"),
    (PacketType::ConnAck, "connack"),
    (PacketType::Publish, "publish"),
    (PacketType::PubAck, "puback"),
    (PacketType::PubRec, "pubrec"),
    (PacketType::PubRel, "pubrel"),
    (PacketType::PubComp, "pubcomp"),
    (PacketType::Subscribe, "subscribe"),
    (PacketType::SubAck, "suback"),
    (PacketType::Unsubscribe, "unsubscribe"),
    (PacketType::UnsubAck, "unsuback"),
    (PacketType::PingReq, "pingreq"),
    (PacketType::PingResp, "pingresp"),
    (PacketType::Disconnect, "disconnect"),
    (PacketType::Auth, "auth"),
];

/// Every seed, in a stable order.
pub fn seeds() -> Vec<Seed> {
    let mut out = Vec::new();
    per_packet_type(&mut out);
    sessions(&mut out);
    boundaries(&mut out);
    malformed(&mut out);
    selectors(&mut out);
    transports(&mut out);
    scripts(&mut out);
    out
}

/// Deterministic pseudo-random bytes (xorshift), so generated packets are varied but stable.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A generated packet of `kind`, from a deterministic byte source.
fn generated(v: ProtocolVersion, kind: PacketType, seed: u64) -> Packet {
    for attempt in 0..64 {
        let bytes = noise(seed * 131 + attempt, 2048);
        if let Ok(p) = gen_packet_of(&mut Unstructured::new(&bytes), v, kind) {
            return p;
        }
    }
    panic!("generator produced no {kind:?}");
}

fn with_connect(v: ProtocolVersion, tail: &[u8]) -> Vec<u8> {
    let mut bytes = encode(&Packet::Connect(Box::new(connect(v, "seed"))), v);
    bytes.extend_from_slice(tail);
    bytes
}

/// Each packet type in each version: alone after a CONNECT, twice with varied fields, and raw
/// in the version-selected stream harness.
fn per_packet_type(out: &mut Vec<Seed>) {
    for (v, vname) in VERSIONS {
        for (kind, kname) in KINDS {
            if kind == PacketType::Auth && !v.is_v5() {
                continue;
            }
            let selector = match v {
                ProtocolVersion::V3_1 => 0x02,
                ProtocolVersion::V3_1_1 => 0x03,
                ProtocolVersion::V5 => 0x04,
            };
            let a = encode(&generated(v, kind, kind as u64), v);
            let b = encode(&generated(v, kind, 1000 + kind as u64), v);
            if kind == PacketType::Connect {
                out.push((format!("{vname}-{kname}.dat"), a.clone()));
            } else {
                out.push((format!("{vname}-{kname}.dat"), with_connect(v, &a)));
            }
            let mut stream = vec![selector];
            stream.extend_from_slice(&a);
            stream.extend_from_slice(&b);
            out.push((format!("stream-{vname}-{kname}.dat"), stream));
        }
    }
}

/// Whole client sessions.
fn sessions(out: &mut Vec<Seed>) {
    for (v, vname) in VERSIONS {
        let mut s = encode(&Packet::Connect(Box::new(connect(v, "session-client"))), v);
        s.extend(encode(
            &Packet::Subscribe(subscribe(1, &["a/+", "b/#", "$SYS/#"], QoS::ExactlyOnce)),
            v,
        ));
        for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
            .into_iter()
            .enumerate()
        {
            let mut p = publish("a/b", b"hello", qos, i == 2);
            if qos != QoS::AtMostOnce {
                p.qos_pid = QosPid::from_parts(qos, pid(10 + i as u16));
            }
            s.extend(encode(&Packet::Publish(p), v));
        }
        s.extend(encode(&Packet::PubAck(PubAck::new(pid(3))), v));
        s.extend(encode(&Packet::PubRec(PubRec::new(pid(4))), v));
        s.extend(encode(&Packet::PubRel(PubRel::new(pid(12))), v));
        s.extend(encode(&Packet::PubComp(PubComp::new(pid(4))), v));
        s.extend(encode(&Packet::PingReq, v));
        s.extend(encode(&Packet::Unsubscribe(unsubscribe(2, &["a/+"])), v));
        s.extend(encode(&Packet::Disconnect(Disconnect::default()), v));
        out.push((format!("session-{vname}-full.dat"), s));

        // A will, credentials, and a persistent session.
        let mut c = connect(v, "will-client");
        c.clean_start = false;
        c.username = Some(string("user"));
        c.password = Some(Bytes::from_static(b"secret"));
        c.will = Some(will(
            topic("clients/will-client/status"),
            Bytes::from_static(b"offline"),
            QoS::AtLeastOnce,
            true,
        ));
        if v.is_v5() {
            c.properties.session_expiry_interval_secs = Some(3600);
            if let Some(w) = c.will.as_mut() {
                w.properties.will_delay_interval_secs = Some(5);
            }
        }
        let mut s = encode(&Packet::Connect(Box::new(c)), v);
        s.extend(encode(
            &Packet::Publish(publish(
                "clients/will-client/status",
                b"online",
                QoS::AtLeastOnce,
                true,
            )),
            v,
        ));
        out.push((format!("session-{vname}-will-no-disconnect.dat"), s));

        // Retained set and clear.
        let mut s = with_connect(v, &[]);
        s.extend(encode(
            &Packet::Publish(publish("r/1", b"keep", QoS::AtMostOnce, true)),
            v,
        ));
        s.extend(encode(
            &Packet::Publish(publish("r/1", b"", QoS::AtMostOnce, true)),
            v,
        ));
        s.extend(encode(
            &Packet::Subscribe(subscribe(5, &["r/#"], QoS::AtLeastOnce)),
            v,
        ));
        out.push((format!("session-{vname}-retained.dat"), s));
    }
    v5_sessions(out);
}

fn v5_sessions(out: &mut Vec<Seed>) {
    let v = ProtocolVersion::V5;
    // Topic aliases: set alias 1, then publish by alias with an empty topic (as FlashMQ's seed).
    let mut c = connect(v, "alias-client");
    c.properties.topic_alias_maximum = Some(3);
    c.properties.receive_maximum = NonZeroU16::new(20);
    c.properties.session_expiry_interval_secs = Some(8);
    let mut s = encode(&Packet::Connect(Box::new(c)), v);
    let mut p = publish("mytopic", b"first", QoS::AtMostOnce, false);
    p.properties = publish_props(PublishPropertiesBuilder {
        topic_alias: NonZeroU16::new(1),
        ..Default::default()
    });
    s.extend(encode(&Packet::Publish(p.clone()), v));
    for i in 0..4u8 {
        let mut q = p.clone();
        q.topic = TopicName::default();
        q.payload = Bytes::from(vec![b'0' + i; 8]);
        s.extend(encode(&Packet::Publish(q), v));
    }
    out.push(("session-v5-topic-alias.dat".into(), s));

    // All the PUBLISH properties, a subscription identifier and user properties.
    let mut s = with_connect(v, &[]);
    let mut sub = subscribe(1, &["req/#"], QoS::AtLeastOnce);
    sub.properties.subscription_identifier = NonZeroU32::new(7);
    sub.filters[0].1.no_local = true;
    sub.filters[0].1.retain_as_published = true;
    sub.filters[0].1.retain_handling = RetainHandling::SendIfNew;
    s.extend(encode(&Packet::Subscribe(sub), v));
    let mut p = publish("req/x", b"{\"a\":1}", QoS::AtLeastOnce, false);
    p.properties = publish_props(PublishPropertiesBuilder {
        payload_format_indicator: Some(PayloadFormat::Utf8),
        message_expiry_interval_secs: Some(30),
        response_topic: Some(topic("resp/x")),
        correlation_data: Some(Bytes::from_static(b"corr")),
        content_type: Some(string("application/json")),
        user_properties: vec![
            (string("one"), string("two")),
            (string("one"), string("three")),
        ],
        ..Default::default()
    });
    s.extend(encode(&Packet::Publish(p), v));
    out.push(("session-v5-properties.dat".into(), s));

    // Shared subscriptions and an AUTH exchange.
    let mut s = with_connect(v, &[]);
    s.extend(encode(
        &Packet::Subscribe(subscribe(
            1,
            &["$share/g/jobs/+", "$share/h/#"],
            QoS::ExactlyOnce,
        )),
        v,
    ));
    s.extend(encode(&Packet::Auth(Auth::default()), v));
    out.push(("session-v5-shared-auth.dat".into(), s));

    // DISCONNECT with will (0x04) and with a reason string.
    let mut d = Disconnect::new(ReasonCode::DisconnectWithWill);
    d.properties.reason_string = Some(string("bye"));
    out.push((
        "session-v5-disconnect-with-will.dat".into(),
        with_connect(v, &encode(&Packet::Disconnect(d), v)),
    ));
}

/// Remaining lengths and strings at the edges of their encodings.
fn boundaries(out: &mut Vec<Seed>) {
    let v = ProtocolVersion::V3_1_1;
    // Body sizes 127/128 (1 vs 2 length bytes) and 16383/16384 (2 vs 3).
    for body in [127usize, 128, 16_383, 16_384] {
        let payload_len = body - 2 - 1; // topic "t"
        let p = publish("t", &vec![b'x'; payload_len], QoS::AtMostOnce, false);
        out.push((
            format!("boundary-remaining-length-{body}.dat"),
            with_connect(v, &encode(&Packet::Publish(p), v)),
        ));
    }
    // Longest topic level count and a long topic.
    let deep = vec!["l"; 200].join("/");
    out.push((
        "boundary-deep-topic.dat".into(),
        with_connect(
            v,
            &encode(
                &Packet::Publish(publish(&deep, b"d", QoS::AtMostOnce, false)),
                v,
            ),
        ),
    ));
    let long = "t".repeat(65_535);
    out.push((
        "boundary-topic-65535.dat".into(),
        with_connect(
            v,
            &encode(
                &Packet::Publish(publish(&long, b"", QoS::AtMostOnce, false)),
                v,
            ),
        ),
    ));
    // Client id of 23 and 24 characters, and empty.
    for id in ["", "abcdefghijklmnopqrstuvw", "abcdefghijklmnopqrstuvwx"] {
        let bytes = encode(&Packet::Connect(Box::new(connect(v, id))), v);
        out.push((format!("boundary-client-id-{}.dat", id.len()), bytes));
    }
    // Many packets in one buffer.
    let mut many = with_connect(v, &[]);
    for _ in 0..100 {
        many.extend(encode(&Packet::PingReq, v));
    }
    out.push(("boundary-100-pings.dat".into(), many));
}

/// Malformed and forbidden variants, each a single fault after a valid CONNECT.
fn malformed(out: &mut Vec<Seed>) {
    let v = ProtocolVersion::V3_1_1;
    let cases: &[(&str, &[u8])] = &[
        ("publish-qos3", &[0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01]),
        ("publish-dup-qos0", &[0x38, 0x03, 0x00, 0x01, b't']),
        (
            "publish-wildcard-topic",
            &[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'#'],
        ),
        ("publish-bad-utf8", &[0x30, 0x04, 0x00, 0x02, 0xC0, 0xAF]),
        ("publish-nul", &[0x30, 0x05, 0x00, 0x03, b'a', 0, b'b']),
        (
            "publish-topic-longer-than-packet",
            &[0x30, 0x03, 0x00, 0x09, b't'],
        ),
        (
            "publish-pid-zero",
            &[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00],
        ),
        ("vbi-5-bytes", &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
        ("vbi-non-minimal", &[0xC0, 0x80, 0x00]),
        ("vbi-huge-claim", &[0x30, 0xFF, 0xFF, 0xFF, 0x7F]),
        ("type-0", &[0x00, 0x00]),
        ("auth-in-v311", &[0xF0, 0x00]),
        ("pubrel-bad-flags", &[0x60, 0x02, 0x00, 0x01]),
        (
            "subscribe-bad-flags",
            &[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b't', 0x00],
        ),
        ("subscribe-empty", &[0x82, 0x02, 0x00, 0x01]),
        (
            "subscribe-qos3",
            &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b't', 0x03],
        ),
        (
            "subscribe-bad-filter",
            &[0x82, 0x07, 0x00, 0x01, 0x00, 0x02, b'a', b'#', 0x00],
        ),
        ("unsubscribe-empty", &[0xA2, 0x02, 0x00, 0x01]),
        ("pingreq-with-body", &[0xC0, 0x01, 0x00]),
        ("disconnect-bad-flags", &[0xE1, 0x00]),
        (
            "second-connect",
            &[
                0x10, 0x0D, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 1, b'c',
            ],
        ),
        ("truncated-publish", &[0x30, 0x10, 0x00, 0x01, b't']),
    ];
    for (name, bytes) in cases {
        out.push((format!("malformed-{name}.dat"), with_connect(v, bytes)));
    }
    // Faults in CONNECT itself.
    let good = encode(&Packet::Connect(Box::new(connect(v, "c"))), v);
    let mut reserved = good.clone();
    reserved[9] |= 0x01;
    out.push(("malformed-connect-reserved-flag.dat".into(), reserved));
    let mut level = good.clone();
    level[8] = 6;
    out.push(("malformed-connect-level-6.dat".into(), level));
    let mut name = good.clone();
    name[4] = b'X';
    out.push(("malformed-connect-protocol-name.dat".into(), name));
    out.push((
        "malformed-publish-before-connect.dat".into(),
        encode(
            &Packet::Publish(publish("testtopic", b"testcontent", QoS::AtMostOnce, false)),
            v,
        ),
    ));
    out.push((
        "malformed-truncated-connect.dat".into(),
        good[..good.len() - 3].to_vec(),
    ));
    // MQTT 5 property faults.
    let v5 = ProtocolVersion::V5;
    let v5_cases: &[(&str, &[u8])] = &[
        (
            "v5-topic-alias-zero",
            &[0x30, 0x07, 0x00, 0x01, b't', 0x03, 0x23, 0x00, 0x00],
        ),
        ("v5-empty-topic-no-alias", &[0x30, 0x03, 0x00, 0x00, 0x00]),
        (
            "v5-duplicate-property",
            &[
                0x30, 0x0D, 0x00, 0x01, b't', 0x0A, 0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2,
            ],
        ),
        (
            "v5-foreign-property",
            &[
                0x30, 0x09, 0x00, 0x01, b't', 0x05, 0x11, 0x00, 0x00, 0x00, 0x01,
            ],
        ),
        (
            "v5-property-length-overrun",
            &[0x30, 0x05, 0x00, 0x01, b't', 0x7F, 0x01],
        ),
        ("v5-bad-reason-code", &[0x40, 0x03, 0x00, 0x01, 0x92]),
        (
            "v5-no-local-shared",
            &[
                0x82, 0x11, 0x00, 0x01, 0x00, 0x00, 0x0B, b'$', b's', b'h', b'a', b'r', b'e', b'/',
                b'g', b'/', b'a', b'b', 0x04,
            ],
        ),
    ];
    for (name, bytes) in v5_cases {
        out.push((format!("malformed-{name}.dat"), with_connect(v5, bytes)));
    }
}

/// Seeds for the selector harnesses: framer, property blocks, topics.
fn selectors(out: &mut Vec<Seed>) {
    out.push((
        "selector-framer.dat".into(),
        vec![0x00, 0x08, 0x30, 0x03, 0x00, 0x01, b'a', 0xC0, 0x00, 0xE0],
    ));
    let blocks: &[&[u8]] = &[
        &[0x05, 0x11, 0, 0, 0, 10],
        &[
            0x0E, 0x26, 0, 1, b'k', 0, 1, b'v', 0x26, 0, 1, b'k', 0, 1, b'w',
        ],
        &[0x03, 0x0B, 0xFF, 0x7F],
        &[0x06, 0x15, 0, 3, b'S', b'C', b'R'],
        &[0x02, 0x01, 0x01],
    ];
    for (i, b) in blocks.iter().enumerate() {
        let mut s = vec![0x05];
        s.extend_from_slice(b);
        out.push((format!("selector-properties-{i}.dat"), s));
    }
    for (i, t) in [
        "a/b/c",
        "a/+/#",
        "$share/g/a/#",
        "+a",
        "a/#/b",
        "$SYS/x",
        "",
        "é/日本",
    ]
    .iter()
    .enumerate()
    {
        let mut s = vec![0x06];
        s.extend_from_slice(t.as_bytes());
        out.push((format!("selector-topic-{i}.dat"), s));
    }
}

/// Websocket and PROXY protocol seeds: the transport is in the content, as `--fuzz-file` reads it.
fn transports(out: &mut Vec<Seed>) {
    use brokkr_codec::proxy::{ProxyHeader, SslInfo, encode_v1, encode_v2};
    use brokkr_codec::ws::{Opcode, encode_frame_with};
    use bytes::BytesMut;

    let v = ProtocolVersion::V3_1_1;
    let session = {
        let mut s = with_connect(v, &[]);
        s.extend(encode(
            &Packet::Subscribe(subscribe(1, &["#"], QoS::AtLeastOnce)),
            v,
        ));
        s.extend(encode(
            &Packet::Publish(publish("ws/t", b"over websocket", QoS::AtLeastOnce, false)),
            v,
        ));
        s
    };
    let handshake = b"GET /mqtt HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
    let mask = Some([0x12, 0x34, 0x56, 0x78]);
    let frame = |fin: bool, op: Opcode, payload: &[u8]| {
        let mut b = BytesMut::new();
        encode_frame_with(fin, op, mask, payload, &mut b);
        b.to_vec()
    };
    // One frame carrying the whole session.
    let mut s = handshake.to_vec();
    s.extend(frame(true, Opcode::Binary, &session));
    out.push(("ws-handshake-one-frame.dat".into(), s));
    // The session split across fragments, with a ping in between, then a close.
    let (a, b) = session.split_at(session.len() / 3);
    let mut s = handshake.to_vec();
    s.extend(frame(false, Opcode::Binary, a));
    s.extend(frame(true, Opcode::Ping, b"p"));
    s.extend(frame(true, Opcode::Continuation, b));
    s.extend(frame(true, Opcode::Close, &[0x03, 0xE8]));
    out.push(("ws-handshake-fragmented.dat".into(), s));
    // One frame per packet byte (many tiny frames), upgraded selector.
    let mut s = vec![0x01];
    for byte in &session {
        s.extend(frame(true, Opcode::Binary, &[*byte]));
    }
    out.push(("ws-upgraded-byte-frames.dat".into(), s));
    // A frame with a 16-bit length, and a text frame (refused: MQTT-6.0.0-1).
    let big = encode(
        &Packet::Publish(publish("big", &[b'z'; 400], QoS::AtMostOnce, false)),
        v,
    );
    let mut s = vec![0x01];
    s.extend(frame(true, Opcode::Binary, &with_connect(v, &big)));
    s.extend(frame(true, Opcode::Text, b"text"));
    out.push(("ws-upgraded-16bit-then-text.dat".into(), s));
    // A bad handshake.
    out.push((
        "ws-handshake-bad-version.dat".into(),
        handshake
            .iter()
            .copied()
            .map(|c| if c == b'3' { b'2' } else { c })
            .collect(),
    ));

    let ipv4 = ProxyHeader {
        source: Some(([127, 0, 0, 1], 38594).into()),
        destination: Some(([127, 0, 0, 1], 9001).into()),
        local: false,
        ssl: None,
    };
    let mut b = BytesMut::new();
    encode_v2(&ipv4, &mut b).expect("v2 header");
    let mut s = b.to_vec();
    s.extend_from_slice(&session);
    out.push(("proxy-v2-ipv4.dat".into(), s));
    let mut with_cn = ipv4.clone();
    with_cn.ssl = Some(SslInfo {
        client_flags: 0x07,
        verify: 0,
        version: Some("TLSv1.3".into()),
        cn: Some("myclient".into()),
        ..Default::default()
    });
    let mut b = BytesMut::new();
    encode_v2(&with_cn, &mut b).expect("v2 header with SSL");
    let mut c = connect(v, "cn-client");
    c.username = Some(string("cli_username"));
    let mut s = b.to_vec();
    s.extend(encode(&Packet::Connect(Box::new(c)), v));
    s.extend(encode(&Packet::PingReq, v));
    out.push(("proxy-v2-ssl-cn.dat".into(), s));
    let v6 = ProxyHeader {
        source: Some("[2001:db8::1]:40000".parse().expect("addr")),
        destination: Some("[::1]:1883".parse().expect("addr")),
        local: false,
        ssl: None,
    };
    let mut b = BytesMut::new();
    encode_v1(&v6, &mut b).expect("v1 header");
    let mut s = b.to_vec();
    s.extend_from_slice(&session);
    out.push(("proxy-v1-tcp6.dat".into(), s));
    let mut b = BytesMut::new();
    encode_v1(&ipv4, &mut b).expect("v1 header");
    let mut s = b.to_vec();
    s.extend_from_slice(handshake);
    s.extend(frame(true, Opcode::Binary, &session));
    out.push(("proxy-v1-then-websocket.dat".into(), s));
}

/// One step of a multi-client script (selector 0x07, see `brokkr::fuzz_shard::run_script`).
fn step(out: &mut Vec<u8>, action: u8, client: u8, data: &[u8]) {
    out.push(action | (client << 2));
    out.extend_from_slice(&u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(data);
}

fn send(out: &mut Vec<u8>, client: u8, v: ProtocolVersion, p: Packet) {
    step(out, 0, client, &encode(&p, v));
}

/// Multi-client scripts that reach states one connection cannot: take-over, shared groups,
/// delayed wills, resumed sessions, retained delivery, topic aliases.
fn scripts(out: &mut Vec<Seed>) {
    let v5 = ProtocolVersion::V5;
    let v311 = ProtocolVersion::V3_1_1;
    let connect_packet = |v: ProtocolVersion, id: &str| Packet::Connect(Box::new(connect(v, id)));

    // Take-over: the second connection with the same id kicks the first.
    let mut s = vec![0x07];
    send(&mut s, 0, v5, connect_packet(v5, "same"));
    send(&mut s, 1, v5, connect_packet(v5, "same"));
    send(
        &mut s,
        0,
        v5,
        Packet::Publish(publish("late", b"x", QoS::AtMostOnce, false)),
    );
    send(
        &mut s,
        1,
        v5,
        Packet::Publish(publish("t", b"y", QoS::AtLeastOnce, false)),
    );
    out.push(("script-takeover.dat".into(), s));

    // Shared group of two, fed by a third client.
    let mut s = vec![0x07];
    for (c, id) in [(0u8, "w1"), (1, "w2"), (2, "feeder")] {
        send(&mut s, c, v5, connect_packet(v5, id));
    }
    for c in [0u8, 1] {
        send(
            &mut s,
            c,
            v5,
            Packet::Subscribe(subscribe(1, &["$share/g/jobs/+"], QoS::AtLeastOnce)),
        );
    }
    for i in 0..4u8 {
        let mut p = publish("jobs/x", &[i], QoS::AtLeastOnce, false);
        p.qos_pid = QosPid::AtLeastOnce(pid(u16::from(i) + 1));
        send(&mut s, 2, v5, Packet::Publish(p));
    }
    out.push(("script-shared-group.dat".into(), s));

    // Delayed will: drop the connection, let 3 s pass.
    let mut s = vec![0x07];
    let mut c = connect(v5, "mortal");
    c.clean_start = false;
    c.properties.session_expiry_interval_secs = Some(10);
    let mut will = will(
        topic("wills/mortal"),
        Bytes::from_static(b"gone"),
        QoS::AtLeastOnce,
        true,
    );
    will.properties.will_delay_interval_secs = Some(2);
    c.will = Some(will);
    send(&mut s, 0, v5, Packet::Connect(Box::new(c)));
    step(&mut s, 2, 0, &[]);
    step(&mut s, 1, 0, &[30]);
    out.push(("script-delayed-will.dat".into(), s));

    // Persistent session: subscribe, vanish, messages queue, come back and get them resent.
    let mut s = vec![0x07];
    let mut c = connect(v311, "keeper");
    c.clean_start = false;
    send(&mut s, 0, v311, Packet::Connect(Box::new(c.clone())));
    send(
        &mut s,
        0,
        v311,
        Packet::Subscribe(subscribe(1, &["q/#"], QoS::ExactlyOnce)),
    );
    step(&mut s, 2, 0, &[]);
    send(&mut s, 1, v311, connect_packet(v311, "sender"));
    for i in 0..3u8 {
        let mut p = publish("q/1", &[i], QoS::ExactlyOnce, false);
        p.qos_pid = QosPid::ExactlyOnce(pid(u16::from(i) + 10));
        send(&mut s, 1, v311, Packet::Publish(p));
        send(
            &mut s,
            1,
            v311,
            Packet::PubRel(PubRel::new(pid(u16::from(i) + 10))),
        );
    }
    step(&mut s, 3, 0, &[]);
    send(&mut s, 0, v311, Packet::Connect(Box::new(c)));
    out.push(("script-persistent-session.dat".into(), s));

    // Retained then a late subscriber; aliases on both sides.
    let mut s = vec![0x07];
    send(&mut s, 0, v5, connect_packet(v5, "retainer"));
    send(
        &mut s,
        0,
        v5,
        Packet::Publish(publish("r/a", b"kept", QoS::AtMostOnce, true)),
    );
    let mut c = connect(v5, "aliased");
    c.properties.topic_alias_maximum = Some(4);
    send(&mut s, 1, v5, Packet::Connect(Box::new(c)));
    send(
        &mut s,
        1,
        v5,
        Packet::Subscribe(subscribe(1, &["r/#"], QoS::AtMostOnce)),
    );
    let mut p = publish("r/b", b"1", QoS::AtMostOnce, false);
    p.properties = publish_props(PublishPropertiesBuilder {
        topic_alias: NonZeroU16::new(2),
        ..Default::default()
    });
    send(&mut s, 0, v5, Packet::Publish(p.clone()));
    p.topic = TopicName::default();
    send(&mut s, 0, v5, Packet::Publish(p));
    out.push(("script-retained-and-aliases.dat".into(), s));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enough_unique_seeds() {
        let seeds = seeds();
        let mut names: Vec<_> = seeds.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), seeds.len(), "duplicate seed names");
        assert!(seeds.len() >= 150, "only {} seeds", seeds.len());
    }

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(seeds(), seeds());
    }
}
