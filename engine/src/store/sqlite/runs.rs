//! SQLite [`RunStore`]: runs, timers, waits, enrollments, tasks and dead-letter retries.

use super::statements::{add_timeline, end_run, set_timer};
use super::SqliteStore;
use crate::clock::Millis;
use crate::store::model::*;
use crate::store::rows::{run_rows, RunRecord, TimerRecord, WaitingRecord, RUN_COLUMNS};
use crate::store::status::statuses_for;
use crate::store::status::Cause;
use crate::store::{RunStore, StoreResult};
use async_trait::async_trait;
use rusqlite::OptionalExtension;
use serde_json::Value;

#[async_trait]
impl RunStore for SqliteStore {
    async fn enrollment(&self, workflow: &str, key: &str) -> StoreResult<Option<Millis>> {
        let row: Option<Millis> = sqlx::query_scalar(
            "SELECT last_at FROM enrollments WHERE workflow = ? AND enroll_key = ?",
        )
        .bind(workflow)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    async fn waiting_runs(
        &self,
        event_type: &str,
        match_expr: &str,
        key: &str,
    ) -> StoreResult<Vec<WaitingRun>> {
        let rows: Vec<WaitingRecord> = sqlx::query_as(
            "SELECT r.id, r.workflow, r.version, r.step FROM waits w JOIN runs r ON r.id = w.run_id
             WHERE w.event_type = ? AND w.match_expr = ? AND w.match_key = ? AND r.status = 'waiting'",
        )
        .bind(event_type)
        .bind(match_expr)
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(WaitingRun::from).collect())
    }

