//! Test certificates: a small PKI written to a directory, for TLS and mTLS tests with real
//! clients (`mosquitto_pub --cafile/--cert/--key`, paho, HAProxy) and with rustls in memory.
//!
//! [`TestPki::generate`] writes, all PEM, ECDSA P-256 keys as PKCS#8:
//!
//! | file | what |
//! |---|---|
//! | `ca.pem` | the test CA (trust it to verify the server and client certificates) |
//! | `server.pem`, `server.key` | the server certificate followed by the CA (a fullchain), SANs `localhost`, `127.0.0.1`, `::1`, and its key |
//! | `client.pem`, `client.key` | a client certificate signed by the CA, CN `alice` |
//! | `other-ca.pem` | a second CA that nothing trusts |
//! | `rogue-client.pem`, `rogue-client.key` | a client certificate signed by the other CA, also CN `alice` |
//!
//! The certificates are valid from 1975 to 4096 (rcgen's defaults), so no test depends on the
//! clock. Test-only code: it panics on failure.
#![allow(clippy::expect_used, clippy::panic)]

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The CN of `client.pem` and `rogue-client.pem`.
pub const CLIENT_CN: &str = "alice";

/// The subject alternative names of `server.pem`.
pub const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A CA that can issue more certificates.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

impl Ca {
    fn new(cn: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let pem = params.self_signed(&key).expect("CA certificate").pem();
        Ca { params, key, pem }
    }

    /// A leaf certificate and its key, PEM.
    fn issue(&self, cn: &str, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
        let key = KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).expect("leaf certificate");
        (cert.pem(), key.serialize_pem())
    }
}

/// The test PKI of one directory.
pub struct TestPki {
    dir: PathBuf,
    ca: Ca,
    /// Made by [`TestPki::in_temp_dir`]: removed on drop.
    owns_dir: bool,
}

impl Drop for TestPki {
    fn drop(&mut self) {
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki").field("dir", &self.dir).finish()
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

impl TestPki {
    /// Generate fresh keys and certificates into `dir` (which must exist).
    pub fn generate(dir: &Path) -> TestPki {
        Self::generate_into(dir.to_path_buf(), false)
    }

    /// Generate into a new directory under the system's temporary directory, named after
    /// `tag`, the process and a counter; the directory is removed when the `TestPki` drops.
    pub fn in_temp_dir(tag: &str) -> TestPki {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("brokkr-pki-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Self::generate_into(dir, true)
    }

    fn generate_into(dir: PathBuf, owns_dir: bool) -> TestPki {
        let ca = Ca::new("brokkr test CA");
        let pki = TestPki { dir, ca, owns_dir };
        write(&pki.ca(), &pki.ca.pem);
        let (server, server_key) = pki.ca.issue(
            "localhost",
            &SERVER_NAMES,
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        write(&pki.server_cert(), &format!("{server}{}", pki.ca.pem));
        write(&pki.server_key(), &server_key);
        pki.issue_client("client", CLIENT_CN);
        let other = Ca::new("brokkr untrusted CA");
        write(&pki.other_ca(), &other.pem);
        let (rogue, rogue_key) = other.issue(CLIENT_CN, &[], ExtendedKeyUsagePurpose::ClientAuth);
        write(&pki.rogue_client_cert(), &rogue);
        write(&pki.rogue_client_key(), &rogue_key);
        pki
    }

    /// Issue another client certificate from the test CA with subject CN `cn`, written to
    /// `<stem>.pem` and `<stem>.key`; returns the two paths.
    pub fn issue_client(&self, stem: &str, cn: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = self.ca.issue(cn, &[], ExtendedKeyUsagePurpose::ClientAuth);
        let (cert_path, key_path) = (
            self.path(&format!("{stem}.pem")),
            self.path(&format!("{stem}.key")),
        );
        write(&cert_path, &cert);
        write(&key_path, &key);
        (cert_path, key_path)
    }

    /// Issue another server certificate (same names, fresh key) from the test CA, written as a
    /// fullchain to `<stem>.pem` and its key to `<stem>.key`; returns the two paths.
    pub fn issue_server(&self, stem: &str, cn: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = self
            .ca
            .issue(cn, &SERVER_NAMES, ExtendedKeyUsagePurpose::ServerAuth);
        let (cert_path, key_path) = (
            self.path(&format!("{stem}.pem")),
            self.path(&format!("{stem}.key")),
        );
        write(&cert_path, &format!("{cert}{}", self.ca.pem));
        write(&key_path, &key);
        (cert_path, key_path)
    }

    /// The directory the files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `ca.pem`: the CA that signed the server and client certificates.
    pub fn ca(&self) -> PathBuf {
        self.path("ca.pem")
    }

    /// `server.pem`: the server certificate and the CA (fullchain).
    pub fn server_cert(&self) -> PathBuf {
        self.path("server.pem")
    }

    /// `server.key`: the server's private key (PKCS#8).
    pub fn server_key(&self) -> PathBuf {
        self.path("server.key")
    }

    /// `client.pem`: a client certificate with CN `alice`, signed by the CA.
    pub fn client_cert(&self) -> PathBuf {
        self.path("client.pem")
    }

    /// `client.key`: the key of `client.pem`.
    pub fn client_key(&self) -> PathBuf {
        self.path("client.key")
    }

    /// `other-ca.pem`: a CA nothing trusts.
    pub fn other_ca(&self) -> PathBuf {
        self.path("other-ca.pem")
    }

    /// `rogue-client.pem`: a client certificate with CN `alice` signed by the other CA.
    pub fn rogue_client_cert(&self) -> PathBuf {
        self.path("rogue-client.pem")
    }

    /// `rogue-client.key`: the key of `rogue-client.pem`.
    pub fn rogue_client_key(&self) -> PathBuf {
        self.path("rogue-client.key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_sections(path: &Path, label: &str) -> usize {
        let text = std::fs::read_to_string(path).unwrap();
        text.matches(&format!("-----BEGIN {label}-----")).count()
    }

    #[test]
    fn writes_every_file_and_cleans_up() {
        let pki = TestPki::in_temp_dir("testkit");
        let dir = pki.dir().to_path_buf();
        for cert in [
            pki.ca(),
            pki.client_cert(),
            pki.other_ca(),
            pki.rogue_client_cert(),
        ] {
            assert_eq!(pem_sections(&cert, "CERTIFICATE"), 1, "{}", cert.display());
        }
        assert_eq!(pem_sections(&pki.server_cert(), "CERTIFICATE"), 2);
        for key in [pki.server_key(), pki.client_key(), pki.rogue_client_key()] {
            assert_eq!(pem_sections(&key, "PRIVATE KEY"), 1, "{}", key.display());
        }
        // The fullchain ends with the CA itself.
        let chain = std::fs::read_to_string(pki.server_cert()).unwrap();
        let ca = std::fs::read_to_string(pki.ca()).unwrap();
        assert!(chain.ends_with(&ca));
        let (cert, key) = pki.issue_client("bob", "bob");
        assert!(cert.exists() && key.exists());
        drop(pki);
        assert!(
            !dir.exists(),
            "the temporary directory outlived its TestPki"
        );
    }

    #[test]
    fn two_generations_differ() {
        let a = TestPki::in_temp_dir("testkit");
        let b = TestPki::in_temp_dir("testkit");
        assert_ne!(a.dir(), b.dir());
        let read = |p: PathBuf| std::fs::read(p).unwrap();
        assert_ne!(read(a.ca()), read(b.ca()));
    }
}
