//! Rows and changes exchanged with the store; plain data, no SQL.

use crate::clock::Millis;
use crate::event::Event;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;

use super::status::Cause;
pub use super::status::RunStatus;

/// Whose unfinished runs [`crate::store::RunStore::open_runs`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsOf<'a> {
    /// A customer's (a goal ends them).
    Customer(&'a str),
    /// Those started under an enrollment key (one run at a time is kept per key).
    Key(&'a str),
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RunRow {
    /// Run id.
    pub id: String,
    /// Workflow name.
    pub workflow: String,
    /// Workflow version the run is pinned to.
    pub version: u32,
    /// Customer, if any.
    pub customer_id: Option<String>,
    /// Status.
    pub status: RunStatus,
    /// Current step index.
    pub step: Option<usize>,
    /// Revision, bumped on every change (optimistic concurrency).
    pub rev: i64,
    /// `{event, steps, entity}`.
    pub context: Value,
    /// Start time.
    pub started_at: Millis,
    /// Last change.
    pub updated_at: Millis,
    /// End time.
    pub ended_at: Option<Millis>,
    /// Why it exited or failed.
    pub exit_reason: Option<String>,
}

/// One line of a run's timeline.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct TimelineEntry {
    /// Step id (or `run` for run-level entries).
    pub step_id: String,
    /// Step kind (`action`, `wait`, `branch`, `exit`, `run`).
    pub kind: String,
    /// What happened (`started`, `done`, `waiting`, `retry`, `failed`, `event`, `timeout`, `skipped`...).
    pub status: String,
    /// Attempt number.
    pub attempt: u32,
    /// When.
    pub at: Millis,
    /// Details: action input/output, error, branch taken.
    pub detail: Value,
}

impl TimelineEntry {
    /// A run-level line (`started`, `exited`, `retried`), not tied to a step.
    pub fn run_level(status: &str, at: Millis, detail: Value) -> Self {
        TimelineEntry {
            step_id: "run".into(),
            kind: "run".into(),
            status: status.into(),
            attempt: 1,
            at,
            detail,
        }
    }

    /// A run's first line: what started it, when.
    pub fn started(trigger_key: &str, at: Millis) -> Self {
        TimelineEntry::run_level("started", at, serde_json::json!({ "trigger": trigger_key }))
    }

    /// The line a dead-letter retry adds.
    pub fn retried(dead_letter: i64, at: Millis) -> Self {
        Self::run_level(
            "retried",
            at,
            serde_json::json!({ "dead_letter": dead_letter }),
        )
    }
}

/// A run to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    /// New run id.
    pub id: String,
    /// Workflow name.
    pub workflow: String,
    /// Version.
    pub version: u32,
    /// Customer.
    pub customer_id: Option<String>,
    /// Re-enrollment key.
    pub enroll_key: String,
    /// Unique per workflow: the same trigger never starts two runs.
    pub trigger_key: String,
    /// Initial context.
    pub context: Value,
    /// First step (`None`: nothing to do).
    pub start: Option<usize>,
    /// Now.
    pub at: Millis,
    /// Until when the first timer is leased to the process that starts the run, because it
    /// executes the run at once (the matcher hands new runs straight to its executor); no claim
    /// takes the timer meanwhile. 0: due for any claim.
    pub lease_until: Millis,
}

impl NewRun {
    /// The id of the event in the run's context (the trigger event, or the one carrying the date).
    pub fn event_id(&self) -> Option<&str> {
        self.context.get("event")?.get("id")?.as_str()
    }

    /// The run as stored once inserted.
    pub fn row(&self) -> RunRow {
        let status = super::status::initial_status(self.start);
        RunRow {
            id: self.id.clone(),
            workflow: self.workflow.clone(),
            version: self.version,
            customer_id: self.customer_id.clone(),
            status,
            step: self.start,
            rev: 0,
            context: self.context.clone(),
            started_at: self.at,
            updated_at: self.at,
            ended_at: status.is_final().then_some(self.at),
            exit_reason: None,
        }
    }

    /// The timer that executes its first step (`None` when it has none).
    pub fn first_timer(&self) -> Option<Timer> {
        self.start.map(|_| Timer {
            lease_until: self.lease_until,
            ..Timer::exec(self.at)
        })
    }

