//! PostgreSQL [`ScheduleStore`]: cron state and date triggers. Two nodes firing one due time
//! start one run: the run's trigger key (workflow and due time) is unique.

use super::statements::insert_runs;
use super::PostgresStore;
use crate::clock::Millis;
use crate::store::model::*;
use crate::store::rows::DateTriggerRecord;
use crate::store::{ScheduleStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl ScheduleStore for PostgresStore {
    async fn schedule_next(&self, workflow: &str) -> StoreResult<Option<Millis>> {
        Ok(
            sqlx::query_scalar("SELECT next_due FROM schedules WHERE workflow = $1")
                .bind(workflow)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn apply_schedule(
        &self,
        workflow: &str,
        next_due: Millis,
        runs: Vec<NewRun>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        // Two nodes firing one due time both set the next one; a node that read an older due
        // time never moves it back.
        sqlx::query(
            "INSERT INTO schedules (workflow, next_due) VALUES ($1, $2)
             ON CONFLICT (workflow) DO UPDATE SET next_due = GREATEST(schedules.next_due, excluded.next_due)",
        )
        .bind(workflow)
        .bind(next_due)
        .execute(&mut *tx)
        .await?;
        insert_runs(&mut tx, &runs, |_| &self.node).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn due_date_triggers(&self, now: Millis, limit: i64) -> StoreResult<Vec<DateTriggerRow>> {
        let rows: Vec<DateTriggerRecord> = sqlx::query_as(
            "SELECT workflow, key, due_at, event_id FROM date_triggers WHERE due_at <= $1 ORDER BY due_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(DateTriggerRow::from).collect())
    }

    async fn fire_date_triggers(
        &self,
        fired: Vec<DateTriggerRow>,
        runs: Vec<NewRun>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for f in &fired {
            sqlx::query(
                "DELETE FROM date_triggers WHERE workflow = $1 AND key = $2 AND due_at = $3",
            )
            .bind(&f.workflow)
            .bind(&f.key)
            .bind(f.due_at)
            .execute(&mut *tx)
            .await?;
        }
        insert_runs(&mut tx, &runs, |_| &self.node).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn date_triggers(&self) -> StoreResult<Vec<DateTriggerRow>> {
        let rows: Vec<DateTriggerRecord> = sqlx::query_as(
            "SELECT workflow, key, due_at, event_id FROM date_triggers ORDER BY due_at",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(DateTriggerRow::from).collect())
    }
}
