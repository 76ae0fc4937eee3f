//! Schedules against the wall clock: a cron trigger fires once per due time (also across a
//! restart), and a date-relative trigger fires once at its instant, rescheduled by newer events.

use crate::harness::{count, start, workspace};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

const CRON: &str = "workflow \"tick\" version 1\non schedule \"*/2 * * * * *\" tz \"Asia/Tokyo\"\nre-enroll always\ndo log(message: \"tick\")\n";

async fn trigger_keys(engine: &crate::harness::Engine) -> Vec<String> {
    let runs = engine.get("/runs?workflow=tick&limit=1000").await;
    let mut keys = Vec::new();
    for r in runs.as_array().unwrap() {
        let detail = engine
            .get(&format!("/runs/{}", r["id"].as_str().unwrap()))
            .await;
        keys.push(
            detail["timeline"][0]["detail"]["trigger"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    keys
}

#[tokio::test]
async fn cron_fires_once_per_due_time_across_a_restart() {
    let dir = workspace(&[("tick.mkw", CRON)]);
    let engine = start(&dir);
    tokio::time::sleep(Duration::from_millis(5200)).await;
    engine.kill9();
    let engine = start(&dir);
    tokio::time::sleep(Duration::from_millis(4200)).await;
    let keys = trigger_keys(&engine).await;
    let unique: HashSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "a due time fired twice: {keys:?}");
    assert!(
        keys.len() >= 3 && keys.len() <= 6,
        "expected one run per 2 s over ~9 s, got {keys:?}"
    );
    let mut dues: Vec<i64> = keys
        .iter()
        .map(|k| k.trim_start_matches("cron:").parse().unwrap())
        .collect();
    dues.sort();
    assert!(
        dues.iter().all(|d| d % 2000 == 0),
        "due times are on even seconds: {dues:?}"
    );
}

const DATE: &str = "workflow: reminder\nversion: 1\ntrigger:\n  date: event.meeting.starts_at\n  before: 2s\n  from_event: meeting.booked\nre_enroll: always\nsteps:\n  - action: task.create\n    with: { title: \"prepare {{ event.meeting.id }} at {{ event.meeting.starts_at }}\" }\n";

#[tokio::test]
async fn date_trigger_fires_once_at_its_time_and_follows_reschedules() {
    let dir = workspace(&[("reminder.yaml", DATE)]);
    let engine = start(&dir);
    let at = |secs: i64| {
        (chrono::Utc::now() + chrono::Duration::seconds(secs))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let booked = |id: &str, meeting: &str, starts: &str| json!({"id": id, "type": "meeting.booked", "customer": "c1", "data": {"meeting": {"id": meeting, "starts_at": starts}}});
    let first = at(4);
    let moved = at(6);
    engine
        .post_events(&booked("b1", "M-1", &first).to_string())
        .await;
    engine
        .post_events(&booked("b2", "M-1", &moved).to_string())
        .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        engine.get("/tasks").await,
        Value::Array(vec![]),
        "not before its time"
    );
    let tasks = engine
        .wait_for("/tasks", 30, |t| {
            t.as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let tasks_after = engine.get("/tasks").await;
    assert_eq!(tasks, tasks_after, "fires once");
    assert_eq!(tasks[0]["title"], format!("prepare M-1 at {moved}"));
    let runs = engine.get("/runs?workflow=reminder").await;
    assert_eq!(count(&runs, "completed"), 1);
}
