//! The surface syntax tree both YAML and the text DSL are parsed into, with spans for messages.

pub use crate::calendar::{MomentAst, WindowAst};
use crate::span::Span;

/// A value with the span it was written at.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps `value` found at `span`.
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// Expression text and the byte offset where it starts in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprSrc {
    /// The expression as written.
    pub text: String,
    /// Byte offset of `text` in the file.
    pub offset: usize,
}

impl ExprSrc {
    /// The span the expression covers.
    pub fn span(&self) -> Span {
        Span::new(self.offset, self.offset + self.text.len())
    }
}

/// One workflow as written.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowAst {
    /// `workflow: name`.
    pub name: Spanned<String>,
    /// `version: N`.
    pub version: Spanned<u32>,
    /// Free text for people.
    pub description: Option<String>,
    /// What starts a run.
    pub trigger: Spanned<TriggerAst>,
    /// The entry condition.
    pub when: Option<ExprSrc>,
    /// An event type that ends the run as "goal reached" whenever it arrives.
    pub goal: Option<Spanned<String>>,
    /// Whether a customer may enter again.
    pub re_enroll: Option<Spanned<ReEnrollAst>>,
    /// What re-enrollment counts by instead of the customer (`per event.kpi.id`).
    pub re_enroll_per: Option<ExprSrc>,
    /// `skip` or `defer` a message over the frequency cap.
    pub over_cap: Option<Spanned<String>>,
    /// `low`, `normal` or `high`: who gets the last slot of a frequency cap.
    pub priority: Option<Spanned<String>>,
    /// When marketing messages may go out.
    pub send_window: Option<Spanned<SendWindowAst>>,
    /// A burst of triggers starts one run, with the last event, after a quiet time.
    pub debounce: Option<DebounceAst>,
    /// The steps in order.
    pub steps: Vec<StepAst>,
}

/// What starts a run.
#[derive(Debug, Clone, PartialEq)]
pub enum TriggerAst {
    /// An event of a type arrives.
    Event {
        /// The event type, e.g. `cart.abandoned`.
        event: Spanned<String>,
        /// For `trigger: { segment: at-risk, on: enter }`: the segment (the event type is then
        /// `segment.entered` or `segment.left`).
        segment: Option<Spanned<String>>,
    },
    /// A cron schedule fires, optionally once per stored entity.
    Schedule {
        /// Cron expression (5 or 6 fields).
        cron: Spanned<String>,
        /// IANA time zone.
        tz: Option<Spanned<String>>,
        /// Entity kind iterated by the schedule (`contract`).
        for_each: Option<Spanned<String>>,
    },
    /// A date inside an event's data comes due, shifted by an offset.
    Date {
        /// Path to the date, e.g. `event.contract.renewal_date`.
        date: ExprSrc,
        /// Signed offset in milliseconds (negative = before).
        offset_ms: i64,
        /// Time of day `HH:MM` in `tz`.
        at: Option<Spanned<String>>,
        /// IANA time zone.
        tz: Option<Spanned<String>>,
        /// The event type that carries (and updates) the date.
        from_event: Spanned<String>,
    },
}

/// Re-enrollment policy as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReEnrollAst {
    /// Once per customer, ever.
    Never,
    /// Every time the trigger matches.
    Always,
    /// Again once this many milliseconds passed since the last enrollment.
    After(i64),
    /// Again only when the customer has no active run of the workflow (`when finished`).
    WhenFinished,
    /// Every time, ending the customer's active run of the workflow (`replace`).
    Replace,
}

/// One step as written.
#[derive(Debug, Clone, PartialEq)]
pub struct StepAst {
    /// An explicit id.
    pub id: Option<Spanned<String>>,
    /// What the step does.
    pub kind: StepKindAst,
    /// Where the step starts.
    pub span: Span,
}

