//! brokkr-core: the broker as a sans-IO state machine.
//!
//! This crate decides everything a broker decides (sessions, subscriptions, retained messages,
//! QoS flows, wills, limits) and never touches a socket, a file, a thread, a clock or OS
//! randomness: time is an argument, randomness an injected seeded source. So the same core runs
//! in production, under `--fuzz-file`, in fuzz targets and in a deterministic simulation.
//!
//! Built so far: the subscription tree ([`subscriptions`]).

#![forbid(unsafe_code)]

pub mod access;
pub mod events;
pub mod fuzzing;
pub mod ids;
pub mod journal;
pub mod limits;
pub mod message;
pub mod reject;
pub mod retained;
pub mod session;
pub mod shard;
pub mod short_str;
pub mod slab;
pub mod snapshot;
pub mod stats;
pub mod subscriptions;
pub mod topic_alias;
