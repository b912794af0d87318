//! Websocket upgrade requests: a parsed request answers 101 with its accept key, its head
//! alone parses the same, a prefix never parses, a refusal is an HTTP error.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr_codec::fuzzing::websocket_handshake(data);
});
