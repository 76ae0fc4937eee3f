//! Engine behaviour that users rely on without seeing it: retries with one idempotency key, dead
//! letters and their retry, version pinning across reloads, and nothing lost across restarts.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::{TimeZone, Utc};
use mikawaya_engine::store::RunStatus;
use mikawaya_engine::tools::sim::Simulation;
use serde_json::json;
use std::path::Path;
use std::sync::{Arc, Mutex};

const HOUR: i64 = 3_600_000;

/// Shared lists the test target records into.
type Shared<T> = Arc<Mutex<Vec<T>>>;

/// A webhook target that answers the given statuses in turn (then 200), recording idempotency keys.
async fn flaky_target(statuses: Vec<u16>) -> (String, Shared<String>, Shared<u16>) {
    let keys: Arc<Mutex<Vec<String>>> = Arc::default();
    let plan = Arc::new(Mutex::new(statuses));
    let app =
        Router::new()
            .route(
                "/hook",
                post(
                    |State((keys, plan)): State<(Shared<String>, Shared<u16>)>,
                     headers: HeaderMap| async move {
                        keys.lock()
                            .unwrap()
                            .push(headers["idempotency-key"].to_str().unwrap().to_string());
                        let mut plan = plan.lock().unwrap();
                        let status = if plan.is_empty() { 200 } else { plan.remove(0) };
                        StatusCode::from_u16(status).unwrap()
                    },
                ),
            )
            .with_state((keys.clone(), plan.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), keys, plan)
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

const HOOK_FLOW: &str = "workflow \"hook\" version 1\non event order.paid\nre-enroll always\n\
    do webhook(url: event.url, order: event.order_id) retry 3 backoff 10s\n\
    do task.create(title: \"paid {{ event.order_id }}\")\n";

/// Stores events (JSON as posted) at the simulation's time in one batch, without matching them.
async fn store_events(s: &Simulation, events: Vec<serde_json::Value>) {
    use mikawaya_engine::clock::Clock;
    let now = s.clock.now_ms();
    let events: Vec<_> = events
        .into_iter()
        .enumerate()
        .map(|(i, e)| mikawaya_engine::event::parse_event(i, e, now).unwrap())
        .collect();
    s.store.insert_events(&events, now).await.unwrap();
}

fn start_time() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()
}

#[tokio::test]
async fn retryable_failures_are_retried_with_the_same_idempotency_key() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("wf"), "hook.mkw", HOOK_FLOW);
    let (url, keys, _) = flaky_target(vec![503, 503]).await;
    let s = Simulation::start(&dir.path().join("wf"), dir.path(), start_time())
        .await
        .unwrap();
    s.send(json!({"id": "p1", "type": "order.paid", "data": {"url": url, "order_id": "o-1"}}))
        .await
        .unwrap();
    let run = &s.runs("hook").await.unwrap()[0];
    assert_eq!(run.status, RunStatus::Active, "waiting for its retry");
    s.advance(HOUR).await.unwrap();
    let run = &s.runs("hook").await.unwrap()[0];
    assert_eq!(run.status, RunStatus::Completed);
    let keys = keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 3);
    assert!(
        keys.iter().all(|k| *k == format!("{}:1", run.id)),
        "{keys:?}"
    );
    let statuses: Vec<String> = s
        .timeline(&run.id)
        .await
        .unwrap()
        .iter()
        .map(|e| format!("{}:{}", e.step_id, e.status))
        .collect();
    assert_eq!(
        statuses,
        ["run:started", "1:retry", "1:retry", "1:done", "2:done"]
    );
    assert_eq!(s.tasks().await.unwrap()[0].title, "paid o-1");
}

#[tokio::test]
async fn exhausted_and_permanent_failures_go_to_dead_letters_and_can_be_retried() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("wf"), "hook.mkw", HOOK_FLOW);
    let (url, keys, plan) = flaky_target(vec![500, 500, 500, 422]).await;
    let s = Simulation::start(&dir.path().join("wf"), dir.path(), start_time())
        .await
        .unwrap();
    s.send(json!({"id": "p1", "type": "order.paid", "data": {"url": url, "order_id": "o-1"}}))
        .await
        .unwrap();
    s.advance(HOUR).await.unwrap();
    let run = s.runs("hook").await.unwrap()[0].clone();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(
        keys.lock().unwrap().len(),
        3,
        "three attempts, then it gives up"
    );
    let letters = s.engine.dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!((letters[0].step_id.as_str(), letters[0].attempts), ("1", 3));
    assert!(letters[0].error.contains("500"), "{}", letters[0].error);

    // Retried by an operator: the target now says 422 (permanent), so it fails again at once.
    s.engine.retry_dead_letter(letters[0].id).await.unwrap();
    s.advance(1000).await.unwrap();
    assert_eq!(s.runs("hook").await.unwrap()[0].status, RunStatus::Failed);
    assert_eq!(
        keys.lock().unwrap().len(),
        4,
        "a permanent error is not retried"
    );
    assert!(plan.lock().unwrap().is_empty());
    let letters = s.engine.dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 2);
    assert!(
        s.engine
            .retry_dead_letter(letters[1].id)
            .await
            .unwrap()
            .is_none(),
        "a letter is retried once"
    );

    // The target recovers; the second letter is retried and the run completes.
    s.engine.retry_dead_letter(letters[0].id).await.unwrap();
    s.advance(1000).await.unwrap();
    assert_eq!(
        s.runs("hook").await.unwrap()[0].status,
        RunStatus::Completed
    );
}

