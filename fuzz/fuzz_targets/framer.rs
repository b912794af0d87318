//! The framer: packets never exceed the cap, bytes are accounted for.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr_codec::fuzzing::frame(data);
});
