//! What a token without `customers:read` sees of runs: their shape (ids, workflow, status,
//! steps, times, errors) but not the data that may be personal (the event and step outputs in a
//! run's context, timeline details with action inputs such as an email address, task data,
//! dead-letter inputs), each replaced by a note naming the scope.

use crate::core::access::{Identity, Scope};
use crate::store::{DeadLetterRow, RunRow, TaskRow, TimelineEntry};
use serde_json::{json, Value};

/// What stands in for hidden data.
pub fn hidden() -> Value {
    json!({ "hidden": "needs the customers:read scope" })
}

/// Whether `who` sees personal data.
fn sees(who: &Identity) -> bool {
    who.may(Scope::CustomersRead)
}

/// Runs as `who` may see them.
pub fn runs(who: &Identity, mut runs: Vec<RunRow>) -> Vec<RunRow> {
    if !sees(who) {
        runs.iter_mut().for_each(|r| r.context = hidden());
    }
    runs
}

/// Timeline lines as `who` may see them.
pub fn timeline(who: &Identity, mut lines: Vec<TimelineEntry>) -> Vec<TimelineEntry> {
    if !sees(who) {
        lines.iter_mut().for_each(|l| l.detail = hidden());
    }
    lines
}

/// Timeline lines with their run ids as `who` may see them.
pub fn lines_of_runs(
    who: &Identity,
    lines: Vec<(String, TimelineEntry)>,
) -> Vec<(String, TimelineEntry)> {
    let (ids, entries): (Vec<_>, Vec<_>) = lines.into_iter().unzip();
    ids.into_iter().zip(timeline(who, entries)).collect()
}

/// Tasks as `who` may see them.
pub fn tasks(who: &Identity, mut tasks: Vec<TaskRow>) -> Vec<TaskRow> {
    if !sees(who) {
        tasks.iter_mut().for_each(|t| t.data = hidden());
    }
    tasks
}

/// Dead letters as `who` may see them.
pub fn dead_letters(who: &Identity, mut letters: Vec<DeadLetterRow>) -> Vec<DeadLetterRow> {
    if !sees(who) {
        letters.iter_mut().for_each(|d| d.input = hidden());
    }
    letters
}
