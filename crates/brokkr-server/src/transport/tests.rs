//! The transport stack, sans-IO: bytes in, MQTT bytes and wire bytes out.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::*;
use crate::tls::{MinTlsVersion, TlsFiles, TlsListener};
use brokkr_codec::proxy::{PP2_CLIENT_CERT_CONN, PP2_CLIENT_SSL, ProxyHeader, SslInfo};
use brokkr_codec::ws::Opcode;
use brokkr_testkit::certs::TestPki;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

const UPGRADE: &[u8] = b"GET /mqtt HTTP/1.1\r\nHost: broker\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\nX-Real-IP: 203.0.113.7\r\n\r\n";

/// An MQTT 3.1.1 CONNECT for client "c".
const CONNECT: &[u8] = &[
    0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 1, b'c',
];

fn masked(opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    ws::encode_frame_with(true, opcode, Some([1, 2, 3, 4]), payload, &mut out);
    out.to_vec()
}

/// Frames the server sent, decoded (unmasked, as a server sends them).
fn server_frames(wire: &[u8]) -> Vec<WsEvent> {
    let mut buf = BytesMut::from(wire);
    let mut d = Deframer::new(&WsLimits::DEFAULT);
    let mut events = Vec::new();
    while let Some(e) = d.next(&mut buf).unwrap() {
        events.push(e);
    }
    assert!(buf.is_empty(), "trailing bytes after the frames");
    events
}

fn stack(spec: TransportSpec) -> Stack {
    Stack::new(Arc::new(spec), Some("127.0.0.1:50000".parse().unwrap())).unwrap()
}

#[derive(Debug)]
struct Everyone(bool);

impl PeerFilter for Everyone {
    fn allowed(&self, _addr: IpAddr) -> bool {
        self.0
    }
}

/// Strip the `101` response from the output; returns what follows it.
fn after_101(out: &[u8]) -> &[u8] {
    let text = String::from_utf8_lossy(out);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    let end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    &out[end..]
}

fn websocket() -> Stack {
    stack(TransportSpec {
        websocket: true,
        ..TransportSpec::default()
    })
}

#[test]
fn websocket_upgrade_split_across_reads_then_frames_carry_mqtt() {
    let mut s = websocket();
    let mut mqtt = Vec::new();
    s.ingest(&UPGRADE[..20], &mut mqtt).unwrap();
    assert!(!s.has_out(), "no answer before the request is complete");
    let mut rest = UPGRADE[20..].to_vec();
    // The first frame arrives in the same read as the end of the request, split mid-packet.
    rest.extend(masked(Opcode::Binary, &CONNECT[..5]));
    s.ingest(&rest, &mut mqtt).unwrap();
    let out = s.take_out();
    assert!(String::from_utf8_lossy(&out).contains("Sec-WebSocket-Protocol: mqtt"));
    assert!(after_101(&out).is_empty());
    assert_eq!(mqtt, &CONNECT[..5]);
    s.ingest(&masked(Opcode::Binary, &CONNECT[5..]), &mut mqtt)
        .unwrap();
    assert_eq!(mqtt, CONNECT);
    // Outgoing MQTT bytes are one binary frame.
    s.seal(&[0x20, 2, 0, 0]);
    assert_eq!(
        server_frames(&s.take_out()),
        [WsEvent::Data(bytes::Bytes::from_static(&[0x20, 2, 0, 0]))]
    );
}

#[test]
fn websocket_ping_is_answered_and_text_is_refused_with_1003() {
    let mut s = websocket();
    let mut mqtt = Vec::new();
    s.ingest(UPGRADE, &mut mqtt).unwrap();
    let _ = s.take_out();
    s.ingest(&masked(Opcode::Ping, b"hi"), &mut mqtt).unwrap();
    // A pong carrying the ping's bytes (the deframer reports pongs without their payload).
    let out = s.take_out();
    assert_eq!(server_frames(&out), [WsEvent::Pong]);
    assert!(out.ends_with(b"hi"));
    let err = s
        .ingest(&masked(Opcode::Text, b"{}"), &mut mqtt)
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Frame(WsError::TextFrame)),
        "{err}"
    );
    match server_frames(&s.take_out()).as_slice() {
        [WsEvent::Close { code, .. }] => assert_eq!(*code, Some(1003)),
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(mqtt.is_empty());
}

#[test]
fn websocket_close_frame_is_answered_and_ends_the_connection() {
    let mut s = websocket();
    let mut mqtt = Vec::new();
    s.ingest(UPGRADE, &mut mqtt).unwrap();
    let _ = s.take_out();
    s.ingest(&masked(Opcode::Close, &1001u16.to_be_bytes()), &mut mqtt)
        .unwrap();
    assert!(s.closed_by_peer());
    match server_frames(&s.take_out()).as_slice() {
        [WsEvent::Close { code, .. }] => assert_eq!(*code, Some(1001)),
        other => panic!("expected a close frame, got {other:?}"),
    }
    // The server's own close does not add a second close frame.
    s.finish();
    assert!(!s.has_out());
}

