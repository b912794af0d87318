//! Retained store: set/remove interleaved with a budgeted walk, against a plain map.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr_core::fuzzing::retained_ops(data);
});
