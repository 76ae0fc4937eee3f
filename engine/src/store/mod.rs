//! Storage, one trait per concern: the [`EventLog`] (events, customers, entities and the result
//! of matching), [`RunStore`] (runs, timers, waits, enrollments), [`ScheduleStore`] (cron state
//! and date triggers), [`RestraintStore`] (consent, suppressions, sent messages), [`PluginKv`],
//! [`ReadModel`] (what the page, the API and the CLI list) and [`MetaStore`] (workflow versions
//! and settings). [`Store`] is all of them; each backend implements every trait in its own file:
//! [`sqlite`] (embedded, the default), [`postgres`] (many nodes on one database) and [`memory`]
//! (tests and simulations). All pass one conformance suite (`engine/tests/store_conformance.rs`).
//!
//! Every method that changes several rows does so atomically. Which run status may follow which
//! is stated in [`status`]; the stores apply the guards it states.

pub mod experiments;
pub mod memory;
pub mod merge;
pub mod model;
pub mod postgres;
mod rows;
pub mod score_rows;
pub mod sqlite;
pub mod status;
pub mod views;

pub use experiments::*;
pub use memory::MemoryStore;
pub use model::*;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use views::*;

use crate::clock::Millis;
use crate::event::Event;
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Storage errors (always a server-side problem, never the caller's).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A statement run directly on the SQLite writer connection failed (the transaction was
    /// rolled back).
    #[error("database: {0}")]
    Direct(String),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be read.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The store URL names nothing this build can open.
    #[error("{0}")]
    Url(String),
    /// This node lost the role or lease the change was made under (it stalled past its lease
    /// and another node took over); nothing was applied.
    #[error("fenced: {0}")]
    Fenced(String),
    /// The store cannot be reached (the connection or the process is gone; the simulator's
    /// crashes end here too). Whether the last change was applied is unknown.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Accepted events, and the customer and entity snapshots matching derives from them.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Inserts events durably in one transaction; `true` for each new id, `false` for duplicates
    /// (the first occurrence of an id within `events` is the new one).
    async fn insert_events(&self, events: &[Event], at: Millis) -> StoreResult<Vec<bool>>;
    /// Events not yet matched, oldest first, except those in `taken` (the events of the batches
    /// still being written, in sequence order). A store that commits sequence numbers in order
    /// (SQLite's single writer) may read `taken` as "everything up to its last one"; with many
    /// writers a lower number can commit later, so PostgreSQL leaves out exactly `taken`.
    async fn pending_events(&self, taken: &[i64], limit: i64) -> StoreResult<Vec<StoredEvent>>;
    /// One event by id.
    async fn event(&self, id: &str) -> StoreResult<Option<Event>>;
    /// Events that occurred in `[from, to)`, oldest first.
    async fn events_between(&self, from: Millis, to: Millis, limit: i64)
        -> StoreResult<Vec<Event>>;
    /// Events of `event_type` the engine received in `[from, to]`, newest first, at most
    /// `limit` (what a wait's lookback looks through).
    async fn received_events(
        &self,
        event_type: &str,
        from: Millis,
        to: Millis,
        limit: i64,
    ) -> StoreResult<Vec<Event>>;
    /// A customer's merged attributes.
    async fn customer(&self, id: &str) -> StoreResult<Option<Map<String, Value>>>;
    /// The merged attributes of each of `ids` that is stored.
    async fn customers(&self, ids: &[String]) -> StoreResult<HashMap<String, Map<String, Value>>>;
    /// Up to `limit` customers with an id after `after`, in id order, with their merged
    /// attributes: how the segment sweep pages through the customer base.
    async fn customer_page(
        &self,
        after: &str,
        limit: i64,
    ) -> StoreResult<Vec<(String, Map<String, Value>)>>;
    /// The latest `per_score` changes of each of the customer's scores, by score, oldest first.
    async fn score_changes(&self, customer: &str, per_score: i64) -> StoreResult<Vec<ScoreChange>>;
    /// All entities of a kind, by id.
    async fn entities(&self, kind: &str) -> StoreResult<Vec<Value>>;
    /// Applies a matched batch atomically: snapshots, exits, resumes, new runs, date triggers,
    /// consent, suppressions, and the events marked processed. Returns, per new run, whether it
    /// was inserted (`false`: its trigger had already started a run).
    async fn apply_match(&self, batch: MatchBatch) -> StoreResult<Vec<bool>>;
    /// How many stored events are not matched yet.
    async fn pending_count(&self) -> StoreResult<u64>;
    /// Keeps a message an intake could not take (its `id` is assigned by the store).
    async fn reject_message(&self, m: &RejectedMessage) -> StoreResult<()>;
    /// The latest `limit` rejected messages, newest first.
    async fn rejected_messages(&self, limit: i64) -> StoreResult<Vec<RejectedMessage>>;
    /// Has `wake` called whenever another process sharing the store may have made work for
    /// this one (stored events, started runs). A hint only: the engine polls anyway. A store
    /// that serves one process has no one to hear from and never calls it.
    fn on_remote_work(&self, wake: Arc<dyn Fn() + Send + Sync>) {
        let _ = wake;
    }
}

