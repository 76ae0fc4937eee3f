//! Why a workflow did or did not start for an event: for each workflow listening to its type,
//! the run it started (and any steps skipped by consent or caps), or the part of the entry
//! condition that was false with the values it saw, or the policy that stopped it.
//! Conditions are explained against the customer's current attributes.

use crate::clock::rfc3339;
use crate::core::context::{Context, EngineError};
use crate::core::registry::Registry;
use crate::core::runtime::RuntimeWorkflow;
use crate::core::scope::ScopeData;
use mikawaya_dsl::expr::{format_duration, Explanation};
use mikawaya_dsl::ir::{ReEnroll, Trigger};
use serde::Serialize;
use std::sync::Arc;

/// One workflow's verdict on an event.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Workflow name.
    pub workflow: String,
    /// Its active version.
    pub version: u32,
    /// Whether a run started.
    pub fired: bool,
    /// The run, if one started.
    pub run_id: Option<String>,
    /// One line for people.
    pub summary: String,
    /// The entry condition, part by part, when it decided.
    pub condition: Option<Explanation>,
    /// Steps of the run skipped by restraint: `(step, reason)`.
    pub skipped: Vec<(String, String)>,
}

/// Verdicts of all listening workflows.
#[derive(Debug, Clone, Serialize)]
pub struct EventExplanation {
    /// Event id.
    pub event_id: String,
    /// Event type.
    pub event_type: String,
    /// Customer.
    pub customer_id: Option<String>,
    /// One verdict per workflow that listens to the type.
    pub workflows: Vec<Verdict>,
}

/// Answers "why did (or didn't) it fire" from the store and the loaded workflows.
pub struct Explainer<'a> {
    ctx: &'a Context,
    registry: &'a Registry,
}

impl<'a> Explainer<'a> {
    /// An explainer for the workflows of `registry`.
    pub fn new(ctx: &'a Context, registry: &'a Registry) -> Self {
        Explainer { ctx, registry }
    }

    /// Explains what the stored event `id` did; `None` when there is no such event.
    pub async fn explain(&self, id: &str) -> Result<Option<EventExplanation>, EngineError> {
        let Some(ev) = self.ctx.store.event(id).await? else {
            return Ok(None);
        };
        let registry = self.registry;
        let listening: Vec<Arc<RuntimeWorkflow>> = registry
            .event_triggered(&ev.event_type)
            .iter()
            .chain(registry.date_triggered(&ev.event_type))
            .cloned()
            .collect();
        let customer = self.ctx.customer(ev.customer_id.as_deref()).await?;
        let scope = ScopeData {
            event: ev.scope_value(),
            customer,
            ..Default::default()
        };
        let mut workflows = Vec::new();
        for w in listening {
            workflows.push(self.verdict(&w, &ev, &scope).await?);
        }
        Ok(Some(EventExplanation {
            event_id: ev.id.clone(),
            event_type: ev.event_type.clone(),
            customer_id: ev.customer_id.clone(),
            workflows,
        }))
    }

    async fn verdict(
        &self,
        w: &RuntimeWorkflow,
        ev: &crate::event::Event,
        scope: &ScopeData,
    ) -> Result<Verdict, EngineError> {
        let mut v = Verdict {
            workflow: w.name.clone(),
            version: w.version,
            fired: false,
            run_id: None,
            summary: String::new(),
            condition: None,
            skipped: vec![],
        };
        if let Some(run) = self
            .ctx
            .store
            .runs_for_event(&w.name, &ev.id)
            .await?
            .into_iter()
            .next()
        {
            v.fired = true;
            v.summary = format!("started run {} (now {})", run.id, run.status.as_str());
            v.run_id = Some(run.id.clone());
            v.skipped = self
                .ctx
                .store
                .timeline(&run.id)
                .await?
                .into_iter()
                .filter(|e| e.status == "skipped")
                .map(|e| {
                    (
                        e.step_id,
                        e.detail["reason"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            if !v.skipped.is_empty() {
                v.summary.push_str(&format!(
                    "; {} step(s) skipped by restraint",
                    v.skipped.len()
                ));
            }
            return Ok(v);
        }
        if let Some(cond) = &w.when {
            let x = cond.explain(&scope.scope(self.ctx.clock.now(), w.tz));
            if !x.result {
                let leaves: Vec<String> = x
                    .failing_leaves()
                    .iter()
                    .map(|l| format!("`{}` was `{}`", l.expr, l.saw))
                    .collect();
                v.summary = format!(
                    "not started: the entry condition was false: {}",
                    leaves.join(", ")
                );
                v.condition = Some(x);
                return Ok(v);
            }
            v.condition = Some(x);
        }
        let key = crate::core::enroll::enroll_key(w, scope, ev, self.ctx.clock.now());
        let last = self.ctx.store.enrollment(&w.name, &key).await?;
        v.summary = match (w.re_enroll, last) {
            (ReEnroll::WhenFinished, Some(_)) => format!("not started: re-enrollment is `when_finished` and {key} had a run of it still active"),
            (ReEnroll::Never, Some(at)) => format!("not started: re-enrollment is `never` and {key} enrolled at {}", rfc3339(at)),
            (ReEnroll::After(ms), Some(at)) if ev.occurred_at - at < ms => format!(
                "not started: re-enrollment is `after {}`; {key} enrolled at {}, may enter again from {}",
                format_duration(ms),
                rfc3339(at),
                rfc3339(at + ms)
            ),
            _ if w.debounce.is_some() => {
                let pending = self.ctx.store.date_triggers().await?.into_iter().find(|d| d.workflow == w.name && d.event_id == ev.id);
                match pending {
                    Some(d) => format!("debounced: starts at {} with this event, unless another event of the burst comes first", rfc3339(d.due_at)),
                    None => "debounced: a later event of the burst took its place, or the run started from it".into(),
                }
            }
            _ if matches!(w.trigger, Trigger::Date { .. }) => {
                let pending = self.ctx.store.date_triggers().await?.into_iter().find(|d| d.workflow == w.name && d.event_id == ev.id);
                match pending {
                    Some(d) => format!("scheduled: the date trigger fires at {}", rfc3339(d.due_at)),
                    None => "not started: the date is missing, long past, or a newer event rescheduled it".into(),
                }
            }
            _ => "not started yet: the event is waiting to be matched (or the workflow was loaded after it)".into(),
        };
        Ok(v)
    }
}
