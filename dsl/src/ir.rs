//! The compiled IR the engine executes: a trigger, an entry condition and a graph of steps.
//!
//! Steps live in one vector and point at each other by index ([`Target`]), so a run's position is a
//! plain step index that is easy to store, and the graph export is a direct walk of the vector.

pub use crate::calendar::{Moment, WindowSetting};
use crate::expr::{Expr, Scope};
use crate::span::Pos;
use crate::template::Template;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A compiled workflow: immutable once built; a changed file is a new version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    /// Unique name.
    pub name: String,
    /// Version number written in the file.
    pub version: u32,
    /// Free text for people.
    pub description: Option<String>,
    /// The file it came from (not part of equality between syntaxes).
    pub file: String,
    /// What starts a run.
    pub trigger: Trigger,
    /// Entry condition, checked when the trigger fires.
    pub when: Option<Expr>,
    /// Event type that ends an active run as "goal reached".
    pub goal: Option<String>,
    /// Whether the same key may enter again.
    pub re_enroll: ReEnroll,
    /// The key re-enrollment counts by for event triggers, instead of the customer
    /// (`per event.kpi.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enroll_per: Option<Expr>,
    /// What a customer-facing step over the frequency cap does.
    pub over_cap: OverCap,
    /// Who gets the last slot of a frequency cap.
    #[serde(default, skip_serializing_if = "Priority::is_normal")]
    pub priority: Priority,
    /// A burst of triggers starts one run, with the last event, after a quiet time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debounce: Option<Debounce>,
    /// The workflow's own send window (`None`: the server's default, if any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_window: Option<WindowSetting>,
    /// All steps; `start` is the first.
    pub steps: Vec<Step>,
    /// The first step.
    pub start: Target,
    /// The aggregates of the customer's event history its expressions read (the engine keeps
    /// those event types per customer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aggregates: Vec<crate::expr::Aggregate>,
}

/// What starts a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// An event of this type.
    Event {
        /// Event type.
        event: String,
        /// Only this segment's `segment.entered`/`segment.left` events (`event.segment`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        segment: Option<String>,
    },
    /// A cron schedule in a time zone, optionally once per stored entity of a kind.
    Schedule {
        /// Cron expression with seconds (6 fields), normalised from 5-field input.
        cron: String,
        /// IANA time zone name.
        timezone: String,
        /// Entity kind iterated on each firing.
        for_each: Option<String>,
    },
    /// A date in an event's data, shifted by `offset_ms`, at a time of day in a time zone.
    Date {
        /// Path to the date inside the event (`event.contract.renewal_date`).
        date: Expr,
        /// Signed offset (negative = before the date).
        offset_ms: i64,
        /// Minutes after midnight at which it fires.
        at_minute: u32,
        /// IANA time zone name.
        timezone: String,
        /// Event type that carries the date; a newer event reschedules.
        from_event: String,
    },
}

/// Debouncing of an event trigger: each event (re)starts a quiet time per key; when it ends, the
/// run starts with the last event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Debounce {
    /// The quiet time in milliseconds.
    pub quiet_ms: i64,
    /// What bursts are grouped by (default: the customer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<Expr>,
}

/// Re-enrollment policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "after_ms", rename_all = "snake_case")]
pub enum ReEnroll {
    /// Once per key, ever.
    Never,
    /// Every time.
    Always,
    /// Again once this many milliseconds passed since the last enrollment.
    After(i64),
    /// Again only when the customer has no active run of the workflow: one run at a time, a
    /// trigger during a run is dropped.
    WhenFinished,
    /// Every time, and the new run replaces the customer's active one (which exits).
    Replace,
}

/// What a customer-facing step does when the customer already got the most messages allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OverCap {
    /// Skip the step (recorded with the reason) and go on.
    #[default]
    Skip,
    /// Wait until the cap allows another message, then send.
    Defer,
}

/// A workflow's claim on the last slot of a frequency cap: while a workflow of a higher
/// priority is loaded, a lower one leaves the last slot of every cap (of more than one) to it,
/// so a renewal notice (`high`) still goes out when a newsletter (`normal`) would have used it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Leaves the last slot to `normal` and `high` workflows.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Takes the last slot; the others leave it.
    High,
}

impl Priority {
    /// Whether this is the default (not serialised).
    pub fn is_normal(&self) -> bool {
        *self == Priority::Normal
    }

    /// The word used in both syntaxes.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
        }
    }
}

/// Where control goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The step at this index.
    Step(usize),
    /// The run completes.
    End,
}

/// One node of the step graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Stable id (explicit, or from its position such as `3.then.1`).
    pub id: String,
    /// Where it was written (not part of equality between syntaxes).
    pub pos: Pos,
    /// What it does.
    pub kind: StepKind,
}

