//! The TLS seeds of `fuzztests/` (`tls-*.dat`): client bytes recorded against the
//! deterministic fuzz server (`brokkr::fuzz_tls`), checked to be what the recorder makes now and
//! to get past the handshake into MQTT when `--fuzz-file` replays them.
//!
//! Regenerate (after changing the sessions below, the fuzz provider or the certificate):
//!
//!     cargo test -p brokkr --test tls_seeds -- --ignored regenerate_tls_seeds
//!
//! and the embedded certificate itself (then the seeds too):
//!
//!     cargo test -p brokkr --test tls_seeds -- --ignored regenerate_fuzz_cert

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr::fuzz::{Transport, run_input, select};
use brokkr::fuzz_tls::{client_config, decrypt, server_config};
use brokkr_codec::{Packet, PacketType, ProtocolVersion, QoS, QosPid, framer};
use brokkr_testkit::build::*;
use bytes::BytesMut;
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, ConnectionCommon, ServerConnection, SupportedProtocolVersion};
use std::io::Write;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Move bytes both ways until both sides are quiet; every client byte is appended to `sent`.
fn pump(client: &mut ClientConnection, server: &mut ServerConnection, sent: &mut Vec<u8>) {
    fn drain<D>(conn: &mut ConnectionCommon<D>) -> Vec<u8> {
        let mut out = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut out).unwrap();
        }
        out
    }
    fn feed<D>(conn: &mut ConnectionCommon<D>, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            conn.read_tls(&mut rest).unwrap();
            conn.process_new_packets().unwrap();
        }
    }
    for _ in 0..16 {
        let to_server = drain(client);
        sent.extend_from_slice(&to_server);
        feed(server, &to_server);
        let to_client = drain(server);
        feed(client, &to_client);
        if to_server.is_empty() && to_client.is_empty() {
            return;
        }
    }
    panic!("the recorded session did not settle");
}

/// Run a deterministic client against the deterministic server: handshake, each of `writes`
/// as one `write_all`, then close_notify. Returns what the client sent.
fn record(
    version: Option<&'static SupportedProtocolVersion>,
    max_fragment_bytes: Option<usize>,
    writes: &[Vec<u8>],
) -> Vec<u8> {
    let config = client_config(version, max_fragment_bytes).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut client = ClientConnection::new(config, name).unwrap();
    let mut server = ServerConnection::new(server_config().unwrap()).unwrap();
    let mut sent = Vec::new();
    pump(&mut client, &mut server, &mut sent);
    assert!(!client.is_handshaking() && !server.is_handshaking());
    for w in writes {
        client.writer().write_all(w).unwrap();
        pump(&mut client, &mut server, &mut sent);
    }
    client.send_close_notify();
    pump(&mut client, &mut server, &mut sent);
    sent
}

/// CONNECT, SUBSCRIBE and PUBLISHes of every QoS, PINGREQ, DISCONNECT in `v`, as packets.
fn session(v: ProtocolVersion, client_id: &str) -> Vec<Vec<u8>> {
    let mut out = vec![
        encode(&Packet::Connect(Box::new(connect(v, client_id))), v),
        encode(
            &Packet::Subscribe(subscribe(1, &["tls/#"], QoS::AtLeastOnce)),
            v,
        ),
    ];
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let mut p = publish("tls/hello", b"over TLS", qos, false);
        if qos != QoS::AtMostOnce {
            p.qos_pid = QosPid::from_parts(qos, pid(10 + i as u16));
        }
        out.push(encode(&Packet::Publish(p), v));
    }
    out.push(encode(&Packet::PingReq, v));
    out.push(encode(&Packet::Disconnect(Default::default()), v));
    out
}

/// Every TLS seed: name and bytes.
fn tls_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let tls13 = Some(&rustls::version::TLS13);
    let tls12 = Some(&rustls::version::TLS12);
    let v5 = session(ProtocolVersion::V5, "tls13-client");
    let v311 = session(ProtocolVersion::V3_1_1, "tls12-client");
    // Everything in one write, cut into 64-byte records (the handshake too).
    let joined = vec![session(ProtocolVersion::V5, "fragmented").concat()];
    vec![
        ("tls-v13-session.dat", record(tls13, None, &v5)),
        ("tls-v12-session.dat", record(tls12, None, &v311)),
        ("tls-v13-fragmented.dat", record(tls13, Some(64), &joined)),
    ]
}

