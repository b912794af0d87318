//! A TLS-wrapped broker input: client bytes through the deterministic fuzz server (whole and
//! chunked must agree, the server writes only well-formed records and fails only for the
//! peer's faults), then the decrypted plaintext as an MQTT connection with all its oracles.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr::fuzz_tls::run(data);
});
