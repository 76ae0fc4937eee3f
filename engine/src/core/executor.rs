//! Executing runs: claim due timers, then for each run feed the pure [`Machine`] and carry out
//! the effects it asks for (restraint checks, action calls, commits). Steps between two commits
//! are pure (branches), so a crash repeats at most the last action call, with the same
//! idempotency key.

use crate::core::context::{Context, EngineError};
use crate::core::lifecycle::{idempotency_key, Call, Effect, Input, Machine, Now};
use crate::core::metrics::Metrics;
use crate::core::registry::Registry;
use crate::core::restraint::Message;
use crate::core::runtime::RuntimeWorkflow;
use crate::core::trace;
use crate::store::LeaseClaim;
use crate::store::{DueWork, RunRow, TimerKind};
use mikawaya_dsl::ir::StepKind;
use mikawaya_plugins::{Action, ActionContext, ActionError};
use serde_json::Value;
use std::sync::Arc;
use tokio::task::JoinSet;

/// One piece of work for the executor.
#[derive(Debug)]
pub enum Work {
    /// A run the matcher just started (its first timer is leased to this process).
    Ready(Box<RunRow>),
    /// A timer claimed from the store.
    Due(DueWork),
}

/// Logs how a run's task ended, if it went wrong.
pub fn report(result: Result<Result<(), EngineError>, tokio::task::JoinError>) {
    match result {
        Ok(Err(e)) => tracing::error!("run execution failed: {e}"),
        Err(e) => tracing::error!("run task panicked: {e}"),
        Ok(Ok(())) => {}
    }
}

