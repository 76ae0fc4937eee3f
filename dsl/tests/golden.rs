//! Golden tests of the error messages: every file in `broken/` is compiled and its diagnostics
//! compared with `broken/<file>.expected` (set `UPDATE_GOLDEN=1` to rewrite them after a
//! deliberate change). Also: huge and deeply nested input fails cleanly.

use mikawaya_dsl::catalog::EventCatalog;
use mikawaya_dsl::check::Catalog;
use mikawaya_dsl::{compile_source_with, Syntax};
use std::path::Path;

/// The actions of the built-ins, the event catalog `tests/events.yaml` (the files of
/// `broken/` triggered by its types have their `event.*` paths checked) and a holiday calendar.
fn catalog() -> Catalog {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/events.yaml");
    let text = std::fs::read_to_string(file).unwrap();
    let events = EventCatalog::from_files(&[("events.yaml".into(), text)]).unwrap();
    Catalog {
        actions: Some(
            ["log", "webhook", "email.send", "task.create"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        events: Some(std::sync::Arc::new(events)),
        // One holiday calendar, `JP`: windows naming another are refused.
        holidays: Some(std::sync::Arc::new(
            mikawaya_dsl::calendar::Holidays::from_files(&[(
                "holidays/JP.yaml".into(),
                "2026-01-01: New Year's Day\n".into(),
            )])
            .unwrap(),
        )),
    }
}

fn diagnostics(name: &str, text: &str) -> String {
    let syntax = Syntax::of_file(name).expect("a rule file");
    match compile_source_with(name, text, syntax, &catalog()) {
        Ok(_) => "compiled without problems\n".into(),
        Err(d) => d.to_plain(),
    }
}

#[test]
fn broken_files_match_their_expected_diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e != "expected"))
    {
        let name = format!("broken/{}", path.file_name().unwrap().to_string_lossy());
        let actual = diagnostics(&name, &std::fs::read_to_string(path).unwrap());
        let expected_path = path.with_extension(format!(
            "{}.expected",
            path.extension().unwrap().to_string_lossy()
        ));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&expected_path, &actual).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("missing {}", expected_path.display()));
        assert_eq!(actual, expected, "diagnostics of {name} changed");
        assert!(!actual.starts_with("compiled"), "{name} should not compile");
        checked += 1;
    }
    assert!(checked >= 9, "only {checked} broken files found");
    println!("golden: {checked} broken files checked");
}

#[test]
fn every_problem_of_a_file_is_reported_at_once() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken/type-errors.yaml"),
    )
    .unwrap();
    let out = diagnostics("type-errors.yaml", &text);
    assert!(
        out.lines().filter(|l| l.contains("error[")).count() >= 4,
        "{out}"
    );
}

#[test]
fn huge_input_is_refused_before_parsing() {
    let text = format!("workflow: x\nversion: 1\n# {}\n", "a".repeat(2 << 20));
    let out = diagnostics("huge.yaml", &text);
    assert!(out.contains("error[too-large]"), "{out}");
}

#[test]
fn deep_nesting_fails_cleanly_in_both_syntaxes() {
    let deep_expr = format!(
        "workflow: x\nversion: 1\ntrigger: {{ event: a }}\nwhen: {}1{}\nsteps: [ {{ exit: x }} ]\n",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    assert!(diagnostics("deep.yaml", &deep_expr).contains("error[too-deep]"));

    let mut yaml = String::from("workflow: x\nversion: 1\ntrigger: { event: a }\nsteps:\n");
    for i in 0..200 {
        let ind = " ".repeat(2 + 4 * i);
        yaml.push_str(&format!("{ind}- if: true\n{ind}  then:\n"));
    }
    yaml.push_str(&format!("{}- action: log\n", " ".repeat(2 + 4 * 200)));
    let out = diagnostics("deep-steps.yaml", &yaml);
    assert!(out.contains("error["), "{out}");

    let dsl = format!(
        "workflow \"x\" version 1\non event a\n{}do log(){}",
        "if true { ".repeat(3000),
        " }".repeat(3000)
    );
    assert!(diagnostics("deep.mkw", &dsl).contains("error[too-deep]"));
}
