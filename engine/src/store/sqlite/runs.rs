//! SQLite [`RunStore`]: runs, timers, waits, enrollments, tasks and dead-letter retries.

use super::rows::{
    add_timeline, clear_wait, run_rows, set_timer, statuses_for, RunRecord, TimerRecord,
    WaitingRecord, RUN_COLUMNS,
};
use super::SqliteStore;
use crate::clock::Millis;
use crate::store::model::*;
use crate::store::status::Cause;
use crate::store::{RunStore, StoreResult};
use async_trait::async_trait;
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

    async fn open_runs(&self, workflow: &str, customer_id: &str) -> StoreResult<Vec<String>> {
        let sql = format!(
            "SELECT id FROM runs WHERE workflow = ? AND customer_id = ? AND status IN {} ORDER BY id",
            statuses_for(Cause::Goal)
        );
        let rows: Vec<String> = sqlx::query_scalar(&sql)
            .bind(workflow)
            .bind(customer_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows)
    }

    async fn claim_due(&self, now: Millis, limit: i64, lease_ms: i64) -> StoreResult<Vec<DueWork>> {
        let mut rows: Vec<TimerRecord> = sqlx::query_as(
            "UPDATE timers SET lease_until = ? WHERE run_id IN
               (SELECT run_id FROM timers WHERE due_at <= ? AND lease_until < ? ORDER BY due_at LIMIT ?)
             RETURNING run_id, kind, attempt, due_at",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        // RETURNING gives no order; hand out the earliest first, as the trait promises.
        rows.sort_by_key(|r| r.due_at);
        Ok(rows.into_iter().map(DueWork::from).collect())
    }

    async fn release_leases(&self) -> StoreResult<u64> {
        let done = sqlx::query("UPDATE timers SET lease_until = 0 WHERE lease_until > 0")
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn next_due(&self) -> StoreResult<Option<Millis>> {
        let next: Option<Millis> =
            sqlx::query_scalar("SELECT MIN(MAX(due_at, lease_until)) FROM timers")
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

    async fn commit(&self, t: Transition) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE runs SET status = ?, step = ?, context = ?, updated_at = ?, ended_at = ?, exit_reason = COALESCE(?, exit_reason), rev = rev + 1
             WHERE id = ? AND rev = ?",
        )
        .bind(t.status.as_str())
        .bind(t.step.map(|s| s as i64))
        .bind(t.context.to_string())
        .bind(t.at)
        .bind(t.status.is_final().then_some(t.at))
        .bind(&t.exit_reason)
        .bind(&t.run_id)
        .bind(t.rev)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        for e in &t.timeline {
            add_timeline(&mut tx, &t.run_id, e).await?;
        }
        set_timer(&mut tx, &t.run_id, t.timer.as_ref()).await?;
        clear_wait(&mut tx, &t.run_id).await?;
        if let Some(w) = &t.wait {
            sqlx::query(
                "INSERT INTO waits (run_id, event_type, match_expr, match_key) VALUES (?, ?, ?, ?)",
            )
            .bind(&t.run_id)
            .bind(&w.event_type)
            .bind(&w.match_expr)
            .bind(&w.match_key)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(m) = &t.sent {
            super::restraint::insert_message(m, &t.run_id, t.at)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(d) = &t.dead_letter {
            sqlx::query("INSERT INTO dead_letters (run_id, step_id, action, input, error, attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .bind(&t.run_id)
                .bind(&d.step_id)
                .bind(&d.action)
                .bind(d.input.to_string())
                .bind(&d.error)
                .bind(d.attempts as i64)
                .bind(t.at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
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
            .execute(&self.pool)
            .await?;
        let id: String = sqlx::query_scalar("SELECT id FROM tasks WHERE idempotency = ?")
            .bind(key)
            .fetch_one(&self.pool)
            .await?;
        Ok(id)
    }

    async fn retry_dead_letter(&self, id: i64, at: Millis) -> StoreResult<Option<String>> {
        let mut tx = self.pool.begin().await?;
        let row: Option<String> = sqlx::query_scalar(
            "SELECT run_id FROM dead_letters WHERE id = ? AND retried_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(run_id) = row else {
            return Ok(None);
        };
        let sql = format!(
            "UPDATE runs SET status = 'active', ended_at = NULL, exit_reason = NULL, updated_at = ?, rev = rev + 1 WHERE id = ? AND status IN {}",
            statuses_for(Cause::Retry)
        );
        let done = sqlx::query(&sql)
            .bind(at)
            .bind(&run_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        sqlx::query("UPDATE dead_letters SET retried_at = ? WHERE id = ?")
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        set_timer(&mut tx, &run_id, Some(&Timer::exec(at))).await?;
        add_timeline(&mut tx, &run_id, &TimelineEntry::retried(id, at)).await?;
        tx.commit().await?;
        Ok(Some(run_id))
    }
}
