//! Raw bytes as --fuzz-file runs them: transport chosen by content, then a whole connection.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr::fuzz::run_input(data);
});
