//! What the real binary's tests share: temporary directories, free ports, a config file's
//! listener block, starting the binary on a config and waiting for it to listen, signals.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

pub mod mqtt;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A directory under the system's temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory named after the test and this process.
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("brokkr-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free loopback port (bound and released at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `listen` block for 127.0.0.1:`port`, with `extra` lines inside.
pub fn listen_block(port: u16, extra: &str) -> String {
    format!(
        "listen {{\n  port {port}\n  inet_protocol ip4\n  inet4_bind_address 127.0.0.1\n{extra}\n}}\n"
    )
}

/// The binary under test (`BROKKR_BIN` overrides it, e.g. for a release build).
pub fn binary() -> String {
    std::env::var("BROKKR_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_brokkr").into())
}

/// Start the binary on `conf` (stdout as given, stderr discarded) and wait until `port`
/// accepts (at most 20 s).
pub fn spawn(conf: &Path, port: u16, stdout: Stdio) -> Child {
    let child = Command::new(binary())
        .args(["--config-file", conf.to_str().unwrap()])
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(port);
    child
}

/// Wait until `port` accepts (at most 20 s).
pub fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "broker did not listen on {port}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Send `signal` (e.g. "-HUP") to `pid`, a process this test started.
pub fn signal(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill {signal} {pid}");
}

/// SIGTERM, then the broker's log (stdout must have been piped); it must exit 0.
pub fn stop(child: Child) -> String {
    signal(child.id(), "-TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Replace a file's content at once (write a neighbour, rename), as editors and deployment
/// tools do.
pub fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
