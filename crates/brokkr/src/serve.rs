//! Start-up: with the embedded default configuration (MQTT on 127.0.0.1:1883 and [::1]:1883,
//! anonymous clients allowed, FlashMQ's limits otherwise; loopback only, as Mosquitto 2 does
//! without a config file, so a broker started by hand is never open to the network), or with a
//! FlashMQ config file, whose defaults then apply (all interfaces, port 1883).

use crate::access::FilePolicySource;
use crate::reload::ConfigSource;
use brokkr_config::Config;
use brokkr_config::types::{InetProtocol, ListenerProtocol};
use brokkr_core::limits::Limits;
use brokkr_server::logging::{LogLevel, LogSettings, NOTICE};
use brokkr_server::{ListenerSpec, PersistSettings, ServerConfig};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The embedded default configuration.
pub fn default_config() -> ServerConfig {
    let addrs: [SocketAddr; 2] = [
        (Ipv4Addr::LOCALHOST, 1883).into(),
        (Ipv6Addr::LOCALHOST, 1883).into(),
    ];
    ServerConfig {
        listeners: addrs
            .into_iter()
            .map(|addr| ListenerSpec {
                addr,
                tcp_nodelay: true,
                peers: None,
            })
            .collect(),
        limits: Limits::default(),
        seed: seed(),
        workers: 0,
        access: None,
        access_source: None,
        persistence: None,
    }
}

/// A seed for the shard's randomness (generated client ids must not be guessable across
/// restarts); the shard itself never reads the OS.
pub fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Run with the embedded defaults until SIGINT or SIGTERM.
pub fn run_default() -> std::io::Result<()> {
    brokkr_server::logging::configure(LogSettings::default())?;
    log::info!(
        target: NOTICE,
        "brokkr {}: no config file given, using the embedded defaults: MQTT on 127.0.0.1:1883 \
         and [::1]:1883 (loopback only), anonymous clients allowed.",
        env!("CARGO_PKG_VERSION")
    );
    log::info!(
        target: NOTICE,
        "no authentication, no persistence, no TLS or websockets yet."
    );
    brokkr_server::run(default_config())
}

/// Why a config file cannot be used: printed as is, then the process exits with 99 at start-up
/// (1 for `--test-config`), as FlashMQ.
#[derive(Debug)]
pub struct Refused(pub Vec<String>);

/// Load and check `path`: every error names its file, line and column; a directive brokkr does
/// not honour yet is refused with its line, never silently ignored.
pub fn checked(path: &Path) -> Result<Config, Refused> {
    let config = brokkr_config::load_file(path).map_err(|e| Refused(vec![e.to_string()]))?;
    let not_yet: Vec<String> = config.not_yet().iter().map(ToString::to_string).collect();
    if !not_yet.is_empty() {
        return Err(Refused(not_yet));
    }
    Ok(config)
}

/// Load `path` into everything the server needs, password and ACL files included.
pub fn load(path: &Path) -> Result<(Config, ServerConfig), Refused> {
    let config = checked(path)?;
    let (listeners, allow_anonymous) = listeners(&config).map_err(|e| Refused(vec![e]))?;
    let files = FilePolicySource::open(&config, allow_anonymous).map_err(|e| Refused(vec![e]))?;
    let policy = files.policy();
    let source = Arc::new(ConfigSource::new(path, config.clone(), files));
    let server = ServerConfig {
        listeners,
        limits: config.to_limits(&Limits::default()),
        seed: seed(),
        workers: config.thread_count.map_or(0, usize::from),
        access: Some(policy),
        access_source: Some(source),
        persistence: config.storage_dir.as_ref().map(|dir| PersistSettings {
            dir: PathBuf::from(dir),
            interval: std::time::Duration::from_secs(u64::from(config.save_state_interval_secs)),
            sessions: config.persistence_data_to_save.sessions_and_subscriptions,
            retained: config.persistence_data_to_save.retained_messages,
            journal: config.persistence_journal,
        }),
    };
    Ok((config, server))
}

/// The server listeners a checked config asks for, with each one's `allow_anonymous` override
/// (one entry per server listener, by index).
pub fn listeners(config: &Config) -> Result<(Vec<ListenerSpec>, Vec<Option<bool>>), String> {
    let mut listeners = Vec::new();
    let mut allow_anonymous = Vec::new();
    for l in &config.listeners {
        if l.protocol != ListenerProtocol::Mqtt || l.is_tls() {
            // `not_yet` refuses these first; this is the second line of defence.
            return Err(format!(
                "listener on port {} is not supported yet",
                l.port()
            ));
        }
        let port = l.port();
        let v4 = SocketAddr::from((l.inet4_bind_address, port));
        let v6 = SocketAddr::from((l.inet6_bind_address, port));
        let addrs = match l.inet_protocol {
            InetProtocol::Ip4Ip6 => vec![v4, v6],
            InetProtocol::Ip4 => vec![v4],
            InetProtocol::Ip6 => vec![v6],
            _ => return Err("unix socket listeners are not supported yet".into()),
        };
        allow_anonymous.extend(addrs.iter().map(|_| l.allow_anonymous));
        let peers = crate::access::peer_filter(&l.only_allow_from, &l.deny_from)?;
        listeners.extend(addrs.into_iter().map(|addr| ListenerSpec {
            addr,
            tcp_nodelay: l.tcp_nodelay,
            peers: peers.clone(),
        }));
    }
    Ok((listeners, allow_anonymous))
}

/// The log settings of `config` (`log_debug` and `quiet` are FlashMQ's deprecated overrides).
pub fn log_settings(config: &Config) -> LogSettings {
    let level = if config.log_debug {
        LogLevel::Debug
    } else if config.quiet {
        LogLevel::Warning
    } else {
        LogLevel::parse(config.log_level.as_str()).unwrap_or(LogLevel::Info)
    };
    LogSettings {
        file: config.log_file.as_ref().map(PathBuf::from),
        level,
    }
}

/// `rlimit_nofile`: raise the open-file limit towards `wanted` (FlashMQ does this at every
/// start, 1,000,000 by default); the hard limit caps it unless the process may raise that too.
pub fn raise_open_file_limit(wanted: u64) {
    let Ok((soft, hard)) = rlimit::Resource::NOFILE.get() else {
        return;
    };
    let target = wanted.min(hard.max(soft));
    let result = rlimit::Resource::NOFILE
        .set(wanted, wanted.max(hard))
        .or_else(|_| rlimit::Resource::NOFILE.set(target, hard));
    match (result, rlimit::Resource::NOFILE.get()) {
        (Ok(()), Ok((now, _))) if now < wanted => {
            log::warn!("rlimit_nofile {wanted}: the hard limit allows {now} open files")
        }
        (Ok(()), Ok((now, _))) => log::info!("open-file limit {now}"),
        (Err(e), _) | (Ok(()), Err(e)) => log::warn!("rlimit_nofile {wanted}: {e}"),
    }
}

/// Run with the config file at `path` until SIGINT or SIGTERM.
pub fn run_with(config: &Config, server: ServerConfig, path: &Path) -> std::io::Result<()> {
    brokkr_server::logging::configure(log_settings(config))?;
    log::info!(
        target: NOTICE,
        "brokkr {} starting with config '{}'",
        env!("CARGO_PKG_VERSION"),
        path.display()
    );
    for warning in config.deprecation_warnings() {
        log::warn!("{warning}");
    }
    raise_open_file_limit(u64::from(config.rlimit_nofile));
    brokkr_server::run(server)
}
