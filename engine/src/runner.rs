//! Executing runs: claim due timers, walk the step graph, call actions with retries, commit each
//! transition atomically. Steps between two commits are pure (branches), so a crash repeats at most
//! the last action call, with the same idempotency key.

use crate::engine::{Engine, EngineError, Metrics};
use crate::matcher::target_index;
use crate::restraint::Decision;
use crate::scope::{key_string, workflow_tz, ScopeData};
use crate::store::{
    DeadLetter, DueWork, RunRow, RunStatus, SentMessage, TimelineEntry, Timer, TimerKind,
    Transition, WaitRow,
};
use mikawaya_dsl::ir::{eval_args, RetryPolicy, Step, StepKind, Workflow};
use mikawaya_plugins::{ActionContext, ActionError};
use rand::Rng;
use serde_json::{json, Value};
use std::sync::Arc;

/// In-memory progress of one run between commits.
struct Progress {
    run: RunRow,
    step: Option<usize>,
    timeline: Vec<TimelineEntry>,
}

/// What a call gets besides its input.
struct CallExtras {
    scope: Value,
    unsubscribe_url: Option<String>,
}

/// How an executed step leaves the run.
enum Outcome {
    /// Go on to this step (or the end) without committing.
    Continue(Option<usize>),
    /// Commit this transition and stop.
    Stop(Box<Transition>),
    /// Commit and go on (after an action's effect).
    CommitThen(Box<Transition>, Option<usize>),
}

