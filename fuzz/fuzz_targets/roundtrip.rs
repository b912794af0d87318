//! Structured: an arbitrary valid packet encodes and decodes back to itself.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr_codec::fuzzing::generate::structured_roundtrip(data);
});
