//! Start-up with the embedded default configuration: MQTT on 127.0.0.1:1883 and [::1]:1883,
//! anonymous clients allowed, FlashMQ's limits otherwise. Loopback only, as Mosquitto 2 does
//! without a config file, so a broker started by hand is never open to the network.

use brokkr_core::limits::Limits;
use brokkr_server::logging::{LogSettings, NOTICE};
use brokkr_server::{ListenerSpec, ServerConfig};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// The embedded default configuration.
pub fn default_config() -> ServerConfig {
    let addrs: [SocketAddr; 2] = [
        (Ipv4Addr::LOCALHOST, 1883).into(),
        (Ipv6Addr::LOCALHOST, 1883).into(),
    ];
    ServerConfig {
        listeners: addrs
            .into_iter()
            .map(|addr| ListenerSpec { addr })
            .collect(),
        limits: Limits::default(),
        seed: seed(),
        workers: 0,
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
        "no authentication, no persistence, no TLS or websockets yet (config files are not \
         read yet either)."
    );
    brokkr_server::run(default_config())
}
