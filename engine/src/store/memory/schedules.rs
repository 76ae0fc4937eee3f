//! In-memory [`ScheduleStore`].

use super::MemoryStore;
use crate::clock::Millis;
use crate::store::model::*;
use crate::store::{ScheduleStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl ScheduleStore for MemoryStore {
    async fn schedule_next(&self, workflow: &str) -> StoreResult<Option<Millis>> {
        Ok(self.lock().schedules.get(workflow).copied())
    }

    async fn apply_schedule(
        &self,
        workflow: &str,
        next_due: Millis,
        runs: Vec<NewRun>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        s.schedules.insert(workflow.into(), next_due);
        for run in &runs {
            s.insert_run(run);
        }
        Ok(())
    }

    async fn due_date_triggers(&self, now: Millis, limit: i64) -> StoreResult<Vec<DateTriggerRow>> {
        let mut due: Vec<DateTriggerRow> = self
            .lock()
            .date_triggers
            .values()
            .filter(|d| d.due_at <= now)
            .cloned()
            .collect();
        due.sort_by_key(|d| d.due_at);
        due.truncate(limit.max(0) as usize);
        Ok(due)
    }

    async fn fire_date_triggers(
        &self,
        fired: Vec<DateTriggerRow>,
        runs: Vec<NewRun>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        for f in fired {
            let key = (f.workflow.clone(), f.key.clone());
            if s.date_triggers
                .get(&key)
                .is_some_and(|d| d.due_at == f.due_at)
            {
                s.date_triggers.remove(&key);
            }
        }
        for run in &runs {
            s.insert_run(run);
        }
        Ok(())
    }

    async fn date_triggers(&self) -> StoreResult<Vec<DateTriggerRow>> {
        let mut all: Vec<DateTriggerRow> = self.lock().date_triggers.values().cloned().collect();
        all.sort_by_key(|d| d.due_at);
        Ok(all)
    }
}
