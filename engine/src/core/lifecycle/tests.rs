//! The transition table, every cell, and the machine's paths through each kind of step.

use super::*;
use crate::core::runtime::{ActionResolver, RuntimeWorkflow};
use mikawaya_plugins::builtin::LogAction;
use mikawaya_plugins::Action;
use std::sync::Arc;

/// Which `to` statuses each `(from, cause)` allows; every other combination is refused.
const TABLE: &str = "
active    step           active waiting completed exited failed
waiting   step           active waiting completed exited failed
completed step           -
exited    step           -
failed    step           -
cancelled step           -
active    event_arrived  -
waiting   event_arrived  active completed
completed event_arrived  -
exited    event_arrived  -
failed    event_arrived  -
cancelled event_arrived  -
active    goal           exited
waiting   goal           exited
completed goal           -
exited    goal           -
failed    goal           -
cancelled goal           -
active    retry          -
waiting   retry          -
completed retry          -
exited    retry          -
failed    retry          active
cancelled retry          -
active    cancel         cancelled
waiting   cancel         cancelled
completed cancel         -
exited    cancel         -
failed    cancel         -
cancelled cancel         -
";

const STATUSES: [RunStatus; 6] = [Active, Waiting, Completed, Exited, Failed, Cancelled];

fn cause_named(name: &str) -> Cause {
    match name {
        "step" => Cause::Step,
        "event_arrived" => Cause::EventArrived,
        "goal" => Cause::Goal,
        "retry" => Cause::Retry,
        "cancel" => Cause::Cancel,
        other => panic!("unknown cause {other}"),
    }
}

#[test]
fn every_allowed_and_refused_transition_matches_the_table() {
    let mut cells = 0;
    for line in TABLE.lines().filter(|l| !l.trim().is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let from = RunStatus::parse(words[0]).unwrap();
        let cause = cause_named(words[1]);
        let allowed: Vec<RunStatus> = words[2..]
            .iter()
            .filter(|w| **w != "-")
            .map(|w| RunStatus::parse(w).unwrap())
            .collect();
        for to in STATUSES {
            let result = check(from, to, cause);
            assert_eq!(
                result.is_ok(),
                allowed.contains(&to),
                "{from:?} -> {to:?} by {cause:?}: {result:?}"
            );
            cells += 1;
        }
    }
    assert_eq!(
        cells,
        STATUSES.len() * STATUSES.len() * CAUSES.len(),
        "the table covers every cell"
    );
}

#[test]
fn finished_runs_never_move_except_a_failed_one_by_retry() {
    for cause in CAUSES {
        for from in [Completed, Exited, Cancelled] {
            assert!(STATUSES.iter().all(|to| check(from, *to, cause).is_err()));
        }
    }
    assert_eq!(check(Failed, Active, Cause::Retry), Ok(()));
    assert!(check(Failed, Completed, Cause::Retry).is_err());
}

struct Builtins;

impl ActionResolver for Builtins {
    fn resolve(&self, name: &str) -> Option<(Arc<dyn Action>, Option<String>)> {
        match name {
            "log" => Some((Arc::new(LogAction), None)),
            "email.send" => Some((Arc::new(FakeEmail), None)),
            _ => None,
        }
    }
}

/// Only its channel matters here.
struct FakeEmail;

#[async_trait::async_trait]
impl Action for FakeEmail {
    fn name(&self) -> &str {
        "email.send"
    }
    fn channel(&self) -> Option<&'static str> {
        Some("email")
    }
    fn uses_scope(&self) -> bool {
        true
    }
    async fn call(
        &self,
        _: Value,
        _: &mikawaya_plugins::ActionContext,
    ) -> Result<Value, ActionError> {
        unreachable!("the machine never calls actions")
    }
}

fn workflow(text: &str) -> RuntimeWorkflow {
    let ir = mikawaya_dsl::compile_file("t.mkw", text).unwrap();
    RuntimeWorkflow::build(Arc::new(ir), &Builtins).unwrap()
}

fn run(status: RunStatus, step: Option<usize>) -> RunRow {
    RunRow {
        id: "r1".into(),
        workflow: "t".into(),
        version: 1,
        customer_id: Some("c1".into()),
        status,
        step,
        rev: 7,
        context: json!({ "event": { "total": 120 }, "steps": {} }),
        started_at: 0,
        updated_at: 0,
        ended_at: None,
        exit_reason: None,
    }
}

const NOW: Now = Now {
    ms: 1_000_000,
    random: 0,
    lease_ms: 60_000,
};

fn exec(attempt: u32) -> Input {
    Input::Due {
        kind: TimerKind::Exec,
        attempt,
    }
}

fn committed(effect: Effect) -> (Transition, bool) {
    match effect {
        Effect::Commit {
            transition,
            then_continue,
        } => (*transition, then_continue),
        other => panic!("expected a commit, got {other:?}"),
    }
}

const FLOW: &str = "workflow \"t\" version 1\non event a.b\nif event.total > 100 {\n  do log(message: \"big\")\n} else {\n  exit \"small\"\n}\nwait 1h\n";

