//! The journal: a whole file, or record bodies framed with valid checksums, through the
//! decoder; what decodes must round trip, replay and restore into a shard without a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr_persist::fuzzing::journal_roundtrip(data);
});
