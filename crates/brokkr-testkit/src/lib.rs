//! brokkr-testkit: what the tests share. Packet builders on top of the codec, the generator
//! of the `fuzztests/` seed corpus, and a test PKI for TLS (`certs`). Later: a byte-level test
//! client and a broker spawner.
//!
//! Test-only code: it may panic on impossible inputs, never on network data.

#![forbid(unsafe_code)]

pub mod build;
pub mod certs;
pub mod corpus;
