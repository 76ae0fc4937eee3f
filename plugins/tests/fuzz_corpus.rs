//! The manifest fuzz target's corpus (`fuzz/corpus/manifest/`), replayed.

#[test]
fn manifest_corpus() {
    for (path, data) in mikawaya_dsl::fuzzing::corpus("manifest") {
        eprintln!("{}", path.display());
        mikawaya_plugins::wasm::manifest::fuzz_manifest(&data);
    }
}
