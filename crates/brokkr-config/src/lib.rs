//! brokkr-config: FlashMQ's config file format, parsed into a typed [`Config`].
//!
//! The syntax is FlashMQ's (one `key value...` directive per line, quoting, `#` comment lines,
//! `listen { }` and `bridge { }` blocks at the top level, `include_dir`), and so are the
//! directives and their defaults. One option table ([`options`]) drives validation, rendering
//! ([`Config::render`]), the docs (`docs/config.md`) and the man page (`docs/brokkr.conf.5`).
//! [`parse_str`] is a pure function over text (include files come through an
//! [`IncludeResolver`]), so it can be fuzzed; [`load_file`] adds the file system. Errors carry
//! file, line and column. [`Config::not_yet`] lists what brokkr cannot do yet, so the broker
//! refuses to start rather than ignoring a directive. This crate never opens a socket, reads a
//! clock or spawns a thread.

#![forbid(unsafe_code)]

mod config;
pub mod docs;
mod error;
pub mod fuzzing;
mod include;
mod lexer;
pub mod options;
mod parse;
mod render;
mod support;
pub mod types;
mod value;

pub use config::{BridgeConfig, Config, ListenerConfig, UsedDirective};
pub use error::{ConfigError, ErrorKind};
pub use include::{FsIncludes, IncludeResolver, MemIncludes, NoIncludes, is_conf_name};
pub use render::quote;
pub use support::NotYetUse;
pub use value::{Unit, ValueKind};

use std::path::Path;

/// Largest config file, as FlashMQ: 10 MiB.
pub const FILE_BYTES_MAX: usize = 10 * 1024 * 1024;
/// Longest line after trimming, as FlashMQ (comment lines are exempt, as in FlashMQ).
pub const LINE_BYTES_MAX: usize = 256;
/// Deepest `include_dir` nesting (FlashMQ has no bound and recurses forever on a loop).
pub const INCLUDE_DEPTH_MAX: usize = 8;
/// Most files all `include_dir` directives together may bring in.
pub const INCLUDED_FILES_MAX: usize = 1024;
/// Most bytes all included files together may hold.
pub const INCLUDED_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Parse config text. `origin` names it in errors (usually the file name); `include_dir`
/// directives are served by `includes`.
pub fn parse_str(
    text: &str,
    origin: &str,
    includes: &dyn IncludeResolver,
) -> Result<Config, ConfigError> {
    let mut parser = parse::Parser::new(includes);
    parser.parse_text(text, origin, 0)?;
    Ok(parser.finish())
}

/// Parse config bytes: like [`parse_str`], with invalid UTF-8 reported at its line and column.
pub fn parse_bytes(
    bytes: &[u8],
    origin: &str,
    includes: &dyn IncludeResolver,
) -> Result<Config, ConfigError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_str(text, origin, includes),
        Err(e) => {
            let good = bytes.get(..e.valid_up_to()).unwrap_or_default();
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            let col = String::from_utf8_lossy(good.get(line_start..).unwrap_or_default())
                .chars()
                .count()
                + 1;
            let kind = ErrorKind::InvalidLine {
                reason: "the file is not valid UTF-8 here",
            };
            Err(ConfigError::at(origin, line, col, kind))
        }
    }
}

/// Read and parse a config file, with `include_dir` reading the file system.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let bytes =
        include::read_config_bytes(path).map_err(|kind| ConfigError::at(&origin, 0, 0, kind))?;
    parse_bytes(&bytes, &origin, &FsIncludes)
}
