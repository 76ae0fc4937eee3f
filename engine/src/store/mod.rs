//! Storage behind one trait: SQLite (embedded, the default) now; PostgreSQL can follow by
//! implementing the same trait. Every method that changes several rows does so in one transaction.

pub mod model;
mod sqlite;
mod sqlite_restraint;
mod sqlite_runs;

pub use model::*;
pub use sqlite::SqliteStore;

use crate::clock::Millis;
use crate::event::Event;
use async_trait::async_trait;
use serde_json::{Map, Value};

/// Storage errors (always a server-side problem, never the caller's).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be read.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the engine keeps.
#[async_trait]
pub trait Store: Send + Sync {
    /// Records a workflow version (ignored when it exists).
    async fn save_version(&self, v: &VersionRow, at: Millis) -> StoreResult<()>;
    /// All stored versions.
    async fn versions(&self) -> StoreResult<Vec<VersionRow>>;

    /// Inserts events durably in one transaction; `true` for each new id, `false` for duplicates.
    async fn insert_events(&self, events: &[Event], at: Millis) -> StoreResult<Vec<bool>>;
    /// Events not yet matched, oldest first.
    async fn pending_events(&self, limit: i64) -> StoreResult<Vec<StoredEvent>>;
    /// One event by id.
    async fn event(&self, id: &str) -> StoreResult<Option<Event>>;
    /// Events between two times, oldest first.
    async fn events_between(&self, from: Millis, to: Millis, limit: i64)
        -> StoreResult<Vec<Event>>;

    /// A customer's merged attributes.
    async fn customer(&self, id: &str) -> StoreResult<Option<Map<String, Value>>>;
    /// All entities of a kind.
    async fn entities(&self, kind: &str) -> StoreResult<Vec<Value>>;
    /// Last enrollment time of a key in a workflow.
    async fn enrollment(&self, workflow: &str, key: &str) -> StoreResult<Option<Millis>>;
    /// Runs waiting for an event with this correlation: `(run id, workflow, version, step)`.
    async fn waiting_runs(
        &self,
        event_type: &str,
        match_expr: &str,
        key: &str,
    ) -> StoreResult<Vec<(String, String, u32, usize)>>;
    /// Ids of a customer's unfinished runs in a workflow.
    async fn open_runs(&self, workflow: &str, customer_id: &str) -> StoreResult<Vec<String>>;
    /// Applies a matched batch atomically.
    async fn apply_match(&self, batch: MatchBatch) -> StoreResult<()>;

    /// Claims up to `limit` due timers for `lease_ms`.
    async fn claim_due(&self, now: Millis, limit: i64, lease_ms: i64) -> StoreResult<Vec<DueWork>>;
    /// Frees every timer lease. The embedded store serves one process, so at start-up any lease
    /// belongs to a process that died; its runs are due again at once instead of after the lease.
    async fn release_leases(&self) -> StoreResult<u64>;
    /// When the next timer is due.
    async fn next_due(&self) -> StoreResult<Option<Millis>>;
    /// One run.
    async fn run(&self, id: &str) -> StoreResult<Option<RunRow>>;
    /// Applies a run transition; `false` when the run changed meanwhile.
    async fn commit(&self, t: Transition) -> StoreResult<bool>;
    /// Lists runs, newest first.
    async fn runs(&self, filter: &RunFilter) -> StoreResult<Vec<RunRow>>;
    /// Runs of a workflow that a given event started (its trigger event).
    async fn runs_for_event(&self, workflow: &str, event_id: &str) -> StoreResult<Vec<RunRow>>;
    /// A run's timeline, oldest first.
    async fn timeline(&self, run_id: &str) -> StoreResult<Vec<TimelineEntry>>;
    /// Counts per workflow.
    async fn workflow_counts(&self, since: Millis) -> StoreResult<Vec<(String, WorkflowCounts)>>;
    /// Unfinished runs per `(workflow, step index)`.
    async fn step_counts(&self, workflow: &str) -> StoreResult<Vec<(u32, usize, i64)>>;

    /// Per step of one workflow version: `(step id, timeline status, count)` over all its runs.
    async fn step_stats(
        &self,
        workflow: &str,
        version: u32,
    ) -> StoreResult<Vec<(String, String, i64)>>;
    /// The latest timeline lines of one workflow version, newest first, with their run ids.
    async fn recent_steps(
        &self,
        workflow: &str,
        version: u32,
        limit: i64,
    ) -> StoreResult<Vec<(String, TimelineEntry)>>;
    /// The next due time of a cron workflow.
    async fn schedule_next(&self, workflow: &str) -> StoreResult<Option<Millis>>;
    /// Sets the next due time and starts runs, atomically.
    async fn apply_schedule(
        &self,
        workflow: &str,
        next_due: Millis,
        runs: Vec<NewRun>,
    ) -> StoreResult<()>;
    /// Date triggers due by `now`.
    async fn due_date_triggers(&self, now: Millis, limit: i64) -> StoreResult<Vec<DateTriggerRow>>;
    /// Removes fired date triggers and starts their runs, atomically.
    async fn fire_date_triggers(
        &self,
        fired: Vec<DateTriggerRow>,
        runs: Vec<NewRun>,
    ) -> StoreResult<()>;
    /// All pending date triggers.
    async fn date_triggers(&self) -> StoreResult<Vec<DateTriggerRow>>;

    /// Creates a task once per idempotency key; returns its id.
    async fn create_task(
        &self,
        key: &str,
        run_id: &str,
        input: &Value,
        at: Millis,
    ) -> StoreResult<String>;
    /// Lists tasks, newest first.
    async fn tasks(&self, limit: i64) -> StoreResult<Vec<TaskRow>>;
    /// Lists dead letters, newest first.
    async fn dead_letters(&self, limit: i64) -> StoreResult<Vec<DeadLetterRow>>;
    /// Sends a dead letter's run back to its failed step; returns the run id.
    async fn retry_dead_letter(&self, id: i64, at: Millis) -> StoreResult<Option<String>>;

    /// Sent times of a customer's messages of one channel and kind since `since`, oldest first.
    async fn messages_since(
        &self,
        customer_id: &str,
        channel: &str,
        kind: &str,
        since: Millis,
    ) -> StoreResult<Vec<Millis>>;
    /// Why an address is suppressed, if it is.
    async fn suppressed(&self, address: &str) -> StoreResult<Option<String>>;
    /// Suppresses an address.
    async fn suppress(&self, address: &str, reason: &str, at: Millis) -> StoreResult<()>;
    /// Lifts a suppression; `false` when there was none.
    async fn unsuppress(&self, address: &str) -> StoreResult<bool>;
    /// All suppressions, newest first.
    async fn suppressions(&self) -> StoreResult<Vec<Suppression>>;
    /// Records a consent change in the customer store and the consent log.
    async fn set_consent(
        &self,
        customer_id: &str,
        channel: &str,
        granted: bool,
        source: &str,
        at: Millis,
    ) -> StoreResult<()>;
    /// A plugin's stored value.
    async fn kv_get(&self, plugin: &str, key: &str) -> StoreResult<Option<String>>;
    /// Stores a plugin's value.
    async fn kv_set(&self, plugin: &str, key: &str, value: &str) -> StoreResult<()>;
    /// A setting, created with `default` when missing.
    async fn setting_or_init(&self, key: &str, default: &str) -> StoreResult<String>;
}
