//! One contract, every backend: each case runs against SQLite, PostgreSQL (the real server named
//! by `MIKAWAYA_TEST_POSTGRES`, by default `postgres://postgres@127.0.0.1:5432/test`, each case in
//! a schema of its own, dropped afterwards) and the in-memory store. A new backend joins with one
//! line at the bottom.

use mikawaya_engine::event::parse_event;
use mikawaya_engine::store::*;
use serde_json::json;
use std::sync::Arc;

#[path = "store_conformance/restraint.rs"]
mod restraint;
use restraint::*;
#[path = "store_conformance/access.rs"]
mod access;
use access::*;
#[path = "store_conformance/backends.rs"]
mod backends;
use backends::*;
#[path = "store_conformance/fencing.rs"]
mod fencing;
use fencing::*;
#[path = "store_conformance/schedules.rs"]
mod schedules;
use schedules::*;
#[path = "store_conformance/run_control.rs"]
mod run_control;
use run_control::*;
#[path = "store_conformance/events.rs"]
mod events;
use events::*;
#[path = "store_conformance/reads.rs"]
mod reads;
use reads::*;

fn event(
    id: &str,
    ty: &str,
    customer: serde_json::Value,
    at: i64,
) -> mikawaya_engine::event::Event {
    parse_event(0, json!({"id": id, "type": ty, "customer": customer, "occurred_at": mikawaya_engine::clock::rfc3339(at)}), at).unwrap()
}

fn new_run(id: &str, workflow: &str, trigger: &str, start: Option<usize>, at: i64) -> NewRun {
    NewRun {
        id: id.into(),
        workflow: workflow.into(),
        version: 1,
        customer_id: Some("c1".into()),
        enroll_key: "c1".into(),
        trigger_key: trigger.into(),
        context: json!({ "event": { "id": format!("ev-{id}") }, "steps": {} }),
        start,
        at,
        lease_until: 0,
    }
}

async fn start(store: &dyn Store, runs: Vec<NewRun>) {
    let batch = MatchBatch {
        new_runs: runs,
        ..Default::default()
    };
    store.apply_match(batch).await.unwrap();
}

/// Starts runs `r1` and `r2` of workflow `w` for customer `c1`, at their first step.
async fn start_two(store: &dyn Store) {
    start(
        store,
        vec![
            new_run("r1", "w", "t1", Some(0), 10),
            new_run("r2", "w", "t2", Some(0), 10),
        ],
    )
    .await;
}

fn transition(run: &RunRow, status: RunStatus, timer: Option<Timer>, at: i64) -> Transition {
    Transition {
        timeline: vec![TimelineEntry::run_level("moved", at, json!({}))],
        timer,
        ..Transition::new(
            run.id.clone(),
            run.rev,
            status,
            run.step,
            run.context.clone(),
            at,
        )
    }
}

/// One run per trigger key; an enrollment is recorded; a run with no steps completes at once.
async fn a_trigger_starts_one_run_and_records_the_enrollment(store: Arc<dyn Store>) {
    start(
        &*store,
        vec![
            new_run("r1", "w", "event:e1", Some(0), 10),
            new_run("r2", "w", "event:e1", Some(0), 11),
        ],
    )
    .await;
    start(
        &*store,
        vec![
            new_run("r3", "w", "event:e1", Some(0), 12),
            new_run("r4", "w", "event:e2", None, 13),
        ],
    )
    .await;
    let runs = store.runs(&RunFilter::default()).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["r4", "r1"],
        "newest first"
    );
    assert_eq!(
        (runs[0].status, runs[0].ended_at),
        (RunStatus::Completed, Some(13))
    );
    assert_eq!(runs[1].status, RunStatus::Active);
    assert_eq!(store.enrollment("w", "c1").await.unwrap(), Some(13));
    assert_eq!(store.timeline("r1").await.unwrap()[0].status, "started");
    assert_eq!(
        store.runs_for_event("w", "ev-r1").await.unwrap()[0].id,
        "r1"
    );
    assert_eq!(
        store.open_runs("w", RunsOf::Customer("c1")).await.unwrap(),
        ["r1"]
    );
    // By enrollment key: r1's is `c1` (new_run's), a run of another key does not count.
    let mut other = new_run("r5", "w", "t5", Some(0), 14);
    other.enroll_key = "kpi:conversion".into();
    start(&*store, vec![other]).await;
    assert_eq!(
        store.open_runs("w", RunsOf::Key("c1")).await.unwrap(),
        ["r1"]
    );
    assert_eq!(
        store
            .open_runs("w", RunsOf::Key("kpi:conversion"))
            .await
            .unwrap(),
        ["r5"]
    );
    assert!(store
        .open_runs("other", RunsOf::Key("kpi:conversion"))
        .await
        .unwrap()
        .is_empty());
}

