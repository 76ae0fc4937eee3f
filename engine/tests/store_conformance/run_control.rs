//! Conformance cases of run control: cancelling runs and retrying failed ones in bulk, and the
//! start-time range of the run listing that selects them.

use super::{new_run, start, transition};
use mikawaya_engine::store::*;
use serde_json::json;
use std::sync::Arc;

fn at(ms: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(ms)
}

/// Ends run `id` as failed at `at` with a dead letter.
async fn fail(store: &dyn Store, id: &str, at: i64) {
    let run = store.run(id).await.unwrap().unwrap();
    let mut t = transition(&run, RunStatus::Failed, None, at);
    t.exit_reason = Some("boom".into());
    t.dead_letter = Some(DeadLetter {
        step_id: "0".into(),
        action: "log".into(),
        input: json!({}),
        error: "boom".into(),
        attempts: 3,
    });
    assert!(store.commit(t).await.unwrap());
}

/// Only active and waiting runs are cancelled, once; the timer and wait go, the revision moves
/// (an executor's commit read before is refused) and the timeline says why.
pub async fn runs_are_cancelled_once_only_while_unfinished(store: Arc<dyn Store>) {
    start(
        &*store,
        vec![
            new_run("r1", "w", "t1", Some(0), 10),
            new_run("r2", "w", "t2", Some(0), 20),
            new_run("r3", "w", "t3", None, 30),
        ],
    )
    .await;
    let r2 = store.run("r2").await.unwrap().unwrap();
    let mut wait = transition(&r2, RunStatus::Waiting, Some(Timer::exec(900)), 25);
    wait.wait = Some(WaitRow {
        event_type: "a.b".into(),
        match_expr: "event.id".into(),
        match_key: "k".into(),
    });
    assert!(store.commit(wait).await.unwrap());
    let read_before = store.run("r1").await.unwrap().unwrap();

    let ids = ["r1", "r2", "r3", "nobody"].map(String::from);
    let cancelled = store.cancel_runs(&ids, "ops said so", 50).await.unwrap();
    assert_eq!(
        cancelled,
        ["r1", "r2"],
        "r3 had completed, nobody is unknown"
    );
    for id in ["r1", "r2"] {
        let run = store.run(id).await.unwrap().unwrap();
        assert_eq!(
            (run.status, run.ended_at, run.exit_reason.as_deref()),
            (RunStatus::Cancelled, Some(50), Some("ops said so"))
        );
        let last = store.timeline(id).await.unwrap().pop().unwrap();
        assert_eq!((last.status.as_str(), last.at), ("cancelled", 50));
        assert_eq!(last.detail["reason"], "ops said so");
    }
    assert_eq!(store.next_due().await.unwrap(), None, "no timer is left");
    assert!(store.claim_due(10_000, 10, 100).await.unwrap().is_empty());
    assert!(store
        .waiting_runs("a.b", "event.id", "k")
        .await
        .unwrap()
        .is_empty());
    let late = transition(&read_before, RunStatus::Completed, None, 60);
    assert!(
        !store.commit(late).await.unwrap(),
        "a step that read r1 before the cancel cannot finish it"
    );
    assert!(store
        .cancel_runs(&ids, "again", 70)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.retry_runs(&ids, 80).await.unwrap(),
        Vec::<String>::new(),
        "a cancelled run is not failed"
    );
}

/// A failed run goes back through its latest letter not yet retried; other runs are left.
pub async fn failed_runs_are_retried_through_their_latest_letter(store: Arc<dyn Store>) {
    start(
        &*store,
        vec![
            new_run("r1", "w", "t1", Some(0), 10),
            new_run("r2", "w", "t2", Some(0), 20),
        ],
    )
    .await;
    fail(&*store, "r1", 30).await;
    assert_eq!(store.retry_runs(&["r1".into()], 40).await.unwrap(), ["r1"]);
    fail(&*store, "r1", 50).await;
    let ids = ["r1", "r2"].map(String::from);
    assert_eq!(
        store.retry_runs(&ids, 60).await.unwrap(),
        ["r1"],
        "r2 is active"
    );
    let run = store.run("r1").await.unwrap().unwrap();
    assert_eq!((run.status, run.ended_at), (RunStatus::Active, None));
    let letters = store.dead_letters(10).await.unwrap();
    assert!(
        letters.iter().all(|d| d.retried_at.is_some()),
        "both letters retried once each: {letters:?}"
    );
    assert_eq!(
        store.timeline("r1").await.unwrap().pop().unwrap().detail["dead_letter"],
        letters[0].id,
        "the second retry went through the newer letter"
    );
}

/// The listing's start-time range is `[started_after, started_before)`.
pub async fn runs_are_listed_by_start_time_range(store: Arc<dyn Store>) {
    let runs = (1..=4).map(|i| new_run(&format!("r{i}"), "w", &format!("t{i}"), Some(0), i * 10));
    start(&*store, runs.collect()).await;
    let listed = |after: i64, before: i64| {
        let filter = RunFilter {
            started_after: at(after),
            started_before: at(before),
            ..Default::default()
        };
        let store = store.clone();
        async move {
            let runs = store.runs(&filter).await.unwrap();
            runs.into_iter().map(|r| r.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(20, 40).await, ["r3", "r2"]);
    assert_eq!(listed(0, 11).await, ["r1"]);
    assert!(listed(41, 1_000).await.is_empty());
}