impl Engine {
    /// Executes one batch of due timers concurrently; returns how many were handled.
    pub async fn process_due(self: &Arc<Self>) -> Result<usize, EngineError> {
        let now = self.clock.now_ms();
        let work = self
            .store
            .claim_due(now, self.config.batch, self.config.lease_ms)
            .await?;
        let count = work.len();
        let mut set = tokio::task::JoinSet::new();
        for w in work {
            let engine = self.clone();
            set.spawn(async move { engine.execute(w).await });
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

    fn entry(&self, step: &Step, status: &str, attempt: u32, detail: Value) -> TimelineEntry {
        let kind = match &step.kind {
            StepKind::Action { .. } => "action",
            StepKind::Wait { .. } => "wait",
            StepKind::Branch { .. } => "branch",
            StepKind::Exit { .. } => "exit",
        };
        TimelineEntry {
            step_id: step.id.clone(),
            kind: kind.into(),
            status: status.into(),
            attempt,
            at: self.clock.now_ms(),
            detail,
        }
    }

    fn transition(&self, p: &mut Progress, status: RunStatus, timer: Option<Timer>) -> Transition {
        Transition {
            run_id: p.run.id.clone(),
            rev: p.run.rev,
            status,
            step: p.step,
            context: p.run.context.clone(),
            timeline: std::mem::take(&mut p.timeline),
            timer,
            wait: None,
            exit_reason: None,
            dead_letter: None,
            sent: None,
            at: self.clock.now_ms(),
        }
    }

    /// Executes one claimed timer.
    async fn execute(&self, work: DueWork) -> Result<(), EngineError> {
        let Some(run) = self.store.run(&work.run_id).await? else {
            return Ok(());
        };
        let mut p = Progress {
            step: run.step,
            run,
            timeline: Vec::new(),
        };
        if p.run.status.is_final() {
            let status = p.run.status;
            let t = self.transition(&mut p, status, None);
            self.store.commit(t).await?;
            return Ok(());
        }
        let Some(w) = self.registry().version(&p.run.workflow, p.run.version) else {
            let mut t = self.transition(&mut p, RunStatus::Failed, None);
            t.exit_reason = Some(format!(
                "workflow {} version {} is not loaded",
                p.run.workflow, p.run.version
            ));
            self.store.commit(t).await?;
            return Ok(());
        };
        let mut attempt = work.attempt;
        if work.kind == TimerKind::Wake {
            let Some(step) = p.step.and_then(|i| w.steps.get(i)) else {
                return Ok(());
            };
            let StepKind::Wait { next, until, .. } = &step.kind else {
                return Ok(());
            };
            let status = if until.is_some() { "timeout" } else { "done" };
            p.timeline.push(self.entry(step, status, 1, Value::Null));
            p.step = target_index(*next);
        }
        let customer = self.customer(p.run.customer_id.as_deref()).await?;
        loop {
            let Some(index) = p.step else {
                let t = self.transition(&mut p, RunStatus::Completed, None);
                self.store.commit(t).await?;
                return Ok(());
            };
            let outcome = self.step(&w, index, &mut p, &customer, attempt).await;
            match outcome {
                Outcome::Continue(next) => p.step = next,
                Outcome::Stop(t) => {
                    self.store.commit(*t).await?;
                    return Ok(());
                }
                Outcome::CommitThen(t, next) => {
                    if !self.store.commit(*t).await? {
                        return Ok(());
                    }
                    p.run.rev += 1;
                    p.step = next;
                    attempt = 1;
                }
            }
        }
    }

    async fn step(
        &self,
        w: &Workflow,
        index: usize,
        p: &mut Progress,
        customer: &Value,
        attempt: u32,
    ) -> Outcome {
        let step = &w.steps[index];
        let data = ScopeData::of_run(&p.run, customer.clone());
        let scope = data.scope(self.clock.now(), workflow_tz(w));
        match &step.kind {
            StepKind::Branch {
                condition,
                then,
                otherwise,
            } => {
                let (result, error) = match condition.eval(&scope) {
                    Ok(v) => (v.truthy(), None),
                    Err(e) => (false, Some(e.message)),
                };
                let detail =
                    json!({ "condition": condition.source, "result": result, "error": error });
                p.timeline
                    .push(self.entry(step, if result { "yes" } else { "no" }, 1, detail));
                Outcome::Continue(target_index(if result { *then } else { *otherwise }))
            }
            StepKind::Exit { reason } => {
                p.timeline
                    .push(self.entry(step, "exited", 1, json!({ "reason": reason })));
                let mut t = self.transition(p, RunStatus::Exited, None);
                t.exit_reason = Some(reason.clone());
                Outcome::Stop(Box::new(t))
            }
            StepKind::Wait {
                duration_ms, until, ..
            } => {
                let due = self.clock.now_ms() + duration_ms;
                let wait = until.as_ref().and_then(|u| {
                    let key = u
                        .match_key
                        .eval(&scope)
                        .ok()
                        .and_then(|v| key_string(&v.to_json()))?;
                    Some(WaitRow {
                        event_type: u.event.clone(),
                        match_expr: u.match_key.source.clone(),
                        match_key: key,
                    })
                });
                let detail = json!({ "until": until.as_ref().map(|u| &u.event), "key": wait.as_ref().map(|w| &w.match_key), "due_at": crate::clock::rfc3339(due) });
                p.timeline.push(self.entry(step, "waiting", 1, detail));
                p.step = Some(index);
                let mut t = self.transition(
                    p,
                    RunStatus::Waiting,
                    Some(Timer {
                        due_at: due,
                        kind: TimerKind::Wake,
                        attempt: 1,
                        lease_until: 0,
                    }),
                );
                t.wait = wait;
                Outcome::Stop(Box::new(t))
            }
            StepKind::Action {
                action,
                args,
                retry,
                next,
            } => {
                let input = match eval_args(args, &scope) {
                    Ok(input) => input,
                    Err(e) => {
                        let err = Err(ActionError::Permanent(format!("argument: {e}")));
                        return self.after_action(
                            p,
                            step,
                            index,
                            action,
                            Value::Null,
                            err,
                            *retry,
                            attempt,
                            target_index(*next),
                            None,
                        );
                    }
                };
                let mut unsubscribe_url = None;
                let mut sent = None;
                if let Some(channel) = self
                    .action_for(action, &p.run.context)
                    .and_then(|a| a.channel())
                {
                    let cid = p.run.customer_id.clone();
                    let decision = self
                        .restraint(channel, &input, cid.as_deref(), customer, w.over_cap)
                        .await;
                    match decision {
                        Ok(Decision::Send { kind, address }) => {
                            if kind == "marketing" {
                                unsubscribe_url =
                                    cid.as_deref().map(|c| self.unsubscribe_url(c, channel));
                            }
                            sent = Some(SentMessage {
                                customer_id: cid,
                                channel: channel.into(),
                                kind,
                                address,
                                workflow: w.name.clone(),
                            });
                        }
                        Ok(Decision::Skip(reason)) => {
                            p.timeline.push(self.entry(
                                step,
                                "skipped",
                                attempt,
                                json!({ "action": action, "reason": reason }),
                            ));
                            return Outcome::Continue(target_index(*next));
                        }
                        Ok(Decision::Defer { until, reason }) => {
                            let detail = json!({ "action": action, "reason": reason, "until": crate::clock::rfc3339(until) });
                            p.timeline
                                .push(self.entry(step, "deferred", attempt, detail));
                            p.step = Some(index);
                            let timer = Timer {
                                due_at: until,
                                kind: TimerKind::Exec,
                                attempt,
                                lease_until: 0,
                            };
                            return Outcome::Stop(Box::new(self.transition(
                                p,
                                RunStatus::Active,
                                Some(timer),
                            )));
                        }
                        Err(e) => {
                            let err = Err(ActionError::Retryable(format!("checking consent: {e}")));
                            return self.after_action(
                                p,
                                step,
                                index,
                                action,
                                input,
                                err,
                                *retry,
                                attempt,
                                target_index(*next),
                                None,
                            );
                        }
                    }
                }
                let extras = CallExtras {
                    scope: data.to_json(),
                    unsubscribe_url,
                };
                let result = self
                    .call_action(action, input.clone(), p, step, attempt, extras)
                    .await;
                self.after_action(
                    p,
                    step,
                    index,
                    action,
                    input,
                    result,
                    *retry,
                    attempt,
                    target_index(*next),
                    sent,
                )
            }
        }
    }

    async fn call_action(
        &self,
        name: &str,
        input: Value,
        p: &Progress,
        step: &Step,
        attempt: u32,
        extras: CallExtras,
    ) -> Result<Value, ActionError> {
        let Some(action) = self.action_for(name, &p.run.context) else {
            return Err(ActionError::Permanent(format!("unknown action `{name}`")));
        };
        let ctx = ActionContext {
            workflow: p.run.workflow.clone(),
            version: p.run.version,
            run_id: p.run.id.clone(),
            step_id: step.id.clone(),
            customer_id: p.run.customer_id.clone(),
            idempotency_key: format!("{}:{}", p.run.id, step.id),
            attempt,
            scope: extras.scope,
            unsubscribe_url: extras.unsubscribe_url,
        };
        match tokio::time::timeout(self.config.action_timeout, action.call(input, &ctx)).await {
            Ok(r) => r,
            Err(_) => Err(ActionError::Retryable(format!(
                "timed out after {:?}",
                self.config.action_timeout
            ))),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn after_action(
        &self,
        p: &mut Progress,
        step: &Step,
        index: usize,
        action: &str,
        input: Value,
        result: Result<Value, ActionError>,
        retry: RetryPolicy,
        attempt: u32,
        next: Option<usize>,
        sent: Option<SentMessage>,
    ) -> Outcome {
        match result {
            Ok(output) => {
                Metrics::add(&self.metrics.actions_ok, 1);
                if let Some(steps) = p
                    .run
                    .context
                    .get_mut("steps")
                    .and_then(Value::as_object_mut)
                {
                    steps.insert(step.id.clone(), json!({ "output": output }));
                }
                p.timeline.push(self.entry(
                    step,
                    "done",
                    attempt,
                    json!({ "action": action, "input": input, "output": output }),
                ));
                p.step = next;
                let lease = self.clock.now_ms() + self.config.lease_ms;
                let timer = next.map(|_| Timer {
                    due_at: self.clock.now_ms(),
                    kind: TimerKind::Exec,
                    attempt: 1,
                    lease_until: lease,
                });
                let status = if next.is_some() {
                    RunStatus::Active
                } else {
                    RunStatus::Completed
                };
                let mut t = self.transition(p, status, timer);
                t.sent = sent;
                Outcome::CommitThen(Box::new(t), next)
            }
            Err(e) if e.is_retryable() && attempt < retry.attempts => {
                Metrics::add(&self.metrics.actions_failed, 1);
                let base = retry.backoff(attempt);
                let delay = base / 2 + rand::thread_rng().gen_range(0..=base / 2);
                let detail = json!({ "action": action, "input": input, "error": e.message(), "retry_in_ms": delay });
                p.timeline.push(self.entry(step, "retry", attempt, detail));
                p.step = Some(index);
                let timer = Timer {
                    due_at: self.clock.now_ms() + delay,
                    kind: TimerKind::Exec,
                    attempt: attempt + 1,
                    lease_until: 0,
                };
                Outcome::Stop(Box::new(self.transition(p, RunStatus::Active, Some(timer))))
            }
            Err(e) => {
                Metrics::add(&self.metrics.actions_failed, 1);
                p.timeline.push(self.entry(
                    step,
                    "failed",
                    attempt,
                    json!({ "action": action, "input": input, "error": e.message() }),
                ));
                p.step = Some(index);
                let mut t = self.transition(p, RunStatus::Failed, None);
                t.exit_reason = Some(format!("{} failed: {}", step.id, e.message()));
                t.dead_letter = Some(DeadLetter {
                    step_id: step.id.clone(),
                    action: action.into(),
                    input,
                    error: e.message().into(),
                    attempts: attempt,
                });
                Outcome::Stop(Box::new(t))
            }
        }
    }
}
