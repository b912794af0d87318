//! Brokers under test as child processes: brokkr and FlashMQ (FlashMQ's config syntax),
//! Debian's Mosquitto (its own syntax), the built-in relay, or any command line with `{port}`
//! and `{config}` placeholders. Each run gets a fresh process, a generated config with one
//! worker thread (unless asked otherwise), and `taskset -c CPU` in front when pinned (taskset
//! execs the broker, so the child's PID is the broker's). The child is killed by its handle,
//! never by name: when dropped, or by a watchdog thread at its deadline.
//!
//! The one listener speaks the workload's transport ([`Listener`]): in FlashMQ's syntax
//! `protocol websockets` for ws and wss, `fullchain` and `privkey` for tls and wss; in
//! Mosquitto's, `protocol websockets` and `certfile`/`keyfile` under its `listener` line.

use crate::pki::PkiFiles;
use crate::transport::TransportKind;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest a broker may take to accept connections.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// What to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Brokkr(PathBuf),
    FlashMq(PathBuf),
    Mosquitto(PathBuf),
    Relay,
    /// A shell-free command line: words split on spaces, `{port}` and `{config}` replaced.
    Command(String),
}

/// A named broker under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub kind: Kind,
    /// Worker threads written into the generated config (brokkr, FlashMQ).
    pub threads: usize,
}

impl Spec {
    /// Parse `NAME=KIND[:PATH]` or `KIND[:PATH]`, KIND one of brokkr, flashmq, mosquitto, relay,
    /// cmd (`cmd:` takes the rest as the command line).
    pub fn parse(text: &str, threads: usize) -> Result<Spec, String> {
        let (name, rest) = match text.split_once('=') {
            Some((n, r)) if !n.contains(':') => (Some(n.to_owned()), r),
            _ => (None, text),
        };
        let (kind, arg) = match rest.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (rest, None),
        };
        // `KIND@N`: N worker threads for this broker, whatever `threads` says.
        let (kind, threads) = match kind.split_once('@') {
            Some((k, n)) => (k, n.parse().map_err(|_| format!("bad thread count {n:?}"))?),
            None => (kind, threads),
        };
        let path = |default: &str| PathBuf::from(arg.unwrap_or(default));
        let kind_name = kind;
        let kind = match kind {
            "brokkr" => Kind::Brokkr(path("target/release/brokkr")),
            "flashmq" => Kind::FlashMq(path("/work/shared/peers/flashmq")),
            "mosquitto" => Kind::Mosquitto(path("mosquitto")),
            "relay" => Kind::Relay,
            "cmd" => Kind::Command(arg.ok_or("cmd: needs a command line")?.to_owned()),
            other => return Err(format!("unknown broker kind {other:?}")),
        };
        let name = name.unwrap_or_else(|| {
            let base = kind_name;
            if threads == 1 {
                base.to_owned()
            } else {
                format!("{base}-t{threads}")
            }
        });
        Ok(Spec {
            name,
            kind,
            threads,
        })
    }

    /// Whether this broker can listen with `transport` (the relay speaks plain TCP only).
    pub fn supports(&self, transport: TransportKind) -> bool {
        self.kind != Kind::Relay || transport == TransportKind::Tcp
    }

    /// The config file text for `port` and `listener`, if this kind takes one.
    pub fn config(&self, port: u16, listener_spec: &Listener) -> Option<String> {
        let ws = listener_spec.transport.is_ws();
        let tls = listener_spec
            .tls
            .as_ref()
            .filter(|_| listener_spec.transport.is_tls());
        match &self.kind {
            Kind::Brokkr(_) | Kind::FlashMq(_) | Kind::Command(_) => {
                let mut listen = format!(
                    "listen {{\n  protocol {}\n  inet_protocol ip4\n  \
                     inet4_bind_address 127.0.0.1\n  port {port}\n  tcp_nodelay true\n",
                    if ws { "websockets" } else { "mqtt" }
                );
                if let Some(files) = tls {
                    listen.push_str(&format!(
                        "  fullchain {}\n  privkey {}\n",
                        files.fullchain.display(),
                        files.privkey.display()
                    ));
                }
                Some(format!(
                    "thread_count {}\nallow_anonymous true\nlog_level warning\n\
                     max_qos_msg_pending_per_client 65535\n\
                     max_qos_bytes_pending_per_client 268435456\n{listen}}}\n",
                    self.threads
                ))
            }
            Kind::Mosquitto(_) => {
                let mut listener = String::new();
                if let Some(spare) = listener_spec.spare_port.filter(|_| ws) {
                    // Mosquitto 2.0.11 exits ("Unable to start any listening sockets") when
                    // its only listener is a websockets one: a plain one beside it, unused.
                    listener.push_str(&format!("listener {spare} 127.0.0.1\n"));
                }
                listener.push_str(&format!("listener {port} 127.0.0.1\n"));
                if ws {
                    // Without `socket_domain ipv4` libwebsockets binds every address.
                    listener.push_str("protocol websockets\nsocket_domain ipv4\n");
                }
                if let Some(files) = tls {
                    listener.push_str(&format!(
                        "certfile {}\nkeyfile {}\n",
                        files.fullchain.display(),
                        files.privkey.display()
                    ));
                }
                Some(format!(
                    "{listener}allow_anonymous true\npersistence false\n\
                     log_dest stderr\nlog_type error\nset_tcp_nodelay true\n\
                     max_queued_messages 65535\nmax_inflight_messages 0\n\
                     max_connections -1\n"
                ))
            }
            Kind::Relay => None,
        }
    }

    /// The command line (program and arguments) for `port` and `config`.
    pub fn command(&self, port: u16, config: &Path) -> io::Result<Vec<String>> {
        let c = config.display().to_string();
        Ok(match &self.kind {
            Kind::Brokkr(p) | Kind::FlashMq(p) => {
                vec![p.display().to_string(), "--config-file".into(), c]
            }
            Kind::Mosquitto(p) => vec![p.display().to_string(), "-c".into(), c],
            Kind::Relay => vec![
                std::env::current_exe()?.display().to_string(),
                "relay".into(),
                "--port".into(),
                port.to_string(),
            ],
            Kind::Command(line) => line
                .split_whitespace()
                .map(|w| {
                    w.replace("{port}", &port.to_string())
                        .replace("{config}", &c)
                })
                .collect(),
        })
    }
}

