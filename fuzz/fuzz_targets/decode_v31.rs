//! MQTT 3.1 packet stream: decode, then the re-encode oracle.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr_codec::fuzzing::decode_stream(data, brokkr_codec::ProtocolVersion::V3_1);
});
