//! The `brokkr` binary's library half: command line, `--fuzz-file` mode, the `passwd`
//! subcommand, and start-up of the server with the embedded default configuration.
//!
//! `main.rs` only wires these together, so every path the binary takes is testable.

#![forbid(unsafe_code)]

pub mod access;
pub mod cli;
pub mod fuzz;
mod fuzz_shard;
pub mod fuzz_tls;
mod fuzz_transport;
pub mod passwd;
pub mod reload;
pub mod serve;

/// The version string printed by `--version`.
pub fn version_text() -> String {
    format!(
        "brokkr version {}\nCopyright (C) 2026 the brokkr developers.\n\
         License MIT OR Apache-2.0: <https://opensource.org/licenses/MIT>, \
         <https://www.apache.org/licenses/LICENSE-2.0>.\n\
         This is free software: you are free to change and redistribute it.\n\
         There is NO WARRANTY, to the extent permitted by law.",
        env!("CARGO_PKG_VERSION")
    )
}
