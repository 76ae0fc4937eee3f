//! In-memory [`ReadModel`].

use super::MemoryStore;
use crate::clock::Millis;
use crate::store::model::*;
use crate::store::views::*;
use crate::store::{ReadModel, StoreResult, VariantCount};
use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet};

#[async_trait]
impl ReadModel for MemoryStore {
    async fn runs(&self, f: &RunFilter) -> StoreResult<Vec<RunRow>> {
        let s = self.lock();
        let (from, to) = f.started_range();
        let mut found: Vec<RunRow> = s
            .runs
            .values()
            .map(|r| &r.row)
            .filter(|r| (from..to).contains(&r.started_at))
            .filter(|r| f.customer.is_none() || r.customer_id == f.customer)
            .filter(|r| f.workflow.as_ref().is_none_or(|w| &r.workflow == w))
            .filter(|r| f.status.as_ref().is_none_or(|st| r.status.as_str() == st))
            .cloned()
            .collect();
        found.sort_by(|a, b| (b.started_at, &b.id).cmp(&(a.started_at, &a.id)));
        found.truncate(f.limit() as usize);
        Ok(found)
    }

    async fn runs_for_event(&self, workflow: &str, event_id: &str) -> StoreResult<Vec<RunRow>> {
        let s = self.lock();
        let mut found: Vec<RunRow> = s
            .runs
            .values()
            .filter(|r| r.row.workflow == workflow && r.event_id.as_deref() == Some(event_id))
            .map(|r| r.row.clone())
            .collect();
        found.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
        Ok(found)
    }

    async fn timeline(&self, run_id: &str) -> StoreResult<Vec<TimelineEntry>> {
        let s = self.lock();
        Ok(s.timeline
            .iter()
            .filter(|(id, _)| id == run_id)
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn workflow_counts(&self, since: Millis) -> StoreResult<Vec<(String, WorkflowCounts)>> {
        let s = self.lock();
        let mut by: BTreeMap<String, WorkflowCounts> = BTreeMap::new();
        for r in s.runs.values().map(|r| &r.row) {
            let c = by.entry(r.workflow.clone()).or_default();
            let recent = r.ended_at.is_some_and(|e| e >= since);
            match r.status {
                RunStatus::Active | RunStatus::Waiting => c.active += 1,
                RunStatus::Completed | RunStatus::Exited if recent => c.completed += 1,
                RunStatus::Failed if recent => c.failed += 1,
                _ => {}
            }
        }
        Ok(by.into_iter().collect())
    }

    async fn step_counts(&self, workflow: &str) -> StoreResult<Vec<StepCount>> {
        let s = self.lock();
        let mut by: BTreeMap<(u32, usize), i64> = BTreeMap::new();
        for r in s.runs.values().map(|r| &r.row) {
            if r.workflow == workflow && !r.status.is_final() {
                if let Some(step) = r.step {
                    *by.entry((r.version, step)).or_default() += 1;
                }
            }
        }
        Ok(by
            .into_iter()
            .map(|((version, step), runs)| StepCount {
                version,
                step,
                runs,
            })
            .collect())
    }

    async fn variant_counts(&self, workflow: Option<&str>) -> StoreResult<Vec<VariantCount>> {
        let s = self.lock();
        let mut counts: BTreeMap<(String, String, String), (u64, u64)> = BTreeMap::new();
        for row in s.experiments.iter() {
            let e = &row.entry;
            if workflow.is_some_and(|w| w != e.workflow) {
                continue;
            }
            let key = (e.workflow.clone(), e.experiment.clone(), e.variant.clone());
            let c = counts.entry(key).or_default();
            c.0 += 1;
            c.1 += u64::from(row.converted_at.is_some());
        }
        Ok(counts
            .into_iter()
            .map(
                |((workflow, experiment, variant), (entered, converted))| VariantCount {
                    workflow,
                    experiment,
                    variant,
                    entered,
                    converted,
                },
            )
            .collect())
    }

    async fn step_stats(
        &self,
        workflow: &str,
        version: u32,
        since: Millis,
    ) -> StoreResult<Vec<StepStat>> {
        let s = self.lock();
        let mut by: BTreeMap<(String, String, String), i64> = BTreeMap::new();
        let mut entered: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        for (run_id, e) in &s.timeline {
            let of_version = s
                .runs
                .get(run_id)
                .is_some_and(|r| r.row.workflow == workflow && r.row.version == version);
            if !of_version || e.at < since {
                continue;
            }
            let reason = match e.status.as_str() {
                "skipped" | "exited" => (e.detail["why"].as_str())
                    .or(e.detail["reason"].as_str())
                    .unwrap_or("")
                    .to_string(),
                _ => String::new(),
            };
            *by.entry((e.step_id.clone(), e.status.clone(), reason))
                .or_default() += 1;
            if e.step_id == "run" {
                continue;
            }
            entered
                .entry(e.step_id.clone())
                .or_default()
                .insert(run_id.as_str());
        }
        for (step, runs) in entered {
            by.insert((step, "entered".into(), String::new()), runs.len() as i64);
        }
        Ok(by
            .into_iter()
            .map(|((step_id, status, reason), count)| StepStat {
                step_id,
                status,
                reason,
                count,
            })
            .collect())
    }

    async fn recent_steps(
        &self,
        workflow: &str,
        version: u32,
        limit: i64,
    ) -> StoreResult<Vec<(String, TimelineEntry)>> {
        let s = self.lock();
        Ok(s.timeline
            .iter()
            .rev()
            .filter(|(run_id, e)| {
                e.step_id != "run"
                    && s.runs
                        .get(run_id)
                        .is_some_and(|r| r.row.workflow == workflow && r.row.version == version)
            })
            .take(limit.max(0) as usize)
            .cloned()
            .collect())
    }

    async fn tasks(&self, limit: i64) -> StoreResult<Vec<TaskRow>> {
        let s = self.lock();
        let mut all: Vec<TaskRow> = s.tasks.iter().map(|(_, t)| t.clone()).collect();
        all.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        all.truncate(limit.max(0) as usize);
        Ok(all)
    }

    async fn dead_letters(&self, limit: i64) -> StoreResult<Vec<DeadLetterRow>> {
        let s = self.lock();
        Ok(s.dead_letters
            .iter()
            .rev()
            .take(limit.max(0) as usize)
            .cloned()
            .collect())
    }
}