/// How long past the action timeout a call's slot stays leased (a crashed node's calls free
/// their slots after their timeout and this).
const LEASE_MARGIN_MS: i64 = 5_000;

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

    /// Executes one batch of due work concurrently (the runs the matcher handed over, then
    /// claimed timers) and waits for all of it; returns how many runs were handled.
    pub async fn process(&self) -> Result<usize, EngineError> {
        let (work, _) = self.next_work(self.ctx.config.batch as usize, true).await?;
        let count = work.len();
        let mut set = JoinSet::new();
        for w in work {
            self.spawn(&mut set, w);
        }
        while let Some(res) = set.join_next().await {
            report(res);
        }
        Ok(count)
    }

    /// Up to `n` pieces of work: ready runs first, then (when `claim`) the runs other nodes
    /// handed to this one and due timers claimed from the store. The flag tells whether the claim filled its share (more may be due).
    pub async fn next_work(&self, n: usize, claim: bool) -> Result<(Vec<Work>, bool), EngineError> {
        let now = self.ctx.clock.now_ms();
        let lease_ms = self.ctx.config.lease_ms;
        let mut work: Vec<Work> = self
            .ctx
            .ready
            .take(n, now, lease_ms)
            .into_iter()
            .map(|r| Work::Ready(Box::new(r.run)))
            .collect();
        if !claim || work.len() == n {
            return Ok((work, false));
        }
        // Runs another node's matcher handed here come with their rows, like the ready ones.
        let left = (n - work.len()) as i64;
        let handed = self.ctx.store.take_handed(now, left, lease_ms).await?;
        work.extend(handed.into_iter().map(|run| Work::Ready(Box::new(run))));
        let want = n - work.len();
        if want == 0 {
            return Ok((work, true));
        }
        let claimed = self.ctx.store.claim_due(now, want as i64, lease_ms).await?;
        let full = claimed.len() == want;
        for due in &claimed {
            let lag_ms = (now - due.due_at).max(0);
            self.ctx
                .metrics
                .timer_lag_seconds
                .observe(lag_ms as f64 / 1000.0);
        }
        work.extend(claimed.into_iter().map(Work::Due));
        Ok((work, full))
    }

    /// Executes `work` on its own task in `set`, counted as in flight until it ends.
    pub fn spawn(&self, set: &mut JoinSet<Result<(), EngineError>>, work: Work) {
        let executor = self.clone();
        self.ctx.metrics.runs_in_flight.inc();
        set.spawn(async move {
            let result = match work {
                Work::Ready(run) => {
                    let due = DueWork {
                        run_id: run.id.clone(),
                        kind: TimerKind::Exec,
                        attempt: 1,
                        due_at: run.started_at,
                    };
                    executor.execute(due, Some(*run)).await
                }
                Work::Due(due) => executor.execute(due, None).await,
            };
            Metrics::sub(&executor.ctx.metrics.runs_in_flight, 1);
            result
        });
    }

    fn now(&self) -> Now {
        Now {
            ms: self.ctx.clock.now_ms(),
            random: self.ctx.clock.random(),
            lease_ms: self.ctx.config.lease_ms,
        }
    }

    /// Executes one claimed timer (of `run` when the caller has it already): the machine
    /// decides, this carries out.
    async fn execute(&self, work: DueWork, run: Option<RunRow>) -> Result<(), EngineError> {
        let run = match run {
            Some(run) => run,
            None => match self.ctx.store.run(&work.run_id).await? {
                Some(run) => run,
                None => return Ok(()),
            },
        };
        let workflow = self.registry.version(&run.workflow, run.version);
        let mut machine = Machine::new(run, workflow.as_deref(), Value::Null)
            .with_output_limit(self.ctx.config.max_output_bytes);
        // Only when its steps read it: many runs never do past their entry condition.
        if let (true, Some(id)) = (machine.needs_customer(), &machine.run().customer_id) {
            let customer = self
                .ctx
                .customer_reads
                .read(id, &self.ctx.knowledge(), self.ctx.clock.now_ms())
                .await?;
            machine.set_customer(customer);
        }
        let due = Input::Due {
            kind: work.kind,
            attempt: work.attempt,
        };
        let was_final = machine.run().status.is_final();
        let mut effect = machine.advance(due, self.now());
        loop {
            let input = match effect {
                Effect::Done => return Ok(()),
                Effect::Commit {
                    transition,
                    then_continue,
                } => {
                    let ends = transition.status.is_final();
                    if !self.ctx.commits.commit(*transition).await? {
                        return Ok(());
                    }
                    if ends && !was_final {
                        self.ctx.metrics.runs_ended.inc();
                    }
                    if !then_continue {
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
                    let priority = workflow.as_ref().map(|w| w.priority).unwrap_or_default();
                    let message = Message {
                        channel,
                        input: &input,
                        customer_id: run.customer_id.as_deref(),
                        customer: machine.customer(),
                        over_cap,
                        key: &key,
                        run_id: &run.id,
                        workflow: &run.workflow,
                        window: workflow.as_ref().and_then(|w| w.send_window.as_ref()),
                        priority,
                        yields_last_slot: self.registry.outranked(priority),
                    };
                    let decision = self
                        .ctx
                        .restraint
                        .decide(message, self.ctx.clock.now_ms())
                        .await
                        .map_err(|e| e.to_string());
                    if let Ok(d) = &decision {
                        self.ctx.metrics.message(channel, d.outcome());
                    }
                    Input::Restraint(decision)
                }
                Effect::LookBack(look) => {
                    let until = workflow
                        .as_deref()
                        .and_then(|w| match &w.steps[look.step].kind {
                            StepKind::Wait { until, .. } => until.as_ref(),
                            _ => None,
                        });
                    let found = match until {
                        Some(u) => crate::core::lookback::find(
                            &*self.ctx.store,
                            u,
                            &look,
                            self.ctx.clock.now(),
                        )
                        .await
                        .map_err(|e| e.to_string()),
                        None => Ok(None),
                    };
                    Input::LookedBack(found)
                }
                Effect::Call(call) => {
                    let claimed = match &call.throttle {
                        None => Ok(None),
                        Some(slot) => {
                            let now = self.ctx.clock.now_ms();
                            let store = &self.ctx.store;
                            store
                                .claim_slot(&slot.key, now, slot.max, slot.window_ms)
                                .await
                        }
                    };
                    match claimed {
                        Ok(None) => {
                            let w = workflow
                                .as_deref()
                                .expect("a call comes from a loaded workflow");
                            self.call_in_turn(w, machine.run(), call).await
                        }
                        Ok(Some(until)) => Input::Throttled(until),
                        // The store failed: try the step again shortly, as a retryable failure.
                        Err(e) => Input::Called(Err(ActionError::Retryable(format!(
                            "claiming a throttle slot: {e}"
                        )))),
                    }
                }
            };
            effect = machine.advance(input, self.now());
        }
    }

    /// Calls step `call.step`'s action, within its concurrency limit if it has one (the
    /// server's `--action-concurrency` for the action, else its plugin's): the call holds a
    /// lease for its duration, or the run queues for a slot ([`Input::Queued`]).
    async fn call_in_turn(&self, w: &RuntimeWorkflow, run: &RunRow, call: Call) -> Input {
        let action = self.action_for(w, call.step, run);
        let limit = w.action_name(call.step).and_then(|name| {
            match self.ctx.config.action_concurrency.get(name) {
                Some(max) => Some((format!("action:{name}"), *max)),
                None => action.as_ref()?.concurrency(),
            }
        });
        let Some((key, max)) = limit else {
            return Input::Called(self.call_action(w, run, action, call).await);
        };
        let holder = idempotency_key(&run.id, &w.steps[call.step].id);
        let now = self.ctx.clock.now_ms();
        let timeout = self.ctx.config.action_timeout.as_millis() as i64;
        let lease = LeaseClaim {
            key: &key,
            holder: &holder,
            run_id: &run.id,
            max,
            now,
            until: now + timeout + LEASE_MARGIN_MS,
        };
        match self.ctx.store.acquire_lease(&lease).await {
            Ok(None) => {}
            Ok(Some(until)) => return Input::Queued(until, key),
            Err(e) => {
                return Input::Called(Err(ActionError::Retryable(format!(
                    "taking a call slot of {key}: {e}"
                ))))
            }
        }
        let result = self.call_action(w, run, action, call).await;
        let done = self.ctx.clock.now_ms();
        if let Err(e) = self.ctx.store.release_lease(&key, &holder, done).await {
            // The lease ends by itself at its `until`; the slot is only late.
            tracing::warn!("releasing a call slot of {key}: {e}");
        }
        Input::Called(result)
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

    /// Calls step `call.step`'s `action` (as [`Executor::action_for`] resolved it) and records
    /// what happened: its duration and outcome in the metrics, and a trace line (a failure at
    /// warn level).
    async fn call_action(
        &self,
        w: &RuntimeWorkflow,
        run: &RunRow,
        action: Option<Arc<dyn Action>>,
        call: Call,
    ) -> Result<Value, ActionError> {
        let name = w.action_name(call.step).unwrap_or_default();
        let step_id = &w.steps[call.step].id;
        let attempt = call.attempt;
        let trace_id = trace::of_run(run);
        let started = std::time::Instant::now();
        let result = self.invoke(w, run, action, call, &trace_id).await;
        let metrics = &self.ctx.metrics;
        metrics.step(name, result.is_ok(), started.elapsed().as_secs_f64());
        match &result {
            Ok(_) => {
                metrics.actions_ok.inc();
                tracing::debug!(
                    target: trace::TARGET,
                    %trace_id, run_id = %run.id, workflow = %run.workflow, step = %step_id,
                    action = name, attempt, "action called"
                );
            }
            Err(e) => {
                metrics.actions_failed.inc();
                tracing::warn!(
                    target: trace::TARGET,
                    %trace_id, run_id = %run.id, workflow = %run.workflow, step = %step_id,
                    action = name, attempt, error = %e, "action failed"
                );
            }
        }
        result
    }

    /// The action call itself, bounded by the action timeout, in trace `trace_id`.
    async fn invoke(
        &self,
        w: &RuntimeWorkflow,
        run: &RunRow,
        action: Option<Arc<dyn Action>>,
        call: Call,
        trace_id: &str,
    ) -> Result<Value, ActionError> {
        let Some(action) = action else {
            let name = w.action_name(call.step).unwrap_or_default();
            return Err(ActionError::Permanent(format!("unknown action `{name}`")));
        };
        let step_id = &w.steps[call.step].id;
        let idempotency_key = idempotency_key(&run.id, step_id);
        let ctx = ActionContext {
            workflow: run.workflow.clone(),
            version: run.version,
            run_id: run.id.clone(),
            step_id: step_id.clone(),
            customer_id: run.customer_id.clone(),
            traceparent: Some(trace::traceparent(trace_id, &idempotency_key)),
            idempotency_key,
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
