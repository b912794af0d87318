//! Whole handshakes in memory between a rustls client and [`TlsListener::accept`], bytes
//! pumped by hand, over certificates made by `brokkr_testkit::certs` and rcgen.

use super::*;
use brokkr_testkit::certs::{CLIENT_CN, TestPki};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, ConnectionCommon, ProtocolVersion};
use std::io::{Read, Write};

/// Which side refused the handshake, and why (read through `Debug` in failure messages).
#[derive(Debug)]
#[allow(dead_code)]
enum Fail {
    Server(rustls::Error),
    Client(rustls::Error),
}

/// Feed `bytes` to `conn` as a worker would: `read_tls` from the slice until it is consumed,
/// `process_new_packets` after each read.
fn feed<D>(conn: &mut ConnectionCommon<D>, bytes: &[u8]) -> Result<(), rustls::Error> {
    let mut rest = bytes;
    while !rest.is_empty() {
        conn.read_tls(&mut rest).unwrap();
        conn.process_new_packets()?;
    }
    Ok(())
}

fn drain<D>(conn: &mut ConnectionCommon<D>) -> Vec<u8> {
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

/// Move bytes both ways until neither side has anything to say.
fn pump(client: &mut ClientConnection, server: &mut ServerConnection) -> Result<(), Fail> {
    for _ in 0..16 {
        let to_server = drain(client);
        feed(server, &to_server).map_err(Fail::Server)?;
        let to_client = drain(server);
        feed(client, &to_client).map_err(Fail::Client)?;
        if to_server.is_empty() && to_client.is_empty() {
            return Ok(());
        }
    }
    panic!("the handshake did not settle in 16 rounds");
}

fn certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn key(path: &Path) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(path).unwrap()
}

/// A client trusting `ca`, speaking `version` (or both), with an optional certificate.
fn client(
    ca: &Path,
    version: Option<&'static SupportedProtocolVersion>,
    identity: Option<(&Path, &Path)>,
) -> ClientConnection {
    let mut roots = RootCertStore::empty();
    for cert in certs(ca) {
        roots.add(cert).unwrap();
    }
    let both = [&rustls::version::TLS13, &rustls::version::TLS12];
    let versions = match version {
        Some(v) => vec![v],
        None => both.to_vec(),
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions)
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some((cert, k)) => builder.with_client_auth_cert(certs(cert), key(k)).unwrap(),
        None => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from("localhost").unwrap();
    ClientConnection::new(Arc::new(config), name).unwrap()
}

fn files(pki: &TestPki) -> TlsFiles {
    TlsFiles {
        fullchain: pki.server_cert(),
        privkey: pki.server_key(),
        minimum: MinTlsVersion::Tls12,
        client_ca_file: None,
        client_ca_dir: None,
    }
}

fn mtls_files(pki: &TestPki) -> TlsFiles {
    TlsFiles {
        client_ca_file: Some(pki.ca()),
        ..files(pki)
    }
}

/// Handshake, then one message each way; returns the server side.
fn connect(listener: &TlsListener, mut client: ClientConnection) -> Result<ServerConnection, Fail> {
    let mut server = listener.accept().unwrap();
    pump(&mut client, &mut server)?;
    assert!(!client.is_handshaking() && !server.is_handshaking());
    client.writer().write_all(b"\x10 hello").unwrap();
    pump(&mut client, &mut server)?;
    let mut got = [0u8; 7];
    server.reader().read_exact(&mut got).unwrap();
    assert_eq!(&got, b"\x10 hello");
    server.writer().write_all(b"\x20 back").unwrap();
    pump(&mut client, &mut server)?;
    let mut back = [0u8; 6];
    client.reader().read_exact(&mut back).unwrap();
    assert_eq!(&back, b"\x20 back");
    Ok(server)
}

/// The leaf certificate a fresh client sees from `listener`.
fn served_leaf(listener: &TlsListener, pki: &TestPki) -> CertificateDer<'static> {
    let mut client = client(&pki.ca(), None, None);
    let mut server = listener.accept().unwrap();
    pump(&mut client, &mut server).unwrap();
    client.peer_certificates().unwrap()[0].clone()
}

