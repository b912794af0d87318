//! One MQTT 5 property block, as every packet type's property set; must round-trip.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr_codec::fuzzing::property_block(data);
});
