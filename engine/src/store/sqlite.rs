//! The embedded SQLite store (WAL, full sync): events, customers, schedules, tasks, dead letters.
//! Run-related queries live in `sqlite_runs.rs`.

use super::*;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// SQLite behind the [`Store`] trait.
#[derive(Clone)]
pub struct SqliteStore {
    pub(super) pool: SqlitePool,
}

/// The migrations, embedded in the binary.
#[derive(Debug)]
struct Embedded;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> futures_core::future::BoxFuture<'s, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        Box::pin(async {
            let migration = |version, name, sql| {
                Migration::new(
                    version,
                    Cow::Borrowed(name),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            };
            Ok(vec![
                migration(1, "init", include_str!("../../migrations/0001_init.sql")),
                migration(
                    2,
                    "restraint",
                    include_str!("../../migrations/0002_restraint.sql"),
                ),
                migration(
                    3,
                    "plugin_kv",
                    include_str!("../../migrations/0003_plugin_kv.sql"),
                ),
            ])
        })
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Migrator::new(Embedded).await?.run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

pub(super) fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

#[async_trait]
impl Store for SqliteStore {
    async fn save_version(&self, v: &VersionRow, at: Millis) -> StoreResult<()> {
        sqlx::query("INSERT OR IGNORE INTO workflow_versions (name, version, file, source, digest, loaded_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(&v.name)
            .bind(v.version as i64)
            .bind(&v.file)
            .bind(&v.source)
            .bind(&v.digest)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn versions(&self) -> StoreResult<Vec<VersionRow>> {
        let rows = sqlx::query("SELECT name, version, file, source, digest FROM workflow_versions ORDER BY name, version")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| VersionRow {
                name: r.get(0),
                version: r.get::<i64, _>(1) as u32,
                file: r.get(2),
                source: r.get(3),
                digest: r.get(4),
            })
            .collect())
    }

    async fn insert_events(&self, events: &[Event], at: Millis) -> StoreResult<Vec<bool>> {
        // Multi-row inserts (RETURNING the ids that were new) keep one statement per 100 events.
        let mut tx = self.pool.begin().await?;
        let mut inserted = std::collections::HashSet::new();
        for chunk in events.chunks(100) {
            let mut q = sqlx::QueryBuilder::new("INSERT OR IGNORE INTO events (id, type, customer_id, occurred_at, received_at, body) ");
            q.push_values(chunk, |mut row, e| {
                row.push_bind(&e.id)
                    .push_bind(&e.event_type)
                    .push_bind(&e.customer_id)
                    .push_bind(e.occurred_at)
                    .push_bind(at)
                    .push_bind(e.to_json().to_string());
            });
            q.push(" RETURNING id");
            for row in q.build().fetch_all(&mut *tx).await? {
                inserted.insert(row.get::<String, _>(0));
            }
        }
        tx.commit().await?;
        // The first occurrence of a new id is new; later ones in the same batch are duplicates.
        Ok(events.iter().map(|e| inserted.remove(&e.id)).collect())
    }