#[test]
fn listener_is_send_sync_debug() {
    fn check<T: Send + Sync + fmt::Debug>() {}
    check::<TlsListener>();
    check::<TlsError>();
}

#[test]
fn tls13_handshake_and_data() {
    let pki = TestPki::in_temp_dir("tls13");
    let listener = TlsListener::load(files(&pki)).unwrap();
    assert!(!listener.verifies_clients());
    let server = connect(&listener, client(&pki.ca(), None, None)).unwrap();
    assert_eq!(server.protocol_version(), Some(ProtocolVersion::TLSv1_3));
    assert_eq!(client_cn(&server), None, "no client certificate, no CN");
}

#[test]
fn tls12_handshake_and_data() {
    let pki = TestPki::in_temp_dir("tls12");
    let listener = TlsListener::load(files(&pki)).unwrap();
    let tls12 = client(&pki.ca(), Some(&rustls::version::TLS12), None);
    let server = connect(&listener, tls12).unwrap();
    assert_eq!(server.protocol_version(), Some(ProtocolVersion::TLSv1_2));
}

#[test]
fn minimum_tls13_refuses_a_tls12_client() {
    let pki = TestPki::in_temp_dir("min13");
    let listener = TlsListener::load(TlsFiles {
        minimum: MinTlsVersion::Tls13,
        ..files(&pki)
    })
    .unwrap();
    let tls12 = client(&pki.ca(), Some(&rustls::version::TLS12), None);
    match connect(&listener, tls12) {
        Err(Fail::Server(rustls::Error::PeerIncompatible(_))) => {}
        other => panic!("a TLS 1.2 client got {other:?}"),
    }
    let server = connect(&listener, client(&pki.ca(), None, None)).unwrap();
    assert_eq!(server.protocol_version(), Some(ProtocolVersion::TLSv1_3));
}

#[test]
fn mtls_accepts_a_client_of_the_ca_and_yields_its_cn() {
    let pki = TestPki::in_temp_dir("mtls-ok");
    let listener = TlsListener::load(mtls_files(&pki)).unwrap();
    assert!(listener.verifies_clients());
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let identity = (pki.client_cert(), pki.client_key());
        let alice = client(&pki.ca(), Some(version), Some((&identity.0, &identity.1)));
        let server = connect(&listener, alice).unwrap();
        assert_eq!(client_cn(&server).as_deref(), Some(CLIENT_CN));
    }
}

#[test]
fn mtls_refuses_a_client_without_a_certificate() {
    let pki = TestPki::in_temp_dir("mtls-none");
    let listener = TlsListener::load(mtls_files(&pki)).unwrap();
    match connect(&listener, client(&pki.ca(), None, None)) {
        Err(Fail::Server(rustls::Error::NoCertificatesPresented)) => {}
        other => panic!("a client without a certificate got {other:?}"),
    }
}

#[test]
fn mtls_refuses_a_client_of_another_ca() {
    let pki = TestPki::in_temp_dir("mtls-rogue");
    let listener = TlsListener::load(mtls_files(&pki)).unwrap();
    let (cert, key) = (pki.rogue_client_cert(), pki.rogue_client_key());
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let rogue = client(&pki.ca(), Some(version), Some((&cert, &key)));
        match connect(&listener, rogue) {
            Err(Fail::Server(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))) => {}
            other => panic!("a client of another CA got {other:?}"),
        }
    }
}