/// Timers: claimed once while leased, earliest first; freed leases are due again.
async fn due_timers_are_claimed_once_and_leases_can_be_freed(store: Arc<dyn Store>) {
    start(
        &*store,
        vec![
            new_run("late", "w", "t1", Some(0), 50),
            new_run("early", "w", "t2", Some(0), 20),
        ],
    )
    .await;
    assert_eq!(store.next_due().await.unwrap(), Some(20));
    assert!(
        store.claim_due(10, 10, 1_000).await.unwrap().is_empty(),
        "nothing due yet"
    );
    let claimed = store.claim_due(100, 10, 1_000).await.unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|d| d.run_id.as_str())
            .collect::<Vec<_>>(),
        ["early", "late"]
    );
    assert_eq!((claimed[0].kind, claimed[0].attempt), (TimerKind::Exec, 1));
    assert!(
        store.claim_due(200, 10, 1_000).await.unwrap().is_empty(),
        "leased"
    );
    assert_eq!(
        store.next_due().await.unwrap(),
        Some(1_100),
        "due again when the lease ends"
    );
    assert_eq!(store.release_leases().await.unwrap(), 2);
    assert_eq!(
        store.claim_due(200, 1, 1_000).await.unwrap().len(),
        1,
        "the limit holds"
    );
}

/// A commit applies only at the revision read; it moves status, timer, wait, messages, letters.
async fn commits_are_guarded_by_the_revision(store: Arc<dyn Store>) {
    start(&*store, vec![new_run("r1", "w", "t1", Some(0), 10)]).await;
    let run = store.run("r1").await.unwrap().unwrap();
    let mut t = transition(
        &run,
        RunStatus::Waiting,
        Some(Timer {
            due_at: 500,
            kind: TimerKind::Wake,
            attempt: 1,
            lease_until: 0,
        }),
        20,
    );
    t.wait = Some(WaitRow {
        event_type: "a.b".into(),
        match_expr: "event.id".into(),
        match_key: "k1".into(),
    });
    t.sent = Some(SentMessage {
        customer_id: Some("c1".into()),
        channel: "email".into(),
        kind: "marketing".into(),
        address: None,
        workflow: "w".into(),
        key: "r1:s0".into(),
        tags: Vec::new(),
    });
    assert!(store.commit(t.clone()).await.unwrap());
    assert!(!store.commit(t).await.unwrap(), "the revision moved");
    let run = store.run("r1").await.unwrap().unwrap();
    assert_eq!((run.status, run.rev), (RunStatus::Waiting, 1));
    assert_eq!(
        store
            .messages_since("c1", "email", "marketing", 0)
            .await
            .unwrap(),
        [20]
    );
    assert!(store
        .messages_since("c1", "email", "marketing", 21)
        .await
        .unwrap()
        .is_empty());
    let waiting = store.waiting_runs("a.b", "event.id", "k1").await.unwrap();
    assert_eq!(
        waiting,
        [WaitingRun {
            run_id: "r1".into(),
            workflow: "w".into(),
            version: 1,
            step: 0
        }]
    );
    assert_eq!(store.next_due().await.unwrap(), Some(500));

    let mut fail = transition(&run, RunStatus::Failed, None, 30);
    fail.exit_reason = Some("boom".into());
    fail.dead_letter = Some(DeadLetter {
        step_id: "1".into(),
        action: "log".into(),
        input: json!({}),
        error: "boom".into(),
        attempts: 3,
    });
    assert!(store.commit(fail).await.unwrap());
    assert!(
        store
            .waiting_runs("a.b", "event.id", "k1")
            .await
            .unwrap()
            .is_empty(),
        "the wait is gone"
    );
    assert_eq!(store.next_due().await.unwrap(), None);
    let run = store.run("r1").await.unwrap().unwrap();
    assert_eq!(
        (run.status, run.ended_at, run.exit_reason.as_deref()),
        (RunStatus::Failed, Some(30), Some("boom"))
    );
    let letters = store.dead_letters(10).await.unwrap();
    assert_eq!((letters[0].attempts, letters[0].retried_at), (3, None));
    assert_eq!(
        store
            .retry_dead_letter(letters[0].id, 40)
            .await
            .unwrap()
            .as_deref(),
        Some("r1")
    );
    assert_eq!(
        store.retry_dead_letter(letters[0].id, 41).await.unwrap(),
        None,
        "once"
    );
    let run = store.run("r1").await.unwrap().unwrap();
    assert_eq!(
        (run.status, run.ended_at, run.exit_reason),
        (RunStatus::Active, None, None)
    );
    assert_eq!(
        store.timeline("r1").await.unwrap().last().unwrap().status,
        "retried"
    );
}

