//! Bodies posted to `/events`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mikawaya_engine::fuzzing::events(data));
