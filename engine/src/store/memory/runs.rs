//! In-memory [`RunStore`].

use super::MemoryStore;
use crate::clock::Millis;
use crate::store::model::*;
use crate::store::status::Cause;
use crate::store::views::*;
use crate::store::{RunStore, StoreResult};
use async_trait::async_trait;
use serde_json::Value;

#[async_trait]
impl RunStore for MemoryStore {
    async fn enrollment(&self, workflow: &str, key: &str) -> StoreResult<Option<Millis>> {
        let s = self.lock();
        Ok(s.enrollments
            .get(&(workflow.to_string(), key.to_string()))
            .copied())
    }

    async fn waiting_runs(
        &self,
        event_type: &str,
        match_expr: &str,
        key: &str,
    ) -> StoreResult<Vec<WaitingRun>> {
        let s = self.lock();
        let mut found: Vec<WaitingRun> = s
            .waits
            .iter()
            .filter(|(_, w)| {
                w.event_type == event_type && w.match_expr == match_expr && w.match_key == key
            })
            .filter_map(|(id, _)| s.runs.get(id))
            .filter(|r| r.row.status == RunStatus::Waiting)
            .map(|r| WaitingRun {
                run_id: r.row.id.clone(),
                workflow: r.row.workflow.clone(),
                version: r.row.version,
                step: r.row.step.unwrap_or(0),
            })
            .collect();
        found.sort_by(|a, b| a.run_id.cmp(&b.run_id));
        Ok(found)
    }

    async fn open_runs(&self, workflow: &str, of: RunsOf<'_>) -> StoreResult<Vec<String>> {
        let s = self.lock();
        let allowed = crate::store::status::from_statuses(Cause::Goal);
        let mut ids: Vec<String> = s
            .runs
            .values()
            .filter(|r| match of {
                RunsOf::Customer(id) => r.row.customer_id.as_deref() == Some(id),
                RunsOf::Key(key) => r.enroll_key == key,
            })
            .map(|r| &r.row)
            .filter(|r| r.workflow == workflow && allowed.contains(&r.status))
            .map(|r| r.id.clone())
            .collect();
        ids.sort();
        Ok(ids)
    }

    async fn claim_due(&self, now: Millis, limit: i64, lease_ms: i64) -> StoreResult<Vec<DueWork>> {
        let mut s = self.lock();
        let mut due: Vec<(Millis, String)> = s
            .timers
            .iter()
            .filter(|(_, t)| t.due_at <= now && t.lease_until < now)
            .map(|(id, t)| (t.due_at, id.clone()))
            .collect();
        due.sort();
        due.truncate(limit.max(0) as usize);
        Ok(due
            .into_iter()
            .filter_map(|(_, id)| {
                let t = s.timers.get_mut(&id)?;
                t.lease_until = now + lease_ms;
                let work = DueWork {
                    run_id: id.clone(),
                    kind: t.kind,
                    attempt: t.attempt,
                    due_at: t.due_at,
                };
                // The claim fences earlier holders of the run (see `RunStore::claim_due`).
                if let Some(run) = s.runs.get_mut(&id) {
                    run.row.rev += 1;
                }
                Some(work)
            })
            .collect())
    }

    async fn release_leases(&self) -> StoreResult<u64> {
        let mut s = self.lock();
        let mut n = 0;
        for t in s.timers.values_mut().filter(|t| t.lease_until > 0) {
            t.lease_until = 0;
            n += 1;
        }
        Ok(n)
    }

    async fn due_count(&self, now: Millis, cap: i64) -> StoreResult<u64> {
        let s = self.lock();
        let due = s
            .timers
            .values()
            .filter(|t| t.due_at <= now && t.lease_until < now);
        Ok(due.take(cap.max(0) as usize).count() as u64)
    }

    async fn next_due(&self) -> StoreResult<Option<Millis>> {
        let s = self.lock();
        Ok(s.timers.values().map(|t| t.due_at.max(t.lease_until)).min())
    }

    async fn run(&self, id: &str) -> StoreResult<Option<RunRow>> {
        Ok(self.lock().runs.get(id).map(|r| r.row.clone()))
    }

    async fn commit_batch(&self, ts: Vec<Transition>) -> StoreResult<Vec<bool>> {
        let mut s = self.lock();
        Ok(ts.into_iter().map(|t| s.commit(t)).collect())
    }

