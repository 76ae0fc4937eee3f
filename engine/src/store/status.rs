//! Which status a run may have, and which may follow which: the rules of the run lifecycle that
//! every store enforces (the SQLite store builds its `status IN (…)` guards from
//! [`from_statuses`]; the memory store checks the same lists). They live here, beside the data,
//! so the store layer needs nothing from the engine; [`crate::core::lifecycle`] re-exports them
//! beside the state machine that produces the transitions, and tests every cell of the table.

use serde::Serialize;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Has a step to execute.
    Active,
    /// Sits in a wait step.
    Waiting,
    /// Reached the end of its steps.
    Completed,
    /// Left through an exit step, a wait outcome or a goal event.
    Exited,
    /// An action failed for good; see the dead letters.
    Failed,
    /// Stopped by an operator (`POST /runs/{id}/cancel`, a bulk cancel).
    Cancelled,
}

impl RunStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Active => "active",
            RunStatus::Waiting => "waiting",
            RunStatus::Completed => "completed",
            RunStatus::Exited => "exited",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<RunStatus> {
        [
            RunStatus::Active,
            RunStatus::Waiting,
            RunStatus::Completed,
            RunStatus::Exited,
            RunStatus::Failed,
            RunStatus::Cancelled,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    /// True once the run has ended.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Exited | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

/// What moves a run from one status to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The executor ran the run's steps (a timer fired).
    Step,
    /// The event a wait listened for arrived.
    EventArrived,
    /// The workflow's goal event arrived.
    Goal,
    /// An operator retried the run's dead letter.
    Retry,
    /// An operator cancelled the run.
    Cancel,
}

use RunStatus::*;

/// Every cause, for tables and tests.
pub const CAUSES: [Cause; 5] = [
    Cause::Step,
    Cause::EventArrived,
    Cause::Goal,
    Cause::Retry,
    Cause::Cancel,
];

/// The statuses a run may be in for `cause` to move it.
pub fn from_statuses(cause: Cause) -> &'static [RunStatus] {
    match cause {
        Cause::Step => &[Active, Waiting],
        Cause::EventArrived => &[Waiting],
        Cause::Goal => &[Active, Waiting],
        Cause::Retry => &[Failed],
        Cause::Cancel => &[Active, Waiting],
    }
}

/// The statuses `cause` may move a run to.
pub fn to_statuses(cause: Cause) -> &'static [RunStatus] {
    match cause {
        Cause::Step => &[Active, Waiting, Completed, Exited, Failed],
        Cause::EventArrived => &[Active, Completed],
        Cause::Goal => &[Exited],
        Cause::Retry => &[Active],
        Cause::Cancel => &[Cancelled],
    }
}

/// Why a transition is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a run that is {from} cannot become {to} by {cause:?}")]
pub struct Refused {
    /// Status before.
    pub from: &'static str,
    /// Status asked for.
    pub to: &'static str,
    /// What asked.
    pub cause: Cause,
}

/// Whether `cause` may move a run from `from` to `to`.
pub fn check(from: RunStatus, to: RunStatus, cause: Cause) -> Result<(), Refused> {
    if from_statuses(cause).contains(&from) && to_statuses(cause).contains(&to) {
        Ok(())
    } else {
        Err(Refused {
            from: from.as_str(),
            to: to.as_str(),
            cause,
        })
    }
}

/// A new run's status: active with a first step, else completed at once.
pub fn initial_status(start: Option<usize>) -> RunStatus {
    if start.is_some() {
        Active
    } else {
        Completed
    }
}

/// The status after a wait ends, by where it goes on.
pub fn after_wait(target: Option<usize>) -> RunStatus {
    initial_status(target)
}
/// The SQL list of the statuses a run may be in for `cause`, e.g. `('active', 'waiting')`.
pub(crate) fn statuses_for(cause: Cause) -> String {
    let names: Vec<String> = from_statuses(cause)
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("({})", names.join(", "))
}
