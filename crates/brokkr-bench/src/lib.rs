//! brokkr-bench: a load generator for MQTT brokers and a comparative harness (issue 6).
//!
//! The generator encodes packets once with brokkr-codec, writes them in batches and scans what it
//! receives with the codec's framer, on one current-thread tokio runtime (it gets one core; the
//! broker under test gets the other). Scenarios: fan-in, fan-out, pairs, latency at a fixed rate
//! (coordinated omission corrected), connection storm, retained flood, idle connections. The
//! comparative mode starts every broker fresh per round as a child process pinned to its own
//! CPU, interleaves brokers round by round and reports medians, ratios to a baseline broker,
//! CPU and RSS, flagging rounds where the generator was the bottleneck. Every scenario runs over
//! plain TCP, TLS, websockets or both (`transport`, `tls`, `ws`, `blocking`); the comparative
//! mode makes the run's certificates (`pki`) and gives each broker a listener of that transport.
//! Everything runs on loopback, bounded in time and count.

#![forbid(unsafe_code)]

pub mod blocking;
pub mod broker;
pub mod cli;
pub mod compare;
pub mod conn;
pub mod connections;
pub mod flow;
pub mod hist;
pub mod latency;
pub mod pki;
pub mod procfs;
pub mod relay;
pub mod report;
pub mod retained;
pub mod scenario;
pub mod stats;
pub mod table;
pub mod throughput;
pub mod tls;
pub mod transport;
pub mod wire;
pub mod workload;
pub mod ws;
