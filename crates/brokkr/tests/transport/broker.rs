//! The broker under test: brokkr (default) or FlashMQ (`BROKKR_TRANSPORT_PEER=flashmq`), started
//! on one generated config file that both read unchanged, and the gate that skips brokkr runs
//! while it refuses transport listeners as "not supported yet".

use crate::common::{TempDir, binary};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Which broker the transport tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Brokkr,
    FlashMq,
}

impl Peer {
    /// From `BROKKR_TRANSPORT_PEER` (`brokkr`, the default, or `flashmq`).
    pub fn from_env() -> Peer {
        match std::env::var("BROKKR_TRANSPORT_PEER").as_deref() {
            Err(_) | Ok("") | Ok("brokkr") => Peer::Brokkr,
            Ok("flashmq") => Peer::FlashMq,
            Ok(other) => panic!("BROKKR_TRANSPORT_PEER={other}: expected brokkr or flashmq"),
        }
    }

    pub fn binary(self) -> PathBuf {
        match self {
            Peer::Brokkr => PathBuf::from(binary()),
            Peer::FlashMq => flashmq_binary(),
        }
    }
}

/// `FLASHMQ_BIN`, else `../shared/peers/flashmq` beside the repository, else the machine's
/// shared copy.
fn flashmq_binary() -> PathBuf {
    if let Ok(path) = std::env::var("FLASHMQ_BIN") {
        return PathBuf::from(path);
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peers/flashmq");
    if beside.exists() {
        return beside;
    }
    PathBuf::from("/work/shared/peers/flashmq")
}

/// What a running broker listens on, to wait for before a test talks to it.
#[derive(Debug, Clone)]
pub enum Ready {
    Tcp(u16),
    Unix(PathBuf),
}

/// A running broker; killed (it is this test's child, by PID) and its directory removed on drop.
/// With `BROKKR_TRANSPORT_KEEP_LOGS=DIR` its log is copied to `DIR/<peer>-<test>.log` first.
pub struct Broker {
    pub peer: Peer,
    name: String,
    child: Child,
    pub dir: TempDir,
    pub conf: PathBuf,
    pub log: PathBuf,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(keep) = std::env::var_os("BROKKR_TRANSPORT_KEEP_LOGS") {
            let keep = PathBuf::from(keep);
            let _ = std::fs::create_dir_all(&keep);
            let name = format!("{:?}-{}.log", self.peer, self.name).to_lowercase();
            let _ = std::fs::copy(&self.log, keep.join(name));
        }
    }
}

impl Broker {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log file so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait up to `secs` for a log line containing every one of `needles`; the line, or None.
    pub fn wait_log_line(&self, needles: &[&str], secs: u64) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let found = self
                .log_text()
                .lines()
                .find(|l| needles.iter().all(|n| l.contains(n)))
                .map(str::to_string);
            if found.is_some() || Instant::now() >= deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The config text every transport test starts with: the log file in `dir`, info level (both
/// brokers log connections there), anonymous clients allowed unless a test says otherwise.
pub fn preamble(dir: &Path) -> String {
    format!(
        "log_file {}\nlog_level info\nallow_anonymous true\n",
        dir.join("broker.log").display()
    )
}

/// brokkr must accept every listener these tests configure (`--test-config` on the test's own
/// config): a refusal fails the test with brokkr's message. FlashMQ is not checked this way.
/// Returns true when the test may run (always, since brokkr serves every transport now; the
/// signature stays for the callers).
pub fn gate(peer: Peer, conf: &Path, test: &str) -> bool {
    if peer != Peer::Brokkr {
        return true;
    }
    let out = Command::new(binary())
        .args(["--test-config", "--config-file"])
        .arg(conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{test}: brokkr refused the test's config:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// Write `config` to `dir/broker.conf`, pass the gate, start the peer on it and wait until it
/// listens on every one of `ready` (at most 20 s). None when the gate skips.
pub fn start(
    peer: Peer,
    dir: TempDir,
    config: &str,
    ready: &[Ready],
    test: &str,
) -> Option<Broker> {
    let conf = dir.0.join("broker.conf");
    std::fs::write(&conf, config).unwrap();
    if !gate(peer, &conf, test) {
        return None;
    }
    let out = std::fs::File::create(dir.0.join("stdout.log")).unwrap();
    let child = Command::new(peer.binary())
        .arg("--config-file")
        .arg(&conf)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let log = dir.0.join("broker.log");
    let mut broker = Broker {
        peer,
        name: test.to_string(),
        child,
        dir,
        conf,
        log,
    };
    for r in ready {
        wait_ready(&mut broker, r);
    }
    Some(broker)
}

fn wait_ready(b: &mut Broker, ready: &Ready) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let up = match ready {
            Ready::Tcp(port) => tcp_listening(*port),
            Ready::Unix(path) => unix_listening(path),
        };
        if up {
            return;
        }
        if let Ok(Some(status)) = b.child.try_wait() {
            let stdout = std::fs::read_to_string(b.dir.0.join("stdout.log")).unwrap_or_default();
            panic!(
                "{:?} exited ({status}) before listening on {ready:?}:\n{stdout}\n{}",
                b.peer,
                b.log_text()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{:?} did not listen on {ready:?}:\n{}",
            b.peer,
            b.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether some socket listens on TCP `port` (from /proc/net/tcp, so waiting opens no
/// connection the broker would log).
pub fn tcp_listening(port: u16) -> bool {
    let want = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                cols.len() > 3 && cols[1].ends_with(&want) && cols[3] == "0A"
            })
    })
}

/// Whether a listening unix socket is bound at `path` (from /proc/net/unix: a stale socket
/// file left on disk does not count).
pub fn unix_listening(path: &Path) -> bool {
    let want = path.to_string_lossy();
    std::fs::read_to_string("/proc/net/unix")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            cols.len() > 7 && cols[3] == "00010000" && cols[7] == want
        })
}