#[test]
fn a_branch_is_pure_and_an_action_is_called_then_committed_with_a_lease() {
    let w = workflow(FLOW);
    let mut m = Machine::new(run(Active, Some(0)), Some(&w), Value::Null);
    let Effect::Call(call) = m.advance(exec(1), NOW) else {
        panic!("the branch leads to the log action")
    };
    assert_eq!(call.input, json!({ "message": "big" }));
    let (t, go_on) = committed(m.advance(Input::Called(Ok(json!({"ok": true}))), NOW));
    assert!(go_on, "the wait follows");
    assert_eq!((t.status, t.rev), (Active, 7));
    assert_eq!(
        t.timeline
            .iter()
            .map(|e| e.status.as_str())
            .collect::<Vec<_>>(),
        ["yes", "done"]
    );
    assert_eq!(
        t.timer.unwrap().lease_until,
        NOW.ms + NOW.lease_ms,
        "kept by this worker"
    );
    assert_eq!(
        t.context["steps"][&w.steps[call.step].id]["output"],
        json!({"ok": true})
    );
    let (t, go_on) = committed(m.advance(Input::Committed, NOW));
    assert!(!go_on);
    assert_eq!(
        (t.status, t.rev),
        (Waiting, 8),
        "the revision follows the commit"
    );
    assert_eq!(t.timer.unwrap().kind, TimerKind::Wake);
}

#[test]
fn an_exit_step_ends_the_run_with_its_reason() {
    let w = workflow(FLOW);
    let mut r = run(Active, Some(0));
    r.context["event"]["total"] = json!(5);
    let mut m = Machine::new(r, Some(&w), Value::Null);
    let (t, _) = committed(m.advance(exec(1), NOW));
    assert_eq!(
        (t.status, t.exit_reason.as_deref(), t.timer),
        (Exited, Some("small"), None)
    );
}

#[test]
fn retryable_errors_back_off_until_the_attempts_run_out_then_dead_letter() {
    let w = workflow("workflow \"t\" version 1\non event a.b\ndo log() retry 3 backoff 10s\n");
    let mut m = Machine::new(run(Active, Some(0)), Some(&w), Value::Null);
    assert!(matches!(m.advance(exec(2), NOW), Effect::Call(_)));
    let err = Err(ActionError::Retryable("503".into()));
    let (t, _) = committed(m.advance(Input::Called(err), NOW));
    let timer = t.timer.unwrap();
    assert_eq!((t.status, timer.attempt), (Active, 3));
    // Attempt 2 backs off 20 s with jitter: between 10 s and 20 s.
    assert!(
        (NOW.ms + 10_000..=NOW.ms + 20_000).contains(&timer.due_at),
        "{timer:?}"
    );

    let mut m = Machine::new(run(Active, Some(0)), Some(&w), Value::Null);
    m.advance(exec(3), NOW);
    let (t, _) = committed(m.advance(
        Input::Called(Err(ActionError::Retryable("503".into()))),
        NOW,
    ));
    assert_eq!(t.status, Failed);
    assert_eq!(t.dead_letter.unwrap().attempts, 3);
    assert!(t.exit_reason.unwrap().contains("503"));
}

#[test]
fn a_permanent_error_fails_at_once() {
    let w = workflow("workflow \"t\" version 1\non event a.b\ndo log()\n");
    let mut m = Machine::new(run(Active, Some(0)), Some(&w), Value::Null);
    m.advance(exec(1), NOW);
    let (t, _) = committed(m.advance(
        Input::Called(Err(ActionError::Permanent("422".into()))),
        NOW,
    ));
    assert_eq!((t.status, t.step), (Failed, Some(0)));
}

#[test]
fn restraint_skips_defers_or_lets_a_marketing_call_through_with_an_unsubscribe_link() {
    let w = workflow("workflow \"t\" version 1\non event a.b\ndo email.send(to: \"a@x.io\", subject: \"s\", text: \"t\")\n");
    let restrain = |m: &mut Machine, d: Result<Decision, String>| {
        assert!(matches!(
            m.advance(exec(1), NOW),
            Effect::Restrain {
                channel: "email",
                ..
            }
        ));
        m.advance(Input::Restraint(d), NOW)
    };
    let mut m = Machine::new(run(Active, Some(0)), Some(&w), Value::Null);
    let (t, _) = committed(restrain(
        &mut m,
        Ok(Decision::Skip(
            crate::core::restraint::SkipReason::NoConsent,
            "no consent".into(),
        )),
    ));
    assert_eq!(
        (t.status, t.timeline[0].status.as_str()),
        (Completed, "skipped")
    );

    let mut m = Machine::new(run(Active, Some(0)), Some(&w), Value::Null);
    let later = NOW.ms + 3_600_000;
    let defer = Decision::Defer {
        until: later,
        reason: "cap".into(),
    };
    let (t, _) = committed(restrain(&mut m, Ok(defer)));
    assert_eq!((t.status, t.timer.unwrap().due_at), (Active, later));

    let mut m = Machine::new(run(Active, Some(0)), Some(&w), Value::Null);
    let send = Decision::Send {
        kind: "marketing".into(),
        address: Some("a@x.io".into()),
    };
    let Effect::Call(call) = restrain(&mut m, Ok(send)) else {
        panic!("sends")
    };
    assert_eq!(call.unsubscribe, Some("email"));
    let (t, _) = committed(m.advance(Input::Called(Ok(Value::Null)), NOW));
    assert_eq!(t.sent.unwrap().kind, "marketing", "counts toward the cap");

    let mut m = Machine::new(run(Active, Some(0)), Some(&w), Value::Null);
    let (t, _) = committed(restrain(&mut m, Err("database down".into())));
    assert_eq!(t.timer.unwrap().attempt, 2, "a failed check is retried");
}