#[tokio::test]
async fn runs_in_flight_finish_on_their_version_after_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("wf");
    write(&wf, "pin.mkw", "workflow \"pin\" version 1\non event a.b\nre-enroll always\nwait 2h\ndo task.create(title: \"v1\")\n");
    let s = Simulation::start(&wf, dir.path(), start_time())
        .await
        .unwrap();
    s.send(json!({"id": "e1", "type": "a.b"})).await.unwrap();

    write(&wf, "pin.mkw", "workflow \"pin\" version 1\non event a.b\nre-enroll always\nwait 5h\ndo task.create(title: \"v2\")\n");
    let report = s.engine.reload().await.unwrap();
    assert_eq!(
        report.active,
        vec![("pin".to_string(), 2)],
        "a changed file becomes version 2: {:?}",
        report.notes
    );
    assert!(report.notes[0].contains("changed without a version bump"));
    s.send(json!({"id": "e2", "type": "a.b"})).await.unwrap();

    s.advance(3 * HOUR).await.unwrap();
    let titles = s.task_titles().await.unwrap();
    assert_eq!(titles, ["v1"], "the old run kept its 2h wait");
    s.advance(3 * HOUR).await.unwrap();
    let titles = s.task_titles().await.unwrap();
    assert_eq!(titles, ["v1", "v2"]);
    let versions: Vec<u32> = s
        .runs("pin")
        .await
        .unwrap()
        .iter()
        .map(|r| r.version)
        .collect();
    assert_eq!(versions, [2, 1]);

    // A file broken by an edit does not stop the workflow: its last good version stays active.
    write(
        &wf,
        "pin.mkw",
        "workflow \"pin\" version 3\non event a.b\nwait soon\n",
    );
    let report = s.engine.reload().await.unwrap();
    assert_eq!(report.errors.len(), 1);
    assert!(s.engine.registry().active("pin").is_some());
}

#[tokio::test]
async fn accepted_events_and_waiting_runs_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("wf");
    write(&wf, "r.mkw", "workflow \"r\" version 1\non event a.b\nre-enroll always\nwait 1h\ndo task.create(title: \"after {{ event.id }}\")\n");
    {
        let s = Simulation::start(&wf, dir.path(), start_time())
            .await
            .unwrap();
        s.send(json!({"id": "waiting", "type": "a.b"}))
            .await
            .unwrap();
        let ev =
            mikawaya_engine::event::parse_event(0, json!({"id": "unmatched", "type": "a.b"}), 0)
                .unwrap();
        s.store.insert_events(&[ev], 0).await.unwrap();
        // Dropped here without processing the second event: as if the process died.
    }
    let s = Simulation::start(&wf, dir.path(), start_time())
        .await
        .unwrap();
    s.advance(2 * HOUR).await.unwrap();
    let titles = s.task_titles().await.unwrap();
    assert_eq!(titles, ["after unmatched", "after waiting"]);
}

#[tokio::test]
async fn leases_of_a_dead_process_are_freed_at_start_up() {
    use mikawaya_engine::store::{RunStore, SqliteStore};
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("wf");
    write(
        &wf,
        "r.mkw",
        "workflow \"r\" version 1\non event a.b\nwait 1h\ndo log()\n",
    );
    let s = Simulation::start(&wf, dir.path(), start_time())
        .await
        .unwrap();
    s.send(json!({"id": "e1", "type": "a.b"})).await.unwrap();
    let due = start_time().timestamp_millis() + 2 * HOUR;
    // A worker claims the wake-up timer (leased for a minute), then its process dies.
    assert_eq!(s.store.claim_due(due, 10, 60_000).await.unwrap().len(), 1);
    assert!(
        s.store.claim_due(due, 10, 60_000).await.unwrap().is_empty(),
        "leased"
    );
    drop(s);
    let store = SqliteStore::open(&dir.path().join("sim.db")).await.unwrap();
    assert_eq!(store.release_leases().await.unwrap(), 1);
    assert_eq!(
        store.claim_due(due, 10, 60_000).await.unwrap().len(),
        1,
        "due again at once"
    );
}

