//! Table-driven tests of the expression language: each `spec/*.txt` line is
//! `expression => expected JSON` or `expression => !error part of the message`.
//! Add a line for every bug fixed.

use chrono::{TimeZone, Utc};
use mikawaya_dsl::expr::{Env, Expr, Scope};
use serde_json::{json, Value};
use std::path::Path;

fn evaluate(text: &str) -> Result<Value, String> {
    let env = Env {
        entity: Some("contract".into()),
        event: None,
    };
    let expr = Expr::parse(text, &env).map_err(|p| {
        p.iter()
            .map(|p| p.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let event = json!({"name": "Ada", "flag": true, "zero": 0, "empty_list": [], "cart": {"total": 72.5, "items": [1, 2, 3]}});
    let customer = json!({"id": "c1", "tags": ["vip", "jp"]});
    let contract = json!({"renewal_date": "2026-12-24", "signed_at": "2026-01-15T09:30:00Z"});
    let mut scope = Scope::with_event(
        &event,
        Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap(),
    );
    scope.customer = &customer;
    scope.entity = &contract;
    expr.eval(&scope)
        .map(|v| v.to_json())
        .map_err(|e| e.message)
}

#[test]
fn spec_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spec");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for file in &files {
        let (mut passed, mut total) = (0, 0);
        for (n, line) in std::fs::read_to_string(file).unwrap().lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            total += 1;
            let (expr, expected) = line
                .rsplit_once(" => ")
                .unwrap_or_else(|| panic!("{}:{}: no ` => `", file.display(), n + 1));
            let actual = evaluate(expr);
            let ok = match expected
                .strip_prefix('!')
                .and_then(|e| e.strip_prefix("error "))
            {
                Some(want) => matches!(&actual, Err(m) if m.contains(want)),
                None => {
                    actual.as_ref().ok()
                        == Some(&serde_json::from_str::<Value>(expected).expect("expected JSON"))
                }
            };
            if ok {
                passed += 1;
            } else {
                failures.push(format!(
                    "{}:{}: `{expr}` gave {actual:?}, expected {expected}",
                    file.display(),
                    n + 1
                ));
            }
        }
        println!(
            "{}: {passed}/{total} passed",
            file.file_name().unwrap().to_string_lossy()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
