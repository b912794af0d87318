//! State files: a whole file, or a retained or sessions body framed with a valid checksum,
//! through both decoders; whatever decodes must encode and decode again to the same value.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr_persist::fuzzing::decode_roundtrip(data);
});
