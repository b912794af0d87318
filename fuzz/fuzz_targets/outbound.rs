//! Session outbound QoS 1/2 window and queue, against an order-and-count model.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr_core::fuzzing::outbound_ops(data);
});
