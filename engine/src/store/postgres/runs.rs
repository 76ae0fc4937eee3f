//! PostgreSQL [`RunStore`]: runs, timers (claimed with `FOR UPDATE SKIP LOCKED`, fenced by the
//! revision), waits, enrollments, tasks, dead-letter retries and cancels.

use super::statements::{add_timeline, end_run, set_timer};
use super::PostgresStore;
use crate::clock::Millis;
use crate::store::model::*;
use crate::store::rows::{run_rows, RunRecord, TimerRecord, WaitingRecord, RUN_COLUMNS};
use crate::store::status::{statuses_for, Cause};
use crate::store::{RunStore, StoreResult};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::PgConnection;

#[async_trait]
impl RunStore for PostgresStore {
    fn peers(&self) -> usize {
        self.peers.read().expect("peers lock").len()
    }

    async fn take_handed(
        &self,
        now: Millis,
        limit: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<RunRow>> {
        super::nodes::take(&self.pool, &self.node, now, limit, lease_ms).await
    }

    async fn enrollment(&self, workflow: &str, key: &str) -> StoreResult<Option<Millis>> {
        Ok(sqlx::query_scalar(
            "SELECT last_at FROM enrollments WHERE workflow = $1 AND enroll_key = $2",
        )
        .bind(workflow)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn waiting_runs(
        &self,
        event_type: &str,
        match_expr: &str,
        key: &str,
    ) -> StoreResult<Vec<WaitingRun>> {
        let rows: Vec<WaitingRecord> = sqlx::query_as(
            "SELECT r.id, r.workflow, r.version, r.step FROM waits w JOIN runs r ON r.id = w.run_id
             WHERE w.event_type = $1 AND w.match_expr = $2 AND w.match_key = $3 AND r.status = 'waiting'",
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
            "SELECT id FROM runs WHERE workflow = $1 AND {column} = $2 AND status IN {} ORDER BY id",
            statuses_for(Cause::Goal)
        );
        Ok(sqlx::query_scalar(&sql)
            .bind(workflow)
            .bind(value)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn claim_due(&self, now: Millis, limit: i64, lease_ms: i64) -> StoreResult<Vec<DueWork>> {
        // Rows another node is claiming right now are skipped, not waited for; the claim bumps
        // the revision (the fencing counter, see `RunStore::claim_due`). A claim need not wait
        // for the disk: one lost in a crash of the server leaves the run due and its revision
        // where it was, so the claimer's commit is refused and the run claimed again. Without
        // the wait, a claim costs no fsync of its own (~2 ms here, most of a run's time).
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL synchronous_commit TO OFF")
            .execute(&mut *tx)
            .await?;
        let mut rows: Vec<TimerRecord> = sqlx::query_as(
            "UPDATE runs SET lease_until = $1, lease_owner = $4, rev = rev + 1 WHERE id IN
               (SELECT id FROM runs WHERE due_at IS NOT NULL AND GREATEST(due_at, lease_until) <= $2 AND lease_until < $2
                ORDER BY GREATEST(due_at, lease_until) LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING id AS run_id, due_kind AS kind, due_attempt AS attempt, due_at",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .bind(&*self.node)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.sort_by_key(|r| r.due_at);
        Ok(rows.into_iter().map(DueWork::from).collect())
    }

    /// Frees the leases of this node only: a lease found at start-up may be another node's,
    /// alive, and a node's id is new at every start, so the leases of a node that died are not
    /// freed here but end by themselves, after at most one lease.
    async fn release_leases(&self) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE runs SET lease_until = 0, lease_owner = NULL WHERE lease_owner = $1 AND lease_until > 0",
        )
        .bind(&*self.node)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn due_count(&self, now: Millis, cap: i64) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM runs WHERE due_at IS NOT NULL AND GREATEST(due_at, lease_until) <= $1 AND lease_until < $1 LIMIT $2) due",
        )
        .bind(now)
        .bind(cap)
        .fetch_one(&self.pool)
        .await?;
        Ok(count as u64)
    }

    async fn next_due(&self) -> StoreResult<Option<Millis>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(GREATEST(due_at, lease_until)) FROM runs WHERE due_at IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    async fn run(&self, id: &str) -> StoreResult<Option<RunRow>> {
        let row: Option<RunRecord> =
            sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(run_rows(row.into_iter().collect())?.pop())
    }

    async fn commit_batch(&self, ts: Vec<Transition>) -> StoreResult<Vec<bool>> {
        let mut tx = self.pool.begin().await?;
        let applied = super::commit::apply(&mut tx, &ts, &self.node).await?;
        tx.commit().await?;
        Ok(applied)
    }

    async fn create_task(
        &self,
        key: &str,
        run_id: &str,
        input: &Value,
        at: Millis,
    ) -> StoreResult<String> {
        let text = |k: &str| input.get(k).and_then(Value::as_str).map(String::from);
        sqlx::query(
            "INSERT INTO tasks (id, idempotency, run_id, title, assignee, queue, data, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (idempotency) DO NOTHING",
        )
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
        Ok(
            sqlx::query_scalar("SELECT id FROM tasks WHERE idempotency = $1")
                .bind(key)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn retry_dead_letter(&self, id: i64, at: Millis) -> StoreResult<Option<String>> {
        let mut tx = self.pool.begin().await?;
        let retried = retry_letter(&mut tx, id, at).await?;
        tx.commit().await?;
        Ok(retried)
    }

    async fn retry_runs(&self, ids: &[String], at: Millis) -> StoreResult<Vec<String>> {
        let mut tx = self.pool.begin().await?;
        let mut retried = Vec::new();
        for run_id in ids {
            let letter: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(id) FROM dead_letters WHERE run_id = $1 AND retried_at IS NULL",
            )
            .bind(run_id)
            .fetch_one(&mut *tx)
            .await?;
            if let Some(letter) = letter {
                retried.extend(retry_letter(&mut tx, letter, at).await?);
            }
        }
        tx.commit().await?;
        Ok(retried)
    }

    async fn cancel_runs(
        &self,
        ids: &[String],
        reason: &str,
        at: Millis,
    ) -> StoreResult<Vec<String>> {
        let mut tx = self.pool.begin().await?;
        let mut cancelled = Vec::new();
        for run_id in ids {
            if end_run(&mut tx, &RunEnd::new(run_id, Cause::Cancel, reason, at)).await? {
                cancelled.push(run_id.clone());
            }
        }
        tx.commit().await?;
        Ok(cancelled)
    }
}

/// Sends dead letter `id`'s run back to its failed step, unless the letter was retried already
/// or the run is no longer failed; the run id.
async fn retry_letter(tx: &mut PgConnection, id: i64, at: Millis) -> StoreResult<Option<String>> {
    let run_id: Option<String> = sqlx::query_scalar(
        "SELECT run_id FROM dead_letters WHERE id = $1 AND retried_at IS NULL FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(run_id) = run_id else {
        return Ok(None);
    };
    let sql = format!(
        "UPDATE runs SET status = 'active', ended_at = NULL, exit_reason = NULL, updated_at = $1, rev = rev + 1 WHERE id = $2 AND status IN {}",
        statuses_for(Cause::Retry)
    );
    if sqlx::query(&sql)
        .bind(at)
        .bind(&run_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 0
    {
        return Ok(None);
    }
    sqlx::query("UPDATE dead_letters SET retried_at = $1 WHERE id = $2")
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    set_timer(tx, &run_id, Some(&Timer::exec(at))).await?;
    add_timeline(tx, &[(&run_id, &TimelineEntry::retried(id, at))]).await?;
    Ok(Some(run_id))
}
