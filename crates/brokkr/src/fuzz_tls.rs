//! The TLS harness of `--fuzz-file`: a deterministic rustls server that decrypts a recorded
//! client session, so fuzzing reaches past the handshake into MQTT.
//!
//! A real server's randomness and ephemeral keys make recorded client bytes useless on replay:
//! the client's Finished and every record after it depend on them. This module's
//! [`CryptoProvider`] is fuzz-only: `secure_random` returns the same fixed stream on every call,
//! the one key-exchange group is X25519 with a fixed private key, the certificate (Ed25519,
//! whose signatures are deterministic) is embedded from `fuzz-cert/`, and the clock is fixed. The
//! server's every byte is then a function of the client's bytes, and a session recorded against
//! it (by [`client_config`], itself deterministic) replays exactly.
//!
//! Compiled always, used only by the fuzz mode and its seed generator: **never** build a
//! listener with this provider. Its keys are public and its randomness is a constant.
//!
//! [`run`] feeds the bytes through a [`ServerConnection`] whole and in small chunks (the
//! decrypted plaintext and the verdict must agree), checks that the server writes only
//! well-formed TLS records and fails only for reasons that blame the peer, echoes the plaintext
//! back through the encrypting side, and hands the plaintext to [`mqtt_connection`] with all
//! its oracles.
//!
//! The oracles panic on purpose: in fuzz mode a panic aborts, the crash AFL reports.
#![allow(clippy::panic)]

use crate::fuzz::{Outcome, mqtt_connection};
use aws_lc_rs::agreement;
use rustls::client::Resumption;
use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, GetRandomFailed, SecureRandom, SharedSecret,
    SupportedKxGroup,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::NoServerSessionStorage;
use rustls::time_provider::TimeProvider;
use rustls::{
    ClientConfig, ConnectionCommon, NamedGroup, PeerMisbehaved, RootCertStore, ServerConfig,
    ServerConnection, SupportedProtocolVersion,
};
use std::io::{ErrorKind, Read, Write};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The fuzz server's certificate chain (Ed25519 leaf for `localhost`, then its CA).
const SERVER_CHAIN_PEM: &[u8] = include_bytes!("../fuzz-cert/server.pem");
/// The fuzz server's private key (public on purpose: it is in the repository).
const SERVER_KEY_PEM: &[u8] = include_bytes!("../fuzz-cert/server.key");
/// The CA the recording client trusts.
const CA_PEM: &[u8] = include_bytes!("../fuzz-cert/ca.pem");

/// Bound on the plaintext one fuzz run decrypts (as the websocket harness bounds its stream).
const PLAINTEXT_BYTES_MAX: usize = 8 << 20;
/// The largest TLS record a server may write: 2^14 plaintext bytes plus 256 of expansion
/// (RFC 8446 section 5.2; TLS 1.2 allows 2048, rustls stays within 256).
const RECORD_PAYLOAD_BYTES_MAX: usize = (1 << 14) + 256;

/// A "random" source that returns the same bytes on every call (xorshift from a fixed seed),
/// so the server's output depends on nothing but its input.
#[derive(Debug)]
struct FixedRandom {
    seed: u64,
}

impl SecureRandom for FixedRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        let mut x = self.seed | 1;
        for byte in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *byte = (x >> 32) as u8;
        }
        Ok(())
    }
}

static SERVER_RANDOM: FixedRandom = FixedRandom {
    seed: 0x5345_5256_4552_0001,
};
static CLIENT_RANDOM: FixedRandom = FixedRandom {
    seed: 0x434c_4945_4e54_0002,
};

/// X25519 with a fixed private key.
#[derive(Debug)]
struct FixedX25519 {
    private: [u8; 32],
}

static SERVER_KX: FixedX25519 = FixedX25519 {
    private: *b"brokkr fuzz server x25519 key 01",
};
static CLIENT_KX: FixedX25519 = FixedX25519 {
    private: *b"brokkr fuzz client x25519 key 02",
};

struct FixedKeyExchange {
    private: agreement::PrivateKey,
    public: Vec<u8>,
}

