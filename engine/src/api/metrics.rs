//! `GET /metrics`: the engine's metrics ([`crate::core::metrics`]) in OpenMetrics text, which
//! Prometheus scrapes. The state read at scrape time (timer lag, due timers, ready runs) costs
//! two index reads.

use super::AppState;
use crate::core::metrics::Snapshot;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

/// Due timers are counted up to this many (the gauge then reads "at least").
const DUE_COUNT_CAP: i64 = 100_000;

/// The engine's metrics in OpenMetrics text, for Prometheus (`runs:read`).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String),
        super::openapi::Refusals))]
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let now = s.engine.clock().now_ms();
    // How late the earliest due timer is (0 when nothing is overdue): one read of an index.
    let timer_lag_ms = match s.engine.next_timer().await {
        Ok(Some(due)) => (now - due).max(0) as u64,
        _ => 0,
    };
    let timers_due = s.engine.due_timers(DUE_COUNT_CAP).await.unwrap_or_default();
    let text = s.engine.metrics().encode(Snapshot {
        runs_ready: s.engine.ready_runs() as u64,
        timer_lag_ms,
        timers_due,
        backlog_bound: s.engine.config().max_backlog,
    });
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}