#[test]
fn client_ca_dir_is_loaded_and_other_files_skipped() {
    let pki = TestPki::in_temp_dir("ca-dir");
    let dir = pki.dir().join("cadir");
    std::fs::create_dir(&dir).unwrap();
    // As c_rehash leaves it: the certificate, a hash-named link to it, unrelated files.
    std::fs::copy(pki.ca(), dir.join("test-ca.pem")).unwrap();
    std::os::unix::fs::symlink(dir.join("test-ca.pem"), dir.join("1a2b3c4d.0")).unwrap();
    std::fs::write(dir.join("README"), "not a certificate\n").unwrap();
    std::fs::create_dir(dir.join("subdir")).unwrap();
    let listener = TlsListener::load(TlsFiles {
        client_ca_dir: Some(dir.clone()),
        ..files(&pki)
    })
    .unwrap();
    assert!(listener.verifies_clients());
    let skipped = listener.skipped();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped[0].contains("README") && skipped[0].contains("no certificate"));
    assert!(skipped[1].contains("subdir") && skipped[1].contains("not a regular file"));
    let (cert, key) = (pki.client_cert(), pki.client_key());
    let server = connect(&listener, client(&pki.ca(), None, Some((&cert, &key)))).unwrap();
    assert_eq!(client_cn(&server).as_deref(), Some(CLIENT_CN));
    let (cert, key) = (pki.rogue_client_cert(), pki.rogue_client_key());
    assert!(connect(&listener, client(&pki.ca(), None, Some((&cert, &key)))).is_err());
}

#[test]
fn client_ca_dir_without_a_certificate_is_an_error() {
    let pki = TestPki::in_temp_dir("ca-dir-empty");
    let dir = pki.dir().join("cadir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("README"), "nothing here\n").unwrap();
    let err = TlsListener::load(TlsFiles {
        client_ca_dir: Some(dir.clone()),
        ..files(&pki)
    })
    .unwrap_err();
    assert!(matches!(err.kind(), TlsErrorKind::NoCaCertificate));
    assert_eq!(err.path(), Some(dir.as_path()));
}

#[test]
fn client_ca_dir_over_the_file_count_is_refused() {
    let pki = TestPki::in_temp_dir("ca-dir-many");
    let dir = pki.dir().join("cadir");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..=CA_DIR_FILES_MAX {
        std::fs::File::create(dir.join(format!("{i:08x}.0"))).unwrap();
    }
    let err = TlsListener::load(TlsFiles {
        client_ca_dir: Some(dir.clone()),
        ..files(&pki)
    })
    .unwrap_err();
    assert!(
        matches!(err.kind(), TlsErrorKind::TooManyFiles { .. }),
        "{err}"
    );
    assert!(err.to_string().starts_with(&dir.display().to_string()));
}

#[test]
fn reload_serves_a_new_certificate_to_new_connections_only() {
    let pki = TestPki::in_temp_dir("reload");
    let listener = TlsListener::load(files(&pki)).unwrap();
    let old_leaf = served_leaf(&listener, &pki);
    // A connection accepted before the reload keeps the config it started with.
    let mut early_client = client(&pki.ca(), None, None);
    let mut early = listener.accept().unwrap();
    let (cert, key) = pki.issue_server("next", "next.localhost");
    std::fs::copy(cert, pki.server_cert()).unwrap();
    std::fs::copy(key, pki.server_key()).unwrap();
    listener.reload().unwrap();
    let new_leaf = served_leaf(&listener, &pki);
    assert_ne!(old_leaf, new_leaf);
    assert_eq!(new_leaf, certs(&pki.server_cert())[0]);
    pump(&mut early_client, &mut early).unwrap();
    assert_eq!(early_client.peer_certificates().unwrap()[0], old_leaf);
}

#[test]
fn reload_with_a_broken_file_keeps_the_old_config() {
    let pki = TestPki::in_temp_dir("reload-bad");
    let listener = TlsListener::load(mtls_files(&pki)).unwrap();
    let trust = pki.dir().join("trust.pem");
    std::fs::copy(pki.ca(), &trust).unwrap();
    let leaf = served_leaf_mtls(&listener, &pki, &trust);
    std::fs::write(pki.server_cert(), "garbage\n").unwrap();
    let err = listener.reload().unwrap_err();
    let expected = format!(
        "{}: no certificate in the file",
        pki.server_cert().display()
    );
    assert_eq!(err.to_string(), expected);
    assert_eq!(served_leaf_mtls(&listener, &pki, &trust), leaf);
    // A new certificate whose key does not match: the key file is blamed.
    let (cert, _) = pki.issue_server("next", "next.localhost");
    std::fs::copy(cert, pki.server_cert()).unwrap();
    let err = listener.reload().unwrap_err();
    assert_eq!(err.path(), Some(pki.server_key().as_path()), "{err}");
    assert_eq!(served_leaf_mtls(&listener, &pki, &trust), leaf);
    // A broken CA file too.
    let (cert, key) = pki.issue_server("again", "again.localhost");
    std::fs::copy(cert, pki.server_cert()).unwrap();
    std::fs::copy(key, pki.server_key()).unwrap();
    std::fs::write(pki.ca(), "-----BEGIN CERTIFICATE-----\n!!!\n").unwrap();
    let err = listener.reload().unwrap_err();
    assert_eq!(err.path(), Some(pki.ca().as_path()), "{err}");
    assert_eq!(served_leaf_mtls(&listener, &pki, &trust), leaf);
}

/// The leaf a fresh client with alice's certificate sees; `trust` is a copy of the CA, since
/// the test may break `ca.pem`.
fn served_leaf_mtls(
    listener: &TlsListener,
    pki: &TestPki,
    trust: &Path,
) -> CertificateDer<'static> {
    let (cert, key) = (pki.client_cert(), pki.client_key());
    let mut client = client(trust, None, Some((&cert, &key)));
    let mut server = listener.accept().unwrap();
    pump(&mut client, &mut server).unwrap();
    client.peer_certificates().unwrap()[0].clone()
}