impl SupportedKxGroup for FixedX25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        let fail = |_| rustls::Error::General("fixed X25519 key".to_owned());
        let private = agreement::PrivateKey::from_private_key(&agreement::X25519, &self.private)
            .map_err(fail)?;
        let public = private
            .compute_public_key()
            .map_err(|_| rustls::Error::General("fixed X25519 public key".to_owned()))?
            .as_ref()
            .to_vec();
        Ok(Box::new(FixedKeyExchange { private, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

impl ActiveKeyExchange for FixedKeyExchange {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, rustls::Error> {
        let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, peer_pub_key);
        agreement::agree(
            &self.private,
            peer,
            rustls::Error::from(PeerMisbehaved::InvalidKeyShare),
            |secret| Ok(SharedSecret::from(secret)),
        )
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// A fixed wall clock (2027-01-15), inside the fuzz certificate's validity.
#[derive(Debug)]
struct FixedTime;

impl TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(Duration::from_secs(
            1_800_000_000,
        )))
    }
}

/// aws-lc-rs's suites and algorithms with the fixed randomness and key exchange.
fn provider(random: &'static FixedRandom, kx: &'static FixedX25519) -> Arc<CryptoProvider> {
    let base = rustls::crypto::aws_lc_rs::default_provider();
    Arc::new(CryptoProvider {
        kx_groups: vec![kx],
        secure_random: random,
        ..base
    })
}

static BOTH_VERSIONS: [&SupportedProtocolVersion; 2] =
    [&rustls::version::TLS13, &rustls::version::TLS12];

/// The deterministic fuzz server's config (built once): TLS 1.2 and 1.3, no client
/// certificates, no session resumption or tickets (they would carry state between runs).
pub fn server_config() -> Result<Arc<ServerConfig>, rustls::Error> {
    static CONFIG: OnceLock<Result<Arc<ServerConfig>, rustls::Error>> = OnceLock::new();
    CONFIG.get_or_init(build_server_config).clone()
}

fn build_server_config() -> Result<Arc<ServerConfig>, rustls::Error> {
    let bad_pem = |e| rustls::Error::General(format!("fuzz-cert: {e}"));
    let chain = CertificateDer::pem_slice_iter(SERVER_CHAIN_PEM)
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad_pem)?;
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY_PEM).map_err(bad_pem)?;
    let provider = provider(&SERVER_RANDOM, &SERVER_KX);
    let mut config = ServerConfig::builder_with_details(provider, Arc::new(FixedTime))
        .with_protocol_versions(&BOTH_VERSIONS)?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// A deterministic client for recording seeds: trusts the fuzz CA, speaks `version` (or both),
/// and fragments its records to `max_fragment_bytes` if given (at least 32).
pub fn client_config(
    version: Option<&'static SupportedProtocolVersion>,
    max_fragment_bytes: Option<usize>,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(CA_PEM) {
        let cert = cert.map_err(|e| rustls::Error::General(format!("fuzz-cert: {e}")))?;
        roots.add(cert)?;
    }
    let one;
    let versions: &[&SupportedProtocolVersion] = match version {
        Some(v) => {
            one = [v];
            &one
        }
        None => &BOTH_VERSIONS,
    };
    let provider = provider(&CLIENT_RANDOM, &CLIENT_KX);
    let mut config = ClientConfig::builder_with_details(provider, Arc::new(FixedTime))
        .with_protocol_versions(versions)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    config.max_fragment_size = max_fragment_bytes;
    Ok(Arc::new(config))
}

/// Whether `data` starts like a TLS ClientHello: a handshake record (0x16) of version
/// 0x0301-0x0303 whose first handshake message is a ClientHello (0x01). No MQTT first byte is
/// 0x16 with a valid packet after it (CONNECT's flags must be 0), so the selection cannot take
/// a plain connection.
pub fn looks_like_client_hello(data: &[u8]) -> bool {
    matches!(data, [0x16, 0x03, 0x01..=0x03, _, _, 0x01, ..])
}

/// What the server made of one client's bytes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TlsSession {
    /// The decrypted application data, in order.
    pub plaintext: Vec<u8>,
    /// Everything the server wrote back.
    pub written: Vec<u8>,
    /// Why the server stopped, if it failed.
    pub error: Option<rustls::Error>,
    /// Whether the handshake completed.
    pub handshake_done: bool,
    /// Whether the client closed with close_notify.
    pub closed: bool,
}

/// Feed `bytes` to a fresh deterministic server in pieces of `chunk_bytes`, as a worker would
/// (`read_tls` from the slice, `process_new_packets`, drain `reader`, echo the plaintext through
/// `writer`, drain `write_tls`).
pub fn decrypt(bytes: &[u8], chunk_bytes: usize) -> TlsSession {
    let mut session = TlsSession::default();
    let Ok(config) = server_config() else {
        panic!("the embedded fuzz certificate does not load");
    };
    let Ok(mut conn) = ServerConnection::new(config) else {
        panic!("a server connection from the fuzz config");
    };
    'feed: for piece in bytes.chunks(chunk_bytes.max(1)) {
        let mut rest = piece;
        while !rest.is_empty() {
            // Ok(0) with bytes left: rustls takes no more (close_notify seen); stop feeding.
            if !matches!(conn.read_tls(&mut rest), Ok(1..)) {
                break 'feed;
            }
            let processed = conn.process_new_packets();
            session.handshake_done |= !conn.is_handshaking();
            // Records decrypted before a bad one are still delivered, so the plaintext does
            // not depend on how many records one read brought in.
            let over = read_plaintext(&mut conn, &mut session);
            if let Err(e) = processed {
                session.error = Some(e);
                break 'feed;
            }
            if over {
                break 'feed;
            }
        }
    }
    session
}

