//! Websocket frames: whole and chunked input give the same events, within the cap.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr_codec::fuzzing::websocket_frames(data);
});