    /// The run's first timeline line.
    pub fn started_entry(&self) -> TimelineEntry {
        TimelineEntry::started(&self.trigger_key, self.at)
    }
}

/// Wake a waiting run because its event arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    /// Run id.
    pub run_id: String,
    /// The wait step the run must still be in.
    pub wait_step: usize,
    /// The step to continue at (`None`: the run completes).
    pub target: Option<usize>,
    /// Timeline entry to add.
    pub entry: TimelineEntry,
}

impl Resume {
    /// The status the run moves to.
    pub fn status(&self) -> RunStatus {
        super::status::after_wait(self.target)
    }
}

/// End a run early (goal reached).
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyExit {
    /// Run id.
    pub run_id: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: Millis,
}

impl EarlyExit {
    /// The run's end it asks for.
    pub fn end(&self) -> RunEnd<'_> {
        RunEnd::new(&self.run_id, Cause::Goal, &self.reason, self.at)
    }
}

/// An unfinished run ended from outside its steps, by its goal event (`exited`) or by an
/// operator (`cancelled`): status, reason and end time set, timer and wait cleared, one
/// run-level timeline line. Applies only while the run's status allows `cause`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEnd<'a> {
    /// Run id.
    pub run_id: &'a str,
    /// What ends it.
    pub cause: Cause,
    /// Why, as the run's exit reason.
    pub reason: &'a str,
    /// When.
    pub at: Millis,
}

impl<'a> RunEnd<'a> {
    /// Run `run_id` ended by `cause` for `reason` at `at`.
    pub fn new(run_id: &'a str, cause: Cause, reason: &'a str, at: Millis) -> Self {
        RunEnd {
            run_id,
            cause,
            reason,
            at,
        }
    }

    /// The status the run ends in (`exited` for a goal, `cancelled` for a cancel).
    pub fn status(&self) -> RunStatus {
        crate::store::status::to_statuses(self.cause)[0]
    }

    /// The timeline line it adds, named after the status.
    pub fn entry(&self) -> TimelineEntry {
        TimelineEntry::run_level(
            self.status().as_str(),
            self.at,
            serde_json::json!({ "reason": self.reason }),
        )
    }
}

/// A pending date trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct DateTriggerRow {
    /// Workflow name.
    pub workflow: String,
    /// Entity or customer key.
    pub key: String,
    /// When it fires.
    pub due_at: Millis,
    /// The event that carries the date.
    pub event_id: String,
}

/// One change of a customer's score: the event, the rule that held, the points it earned and
/// the value right after, appended with the matched batch that made it (the score's state among
/// the customer's attributes is three numbers; the changes are what `GET /customers/{id}/scores`
/// explains). The texts are shared: an event that changes ten scores names its customer and
/// itself once, a rule its text once.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreChange {
    /// The customer.
    pub customer: Arc<str>,
    /// The score's name.
    pub score: Arc<str>,
    /// The event's id.
    pub event: Arc<str>,
    /// The rule that held, as written (`page.viewed where event.page == "pricing"`).
    pub rule: Arc<str>,
    /// The points it earned (negative: took away).
    pub points: f64,
    /// The score's value right after.
    pub value: f64,
    /// When (the event's time, or the state's when the event was older).
    pub at: Millis,
}

/// Everything one batch of matched events changes, applied in one transaction.
#[derive(Debug, Default)]
pub struct MatchBatch {
    /// Events to mark processed: the next pending events, in sequence order (a store may keep
    /// only a cursor at the last one).
    pub seqs: Vec<i64>,
    /// Customer attributes to merge.
    pub customers: Vec<(String, Map<String, Value>, Millis)>,
    /// Entity snapshots to store.
    pub entities: Vec<(String, String, Value, Millis)>,
    /// Runs to start.
    pub new_runs: Vec<NewRun>,
    /// Ids of new runs (their first timers leased, as for the matcher's own executor) to hand
    /// to the other nodes ([`crate::store::RunStore::peers`]); empty on a store with no peers.
    pub for_peers: Vec<String>,
    /// Waits satisfied.
    pub resumes: Vec<Resume>,
    /// Goal exits.
    pub exits: Vec<EarlyExit>,
    /// Date triggers to (re)schedule.
    pub date_triggers: Vec<DateTriggerRow>,
    /// Consent changes: customer, channel, granted, when.
    pub consents: Vec<(String, String, bool, Millis)>,
    /// Addresses to suppress: address, reason, when.
    pub suppressions: Vec<(String, String, Millis)>,
    /// Events that convert experiment entries.
    pub conversions: Vec<crate::store::ConversionHit>,
    /// Score changes to append, one row per customer and event ([`crate::store::score_rows`];
    /// an event whose changes are already stored for the customer is kept once).
    pub score_changes: Vec<ScoreChange>,
    /// Events the batch emits (a customer entering or leaving a segment). Stores do not read
    /// this: the matcher stores them with `insert_events` just before the batch, with ids
    /// derived from their causes, so a batch matched again after a crash emits the same ones.
    pub emitted: Vec<crate::event::Event>,
}

