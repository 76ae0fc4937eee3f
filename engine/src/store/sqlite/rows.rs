//! Rows read by column name (`FromRow`) and converted to the model.

use crate::clock::Millis;
use crate::store::model::*;
use crate::store::{StoreError, StoreResult};
use serde_json::Value;

/// JSON stored as text (`null` when unreadable).
pub(super) fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The columns of [`RunRecord`].
pub(super) const RUN_COLUMNS: &str =
    "id, workflow, version, customer_id, status, step, rev, context, started_at, updated_at, ended_at, exit_reason";

/// A `runs` row.
#[derive(sqlx::FromRow)]
pub(super) struct RunRecord {
    id: String,
    workflow: String,
    version: i64,
    customer_id: Option<String>,
    status: String,
    step: Option<i64>,
    rev: i64,
    context: String,
    started_at: Millis,
    updated_at: Millis,
    ended_at: Option<Millis>,
    exit_reason: Option<String>,
}

impl TryFrom<RunRecord> for RunRow {
    type Error = StoreError;

    fn try_from(r: RunRecord) -> StoreResult<RunRow> {
        Ok(RunRow {
            status: RunStatus::parse(&r.status)
                .ok_or_else(|| StoreError::Corrupt(format!("run {} status {}", r.id, r.status)))?,
            id: r.id,
            workflow: r.workflow,
            version: r.version as u32,
            customer_id: r.customer_id,
            step: r.step.map(|s| s as usize),
            rev: r.rev,
            context: json_of(&r.context),
            started_at: r.started_at,
            updated_at: r.updated_at,
            ended_at: r.ended_at,
            exit_reason: r.exit_reason,
        })
    }
}

/// Converts fetched run records.
pub(super) fn run_rows(records: Vec<RunRecord>) -> StoreResult<Vec<RunRow>> {
    records.into_iter().map(RunRow::try_from).collect()
}

/// A `run_steps` row (optionally with its run id).
#[derive(sqlx::FromRow)]
pub(super) struct TimelineRecord {
    #[sqlx(default)]
    pub run_id: String,
    step_id: String,
    kind: String,
    status: String,
    attempt: i64,
    at: Millis,
    detail: Option<String>,
}

impl From<TimelineRecord> for TimelineEntry {
    fn from(r: TimelineRecord) -> Self {
        TimelineEntry {
            step_id: r.step_id,
            kind: r.kind,
            status: r.status,
            attempt: r.attempt as u32,
            at: r.at,
            detail: r.detail.as_deref().map(json_of).unwrap_or(Value::Null),
        }
    }
}

/// A `waits` row joined with its run.
#[derive(sqlx::FromRow)]
pub(super) struct WaitingRecord {
    id: String,
    workflow: String,
    version: i64,
    step: Option<i64>,
}

impl From<WaitingRecord> for WaitingRun {
    fn from(r: WaitingRecord) -> Self {
        WaitingRun {
            run_id: r.id,
            workflow: r.workflow,
            version: r.version as u32,
            step: r.step.unwrap_or(0) as usize,
        }
    }
}

/// A claimed timer (the timer columns of a `runs` row).
#[derive(sqlx::FromRow)]
pub(super) struct TimerRecord {
    run_id: String,
    kind: String,
    attempt: i64,
    pub due_at: Millis,
}

impl From<TimerRecord> for DueWork {
    fn from(r: TimerRecord) -> Self {
        DueWork {
            run_id: r.run_id,
            kind: TimerKind::parse(&r.kind),
            attempt: r.attempt as u32,
            due_at: r.due_at,
        }
    }
}

/// A `date_triggers` row.
#[derive(sqlx::FromRow)]
pub(super) struct DateTriggerRecord {
    workflow: String,
    key: String,
    due_at: Millis,
    event_id: String,
}

impl From<DateTriggerRecord> for DateTriggerRow {
    fn from(r: DateTriggerRecord) -> Self {
        DateTriggerRow {
            workflow: r.workflow,
            key: r.key,
            due_at: r.due_at,
            event_id: r.event_id,
        }
    }
}