#[test]
#[ignore = "writes fuzztests/tls-*.dat; run after changing the recorder or the fuzz server"]
fn regenerate_tls_seeds() {
    for (name, bytes) in tls_seeds() {
        std::fs::write(root().join("fuzztests").join(name), bytes).unwrap();
    }
}

#[test]
fn recording_is_deterministic_and_matches_the_committed_seeds() {
    let first = tls_seeds();
    assert_eq!(first, tls_seeds(), "the recorder is not deterministic");
    for (name, bytes) in first {
        let path = root().join("fuzztests").join(name);
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            on_disk == bytes,
            "fuzztests/{name} is stale: cargo test -p brokkr --test tls_seeds -- --ignored regenerate_tls_seeds"
        );
    }
}

/// The packet types at the start of `plaintext`, decoded as one connection.
fn packet_types(plaintext: &[u8]) -> Vec<PacketType> {
    let mut buf = BytesMut::from(plaintext);
    let mut version = ProtocolVersion::V3_1_1;
    let mut out = Vec::new();
    while let Some(raw) = framer::next_packet(&mut buf, 1 << 20).unwrap() {
        let packet = Packet::decode(raw, version).unwrap();
        if let Packet::Connect(c) = &packet {
            version = c.protocol.0;
        }
        out.push(packet.packet_type());
    }
    assert!(buf.is_empty(), "a partial packet at the end");
    out
}

#[test]
fn every_tls_seed_gets_past_the_handshake_into_mqtt() {
    for (name, _) in tls_seeds() {
        let bytes = std::fs::read(root().join("fuzztests").join(name)).unwrap();
        assert_eq!(select(&bytes).0, Transport::Tls, "{name}");
        let session = decrypt(&bytes, bytes.len());
        assert!(session.handshake_done, "{name}: no handshake");
        assert_eq!(session.error, None, "{name}");
        assert!(session.closed, "{name}: no close_notify");
        let types = packet_types(&session.plaintext);
        assert_eq!(types.first(), Some(&PacketType::Connect), "{name}");
        assert_eq!(types.len(), 7, "{name}: {types:?}");
        let outcome = run_input(&bytes);
        assert_eq!(outcome.packets, 7, "{name}");
        assert!(outcome.version.is_some(), "{name}: CONNECT not accepted");
        assert!(outcome.delivered >= 1, "{name}: nothing reached the sinks");
    }
}

#[test]
fn a_tampered_record_stops_the_plaintext_there() {
    let bytes = std::fs::read(root().join("fuzztests/tls-v13-session.dat")).unwrap();
    let clean = decrypt(&bytes, bytes.len());
    // Flip a byte 40 bytes before the end: inside the last application data records.
    let mut tampered = bytes.clone();
    let at = tampered.len() - 40;
    tampered[at] ^= 0x01;
    let session = decrypt(&tampered, tampered.len());
    assert_eq!(session.error, Some(rustls::Error::DecryptError));
    assert!(session.plaintext.len() < clean.plaintext.len());
    assert!(clean.plaintext.starts_with(&session.plaintext));
    // The harness as a whole accepts it (the peer is to blame) and runs the prefix.
    run_input(&tampered);
}

#[test]
#[ignore = "writes crates/brokkr/fuzz-cert/; the TLS seeds must be regenerated after it"]
fn regenerate_fuzz_cert() {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        PKCS_ED25519,
    };
    let ca_key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "brokkr fuzz CA (public key, test only)");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.is_ca = IsCa::ExplicitNoCa;
    let issuer = Issuer::from_params(&ca, &ca_key);
    let leaf_cert = leaf.signed_by(&key, &issuer).unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-cert");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), leaf_cert.pem() + &ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}
