//! Fuzzing entry points (used by `fuzz/fuzz_targets/config.rs` and replayed by the tests).
//!
//! The oracle: parsing arbitrary bytes never panics, and a config that parses renders to text
//! that parses back to an equal config.

use crate::{MemIncludes, parse_bytes, parse_str};

/// Parse `data` as a config (with one in-memory include directory, `inc`, holding two files);
/// if it parses, render it, parse the rendering, and assert both configs are equal.
#[allow(clippy::panic)] // the oracle: a failure must crash the fuzzer
pub fn config_round_trip(data: &[u8]) {
    let mut includes = MemIncludes::default();
    includes
        .files
        .insert("inc/a.conf".to_owned(), "max_qos 1\n".to_owned());
    includes.files.insert(
        "inc/b.conf".to_owned(),
        "listen {\nport 1884\n}\n".to_owned(),
    );
    let Ok(config) = parse_bytes(data, "fuzz.conf", &includes) else {
        return;
    };
    let text = config.render();
    match parse_str(&text, "rendered.conf", &includes) {
        Ok(again) => assert_eq!(
            config.without_provenance(),
            again.without_provenance(),
            "render changed the config:\n{text}"
        ),
        Err(e) => panic!("the rendered config does not parse: {e}\n{text}"),
    }
    let _ = config.not_yet();
    let _ = config.deprecation_warnings();
}