    async fn create_task(
        &self,
        key: &str,
        run_id: &str,
        input: &Value,
        at: Millis,
    ) -> StoreResult<String> {
        let mut s = self.lock();
        if let Some((_, task)) = s.tasks.iter().find(|(k, _)| k == key) {
            return Ok(task.id.clone());
        }
        let text = |k: &str| input.get(k).and_then(Value::as_str).map(String::from);
        let task = TaskRow {
            id: uuid::Uuid::now_v7().to_string(),
            run_id: run_id.into(),
            title: text("title").unwrap_or_default(),
            assignee: text("assignee"),
            queue: text("queue"),
            data: input.clone(),
            status: "open".into(),
            created_at: at,
        };
        let id = task.id.clone();
        s.tasks.push((key.into(), task));
        Ok(id)
    }

    async fn retry_dead_letter(&self, id: i64, at: Millis) -> StoreResult<Option<String>> {
        Ok(self.lock().retry_letter(id, at))
    }

    async fn retry_runs(&self, ids: &[String], at: Millis) -> StoreResult<Vec<String>> {
        let mut s = self.lock();
        let mut retried = Vec::new();
        for run_id in ids {
            let letter = s
                .dead_letters
                .iter()
                .filter(|d| &d.run_id == run_id && d.retried_at.is_none())
                .map(|d| d.id)
                .max();
            if let Some(run_id) = letter.and_then(|id| s.retry_letter(id, at)) {
                retried.push(run_id);
            }
        }
        Ok(retried)
    }

    async fn cancel_runs(
        &self,
        ids: &[String],
        reason: &str,
        at: Millis,
    ) -> StoreResult<Vec<String>> {
        let mut s = self.lock();
        Ok(ids
            .iter()
            .filter(|id| s.end_run(&RunEnd::new(id, Cause::Cancel, reason, at)))
            .cloned()
            .collect())
    }
}

impl super::State {
    /// Sends dead letter `id`'s run back to its failed step, unless the letter was retried
    /// already or the run is no longer failed; the run id.
    fn retry_letter(&mut self, id: i64, at: Millis) -> Option<String> {
        let run_id = self
            .dead_letters
            .iter()
            .find(|d| d.id == id && d.retried_at.is_none())
            .map(|d| d.run_id.clone())?;
        let run = self.run_for(&run_id, Cause::Retry)?;
        run.status = RunStatus::Active;
        run.ended_at = None;
        run.exit_reason = None;
        run.updated_at = at;
        run.rev += 1;
        if let Some(d) = self.dead_letters.iter_mut().find(|d| d.id == id) {
            d.retried_at = Some(at);
        }
        self.set_timer(&run_id, Some(Timer::exec(at)));
        self.add_timeline(&run_id, TimelineEntry::retried(id, at));
        Some(run_id)
    }

    /// Applies one run transition unless the run's revision moved.
    fn commit(&mut self, t: Transition) -> bool {
        let Some(run) = self.runs.get_mut(&t.run_id).map(|r| &mut r.row) else {
            return false;
        };
        if run.rev != t.rev {
            return false;
        }
        run.status = t.status;
        run.step = t.step;
        run.context = t.context.clone();
        run.updated_at = t.at;
        run.ended_at = t.status.is_final().then_some(t.at);
        if t.exit_reason.is_some() {
            run.exit_reason = t.exit_reason.clone();
        }
        run.rev += 1;
        for e in t.timeline {
            self.add_timeline(&t.run_id, e);
        }
        self.set_timer(&t.run_id, t.timer);
        self.waits.remove(&t.run_id);
        if let Some(w) = t.wait {
            self.waits.insert(t.run_id.clone(), w);
        }
        if let Some(m) = t.sent {
            self.record_message(m, t.at);
        }
        for entry in t.experiments {
            self.enter_experiment(&t.run_id, entry, t.at);
        }
        if let Some(d) = t.dead_letter {
            let id = self.dead_letters.len() as i64 + 1;
            self.dead_letters.push(DeadLetterRow {
                id,
                run_id: t.run_id.clone(),
                step_id: d.step_id,
                action: d.action,
                input: d.input,
                error: d.error,
                attempts: d.attempts,
                created_at: t.at,
                retried_at: None,
            });
        }
        true
    }
}
