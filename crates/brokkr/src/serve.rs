//! Start-up: with the embedded default configuration (MQTT on 127.0.0.1:1883 and [::1]:1883,
//! anonymous clients allowed, FlashMQ's limits otherwise; loopback only, as Mosquitto 2 does
//! without a config file, so a broker started by hand is never open to the network), or with a
//! FlashMQ config file, whose defaults then apply (all interfaces, port 1883).

use crate::access::FilePolicySource;
use crate::reload::ConfigSource;
use brokkr_config::Config;
use brokkr_config::ListenerConfig;
use brokkr_config::types::{HaproxyMode, InetProtocol, ListenerProtocol, OverloadMode, TlsVersion};
use brokkr_core::limits::{Limits, ListenerOverrides};
use brokkr_server::logging::{LogLevel, LogSettings, NOTICE};
use brokkr_server::tls::{MinTlsVersion, TlsFiles, TlsListener};
use brokkr_server::transport::{ProxyMode, TransportSpec};
use brokkr_server::{
    ListenAddr, ListenerSpec, OverloadSettings, PersistSettings, ServerConfig, UnixSocketSpec,
};
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
                tcp_nodelay: true,
                ..ListenerSpec::tcp(addr)
            })
            .collect(),
        limits: Limits::default(),
        seed: seed(),
        workers: 0,
        access: None,
        access_source: None,
        persistence: None,
        overload: OverloadSettings::default(),
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
        "no authentication, no persistence, no TLS or websockets (give a config file for those)."
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
    let mut tls = TlsCache::default();
    let Listeners {
        specs,
        allow_anonymous,
        overrides,
    } = listeners(&config, &mut tls).map_err(|e| Refused(vec![e]))?;
    let files = FilePolicySource::open(&config, allow_anonymous).map_err(|e| Refused(vec![e]))?;
    let policy = files.policy();
    let source = Arc::new(ConfigSource::new(path, config.clone(), files, tls));
    let server = ServerConfig {
        listeners: specs,
        limits: limits(&config, overrides),
        overload: overload_settings(&config),
        seed: seed(),
        workers: config.thread_count.map_or(0, usize::from),
        access: Some(policy),
        access_source: Some(source),
        persistence: config.storage_dir.as_ref().map(|dir| PersistSettings {
            dir: PathBuf::from(dir),
            interval: std::time::Duration::from_secs(u64::from(config.save_state_interval_secs)),
            sessions: config.persistence_data_to_save.sessions_and_subscriptions,
            retained: config.persists_retained(),
            journal: config.persistence_journal,
        }),
    };
    Ok((config, server))
}

/// The broker limits of `config`, with `overrides` by server listener index.
pub fn limits(config: &Config, overrides: Vec<ListenerOverrides>) -> Limits {
    config.to_limits(&Limits {
        listeners: overrides,
        ..Limits::default()
    })
}

/// `max_event_loop_drift` and the global `overload_mode`.
pub fn overload_settings(config: &Config) -> OverloadSettings {
    OverloadSettings {
        max_drift_ms: u64::from(config.max_event_loop_drift_ms),
        mode: overload_mode(config.overload_mode),
    }
}

fn overload_mode(mode: OverloadMode) -> brokkr_server::OverloadMode {
    match mode {
        OverloadMode::CloseNewClients => brokkr_server::OverloadMode::CloseNewClients,
        _ => brokkr_server::OverloadMode::Log,
    }
}

/// The server listeners a config asks for, and what each one's block sets for the access
/// policy and the limits, by server listener index (a block may bind two addresses, or none).
#[derive(Debug)]
pub struct Listeners {
    /// What to bind.
    pub specs: Vec<ListenerSpec>,
    /// Each one's `allow_anonymous` override.
    pub allow_anonymous: Vec<Option<bool>>,
    /// Each one's `max_qos`, `max_buffer_size` and `mqtt3_qos_exceed_action`.
    pub overrides: Vec<ListenerOverrides>,
}

/// The TLS listeners built so far, by their files: a reload reuses (and re-reads) them, so a
/// bad new certificate keeps the old one in force.
#[derive(Debug, Default)]
pub struct TlsCache(Vec<Arc<TlsListener>>);

impl TlsCache {
    /// The listener for `files`: an existing one re-reads its files (keeping the old
    /// certificate if they are broken, with an error in the log); a new one must load.
    fn get(&mut self, files: TlsFiles) -> Result<Arc<TlsListener>, String> {
        if let Some(existing) = self.0.iter().find(|l| *l.files() == files) {
            if let Err(e) = existing.reload() {
                log::error!("TLS reload failed, the old certificate stays in use: {e}");
            }
            return Ok(Arc::clone(existing));
        }
        let listener = Arc::new(TlsListener::load(files).map_err(|e| e.to_string())?);
        self.0.push(Arc::clone(&listener));
        Ok(listener)
    }
}