/// PEM text of one DER object.
fn pem_text(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// One DER TLV: (tag, content, rest).
fn der_tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let (len, header) = match input[1] {
        n if n < 0x80 => (n as usize, 2),
        n => {
            let count = (n & 0x7F) as usize;
            let len = input[2..2 + count]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (len, 2 + count)
        }
    };
    (tag, &input[header..header + len], &input[header + len..])
}

/// The key inside a PKCS#8 PrivateKeyInfo (PKCS#1 for RSA, SEC1 for EC).
fn unwrap_pkcs8(pkcs8: &[u8]) -> Vec<u8> {
    let (seq, body, _) = der_tlv(pkcs8);
    assert_eq!(seq, 0x30);
    let (_, _, rest) = der_tlv(body); // version
    let (_, _, rest) = der_tlv(rest); // algorithm
    let (octets, key, _) = der_tlv(rest);
    assert_eq!(octets, 0x04);
    key.to_vec()
}

/// A server certificate for `alg` signed by a fresh CA, its key written as PEM `label` with
/// the DER `der` makes; returns the files and the CA to trust.
fn server_with_key(
    pki: &TestPki,
    stem: &str,
    alg: &'static rcgen::SignatureAlgorithm,
    label: &str,
    der: &dyn Fn(&rcgen::KeyPair) -> Vec<u8>,
) -> (TlsFiles, PathBuf) {
    let key = rcgen::KeyPair::generate_for(alg).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let path = |ext: &str| pki.dir().join(format!("{stem}.{ext}"));
    std::fs::write(path("pem"), cert.pem()).unwrap();
    std::fs::write(path("key"), pem_text(label, &der(&key))).unwrap();
    std::fs::write(path("ca"), ca.pem()).unwrap();
    let files = TlsFiles {
        fullchain: path("pem"),
        privkey: path("key"),
        ..files(pki)
    };
    (files, path("ca"))
}

type KeyDer = dyn Fn(&rcgen::KeyPair) -> Vec<u8>;

