//! `GET /metrics`: the engine's counters in Prometheus text format.

use super::AppState;
use axum::extract::State;
use std::sync::atomic::{AtomicU64, Ordering};

/// The counters.
pub async fn metrics(State(s): State<AppState>) -> String {
    let m = s.engine.metrics();
    let counters: [(&str, &str, &AtomicU64); 6] = [
        (
            "mikawaya_events_accepted_total",
            "Events stored.",
            &m.events_accepted,
        ),
        (
            "mikawaya_events_duplicate_total",
            "Events ignored as duplicates.",
            &m.events_duplicate,
        ),
        (
            "mikawaya_events_rejected_total",
            "Requests refused as malformed.",
            &m.events_rejected,
        ),
        (
            "mikawaya_runs_started_total",
            "Runs started.",
            &m.runs_started,
        ),
        (
            "mikawaya_actions_ok_total",
            "Action calls that succeeded.",
            &m.actions_ok,
        ),
        (
            "mikawaya_actions_failed_total",
            "Action calls that failed.",
            &m.actions_failed,
        ),
    ];
    counters
        .iter()
        .map(|(name, help, v)| {
            format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                v.load(Ordering::Relaxed)
            )
        })
        .collect()
}
