//! What the read model, the API and the command line hand out: listings of runs, tasks, dead
//! letters, suppressions, tokens and the audit log, and the filters that select them. Plain
//! data, no SQL; split from [`super::model`], which holds what the engine writes.

use crate::clock::Millis;
use serde::Serialize;
use serde_json::Value;

/// A suppressed address.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Suppression {
    /// The address.
    pub address: String,
    /// Why (`hard bounce`, `complaint`, `manual`).
    pub reason: String,
    /// Since when.
    pub created_at: Millis,
}

/// Filters for listing runs.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunFilter {
    /// Only this customer.
    pub customer: Option<String>,
    /// Only this workflow.
    pub workflow: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Only runs started at or after this instant (RFC 3339).
    pub started_after: Option<chrono::DateTime<chrono::Utc>>,
    /// Only runs started before this instant (RFC 3339).
    pub started_before: Option<chrono::DateTime<chrono::Utc>>,
    /// At most this many (default 100).
    pub limit: Option<i64>,
}

impl RunFilter {
    /// The start-time range as `[from, to)` milliseconds (the whole range when not set).
    pub fn started_range(&self) -> (Millis, Millis) {
        (
            self.started_after
                .map_or(Millis::MIN, |t| t.timestamp_millis()),
            self.started_before
                .map_or(Millis::MAX, |t| t.timestamp_millis()),
        )
    }

    /// The limit to apply: 100 by default, between 1 and 10,000.
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(100).clamp(1, 10_000)
    }
}

/// A task created by `task.create`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TaskRow {
    /// Task id.
    pub id: String,
    /// Run that created it.
    pub run_id: String,
    /// Title.
    pub title: String,
    /// Person assigned.
    pub assignee: Option<String>,
    /// Queue.
    pub queue: Option<String>,
    /// Other data.
    pub data: Value,
    /// `open` or `done`.
    pub status: String,
    /// Creation time.
    pub created_at: Millis,
}

/// A dead letter as listed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeadLetterRow {
    /// Id.
    pub id: i64,
    /// Run.
    pub run_id: String,
    /// Step.
    pub step_id: String,
    /// Action.
    pub action: String,
    /// Input.
    pub input: Value,
    /// Last error.
    pub error: String,
    /// Attempts made.
    pub attempts: u32,
    /// When.
    pub created_at: Millis,
    /// When it was sent back for another try.
    pub retried_at: Option<Millis>,
}

/// Run counts of one workflow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WorkflowCounts {
    /// Runs active or waiting now.
    pub active: i64,
    /// Completed or exited in the last 24h.
    pub completed: i64,
    /// Failed in the last 24h.
    pub failed: i64,
}

/// Unfinished runs of one workflow version at one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepCount {
    /// Version.
    pub version: u32,
    /// Step index.
    pub step: usize,
    /// Runs there now.
    pub runs: i64,
}

/// Timeline lines of one step with one status, over all runs of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StepStat {
    /// Step id (`run` for the run-level lines: `started`, how runs ended).
    pub step_id: String,
    /// Timeline status (`done`, `failed`, `skipped`, …), or `entered`: the distinct runs with
    /// a line at the step in the period.
    pub status: String,
    /// Why of `skipped` and `exited` lines: a skip's code (`no_consent`, `capped`), an exit's
    /// reason (`goal: order.placed`); empty for the other statuses.
    pub reason: String,
    /// How many.
    pub count: i64,
}

/// A scoped API token as stored: its hash, never the token itself.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TokenRow {
    /// Unique name (who holds it: `shop`, `grafana`); the actor in logs and the audit.
    pub name: String,
    /// Hex SHA-256 of the token.
    #[serde(skip)]
    #[schema(ignore)]
    pub hash: String,
    /// Scope names, e.g. `events:write`.
    pub scopes: Vec<String>,
    /// When it was created.
    pub created_at: Millis,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Millis>,
}

/// One change recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Order of recording (0 before it is stored).
    pub id: i64,
    /// When.
    pub at: Millis,
    /// Who: the token's name (`bootstrap`, `anonymous` on an open API, `customer` for an
    /// unsubscribe link).
    pub actor: String,
    /// What, e.g. `token.created`, `workflow.saved`, `suppression.removed`.
    pub action: String,
    /// On what: a token, workflow, address or dead letter.
    pub target: String,
    /// Small details (scopes, version, reason).
    pub detail: Value,
}

/// A message an intake could not take (not an event, or not JSON), kept with why, so nothing a
/// sender published is silently dropped.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RejectedMessage {
    /// Order of recording (0 before it is stored).
    pub id: i64,
    /// When it was refused.
    pub at: Millis,
    /// Where it came from, e.g. `nats:crm.events.cart` (the subject).
    pub source: String,
    /// Why, naming the field where one is to blame.
    pub reason: String,
    /// The message as received (at most 64 KiB of it).
    pub body: String,
}

/// An engine node sharing the store (PostgreSQL), as `GET /nodes` and `mikawaya status` show it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct NodeRow {
    /// `host-pid-random`, new at every start.
    pub id: String,
    /// When it started (the database's clock).
    pub started_at: Millis,
    /// Its latest heartbeat (written every 2 s).
    pub heartbeat_at: Millis,
    /// Milliseconds since its latest heartbeat, by the database's clock.
    pub silent_ms: i64,
    /// Whether it wrote a heartbeat within the last 10 s.
    pub alive: bool,
    /// Whether it holds the `matcher` lease (matches stored events) now.
    pub matcher: bool,
    /// Runs it holds a lease on now (executing, or about to).
    pub runs_leased: i64,
}
