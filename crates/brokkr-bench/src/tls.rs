//! The generator's TLS client settings (rustls with aws-lc-rs, as the broker uses): trust one CA
//! from a PEM file, offer X25519 only, never resume a session.
//!
//! Both choices make every connection of a storm a full handshake that costs every broker the
//! same work: without resumption there is no session cache to favour one broker (OpenSSL issues
//! two tickets per TLS 1.3 handshake by default, rustls servers differ), and with one key
//! exchange group a broker that prefers a post-quantum hybrid (brokkr's rustls does) cannot be
//! asked for more work than one whose OpenSSL lacks it (FlashMQ and Mosquitto on Debian 12).
//! Cipher suites and protocol versions are rustls's defaults (TLS 1.3 first, AES-256-GCM first).
//!
//! The generator verifies every handshake's signature, but checks a certificate chain against
//! the CA once per run ([`RememberingVerifier`]): the broker presents the same chain every time,
//! and verifying it again on every connection would double the client's public-key work and
//! make a TLS connection storm measure the generator instead of the broker.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The name the generator asks for (SNI) and checks in the broker's certificate by default.
pub const SERVER_NAME_DEFAULT: &str = "localhost";

/// Certificates read from a CA file, at most.
pub const CA_CERTS_MAX: usize = 64;

/// Verified certificate chains remembered, at most (one broker presents one).
pub const VERIFIED_CHAINS_MAX: usize = 16;

/// A TLS client configuration and the server name to verify.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    pub connector: TlsConnector,
    pub server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl TlsClient {
    /// Trust the certificates in the PEM file `ca`; verify the broker as `server_name`.
    pub fn new(ca: &Path, server_name: &str) -> io::Result<TlsClient> {
        let pem =
            std::fs::read(ca).map_err(|e| io::Error::new(e.kind(), format!("{ca:?}: {e}")))?;
        Self::from_pem(&pem, server_name)
    }

    /// As [`TlsClient::new`], from the PEM text of the CA file.
    pub fn from_pem(ca_pem: &[u8], server_name: &str) -> io::Result<TlsClient> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem).take(CA_CERTS_MAX) {
            roots.add(cert.map_err(invalid)?).map_err(invalid)?;
        }
        if roots.is_empty() {
            return Err(invalid("no certificate in the CA file"));
        }
        let provider = Arc::new(CryptoProvider {
            kx_groups: vec![aws_lc_rs::kx_group::X25519],
            ..aws_lc_rs::default_provider()
        });
        let verifier = RememberingVerifier::new(roots, &provider)?;
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(invalid)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        let server_name = ServerName::try_from(server_name.to_owned()).map_err(invalid)?;
        let config = Arc::new(config);
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::clone(&config)),
            config,
            server_name,
        })
    }

    /// The rustls configuration (for blocking connections).
    pub fn config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.config)
    }

    /// Run the client handshake on `tcp` to its end.
    pub async fn connect(&self, tcp: TcpStream) -> io::Result<TlsStream<TcpStream>> {
        self.connector.connect(self.server_name.clone(), tcp).await
    }
}

/// rustls's WebPKI verifier, which remembers the chains (certificates and server name, byte for
/// byte) it has accepted and accepts them again without a second check. Signatures over each
/// handshake are always verified. A remembered chain is not checked against the clock again
/// (the run's certificates are valid for centuries).
#[derive(Debug)]
pub struct RememberingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    verified: Mutex<Vec<Vec<u8>>>,
}

impl RememberingVerifier {
    /// Trust `roots`, with the signature algorithms of `provider`.
    pub fn new(roots: RootCertStore, provider: &Arc<CryptoProvider>) -> io::Result<Self> {
        let inner =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
                .build()
                .map_err(invalid)?;
        Ok(RememberingVerifier {
            inner,
            verified: Mutex::new(Vec::new()),
        })
    }

    /// The remembered form of a chain: each certificate and the name, length-prefixed.
    fn key(
        end_entity: &[u8],
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
    ) -> Vec<u8> {
        let name = name.to_str();
        let parts = std::iter::once(end_entity)
            .chain(intermediates.iter().map(|c| c.as_ref()))
            .chain(std::iter::once(name.as_bytes()));
        let mut key = Vec::new();
        for part in parts {
            key.extend_from_slice(&(part.len() as u64).to_le_bytes());
            key.extend_from_slice(part);
        }
        key
    }
}

impl ServerCertVerifier for RememberingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let key = Self::key(end_entity, intermediates, server_name);
        let poisoned = || rustls::Error::General("verifier lock poisoned".into());
        if self.verified.lock().map_err(|_| poisoned())?.contains(&key) {
            return Ok(ServerCertVerified::assertion());
        }
        self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let mut verified = self.verified.lock().map_err(|_| poisoned())?;
        if verified.len() < VERIFIED_CHAINS_MAX {
            verified.push(key);
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        assert!(TlsClient::from_pem(b"", "localhost").is_err());
        assert!(TlsClient::from_pem(b"not pem at all", "localhost").is_err());
        let pki = crate::pki::generate_pem(crate::pki::KeyKind::EcdsaP256).unwrap();
        assert!(TlsClient::from_pem(pki.ca.as_bytes(), "localhost").is_ok());
        assert!(TlsClient::from_pem(pki.ca.as_bytes(), "not a name!").is_err());
    }

    fn chain(pem: &str) -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_remembered_chain_is_accepted_and_only_that_one() {
        let pki = crate::pki::generate_pem(crate::pki::KeyKind::EcdsaP256).unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(chain(&pki.ca).remove(0)).unwrap();
        let provider = Arc::new(aws_lc_rs::default_provider());
        let v = RememberingVerifier::new(roots, &provider).unwrap();
        let good = chain(&pki.fullchain);
        let (ee, rest) = good.split_first().unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let now = UnixTime::now();
        for _ in 0..2 {
            assert!(v.verify_server_cert(ee, rest, &name, &[], now).is_ok());
        }
        assert_eq!(v.verified.lock().unwrap().len(), 1);
        // The same chain under another name, and another CA's chain, are still checked.
        let other_name = ServerName::try_from("example.com").unwrap();
        assert!(
            v.verify_server_cert(ee, rest, &other_name, &[], now)
                .is_err()
        );
        let stranger = crate::pki::generate_pem(crate::pki::KeyKind::EcdsaP256).unwrap();
        let bad = chain(&stranger.fullchain);
        let (ee, rest) = bad.split_first().unwrap();
        assert!(v.verify_server_cert(ee, rest, &name, &[], now).is_err());
        assert_eq!(v.verified.lock().unwrap().len(), 1);
    }
}
