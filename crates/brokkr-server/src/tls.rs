//! TLS listeners: the rustls side, synchronous and sans-IO.
//!
//! A [`TlsListener`] owns one listener's certificate files and the [`ServerConfig`] built from
//! them. [`TlsListener::accept`] hands out a fresh [`ServerConnection`] for each accepted
//! socket; the worker then pumps the socket's bytes through it (`read_tls`,
//! `process_new_packets`, `reader`, `writer`, `write_tls`), so the TLS state machine runs inside
//! the worker that owns the connection. [`TlsListener::reload`] (SIGHUP) re-reads the files and
//! swaps the config in one step; connections already running keep the config they started with,
//! and a broken new file leaves the old config in force.
//!
//! Client certificates (mTLS) are required as soon as a CA file or CA directory is configured:
//! a missing or untrusted certificate fails the handshake, and [`client_cn`] gives the verified
//! certificate's Common Name, which the broker uses as the username.
//!
//! This module reads files (bounded: [`TLS_FILE_BYTES_MAX`], [`CA_DIR_FILES_MAX`]) and never
//! touches a socket. The crypto provider is aws-lc-rs (ARCHITECTURE.md, "TLS").

mod pem;
#[cfg(test)]
mod tests;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, SupportedProtocolVersion};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

pub use pem::{CA_DIR_FILES_MAX, TLS_FILE_BYTES_MAX};

/// The lowest protocol version a listener accepts (`minimum_tls_version`).
///
/// FlashMQ's `tlsv1.1` has no counterpart: rustls speaks TLS 1.2 and 1.3 only, so the config
/// layer maps it to [`MinTlsVersion::Tls12`] with a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MinTlsVersion {
    /// TLS 1.2 and 1.3.
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// The files one TLS listener is built from (`fullchain`, `privkey`, `minimum_tls_version`,
/// `client_verification_ca_file`, `client_verification_ca_dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM: the server certificate first, then its intermediates.
    pub fullchain: PathBuf,
    /// PEM: the private key as PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub privkey: PathBuf,
    /// The lowest protocol version accepted.
    pub minimum: MinTlsVersion,
    /// PEM bundle of CAs trusted for client certificates; makes client certificates required.
    pub client_ca_file: Option<PathBuf>,
    /// A hashed CA directory (as `c_rehash` makes): every regular file in it that holds PEM
    /// certificates is trusted, other files are skipped. Makes client certificates required.
    pub client_ca_dir: Option<PathBuf>,
}

/// Why a listener's files could not be loaded, or a connection not created.
#[derive(Debug)]
pub struct TlsError {
    path: Option<PathBuf>,
    kind: TlsErrorKind,
}

/// What went wrong, without the file name.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsErrorKind {
    /// The file or directory could not be read.
    Io(std::io::Error),
    /// The file is larger than [`TLS_FILE_BYTES_MAX`].
    FileTooLarge {
        /// The limit that was passed.
        bytes_max: u64,
    },
    /// The CA directory has more than [`CA_DIR_FILES_MAX`] entries.
    TooManyFiles {
        /// The limit that was passed.
        files_max: usize,
    },
    /// The PEM text is malformed.
    Pem(String),
    /// The certificate file holds no `CERTIFICATE` section.
    NoCertificate,
    /// The key file holds no private key section.
    NoPrivateKey,
    /// The CA file and directory together hold no usable CA certificate.
    NoCaCertificate,
    /// A CA certificate could not be used as a trust anchor.
    BadCaCertificate(rustls::Error),
    /// The client certificate verifier could not be built.
    ClientVerifier(rustls::server::VerifierBuilderError),
    /// rustls refused the certificate, the key or the combination (a key that does not match
    /// the certificate, an unsupported key type).
    Rustls(rustls::Error),
}

impl TlsError {
    fn new(path: &Path, kind: TlsErrorKind) -> Self {
        TlsError {
            path: Some(path.to_path_buf()),
            kind,
        }
    }

    fn without_path(kind: TlsErrorKind) -> Self {
        TlsError { path: None, kind }
    }

    /// The file or directory at fault, if the error is about one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// What went wrong.
    pub fn kind(&self) -> &TlsErrorKind {
        &self.kind
    }
}

impl fmt::Display for TlsErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsErrorKind::Io(e) => write!(f, "{e}"),
            TlsErrorKind::FileTooLarge { bytes_max } => {
                write!(f, "file larger than {bytes_max} bytes")
            }
            TlsErrorKind::TooManyFiles { files_max } => {
                write!(f, "directory has more than {files_max} entries")
            }
            TlsErrorKind::Pem(e) => write!(f, "malformed PEM: {e}"),
            TlsErrorKind::NoCertificate => f.write_str("no certificate in the file"),
            TlsErrorKind::NoPrivateKey => f.write_str("no private key in the file"),
            TlsErrorKind::NoCaCertificate => f.write_str("no CA certificate found"),
            TlsErrorKind::BadCaCertificate(e) => write!(f, "unusable CA certificate: {e}"),
            TlsErrorKind::ClientVerifier(e) => write!(f, "client verification: {e}"),
            TlsErrorKind::Rustls(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{}: {}", path.display(), self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            TlsErrorKind::Io(e) => Some(e),
            TlsErrorKind::BadCaCertificate(e) | TlsErrorKind::Rustls(e) => Some(e),
            _ => None,
        }
    }
}

