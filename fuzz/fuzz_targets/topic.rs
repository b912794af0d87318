//! Topic name and filter validation against a naive reimplementation.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr_codec::fuzzing::topic(data);
});
