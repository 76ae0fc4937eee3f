//! SQLite [`ScheduleStore`]: cron state and date triggers.

use super::SqliteStore;
use crate::clock::Millis;
use crate::store::model::*;
use crate::store::rows::DateTriggerRecord;
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
        let workflow = workflow.to_owned();
        self.write_tx(move |tx| {
            tx.execute("INSERT INTO schedules (workflow, next_due) VALUES (?1, ?2) ON CONFLICT (workflow) DO UPDATE SET next_due = excluded.next_due", rusqlite::params![workflow, next_due])?;
            super::commit::insert_runs(tx, &runs)?;
            Ok(())
        })
        .await
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
        self.write_tx(move |tx| {
            for f in &fired {
                tx.prepare_cached(
                    "DELETE FROM date_triggers WHERE workflow = ?1 AND key = ?2 AND due_at = ?3",
                )?
                .execute(rusqlite::params![f.workflow, f.key, f.due_at])?;
            }
            super::commit::insert_runs(tx, &runs)?;
            Ok(())
        })
        .await
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