/// What one successful load produced.
#[derive(Debug)]
struct Loaded {
    config: Arc<ServerConfig>,
    /// CA directory entries that were not loaded, each "path: reason", for the log.
    skipped: Vec<String>,
}

/// One TLS listener's current configuration, shared by the workers (`Send + Sync`).
#[derive(Debug)]
pub struct TlsListener {
    files: TlsFiles,
    verifies_clients: bool,
    current: RwLock<Loaded>,
}

impl TlsListener {
    /// Read the files and build the listener's config.
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let loaded = build(&files)?;
        Ok(TlsListener {
            verifies_clients: files.client_ca_file.is_some() || files.client_ca_dir.is_some(),
            files,
            current: RwLock::new(loaded),
        })
    }

    /// A listener around a ready-made config, with no files behind it (the fuzz mode's
    /// deterministic server): `reload` fails and keeps it.
    pub fn fixed(config: Arc<ServerConfig>, verifies_clients: bool) -> Self {
        TlsListener {
            files: TlsFiles {
                fullchain: PathBuf::new(),
                privkey: PathBuf::new(),
                minimum: MinTlsVersion::Tls12,
                client_ca_file: None,
                client_ca_dir: None,
            },
            verifies_clients,
            current: RwLock::new(Loaded {
                config,
                skipped: Vec::new(),
            }),
        }
    }

    /// Re-read the files (SIGHUP). On any error the config in force stays, and the error names
    /// the file at fault. Connections already accepted are not affected either way.
    pub fn reload(&self) -> Result<(), TlsError> {
        let loaded = build(&self.files)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = loaded;
        Ok(())
    }

    /// A new server-side connection with the config in force now.
    pub fn accept(&self) -> Result<ServerConnection, TlsError> {
        let config = self.config();
        ServerConnection::new(config).map_err(|e| TlsError::without_path(TlsErrorKind::Rustls(e)))
    }

    /// Whether client certificates are required (a CA file or directory is configured).
    pub fn verifies_clients(&self) -> bool {
        self.verifies_clients
    }

    /// The files this listener was loaded from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// The config in force now.
    pub fn config(&self) -> Arc<ServerConfig> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&current.config)
    }

    /// CA directory entries the last successful load skipped, each "path: reason" (log them).
    pub fn skipped(&self) -> Vec<String> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        current.skipped.clone()
    }
}

/// The Common Name of the verified client certificate's subject: the first CN attribute, if it
/// is a string type that holds valid UTF-8 without U+0000 (MQTT strings may not contain it).
/// `None` while the handshake runs, without a client certificate, or if the certificate's
/// subject has no such CN.
pub fn client_cn(conn: &ServerConnection) -> Option<String> {
    if conn.is_handshaking() {
        return None;
    }
    let leaf = conn.peer_certificates()?.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?;
    (!cn.contains('\0')).then(|| cn.to_owned())
}

/// The provider every listener uses: aws-lc-rs with rustls' default suites and groups.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn versions(minimum: MinTlsVersion) -> &'static [&'static SupportedProtocolVersion] {
    static BOTH: [&SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    static TLS13_ONLY: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    match minimum {
        MinTlsVersion::Tls12 => &BOTH,
        MinTlsVersion::Tls13 => &TLS13_ONLY,
    }
}

fn build(files: &TlsFiles) -> Result<Loaded, TlsError> {
    let chain = pem::certificates(&files.fullchain)?;
    let key = pem::private_key(&files.privkey)?;
    let provider = provider();
    let rustls_error = |e| TlsError::without_path(TlsErrorKind::Rustls(e));
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions(files.minimum))
        .map_err(rustls_error)?;
    let mut skipped = Vec::new();
    let builder = if files.client_ca_file.is_some() || files.client_ca_dir.is_some() {
        let roots = client_roots(files, &mut skipped)?;
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| TlsError::without_path(TlsErrorKind::ClientVerifier(e)))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    // A key that does not match the leaf certificate is refused here; blame the key file.
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::new(&files.privkey, TlsErrorKind::Rustls(e)))?;
    Ok(Loaded {
        config: Arc::new(config),
        skipped,
    })
}

/// The trust anchors for client certificates: every certificate of the CA file (each must be
/// usable), and every usable certificate of the CA directory's files.
fn client_roots(files: &TlsFiles, skipped: &mut Vec<String>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    if let Some(path) = &files.client_ca_file {
        for cert in pem::certificates(path)? {
            roots
                .add(cert)
                .map_err(|e| TlsError::new(path, TlsErrorKind::BadCaCertificate(e)))?;
        }
    }
    if let Some(dir) = &files.client_ca_dir {
        for (path, certs) in pem::ca_dir(dir, skipped)? {
            for cert in certs {
                if let Err(e) = roots.add(cert) {
                    skipped
                        .push(TlsError::new(&path, TlsErrorKind::BadCaCertificate(e)).to_string());
                }
            }
        }
    }
    if roots.is_empty() {
        let path = files
            .client_ca_file
            .as_ref()
            .or(files.client_ca_dir.as_ref());
        return Err(TlsError {
            path: path.cloned(),
            kind: TlsErrorKind::NoCaCertificate,
        });
    }
    Ok(roots)
}
