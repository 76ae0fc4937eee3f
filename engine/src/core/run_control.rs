//! Run control: an operator cancels runs or sends failed ones back to their failed step, one at
//! a time or in bulk by a selection (workflow, status, customer, start-time range), as Inngest's
//! bulk cancel and replay do. A bulk request is bounded ([`MAX_BULK`] runs) and changes its runs
//! in transactions of [`CHUNK`], so it never holds the writer long enough to stall the intake.

use crate::core::context::EngineError;
use crate::core::Engine;
use crate::store::{RunFilter, RunStatus};

/// Most runs one bulk request selects.
pub const MAX_BULK: i64 = 10_000;

/// Runs changed per transaction.
const CHUNK: usize = 500;

/// What a bulk request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    /// Cancel active and waiting runs.
    Cancel,
    /// Send failed runs back to their failed step.
    Retry,
}

impl BulkAction {
    /// The statuses it can change.
    pub fn statuses(self) -> &'static [RunStatus] {
        match self {
            BulkAction::Cancel => &[RunStatus::Active, RunStatus::Waiting],
            BulkAction::Retry => &[RunStatus::Failed],
        }
    }

    /// The statuses it can change, as words: `active or waiting`, `failed`.
    pub fn statuses_text(self) -> String {
        let names: Vec<&str> = self.statuses().iter().map(|s| s.as_str()).collect();
        names.join(" or ")
    }

    /// What it does to a run, in the past tense (`cancelled`, `retried`).
    pub fn done(self) -> &'static str {
        match self {
            BulkAction::Cancel => "cancelled",
            BulkAction::Retry => "retried",
        }
    }
}

impl Engine {
    /// The ids of the runs `filter` selects that `action` can change, newest first, at most
    /// `filter.limit` (default 100, at most [`MAX_BULK`]). A status in the filter must be one
    /// the action changes; without one, every such status is selected.
    pub async fn select_runs(
        &self,
        action: BulkAction,
        filter: &RunFilter,
    ) -> Result<Vec<String>, EngineError> {
        let limit = filter.limit.unwrap_or(100).clamp(1, MAX_BULK);
        let statuses: Vec<RunStatus> = match &filter.status {
            None => action.statuses().to_vec(),
            Some(name) => {
                let status = RunStatus::parse(name)
                    .filter(|s| action.statuses().contains(s))
                    .ok_or_else(|| {
                        EngineError::Input(format!(
                            "status `{name}`: only {} runs can be {}",
                            action.statuses_text(),
                            action.done()
                        ))
                    })?;
                vec![status]
            }
        };
        let mut runs = Vec::new();
        for status in statuses {
            let one = RunFilter {
                status: Some(status.as_str().into()),
                limit: Some(limit),
                ..filter.clone()
            };
            runs.extend(self.store().runs(&one).await?);
        }
        runs.sort_by(|a, b| (b.started_at, &b.id).cmp(&(a.started_at, &a.id)));
        runs.truncate(limit as usize);
        Ok(runs.into_iter().map(|r| r.id).collect())
    }

    /// Cancels the runs among `ids` that are still active or waiting, recording `reason`; the
    /// runs cancelled (a finished or unknown run is left as it is).
    pub async fn cancel_runs(
        &self,
        ids: &[String],
        reason: &str,
    ) -> Result<Vec<String>, EngineError> {
        let mut cancelled = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let now = self.clock().now_ms();
            cancelled.extend(self.store().cancel_runs(chunk, reason, now).await?);
        }
        Ok(cancelled)
    }

    /// Sends each failed run among `ids` back to its failed step (through its latest dead letter)
    /// and wakes the executor; the runs sent back.
    pub async fn retry_runs(&self, ids: &[String]) -> Result<Vec<String>, EngineError> {
        let mut retried = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let now = self.clock().now_ms();
            retried.extend(self.store().retry_runs(chunk, now).await?);
        }
        if !retried.is_empty() {
            self.wake();
        }
        Ok(retried)
    }
}
