//! Rows read by column name (`FromRow`) and converted to the model, shared by the SQL stores:
//! SQLite and PostgreSQL keep the same columns (integers, millisecond times, JSON as text; a
//! PostgreSQL `jsonb` column is read as `data::text`), so one record type serves both.

use crate::clock::Millis;
use crate::store::model::*;
use crate::store::views::*;
use crate::store::{StoreError, StoreResult};
use serde_json::Value;

/// JSON stored as text (`null` when unreadable).
pub(crate) fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The columns of [`RunRecord`].
pub(crate) const RUN_COLUMNS: &str =
    "id, workflow, version, customer_id, status, step, rev, context, started_at, updated_at, ended_at, exit_reason";

/// A `runs` row.
#[derive(sqlx::FromRow)]
pub(crate) struct RunRecord {
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
pub(crate) fn run_rows(records: Vec<RunRecord>) -> StoreResult<Vec<RunRow>> {
    records.into_iter().map(RunRow::try_from).collect()
}

/// A `run_steps` row (optionally with its run id).
#[derive(sqlx::FromRow)]
pub(crate) struct TimelineRecord {
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
pub(crate) struct WaitingRecord {
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
pub(crate) struct TimerRecord {
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
pub(crate) struct DateTriggerRecord {
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

/// A `tasks` row.
#[derive(sqlx::FromRow)]
pub(crate) struct TaskRecord {
    id: String,
    run_id: String,
    title: String,
    assignee: Option<String>,
    queue: Option<String>,
    data: String,
    status: String,
    created_at: Millis,
}

impl From<TaskRecord> for TaskRow {
    fn from(r: TaskRecord) -> Self {
        TaskRow {
            id: r.id,
            run_id: r.run_id,
            title: r.title,
            assignee: r.assignee,
            queue: r.queue,
            data: json_of(&r.data),
            status: r.status,
            created_at: r.created_at,
        }
    }
}

/// A `dead_letters` row.
#[derive(sqlx::FromRow)]
pub(crate) struct DeadLetterRecord {
    id: i64,
    run_id: String,
    step_id: String,
    action: String,
    input: String,
    error: String,
    attempts: i64,
    created_at: Millis,
    retried_at: Option<Millis>,
}

impl From<DeadLetterRecord> for DeadLetterRow {
    fn from(r: DeadLetterRecord) -> Self {
        DeadLetterRow {
            id: r.id,
            run_id: r.run_id,
            step_id: r.step_id,
            action: r.action,
            input: json_of(&r.input),
            error: r.error,
            attempts: r.attempts as u32,
            created_at: r.created_at,
            retried_at: r.retried_at,
        }
    }
}

/// Run counts of one workflow.
#[derive(sqlx::FromRow)]
pub(crate) struct CountsRecord {
    workflow: String,
    active: i64,
    completed: i64,
    failed: i64,
}

impl From<CountsRecord> for (String, WorkflowCounts) {
    fn from(r: CountsRecord) -> Self {
        let counts = WorkflowCounts {
            active: r.active,
            completed: r.completed,
            failed: r.failed,
        };
        (r.workflow, counts)
    }
}

/// Unfinished runs at one step of one version.
#[derive(sqlx::FromRow)]
pub(crate) struct StepCountRecord {
    version: i64,
    step: i64,
    runs: i64,
}

impl From<StepCountRecord> for StepCount {
    fn from(r: StepCountRecord) -> Self {
        StepCount {
            version: r.version as u32,
            step: r.step as usize,
            runs: r.runs,
        }
    }
}

/// A `workflow_versions` row.
#[derive(sqlx::FromRow)]
pub(crate) struct VersionRecord {
    name: String,
    version: i64,
    file: String,
    source: String,
    digest: String,
    ir: Option<String>,
    compiler: Option<String>,
}

impl From<VersionRecord> for VersionRow {
    fn from(r: VersionRecord) -> Self {
        VersionRow {
            name: r.name,
            version: r.version as u32,
            file: r.file,
            source: r.source,
            digest: r.digest,
            ir: r.ir,
            compiler: r.compiler,
        }
    }
}

/// An `api_tokens` row (scopes space-separated).
#[derive(sqlx::FromRow)]
pub(crate) struct TokenRecord {
    name: String,
    hash: String,
    scopes: String,
    created_at: Millis,
    revoked_at: Option<Millis>,
}

impl From<TokenRecord> for TokenRow {
    fn from(r: TokenRecord) -> Self {
        TokenRow {
            name: r.name,
            hash: r.hash,
            scopes: r.scopes.split_whitespace().map(String::from).collect(),
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// An `audit_log` row.
#[derive(sqlx::FromRow)]
pub(crate) struct AuditRecord {
    id: i64,
    at: Millis,
    actor: String,
    action: String,
    target: String,
    detail: String,
}

impl From<AuditRecord> for AuditEntry {
    fn from(r: AuditRecord) -> Self {
        AuditEntry {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            target: r.target,
            detail: json_of(&r.detail),
        }
    }
}

/// A pending `events` row: its sequence number, body and when it was stored.
#[derive(sqlx::FromRow)]
pub(crate) struct PendingRecord {
    seq: i64,
    body: String,
    received_at: Millis,
}

impl From<PendingRecord> for StoredEvent {
    fn from(r: PendingRecord) -> Self {
        StoredEvent {
            seq: r.seq,
            event: crate::event::Event::from_stored(&r.body)
                .ok_or_else(|| format!("the stored body of event {} is not an event", r.seq)),
            received_at: r.received_at,
        }
    }
}

/// An `events` row's sequence number and body.
#[derive(sqlx::FromRow)]
pub(crate) struct EventRecord {
    seq: i64,
    body: String,
}

impl EventRecord {
    /// The stored event.
    pub fn event(&self) -> StoreResult<crate::event::Event> {
        crate::event::Event::from_stored(&self.body)
            .ok_or_else(|| StoreError::Corrupt(format!("event {}", self.seq)))
    }
}

/// A timer as the run row's `due_at`, `due_kind`, `due_attempt` and `lease_until` columns (all
/// NULL without one).
pub(crate) struct TimerColumns {
    /// When it is due.
    pub due_at: Option<Millis>,
    /// `exec` or `wake`.
    pub kind: Option<&'static str>,
    /// Attempt of the step it runs.
    pub attempt: Option<i64>,
    /// Until when it is leased to a worker.
    pub lease_until: Option<Millis>,
}

impl TimerColumns {
    /// The columns of `timer`.
    pub fn of(timer: Option<&Timer>) -> Self {
        TimerColumns {
            due_at: timer.map(|t| t.due_at),
            kind: timer.map(|t| t.kind.as_str()),
            attempt: timer.map(|t| t.attempt as i64),
            lease_until: timer.map(|t| t.lease_until),
        }
    }
}