    async fn open_runs(&self, workflow: &str, of: RunsOf<'_>) -> StoreResult<Vec<String>> {
        let (column, value) = match of {
            RunsOf::Customer(id) => ("customer_id", id),
            RunsOf::Key(key) => ("enroll_key", key),
        };
        let sql = format!(
            "SELECT id FROM runs WHERE workflow = ? AND {column} = ? AND status IN {} ORDER BY id",
            statuses_for(Cause::Goal)
        );
        let rows: Vec<String> = sqlx::query_scalar(&sql)
            .bind(workflow)
            .bind(value)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows)
    }

    async fn claim_due(&self, now: Millis, limit: i64, lease_ms: i64) -> StoreResult<Vec<DueWork>> {
        // Due and not leased is "wakes at or before now" and "lease ended before now": the range
        // of the wake-up index, earliest wake-up first (for an unleased timer, its due time).
        let mut rows: Vec<TimerRecord> = sqlx::query_as(
            "UPDATE runs SET lease_until = ?1, rev = rev + 1 WHERE id IN
               (SELECT id FROM runs WHERE due_at IS NOT NULL AND MAX(due_at, lease_until) <= ?2 AND lease_until < ?2
                ORDER BY MAX(due_at, lease_until) LIMIT ?3)
             RETURNING id AS run_id, due_kind AS kind, due_attempt AS attempt, due_at",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.write)
        .await?;
        // RETURNING gives no order; hand out the earliest first, as the trait promises.
        rows.sort_by_key(|r| r.due_at);
        Ok(rows.into_iter().map(DueWork::from).collect())
    }

    async fn release_leases(&self) -> StoreResult<u64> {
        let done = sqlx::query("UPDATE runs SET lease_until = 0 WHERE lease_until > 0")
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }

    async fn due_count(&self, now: Millis, cap: i64) -> StoreResult<u64> {
        // The claim's predicate, over the same index range, stopped at `cap`.
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM runs WHERE due_at IS NOT NULL AND MAX(due_at, lease_until) <= ?1 AND lease_until < ?1 LIMIT ?2)",
        )
        .bind(now)
        .bind(cap)
        .fetch_one(&self.pool)
        .await?;
        Ok(count as u64)
    }

    async fn next_due(&self) -> StoreResult<Option<Millis>> {
        let next: Option<Millis> = sqlx::query_scalar(
            "SELECT MIN(MAX(due_at, lease_until)) FROM runs WHERE due_at IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(next)
    }

    async fn run(&self, id: &str) -> StoreResult<Option<RunRow>> {
        let row: Option<RunRecord> =
            sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(run_rows(row.into_iter().collect())?.pop())
    }

    async fn commit_batch(&self, ts: Vec<Transition>) -> StoreResult<Vec<bool>> {
        self.write_tx(move |tx| super::commit::apply(tx, &ts)).await
    }

    async fn create_task(
        &self,
        key: &str,
        run_id: &str,
        input: &Value,
        at: Millis,
    ) -> StoreResult<String> {
        let text = |k: &str| input.get(k).and_then(Value::as_str).map(String::from);
        sqlx::query("INSERT OR IGNORE INTO tasks (id, idempotency, run_id, title, assignee, queue, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(key)
            .bind(run_id)
            .bind(text("title").unwrap_or_default())
            .bind(text("assignee"))
            .bind(text("queue"))
            .bind(input.to_string())
            .bind(at)
            .execute(&self.write)
            .await?;
        let id: String = sqlx::query_scalar("SELECT id FROM tasks WHERE idempotency = ?")
            .bind(key)
            .fetch_one(&self.write)
            .await?;
        Ok(id)
    }

    async fn retry_dead_letter(&self, id: i64, at: Millis) -> StoreResult<Option<String>> {
        self.write_tx(move |tx| retry_letter(tx, id, at)).await
    }

    async fn retry_runs(&self, ids: &[String], at: Millis) -> StoreResult<Vec<String>> {
        let ids = ids.to_vec();
        self.write_tx(move |tx| {
            let mut retried = Vec::new();
            for run_id in &ids {
                let letter: Option<i64> = tx
                    .prepare_cached(
                        "SELECT MAX(id) FROM dead_letters WHERE run_id = ?1 AND retried_at IS NULL",
                    )?
                    .query_row([run_id], |row| row.get(0))?;
                if let Some(run_id) = letter
                    .map(|id| retry_letter(tx, id, at))
                    .transpose()?
                    .flatten()
                {
                    retried.push(run_id);
                }
            }
            Ok(retried)
        })
        .await
    }

    async fn cancel_runs(
        &self,
        ids: &[String],
        reason: &str,
        at: Millis,
    ) -> StoreResult<Vec<String>> {
        let (ids, reason) = (ids.to_vec(), reason.to_string());
        self.write_tx(move |tx| {
            let mut cancelled = Vec::new();
            for run_id in ids {
                if end_run(tx, &RunEnd::new(&run_id, Cause::Cancel, &reason, at))? {
                    cancelled.push(run_id);
                }
            }
            Ok(cancelled)
        })
        .await
    }
}

/// Sends dead letter `id`'s run back to its failed step, unless the letter was retried already
/// or the run is no longer failed; the run id.
fn retry_letter(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    at: Millis,
) -> StoreResult<Option<String>> {
    let run_id: Option<String> = tx
        .query_row(
            "SELECT run_id FROM dead_letters WHERE id = ?1 AND retried_at IS NULL",
            [id],
            |row| row.get(0),
        )
        .optional()?;
    let Some(run_id) = run_id else {
        return Ok(None);
    };
    let sql = format!(
        "UPDATE runs SET status = 'active', ended_at = NULL, exit_reason = NULL, updated_at = ?1, rev = rev + 1 WHERE id = ?2 AND status IN {}",
        statuses_for(Cause::Retry)
    );
    if tx.execute(&sql, rusqlite::params![at, run_id])? == 0 {
        return Ok(None);
    }
    tx.execute(
        "UPDATE dead_letters SET retried_at = ?1 WHERE id = ?2",
        rusqlite::params![at, id],
    )?;
    set_timer(tx, &run_id, Some(&Timer::exec(at)))?;
    add_timeline(tx, &run_id, &TimelineEntry::retried(id, at))?;
    Ok(Some(run_id))
}