#[test]
fn a_bad_upgrade_request_gets_an_http_error() {
    let mut s = websocket();
    let mut mqtt = Vec::new();
    let err = s
        .ingest(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &mut mqtt)
        .unwrap_err();
    assert!(matches!(err, TransportError::Upgrade(_)), "{err}");
    assert!(String::from_utf8_lossy(&s.take_out()).starts_with("HTTP/1.1 4"));
}

#[test]
fn x_real_ip_is_believed_only_from_trusted_peers() {
    for (trusted, expect) in [(true, Some("203.0.113.7")), (false, None)] {
        let mut s = stack(TransportSpec {
            websocket: true,
            real_ip_from: Some(Arc::new(Everyone(trusted))),
            ..TransportSpec::default()
        });
        let mut mqtt = Vec::new();
        let learned = s.ingest(UPGRADE, &mut mqtt).unwrap();
        assert_eq!(
            learned.peer.map(|p| p.ip().to_string()),
            expect.map(str::to_string)
        );
    }
}

fn proxy_v2(ssl: Option<SslInfo>) -> Vec<u8> {
    let header = ProxyHeader {
        source: Some("198.51.100.9:4242".parse().unwrap()),
        destination: Some("127.0.0.1:1883".parse().unwrap()),
        local: false,
        ssl,
    };
    let mut out = BytesMut::new();
    proxy::encode_v2(&header, &mut out).unwrap();
    out.to_vec()
}

#[test]
fn a_proxy_header_gives_the_source_address_and_the_rest_is_mqtt() {
    let mut s = stack(TransportSpec {
        proxy: ProxyMode::On,
        ..TransportSpec::default()
    });
    let mut input = proxy_v2(None);
    input.extend_from_slice(CONNECT);
    let mut mqtt = Vec::new();
    // Byte by byte: the header is waited for, then the rest passes.
    let mut peer = None;
    for b in &input {
        let learned = s.ingest(std::slice::from_ref(b), &mut mqtt).unwrap();
        peer = peer.or(learned.peer);
    }
    assert_eq!(peer, Some("198.51.100.9:4242".parse().unwrap()));
    assert_eq!(s.peer(), peer);
    assert_eq!(mqtt, CONNECT);
}

#[test]
fn a_proxy_listener_refuses_a_connection_without_the_header() {
    let mut s = stack(TransportSpec {
        proxy: ProxyMode::On,
        ..TransportSpec::default()
    });
    let mut mqtt = Vec::new();
    let err = s.ingest(CONNECT, &mut mqtt).unwrap_err();
    assert!(matches!(err, TransportError::Proxy(_)), "{err}");
    assert!(mqtt.is_empty());
}

#[test]
fn client_verification_takes_the_verified_cn_and_refuses_without_one() {
    let verified = SslInfo {
        client_flags: PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN,
        verify: 0,
        cn: Some("alice".into()),
        ..SslInfo::default()
    };
    for (mode, still) in [
        (ProxyMode::ClientVerification, false),
        (ProxyMode::ClientVerificationWithAuthn, true),
    ] {
        let mut s = stack(TransportSpec {
            proxy: mode,
            ..TransportSpec::default()
        });
        let mut mqtt = Vec::new();
        let learned = s
            .ingest(&proxy_v2(Some(verified.clone())), &mut mqtt)
            .unwrap();
        let user = learned.user.unwrap();
        assert_eq!(&*user.name, "alice");
        assert_eq!(user.still_authenticate, still);
    }
    // A certificate the balancer could not verify, or none at all: refused.
    for ssl in [
        Some(SslInfo {
            verify: 1,
            ..verified.clone()
        }),
        None,
    ] {
        let mut s = stack(TransportSpec {
            proxy: ProxyMode::ClientVerification,
            ..TransportSpec::default()
        });
        let err = s.ingest(&proxy_v2(ssl), &mut Vec::new()).unwrap_err();
        assert!(
            matches!(err, TransportError::ProxyWithoutCertificate),
            "{err}"
        );
    }
    // `on` ignores the TLV: no user.
    let mut s = stack(TransportSpec {
        proxy: ProxyMode::On,
        ..TransportSpec::default()
    });
    let learned = s
        .ingest(&proxy_v2(Some(verified)), &mut Vec::new())
        .unwrap();
    assert!(learned.user.is_none());
}

fn tls_client(pki: &TestPki, with_cert: bool) -> ClientConnection {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pki.ca()).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = if with_cert {
        let chain = CertificateDer::pem_file_iter(pki.client_cert())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(pki.client_key()).unwrap();
        builder.with_client_auth_cert(chain, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap()).unwrap()
}