/// Step kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// Run an action, then go to `next`.
    Action {
        /// Action name.
        action: String,
        /// Arguments, evaluated when the step runs.
        args: BTreeMap<String, Arg>,
        /// Retry policy.
        retry: RetryPolicy,
        /// At most so many calls per time (per key); calls over it wait for a free slot.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        throttle: Option<Box<Throttle>>,
        /// The following step.
        next: Target,
    },
    /// Wait `duration_ms`, or until an event; `next` on timeout, `on_event` when it arrives.
    Wait {
        /// Duration (timeout when `until` is set).
        duration_ms: i64,
        /// The awaited event.
        until: Option<WaitUntil>,
        /// Where to go when the time is up.
        next: Target,
        /// Where to go when the event arrives.
        on_event: Target,
        /// Wait until this moment instead of for `duration_ms`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<Box<Moment>>,
    },
    /// Go to `then` when the condition holds, else to `otherwise`.
    Branch {
        /// The condition.
        condition: Expr,
        /// When true.
        then: Target,
        /// When false.
        otherwise: Target,
    },
    /// An experiment: the run takes one variant, chosen by weight from a stable hash of the
    /// customer and the experiment's name (the same variant on every entry).
    Split {
        /// The experiment's name.
        experiment: String,
        /// The variants.
        variants: Vec<Variant>,
        /// What counts as a conversion.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        convert: Option<Conversion>,
    },
    /// A decision table: the matching row's values (`first`) or every matching row's
    /// (`collect`) become the step's output (`steps.<id>.output`), then `next`.
    Decide {
        /// The inputs.
        inputs: Vec<Expr>,
        /// Which rows are output.
        hit: crate::decide::HitPolicy,
        /// Declared complete: every input combination is taken by a row.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        complete: bool,
        /// The rows.
        rows: Vec<crate::decide::DecisionRow>,
        /// The following step.
        next: Target,
    },
    /// End the run with a reason.
    Exit {
        /// Why.
        reason: String,
    },
}

/// One variant of a split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// Its name.
    pub name: String,
    /// Its weight.
    pub weight: u32,
    /// Its first step (the step after the split when it has none).
    pub start: Target,
}

/// What counts as a conversion of an experiment: an event of the customer's within a time
/// after entering it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversion {
    /// The event type.
    pub event: String,
    /// The window after entering.
    pub within_ms: i64,
}

/// The event a wait listens for and how it is correlated with the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitUntil {
    /// Event type.
    pub event: String,
    /// Evaluated on the run when the wait starts and on each candidate event; equal values match.
    pub match_key: Expr,
    /// A condition a correlated event must meet too, evaluated on it (`where`); e.g. a KPI
    /// update ends the wait only once the value is back under its threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Expr>,
    /// An awaited event the engine received up to this long before the wait began counts too
    /// (looked up in the stored events when the wait starts), so one that raced the wait is
    /// not lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookback_ms: Option<i64>,
}

/// A throttle on an action's calls: at most `max` per `window_ms`, counted per value of `per`
/// (all calls of the action without it), across workflows and nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throttle {
    /// Calls allowed in a window.
    pub max: u32,
    /// The window in milliseconds.
    pub window_ms: i64,
    /// What calls are counted by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<Expr>,
}

impl Throttle {
    /// Reads `10/1s` (ten calls a second); `None` when it is not a rate.
    pub fn rate(text: &str) -> Option<(u32, i64)> {
        let (max, window) = text.split_once('/')?;
        let max: u32 = max.trim().parse().ok().filter(|m| *m > 0)?;
        let window = crate::expr::parse_duration(window.trim()).filter(|w| *w > 0)?;
        Some((max, window))
    }
}

/// Retry policy of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Total attempts, at least 1.
    pub attempts: u32,
    /// First backoff in milliseconds; doubles each attempt, with jitter.
    pub backoff_ms: i64,
    /// Largest backoff in milliseconds.
    pub max_backoff_ms: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            backoff_ms: 10_000,
            max_backoff_ms: 3_600_000,
        }
    }
}

impl RetryPolicy {
    /// Backoff before attempt `attempt + 1` (attempt counts from 1), without jitter.
    pub fn backoff(&self, attempt: u32) -> i64 {
        let factor = 1i64
            .checked_shl(attempt.saturating_sub(1).min(30))
            .unwrap_or(i64::MAX);
        self.backoff_ms
            .saturating_mul(factor)
            .min(self.max_backoff_ms)
    }
}

/// An action argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arg {
    /// A fixed value.
    Value(serde_json::Value),
    /// An expression whose value is passed as is (keeps its type).
    Expr(Expr),
    /// A string with placeholders.
    Template(Template),
    /// A mapping with some computed members.
    Object(BTreeMap<String, Arg>),
    /// A list with some computed members.
    List(Vec<Arg>),
}

impl Arg {
    /// Whether evaluating the argument reads anything under `root`.
    pub fn reads(&self, root: crate::expr::Root) -> bool {
        match self {
            Arg::Value(_) => false,
            Arg::Expr(e) => e.node.reads(root),
            Arg::Template(t) => t.reads(root),
            Arg::Object(map) => map.values().any(|a| a.reads(root)),
            Arg::List(items) => items.iter().any(|a| a.reads(root)),
        }
    }

