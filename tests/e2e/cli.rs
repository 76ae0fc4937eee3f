//! The one-shot commands as users run them: exit codes and what they print.

use crate::harness::binary;
use std::path::Path;
use std::process::Command;

fn run(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(binary())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn validate_reports_problems_with_positions_and_knows_plugin_actions() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let (code, out, _) = run(
        &["validate", root.join("workflows").to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("11 file(s) checked, 0 problem(s)"), "{out}");

    std::fs::write(
        dir.path().join("p.mkw"),
        "workflow \"p\" version 1\non event a\ndo sla.level(priority: \"high\", age_minutes: 5)\n",
    )
    .unwrap();
    let (code, _, err) = run(&["validate", "p.mkw"], dir.path());
    assert_eq!(code, 1);
    assert!(
        err.contains("unknown action `sla.level`") && err.contains("p.mkw:3:4"),
        "{err}"
    );
    let plugins = root.join("plugins/examples");
    let (code, out, err) = run(
        &["validate", "p.mkw", "--plugins", plugins.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn rule_tests_exit_one_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("w.mkw"),
        "workflow \"w\" version 1\non event a\ndo log(message: \"hi\")\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("w.test.yaml"), "cases:\n  - name: expects a task\n    events: [ { at: 0s, type: a } ]\n    expect: { actions: [ { action: task.create } ] }\n").unwrap();
    let (code, out, _) = run(&["test", "."], dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("✗ expects a task") && out.trim_end().ends_with("0 passed, 1 failed"),
        "{out}"
    );
}

#[test]
fn serve_refuses_a_store_url_it_does_not_know_and_names_the_ones_it_does() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("workflows")).unwrap();
    let (code, _, err) = run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            "mysql://db/x",
            "--no-watch",
        ],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`mysql://`") && err.contains("memory:"),
        "{err}"
    );
}

#[test]
fn validate_reports_a_file_that_is_not_utf8_and_checks_the_others() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.mkw"),
        b"workflow \"a\" version 1\non event a.b\ndo log(message: \"\xff\")\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.mkw"),
        "workflow \"b\" version 1\non event a.b\ndo log()\n",
    )
    .unwrap();
    let (code, out, err) = run(&["validate", "."], dir.path());
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("a.mkw: is not UTF-8 text"), "{err}");
    assert!(
        out.contains("ok    ./b.mkw"),
        "the next file is still checked: {out}"
    );
}
