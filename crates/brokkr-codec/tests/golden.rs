//! Golden bytes captured from real clients (Debian's mosquitto_pub and mosquitto_sub, Python
//! paho-mqtt; MQTT 3.1, 3.1.1 and 5.0) by `scripts/capture-golden.py`: every packet each client
//! sent must decode, and re-encode to exactly the bytes the client sent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    clippy::indexing_slicing
)]

use brokkr_codec::{Packet, ProtocolVersion, framer};
use bytes::BytesMut;
use std::path::Path;

fn version(level: &str) -> ProtocolVersion {
    match level {
        "3" => ProtocolVersion::V3_1,
        "4" => ProtocolVersion::V3_1_1,
        "5" => ProtocolVersion::V5,
        other => panic!("unknown protocol level {other}"),
    }
}

#[test]
// FlashMQ: testParsePacket, testPacketInt16Parse
fn real_client_bytes_decode_and_reencode_identically() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let index = std::fs::read_to_string(dir.join("index.tsv")).unwrap();
    let mut files = 0;
    let mut packets = 0;
    let mut seen_versions = std::collections::BTreeSet::new();
    for line in index.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (name, v) = (fields[0], version(fields[1]));
        seen_versions.insert(v);
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let mut buf = BytesMut::from(&bytes[..]);
        let mut offset = 0;
        while !buf.is_empty() {
            let raw = framer::next_packet(&mut buf, usize::MAX)
                .unwrap_or_else(|e| panic!("{name}@{offset}: {e}"))
                .unwrap_or_else(|| panic!("{name}@{offset}: truncated packet"));
            let len = brokkr_codec::packet_len(raw.body.len());
            let original = &bytes[offset..offset + len];
            let packet = Packet::decode(raw, v).unwrap_or_else(|e| panic!("{name}@{offset}: {e}"));
            let mut out = BytesMut::new();
            packet.encode(v, &mut out).unwrap();
            assert_eq!(
                &out[..],
                original,
                "{name}@{offset}: {packet:?} re-encoded differently"
            );
            offset += len;
            packets += 1;
        }
        files += 1;
    }
    assert!(files >= 20, "only {files} golden files");
    assert!(packets >= 100, "only {packets} packets");
    assert_eq!(
        seen_versions.len(),
        3,
        "every protocol version must be covered"
    );
}
