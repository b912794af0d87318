//! Arbitrary bytes as a config file: never panics; what parses renders and re-parses equal.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr_config::fuzzing::config_round_trip(data);
});
