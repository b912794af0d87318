//! Certificates for the TLS transports, made once per comparative run with rcgen: a CA, and a
//! server certificate it signs (SANs `localhost` and `127.0.0.1`) written as a fullchain with
//! its key, all PEM. Every broker under test gets the same files; the generator trusts the CA.
//!
//! The key kind is a choice of the run: ECDSA P-256 (the default; cheap to sign, so a storm
//! measures the handshake machinery) or RSA 2048 (still the most common server key; signing
//! dominates the broker's handshake cost).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SignatureAlgorithm,
};
use std::io;
use std::path::{Path, PathBuf};

/// The server certificate's subject alternative names.
pub const SERVER_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// The server key's algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum KeyKind {
    /// ECDSA with the P-256 curve and SHA-256.
    #[default]
    EcdsaP256,
    /// RSA, 2048-bit modulus, PKCS#1 v1.5 with SHA-256.
    Rsa2048,
}

impl KeyKind {
    fn algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            KeyKind::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyKind::Rsa2048 => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

/// The PEM texts of one run's certificates.
#[derive(Debug, Clone)]
pub struct PkiPem {
    /// The CA certificate (what the generator trusts).
    pub ca: String,
    /// The server certificate followed by the CA certificate.
    pub fullchain: String,
    /// The server's private key (PKCS#8).
    pub key: String,
}

/// Where one run's certificates were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiFiles {
    pub ca: PathBuf,
    pub fullchain: PathBuf,
    pub privkey: PathBuf,
}

fn tls_err(e: rcgen::Error) -> io::Error {
    io::Error::other(format!("certificate generation: {e}"))
}

/// A fresh CA (ECDSA P-256) and a server certificate with a `kind` key.
pub fn generate_pem(kind: KeyKind) -> io::Result<PkiPem> {
    let ca_key = KeyPair::generate().map_err(tls_err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    ca.distinguished_name
        .push(DnType::CommonName, "brokkr-bench CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_pem = ca.self_signed(&ca_key).map_err(tls_err)?.pem();
    let key = KeyPair::generate_for(kind.algorithm()).map_err(tls_err)?;
    let names = SERVER_NAMES.map(str::to_owned).to_vec();
    let mut server = CertificateParams::new(names).map_err(tls_err)?;
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server.is_ca = IsCa::ExplicitNoCa;
    server.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    let issuer = Issuer::from_params(&ca, &ca_key);
    let cert = server.signed_by(&key, &issuer).map_err(tls_err)?;
    Ok(PkiPem {
        fullchain: format!("{}{}", cert.pem(), ca_pem),
        ca: ca_pem,
        key: key.serialize_pem(),
    })
}

/// Generate and write `ca.pem`, `fullchain.pem` and `privkey.pem` into `dir` (created).
pub fn write(dir: &Path, kind: KeyKind) -> io::Result<PkiFiles> {
    let pem = generate_pem(kind)?;
    std::fs::create_dir_all(dir)?;
    let files = PkiFiles {
        ca: dir.join("ca.pem"),
        fullchain: dir.join("fullchain.pem"),
        privkey: dir.join("privkey.pem"),
    };
    std::fs::write(&files.ca, &pem.ca)?;
    std::fs::write(&files.fullchain, &pem.fullchain)?;
    std::fs::write(&files.privkey, &pem.key)?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fullchain_ends_with_the_ca_and_the_key_is_pkcs8() {
        for kind in [KeyKind::EcdsaP256, KeyKind::Rsa2048] {
            let pem = generate_pem(kind).unwrap();
            assert_eq!(pem.fullchain.matches("BEGIN CERTIFICATE").count(), 2);
            assert!(pem.fullchain.ends_with(&pem.ca));
            assert!(
                pem.key.starts_with("-----BEGIN PRIVATE KEY-----"),
                "{kind:?}"
            );
        }
    }
}