/// Step shapes.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKindAst {
    /// Run an action.
    Action {
        /// Action name, e.g. `email.send`.
        name: Spanned<String>,
        /// Arguments.
        args: Vec<(Spanned<String>, ArgAst)>,
        /// Retry policy.
        retry: Option<RetryAst>,
        /// At most so many calls per time per key.
        throttle: Option<ThrottleAst>,
    },
    /// Wait for a time, or until an event with a timeout.
    Wait {
        /// How long (the timeout when waiting for an event).
        duration: Option<Spanned<i64>>,
        /// The event that ends the wait early.
        until: Option<WaitUntilAst>,
    },
    /// Wait until a moment (`until: customer-local 09:00 on weekdays`); one that could not be
    /// read carries its problem to the checker.
    WaitMoment(Result<MomentAst, crate::diag::Problem>),
    /// Branch on a condition.
    If {
        /// The condition.
        cond: ExprSrc,
        /// Steps when true.
        then: Vec<StepAst>,
        /// Steps when false.
        otherwise: Vec<StepAst>,
    },
    /// An experiment: each customer takes one variant, by weight, the same one every time.
    Split {
        /// The experiment's name (what its statistics are kept under).
        experiment: Spanned<String>,
        /// The conversion event and window (`convert: order.placed within 7d`).
        convert: Option<ConvertAst>,
        /// The variants, in order.
        variants: Vec<VariantAst>,
    },
    /// A decision table: inputs tested row by row; the matching row's values are the output.
    Decide {
        /// The inputs (one column each).
        inputs: Vec<ExprSrc>,
        /// `first` (default) or `collect`.
        hit: Option<Spanned<String>>,
        /// Every input combination must be taken by some row (checked where the cells tell).
        complete: bool,
        /// The rows.
        rows: Vec<RowAst>,
    },
    /// End the run.
    Exit {
        /// Why (shown in the run timeline).
        reason: Option<String>,
    },
}

/// `debounce 5m per event.account_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct DebounceAst {
    /// How long without a new trigger before the run starts.
    pub quiet: Spanned<i64>,
    /// What bursts are grouped by (default: the customer).
    pub per: Option<ExprSrc>,
}

/// A workflow's send window as written.
#[derive(Debug, Clone, PartialEq)]
pub enum SendWindowAst {
    /// `off`: no window, not even the server's default.
    Off,
    /// A window.
    On {
        /// Days and hours.
        window: WindowAst,
        /// The zone of customers without a valid `timezone`.
        tz: Option<Spanned<String>>,
        /// The holiday calendar: a name (`JP`) or a customer attribute (`customer.country`).
        holidays: Option<Spanned<String>>,
        /// `wait` or `skip` outside the window.
        outside: Option<Spanned<String>>,
    },
}

/// One row of a decision table as written.
#[derive(Debug, Clone, PartialEq)]
pub struct RowAst {
    /// A test per input.
    pub cells: Vec<crate::decide::Cell>,
    /// What the row outputs.
    pub output: Vec<(Spanned<String>, ArgAst)>,
    /// Where it was written.
    pub span: Span,
}

/// One variant of a split.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantAst {
    /// Its name.
    pub name: Spanned<String>,
    /// Its weight (shares are weight / total).
    pub weight: Spanned<u32>,
    /// Its steps (none: straight on after the split).
    pub steps: Vec<StepAst>,
}

/// What counts as a conversion of an experiment: an event within a time after entering it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvertAst {
    /// The event type.
    pub event: Spanned<String>,
    /// The window in milliseconds.
    pub within: Spanned<i64>,
}

/// `until_event` part of a wait.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitUntilAst {
    /// Event type awaited.
    pub event: Spanned<String>,
    /// Correlation key expression, evaluated on the run and on the incoming event.
    pub match_key: Option<ExprSrc>,
    /// A condition the incoming event must meet too (`event.*` is that event).
    pub condition: Option<ExprSrc>,
    /// How long before the wait began an awaited event still counts.
    pub lookback: Option<Spanned<i64>>,
    /// What happens when the event arrives.
    pub on_event: OutcomeAst,
    /// What happens when the time runs out.
    pub on_timeout: OutcomeAst,
}

/// Where a wait goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeAst {
    /// Go on with the next step.
    Continue,
    /// End the run with an optional reason.
    Exit(Option<String>),
}

/// An action argument as written.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgAst {
    /// A literal (YAML scalars that hold no `{{`).
    Literal(serde_json::Value),
    /// A string with `{{ expr }}` placeholders, at a file offset.
    Template(ExprSrc),
    /// An expression (text DSL arguments).
    Expr(ExprSrc),
    /// A nested mapping.
    Map(Vec<(String, ArgAst)>),
    /// A nested list.
    List(Vec<ArgAst>),
}

/// `throttle 10/1s per event.account_id` as written.
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottleAst {
    /// The rate, `10/1s`.
    pub rate: Spanned<String>,
    /// What calls are counted by (default: all calls of the action).
    pub per: Option<ExprSrc>,
}

/// Retry settings as written.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryAst {
    /// Total attempts (1 = no retry).
    pub attempts: Spanned<u32>,
    /// First backoff in milliseconds.
    pub backoff_ms: Option<i64>,
    /// Largest backoff in milliseconds.
    pub max_backoff_ms: Option<i64>,
}
