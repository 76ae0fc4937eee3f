//! Plugin manifests (`plugin.yaml`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mikawaya_plugins::wasm::manifest::fuzz_manifest(data));
