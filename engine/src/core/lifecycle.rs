//! The run lifecycle as a pure state machine: which status may follow which, and what each step
//! of a run does. [`Machine::advance`] takes the run's progress and one [`Input`] (a timer fired,
//! restraint answered, an action returned, a commit succeeded) and returns the next [`Effect`]
//! for the executor to carry out (ask restraint, call an action, commit a [`Transition`]). No I/O
//! happens here: time and randomness come in through [`Now`], so every path is a plain unit test.
//!
//! Which status may follow which is stated in [`crate::store::status`] (the stores enforce it)
//! and re-exported here; `lifecycle/tests.rs` checks every cell of that table.

use crate::clock::{rfc3339, to_time, Millis};
use crate::core::restraint::Decision;
use crate::core::runtime::{target_index, RuntimeWorkflow};
use crate::core::scope::{key_string, run_value, RunScope};
use crate::store::{
    DeadLetter, RunRow, RunStatus, SentMessage, TimelineEntry, Timer, TimerKind, Transition,
    WaitRow,
};
use mikawaya_dsl::ir::{eval_args, Step, StepKind};
use mikawaya_plugins::ActionError;
use serde_json::{json, Value};

pub use crate::store::status::{
    after_wait, check, from_statuses, initial_status, to_statuses, Cause, Refused, CAUSES,
};
use RunStatus::*;

/// The idempotency key of a step of a run: the same for every attempt, after a crash too, so
/// actions and the message log can tell a repeat from a new call.
pub fn idempotency_key(run_id: &str, step_id: &str) -> String {
    format!("{run_id}:{step_id}")
}

/// The outside world as the machine may see it: the time, a random number, the lease length.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// Current time.
    pub ms: Millis,
    /// A random number (retry jitter).
    pub random: u64,
    /// How long a worker keeps a run it goes on executing after a commit.
    pub lease_ms: i64,
}

/// What the machine is told.
#[derive(Debug)]
pub enum Input {
    /// The run's timer fired.
    Due {
        /// Execute the current step, or end the current wait.
        kind: TimerKind,
        /// Attempt of the current step.
        attempt: u32,
    },
    /// Restraint's answer about the pending call (or why it could not answer).
    Restraint(Result<Decision, String>),
    /// The pending action call returned.
    Called(Result<Value, ActionError>),
    /// The last commit succeeded.
    Committed,
    /// What the wait's lookback found: an awaited event's id, or none.
    LookedBack(Result<Option<String>, String>),
    /// The pending call's throttle has no free slot before this time.
    Throttled(Millis),
    /// The pending call's action is at its concurrency limit (counted under the key): the run
    /// waits in line, until this time at the latest (a freed slot wakes it sooner).
    Queued(Millis, String),
}

/// What the executor must do next.
#[derive(Debug)]
pub enum Effect {
    /// Ask restraint about a customer-facing call, then send [`Input::Restraint`].
    Restrain {
        /// The step's idempotency key (the message is claimed under it).
        key: String,
        /// The action's channel.
        channel: &'static str,
        /// The evaluated input.
        input: Value,
    },
    /// Call the step's action, then send [`Input::Called`].
    Call(Call),
    /// Commit; then stop, or send [`Input::Committed`] when `then_continue`.
    Commit {
        /// The change.
        transition: Box<Transition>,
        /// Whether more steps follow in this execution.
        then_continue: bool,
    },
    /// Look for an awaited event received before the wait began, then send
    /// [`Input::LookedBack`].
    LookBack(LookBack),
    /// Nothing to do (the timer no longer applies).
    Done,
}

/// An action call to make.
#[derive(Debug, Clone)]
pub struct Call {
    /// Step index.
    pub step: usize,
    /// Evaluated input.
    pub input: Value,
    /// Attempt number.
    pub attempt: u32,
    /// The channel to put an unsubscribe link for, when the message is marketing.
    pub unsubscribe: Option<&'static str>,
    /// What templates see (`customer`, `event`, `run`, `steps`, `entity`).
    pub scope: Value,
    /// The call slot to claim first, when the step is throttled.
    pub throttle: Option<Slot>,
}

/// A throttled step's call slot: `max` calls of `key` per `window_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// `<action>:<value of per>` (`<action>:*` without `per`).
    pub key: String,
    /// Calls allowed in a window.
    pub max: u32,
    /// The window.
    pub window_ms: i64,
}

/// A run between two commits.
pub struct Machine<'w> {
    run: RunRow,
    workflow: Option<&'w RuntimeWorkflow>,
    customer: Value,
    step: Option<usize>,
    attempt: u32,
    timeline: Vec<TimelineEntry>,
    pending: Option<(Call, Option<SentMessage>)>,
    max_output: usize,
    /// `run.*` for expressions, built once.
    run_value: Value,
    /// The wait step whose lookback ran in this execution (it runs once).
    looked_back: Option<usize>,
    /// Splits taken since the last commit (written with the next one).
    experiments: Vec<crate::store::ExperimentEntry>,
}

