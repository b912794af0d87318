//! brokkr-server: the only crate with an event loop.
//!
//! It accepts sockets, feeds their bytes to the sans-IO [`Shard`], writes what the shard
//! encoded, runs the shard's timers and stops on SIGINT/SIGTERM. Each worker thread runs a
//! current-thread tokio runtime that owns that worker's shard and connections;
//! sessions are homed by client id and deliveries cross workers in batches (`cluster.rs`).

#![forbid(unsafe_code)]

mod cluster;
mod journal;
mod journal_replay;
pub mod logging;
mod overload;
mod persistence;
mod stream;
mod systemd;
pub mod tls;
pub mod transport;
mod unix;
mod worker;

pub use cluster::{
    INBOX_CAPACITY, ListenAddr, ListenerSpec, POLICY_POLL, PeerFilter, PolicySource, Reloaded,
    ServerConfig, UnixSocketSpec, run, run_until, worker_count,
};
pub use overload::{OverloadMode, OverloadSettings};
pub use persistence::PersistSettings;
