//! The generator's TLS client settings (rustls with aws-lc-rs, as the broker uses): trust one CA
//! from a PEM file, offer X25519 only, never resume a session.
//!
//! Both choices make every connection of a storm a full handshake that costs every broker the
//! same work: without resumption there is no session cache to favour one broker (OpenSSL issues
//! two tickets per TLS 1.3 handshake by default, rustls servers differ), and with one key
//! exchange group a broker that prefers a post-quantum hybrid (brokkr's rustls does) cannot be
//! asked for more work than one whose OpenSSL lacks it (FlashMQ and Mosquitto on Debian 12).
//! Cipher suites and protocol versions are rustls's defaults (TLS 1.3 first, AES-256-GCM first).

use rustls::client::Resumption;
use rustls::crypto::aws_lc_rs;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::io;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The name the generator asks for (SNI) and checks in the broker's certificate by default.
pub const SERVER_NAME_DEFAULT: &str = "localhost";

/// Certificates read from a CA file, at most.
pub const CA_CERTS_MAX: usize = 64;

/// A TLS client configuration and the server name to verify.
#[derive(Clone)]
pub struct TlsClient {
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
        let provider = rustls::crypto::CryptoProvider {
            kx_groups: vec![aws_lc_rs::kx_group::X25519],
            ..aws_lc_rs::default_provider()
        };
        let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .map_err(invalid)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        let server_name = ServerName::try_from(server_name.to_owned()).map_err(invalid)?;
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    /// Run the client handshake on `tcp` to its end.
    pub async fn connect(&self, tcp: TcpStream) -> io::Result<TlsStream<TcpStream>> {
        self.connector.connect(self.server_name.clone(), tcp).await
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
}
