//! What the transport tests share (TLS, websockets, PROXY, unix sockets): the broker under
//! test, brokkr or FlashMQ, on one generated FlashMQ-syntax config (`broker.rs`); test
//! certificates from the openssl CLI (`pki.rs`); mosquitto and paho clients (`clients.rs`);
//! HAProxy as a child process (`haproxy.rs`).
//!
//! The same test runs against FlashMQ (`BROKKR_TRANSPORT_PEER=flashmq`), which proves the test
//! right, and against brokkr (the default), which is what it is for.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

pub mod broker;
pub mod clients;
pub mod haproxy;
pub mod pki;
pub mod ws;