#[test]
fn a_wait_timeout_moves_on_and_stale_or_orphaned_timers_are_handled() {
    let w = workflow("workflow \"t\" version 1\non event a.b\nwait 1h until event c.d match event.id -> exit \"replied\"\ndo log()\n");
    let mut m = Machine::new(run(Waiting, Some(0)), Some(&w), Value::Null);
    let wake = Input::Due {
        kind: TimerKind::Wake,
        attempt: 1,
    };
    assert!(matches!(m.advance(wake, NOW), Effect::Call(_)));

    let mut stale = Machine::new(run(Active, Some(1)), Some(&w), Value::Null);
    let wake = Input::Due {
        kind: TimerKind::Wake,
        attempt: 1,
    };
    assert!(
        matches!(stale.advance(wake, NOW), Effect::Done),
        "a resumed run ignores a stale wake"
    );
    let mut odd = Machine::new(run(Waiting, Some(1)), Some(&w), Value::Null);
    let wake = Input::Due {
        kind: TimerKind::Wake,
        attempt: 1,
    };
    let (t, _) = committed(odd.advance(wake, NOW));
    assert_eq!(
        (t.status, t.timer),
        (Failed, None),
        "no timer left to fire again"
    );

    let mut m = Machine::new(run(Completed, None), Some(&w), Value::Null);
    let (t, _) = committed(m.advance(exec(1), NOW));
    assert_eq!(
        (t.status, t.timer),
        (Completed, None),
        "a stale timer is cleared"
    );

    let mut m = Machine::new(run(Active, Some(0)), None, Value::Null);
    let (t, _) = committed(m.advance(exec(1), NOW));
    assert_eq!(t.status, Failed);
    assert!(t.exit_reason.unwrap().contains("not loaded"));
}

#[test]
fn a_huge_action_output_is_truncated_and_marked_before_it_reaches_the_run() {
    let w = workflow("workflow \"t\" version 1\non event a.b\ndo log()\n");
    let mut m = Machine::new(run(Active, Some(0)), Some(&w), Value::Null).with_output_limit(100);
    m.advance(exec(1), NOW);
    let big = json!({ "body": "x".repeat(10_000) });
    let (t, _) = committed(m.advance(Input::Called(Ok(big)), NOW));
    let kept = &t.context["steps"][&w.steps[0].id]["output"];
    assert_eq!(kept["truncated"], true);
    assert_eq!(kept["bytes"], 10_011);
    assert_eq!(kept["preview"].as_str().unwrap().len(), 100);
    assert_eq!(
        &t.timeline[0].detail["output"], kept,
        "the timeline keeps the same"
    );
    let small = json!({ "ok": true });
    assert_eq!(cap_output(small.clone(), 100), small);
}

#[test]
fn a_run_needs_its_customer_only_when_its_steps_read_it() {
    let head = "workflow \"t\" version 1\non event cart.abandoned\nwhen customer.consent.email\n\n";
    let needs = |steps: &str| {
        let w = workflow(&format!("{head}{steps}\n"));
        Machine::new(run(Active, Some(0)), Some(&w), Value::Null).needs_customer()
    };
    assert!(
        !needs("do log(message: \"cart {{ event.cart.id }}\")"),
        "the entry condition is decided when matching, not when executing"
    );
    assert!(needs("do log(message: \"hello {{ customer.name }}\")"));
    assert!(needs("do log(message: \"x\", tier: customer.tier)"));
    assert!(needs("do log(message: \"x\", who: [\"a\", customer.name])"));
    assert!(needs("if customer.vip {\n  do log(message: \"vip\")\n}"));
    assert!(!needs(
        "if event.total > 5 {\n  do log(message: \"big\")\n}"
    ));
    assert!(
        needs("do email.send(to: \"a@example.com\", subject: \"s\", text: \"t\")"),
        "a customer-facing action checks the customer's consent"
    );
    assert!(needs(
        "wait 1d until event order.placed match customer.id -> exit \"ordered\"\ndo log()"
    ));
    let w = workflow(&format!("{head}do log(message: \"x\")\n"));
    let finished = Machine::new(run(Completed, None), Some(&w), Value::Null);
    assert!(!finished.needs_customer());
    let unloaded = Machine::new(run(Active, Some(0)), None, Value::Null);
    assert!(
        unloaded.needs_customer(),
        "a version not loaded gets it, to be safe"
    );
}
