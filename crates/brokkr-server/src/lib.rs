//! brokkr-server: the only crate with an event loop.
//!
//! It accepts sockets, feeds their bytes to the sans-IO [`Shard`], writes what the shard
//! encoded, runs the shard's timers and stops on SIGINT/SIGTERM. One worker thread runs a
//! current-thread tokio runtime that owns the shard and every connection (no locks: the shard is
//! not shared). Several workers, with sessions homed by client id and deliveries batched between
//! them, come with the cross-shard work (ARCHITECTURE.md); until then `thread_count` is 1.

#![forbid(unsafe_code)]

mod worker;

pub use worker::{ListenerSpec, ServerConfig, run, run_until};