/// Move decrypted bytes from `conn` into the session and echo them back, draining what the
/// server writes after each piece (so the send buffer never fills). Returns true when the
/// connection is over (close_notify, or the plaintext bound reached).
fn read_plaintext(conn: &mut ServerConnection, session: &mut TlsSession) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        drain_tls(conn, &mut session.written);
        match conn.reader().read(&mut buf) {
            Ok(0) => {
                session.closed = true;
                return true;
            }
            Ok(n) => {
                let Some(data) = buf.get(..n) else {
                    panic!("reader returned more than the buffer");
                };
                if session.plaintext.len() + n > PLAINTEXT_BYTES_MAX {
                    return true;
                }
                session.plaintext.extend_from_slice(data);
                // The broker's answers take this path; the echo exercises the encrypting side.
                // `write` never fails (it buffers or encrypts); a short count after an error
                // is fine, the echo only exercises the sending side.
                let echoed = conn.writer().write(data).unwrap_or_default();
                debug_assert!(echoed <= n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(e) => panic!("reading decrypted plaintext failed: {e}"),
        }
    }
}

fn drain_tls<D>(conn: &mut ConnectionCommon<D>, out: &mut Vec<u8>) {
    while conn.wants_write() {
        if let Err(e) = conn.write_tls(out) {
            panic!("write_tls into a Vec failed: {e}");
        }
    }
}

/// Every error the server may report for what a client sent; anything else (randomness,
/// clock, encryption, key or config errors) is a fault on our side.
fn blames_the_peer(e: &rustls::Error) -> bool {
    use rustls::Error as E;
    matches!(
        e,
        E::InappropriateMessage { .. }
            | E::InappropriateHandshakeMessage { .. }
            | E::InvalidEncryptedClientHello(_)
            | E::InvalidMessage(_)
            | E::NoCertificatesPresented
            | E::UnsupportedNameType
            | E::DecryptError
            | E::PeerIncompatible(_)
            | E::PeerMisbehaved(_)
            | E::AlertReceived(_)
            | E::InvalidCertificate(_)
            | E::PeerSentOversizedRecord
            | E::NoApplicationProtocol
            // rustls reports some handshake mismatches (no signature scheme of the client's
            // for our key in TLS 1.2) as General.
            | E::General(_)
    )
}

/// Check that `written` is a sequence of whole TLS records of known types and sane sizes.
fn check_records(mut written: &[u8]) {
    while !written.is_empty() {
        let Some((&[kind, major, minor, hi, lo], rest)) = written.split_first_chunk::<5>() else {
            panic!("the server wrote a partial record header: {written:02x?}");
        };
        assert!(
            matches!(kind, 20..=23),
            "the server wrote a record of type {kind}"
        );
        assert!(
            major == 3 && (1..=3).contains(&minor),
            "the server wrote record version {major}.{minor}"
        );
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        assert!(
            len <= RECORD_PAYLOAD_BYTES_MAX,
            "the server wrote a {len}-byte record"
        );
        let Some(after) = rest.get(len..) else {
            panic!("the server wrote a truncated record");
        };
        written = after;
    }
}

/// The TLS harness: decrypt whole and chunked (same plaintext, same verdict), check the
/// server's output, then run the plaintext as an MQTT connection. (The bytes written back may
/// differ in record boundaries: the echo follows how much plaintext each read returned.)
pub fn run(bytes: &[u8]) -> Outcome {
    let whole = decrypt(bytes, bytes.len());
    let chunked = decrypt(bytes, 1 + bytes.len() % 7);
    for session in [&whole, &chunked] {
        if let Some(e) = &session.error {
            assert!(
                blames_the_peer(e),
                "the fuzz server failed on its side: {e:?}"
            );
        }
        check_records(&session.written);
    }
    let verdict = |s: &TlsSession| (s.handshake_done, s.closed, s.error.clone());
    assert_eq!(
        verdict(&whole),
        verdict(&chunked),
        "the TLS verdict depends on how the bytes arrived"
    );
    assert!(
        whole.plaintext == chunked.plaintext,
        "the decrypted plaintext depends on how the bytes arrived"
    );
    mqtt_connection(&whole.plaintext)
}