/// The listener a broker under test is started with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listener {
    pub transport: TransportKind,
    /// The certificate and key for tls and wss.
    pub tls: Option<PkiFiles>,
    /// A second free port, for the plain listener Mosquitto needs beside a websockets one.
    pub spare_port: Option<u16>,
}

/// A running broker; killed when dropped.
#[derive(Debug)]
pub struct Running {
    child: Arc<Mutex<Option<Child>>>,
    pub pid: u32,
    pub addr: SocketAddr,
}

impl Running {
    /// Start `spec` on `port` with `listener`, pinned to `cpu` if given, in `dir` (config and
    /// logs); killed at `lifetime` at the latest.
    pub fn start(
        spec: &Spec,
        (port, listener): (u16, &Listener),
        cpu: Option<usize>,
        dir: &Path,
        lifetime: Duration,
    ) -> io::Result<Running> {
        std::fs::create_dir_all(dir)?;
        let config = dir.join(format!("{}.conf", spec.name));
        if listener.transport.is_tls() && listener.tls.is_none() {
            return Err(io::Error::other("a TLS listener needs a certificate"));
        }
        if let Some(text) = spec.config(port, listener) {
            std::fs::write(&config, text)?;
        }
        let mut words = spec.command(port, &config)?;
        if let Some(cpu) = cpu {
            words.splice(
                0..0,
                ["taskset".to_owned(), "-c".to_owned(), cpu.to_string()],
            );
        }
        let (program, args) = words
            .split_first()
            .ok_or_else(|| io::Error::other("empty command line"))?;
        let log = std::fs::File::create(dir.join(format!("{}.log", spec.name)))?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let pid = child.id();
        let child = Arc::new(Mutex::new(Some(child)));
        spawn_watchdog(Arc::downgrade(&child), lifetime);
        if let Ok(mut started) = STARTED.lock() {
            started.retain(|c| c.strong_count() > 0);
            started.push(Arc::downgrade(&child));
        }
        let running = Running {
            child,
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        running.wait_listening()?;
        Ok(running)
    }

    fn wait_listening(&self) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Ok(mut guard) = self.child.lock()
                && let Some(c) = guard.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                return Err(io::Error::other(format!("broker exited: {status}")));
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "broker did not listen",
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn kill(child: &Mutex<Option<Child>>) {
    if let Ok(mut guard) = child.lock()
        && let Some(mut c) = guard.take()
    {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// Every broker this process started and has not yet reaped, for [`kill_all_started`].
static STARTED: Mutex<Vec<std::sync::Weak<Mutex<Option<Child>>>>> = Mutex::new(Vec::new());

/// Kill every broker this process started that is still running (on SIGINT or SIGTERM, when
/// the normal drops will not run).
pub fn kill_all_started() {
    let started = STARTED.lock().map(|s| s.clone()).unwrap_or_default();
    for c in started.iter().filter_map(std::sync::Weak::upgrade) {
        kill(&c);
    }
}

/// Kill the child at `lifetime` unless it is gone by then.
fn spawn_watchdog(child: std::sync::Weak<Mutex<Option<Child>>>, lifetime: Duration) {
    std::thread::spawn(move || {
        let deadline = Instant::now() + lifetime;
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            if child.strong_count() == 0 {
                return;
            }
        }
        if let Some(c) = child.upgrade() {
            kill(&c);
        }
    });
}

impl Drop for Running {
    fn drop(&mut self) {
        kill(&self.child);
    }
}

/// A free loopback port (bound and released at once).
pub fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_broker_specs() {
        let s = Spec::parse("brokkr:/x/brokkr", 1).unwrap();
        assert_eq!(
            (s.name.as_str(), s.kind),
            ("brokkr", Kind::Brokkr("/x/brokkr".into()))
        );
        let s = Spec::parse("fm2=flashmq", 2).unwrap();
        assert_eq!(s.name, "fm2");
        assert_eq!(Spec::parse("relay", 1).unwrap().kind, Kind::Relay);
        assert_eq!(Spec::parse("mosquitto", 2).unwrap().name, "mosquitto-t2");
        assert!(Spec::parse("nats", 1).is_err());
        let s = Spec::parse("brokkr@2:/x/brokkr", 1).unwrap();
        assert_eq!((s.name.as_str(), s.threads), ("brokkr-t2", 2));
    }

    #[test]
    fn listeners_speak_the_transport_in_each_syntax() {
        let files = PkiFiles {
            ca: "/t/ca.pem".into(),
            fullchain: "/t/fullchain.pem".into(),
            privkey: "/t/privkey.pem".into(),
        };
        let listener = |transport| Listener {
            transport,
            tls: Some(files.clone()),
            spare_port: Some(1884),
        };
        let flashmq = Spec::parse("flashmq", 1).unwrap();
        let mosquitto = Spec::parse("mosquitto", 1).unwrap();
        let config = |spec: &Spec, t| spec.config(1883, &listener(t)).unwrap();
        let c = config(&flashmq, TransportKind::Tcp);
        assert!(
            c.contains("protocol mqtt\n") && !c.contains("fullchain"),
            "{c}"
        );
        let c = config(&flashmq, TransportKind::Wss);
        assert!(c.contains("  protocol websockets\n"), "{c}");
        assert!(c.contains("  fullchain /t/fullchain.pem\n  privkey /t/privkey.pem\n"));
        assert!(c.trim_end().ends_with('}'), "{c}");
        let c = config(&flashmq, TransportKind::Ws);
        assert!(
            c.contains("protocol websockets") && !c.contains("privkey"),
            "{c}"
        );
        let c = config(&mosquitto, TransportKind::Tls);
        let tls = "listener 1883 127.0.0.1\ncertfile /t/fullchain.pem\nkeyfile /t/privkey.pem\n";
        assert!(c.starts_with(tls) && !c.contains("websockets"), "{c}");
        let c = config(&mosquitto, TransportKind::Ws);
        let ws = "listener 1884 127.0.0.1\nlistener 1883 127.0.0.1\nprotocol websockets\n\
                  socket_domain ipv4\n";
        assert!(c.starts_with(ws) && !c.contains("certfile"), "{c}");
        let relay = Spec::parse("relay", 1).unwrap();
        assert!(relay.supports(TransportKind::Tcp) && !relay.supports(TransportKind::Tls));
        assert!(mosquitto.supports(TransportKind::Wss));
    }

    #[test]
    fn commands_fill_placeholders() {
        let s = Spec::parse("x=cmd:/bin/b --port {port} -c {config}", 1).unwrap();
        let words = s.command(1883, Path::new("/tmp/c")).unwrap();
        assert_eq!(words, ["/bin/b", "--port", "1883", "-c", "/tmp/c"]);
    }
}
