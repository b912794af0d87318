//! Password files against the real Mosquitto (Debian's `mosquitto` 2.0 package, installed by
//! scripts/install-deps.sh): hashes written by `mosquitto_passwd` verify with brokkr-auth, and a
//! file written by `brokkr passwd` lets `mosquitto_pub` log in to a real `mosquitto` started on a
//! loopback port (only that child process is killed). Debian's Mosquitto 2.0 cannot write or read
//! argon2id hashes (Mosquitto 2.1 can): those are covered by known-answer tests in brokkr-auth.
//! Each test is skipped, with a message, when the Mosquitto binaries are absent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr_auth::{Limits, PasswordDb};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn find(bin: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
}

/// The binaries, or `None` after printing why the test is skipped.
fn require(bins: &[&str]) -> Option<Vec<PathBuf>> {
    let found: Option<Vec<PathBuf>> = bins.iter().map(|b| find(b)).collect();
    if found.is_none() {
        eprintln!(
            "SKIPPED: {bins:?} not all installed (apt-get install mosquitto mosquitto-clients)"
        );
    }
    found
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brokkr-mosq-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run with a 10-second bound.
fn run(bin: &Path, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("10")
        .arg(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn brokkr_passwd(args: &[&str]) -> Output {
    run(
        Path::new(env!("CARGO_BIN_EXE_brokkr")),
        &[&["passwd"], args].concat(),
    )
}

fn load(path: &Path) -> PasswordDb {
    let (db, warnings) = brokkr_auth::fs::load_password_file(path, &Limits::DEFAULT).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    db
}

#[test]
fn mosquitto_passwd_hashes_verify_with_brokkr_auth() {
    let Some(bins) = require(&["mosquitto_passwd"]) else {
        return;
    };
    let mp = &bins[0];
    let dir = temp_dir("verify");
    let file = dir.join("passwd");
    let f = file.to_str().unwrap();
    assert!(
        run(mp, &["-c", "-b", f, "alice", "s3cret with spaces"])
            .status
            .success()
    );
    // Mosquitto 2.0 supports -H sha512 ($6$), Mosquitto 1.6's format.
    let usage = String::from_utf8_lossy(&run(mp, &[]).stdout).into_owned();
    let has_h = usage.contains("-H sha512");
    if has_h {
        assert!(
            run(mp, &["-H", "sha512", "-b", f, "bob", "pw"])
                .status
                .success()
        );
    }
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("alice:$7$101$"), "{text}");
    let db = load(&file);
    assert!(db.verify("alice", b"s3cret with spaces").is_ok());
    assert!(db.verify("alice", b"s3cret").is_err());
    if has_h {
        assert!(text.contains("\nbob:$6$"), "{text}");
        assert!(db.verify("bob", b"pw").is_ok());
        assert!(db.verify("bob", b"pW").is_err());
    }
    // mosquitto_passwd edits a file that brokkr passwd wrote, and the other way round.
    assert!(brokkr_passwd(&["-b", f, "carol", "c"]).status.success());
    assert!(run(mp, &["-D", f, "alice"]).status.success());
    assert!(brokkr_passwd(&["-D", f, "bob"]).status.success() || !has_h);
    let db = load(&file);
    assert!(!db.contains("alice") && !db.contains("bob"));
    assert!(db.verify("carol", b"c").is_ok());
    std::fs::remove_dir_all(dir).unwrap();
}

/// A real `mosquitto` on a loopback port; killed (by its own PID) when dropped.
struct Mosquitto {
    child: Child,
    port: u16,
}

impl Mosquitto {
    fn start(bin: &Path, dir: &Path, password_file: &Path) -> Mosquitto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n\
                 persistence false\nuser root\n",
                password_file.display()
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut m = Mosquitto { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = m.child.try_wait() {
                panic!("mosquitto exited early: {status}");
            }
            assert!(Instant::now() < deadline, "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        m
    }

    fn publish(&self, pubbin: &Path, user: &str, password: &str) -> bool {
        let port = self.port.to_string();
        let args = [
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-u",
            user,
            "-P",
            password,
            "-t",
            "t",
            "-m",
            "x",
        ];
        run(pubbin, &args).status.success()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn brokkr_passwd_file_is_accepted_by_real_mosquitto() {
    let Some(bins) = require(&["mosquitto", "mosquitto_pub"]) else {
        return;
    };
    let dir = temp_dir("broker");
    let file = dir.join("passwd");
    let f = file.to_str().unwrap();
    assert!(
        brokkr_passwd(&["-c", "-b", f, "alice", "wonder land"])
            .status
            .success()
    );
    assert!(
        brokkr_passwd(&["-H", "sha512", "-b", f, "bob", "builder"])
            .status
            .success()
    );
    let broker = Mosquitto::start(&bins[0], &dir, &file);
    assert!(
        broker.publish(&bins[1], "alice", "wonder land"),
        "$7$ refused by mosquitto"
    );
    assert!(
        broker.publish(&bins[1], "bob", "builder"),
        "$6$ refused by mosquitto"
    );
    assert!(!broker.publish(&bins[1], "alice", "wonderland"));
    assert!(!broker.publish(&bins[1], "nobody", "x"));
    drop(broker);
    std::fs::remove_dir_all(dir).unwrap();
}