/// A batch of transitions applies each against its own revision, in order: a stale one is
/// refused alone, and a run named twice moves twice.
async fn a_batch_applies_each_transition_in_order(store: Arc<dyn Store>) {
    start_two(&*store).await;
    let r1 = store.run("r1").await.unwrap().unwrap();
    let mut stale = transition(
        &store.run("r2").await.unwrap().unwrap(),
        RunStatus::Completed,
        None,
        20,
    );
    stale.rev += 5;
    let first = transition(&r1, RunStatus::Waiting, None, 20);
    let mut second = transition(&r1, RunStatus::Completed, None, 21);
    second.rev = r1.rev + 1;
    let applied = store
        .commit_batch(vec![first, stale, second])
        .await
        .unwrap();
    assert_eq!(applied, [true, false, true]);
    let r1 = store.run("r1").await.unwrap().unwrap();
    assert_eq!(
        (r1.status, r1.rev, r1.ended_at),
        (RunStatus::Completed, 2, Some(21))
    );
    let r2 = store.run("r2").await.unwrap().unwrap();
    assert_eq!((r2.status, r2.rev), (RunStatus::Active, 0));
    let moved = store
        .timeline("r1")
        .await
        .unwrap()
        .iter()
        .filter(|e| e.status == "moved")
        .count();
    assert_eq!(moved, 2, "both transitions wrote their timeline line");
}

/// Goal exits and arriving events move only runs whose status allows it (the lifecycle's guards).
async fn goals_and_resumes_follow_the_lifecycle_guards(store: Arc<dyn Store>) {
    start_two(&*store).await;
    let r2 = store.run("r2").await.unwrap().unwrap();
    let mut t = transition(&r2, RunStatus::Waiting, None, 11);
    t.wait = Some(WaitRow {
        event_type: "a.b".into(),
        match_expr: "x".into(),
        match_key: "k".into(),
    });
    store.commit(t).await.unwrap();
    let entry = TimelineEntry::run_level("event", 20, json!({}));
    let batch = MatchBatch {
        resumes: vec![
            Resume {
                run_id: "r1".into(),
                wait_step: 0,
                target: Some(1),
                entry: entry.clone(),
            },
            Resume {
                run_id: "r2".into(),
                wait_step: 0,
                target: None,
                entry,
            },
        ],
        ..Default::default()
    };
    store.apply_match(batch).await.unwrap();
    let r1 = store.run("r1").await.unwrap().unwrap();
    assert_eq!(
        (r1.status, r1.step),
        (RunStatus::Active, Some(0)),
        "an active run is not resumed"
    );
    let r2 = store.run("r2").await.unwrap().unwrap();
    assert_eq!((r2.status, r2.ended_at), (RunStatus::Completed, Some(20)));
    let exits = vec![
        EarlyExit {
            run_id: "r1".into(),
            reason: "goal: o.p".into(),
            at: 30,
        },
        EarlyExit {
            run_id: "r2".into(),
            reason: "goal: o.p".into(),
            at: 30,
        },
    ];
    store
        .apply_match(MatchBatch {
            exits,
            ..Default::default()
        })
        .await
        .unwrap();
    let r1 = store.run("r1").await.unwrap().unwrap();
    assert_eq!(
        (r1.status, r1.exit_reason.as_deref()),
        (RunStatus::Exited, Some("goal: o.p"))
    );
    assert_eq!(
        store.run("r2").await.unwrap().unwrap().status,
        RunStatus::Completed,
        "finished runs stay"
    );
    let counts = store.workflow_counts(0).await.unwrap();
    assert_eq!(
        counts[0].1,
        WorkflowCounts {
            active: 0,
            completed: 2,
            failed: 0
        }
    );
}

