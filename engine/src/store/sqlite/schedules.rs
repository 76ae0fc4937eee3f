//! SQLite [`ScheduleStore`]: cron state and date triggers.

use super::rows::DateTriggerRecord;
use super::SqliteStore;
use crate::clock::Millis;
use crate::store::model::*;
use crate::store::{ScheduleStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl ScheduleStore for SqliteStore {
    async fn schedule_next(&self, workflow: &str) -> StoreResult<Option<Millis>> {
        let row: Option<Millis> =
            sqlx::query_scalar("SELECT next_due FROM schedules WHERE workflow = ?")
                .bind(workflow)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row)
    }

    async fn apply_schedule(
        &self,
        workflow: &str,
        next_due: Millis,
        runs: Vec<NewRun>,
    ) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("INSERT INTO schedules (workflow, next_due) VALUES (?, ?) ON CONFLICT (workflow) DO UPDATE SET next_due = excluded.next_due")
            .bind(workflow)
            .bind(next_due)
            .execute(&mut *tx)
            .await?;
        super::commit::insert_runs(&mut tx, &runs).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn due_date_triggers(&self, now: Millis, limit: i64) -> StoreResult<Vec<DateTriggerRow>> {
        let rows: Vec<DateTriggerRecord> = sqlx::query_as("SELECT workflow, key, due_at, event_id FROM date_triggers WHERE due_at <= ? ORDER BY due_at LIMIT ?")
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
        let mut tx = self.write.begin().await?;
        for f in &fired {
            sqlx::query("DELETE FROM date_triggers WHERE workflow = ? AND key = ? AND due_at = ?")
                .bind(&f.workflow)
                .bind(&f.key)
                .bind(f.due_at)
                .execute(&mut *tx)
                .await?;
        }
        super::commit::insert_runs(&mut tx, &runs).await?;
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
