//! ACL files: parse arbitrary text, compare every check with a naive rule-by-rule evaluator.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brokkr_auth::fuzzing::acl_file(data);
});
