//! Trying a change before it is saved (the page's builder): the workflow's rule tests run on
//! the draft, and a backtest replays the draft over the stored history of the last days. Both
//! simulate on a runtime of their own, off the request threads, a few at a time and for at most
//! [`TRY_LIMIT`].

use crate::core::context::EngineError;
use crate::core::runtime::RuntimeWorkflow;
use crate::core::Engine;
use crate::tools::replay::{replay_source, ReplayReport};
use crate::tools::ruletest::{run_file_with, tests_of, FileResult};
use std::path::PathBuf;
use std::time::Duration;

/// The longest a draft's tests or backtest may take.
pub const TRY_LIMIT: Duration = Duration::from_secs(60);
/// The most stored events a backtest replays: the first so many of its period.
pub const BACKTEST_EVENTS: i64 = 20_000;
/// The longest history a backtest replays, in days.
pub const BACKTEST_DAYS: u32 = 90;

const DAY_MS: i64 = 86_400_000;

fn too_long(what: &str) -> EngineError {
    EngineError::Busy(format!(
        "{what} took longer than {} s and was stopped; shorten the period or the waits",
        TRY_LIMIT.as_secs()
    ))
}

impl Engine {
    /// Runs the rule tests (`*.test.yaml` in the workflows folder) of `w` on `draft`, or on its
    /// file when there is none.
    pub async fn test_draft(
        &self,
        w: &RuntimeWorkflow,
        draft: Option<String>,
    ) -> Result<Vec<FileResult>, EngineError> {
        let workflow = PathBuf::from(&w.file);
        let dir = self.config().workflows_dir.clone();
        let run = move || async move {
            let mut results = vec![];
            for test in tests_of(&dir, &workflow) {
                results.push(run_file_with(&test, draft.as_deref()).await);
            }
            results
        };
        self.checks()
            .run_isolated(TRY_LIMIT, run)
            .await?
            .ok_or_else(|| too_long("running the tests"))
    }

    /// Replays `draft` (the text of `w`'s file) over the events received in the last `days`
    /// days (at most [`BACKTEST_EVENTS`], the newest) with recording actions: how many
    /// customers would have reached each step, and what it would have called.
    pub async fn backtest(
        &self,
        w: &RuntimeWorkflow,
        draft: String,
        days: u32,
    ) -> Result<ReplayReport, EngineError> {
        if days == 0 || days > BACKTEST_DAYS {
            return Err(EngineError::Input(format!(
                "days: {days} is out of range; backtest 1 to {BACKTEST_DAYS} days"
            )));
        }
        let now = self.clock().now_ms();
        let mut events = self
            .store()
            .events_between(now - i64::from(days) * DAY_MS, now + 1, BACKTEST_EVENTS)
            .await?;
        events.sort_by_key(|e| e.occurred_at);
        let file = PathBuf::from(&w.file);
        let run = move || async move { replay_source(&file, &draft, &events, now, 5).await };
        self.checks()
            .run_isolated(TRY_LIMIT, run)
            .await?
            .ok_or_else(|| too_long("the backtest"))?
    }
}
