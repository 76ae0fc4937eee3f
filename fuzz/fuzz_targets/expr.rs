//! Expressions: parse, type check and evaluate against an event.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mikawaya_dsl::fuzzing::expression(data));
