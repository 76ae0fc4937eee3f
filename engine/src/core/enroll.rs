//! Enrollment: the entry condition and the re-enrollment policy decide whether a trigger starts a run.

use crate::clock::Millis;
use crate::core::context::{Context, EngineError};
use crate::core::runtime::target_index;
use crate::core::runtime::RuntimeWorkflow;
use crate::core::scope::{key_string, ScopeData};
use crate::event::Event;
use crate::store::NewRun;
use chrono::{DateTime, Utc};
use mikawaya_dsl::expr::Expr;
use mikawaya_dsl::ir::{Debounce, ReEnroll};
use std::collections::HashMap;

/// One trigger firing for one workflow.
pub struct Candidate<'a> {
    /// The workflow.
    pub workflow: &'a RuntimeWorkflow,
    /// What expressions see (borrowed: one event's scope serves every workflow it triggers).
    pub scope: &'a ScopeData,
    /// Customer, if any.
    pub customer_id: Option<String>,
    /// Unique per trigger firing (event id, cron due time, date trigger).
    pub trigger_key: String,
    /// Re-enrollment key (the customer, or the entity).
    pub enroll_key: String,
}

/// Enrollments made earlier in the same batch, not yet in the store.
pub type BatchEnrollments = HashMap<(String, String), Millis>;

/// Decides enrollments with the store's memory of earlier ones.
pub struct Enroller<'a> {
    ctx: &'a Context,
}

impl<'a> Enroller<'a> {
    /// An enroller over the engine's store and clock.
    pub fn new(ctx: &'a Context) -> Self {
        Enroller { ctx }
    }

    /// Whether `w`'s entry condition holds for `scope` at `at` (a workflow without one always
    /// admits). Pure and cheap: callers with many candidates test it before building any.
    pub fn admits(
        w: &RuntimeWorkflow,
        scope: &ScopeData,
        at: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        // A segment trigger listens to that segment's entries (or exits) only.
        if let mikawaya_dsl::ir::Trigger::Event {
            segment: Some(s), ..
        } = &w.trigger
        {
            if scope.event.get("segment").and_then(|v| v.as_str()) != Some(s.as_str()) {
                return false;
            }
        }
        w.when
            .as_ref()
            .is_none_or(|cond| cond.matches(&scope.scope(at, w.tz)))
    }

    /// The run this trigger starts, or `None` when the condition or the policy says no.
    pub async fn enroll(
        &self,
        c: Candidate<'_>,
        batch: &mut BatchEnrollments,
    ) -> Result<Option<NewRun>, EngineError> {
        if !Self::admits(c.workflow, c.scope, self.ctx.clock.now()) {
            return Ok(None);
        }
        self.enroll_admitted(c, batch).await
    }

    /// Like [`Enroller::enroll`] for a candidate whose entry condition the caller tested
    /// already ([`Enroller::admits`]): only the re-enrollment policy decides.
    pub async fn enroll_admitted(
        &self,
        c: Candidate<'_>,
        batch: &mut BatchEnrollments,
    ) -> Result<Option<NewRun>, EngineError> {
        let now = self.ctx.clock.now_ms();
        let w = c.workflow;
        let key = (w.name.clone(), c.enroll_key.clone());
        let last = match (w.re_enroll, batch.get(&key)) {
            // Always allowed here: no need to ask the store when it last enrolled.
            (ReEnroll::Always | ReEnroll::WhenFinished | ReEnroll::Replace, _) => None,
            (_, Some(at)) => Some(*at),
            (_, None) => self.ctx.store.enrollment(&w.name, &c.enroll_key).await?,
        };
        let allowed = match (w.re_enroll, last) {
            (_, None) | (ReEnroll::Always, _) => true,
            (ReEnroll::Never, Some(_)) => false,
            (ReEnroll::After(ms), Some(at)) => now - at >= ms,
            // Decided on the customer's active runs, which the matcher knows (it sees the
            // batches in flight): it asks only when none blocks the new run.
            (ReEnroll::WhenFinished | ReEnroll::Replace, Some(_)) => true,
        };
        if !allowed {
            return Ok(None);
        }
        batch.insert(key, now);
        let mut context =
            serde_json::json!({ "event": c.scope.event, "steps": {}, "entity": c.scope.entity });
        if let Some(plugins) = &self.ctx.plugins {
            context["plugins"] = plugins.pins();
        }
        Ok(Some(NewRun {
            id: self.ctx.clock.new_id(),
            workflow: w.name.clone(),
            version: w.version,
            customer_id: c.customer_id,
            enroll_key: c.enroll_key,
            trigger_key: c.trigger_key,
            context,
            start: target_index(w.start),
            at: now,
            lease_until: 0,
        }))
    }
}

/// The key an event enrolls its customer under in `w`: the value of the workflow's `per`
/// expression (`re-enroll when finished per event.kpi.id`), else the customer, else the event
/// itself (an event without either never shares a key).
pub(crate) fn enroll_key(
    w: &RuntimeWorkflow,
    scope: &ScopeData,
    ev: &Event,
    now: DateTime<Utc>,
) -> String {
    key_of(w.enroll_per.as_ref(), scope, ev, now)
}

/// The key a debounced workflow groups an event's burst by: its `per`, else the customer.
pub(crate) fn debounce_key(
    d: &Debounce,
    scope: &ScopeData,
    ev: &Event,
    now: DateTime<Utc>,
) -> String {
    key_of(d.per.as_ref(), scope, ev, now)
}

/// The value of `per` on the event, else its customer, else the event itself.
fn key_of(per: Option<&Expr>, scope: &ScopeData, ev: &Event, now: DateTime<Utc>) -> String {
    let per = per.and_then(|per| {
        let value = per.eval(&scope.scope(now, chrono_tz::UTC)).ok()?.to_json();
        key_string(&value)
    });
    per.or_else(|| ev.customer_id.clone())
        .unwrap_or_else(|| format!("event:{}", ev.id))
}
