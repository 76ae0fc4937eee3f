//! The fuzz targets' corpora (`fuzz/corpus/`), replayed: every input the fuzzer kept or crashed
//! on still holds the targets' assertions.

use mikawaya_dsl::fuzzing::{corpus, expression, workflow};
use mikawaya_dsl::Syntax;

#[test]
fn yaml_corpus() {
    let inputs = corpus("yaml");
    assert!(inputs.len() >= 5);
    for (path, data) in inputs {
        eprintln!("{}", path.display());
        workflow(&data, Syntax::Yaml);
    }
}

#[test]
fn dsl_corpus() {
    for (path, data) in corpus("dsl") {
        eprintln!("{}", path.display());
        workflow(&data, Syntax::Text);
    }
}

#[test]
fn expr_corpus() {
    for (path, data) in corpus("expr") {
        eprintln!("{}", path.display());
        expression(&data);
    }
}
