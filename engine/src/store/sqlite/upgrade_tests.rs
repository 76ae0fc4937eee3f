//! A database written by the schema before migration 0007 (timers in their own table, events
//! flagged `processed`, a stored `started` line per run) opens with its runs, timers, pending
//! events and timelines as they were.

use super::SqliteStore;
use crate::store::{EventLog, ReadModel, RunStore, TimerKind};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Executor};

const OLD_ROWS: &str = r#"
INSERT INTO events (seq, id, type, customer_id, occurred_at, received_at, body, processed) VALUES
  (1, 'e1', 'lead.created', 'c1', 10, 10, '{"id":"e1","type":"lead.created","occurred_at":"1970-01-01T00:00:00.010Z","customer":{"id":"c1"},"data":{}}', 1),
  (2, 'e2', 'lead.created', 'c1', 20, 20, '{"id":"e2","type":"lead.created","occurred_at":"1970-01-01T00:00:00.020Z","customer":{"id":"c1"},"data":{}}', 0),
  (3, 'e3', 'lead.created', 'c2', 30, 30, '{"id":"e3","type":"lead.created","occurred_at":"1970-01-01T00:00:00.030Z","customer":{"id":"c2"},"data":{}}', 0);
INSERT INTO runs (id, workflow, version, customer_id, enroll_key, trigger_key, status, step, rev, context, started_at, updated_at, event_id) VALUES
  ('r1', 'w', 1, 'c1', 'c1', 'event:e1', 'waiting', 0, 1, '{"steps":{}}', 10, 11, 'e1'),
  ('r2', 'w', 1, 'c1', 'c1', 'event:e0', 'completed', NULL, 2, '{"steps":{}}', 5, 6, 'e0');
INSERT INTO timers (run_id, due_at, kind, attempt, lease_until) VALUES ('r1', 500, 'wake', 2, 0);
INSERT INTO run_steps (run_id, step_id, kind, status, attempt, at, detail) VALUES
  ('r1', 'run', 'run', 'started', 1, 10, '{"trigger":"event:e1"}'),
  ('r1', 'wait-1', 'wait', 'waiting', 1, 11, '{}'),
  ('r2', 'run', 'run', 'started', 1, 5, '{"trigger":"event:e0"}');
"#;

#[tokio::test]
async fn a_database_of_the_schema_before_0007_keeps_its_timers_pending_events_and_timelines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        let mut before = sqlx::migrate!("./migrations");
        let old: Vec<_> = before
            .migrations
            .iter()
            .filter(|m| m.version < 7)
            .cloned()
            .collect();
        before.migrations = old.into();
        before.run(&mut conn).await.unwrap();
        conn.execute(OLD_ROWS).await.unwrap();
        conn.close().await.unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();

    let pending: Vec<String> = store
        .pending_events(&[], 10)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.event.unwrap().id)
        .collect();
    assert_eq!(
        pending,
        ["e2", "e3"],
        "events not matched before stay pending"
    );
    assert_eq!(store.pending_count().await.unwrap(), 2);

    assert_eq!(store.next_due().await.unwrap(), Some(500));
    let claimed = store.claim_due(1_000, 10, 100).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].run_id, "r1");
    assert_eq!((claimed[0].kind, claimed[0].attempt), (TimerKind::Wake, 2));

    let timeline = store.timeline("r1").await.unwrap();
    let lines: Vec<(&str, &str)> = timeline
        .iter()
        .map(|e| (e.step_id.as_str(), e.status.as_str()))
        .collect();
    assert_eq!(lines, [("run", "started"), ("wait-1", "waiting")]);
    assert_eq!(timeline[0].detail["trigger"], "event:e1");
    assert_eq!(timeline[0].at, 10);
    assert_eq!(store.timeline("r2").await.unwrap().len(), 1);
}
