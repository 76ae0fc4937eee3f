//! The engine's fuzz targets' corpora (`fuzz/corpus/event`, `fuzz/corpus/api`), replayed.

use mikawaya_dsl::fuzzing::corpus;
use mikawaya_engine::fuzzing::{events, ApiTarget};

#[test]
fn event_corpus() {
    for (path, data) in corpus("event") {
        eprintln!("{}", path.display());
        events(&data);
    }
}

#[test]
fn api_corpus() {
    let mut target = ApiTarget::new();
    let inputs = corpus("api");
    assert!(inputs.len() >= 10);
    for (path, data) in inputs {
        eprintln!("{}", path.display());
        target.request(&data);
    }
}