/// Runs and what makes them move: timers, waits for events, enrollments, tasks, dead letters.
#[async_trait]
pub trait RunStore: Send + Sync {
    /// How many other live nodes share the work, as last seen: the matcher keeps its share of
    /// the runs it starts and hands the others' shares to them ([`MatchBatch::for_peers`]). A
    /// store serving one process has none.
    fn peers(&self) -> usize {
        0
    }
    /// Up to `limit` new runs another node handed to this one to execute, each taken once, at
    /// `now`: those whose first timer is still leased to it, the lease renewed for `lease_ms`
    /// when past its first half. None without peers.
    async fn take_handed(
        &self,
        now: Millis,
        limit: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<RunRow>> {
        let _ = (now, limit, lease_ms);
        Ok(Vec::new())
    }
    /// Last enrollment time of a key in a workflow.
    async fn enrollment(&self, workflow: &str, key: &str) -> StoreResult<Option<Millis>>;
    /// Waiting runs registered for an event of this type with this correlation.
    async fn waiting_runs(
        &self,
        event_type: &str,
        match_expr: &str,
        key: &str,
    ) -> StoreResult<Vec<WaitingRun>>;
    /// Ids of the unfinished runs of a workflow that belong to a customer, or to an enrollment
    /// key (one run at a time is kept per key).
    async fn open_runs(&self, workflow: &str, of: RunsOf<'_>) -> StoreResult<Vec<String>>;
    /// Claims up to `limit` due, unleased timers for `lease_ms`, earliest first. A claim bumps
    /// each run's revision: the revision is the fencing counter, so whoever held the run before
    /// (a worker that stalled past its lease) has its late commit refused, never applied over the
    /// claimer's progress. The claimer reads the run after claiming it.
    async fn claim_due(&self, now: Millis, limit: i64, lease_ms: i64) -> StoreResult<Vec<DueWork>>;
    /// Frees the timer leases this process holds, so their runs are due again at once instead of
    /// after the lease. An embedded store serves one process, so at start-up every lease is one
    /// the process that died held; a shared store frees only its own node's (none at start-up:
    /// a node's id is new at every start, and a dead node's leases end by themselves).
    async fn release_leases(&self) -> StoreResult<u64>;
    /// How many timers are due at `now` and not leased, counted up to `cap`.
    async fn due_count(&self, now: Millis, cap: i64) -> StoreResult<u64>;
    /// When the next timer is due (or its lease ends, if later).
    async fn next_due(&self) -> StoreResult<Option<Millis>>;
    /// One run.
    async fn run(&self, id: &str) -> StoreResult<Option<RunRow>>;
    /// Applies run transitions in one transaction (one disk sync for all of them); per
    /// transition `false` when its run changed meanwhile (its revision moved) and nothing of it
    /// was applied.
    async fn commit_batch(&self, ts: Vec<Transition>) -> StoreResult<Vec<bool>>;
    /// Applies one run transition; `false` when the run changed meanwhile.
    async fn commit(&self, t: Transition) -> StoreResult<bool> {
        Ok(self.commit_batch(vec![t]).await?.pop().unwrap_or(false))
    }
    /// Creates a task once per idempotency key; returns its id.
    async fn create_task(
        &self,
        key: &str,
        run_id: &str,
        input: &Value,
        at: Millis,
    ) -> StoreResult<String>;
    /// Sends a dead letter's failed run back to its failed step; returns the run id (`None` when
    /// there is no such letter, it was retried already, or its run is no longer failed).
    async fn retry_dead_letter(&self, id: i64, at: Millis) -> StoreResult<Option<String>>;
    /// Sends each failed run among `ids` back to its failed step, through its latest dead letter
    /// not yet retried, in one transaction; the runs sent back.
    async fn retry_runs(&self, ids: &[String], at: Millis) -> StoreResult<Vec<String>>;
    /// Cancels each run among `ids` that is still active or waiting (its timer and wait cleared,
    /// a `cancelled` line with `reason`), in one transaction; the runs cancelled. Bumps their
    /// revision, so an executor holding one mid-step has its commit refused.
    async fn cancel_runs(
        &self,
        ids: &[String],
        reason: &str,
        at: Millis,
    ) -> StoreResult<Vec<String>>;
}

/// Cron schedule state and pending date-relative triggers.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// The next due time of a cron workflow.
    async fn schedule_next(&self, workflow: &str) -> StoreResult<Option<Millis>>;
    /// Sets the next due time and starts runs, atomically.
    async fn apply_schedule(
        &self,
        workflow: &str,
        next_due: Millis,
        runs: Vec<NewRun>,
    ) -> StoreResult<()>;
    /// Date triggers due by `now`, earliest first.
    async fn due_date_triggers(&self, now: Millis, limit: i64) -> StoreResult<Vec<DateTriggerRow>>;
    /// Removes fired date triggers and starts their runs, atomically.
    async fn fire_date_triggers(
        &self,
        fired: Vec<DateTriggerRow>,
        runs: Vec<NewRun>,
    ) -> StoreResult<()>;
    /// All pending date triggers, earliest first.
    async fn date_triggers(&self) -> StoreResult<Vec<DateTriggerRow>>;
}

/// What restraint checks: messages sent, suppressed addresses, consent.
#[async_trait]
pub trait RestraintStore: Send + Sync {
    /// Sent times of a customer's messages of one channel and kind since `since`, oldest first.
    async fn messages_since(
        &self,
        customer_id: &str,
        channel: &str,
        kind: &str,
        since: Millis,
    ) -> StoreResult<Vec<Millis>>;
    /// Why an address is suppressed, if it is (addresses compare case-insensitively).
    async fn suppressed(&self, address: &str) -> StoreResult<Option<String>>;
    /// Records message `m` of run `run_id` at `at` before it is sent, unless its address is
    /// suppressed, or it is a marketing message and the stored customer has not consented to
    /// its channel, or `caps` refuses it, judging the customer's marketing messages of *other*
    /// keys (steps) sent since `caps.since` (the latest send of each key; rows without a key
    /// count one each). The checks and the record are one atomic step, so concurrent claims of
    /// one customer (on any node) never pass a cap together and a withdrawal committed before
    /// the claim is always seen; a retry claims again under its key (one more row, the same
    /// message), so no window ever holds more distinct messages than a cap allows, whenever
    /// each attempt went out.
    async fn claim_message(
        &self,
        m: &SentMessage,
        run_id: &str,
        at: Millis,
        caps: Option<&CapCheck<'_>>,
    ) -> StoreResult<Claim>;
    /// Suppresses an address (a second call replaces the reason).
    async fn suppress(&self, address: &str, reason: &str, at: Millis) -> StoreResult<()>;
    /// Takes one of the `max` call slots of `key` in the `window_ms` before `at` (inclusive of
    /// `at`, exclusive of `at - window_ms`): `None` when taken, else when the oldest call in the
    /// window leaves it (try again then). Claims of one key take turns on every node.
    async fn claim_slot(
        &self,
        key: &str,
        at: Millis,
        max: u32,
        window_ms: i64,
    ) -> StoreResult<Option<Millis>>;
    /// Takes one of the `max` concurrent call leases of `key` for `holder` (a step's
    /// idempotency key) of run `run_id`, until `until` at the latest: `None` when taken (or
    /// already held: then extended), else when to try again at the latest (the earliest lease
    /// ends), with the run queued behind the runs that waited longer. Waiters take free slots
    /// in arrival order; one that did not come back by its try-again time loses its place.
    async fn acquire_lease(&self, lease: &LeaseClaim<'_>) -> StoreResult<Option<Millis>>;
    /// Ends `holder`'s lease of `key` and wakes the run that has waited longest for one (its
    /// timer becomes due at `now`).
    async fn release_lease(&self, key: &str, holder: &str, now: Millis) -> StoreResult<()>;
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
}

/// Key-value data of WASM plugins, one namespace per plugin.
#[async_trait]
pub trait PluginKv: Send + Sync {
    /// A plugin's stored value.
    async fn kv_get(&self, plugin: &str, key: &str) -> StoreResult<Option<String>>;
    /// Stores a plugin's value.
    async fn kv_set(&self, plugin: &str, key: &str, value: &str) -> StoreResult<()>;
}

/// Listings for the page, the API and the CLI.
#[async_trait]
pub trait ReadModel: Send + Sync {
    /// Runs, newest first.
    async fn runs(&self, filter: &RunFilter) -> StoreResult<Vec<RunRow>>;
    /// Runs of a workflow whose trigger event (`context.event.id`) is `event_id`, oldest first.
    async fn runs_for_event(&self, workflow: &str, event_id: &str) -> StoreResult<Vec<RunRow>>;
    /// A run's timeline, oldest first.
    async fn timeline(&self, run_id: &str) -> StoreResult<Vec<TimelineEntry>>;
    /// Run counts per workflow (finished ones since `since`).
    async fn workflow_counts(&self, since: Millis) -> StoreResult<Vec<(String, WorkflowCounts)>>;
    /// Unfinished runs per `(version, step index)` of a workflow.
    async fn step_counts(&self, workflow: &str) -> StoreResult<Vec<StepCount>>;
    /// Per experiment variant, entries and conversions (of one workflow, or all), sorted by
    /// workflow, experiment and variant.
    async fn variant_counts(&self, workflow: Option<&str>) -> StoreResult<Vec<VariantCount>>;
    /// Per step of one workflow version: its runs' timeline lines since `since` by `(step id,
    /// status, reason)` (of skips and exits: the detail's `why` code, else its `reason`), plus an `entered` row per step with the distinct runs that have a line
    /// there; run-level lines count under step `run` (`started`: the runs started in the
    /// period). Sorted by step, status and reason.
    async fn step_stats(
        &self,
        workflow: &str,
        version: u32,
        since: Millis,
    ) -> StoreResult<Vec<StepStat>>;
    /// The latest timeline lines of its steps (not the run-level lines) of one workflow version,
    /// newest first, with their run ids.
    async fn recent_steps(
        &self,
        workflow: &str,
        version: u32,
        limit: i64,
    ) -> StoreResult<Vec<(String, TimelineEntry)>>;
    /// Tasks, newest first.
    async fn tasks(&self, limit: i64) -> StoreResult<Vec<TaskRow>>;
    /// Dead letters, newest first.
    async fn dead_letters(&self, limit: i64) -> StoreResult<Vec<DeadLetterRow>>;
    /// The engine nodes sharing this store, alive ones first, then by start (nodes silent for
    /// a day are forgotten). A store that serves one process has none to list.
    async fn nodes(&self) -> StoreResult<Vec<NodeRow>> {
        Ok(Vec::new())
    }
}

/// What the engine keeps about itself: workflow versions and settings.
#[async_trait]
pub trait MetaStore: Send + Sync {
    /// Records a workflow version (ignored when that name and version exist).
    async fn save_version(&self, v: &VersionRow, at: Millis) -> StoreResult<()> {
        self.save_versions(std::slice::from_ref(v), at).await
    }
    /// Records workflow versions in one transaction (each ignored when that name and version
    /// exist): loading 10,000 new workflows is one disk sync, not 10,000.
    async fn save_versions(&self, rows: &[VersionRow], at: Millis) -> StoreResult<()>;
    /// All stored versions, by name and version.
    async fn versions(&self) -> StoreResult<Vec<VersionRow>>;
    /// A setting, created with `default` when missing.
    async fn setting_or_init(&self, key: &str, default: &str) -> StoreResult<String>;
    /// Makes sure events can be read by type and receive time quickly (a wait's lookback):
    /// the index is made on first need, not by a migration, because it costs every event's
    /// insert (about a fifth of SQLite's intake) and only lookbacks read it. Idempotent.
    async fn index_events_by_type(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// Who may use the API and what they changed: scoped tokens (stored as hashes), the audit log.
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// Stores a new token; `false` when a token (even a revoked one) has that name.
    async fn create_token(&self, token: &TokenRow) -> StoreResult<bool>;
    /// Every token, oldest first, revoked ones too.
    async fn tokens(&self) -> StoreResult<Vec<TokenRow>>;
    /// Revokes the token `name` at `at`; `false` when there is no such token not yet revoked.
    async fn revoke_token(&self, name: &str, at: Millis) -> StoreResult<bool>;
    /// Appends to the audit log (its `id` is assigned by the store).
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// The latest `limit` audit entries, newest first.
    async fn audit_log(&self, limit: i64) -> StoreResult<Vec<AuditEntry>>;
}

/// Declares [`Store`], the union of the concern traits, and its blanket impl from one list.
macro_rules! union_of_concerns {
    ($first:ident $(, $concern:ident)*) => {
        /// Every concern: what the engine is given.
        pub trait Store: $first $(+ $concern)* {}

        impl<T: $first $(+ $concern)*> Store for T {}
    };
}

union_of_concerns!(
    EventLog,
    RunStore,
    ScheduleStore,
    RestraintStore,
    PluginKv,
    ReadModel,
    MetaStore,
    AccessStore
);

/// Why a SQL store's claim statement refused message `m` when it was not over its limit:
/// the address is suppressed, or the customer has not consented (read after the statement; a
/// refusal that is neither is the limit).
/// How long a run waiting for a call slot keeps its place past its try-again time (it comes back
/// by then unless its node died; then the next waiters move up).
const WAITER_GRACE_MS: Millis = 60_000;

/// The tags of a message as stored (a JSON array; `NULL` for none).
/// Customer rows `(id, data as JSON text)` as attribute maps (a row that is not an object is
/// left out).
fn customer_rows(rows: Vec<(String, String)>) -> Vec<(String, Map<String, Value>)> {
    rows.into_iter()
        .filter_map(|(id, data)| match serde_json::from_str(&data) {
            Ok(Value::Object(m)) => Some((id, m)),
            _ => None,
        })
        .collect()
}

fn tags_json(tags: &[String]) -> Option<String> {
    (!tags.is_empty()).then(|| serde_json::to_string(tags).expect("strings serialise"))
}

/// Earlier messages as read by a claim: channel, stored tags, latest send.
fn past_messages(rows: Vec<(String, Option<String>, Millis)>) -> Vec<PastMessage> {
    rows.into_iter()
        .map(|(channel, tags, sent_at)| PastMessage {
            channel,
            tags: tags
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default(),
            sent_at,
        })
        .collect()
}

async fn claim_refusal<S: EventLog + RestraintStore + ?Sized>(
    store: &S,
    m: &SentMessage,
) -> StoreResult<Option<Claim>> {
    if let Some(address) = &m.address {
        if let Some(reason) = store.suppressed(address).await? {
            return Ok(Some(Claim::Suppressed(reason)));
        }
    }
    if m.kind == "marketing" {
        let customer = match &m.customer_id {
            Some(c) => store.customer(c).await?,
            None => None,
        };
        if !consents_to(customer.as_ref().and_then(|c| c.get("consent")), &m.channel) {
            return Ok(Some(Claim::NoConsent));
        }
    }
    Ok(None)
}

/// Opens the store a `--db` value names: `memory:` (nothing kept), `sqlite://path` or
/// `sqlite:path`, or a bare file path (SQLite), `postgres://…` (PostgreSQL, shared by many
/// nodes; `?schema=NAME` keeps the tables in that schema, created if missing). Other schemes are refused with the ones known.
pub async fn open(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url == "memory:" {
        return Ok(Arc::new(MemoryStore::default()));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let (url, schema) = postgres::split_schema(url);
        return Ok(Arc::new(
            PostgresStore::open(&url, schema.as_deref()).await?,
        ));
    }
    if let Some((scheme, _)) = path.split_once("://") {
        return Err(StoreError::Url(format!(
            "`{scheme}://` is not a store this build knows; use a file path, `sqlite://FILE`, `postgres://HOST/DATABASE` or `memory:`"
        )));
    }
    Ok(Arc::new(
        SqliteStore::open(std::path::Path::new(path)).await?,
    ))
}
