//! Bounded reading of the PEM files a TLS listener names: the certificate chain, the private
//! key, the client CA bundle and the hashed client CA directory.
//!
//! Every file is read through [`read_bounded`], so a wrong path (a log file, `/dev/zero`)
//! costs at most [`TLS_FILE_BYTES_MAX`] bytes, and a CA directory at most
//! [`CA_DIR_FILES_MAX`] entries and [`CA_DIR_BYTES_MAX`] bytes in all. PEM parsing is
//! rustls-pki-types' `PemObject`; nothing here interprets DER.

use super::{TlsError, TlsErrorKind};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest certificate, key or CA file read (a CA bundle of a few hundred certificates is
/// well under it).
pub const TLS_FILE_BYTES_MAX: u64 = 1 << 20;
/// The most entries a client CA directory may have.
pub const CA_DIR_FILES_MAX: usize = 10_000;
/// The most bytes read from the files of one client CA directory together.
pub const CA_DIR_BYTES_MAX: u64 = 64 << 20;

/// Read `path` whole, refusing files over [`TLS_FILE_BYTES_MAX`].
pub(super) fn read_bounded(path: &Path) -> Result<Vec<u8>, TlsError> {
    let io = |e| TlsError::new(path, TlsErrorKind::Io(e));
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(TLS_FILE_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > TLS_FILE_BYTES_MAX {
        return Err(TlsError::new(
            path,
            TlsErrorKind::FileTooLarge {
                bytes_max: TLS_FILE_BYTES_MAX,
            },
        ));
    }
    Ok(bytes)
}

/// Every `CERTIFICATE` section of `bytes`, in order; other sections are ignored.
fn parse_certificates(path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::new(path, pem_kind(e)))?;
    if certs.is_empty() {
        return Err(TlsError::new(path, TlsErrorKind::NoCertificate));
    }
    Ok(certs)
}

/// The certificates of a PEM file (at least one).
pub(super) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    parse_certificates(path, &read_bounded(path)?)
}

/// The first private key of a PEM file: PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) or
/// SEC1 (`EC PRIVATE KEY`). Encrypted keys are not supported (FlashMQ has no passphrase
/// option either).
pub(super) fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read_bounded(path)?;
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) => {
            let encrypted = bytes
                .windows(ENCRYPTED.len())
                .any(|w| w == ENCRYPTED.as_bytes());
            let kind = if encrypted {
                TlsErrorKind::Pem("encrypted private keys are not supported".to_owned())
            } else {
                TlsErrorKind::NoPrivateKey
            };
            Err(TlsError::new(path, kind))
        }
        Err(e) => Err(TlsError::new(path, pem_kind(e))),
    }
}

const ENCRYPTED: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";

fn pem_kind(e: pem::Error) -> TlsErrorKind {
    match e {
        pem::Error::NoItemsFound => TlsErrorKind::NoCertificate,
        pem::Error::Io(e) => TlsErrorKind::Io(e),
        other => TlsErrorKind::Pem(other.to_string()),
    }
}

/// The certificates of every regular file in a hashed CA directory, by file name order.
/// Entries that are not regular files (after following symlinks), hold no PEM certificate, or
/// are too large are skipped, and their reasons appended to `skipped`. Fails only if the
/// directory cannot be listed or is over [`CA_DIR_FILES_MAX`] entries or
/// [`CA_DIR_BYTES_MAX`] bytes.
pub(super) fn ca_dir(
    dir: &Path,
    skipped: &mut Vec<String>,
) -> Result<Vec<(PathBuf, Vec<CertificateDer<'static>>)>, TlsError> {
    let io = |e| TlsError::new(dir, TlsErrorKind::Io(e));
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        if paths.len() == CA_DIR_FILES_MAX {
            let files_max = CA_DIR_FILES_MAX;
            return Err(TlsError::new(dir, TlsErrorKind::TooManyFiles { files_max }));
        }
        paths.push(entry.map_err(io)?.path());
    }
    paths.sort();
    let mut bytes_total: u64 = 0;
    let mut out = Vec::new();
    for path in paths {
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => {
                bytes_total = bytes_total.saturating_add(meta.len());
                if bytes_total > CA_DIR_BYTES_MAX {
                    let bytes_max = CA_DIR_BYTES_MAX;
                    return Err(TlsError::new(dir, TlsErrorKind::FileTooLarge { bytes_max }));
                }
            }
            Ok(_) => {
                skipped.push(format!("{}: not a regular file", path.display()));
                continue;
            }
            Err(e) => {
                skipped.push(TlsError::new(&path, TlsErrorKind::Io(e)).to_string());
                continue;
            }
        }
        match read_bounded(&path).and_then(|bytes| parse_certificates(&path, &bytes)) {
            Ok(certs) => out.push((path, certs)),
            Err(e) => skipped.push(e.to_string()),
        }
    }
    Ok(out)
}