/// Kinds of timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// Execute the run's current step.
    Exec,
    /// The run's wait timed out.
    Wake,
}

impl TimerKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Exec => "exec",
            TimerKind::Wake => "wake",
        }
    }

    /// Reads a stored name (anything but `wake` executes).
    pub fn parse(s: &str) -> TimerKind {
        if s == "wake" {
            TimerKind::Wake
        } else {
            TimerKind::Exec
        }
    }
}

/// A claimed timer.
#[derive(Debug, Clone, PartialEq)]
pub struct DueWork {
    /// Run id.
    pub run_id: String,
    /// Kind.
    pub kind: TimerKind,
    /// Attempt of the current step.
    pub attempt: u32,
    /// When it was due (how late it is taken is a metric).
    pub due_at: Millis,
}

/// A timer to set.
#[derive(Debug, Clone, PartialEq)]
pub struct Timer {
    /// When.
    pub due_at: Millis,
    /// Kind.
    pub kind: TimerKind,
    /// Attempt.
    pub attempt: u32,
    /// Kept leased until then (0: free for any worker), so a worker that goes on executing the
    /// run after a commit keeps it to itself.
    pub lease_until: Millis,
}

impl Timer {
    /// Execute the run's current step at `at`, first attempt, not leased.
    pub fn exec(at: Millis) -> Self {
        Timer {
            due_at: at,
            kind: TimerKind::Exec,
            attempt: 1,
            lease_until: 0,
        }
    }
}

/// A wait-for-event registration.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitRow {
    /// Event type.
    pub event_type: String,
    /// The correlation expression's text.
    pub match_expr: String,
    /// Its value for this run.
    pub match_key: String,
}

/// A step that failed for good.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// Step id.
    pub step_id: String,
    /// Action name.
    pub action: String,
    /// Evaluated input.
    pub input: Value,
    /// Last error.
    pub error: String,
    /// Attempts made.
    pub attempts: u32,
}

/// One atomic change of a run after executing steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// Run id.
    pub run_id: String,
    /// The revision the executor read; the change applies only if it still holds.
    pub rev: i64,
    /// New status.
    pub status: RunStatus,
    /// New step.
    pub step: Option<usize>,
    /// New context.
    pub context: Value,
    /// Timeline lines to add.
    pub timeline: Vec<TimelineEntry>,
    /// The run's next timer (`None` clears it).
    pub timer: Option<Timer>,
    /// A wait to register (any old one is cleared).
    pub wait: Option<WaitRow>,
    /// Exit or failure reason when the run ends.
    pub exit_reason: Option<String>,
    /// A dead letter to record.
    pub dead_letter: Option<DeadLetter>,
    /// A customer-facing message that was sent (counts toward the frequency cap).
    pub sent: Option<SentMessage>,
    /// Splits the run took since its last commit.
    pub experiments: Vec<crate::store::ExperimentEntry>,
    /// Now.
    pub at: Millis,
}

impl Transition {
    /// Run `run_id`, read at revision `rev`, moves to `status` at `step` with `context` at `at`,
    /// and nothing else: no timeline line, its timer cleared, no wait, reason, dead letter or
    /// message. Callers add what the step produced (`Transition { timer, ..Transition::new(…) }`).
    pub fn new(
        run_id: impl Into<String>,
        rev: i64,
        status: RunStatus,
        step: Option<usize>,
        context: Value,
        at: Millis,
    ) -> Self {
        Transition {
            run_id: run_id.into(),
            rev,
            status,
            step,
            context,
            timeline: Vec::new(),
            timer: None,
            wait: None,
            exit_reason: None,
            dead_letter: None,
            sent: None,
            experiments: Vec::new(),
            at,
        }
    }
}

