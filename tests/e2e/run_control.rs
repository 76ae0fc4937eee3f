//! Run control through the real binary: cancel one run and a selection, retry a hundred failed
//! runs in bulk from the command line, each change audited once with its actor; a token without
//! `runs:write` changes nothing.

use crate::harness::{start_with, workspace, Engine};
use serde_json::Value;

const ADMIN: &str = "admin-bootstrap-token";

/// Every order's webhook goes to a closed port, once: the run fails with a dead letter.
const FRAGILE: &str = r#"workflow: fragile
version: 1
trigger: { event: order.placed }
re_enroll: always
steps:
  - action: webhook
    with: { url: "http://127.0.0.1:9/hook" }
    retry: { attempts: 1 }
"#;

/// Every lead waits a week.
const PATIENT: &str =
    "workflow \"patient\" version 1\non event lead.created\nre-enroll always\nwait 7d\ndo log(message: \"later\")\n";

/// `count` events of `ty` with ids `{prefix}-0` …, as one JSON array.
fn events(ty: &str, prefix: &str, count: usize) -> String {
    let events: Vec<String> = (0..count)
        .map(|i| format!(r#"{{"id": "{prefix}-{i}", "type": "{ty}", "customer": "c-{i}"}}"#))
        .collect();
    format!("[{}]", events.join(","))
}

/// Polls `GET path` (as the admin) until `done`, for at most 60 s.
async fn wait_until(engine: &Engine, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, answer) = engine.call("GET", path, ADMIN, "").await;
        if done(&answer) {
            return answer;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out on {path}: {answer}\n{}",
            engine.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn len(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

/// The audit entries with `action`, newest first.
async fn audited(engine: &Engine, action: &str) -> Vec<Value> {
    let (_, log) = engine.call("GET", "/audit", ADMIN, "").await;
    log.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_hundred_failed_runs_are_retried_in_bulk_once_and_audited() {
    let dir = workspace(&[("fragile.yaml", FRAGILE)]);
    let engine = start_with(&dir, &["--token".to_string(), ADMIN.to_string()]);
    let (status, _) = engine
        .call("POST", "/events", ADMIN, &events("order.placed", "o", 100))
        .await;
    assert_eq!(status, 202);
    let failed = "/runs?workflow=fragile&status=failed&limit=1000";
    wait_until(&engine, failed, |runs| len(runs) == 100).await;

    let dry = engine.cli(
        &[
            "retry",
            "--workflow",
            "fragile",
            "--limit",
            "1000",
            "--dry-run",
        ],
        ADMIN,
    );
    assert_eq!(dry["matched"], 100, "{dry}");
    assert!(
        audited(&engine, "runs.retried").await.is_empty(),
        "a dry run changes nothing"
    );

    let retried = engine.cli(
        &["retry", "--workflow", "fragile", "--limit", "1000"],
        ADMIN,
    );
    assert_eq!(
        (retried["matched"].as_u64(), retried["retried"].as_u64()),
        (Some(100), Some(100)),
        "{retried}"
    );
    // Each goes back to its webhook, which fails again: a second letter per run.
    let letters = wait_until(&engine, "/dead-letters", |d| len(d) == 200).await;
    let retried_letters = letters
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["retried_at"].is_i64())
        .count();
    assert_eq!(retried_letters, 100, "each first letter retried once");
    wait_until(&engine, failed, |runs| len(runs) == 100).await;

    let entries = audited(&engine, "runs.retried").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(
        (entry["actor"].as_str(), entry["target"].as_str()),
        (Some("bootstrap"), Some("fragile"))
    );
    assert_eq!(entry["detail"]["count"], 100);
    assert_eq!(len(&entry["detail"]["run_ids"]), 100);

    // Retrying a run that is not failed says why.
    let (_, runs) = engine
        .call("GET", "/runs?workflow=fragile&limit=1", ADMIN, "")
        .await;
    let id = runs[0]["id"].as_str().unwrap();
    let cancel = engine
        .call("POST", &format!("/runs/{id}/cancel"), ADMIN, "")
        .await;
    assert_eq!(cancel.0, 409, "{cancel:?}");
    assert!(
        cancel.1["error"].as_str().unwrap().contains("is failed"),
        "{cancel:?}"
    );
}

#[tokio::test]
async fn waiting_runs_are_cancelled_one_by_one_or_by_selection_and_only_with_runs_write() {
    let dir = workspace(&[("patient.mkw", PATIENT)]);
    let engine = start_with(&dir, &["--token".to_string(), ADMIN.to_string()]);
    let reader = engine.cli(
        &[
            "token",
            "create",
            "--name",
            "grafana",
            "--scope",
            "runs:read",
        ],
        ADMIN,
    );
    let reader = reader["token"].as_str().unwrap();
    engine
        .call("POST", "/events", ADMIN, &events("lead.created", "l", 3))
        .await;
    let waiting = "/runs?workflow=patient&status=waiting";
    let runs = wait_until(&engine, waiting, |runs| len(runs) == 3).await;
    let first = runs[0]["id"].as_str().unwrap().to_string();

    let refused = engine
        .call("POST", &format!("/runs/{first}/cancel"), reader, "")
        .await;
    assert_eq!(refused.0, 403, "{refused:?}");
    assert!(refused.1["error"].as_str().unwrap().contains("runs:write"));
    let refused = engine
        .call("POST", "/runs/cancel", reader, r#"{"workflow": "patient"}"#)
        .await;
    assert_eq!(refused.0, 403);

    let one = engine.cli(&["cancel", &first, "--reason", "customer asked"], ADMIN);
    assert_eq!(one["status"], "cancelled");
    let (_, run) = engine
        .call("GET", &format!("/runs/{first}"), ADMIN, "")
        .await;
    assert_eq!(run["run"]["status"], "cancelled");
    assert_eq!(run["run"]["exit_reason"], "customer asked");
    assert_eq!(
        run["timeline"].as_array().unwrap().last().unwrap()["status"],
        "cancelled"
    );
    let again = engine
        .call("POST", &format!("/runs/{first}/cancel"), ADMIN, "")
        .await;
    assert_eq!(again.0, 409, "cancelled once: {again:?}");
    let unknown = engine.call("POST", "/runs/nope/cancel", ADMIN, "").await;
    assert_eq!(unknown.0, 404);

    // A bulk change needs its workflow, and a status it can change.
    let no_workflow = engine
        .call("POST", "/runs/cancel", ADMIN, r#"{"status": "waiting"}"#)
        .await;
    assert_eq!(
        (no_workflow.0, no_workflow.1["field"].as_str()),
        (400, Some("body")),
        "{no_workflow:?}"
    );
    let wrong = r#"{"workflow": "patient", "status": "completed"}"#;
    let wrong = engine.call("POST", "/runs/cancel", ADMIN, wrong).await;
    assert_eq!(wrong.0, 400);
    assert!(
        wrong.1["error"]
            .as_str()
            .unwrap()
            .contains("active or waiting"),
        "{wrong:?}"
    );
    // Runs started in the future: none.
    let later = r#"{"workflow": "patient", "started_after": "2999-01-01T00:00:00Z"}"#;
    let (_, none) = engine.call("POST", "/runs/cancel", ADMIN, later).await;
    assert_eq!(none["cancelled"], 0, "{none}");

    let rest = engine.cli(
        &["cancel", "--workflow", "patient", "--status", "waiting"],
        ADMIN,
    );
    assert_eq!(rest["cancelled"], 2, "{rest}");
    let (_, left) = engine.call("GET", waiting, ADMIN, "").await;
    assert_eq!(len(&left), 0);

    let single = audited(&engine, "run.cancelled").await;
    assert_eq!(single.len(), 1);
    assert_eq!(
        (
            single[0]["target"].as_str(),
            single[0]["detail"]["reason"].as_str()
        ),
        (Some(first.as_str()), Some("customer asked"))
    );
    let bulk = audited(&engine, "runs.cancelled").await;
    let counts: Vec<&Value> = bulk.iter().map(|e| &e["detail"]["count"]).collect();
    assert_eq!(
        counts,
        [2, 0],
        "the bulk cancel and the empty one, newest first"
    );
}
