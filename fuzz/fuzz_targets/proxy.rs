//! PROXY v1/v2 headers: prefixes need more, headers re-encode faithfully.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr_codec::fuzzing::proxy_header(data);
});
