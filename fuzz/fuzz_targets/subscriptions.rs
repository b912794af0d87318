//! Topic tree: subscribe/unsubscribe/match sequences against a naive list-and-matcher model.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr_core::fuzzing::subscription_ops(data);
});
