//! Rows read by column name (`FromRow`) and converted to the model, plus the statements that
//! several concerns share inside one transaction (a new run, a timeline line, a run's timer).

use crate::clock::Millis;
use crate::store::model::*;
use crate::store::status::{self, Cause};
use crate::store::{StoreError, StoreResult};
use serde_json::Value;
use sqlx::{Sqlite, SqliteConnection, Transaction};

/// A transaction on the SQLite store.
pub(super) type Tx<'c> = Transaction<'c, Sqlite>;

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

/// A claimed `timers` row.
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

/// Appends a timeline line.
pub(super) async fn add_timeline(
    tx: &mut SqliteConnection,
    run_id: &str,
    e: &TimelineEntry,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO run_steps (run_id, step_id, kind, status, attempt, at, detail) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(run_id)
        .bind(&e.step_id)
        .bind(&e.kind)
        .bind(&e.status)
        .bind(e.attempt as i64)
        .bind(e.at)
        .bind(e.detail.to_string())
        .execute(tx)
        .await?;
    Ok(())
}

/// Sets (or with `None` clears) the run's single timer.
pub(super) async fn set_timer(
    tx: &mut SqliteConnection,
    run_id: &str,
    timer: Option<&Timer>,
) -> StoreResult<()> {
    match timer {
        None => sqlx::query("DELETE FROM timers WHERE run_id = ?").bind(run_id).execute(tx).await?,
        Some(t) => sqlx::query(
            "INSERT INTO timers (run_id, due_at, kind, attempt, lease_until) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (run_id) DO UPDATE SET due_at = excluded.due_at, kind = excluded.kind, attempt = excluded.attempt, lease_until = excluded.lease_until",
        )
        .bind(run_id)
        .bind(t.due_at)
        .bind(t.kind.as_str())
        .bind(t.attempt as i64)
        .bind(t.lease_until)
        .execute(tx)
        .await?,
    };
    Ok(())
}

/// Merges `patch` into the customer's attributes (RFC 7386 merge patch, as
/// [`crate::store::merge::merge_patch`]), creating the customer.
pub(super) async fn merge_customer(
    tx: &mut SqliteConnection,
    id: &str,
    patch: &Value,
    at: Millis,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO customers (id, data, updated_at) VALUES (?1, json_patch('{}', ?2), ?3)
         ON CONFLICT (id) DO UPDATE SET data = json_patch(customers.data, ?2), updated_at = ?3",
    )
    .bind(id)
    .bind(patch.to_string())
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Removes a run's wait-for-event registration, if any.
pub(super) async fn clear_wait(tx: &mut SqliteConnection, run_id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM waits WHERE run_id = ?")
        .bind(run_id)
        .execute(tx)
        .await?;
    Ok(())
}

/// The SQL list of the statuses a run may be in for `cause`, e.g. `('active', 'waiting')`.
pub(super) fn statuses_for(cause: Cause) -> String {
    let names: Vec<String> = status::from_statuses(cause)
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("({})", names.join(", "))
}
