//! Read-model cases: what the page's per-node counts read.

use super::*;

fn line(step: &str, status: &str, at: i64, detail: serde_json::Value) -> TimelineEntry {
    TimelineEntry {
        step_id: step.into(),
        kind: "action".into(),
        status: status.into(),
        attempt: 1,
        at,
        detail,
    }
}

/// Writes `lines` to run `id` in one commit.
async fn record(store: &dyn Store, id: &str, lines: Vec<TimelineEntry>, at: i64) {
    let run = store.run(id).await.unwrap().unwrap();
    let mut t = transition(&run, RunStatus::Active, None, at);
    t.timeline = lines;
    assert!(store.commit(t).await.unwrap());
}

fn stats(list: &[StepStat]) -> Vec<String> {
    list.iter()
        .map(|s| format!("{} {} {} {}", s.step_id, s.status, s.count, s.reason))
        .map(|s| s.trim_end().to_string())
        .collect()
}

/// Step counts of a period: lines by step, status and reason (of skips and exits), each
/// step's distinct runs as `entered`, run-level lines under `run` with the runs `started`;
/// older lines and runs left out.
pub async fn step_stats_count_a_period_with_reasons(store: Arc<dyn Store>) {
    start_two(&*store).await;
    let skip = |reason: &str| json!({ "reason": reason });
    let r1 = vec![
        line("a", "done", 20, json!({})),
        line("b", "skipped", 30, skip("frequency cap 3/7d")),
    ];
    record(&*store, "r1", r1, 30).await;
    let r2 = vec![
        line("a", "retry", 20, json!({})),
        line("a", "done", 25, json!({})),
        line(
            "b",
            "skipped",
            40,
            json!({ "reason": "customer bob has not consented", "why": "no_consent" }),
        ),
        TimelineEntry::run_level("exited", 50, skip("goal: order.placed")),
    ];
    record(&*store, "r2", r2, 50).await;
    let all = store.step_stats("w", 1, 0).await.unwrap();
    assert_eq!(
        stats(&all),
        [
            "a done 2",
            "a entered 2",
            "a retry 1",
            "b entered 2",
            "b skipped 1 frequency cap 3/7d",
            "b skipped 1 no_consent",
            "run exited 1 goal: order.placed",
            "run started 2",
        ]
    );
    let recent = store.step_stats("w", 1, 26).await.unwrap();
    assert_eq!(
        stats(&recent),
        [
            "b entered 2",
            "b skipped 1 frequency cap 3/7d",
            "b skipped 1 no_consent",
            "run exited 1 goal: order.placed",
        ]
    );
    assert!(store.step_stats("w", 2, 0).await.unwrap().is_empty());
}