/// What an action may leave in the run by default: 64 KiB of JSON.
pub const DEFAULT_MAX_OUTPUT: usize = 64 * 1024;

/// `output`, or a stand-in naming its size and starting with a preview when its JSON is longer
/// than `limit` bytes: a 100 MB answer must not end up in the run's context, the timeline and
/// every `GET /runs/{id}`.
pub fn cap_output(output: Value, limit: usize) -> Value {
    let text = output.to_string();
    if text.len() <= limit {
        return output;
    }
    let mut end = limit.min(1024);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    json!({ "truncated": true, "bytes": text.len(), "preview": &text[..end] })
}

impl<'w> Machine<'w> {
    /// The machine for `run`, on its workflow version (`None`: not loaded), for `customer`.
    pub fn new(run: RunRow, workflow: Option<&'w RuntimeWorkflow>, customer: Value) -> Self {
        Machine {
            step: run.step,
            run_value: run_value(&run),
            run,
            workflow,
            customer,
            attempt: 1,
            timeline: Vec::new(),
            pending: None,
            looked_back: None,
            experiments: Vec::new(),
            max_output: DEFAULT_MAX_OUTPUT,
        }
    }

    /// Caps what one action's output may keep in the run at `bytes` of JSON.
    pub fn with_output_limit(mut self, bytes: usize) -> Self {
        self.max_output = bytes;
        self
    }

    /// The run as the machine holds it.
    pub fn run(&self) -> &RunRow {
        &self.run
    }

    /// The customer as expressions see it.
    pub fn customer(&self) -> &Value {
        &self.customer
    }

    /// Whether the run needs its customer: it has one, is not finished, and its workflow's steps
    /// read it (or its version is not loaded).
    pub fn needs_customer(&self) -> bool {
        self.run.customer_id.is_some()
            && !self.run.status.is_final()
            && self.workflow.is_none_or(|w| w.steps_read_customer)
    }

    /// Sets the customer (after [`Machine::needs_customer`]).
    pub fn set_customer(&mut self, customer: Value) {
        self.customer = customer;
    }

    /// Moves the run on by one input.
    pub fn advance(&mut self, input: Input, now: Now) -> Effect {
        match input {
            Input::Due { kind, attempt } => self.due(kind, attempt, now),
            Input::Restraint(decision) => self.restrained(decision, now),
            Input::Called(result) => self.called(result, now),
            Input::LookedBack(found) => self.looked_back(found, now),
            Input::Throttled(until) => {
                let key = self.pending_throttle_key();
                self.wait_for_slot("throttled", key, until, now)
            }
            Input::Queued(until, key) => self.wait_for_slot("queued", Some(key), until, now),
            Input::Committed => {
                self.run.rev += 1;
                self.attempt = 1;
                self.walk(now)
            }
        }
    }

    fn due(&mut self, kind: TimerKind, attempt: u32, now: Now) -> Effect {
        if self.run.status.is_final() {
            // A stale timer of a finished run: clear it.
            let status = self.run.status;
            return self.commit(status, None, now);
        }
        let Some(w) = self.workflow else {
            let reason = format!(
                "workflow {} version {} is not loaded",
                self.run.workflow, self.run.version
            );
            return self.end(Failed, reason, now);
        };
        self.attempt = attempt;
        if kind == TimerKind::Wake && self.run.status != Waiting {
            // Claimed just before an event resumed the run: the resume set its own timer.
            return Effect::Done;
        }
        if kind == TimerKind::Wake {
            let Some((step, StepKind::Wait { next, until, .. })) = self
                .step
                .and_then(|i| w.ir.steps.get(i))
                .map(|s| (s, &s.kind))
            else {
                // Waiting at a step that is no wait: end the run rather than leave its timer to
                // fire again at every lease.
                let reason = format!("run waits at step {:?}, which is not a wait", self.step);
                return self.end(Failed, reason, now);
            };
            let status = if until.is_some() { "timeout" } else { "done" };
            self.timeline.push(entry(step, status, 1, Value::Null, now));
            self.step = target_index(*next);
        }
        self.walk(now)
    }

