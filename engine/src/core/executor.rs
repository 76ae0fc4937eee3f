//! Executing runs: claim due timers, then for each run feed the pure [`Machine`] and carry out
//! the effects it asks for (restraint checks, action calls, commits). Steps between two commits
//! are pure (branches), so a crash repeats at most the last action call, with the same
//! idempotency key.

use crate::core::context::{Context, EngineError, Metrics};
use crate::core::lifecycle::{idempotency_key, Call, Effect, Input, Machine, Now};
use crate::core::registry::Registry;
use crate::core::restraint::Message;
use crate::core::runtime::RuntimeWorkflow;
use crate::store::{DueWork, RunRow};
use mikawaya_plugins::{Action, ActionContext, ActionError};
use serde_json::Value;
use std::sync::Arc;

/// Executes due runs: claims their timers, feeds each run to its [`Machine`] and carries out
/// the effects. Cheap to clone; each run executes on its own task.
#[derive(Clone)]
pub struct Executor {
    ctx: Arc<Context>,
    registry: Arc<Registry>,
}

impl Executor {
    /// An executor for runs of the workflows in `registry`.
    pub fn new(ctx: Arc<Context>, registry: Arc<Registry>) -> Self {
        Executor { ctx, registry }
    }

    /// Executes one batch of due timers concurrently; returns how many were handled.
    pub async fn process(&self) -> Result<usize, EngineError> {
        let now = self.ctx.clock.now_ms();
        let config = &self.ctx.config;
        let work = self
            .ctx
            .store
            .claim_due(now, config.batch, config.lease_ms)
            .await?;
        let count = work.len();
        let mut set = tokio::task::JoinSet::new();
        for w in work {
            let executor = self.clone();
            set.spawn(async move { executor.execute(w).await });
        }
        while let Some(res) = set.join_next().await {
            match res {
                Ok(Err(e)) => tracing::error!("run execution failed: {e}"),
                Err(e) => tracing::error!("run task panicked: {e}"),
                Ok(Ok(())) => {}
            }
        }
        Ok(count)
    }

    fn now(&self) -> Now {
        Now {
            ms: self.ctx.clock.now_ms(),
            random: self.ctx.clock.random(),
            lease_ms: self.ctx.config.lease_ms,
        }
    }

    /// Executes one claimed timer: the machine decides, this carries out.
    async fn execute(&self, work: DueWork) -> Result<(), EngineError> {
        let Some(run) = self.ctx.store.run(&work.run_id).await? else {
            return Ok(());
        };
        let workflow = self.registry.version(&run.workflow, run.version);
        let mut machine = Machine::new(run, workflow.as_deref(), Value::Null)
            .with_output_limit(self.ctx.config.max_output_bytes);
        if machine.needs_customer() {
            let customer = self
                .ctx
                .customer(machine.run().customer_id.as_deref())
                .await?;
            machine.set_customer(customer);
        }
        let due = Input::Due {
            kind: work.kind,
            attempt: work.attempt,
        };
        let mut effect = machine.advance(due, self.now());
        loop {
            let input = match effect {
                Effect::Done => return Ok(()),
                Effect::Commit {
                    transition,
                    then_continue,
                } => {
                    if !self.ctx.store.commit(*transition).await? || !then_continue {
                        return Ok(());
                    }
                    Input::Committed
                }
                Effect::Restrain {
                    key,
                    channel,
                    input,
                } => {
                    let run = machine.run();
                    let over_cap = workflow.as_ref().map(|w| w.over_cap).unwrap_or_default();
                    let message = Message {
                        channel,
                        input: &input,
                        customer_id: run.customer_id.as_deref(),
                        customer: machine.customer(),
                        over_cap,
                        key: &key,
                        run_id: &run.id,
                        workflow: &run.workflow,
                    };
                    let decision = self
                        .ctx
                        .restraint
                        .decide(message, self.ctx.clock.now_ms())
                        .await
                        .map_err(|e| e.to_string());
                    Input::Restraint(decision)
                }
                Effect::Call(call) => {
                    let w = workflow
                        .as_deref()
                        .expect("a call comes from a loaded workflow");
                    let result = self.call_action(w, machine.run(), call).await;
                    let counter = match &result {
                        Ok(_) => &self.ctx.metrics.actions_ok,
                        Err(_) => &self.ctx.metrics.actions_failed,
                    };
                    Metrics::add(counter, 1);
                    Input::Called(result)
                }
            };
            effect = machine.advance(input, self.now());
        }
    }

    /// The implementation to call for step `index` of a run: the one resolved at load time, or
    /// the plugin build the run pinned when it started, while that build is still loaded.
    fn action_for(
        &self,
        w: &RuntimeWorkflow,
        index: usize,
        run: &RunRow,
    ) -> Option<Arc<dyn Action>> {
        let resolved = w.action(index)?;
        if resolved.plugin.is_some() {
            let name = w.action_name(index)?;
            if let Some(pinned) = self
                .ctx
                .plugins
                .as_ref()
                .and_then(|p| p.pinned(name, &run.context["plugins"]))
            {
                return Some(pinned);
            }
        }
        Some(resolved.action.clone())
    }

    async fn call_action(
        &self,
        w: &RuntimeWorkflow,
        run: &RunRow,
        call: Call,
    ) -> Result<Value, ActionError> {
        let name = w.action_name(call.step).unwrap_or_default();
        let Some(action) = self.action_for(w, call.step, run) else {
            return Err(ActionError::Permanent(format!("unknown action `{name}`")));
        };
        let step_id = &w.steps[call.step].id;
        let ctx = ActionContext {
            workflow: run.workflow.clone(),
            version: run.version,
            run_id: run.id.clone(),
            step_id: step_id.clone(),
            customer_id: run.customer_id.clone(),
            idempotency_key: idempotency_key(&run.id, step_id),
            attempt: call.attempt,
            scope: call.scope,
            unsubscribe_url: call
                .unsubscribe
                .zip(run.customer_id.as_deref())
                .map(|(channel, c)| self.ctx.restraint.unsubscribe_url(c, channel)),
        };
        let timeout = self.ctx.config.action_timeout;
        match tokio::time::timeout(timeout, action.call(call.input, &ctx)).await {
            Ok(r) => r,
            Err(_) => Err(ActionError::Retryable(format!(
                "timed out after {timeout:?}"
            ))),
        }
    }
}
