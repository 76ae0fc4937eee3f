//! `GET /metrics`: the engine's counters and gauges in Prometheus text format.

use super::AppState;
use axum::extract::State;
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// The counters and gauges.
pub async fn metrics(State(s): State<AppState>) -> String {
    let m = s.engine.metrics();
    let load = |v: &std::sync::atomic::AtomicU64| v.load(Ordering::Relaxed);
    let (batches, transitions) = s.engine.commit_counts();
    // How late the earliest due timer is (0 when nothing is overdue): one read of an index.
    let now = s.engine.clock().now_ms();
    let timer_lag_ms = match s.engine.next_timer().await {
        Ok(Some(due)) => (now - due).max(0) as u64,
        _ => 0,
    };
    let series: [(&str, &str, &str, u64); 17] = [
        (
            "mikawaya_events_accepted_total",
            "counter",
            "Events stored.",
            load(&m.events_accepted),
        ),
        (
            "mikawaya_events_duplicate_total",
            "counter",
            "Events ignored as duplicates.",
            load(&m.events_duplicate),
        ),
        (
            "mikawaya_events_rejected_total",
            "counter",
            "Requests refused as malformed.",
            load(&m.events_rejected),
        ),
        (
            "mikawaya_events_pushed_back_total",
            "counter",
            "Requests refused with 503 because the backlog passed its bound.",
            load(&m.events_pushed_back),
        ),
        (
            "mikawaya_events_rate_limited_total",
            "counter",
            "Requests refused with 429 because their token or source was over --rate-limit.",
            load(&m.events_rate_limited),
        ),
        (
            "mikawaya_runs_started_total",
            "counter",
            "Runs started.",
            load(&m.runs_started),
        ),
        (
            "mikawaya_runs_ended_total",
            "counter",
            "Runs that completed, exited or failed while executing in this process.",
            load(&m.runs_ended),
        ),
        (
            "mikawaya_actions_ok_total",
            "counter",
            "Action calls that succeeded.",
            load(&m.actions_ok),
        ),
        (
            "mikawaya_actions_failed_total",
            "counter",
            "Action calls that failed.",
            load(&m.actions_failed),
        ),
        (
            "mikawaya_run_commits_total",
            "counter",
            "Transactions that committed run transitions.",
            batches,
        ),
        (
            "mikawaya_run_transitions_total",
            "counter",
            "Run transitions committed (many per transaction under load).",
            transitions,
        ),
        (
            "mikawaya_events_unmatched",
            "gauge",
            "Stored events not matched yet.",
            load(&m.events_unmatched),
        ),
        (
            "mikawaya_runs_ready",
            "gauge",
            "New runs handed to the executor, not started yet.",
            s.engine.ready_runs() as u64,
        ),
        (
            "mikawaya_runs_in_flight",
            "gauge",
            "Runs executing now.",
            load(&m.runs_in_flight),
        ),
        (
            "mikawaya_backlog",
            "gauge",
            "Work not yet done: unmatched events plus ready and executing runs.",
            s.engine.backlog(),
        ),
        (
            "mikawaya_timer_lag_ms",
            "gauge",
            "How long the earliest due timer (a next step, a retry, a wait's timeout) has been due without being taken.",
            timer_lag_ms,
        ),
        (
            "mikawaya_backlog_bound",
            "gauge",
            "Backlog at which the intake answers 503 with Retry-After.",
            s.engine.config().max_backlog,
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in series {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        );
    }
    out
}
