//! Real clients: mosquitto_pub, mosquitto_sub (waiting for its SUBACK, reading what it prints)
//! and the paho-mqtt helper script, each bounded in time.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// How a mosquitto client reaches the broker: its connection arguments.
#[derive(Debug, Clone)]
pub struct Via(pub Vec<String>);

impl Via {
    /// TCP to 127.0.0.1:`port`.
    pub fn tcp(port: u16) -> Via {
        Via(vec![
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ])
    }

    /// TLS to localhost:`port` (the server certificate names localhost), trusting `ca`.
    pub fn tls(port: u16, ca: &Path) -> Via {
        Via(vec![
            "-h".into(),
            "localhost".into(),
            "-p".into(),
            port.to_string(),
            "--cafile".into(),
            ca.display().to_string(),
        ])
    }

    /// The unix socket at `path`.
    pub fn unix(path: &Path) -> Via {
        Via(vec!["--unix".into(), path.display().to_string()])
    }

    /// These arguments plus `more`.
    pub fn with(&self, more: &[&str]) -> Via {
        let mut args = self.0.clone();
        args.extend(more.iter().map(|s| s.to_string()));
        Via(args)
    }

    /// Plus `--cert` and `--key`.
    pub fn cert(&self, cert: &Path, key: &Path) -> Via {
        self.with(&[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ])
    }
}

/// mosquitto_pub one QoS 1 message (at most 10 s).
pub fn publish(via: &Via, topic: &str, payload: &str) -> Output {
    Command::new("timeout")
        .args(["10", "mosquitto_pub"])
        .args(&via.0)
        .args(["-q", "1", "-t", topic, "-m", payload])
        .output()
        .expect("mosquitto_pub (Debian package mosquitto-clients): run scripts/install-deps.sh")
}

/// Like [`publish`], and it must succeed.
pub fn publish_ok(via: &Via, topic: &str, payload: &str) {
    let out = publish(via, topic, payload);
    assert!(
        out.status.success(),
        "mosquitto_pub {via:?} {topic} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A mosquitto_sub child printing `topic payload` lines; killed (by PID) when dropped.
pub struct Subscriber {
    child: Child,
    lines: Receiver<String>,
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The outcome of starting a subscriber.
pub enum Subscribed {
    /// It got its SUBACK.
    Yes(Subscriber),
    /// It exited or printed no SUBACK within 10 s; what it wrote to stderr.
    No(String),
}

impl Subscribed {
    /// The subscriber; panics with the reason when it did not subscribe.
    pub fn ok(self) -> Subscriber {
        match self {
            Subscribed::Yes(s) => s,
            Subscribed::No(why) => panic!("mosquitto_sub did not subscribe: {why}"),
        }
    }
}

/// Start mosquitto_sub on `filter` (QoS 1) through `via` and wait for its SUBACK (at most 10 s).
pub fn subscribe(via: &Via, filter: &str) -> Subscribed {
    // stdbuf -oL execs mosquitto_sub in place (same PID) with a line-buffered stdout, so the
    // SUBACK line arrives when it happens.
    let mut child = Command::new("stdbuf")
        .args(["-oL", "mosquitto_sub"])
        .args(&via.0)
        .args(["-q", "1", "-t", filter, "-v", "-d", "-W", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains("SUBACK") => {
                return Subscribed::Yes(Subscriber { child, lines });
            }
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                return Subscribed::No(String::from_utf8_lossy(&out.stderr).into_owned());
            }
        }
    }
}

impl Subscriber {
    /// Wait up to `secs` for the message line `topic payload`; every message line seen so far.
    pub fn expect(&self, topic: &str, payload: &str, secs: u64) -> Vec<String> {
        let want = format!("{topic} {payload}");
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut seen = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if is_message(&line) {
                let done = line == want;
                seen.push(line);
                if done {
                    return seen;
                }
            }
        }
        panic!("mosquitto_sub never printed `{want}`; it printed {seen:?}");
    }

    /// Wait up to `secs` until every one of the message lines `want` ("topic payload") was
    /// seen, in any order (messages from different publishers may be delivered in any order);
    /// every message line seen, sorted.
    pub fn expect_all(&self, want: &[&str], secs: u64) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut seen = Vec::new();
        while !want.iter().all(|w| seen.iter().any(|s: &String| s == w)) {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) if is_message(&line) => seen.push(line),
                Ok(_) => {}
                Err(_) => {
                    panic!("mosquitto_sub never printed all of {want:?}; it printed {seen:?}")
                }
            }
        }
        seen.sort();
        seen
    }

    /// Message lines until `quiet_ms` pass without one (at most 30 s).
    pub fn drain(&self, quiet_ms: u64) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(quiet_ms)) {
                Ok(line) if is_message(&line) => seen.push(line),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        seen
    }

    /// Whether the mosquitto_sub process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// `-d` debug lines start with "Client "; `-v` message lines are "topic payload".
fn is_message(line: &str) -> bool {
    !line.starts_with("Client ") && !line.starts_with("Subscribed")
}

/// The repository's `tests/` directory (helper scripts, the browser test's node modules).
pub fn repo_tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests")
}

/// Run `tests/transports/paho_check.py` with `args` (at most 30 s): it subscribes, publishes
/// and prints what came back. Its output.
pub fn paho(args: &[&str]) -> Output {
    let script = repo_tests_dir().join("transports/paho_check.py");
    Command::new("timeout")
        .args(["30", "python3"])
        .arg(script)
        .args(args)
        .output()
        .unwrap()
}

/// Like [`paho`], and it must print `received: payload`.
pub fn paho_round_trip(args: &[&str], payload: &str) {
    let out = paho(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.lines().any(|l| l == format!("received: {payload}")),
        "paho {args:?}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