/// A message sent to a customer.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    /// Customer, if known.
    pub customer_id: Option<String>,
    /// Channel (`email`).
    pub channel: String,
    /// `marketing`, `transactional` or `internal`.
    pub kind: String,
    /// Recipient address.
    pub address: Option<String>,
    /// Workflow that sent it.
    pub workflow: String,
    /// The sending step's idempotency key: a message is recorded once per key.
    pub key: String,
    /// The step's tags (`tag: newsletter`), which tag caps count by.
    pub tags: Vec<String>,
}

/// A claim of one concurrent call slot ([`crate::store::RestraintStore::acquire_lease`]).
#[derive(Debug, Clone, Copy)]
pub struct LeaseClaim<'a> {
    /// What the slots are counted by (`action:crm.update`, `plugin:crm`).
    pub key: &'a str,
    /// The call: its step's idempotency key.
    pub holder: &'a str,
    /// The run making it (queued while it waits).
    pub run_id: &'a str,
    /// Calls allowed at once.
    pub max: u32,
    /// Now.
    pub now: Millis,
    /// When the lease ends unless released first (the call's timeout and a margin).
    pub until: Millis,
}

/// A customer's earlier marketing message, as the frequency caps count it: the latest send of
/// one step (a retried step is one message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastMessage {
    /// Its channel.
    pub channel: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// When it was (last) sent.
    pub sent_at: Millis,
}

/// A frequency cap's refusal of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapRefusal {
    /// The rule that refused (`sms 1/1d calendar`).
    pub rule: String,
    /// The sentence the timeline shows.
    pub reason: String,
    /// When the rule allows the next message (`None`: never).
    pub opens_at: Option<Millis>,
}

/// What a claim checks the customer's earlier marketing messages with: those sent since
/// `since` (other steps' only) go to `judge`, which refuses or lets the message go.
pub struct CapCheck<'a> {
    /// The earliest instant any rule counts.
    pub since: Millis,
    /// The rules' verdict on the earlier messages.
    pub judge: &'a (dyn Fn(&[PastMessage]) -> Option<CapRefusal> + Send + Sync),
}

/// The answer to claiming a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Recorded now (a retried step claims again, under the same key).
    Granted,
    /// A frequency cap refuses, counting other steps' messages.
    Over(CapRefusal),
    /// The address is suppressed, for this reason. Read in the claim itself, so a suppression
    /// recorded after the run read the customer still stops the message.
    Suppressed(String),
    /// The customer's stored consent to the channel is not `true` (marketing messages only).
    /// Read in the claim itself, so a withdrawal recorded (on any node) after the run read the
    /// customer still stops the message.
    NoConsent,
}

/// Whether a customer's `consent` attribute holds `<channel>: true`, the one consent rule (the
/// SQL stores state it in their claim statements, checked equal by the conformance suite).
pub fn consents_to(consent: Option<&serde_json::Value>, channel: &str) -> bool {
    consent.and_then(|c| c.get(channel)) == Some(&serde_json::Value::Bool(true))
}

/// A stored workflow version.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRow {
    /// Name.
    pub name: String,
    /// Version.
    pub version: u32,
    /// File it came from.
    pub file: String,
    /// Source text.
    pub source: String,
    /// Digest of the source.
    pub digest: String,
    /// The compiled IR as JSON (absent for versions stored before the IR was kept).
    pub ir: Option<String>,
    /// The compiler that made `ir` (`mikawaya-dsl <version>`).
    pub compiler: Option<String>,
}

/// A stored event with its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Arrival order.
    pub seq: i64,
    /// When the engine stored it.
    pub received_at: Millis,
    /// The event, or why its stored body can no longer be read (it is then skipped, logged and
    /// marked processed, so one bad row never stops matching for everyone).
    pub event: Result<Event, String>,
}

/// A run waiting for an event, as found by its correlation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingRun {
    /// Run id.
    pub run_id: String,
    /// Workflow name.
    pub workflow: String,
    /// The version the run is pinned to.
    pub version: u32,
    /// The wait step it sits in.
    pub step: usize,
}
