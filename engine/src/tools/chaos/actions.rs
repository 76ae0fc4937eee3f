//! The simulated outside world's actions: each call may fail before or after its effect, hang
//! past the engine's timeout, or be cut by a crash; every effect that gets through is checked
//! at that moment against what the store knew (the run still going, the customer's consent,
//! suppressions) and recorded for the checks at the end.

use super::faults::Faults;
use super::world::{SeenEffect, World};
use crate::clock::{Clock, ManualClock};
use crate::core::restraint::recipient;
use crate::store::Store;
use async_trait::async_trait;
use mikawaya_plugins::{Action, ActionContext, ActionError, ActionRegistry};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The simulated actions and their channels.
const ACTIONS: [(&str, Option<&str>); 4] = [
    ("email.send", Some("email")),
    ("webhook", None),
    ("task.create", None),
    ("log", None),
];

/// How one call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    /// Fails before anything happened outside.
    FailBefore,
    /// The effect happens, then the answer is an error (a timeout on the way back).
    FailAfter,
    /// Refused for good, nothing happened.
    Permanent,
    /// The effect happens and the answer never comes (the engine's timeout ends the wait).
    Hang,
    /// The effect happens, but so slowly that the run's lease may run out meanwhile and
    /// another executor take the run over.
    Slow,
}

struct SimAction {
    name: &'static str,
    channel: Option<&'static str>,
    world: Arc<World>,
    faults: Arc<Faults>,
    truth: Arc<dyn Store>,
    clock: Arc<ManualClock>,
}

/// The simulated action set for one engine process.
pub fn sim_actions(
    world: &Arc<World>,
    faults: &Arc<Faults>,
    truth: &Arc<dyn Store>,
    clock: &Arc<ManualClock>,
) -> ActionRegistry {
    let mut registry = ActionRegistry::new();
    for (name, channel) in ACTIONS {
        registry.register(Arc::new(SimAction {
            name,
            channel,
            world: world.clone(),
            faults: faults.clone(),
            truth: truth.clone(),
            clock: clock.clone(),
        }));
    }
    registry
}

impl SimAction {
    fn outcome(&self) -> Outcome {
        if !self.world.failures_on() {
            return Outcome::Ok;
        }
        match self.world.rng.below(100) {
            0..=7 => Outcome::FailBefore,
            8..=13 => Outcome::FailAfter,
            14..=16 => Outcome::Permanent,
            17..=19 => Outcome::Hang,
            20..=22 => Outcome::Slow,
            _ => Outcome::Ok,
        }
    }

    /// Checks an effect against what the store knew when it happened, then records it.
    async fn effect(&self, input: &Value, ctx: &ActionContext) {
        let at = self.clock.now_ms();
        let w = &self.world;
        let key = &ctx.idempotency_key;
        match self.truth.run(&ctx.run_id).await {
            Ok(Some(run)) if run.status.is_final() => w.violation(format!(
                "{} ran for {key} after its run ended ({:?})",
                self.name, run.status
            )),
            Ok(None) => w.violation(format!(
                "{} ran for {key}, a run that does not exist",
                self.name
            )),
            _ => {}
        }
        if self.channel.is_some() {
            self.check_restraint(input, ctx).await;
        }
        w.note(format!("effect {} {key} at {at}", self.name));
        w.effects.lock().expect("effects").push(SeenEffect {
            action: self.name.to_string(),
            key: key.clone(),
            run_id: ctx.run_id.clone(),
            step_id: ctx.step_id.clone(),
            customer_id: ctx.customer_id.clone(),
            input: input.clone(),
            at,
        });
    }

    /// No marketing message to a customer without consent, no message to a suppressed address.
    async fn check_restraint(&self, input: &Value, ctx: &ActionContext) {
        let w = &self.world;
        let key = &ctx.idempotency_key;
        if let Some(address) = recipient(input) {
            if let Ok(Some(reason)) = self.truth.suppressed(&address).await {
                w.violation(format!("{key} sent to {address}, suppressed ({reason})"));
            }
        }
        let kind = input
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("marketing");
        if kind != "marketing" {
            return;
        }
        let Some(cid) = &ctx.customer_id else {
            return w.violation(format!("{key}: marketing without a customer"));
        };
        let customer = self.truth.customer(cid).await.ok().flatten();
        let consent = customer
            .as_ref()
            .and_then(|c| c.get("consent"))
            .and_then(|c| c.get("email"));
        if consent != Some(&Value::Bool(true)) {
            w.violation(format!(
                "{key}: marketing to {cid}, whose email consent is {consent:?}"
            ));
        }
    }
}

#[async_trait]
impl Action for SimAction {
    fn name(&self) -> &str {
        self.name
    }

    fn channel(&self) -> Option<&'static str> {
        self.channel
    }

    async fn call(&self, input: Value, ctx: &ActionContext) -> Result<Value, ActionError> {
        let lost = |_| ActionError::Retryable("the process crashed".into());
        let op = self.faults.before().map_err(lost)?;
        let outcome = self.outcome();
        if matches!(
            outcome,
            Outcome::Ok | Outcome::FailAfter | Outcome::Hang | Outcome::Slow
        ) {
            self.effect(&input, ctx).await;
        }
        for _ in 0..self.world.rng.below(3) {
            tokio::task::yield_now().await;
        }
        match outcome {
            Outcome::Hang => tokio::time::sleep(Duration::from_secs(3600)).await,
            Outcome::Slow => {
                self.clock.advance(self.world.rng.below(120_000) as i64);
                for _ in 0..5 {
                    tokio::task::yield_now().await;
                }
            }
            _ => {}
        }
        self.faults.after(op).map_err(lost)?;
        match outcome {
            Outcome::FailBefore | Outcome::FailAfter => {
                Err(ActionError::Retryable("simulated failure".into()))
            }
            Outcome::Permanent => Err(ActionError::Permanent("simulated refusal".into())),
            Outcome::Ok | Outcome::Hang | Outcome::Slow => {
                Ok(json!({ "ok": true, "key": ctx.idempotency_key }))
            }
        }
    }
}
