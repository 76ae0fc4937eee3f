//! Cron schedules (in their time zones, optionally once per stored entity) and date-relative
//! triggers. Each firing has a unique trigger key, so it starts its runs once, across restarts.

use crate::core::context::{Context, EngineError};
use crate::core::enroll::{BatchEnrollments, Candidate, Enroller};
use crate::core::registry::Registry;
use crate::core::runtime::RuntimeWorkflow;
use crate::core::scope::{key_string, ScopeData};
use crate::store::NewRun;
use mikawaya_dsl::ir::Trigger;

/// Fires cron schedules and date triggers of the loaded workflows.
pub struct Scheduler<'a> {
    ctx: &'a Context,
    registry: &'a Registry,
}

impl<'a> Scheduler<'a> {
    /// A scheduler for the workflows of `registry`.
    pub fn new(ctx: &'a Context, registry: &'a Registry) -> Self {
        Scheduler { ctx, registry }
    }

    /// Fires due cron schedules and date triggers; returns how many firings were handled.
    pub async fn process(&self) -> Result<usize, EngineError> {
        let mut done = 0;
        let registry = self.registry;
        for w in registry.scheduled() {
            done += self.fire_cron(w).await?;
        }
        done += self.fire_dates().await?;
        Ok(done)
    }

    async fn fire_cron(&self, w: &RuntimeWorkflow) -> Result<usize, EngineError> {
        let Trigger::Schedule { for_each, .. } = &w.trigger else {
            return Ok(0);
        };
        let now = self.ctx.clock.now_ms();
        let Some(due) = self.ctx.store.schedule_next(&w.name).await? else {
            if let Some(first) = w.next_cron(now) {
                self.ctx
                    .store
                    .apply_schedule(&w.name, first, vec![])
                    .await?;
            }
            return Ok(0);
        };
        if due > now {
            return Ok(0);
        }
        let mut enrolled = BatchEnrollments::new();
        let mut runs: Vec<NewRun> = Vec::new();
        match for_each {
            None => {
                let candidate = Candidate {
                    workflow: w,
                    scope: &ScopeData::default(),
                    customer_id: None,
                    trigger_key: format!("cron:{due}"),
                    enroll_key: format!("cron:{due}"),
                };
                runs.extend(
                    Enroller::new(self.ctx)
                        .enroll(candidate, &mut enrolled)
                        .await?,
                );
            }
            Some(kind) => {
                for entity in self.ctx.store.entities(kind).await? {
                    let Some(id) = entity.get("id").and_then(key_string) else {
                        continue;
                    };
                    let customer_id = entity.get("customer_id").and_then(key_string);
                    let customer = self.ctx.customer(customer_id.as_deref()).await?;
                    let scope = ScopeData {
                        customer,
                        entity,
                        ..Default::default()
                    };
                    let candidate = Candidate {
                        workflow: w,
                        scope: &scope,
                        customer_id,
                        trigger_key: format!("cron:{due}:{id}"),
                        enroll_key: format!("{kind}:{id}"),
                    };
                    runs.extend(
                        Enroller::new(self.ctx)
                            .enroll(candidate, &mut enrolled)
                            .await?,
                    );
                }
            }
        }
        let next = w.next_cron(now.max(due)).unwrap_or(i64::MAX);
        self.ctx.metrics.runs_started.inc_by(runs.len() as u64);
        tracing::info!(workflow = %w.name, runs = runs.len(), "schedule fired");
        self.ctx.store.apply_schedule(&w.name, next, runs).await?;
        Ok(1)
    }

    async fn fire_dates(&self) -> Result<usize, EngineError> {
        let due = self
            .ctx
            .store
            .due_date_triggers(self.ctx.clock.now_ms(), 100)
            .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let registry = self.registry;
        let mut enrolled = BatchEnrollments::new();
        let mut runs = Vec::new();
        for d in &due {
            let (Some(w), Some(ev)) = (
                registry.active(&d.workflow),
                self.ctx.store.event(&d.event_id).await?,
            ) else {
                continue;
            };
            let customer = self.ctx.customer(ev.customer_id.as_deref()).await?;
            let scope = ScopeData {
                event: ev.scope_value(),
                customer,
                ..Default::default()
            };
            let candidate = Candidate {
                workflow: &w,
                scope: &scope,
                customer_id: ev.customer_id.clone(),
                trigger_key: format!("date:{}:{}", d.key, d.due_at),
                enroll_key: d.key.clone(),
            };
            runs.extend(
                Enroller::new(self.ctx)
                    .enroll(candidate, &mut enrolled)
                    .await?,
            );
        }
        self.ctx.metrics.runs_started.inc_by(runs.len() as u64);
        let n = due.len();
        self.ctx.store.fire_date_triggers(due, runs).await?;
        Ok(n)
    }
}
