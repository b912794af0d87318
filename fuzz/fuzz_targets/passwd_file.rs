//! Password files: parse arbitrary text, verify every entry, round-trip hashes, edit the file.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr_auth::fuzzing::passwd_file(data);
});