#[tokio::test]
async fn the_simulation_refuses_a_malformed_event_instead_of_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("wf");
    write(
        &wf,
        "r.mkw",
        "workflow \"r\" version 1\non event a.b\ndo log()\n",
    );
    let s = Simulation::start(&wf, dir.path(), start_time())
        .await
        .unwrap();
    let err = s.send(json!({"type": "a.b"})).await.unwrap_err();
    assert!(err.to_string().contains("`id` is missing"), "{err}");
    assert!(s.send(json!({"id": "ok", "type": "a.b"})).await.unwrap());
}

#[tokio::test]
async fn one_unreadable_stored_event_does_not_stop_matching_for_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("wf");
    write(&wf, "r.mkw", "workflow \"r\" version 1\non event a.b\nre-enroll always\ndo task.create(title: \"{{ event.id }}\")\n");
    {
        let s = Simulation::start(&wf, dir.path(), start_time())
            .await
            .unwrap();
        for id in ["bad", "good"] {
            let ev = mikawaya_engine::event::parse_event(0, json!({"id": id, "type": "a.b"}), 0)
                .unwrap();
            s.store.insert_events(&[ev], 0).await.unwrap();
        }
    }
    // The row of `bad` is damaged on disk (an older engine, a hand edit).
    let db =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("sim.db").display()))
            .await
            .unwrap();
    sqlx::query("UPDATE events SET body = '{\"not\": \"an event\"}' WHERE id = 'bad'")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let s = Simulation::start(&wf, dir.path(), start_time())
        .await
        .unwrap();
    s.advance(HOUR).await.unwrap();
    assert_eq!(s.task_titles().await.unwrap(), ["good"]);
    assert!(
        s.store.pending_events(&[], 10).await.unwrap().is_empty(),
        "the bad one is set aside"
    );
}

/// The matcher hands new runs to the executor in memory, with their timers leased in the store:
/// no claim takes them twice meanwhile, and a crash before they ran loses nothing (the next
/// start releases the leases and the runs execute from the store).
#[tokio::test]
async fn runs_handed_over_in_memory_are_claimed_once_and_survive_a_crash_before_they_ran() {
    use mikawaya_engine::clock::Clock;
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("wf");
    write(&wf, "hook.mkw", HOOK_FLOW);
    let (url, keys, _) = flaky_target(vec![]).await;
    let paid = |id: &str| {
        vec![json!({"id": id, "type": "order.paid", "data": {"url": url, "order_id": id}})]
    };

    let s = Simulation::start(&wf, dir.path(), start_time())
        .await
        .unwrap();
    store_events(&s, paid("o-1")).await;
    assert_eq!(s.engine.process_events().await.unwrap(), 1);
    assert_eq!(s.engine.ready_runs(), 1, "the new run waits in memory");
    let now = s.clock.now_ms();
    let claimed = s.store.claim_due(now, 10, 60_000).await.unwrap();
    assert!(claimed.is_empty(), "its timer is leased: {claimed:?}");
    // This process executes it from memory, without a claim.
    assert_eq!(s.engine.process_due().await.unwrap(), 1);
    assert_eq!(
        s.runs("hook").await.unwrap()[0].status,
        RunStatus::Completed
    );
    assert_eq!(keys.lock().unwrap().len(), 1);

    // A second run is handed over, then the process dies before executing it.
    store_events(&s, paid("o-2")).await;
    assert_eq!(s.engine.process_events().await.unwrap(), 1);
    drop(s);
    let s = Simulation::start(&wf, dir.path(), start_time())
        .await
        .unwrap();
    assert_eq!(s.engine.ready_runs(), 0);
    assert_eq!(s.store.release_leases().await.unwrap(), 1);
    s.engine.run_until_idle().await.unwrap();
    let runs = s.runs("hook").await.unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter().all(|r| r.status == RunStatus::Completed),
        "{runs:?}"
    );
    assert_eq!(keys.lock().unwrap().len(), 2, "each webhook went out once");
}

/// A goal event matched in the same batch as the event that started the run ends that run
/// before it does anything (the run is not in the store yet when the goal is matched).
#[tokio::test]
async fn a_goal_in_the_same_batch_as_the_trigger_ends_the_run_before_its_first_step() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("wf");
    let (url, keys, _) = flaky_target(vec![]).await;
    write(
        &wf,
        "cart.mkw",
        &format!("workflow \"cart\" version 1\non event cart.abandoned\ngoal event order.placed\nre-enroll always\ndo webhook(url: \"{url}\")\n"),
    );
    let s = Simulation::start(&wf, dir.path(), start_time())
        .await
        .unwrap();
    let events = [
        ("a1", "cart.abandoned"),
        ("o1", "order.placed"),
        ("a2", "cart.abandoned"),
    ]
    .iter()
    .map(|(id, kind)| json!({"id": id, "type": kind, "customer": "c1"}))
    .collect();
    store_events(&s, events).await;
    s.engine.run_until_idle().await.unwrap();
    let runs = s.runs("cart").await.unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    // Newest first: the run a2 started after the goal goes on; a1's run ended at the goal.
    assert_eq!(runs[0].status, RunStatus::Completed);
    assert_eq!(runs[1].status, RunStatus::Exited);
    assert_eq!(runs[1].exit_reason.as_deref(), Some("goal: order.placed"));
    assert_eq!(
        keys.lock().unwrap().len(),
        1,
        "only a2's run called the webhook"
    );
}

