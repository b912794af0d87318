//! Debian's HAProxy as a child process on loopback: `mode tcp` frontends, each forwarding to
//! one broker port with a PROXY header (`send-proxy-v2`, `send-proxy-v2-ssl-cn`, `send-proxy`).

use super::broker::tcp_listening;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One frontend: HAProxy listens on 127.0.0.1:`port` and forwards to 127.0.0.1:`backend`.
#[derive(Debug, Clone)]
pub struct Frontend {
    pub port: u16,
    pub backend: u16,
    /// The `server` line's options, e.g. `send-proxy-v2`.
    pub server_opts: String,
    /// The `bind` line's options, e.g. `ssl crt FILE ca-file FILE verify required`.
    pub bind_opts: String,
}

/// A running HAProxy; killed (by PID, it is this test's child) when dropped.
pub struct Haproxy {
    child: Child,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The config file text for `frontends`.
pub fn config(frontends: &[Frontend]) -> String {
    let mut text = String::from(
        "global\n    maxconn 200\n\ndefaults\n    mode tcp\n    timeout connect 5s\n    \
         timeout client 60s\n    timeout server 60s\n",
    );
    for (i, f) in frontends.iter().enumerate() {
        text.push_str(&format!(
            "\nfrontend f{i}\n    bind 127.0.0.1:{} {}\n    default_backend b{i}\n\n\
             backend b{i}\n    server broker 127.0.0.1:{} {}\n",
            f.port, f.bind_opts, f.backend, f.server_opts
        ));
    }
    text
}

/// Write the config into `dir`, check it with `haproxy -c`, start HAProxy in the foreground and
/// wait until every frontend listens (at most 10 s).
pub fn start(dir: &Path, frontends: &[Frontend]) -> Haproxy {
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, config(frontends)).unwrap();
    let check = Command::new("haproxy")
        .args(["-c", "-q", "-f"])
        .arg(&cfg)
        .output()
        .expect("haproxy (Debian package haproxy): run scripts/install-deps.sh");
    assert!(
        check.status.success(),
        "haproxy -c: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let log = std::fs::File::create(dir.join("haproxy.log")).unwrap();
    let child = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&cfg)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut h = Haproxy { child };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !frontends.iter().all(|f| tcp_listening(f.port)) {
        if let Ok(Some(status)) = h.child.try_wait() {
            panic!(
                "haproxy exited ({status}): {}",
                std::fs::read_to_string(dir.join("haproxy.log")).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "haproxy did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    h
}
