//! SQLite [`ReadModel`]: the listings of the page, the API and the CLI.

use super::SqliteStore;
use crate::clock::Millis;
use crate::store::model::*;
use crate::store::rows::{
    run_rows, CountsRecord, DeadLetterRecord, RunRecord, StepCountRecord, TaskRecord,
    TimelineRecord, RUN_COLUMNS,
};
use crate::store::views::*;
use crate::store::{ReadModel, StoreResult, VariantCount};
use async_trait::async_trait;

#[async_trait]
impl ReadModel for SqliteStore {
    async fn runs(&self, f: &RunFilter) -> StoreResult<Vec<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE (?1 IS NULL OR customer_id = ?1) AND (?2 IS NULL OR workflow = ?2) AND (?3 IS NULL OR status = ?3)
               AND started_at >= ?5 AND started_at < ?6
             ORDER BY started_at DESC, id DESC LIMIT ?4"
        );
        let (from, to) = f.started_range();
        let rows: Vec<RunRecord> = sqlx::query_as(&sql)
            .bind(&f.customer)
            .bind(&f.workflow)
            .bind(&f.status)
            .bind(f.limit())
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?;
        run_rows(rows)
    }

    async fn runs_for_event(&self, workflow: &str, event_id: &str) -> StoreResult<Vec<RunRow>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE workflow = ? AND event_id = ? ORDER BY started_at, id");
        let rows: Vec<RunRecord> = sqlx::query_as(&sql)
            .bind(workflow)
            .bind(event_id)
            .fetch_all(&self.pool)
            .await?;
        run_rows(rows)
    }

    async fn timeline(&self, run_id: &str) -> StoreResult<Vec<TimelineEntry>> {
        // The `started` line is the run's row (migration 0007), the others are `run_steps` rows.
        let started: Option<(String, Millis)> =
            sqlx::query_as("SELECT trigger_key, started_at FROM runs WHERE id = ?")
                .bind(run_id)
                .fetch_optional(&self.pool)
                .await?;
        let rows: Vec<TimelineRecord> = sqlx::query_as("SELECT step_id, kind, status, attempt, at, detail FROM run_steps WHERE run_id = ? ORDER BY id")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        let started = started.map(|(trigger, at)| TimelineEntry::started(&trigger, at));
        Ok(started
            .into_iter()
            .chain(rows.into_iter().map(TimelineEntry::from))
            .collect())
    }

    async fn workflow_counts(&self, since: Millis) -> StoreResult<Vec<(String, WorkflowCounts)>> {
        let rows: Vec<CountsRecord> = sqlx::query_as(
            "SELECT workflow,
                    SUM(status IN ('active', 'waiting')) AS active,
                    SUM(status IN ('completed', 'exited') AND ended_at >= ?1) AS completed,
                    SUM(status = 'failed' AND ended_at >= ?1) AS failed
             FROM runs GROUP BY workflow ORDER BY workflow",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn step_counts(&self, workflow: &str) -> StoreResult<Vec<StepCount>> {
        let rows: Vec<StepCountRecord> = sqlx::query_as("SELECT version, step, COUNT(*) AS runs FROM runs WHERE workflow = ? AND status IN ('active', 'waiting') AND step IS NOT NULL GROUP BY version, step ORDER BY version, step")
            .bind(workflow)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(StepCount::from).collect())
    }

    async fn variant_counts(&self, workflow: Option<&str>) -> StoreResult<Vec<VariantCount>> {
        let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT workflow, experiment, variant, COUNT(*), COUNT(converted_at) FROM experiment_entries
             WHERE ?1 IS NULL OR workflow = ?1 GROUP BY workflow, experiment, variant ORDER BY workflow, experiment, variant",
        )
        .bind(workflow)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(VariantCount::from).collect())
    }

    async fn step_stats(
        &self,
        workflow: &str,
        version: u32,
        since: Millis,
    ) -> StoreResult<Vec<StepStat>> {
        Ok(sqlx::query_as(
            "SELECT s.step_id, s.status,
               CASE WHEN s.status IN ('skipped', 'exited') THEN COALESCE(json_extract(s.detail, '$.why'), json_extract(s.detail, '$.reason'), '') ELSE '' END AS reason,
               COUNT(*) AS count
             FROM run_steps s JOIN runs r ON r.id = s.run_id
             WHERE r.workflow = ?1 AND r.version = ?2 AND s.at >= ?3
             GROUP BY s.step_id, s.status, 3
             UNION ALL
             SELECT s.step_id, 'entered', '', COUNT(DISTINCT s.run_id)
             FROM run_steps s JOIN runs r ON r.id = s.run_id
             WHERE r.workflow = ?1 AND r.version = ?2 AND s.at >= ?3 AND s.step_id <> 'run'
             GROUP BY s.step_id
             UNION ALL
             SELECT 'run', 'started', '', COUNT(*) FROM runs
             WHERE workflow = ?1 AND version = ?2 AND started_at >= ?3
             HAVING COUNT(*) > 0
             ORDER BY 1, 2, 3",
        )
        .bind(workflow)
        .bind(version as i64)
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn recent_steps(
        &self,
        workflow: &str,
        version: u32,
        limit: i64,
    ) -> StoreResult<Vec<(String, TimelineEntry)>> {
        let rows: Vec<TimelineRecord> = sqlx::query_as(
            "SELECT s.run_id, s.step_id, s.kind, s.status, s.attempt, s.at, s.detail FROM run_steps s JOIN runs r ON r.id = s.run_id
             WHERE r.workflow = ? AND r.version = ? AND s.step_id != 'run' ORDER BY s.id DESC LIMIT ?",
        )
        .bind(workflow)
        .bind(version as i64)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.run_id.clone(), TimelineEntry::from(r)))
            .collect())
    }

    async fn tasks(&self, limit: i64) -> StoreResult<Vec<TaskRow>> {
        let rows: Vec<TaskRecord> = sqlx::query_as("SELECT id, run_id, title, assignee, queue, data, status, created_at FROM tasks ORDER BY created_at DESC, id DESC LIMIT ?")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(TaskRow::from).collect())
    }

    async fn dead_letters(&self, limit: i64) -> StoreResult<Vec<DeadLetterRow>> {
        let rows: Vec<DeadLetterRecord> = sqlx::query_as("SELECT id, run_id, step_id, action, input, error, attempts, created_at, retried_at FROM dead_letters ORDER BY id DESC LIMIT ?")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(DeadLetterRow::from).collect())
    }
}
