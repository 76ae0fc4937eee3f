//! Property tests standing in for a fuzzer: the DSL parser, the YAML reader and the expression
//! parser never panic, whatever they are fed, and always answer with a positioned problem or a
//! workflow. Run longer with `PROPTEST_CASES=100000 cargo test -p mikawaya-dsl --test fuzz`.

use mikawaya_dsl::expr::{Env, Expr};
use mikawaya_dsl::{compile_source, Syntax};
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "workflow",
    "\"w\"",
    "version",
    "1",
    "on",
    "event",
    "a.b",
    "schedule",
    "\"0 9 * * *\"",
    "tz",
    "for",
    "each",
    "where",
    "when",
    "do",
    "log",
    "(",
    ")",
    ":",
    ",",
    "wait",
    "1h",
    "until",
    "match",
    "->",
    "exit",
    "timeout",
    "if",
    "{",
    "}",
    "else",
    "and",
    "or",
    "not",
    "in",
    "contains",
    ">=",
    "==",
    "+",
    "-",
    "*",
    "[",
    "]",
    "event.x",
    "customer.y",
    "len",
    "today()",
    "30d",
    "\"s\"",
    "{{",
    "}}",
    "\n",
    "#",
    "as",
    "retry",
    "date",
    "before",
    "from",
];

fn tokens() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..60).prop_map(|t| t.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn dsl_parser_never_panics(text in tokens()) {
        if let Err(d) = compile_source("f.mkw", &text, Syntax::Text) {
            prop_assert!(!d.problems.is_empty());
            for p in &d.problems {
                prop_assert!(p.span.start <= text.len() + 1);
            }
        }
    }

    #[test]
    fn dsl_parser_survives_arbitrary_text(text in "\\PC{0,200}") {
        let _ = compile_source("f.mkw", &text, Syntax::Text);
    }

    #[test]
    fn yaml_reader_survives_arbitrary_text(text in "(workflow: x\nversion: 1\n)?[ -~\n]{0,200}") {
        let _ = compile_source("f.yaml", &text, Syntax::Yaml);
    }

    #[test]
    fn expression_parser_never_panics(text in tokens()) {
        let _ = Expr::parse(&text, &Env::default());
    }

    #[test]
    fn arithmetic_on_numbers_matches_rust(a in -1.0e6f64..1.0e6, b in 1.0f64..1.0e3) {
        let e = Expr::parse(&format!("{a} + {b} * 2"), &Env::default()).unwrap();
        let v = serde_json::json!({});
        let scope = mikawaya_dsl::expr::Scope::with_event(&v, chrono::Utc::now());
        let got = e.eval(&scope).unwrap().to_json().as_f64().unwrap();
        prop_assert!((got - (a + b * 2.0)).abs() < 1e-6);
    }
}
