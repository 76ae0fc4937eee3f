//! `.mkw` workflow files: parse, check, lower, and the IR's way back.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mikawaya_dsl::fuzzing::workflow(data, mikawaya_dsl::Syntax::Text)
});