/// Run the handshake and send `app` from the client; returns (MQTT bytes at the server, the
/// user the stack learned, the client).
fn over_tls(
    s: &mut Stack,
    mut client: ClientConnection,
    app: &[u8],
) -> (Vec<u8>, Option<TransportUser>, ClientConnection) {
    std::io::Write::write_all(&mut client.writer(), app).unwrap();
    let mut mqtt = Vec::new();
    let mut user = None;
    for _ in 0..10 {
        let mut wire = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut wire).unwrap();
        }
        if !wire.is_empty() {
            let learned = s.ingest(&wire, &mut mqtt).unwrap();
            user = user.or(learned.user);
        }
        let back = s.take_out();
        if !back.is_empty() {
            client.read_tls(&mut back.as_slice()).unwrap();
            client.process_new_packets().unwrap();
        }
        if wire.is_empty() && back.is_empty() {
            break;
        }
    }
    (mqtt, user, client)
}

fn tls_spec(pki: &TestPki, mtls: bool, websocket: bool) -> TransportSpec {
    let listener = TlsListener::load(TlsFiles {
        fullchain: pki.server_cert(),
        privkey: pki.server_key(),
        minimum: MinTlsVersion::Tls12,
        client_ca_file: mtls.then(|| pki.ca()),
        client_ca_dir: None,
    })
    .unwrap();
    TransportSpec {
        tls: Some(Arc::new(listener)),
        websocket,
        ..TransportSpec::default()
    }
}

#[test]
fn tls_carries_mqtt_both_ways() {
    let pki = TestPki::in_temp_dir("stack-tls");
    let mut s = stack(tls_spec(&pki, false, false));
    let (mqtt, user, mut client) = over_tls(&mut s, tls_client(&pki, false), CONNECT);
    assert_eq!(mqtt, CONNECT);
    assert!(user.is_none(), "no client certificate, no name");
    s.seal(&[0x20, 2, 0, 0]);
    client.read_tls(&mut s.take_out().as_slice()).unwrap();
    client.process_new_packets().unwrap();
    let mut got = [0u8; 4];
    std::io::Read::read_exact(&mut client.reader(), &mut got).unwrap();
    assert_eq!(got, [0x20, 2, 0, 0]);
}

#[test]
fn mtls_names_the_user_by_certificate_cn() {
    let pki = TestPki::in_temp_dir("stack-mtls");
    let mut spec = tls_spec(&pki, true, false);
    spec.still_do_authn = true;
    let mut s = stack(spec);
    let (mqtt, user, _client) = over_tls(&mut s, tls_client(&pki, true), CONNECT);
    assert_eq!(mqtt, CONNECT);
    let user = user.expect("the certificate's CN");
    assert_eq!(&*user.name, "alice");
    assert!(user.still_authenticate);
}

#[test]
fn mtls_without_a_certificate_fails_the_handshake_with_an_alert() {
    let pki = TestPki::in_temp_dir("stack-mtls-none");
    let mut s = stack(tls_spec(&pki, true, false));
    let mut client = tls_client(&pki, false);
    let mut failed = false;
    for _ in 0..10 {
        let mut wire = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut wire).unwrap();
        }
        if let Err(e) = s.ingest(&wire, &mut Vec::new()) {
            assert!(matches!(e, TransportError::Tls(_)), "{e}");
            failed = true;
            break;
        }
        let back = s.take_out();
        client.read_tls(&mut back.as_slice()).unwrap();
        let _ = client.process_new_packets();
    }
    assert!(failed, "the handshake must fail");
    assert!(s.has_out(), "an alert tells the client why");
}

#[test]
fn websockets_over_tls() {
    let pki = TestPki::in_temp_dir("stack-wss");
    let mut s = stack(tls_spec(&pki, false, true));
    let mut app = UPGRADE.to_vec();
    app.extend(masked(Opcode::Binary, CONNECT));
    let (mqtt, _, mut client) = over_tls(&mut s, tls_client(&pki, false), &app);
    assert_eq!(mqtt, CONNECT);
    let mut plain = Vec::new();
    let _ = std::io::Read::read_to_end(&mut client.reader(), &mut plain);
    assert!(String::from_utf8_lossy(&plain).starts_with("HTTP/1.1 101"));
}

#[test]
fn a_write_larger_than_rustls_buffer_is_sealed_whole() {
    let pki = TestPki::in_temp_dir("stack-tls-big");
    let mut s = stack(tls_spec(&pki, false, false));
    let (_, _, mut client) = over_tls(&mut s, tls_client(&pki, false), CONNECT);
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    s.seal(&big);
    let wire = s.take_out();
    let mut got = Vec::new();
    let mut rest = wire.as_slice();
    while !rest.is_empty() {
        client.read_tls(&mut rest).unwrap();
        client.process_new_packets().unwrap();
        let _ = std::io::Read::read_to_end(&mut client.reader(), &mut got);
    }
    assert_eq!(got.len(), big.len(), "every byte sealed");
    assert!(got == big);
}