/// The TLS files of listener `l`, if it is a TLS listener.
fn tls_files(l: &ListenerConfig) -> Option<TlsFiles> {
    let (Some(fullchain), Some(privkey)) = (&l.fullchain, &l.privkey) else {
        return None;
    };
    Some(TlsFiles {
        fullchain: PathBuf::from(fullchain),
        privkey: PathBuf::from(privkey),
        minimum: match l.minimum_tls_version {
            TlsVersion::Tls1_3 => MinTlsVersion::Tls13,
            _ => MinTlsVersion::Tls12,
        },
        client_ca_file: l.client_verification_ca_file.as_ref().map(PathBuf::from),
        client_ca_dir: l.client_verification_ca_dir.as_ref().map(PathBuf::from),
    })
}

/// The server listeners a checked config asks for ([`Listeners`]). TLS listeners load their
/// certificates here (through `tls`, which a reload keeps).
pub fn listeners(config: &Config, tls: &mut TlsCache) -> Result<Listeners, String> {
    let mut listeners = Vec::new();
    let mut allow_anonymous = Vec::new();
    let mut overrides = Vec::new();
    let real_ip_from = crate::access::peer_filter(&config.websocket_set_real_ip_from, &[])?;
    for l in &config.listeners {
        if l.protocol == ListenerProtocol::Acme {
            // `not_yet` refuses these first; this is the second line of defence.
            return Err(format!(
                "listener on port {}: ACME is not supported yet",
                l.port()
            ));
        }
        let tls_listener = match tls_files(l) {
            Some(files) => {
                if l.drop_on_absent_certificate
                    && (!files.fullchain.exists() || !files.privkey.exists())
                {
                    log::warn!(
                        "listener on port {}: certificate or key absent, skipped \
                         (drop_on_absent_certificate)",
                        l.port()
                    );
                    continue;
                }
                if l.minimum_tls_version == TlsVersion::Tls1_1 {
                    log::warn!(
                        "listener on port {}: minimum_tls_version tlsv1.1 means TLS 1.2 here: \
                         brokkr speaks TLS 1.2 and 1.3 only (RFC 8996 deprecates 1.0 and 1.1)",
                        l.port()
                    );
                }
                Some(
                    tls.get(files)
                        .map_err(|e| format!("listener on port {}: {e}", l.port()))?,
                )
            }
            None => None,
        };
        let peers = crate::access::peer_filter(&l.only_allow_from, &l.deny_from)?;
        let transport = Arc::new(TransportSpec {
            proxy: match l.haproxy {
                HaproxyMode::Off => ProxyMode::Off,
                HaproxyMode::On => ProxyMode::On,
                HaproxyMode::ClientVerification => ProxyMode::ClientVerification,
                HaproxyMode::ClientVerificationWithAuthn => ProxyMode::ClientVerificationWithAuthn,
                other => return Err(format!("haproxy {other:?} is not supported")),
            },
            tls: tls_listener,
            still_do_authn: l.client_verification_still_do_authn,
            websocket: l.protocol == ListenerProtocol::Websockets,
            real_ip_from: real_ip_from.clone(),
            source_filter: peers.clone(),
        });
        let port = l.port();
        let v4 = ListenAddr::Tcp(SocketAddr::from((l.inet4_bind_address, port)));
        let v6 = ListenAddr::Tcp(SocketAddr::from((l.inet6_bind_address, port)));
        let addrs = match l.inet_protocol {
            InetProtocol::Ip4Ip6 => vec![v4, v6],
            InetProtocol::Ip4 => vec![v4],
            InetProtocol::Ip6 => vec![v6],
            InetProtocol::Unix => {
                let Some(path) = &l.unix_socket_path else {
                    return Err("`inet_protocol unix` needs `unix_socket_path`".into());
                };
                vec![ListenAddr::Unix(UnixSocketSpec {
                    path: PathBuf::from(path),
                    user: l.unix_socket_user.clone(),
                    group: l.unix_socket_group.clone(),
                    mode: l.unix_socket_mode,
                })]
            }
            other => return Err(format!("inet_protocol {other:?} is not supported")),
        };
        allow_anonymous.extend(addrs.iter().map(|_| l.allow_anonymous));
        overrides.extend(addrs.iter().map(|_| l.overrides()));
        listeners.extend(addrs.into_iter().map(|addr| ListenerSpec {
            addr,
            tcp_nodelay: l.tcp_nodelay,
            peers: peers.clone(),
            transport: Arc::clone(&transport),
            overload_mode: l.overload_mode.map(overload_mode),
        }));
    }
    Ok(Listeners {
        specs: listeners,
        allow_anonymous,
        overrides,
    })
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
    for note in config.no_effect_notes() {
        log::info!(target: NOTICE, "{note}");
    }
    raise_open_file_limit(u64::from(config.rlimit_nofile));
    brokkr_server::run(server)
}
