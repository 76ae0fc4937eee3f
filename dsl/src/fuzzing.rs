//! Entry points of the fuzz targets in `fuzz/` (cargo fuzz), shared with the tests that replay
//! their corpus on every `cargo test`. Each takes arbitrary bytes, must not panic, and asserts
//! what has to hold for any input.

use crate::expr::{Env, Expr, Scope};
use crate::{compile_source, Syntax, Workflow};
use chrono::{TimeZone, Utc};

/// A workflow file in `syntax`: it compiles or every problem has a position inside the file;
/// a compiled workflow survives its stored (IR JSON) form with the same logic.
pub fn workflow(data: &[u8], syntax: Syntax) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = match syntax {
        Syntax::Yaml => "fuzz.yaml",
        Syntax::Text => "fuzz.mkw",
    };
    match compile_source(file, text, syntax) {
        Ok(w) => {
            let ir = serde_json::to_string(&w).expect("an IR serializes");
            let back = Workflow::from_ir_json(&ir)
                .unwrap_or_else(|e| panic!("the IR of a valid workflow reads back: {e}\n{ir}"));
            assert!(back.same_logic(&w), "the IR changed on the way back:\n{ir}");
        }
        Err(d) => {
            assert!(!d.is_empty(), "a refusal names at least one problem");
            let lines = text.split('\n').count();
            for p in &d.problems {
                let pos = d.pos(p);
                assert!(
                    pos.line >= 1 && pos.line <= lines,
                    "{p:?} at {pos} outside the file"
                );
            }
            let _ = d.render();
        }
    }
}

/// An expression on its first line, an event (JSON) after it: the expression compiles or is
/// refused with problems inside its text; evaluating it twice gives the same answer.
pub fn expression(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (source, event) = text.split_once('\n').unwrap_or((text, "null"));
    let event: serde_json::Value = serde_json::from_str(event).unwrap_or_default();
    match Expr::parse(source, &Env::default()) {
        Ok(expr) => {
            let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
            let scope = Scope::with_event(&event, now);
            let first = expr.eval(&scope).map(|v| v.to_json());
            let second = expr.eval(&scope).map(|v| v.to_json());
            assert_eq!(first.is_ok(), second.is_ok());
            if let (Ok(a), Ok(b)) = (first, second) {
                assert_eq!(a, b, "evaluation is deterministic");
            }
            let _ = expr.explain(&scope);
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            for p in problems {
                assert!(
                    p.span.start <= source.len(),
                    "{p:?} past the end of `{source}`"
                );
            }
        }
    }
}

/// The committed inputs of fuzz target `target`: its corpus (`fuzz/corpus/<target>/`, what the
/// fuzzer kept, minimised) and its regressions (`fuzz/regressions/<target>/`, every input that
/// once failed), replayed by the tests.
pub fn corpus(target: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = vec![];
    for dir in [
        fuzz.join("corpus").join(target),
        fuzz.join("regressions").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        files.extend(entries.map(|entry| entry.expect("a corpus entry").path()));
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let data = std::fs::read(&path).expect("a corpus file");
            (path, data)
        })
        .collect()
}