/// The serving matcher matches a batch while the one before it is still being written: the later
/// batch sees the earlier one's customer changes, enrollments and started runs all the same.
#[tokio::test]
async fn a_batch_matched_while_the_previous_one_commits_sees_its_changes() {
    use mikawaya_engine::core::carry::Carry;
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("wf");
    write(&wf, "cart.mkw", "workflow \"cart\" version 1\non event cart.abandoned\ngoal event order.placed\nre-enroll always\ndo log()\n");
    write(&wf, "vip.mkw", "workflow \"vip\" version 1\non event page.viewed\nwhen customer.tier == \"gold\"\nre-enroll never\ndo log()\n");
    let s = Simulation::start(&wf, dir.path(), start_time())
        .await
        .unwrap();
    let event = |id: &str, kind: &str, customer: serde_json::Value| json!({"id": id, "type": kind, "customer": customer});
    let mut carry = Carry::default();
    store_events(
        &s,
        vec![
            event("a1", "cart.abandoned", json!("c1")),
            event("u2", "profile.updated", json!({"id": "c2", "tier": "gold"})),
            event("v3", "page.viewed", json!({"id": "c3", "tier": "gold"})),
        ],
    )
    .await;
    let first = s.engine.prepare_events(&mut carry).await.unwrap().unwrap();
    store_events(
        &s,
        vec![
            event("o1", "order.placed", json!("c1")),
            event("v2", "page.viewed", json!("c2")),
            event("v3b", "page.viewed", json!("c3")),
        ],
    )
    .await;
    let second = s.engine.prepare_events(&mut carry).await.unwrap().unwrap();
    assert!(
        s.engine.prepare_events(&mut carry).await.unwrap().is_none(),
        "every event is taken"
    );
    assert_eq!(s.engine.commit_events(first).await.unwrap(), 3);
    assert_eq!(s.engine.commit_events(second).await.unwrap(), 3);

    let cart = s.runs("cart").await.unwrap();
    assert_eq!(cart.len(), 1);
    assert_eq!(
        cart[0].exit_reason.as_deref(),
        Some("goal: order.placed"),
        "the goal ended the run the first batch started"
    );
    let vip: Vec<_> = s
        .runs("vip")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.customer_id.unwrap())
        .collect();
    assert_eq!(
        vip.len(),
        2,
        "c2 is gold since the first batch, c3 enrolled once: {vip:?}"
    );
    assert!(vip.contains(&"c2".to_string()) && vip.contains(&"c3".to_string()));
}

/// A slow executor slows matching down instead of piling up due runs: while the ready queue is
/// more than half full, events stay unmatched (counted in the backlog the intake answers 503 on).
#[tokio::test]
async fn matching_waits_while_the_executor_is_behind() {
    use mikawaya_engine::tools::sim::SimOptions;
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("wf");
    write(
        &wf,
        "lead.mkw",
        "workflow \"lead\" version 1\non event lead.created\nre-enroll always\ndo log()\n",
    );
    let options = SimOptions {
        ready_capacity: Some(4),
        ..Default::default()
    };
    let s = Simulation::start_with(&wf, dir.path(), start_time(), options)
        .await
        .unwrap();
    let leads = |ids: std::ops::Range<usize>| {
        ids.map(|i| json!({"id": format!("l{i}"), "type": "lead.created"}))
            .collect()
    };
    store_events(&s, leads(0..3)).await;
    assert_eq!(s.engine.process_events().await.unwrap(), 3);
    assert_eq!(s.engine.ready_runs(), 3);
    store_events(&s, leads(3..6)).await;
    assert_eq!(
        s.engine.process_events().await.unwrap(),
        0,
        "one slot of four left: matching waits"
    );
    assert_eq!(s.store.pending_count().await.unwrap(), 3);
    assert_eq!(s.engine.process_due().await.unwrap(), 3);
    assert_eq!(s.engine.process_events().await.unwrap(), 3);
    s.engine.run_until_idle().await.unwrap();
    let runs = s.runs("lead").await.unwrap();
    assert_eq!(runs.len(), 6);
    assert!(runs.iter().all(|r| r.status == RunStatus::Completed));
}
