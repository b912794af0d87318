//! Test certificates made with Debian's `openssl` CLI: a CA, a server certificate for
//! `localhost` and 127.0.0.1, client certificates by common name, and a rogue CA whose client
//! certificate carries a trusted name but no trusted signature. EC P-256 keys, valid two days.
//! (brokkr_testkit::certs::TestPki, with rcgen, may replace this later.)

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A key and its certificate, as files.
#[derive(Debug, Clone)]
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pair {
    /// The certificate and key in one PEM file, as HAProxy's `crt` wants them.
    pub fn combined(&self, path: &Path) -> PathBuf {
        let mut text = std::fs::read_to_string(&self.cert).unwrap();
        text.push_str(&std::fs::read_to_string(&self.key).unwrap());
        std::fs::write(path, text).unwrap();
        path.to_path_buf()
    }
}

/// Everything a transport test needs, under one directory.
#[derive(Debug, Clone)]
pub struct Pki {
    pub dir: PathBuf,
    /// The trusted CA certificate (clients' `--cafile`, brokers' `client_verification_ca_file`).
    pub ca: PathBuf,
    /// A directory holding the CA under its OpenSSL hash name (`client_verification_ca_dir`).
    pub ca_dir: PathBuf,
    ca_key: PathBuf,
    /// Server certificate, serial 0x1001, CN `localhost`, SAN localhost and 127.0.0.1.
    pub server: Pair,
    /// Client certificate CN `alice`, signed by the CA.
    pub alice: Pair,
    /// Client certificate CN `bob`, signed by the CA.
    pub bob: Pair,
    /// Client certificate CN `alice`, signed by a CA nobody trusts.
    pub rogue: Pair,
}

pub const SERVER_SERIAL: &str = "1001";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("openssl CLI (Debian package openssl): run scripts/install-deps.sh");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn key(dir: &Path, name: &str) -> PathBuf {
    let file = format!("{name}.key");
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &file,
        ],
    );
    dir.join(file)
}

/// A self-signed CA named `cn`.
fn make_ca(dir: &Path, name: &str, cn: &str) -> (PathBuf, PathBuf) {
    let key = key(dir, name);
    let cert = format!("{name}.pem");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            key.to_str().unwrap(),
            "-subj",
            &format!("/CN={cn}"),
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            &cert,
        ],
    );
    (dir.join(cert), key)
}

/// A leaf certificate `name` with subject `/CN=cn`, signed by `(ca, ca_key)`, with the
/// extension lines `ext` (an openssl extfile).
fn leaf(dir: &Path, name: &str, cn: &str, serial: &str, signer: (&Path, &Path), ext: &str) -> Pair {
    let key = key(dir, name);
    let csr = format!("{name}.csr");
    let extfile = format!("{name}.ext");
    std::fs::write(dir.join(&extfile), ext).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            key.to_str().unwrap(),
            "-subj",
            &format!("/CN={cn}"),
            "-out",
            &csr,
        ],
    );
    let cert = format!("{name}.pem");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            signer.0.to_str().unwrap(),
            "-CAkey",
            signer.1.to_str().unwrap(),
            "-set_serial",
            &format!("0x{serial}"),
            "-days",
            "2",
            "-extfile",
            &extfile,
            "-out",
            &cert,
        ],
    );
    Pair {
        cert: dir.join(cert),
        key,
    }
}

const CLIENT_EXT: &str = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                          extendedKeyUsage=clientAuth\n";

impl Pki {
    /// Generate everything into `dir` (created if missing).
    pub fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        let (ca, ca_key) = make_ca(dir, "ca", "brokkr test CA");
        let server = Pki::server_cert(dir, "server", &ca, &ca_key, SERVER_SERIAL, "localhost");
        let alice = leaf(dir, "alice", "alice", "2001", (&ca, &ca_key), CLIENT_EXT);
        let bob = leaf(dir, "bob", "bob", "2002", (&ca, &ca_key), CLIENT_EXT);
        let (rogue_ca, rogue_ca_key) = make_ca(dir, "rogue-ca", "brokkr test CA");
        let rogue = leaf(
            dir,
            "rogue",
            "alice",
            "2003",
            (&rogue_ca, &rogue_ca_key),
            CLIENT_EXT,
        );
        // `openssl rehash` names the CA by its subject hash, as OpenSSL's CA directories need.
        let ca_dir = dir.join("ca.d");
        std::fs::create_dir_all(&ca_dir).unwrap();
        std::fs::copy(&ca, ca_dir.join("ca.pem")).unwrap();
        openssl(dir, &["rehash", ca_dir.to_str().unwrap()]);
        Pki {
            dir: dir.to_path_buf(),
            ca,
            ca_dir,
            ca_key,
            server,
            alice,
            bob,
            rogue,
        }
    }

    fn server_cert(
        dir: &Path,
        name: &str,
        ca: &Path,
        ca_key: &Path,
        serial: &str,
        cn: &str,
    ) -> Pair {
        let ext = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                   extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n";
        leaf(dir, name, cn, serial, (ca, ca_key), ext)
    }

    /// Another server certificate from the same CA, with its own key, `serial` (hex) and CN.
    pub fn another_server(&self, name: &str, serial: &str, cn: &str) -> Pair {
        Pki::server_cert(&self.dir, name, &self.ca, &self.ca_key, serial, cn)
    }

    /// The base64 SHA-256 of the server key's SubjectPublicKeyInfo (Chromium's
    /// `--ignore-certificate-errors-spki-list`).
    pub fn server_spki_sha256(&self) -> String {
        let script = format!(
            "openssl pkey -in '{}' -pubout -outform der | openssl dgst -sha256 -binary | base64",
            self.server.key.display()
        );
        let out = Command::new("sh").args(["-c", &script]).output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

/// The serial and subject of the certificate a TLS server at 127.0.0.1:`port` presents,
/// as `openssl s_client` sees it after verifying it against `ca`: "serial=...\nsubject=...".
pub fn presented_certificate(port: u16, ca: &Path) -> String {
    let out = Command::new("timeout")
        .args(["10", "openssl", "s_client", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "-servername",
            "localhost",
            "-verify_return_error",
            "-CAfile",
        ])
        .arg(ca)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    if !out.status.success() {
        return String::new();
    }
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-subject"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = x509.stdin.take().unwrap();
        let _ = stdin.write_all(&out.stdout);
    }
    let got = x509.wait_with_output().unwrap();
    String::from_utf8_lossy(&got.stdout).into_owned()
}

/// Whether `openssl s_client` with `version_flag` (`-tls1_2`, `-tls1_3`) completes a handshake
/// with 127.0.0.1:`port` trusting `ca`; and the protocol it printed ("TLSv1.3").
pub fn handshake(port: u16, ca: &Path, version_flag: &str) -> (bool, String) {
    let out = Command::new("timeout")
        .args(["10", "openssl", "s_client", version_flag, "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "-servername",
            "localhost",
            "-verify_return_error",
            "-CAfile",
        ])
        .arg(ca)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let protocol = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Protocol  : "))
        .or_else(|| {
            text.lines()
                .find_map(|l| l.strip_prefix("New, ")?.split(',').next())
        })
        .unwrap_or_default()
        .to_string();
    (out.status.success(), protocol)
}