    /// Runs pure steps until one needs the outside world or the run stops.
    fn walk(&mut self, now: Now) -> Effect {
        let Some(w) = self.workflow else {
            return Effect::Done;
        };
        loop {
            let Some(index) = self.step else {
                return self.commit(Completed, None, now);
            };
            let step = &w.ir.steps[index];
            let data = RunScope {
                run: &self.run,
                customer: &self.customer,
                run_value: &self.run_value,
            };
            let scope = data.scope(to_time(now.ms), w.tz);
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
                    let status = if result { "yes" } else { "no" };
                    self.timeline.push(entry(step, status, 1, detail, now));
                    self.step = target_index(if result { *then } else { *otherwise });
                }
                StepKind::Split { .. } => self.take_split(w, index, now),
                StepKind::Decide { .. } => self.take_decision(w, index, now),
                StepKind::Exit { reason } => {
                    let detail = json!({ "reason": reason });
                    self.timeline.push(entry(step, "exited", 1, detail, now));
                    return self.end(Exited, reason.clone(), now);
                }
                StepKind::Wait { .. } => {
                    if let Some(effect) = self.begin_wait(w, index, now) {
                        return effect;
                    }
                }
                StepKind::Action {
                    args,
                    action,
                    throttle,
                    ..
                } => {
                    let input = match eval_args(args, &scope) {
                        Ok(input) => input,
                        Err(e) => {
                            let err = ActionError::Permanent(format!("argument: {e}"));
                            return self.after_call(index, Value::Null, Err(err), None, now);
                        }
                    };
                    let call = Call {
                        step: index,
                        input: input.clone(),
                        attempt: self.attempt,
                        unsubscribe: None,
                        // A copy of the run's data, only for actions that render templates.
                        scope: if w.uses_scope(index) {
                            data.to_json()
                        } else {
                            Value::Null
                        },
                        throttle: throttle.as_ref().map(|t| Slot {
                            key: slot_key(action, t.per.as_ref(), &scope),
                            max: t.max,
                            window_ms: t.window_ms,
                        }),
                    };
                    self.pending = Some((call, None));
                    return match w.channel(index) {
                        Some(channel) => Effect::Restrain {
                            key: idempotency_key(&self.run.id, &step.id),
                            channel,
                            input,
                        },
                        None => self.call_pending(),
                    };
                }
            }
        }
    }

    fn call_pending(&self) -> Effect {
        match &self.pending {
            Some((call, _)) => Effect::Call(call.clone()),
            None => Effect::Done,
        }
    }

    fn restrained(&mut self, decision: Result<Decision, String>, now: Now) -> Effect {
        let (Some(w), Some((call, _))) = (self.workflow, self.pending.take()) else {
            return Effect::Done;
        };
        let step = &w.ir.steps[call.step];
        let action = w.action_name(call.step).unwrap_or_default().to_string();
        let channel = w.channel(call.step).unwrap_or("email");
        match decision {
            Ok(Decision::Send { kind, address }) => {
                let unsubscribe =
                    (kind == "marketing" && self.run.customer_id.is_some()).then_some(channel);
                let sent = SentMessage {
                    customer_id: self.run.customer_id.clone(),
                    channel: channel.into(),
                    kind,
                    address,
                    workflow: self.run.workflow.clone(),
                    key: idempotency_key(&self.run.id, &step.id),
                    tags: crate::core::restraint::message_tags(&call.input),
                };
                self.pending = Some((
                    Call {
                        unsubscribe,
                        ..call
                    },
                    Some(sent),
                ));
                self.call_pending()
            }
            Ok(Decision::Skip(why, reason)) => {
                // `why` is the reason's code, which the page's counts group by (the sentence
                // names the customer).
                let detail = json!({ "action": action, "reason": reason, "why": why.as_str() });
                self.timeline
                    .push(entry(step, "skipped", call.attempt, detail, now));
                self.step = w.next_of(call.step);
                self.walk(now)
            }
            Ok(Decision::Defer { until, reason }) => {
                let detail = json!({ "action": action, "reason": reason, "until": rfc3339(until) });
                self.run_again_at(step, "deferred", call.attempt, detail, until, now)
            }
            Err(e) => {
                let err = ActionError::Retryable(format!("checking consent: {e}"));
                self.after_call(call.step, call.input, Err(err), None, now)
            }
        }
    }

    /// Records why the step waits (`status`, `detail`) and commits the run to execute it again,
    /// with the same attempt, at `until`.
    fn run_again_at(
        &mut self,
        step: &Step,
        status: &str,
        attempt: u32,
        detail: Value,
        until: Millis,
        now: Now,
    ) -> Effect {
        self.timeline
            .push(entry(step, status, attempt, detail, now));
        let timer = Timer {
            due_at: until,
            kind: TimerKind::Exec,
            attempt,
            lease_until: 0,
        };
        self.commit(Active, Some(timer), now)
    }

    fn called(&mut self, result: Result<Value, ActionError>, now: Now) -> Effect {
        let Some((call, sent)) = self.pending.take() else {
            return Effect::Done;
        };
        self.after_call(call.step, call.input, result, sent, now)
    }

    fn after_call(
        &mut self,
        index: usize,
        input: Value,
        result: Result<Value, ActionError>,
        sent: Option<SentMessage>,
        now: Now,
    ) -> Effect {
        let Some(w) = self.workflow else {
            return Effect::Done;
        };
        let step = &w.ir.steps[index];
        let StepKind::Action { action, retry, .. } = &step.kind else {
            return Effect::Done;
        };
        let attempt = self.attempt;
        match result {
            Ok(output) => {
                let output = cap_output(output, self.max_output);
                if let Some(steps) = self
                    .run
                    .context
                    .get_mut("steps")
                    .and_then(Value::as_object_mut)
                {
                    steps.insert(step.id.clone(), json!({ "output": output }));
                }
                let detail = json!({ "action": action, "input": input, "output": output });
                self.timeline
                    .push(entry(step, "done", attempt, detail, now));
                let next = w.next_of(index);
                self.step = next;
                let timer = next.map(|_| Timer {
                    due_at: now.ms,
                    kind: TimerKind::Exec,
                    attempt: 1,
                    lease_until: now.ms + now.lease_ms,
                });
                let status = if next.is_some() { Active } else { Completed };
                let mut effect = self.commit(status, timer, now);
                if let Effect::Commit {
                    transition,
                    then_continue,
                } = &mut effect
                {
                    transition.sent = sent;
                    *then_continue = next.is_some();
                }
                effect
            }
            Err(e) if e.is_retryable() && attempt < retry.attempts => {
                let base = retry.backoff(attempt);
                let delay = base / 2 + (now.random % (base as u64 / 2 + 1)) as i64;
                let detail = json!({ "action": action, "input": input, "error": e.message(), "retry_in_ms": delay });
                self.timeline
                    .push(entry(step, "retry", attempt, detail, now));
                let timer = Timer {
                    due_at: now.ms + delay,
                    kind: TimerKind::Exec,
                    attempt: attempt + 1,
                    lease_until: 0,
                };
                self.commit(Active, Some(timer), now)
            }
            Err(e) => {
                let detail = json!({ "action": action, "input": input, "error": e.message() });
                self.timeline
                    .push(entry(step, "failed", attempt, detail, now));
                let mut effect =
                    self.end(Failed, format!("{} failed: {}", step.id, e.message()), now);
                if let Effect::Commit { transition, .. } = &mut effect {
                    transition.dead_letter = Some(DeadLetter {
                        step_id: step.id.clone(),
                        action: action.clone(),
                        input,
                        error: e.message().into(),
                        attempts: attempt,
                    });
                }
                effect
            }
        }
    }

    /// Commits the progress with `status` and `timer`; the run's current step stays where the
    /// walk left it.
    fn commit(&mut self, status: RunStatus, timer: Option<Timer>, now: Now) -> Effect {
        let transition = Transition {
            timeline: std::mem::take(&mut self.timeline),
            experiments: std::mem::take(&mut self.experiments),
            timer,
            ..Transition::new(
                self.run.id.clone(),
                self.run.rev,
                status,
                self.step,
                self.run.context.clone(),
                now.ms,
            )
        };
        Effect::Commit {
            transition: Box::new(transition),
            then_continue: false,
        }
    }

    fn end(&mut self, status: RunStatus, reason: String, now: Now) -> Effect {
        let mut effect = self.commit(status, None, now);
        if let Effect::Commit { transition, .. } = &mut effect {
            transition.exit_reason = Some(reason);
        }
        effect
    }
}

/// A throttle's key: the action and the value of `per` (`*` without one, or when it is null).
fn slot_key(
    action: &str,
    per: Option<&mikawaya_dsl::expr::Expr>,
    scope: &mikawaya_dsl::expr::Scope<'_>,
) -> String {
    let value = per
        .and_then(|p| p.eval(scope).ok())
        .and_then(|v| key_string(&v.to_json()));
    format!("{action}:{}", value.as_deref().unwrap_or("*"))
}

fn entry(step: &Step, status: &str, attempt: u32, detail: Value, now: Now) -> TimelineEntry {
    let kind = match &step.kind {
        StepKind::Action { .. } => "action",
        StepKind::Wait { .. } => "wait",
        StepKind::Branch { .. } => "branch",
        StepKind::Exit { .. } => "exit",
        StepKind::Split { .. } => "split",
        StepKind::Decide { .. } => "decide",
    };
    TimelineEntry {
        step_id: step.id.clone(),
        kind: kind.into(),
        status: status.into(),
        attempt,
        at: now.ms,
        detail,
    }
}

mod decide;
mod slots;
mod split;
#[cfg(test)]
mod tests;
mod wait;
pub use wait::LookBack;