/// Tasks once per key, plugin values per plugin, settings kept, versions once per number.
async fn tasks_kv_settings_and_versions_are_kept_once(store: Arc<dyn Store>) {
    let first = store
        .create_task("run:1", "run", &json!({"title": "call", "queue": "q"}), 5)
        .await
        .unwrap();
    let again = store
        .create_task("run:1", "run", &json!({"title": "other"}), 6)
        .await
        .unwrap();
    assert_eq!(first, again);
    let tasks = store.tasks(10).await.unwrap();
    assert_eq!(
        (
            tasks.len(),
            tasks[0].title.as_str(),
            tasks[0].queue.as_deref()
        ),
        (1, "call", Some("q"))
    );
    store.kv_set("p", "k", "1").await.unwrap();
    store.kv_set("p", "k", "2").await.unwrap();
    assert_eq!(store.kv_get("p", "k").await.unwrap().as_deref(), Some("2"));
    assert_eq!(store.kv_get("q", "k").await.unwrap(), None);
    assert_eq!(store.setting_or_init("s", "a").await.unwrap(), "a");
    assert_eq!(store.setting_or_init("s", "b").await.unwrap(), "a");
    let v = |source: &str| VersionRow {
        name: "w".into(),
        version: 1,
        file: "w.yaml".into(),
        source: source.into(),
        digest: "d".into(),
        ir: Some("{}".into()),
        compiler: Some("c".into()),
    };
    store.save_version(&v("one"), 1).await.unwrap();
    store.save_version(&v("two"), 2).await.unwrap();
    assert_eq!(store.versions().await.unwrap(), [v("one")]);
}

macro_rules! conformance {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;
            conformance!(@cases $open;
                events_are_deduplicated_and_pending_until_matched,
                customers_merge_as_a_json_merge_patch,
                a_trigger_starts_one_run_and_records_the_enrollment,
                due_timers_are_claimed_once_and_leases_can_be_freed,
                commits_are_guarded_by_the_revision,
                a_batch_applies_each_transition_in_order,
                goals_and_resumes_follow_the_lifecycle_guards,
                schedules_and_date_triggers_fire_once,
                suppressions_are_case_insensitive,
                claims_hold_the_limit_per_distinct_step,
                concurrent_claims_never_pass_the_limit_together,
                throttle_slots_hold_their_rate_per_key,
                call_leases_queue_waiters_in_arrival_order,
                claims_read_consent_and_suppressions_as_stored,
                tasks_kv_settings_and_versions_are_kept_once,
                tokens_are_created_once_listed_and_revoked,
                the_audit_log_keeps_entries_in_order,
                runs_are_cancelled_once_only_while_unfinished,
                failed_runs_are_retried_through_their_latest_letter,
                runs_are_listed_by_start_time_range,
                a_claim_fences_the_runs_earlier_holder,
                rejected_messages_are_kept_newest_first,
                step_stats_count_a_period_with_reasons,
                customers_are_paged_in_id_order,
                score_changes_keep_the_latest_per_score);
        }
    };
    (@cases $open:expr; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (store, _keep) = $open;
                super::$case(store).await;
            }
        )*
    };
}

conformance!(sqlite, open_sqlite().await);
conformance!(postgres, open_postgres().await);
conformance!(memory, (Arc::new(MemoryStore::new()) as Arc<dyn Store>, ()));