    async fn pending_events(&self, limit: i64) -> StoreResult<Vec<StoredEvent>> {
        let rows =
            sqlx::query("SELECT seq, body FROM events WHERE processed = 0 ORDER BY seq LIMIT ?")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                let body: String = r.get(1);
                let event = Event::from_stored(&body)
                    .ok_or_else(|| StoreError::Corrupt(format!("event {}", r.get::<i64, _>(0))))?;
                Ok(StoredEvent {
                    seq: r.get(0),
                    event,
                })
            })
            .collect()
    }

    async fn event(&self, id: &str) -> StoreResult<Option<Event>> {
        let row = sqlx::query("SELECT body FROM events WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|r| Event::from_stored(&r.get::<String, _>(0))))
    }

    async fn events_between(
        &self,
        from: Millis,
        to: Millis,
        limit: i64,
    ) -> StoreResult<Vec<Event>> {
        let rows = sqlx::query("SELECT body FROM events WHERE occurred_at >= ? AND occurred_at < ? ORDER BY occurred_at, seq LIMIT ?")
            .bind(from)
            .bind(to)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| Event::from_stored(&r.get::<String, _>(0)))
            .collect())
    }

    async fn customer(&self, id: &str) -> StoreResult<Option<Map<String, Value>>> {
        let row = sqlx::query("SELECT data FROM customers WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|r| match json_of(&r.get::<String, _>(0)) {
            Value::Object(m) => Some(m),
            _ => None,
        }))
    }

    async fn entities(&self, kind: &str) -> StoreResult<Vec<Value>> {
        let rows = sqlx::query("SELECT data FROM entities WHERE kind = ? ORDER BY id")
            .bind(kind)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| json_of(&r.get::<String, _>(0)))
            .collect())
    }

    async fn enrollment(&self, workflow: &str, key: &str) -> StoreResult<Option<Millis>> {
        let row =
            sqlx::query("SELECT last_at FROM enrollments WHERE workflow = ? AND enroll_key = ?")
                .bind(workflow)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn waiting_runs(
        &self,
        event_type: &str,
        match_expr: &str,
        key: &str,
    ) -> StoreResult<Vec<(String, String, u32, usize)>> {
        self.waiting_runs_impl(event_type, match_expr, key).await
    }

    async fn open_runs(&self, workflow: &str, customer_id: &str) -> StoreResult<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM runs WHERE workflow = ? AND customer_id = ? AND status IN ('active', 'waiting')")
            .bind(workflow)
            .bind(customer_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn apply_match(&self, batch: MatchBatch) -> StoreResult<()> {
        self.apply_match_impl(batch).await
    }

    async fn claim_due(&self, now: Millis, limit: i64, lease_ms: i64) -> StoreResult<Vec<DueWork>> {
        self.claim_due_impl(now, limit, lease_ms).await
    }

    async fn release_leases(&self) -> StoreResult<u64> {
        let done = sqlx::query("UPDATE timers SET lease_until = 0 WHERE lease_until > 0")
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn next_due(&self) -> StoreResult<Option<Millis>> {
        let row = sqlx::query("SELECT MIN(MAX(due_at, lease_until)) FROM timers")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get(0))
    }

    async fn run(&self, id: &str) -> StoreResult<Option<RunRow>> {
        self.run_impl(id).await
    }

    async fn commit(&self, t: Transition) -> StoreResult<bool> {
        self.commit_impl(t).await
    }

    async fn runs(&self, filter: &RunFilter) -> StoreResult<Vec<RunRow>> {
        self.runs_impl(filter).await
    }

    async fn runs_for_event(&self, workflow: &str, event_id: &str) -> StoreResult<Vec<RunRow>> {
        self.runs_for_event_impl(workflow, event_id).await
    }

    async fn timeline(&self, run_id: &str) -> StoreResult<Vec<TimelineEntry>> {
        self.timeline_impl(run_id).await
    }

    async fn workflow_counts(&self, since: Millis) -> StoreResult<Vec<(String, WorkflowCounts)>> {
        self.workflow_counts_impl(since).await
    }

    async fn step_counts(&self, workflow: &str) -> StoreResult<Vec<(u32, usize, i64)>> {
        let rows = sqlx::query("SELECT version, step, COUNT(*) FROM runs WHERE workflow = ? AND status IN ('active', 'waiting') AND step IS NOT NULL GROUP BY version, step")
            .bind(workflow)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get::<i64, _>(0) as u32,
                    r.get::<i64, _>(1) as usize,
                    r.get(2),
                )
            })
            .collect())
    }

    async fn step_stats(
        &self,
        workflow: &str,
        version: u32,
    ) -> StoreResult<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT s.step_id, s.status, COUNT(*) FROM run_steps s JOIN runs r ON r.id = s.run_id
             WHERE r.workflow = ? AND r.version = ? AND s.step_id != 'run' GROUP BY s.step_id, s.status",
        )
        .bind(workflow)
        .bind(version as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    async fn recent_steps(
        &self,
        workflow: &str,
        version: u32,
        limit: i64,
    ) -> StoreResult<Vec<(String, TimelineEntry)>> {
        self.recent_steps_impl(workflow, version, limit).await
    }

    async fn schedule_next(&self, workflow: &str) -> StoreResult<Option<Millis>> {
        let row = sqlx::query("SELECT next_due FROM schedules WHERE workflow = ?")
            .bind(workflow)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn apply_schedule(
        &self,
        workflow: &str,
        next_due: Millis,
        runs: Vec<NewRun>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO schedules (workflow, next_due) VALUES (?, ?) ON CONFLICT (workflow) DO UPDATE SET next_due = excluded.next_due")
            .bind(workflow)
            .bind(next_due)
            .execute(&mut *tx)
            .await?;
        for run in &runs {
            super::sqlite_runs::insert_run(&mut tx, run).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn due_date_triggers(&self, now: Millis, limit: i64) -> StoreResult<Vec<DateTriggerRow>> {
        let rows = sqlx::query("SELECT workflow, key, due_at, event_id FROM date_triggers WHERE due_at <= ? ORDER BY due_at LIMIT ?")
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(date_trigger_row).collect())
    }

    async fn fire_date_triggers(
        &self,
        fired: Vec<DateTriggerRow>,
        runs: Vec<NewRun>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for f in &fired {
            sqlx::query("DELETE FROM date_triggers WHERE workflow = ? AND key = ? AND due_at = ?")
                .bind(&f.workflow)
                .bind(&f.key)
                .bind(f.due_at)
                .execute(&mut *tx)
                .await?;
        }
        for run in &runs {
            super::sqlite_runs::insert_run(&mut tx, run).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn date_triggers(&self) -> StoreResult<Vec<DateTriggerRow>> {
        let rows = sqlx::query(
            "SELECT workflow, key, due_at, event_id FROM date_triggers ORDER BY due_at",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(date_trigger_row).collect())
    }

    async fn create_task(
        &self,
        key: &str,
        run_id: &str,
        input: &Value,
        at: Millis,
    ) -> StoreResult<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let text = |k: &str| input.get(k).and_then(Value::as_str).map(String::from);
        sqlx::query("INSERT OR IGNORE INTO tasks (id, idempotency, run_id, title, assignee, queue, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(&id)
            .bind(key)
            .bind(run_id)
            .bind(text("title").unwrap_or_default())
            .bind(text("assignee"))
            .bind(text("queue"))
            .bind(input.to_string())
            .bind(at)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT id FROM tasks WHERE idempotency = ?")
            .bind(key)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get(0))
    }

    async fn tasks(&self, limit: i64) -> StoreResult<Vec<TaskRow>> {
        let rows = sqlx::query("SELECT id, run_id, title, assignee, queue, data, status, created_at FROM tasks ORDER BY created_at DESC, id DESC LIMIT ?")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| TaskRow {
                id: r.get(0),
                run_id: r.get(1),
                title: r.get(2),
                assignee: r.get(3),
                queue: r.get(4),
                data: json_of(&r.get::<String, _>(5)),
                status: r.get(6),
                created_at: r.get(7),
            })
            .collect())
    }

    async fn dead_letters(&self, limit: i64) -> StoreResult<Vec<DeadLetterRow>> {
        self.dead_letters_impl(limit).await
    }

    async fn retry_dead_letter(&self, id: i64, at: Millis) -> StoreResult<Option<String>> {
        self.retry_dead_letter_impl(id, at).await
    }

    async fn messages_since(
        &self,
        customer_id: &str,
        channel: &str,
        kind: &str,
        since: Millis,
    ) -> StoreResult<Vec<Millis>> {
        self.messages_since_impl(customer_id, channel, kind, since)
            .await
    }

    async fn suppressed(&self, address: &str) -> StoreResult<Option<String>> {
        self.suppressed_impl(address).await
    }

    async fn suppress(&self, address: &str, reason: &str, at: Millis) -> StoreResult<()> {
        self.suppress_impl(address, reason, at).await
    }

    async fn unsuppress(&self, address: &str) -> StoreResult<bool> {
        self.unsuppress_impl(address).await
    }

    async fn suppressions(&self) -> StoreResult<Vec<Suppression>> {
        self.suppressions_impl().await
    }

    async fn set_consent(
        &self,
        customer_id: &str,
        channel: &str,
        granted: bool,
        source: &str,
        at: Millis,
    ) -> StoreResult<()> {
        self.set_consent_impl(customer_id, channel, granted, source, at)
            .await
    }

    async fn kv_get(&self, plugin: &str, key: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT value FROM plugin_kv WHERE plugin = ? AND key = ?")
            .bind(plugin)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn kv_set(&self, plugin: &str, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO plugin_kv (plugin, key, value) VALUES (?, ?, ?) ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value")
            .bind(plugin)
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn setting_or_init(&self, key: &str, default: &str) -> StoreResult<String> {
        self.setting_or_init_impl(key, default).await
    }
}

fn date_trigger_row(r: &sqlx::sqlite::SqliteRow) -> DateTriggerRow {
    DateTriggerRow {
        workflow: r.get(0),
        key: r.get(1),
        due_at: r.get(2),
        event_id: r.get(3),
    }
}