#[test]
fn key_formats_pkcs8_pkcs1_and_sec1() {
    let pki = TestPki::in_temp_dir("keys");
    let pkcs8: &KeyDer = &|k| k.serialize_der();
    let inner: &KeyDer = &|k| unwrap_pkcs8(&k.serialize_der());
    let cases: [(&'static rcgen::SignatureAlgorithm, &str, &KeyDer); 6] = [
        (&rcgen::PKCS_ECDSA_P256_SHA256, "PRIVATE KEY", pkcs8),
        (&rcgen::PKCS_ECDSA_P384_SHA384, "EC PRIVATE KEY", inner),
        (&rcgen::PKCS_ECDSA_P256_SHA256, "EC PRIVATE KEY", inner),
        (&rcgen::PKCS_RSA_SHA256, "RSA PRIVATE KEY", inner),
        (&rcgen::PKCS_RSA_SHA256, "PRIVATE KEY", pkcs8),
        (&rcgen::PKCS_ED25519, "PRIVATE KEY", pkcs8),
    ];
    for (i, (alg, label, der)) in cases.into_iter().enumerate() {
        let (files, ca) = server_with_key(&pki, &format!("k{i}"), alg, label, der);
        let key_text = std::fs::read_to_string(&files.privkey).unwrap();
        assert!(key_text.starts_with(&format!("-----BEGIN {label}-----")));
        let listener =
            TlsListener::load(files).unwrap_or_else(|e| panic!("{label} ({alg:?}): {e}"));
        connect(&listener, client(&ca, None, None)).unwrap_or_else(|e| panic!("{label}: {e:?}"));
    }
}

#[test]
fn oversized_and_missing_files_are_refused_with_their_names() {
    let pki = TestPki::in_temp_dir("sizes");
    let big = pki.dir().join("big.pem");
    let mut text = std::fs::read(pki.server_cert()).unwrap();
    text.resize(TLS_FILE_BYTES_MAX as usize + 1, b'\n');
    std::fs::write(&big, &text).unwrap();
    let err = TlsListener::load(TlsFiles {
        fullchain: big.clone(),
        ..files(&pki)
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: file larger than {TLS_FILE_BYTES_MAX} bytes",
            big.display()
        )
    );
    // Exactly at the bound is fine.
    text.truncate(TLS_FILE_BYTES_MAX as usize);
    std::fs::write(&big, &text).unwrap();
    TlsListener::load(TlsFiles {
        fullchain: big,
        ..files(&pki)
    })
    .unwrap();
    let missing = pki.dir().join("missing.key");
    let err = TlsListener::load(TlsFiles {
        privkey: missing.clone(),
        ..files(&pki)
    })
    .unwrap_err();
    assert!(matches!(err.kind(), TlsErrorKind::Io(_)));
    assert_eq!(err.path(), Some(missing.as_path()));
}

#[test]
fn key_file_without_a_key_is_refused() {
    let pki = TestPki::in_temp_dir("nokey");
    let err = TlsListener::load(TlsFiles {
        privkey: pki.server_cert(),
        ..files(&pki)
    })
    .unwrap_err();
    let expected = format!(
        "{}: no private key in the file",
        pki.server_cert().display()
    );
    assert_eq!(err.to_string(), expected);
    let encrypted = pki.dir().join("encrypted.key");
    let body = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    std::fs::write(&encrypted, body).unwrap();
    let err = TlsListener::load(TlsFiles {
        privkey: encrypted,
        ..files(&pki)
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("encrypted private keys are not supported"),
        "{err}"
    );
}

#[test]
fn client_cn_is_none_without_a_usable_cn() {
    let pki = TestPki::in_temp_dir("cn");
    let listener = TlsListener::load(mtls_files(&pki)).unwrap();
    let (cert, key) = pki.issue_client("nul", "ali\0ce");
    let server = connect(&listener, client(&pki.ca(), None, Some((&cert, &key)))).unwrap();
    assert_eq!(client_cn(&server), None, "a CN with U+0000 is no username");
    let (cert, key) = pki.issue_client("utf8", "Ærøskøbing ✓");
    let server = connect(&listener, client(&pki.ca(), None, Some((&cert, &key)))).unwrap();
    assert_eq!(client_cn(&server).as_deref(), Some("Ærøskøbing ✓"));
    // During the handshake there is no verified certificate yet.
    assert_eq!(client_cn(&listener.accept().unwrap()), None);
}