    /// Evaluates the argument to JSON.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<serde_json::Value, crate::expr::EvalError> {
        Ok(match self {
            Arg::Value(v) => v.clone(),
            Arg::Expr(e) => e.eval(scope)?.to_json(),
            Arg::Template(t) => serde_json::Value::String(t.render(scope)?),
            Arg::Object(map) => eval_args(map, scope)?,
            Arg::List(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(|a| a.eval(scope))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

/// Evaluates all arguments of an action step into one JSON object.
pub fn eval_args(
    args: &BTreeMap<String, Arg>,
    scope: &Scope<'_>,
) -> Result<serde_json::Value, crate::expr::EvalError> {
    let mut out = serde_json::Map::new();
    for (k, v) in args {
        out.insert(k.clone(), v.eval(scope)?);
    }
    Ok(serde_json::Value::Object(out))
}

impl Workflow {
    /// Reads an IR written by serializing a [`Workflow`] (what the engine stores with each
    /// version). Expressions and templates are kept as their text and compiled again here, with
    /// the trigger's `for each` entity name in scope.
    pub fn from_ir_json(text: &str) -> Result<Workflow, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let entity = value["trigger"]["for_each"].as_str().map(String::from);
        crate::expr::with_deserialize_env(
            crate::expr::Env {
                entity,
                event: None,
            },
            || serde_json::from_value(value).map_err(|e| e.to_string()),
        )
    }

    /// True when both compile to the same logic, ignoring file names, positions and descriptions.
    pub fn same_logic(&self, other: &Workflow) -> bool {
        let strip = |w: &Workflow| {
            let mut w = w.clone();
            w.file.clear();
            w.description = None;
            w.steps.iter_mut().for_each(|s| s.pos = Pos::default());
            w
        };
        strip(self) == strip(other)
    }

    /// Names of all actions the workflow uses.
    pub fn actions(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().filter_map(|s| match &s.kind {
            StepKind::Action { action, .. } => Some(action.as_str()),
            _ => None,
        })
    }

    /// The event type that starts runs directly or through a date trigger, if any.
    pub fn trigger_event(&self) -> Option<&str> {
        match &self.trigger {
            Trigger::Event { event, .. } => Some(event),
            Trigger::Date { from_event, .. } => Some(from_event),
            Trigger::Schedule { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Workflow;

    /// Every example workflow survives the trip through its stored IR unchanged.
    #[test]
    fn examples_round_trip_through_the_stored_ir() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../workflows");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path().to_string_lossy().to_string();
            if crate::Syntax::of_file(&path).is_none() {
                continue;
            }
            let w = crate::compile_file(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
            let json = serde_json::to_string(&w).unwrap();
            let back = Workflow::from_ir_json(&json).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(back, w, "{path}");
            assert_eq!(back.file, w.file);
            assert_eq!(
                back.steps.iter().map(|s| s.pos).collect::<Vec<_>>(),
                w.steps.iter().map(|s| s.pos).collect::<Vec<_>>()
            );
            seen += 1;
        }
        assert!(seen >= 5, "found {seen} example workflows");
    }

    #[test]
    fn a_stored_ir_with_a_broken_expression_is_refused_with_the_reason() {
        let w = crate::compile_file(
            "a.mkw",
            "workflow \"a\" version 1\non event a.b\nwhen event.x > 1\ndo log()\n",
        )
        .unwrap();
        let json = serde_json::to_string(&w)
            .unwrap()
            .replace("event.x > 1", "event.x >");
        let err = Workflow::from_ir_json(&json).unwrap_err();
        assert!(err.contains("event.x >"), "{err}");
    }

    /// `wait 106751991167d` fits in an i64 but overflows when added to now; the DSL used to turn
    /// an overflowing duration into 0. Both syntaxes refuse anything over 100 years, at its place.
    #[test]
    fn durations_longer_than_a_century_are_refused_where_written() {
        let text = "workflow \"w\" version 1\non event a.b\nwait 106751991167d\ndo log()\n";
        let d = crate::compile_file("w.mkw", text).unwrap_err();
        let p = &d.problems[0];
        assert_eq!(
            (p.code, p.message.as_str()),
            ("duration", "a wait is longer than 100 years")
        );
        assert_eq!(crate::span::position(&d.source, p.span.start).line, 3);
        let text = "workflow \"w\" version 1\non event a.b\nwait 99999999999999999999d\ndo log()\n";
        assert!(
            crate::compile_file("w.mkw", text).is_err(),
            "an overflowing one too"
        );
        let yaml = "workflow: w\nversion: 1\ntrigger: { event: a.b }\nre_enroll: after 40000d\nsteps:\n  - wait: { for: 36500d }\n  - action: log\n";
        let d = crate::compile_file("w.yaml", yaml).unwrap_err();
        let messages: Vec<&str> = d.problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            ["`40000d` is longer than 100 years"],
            "{messages:?}"
        );
        assert!(crate::compile_file("w.yaml", &yaml.replace("after 40000d", "after 30d")).is_ok());
    }
}
