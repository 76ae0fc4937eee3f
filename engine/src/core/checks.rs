//! Checking rule files is CPU work (parsing, type checking, a 1 MiB file takes a while): it runs
//! on tokio's blocking threads, never on the async threads that answer requests, and at most a few
//! checks run at once. A caller that cannot get a turn in time is told the engine is busy instead
//! of queueing without bound.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Why a check did not give its answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// Too many checks are running; try again.
    #[error("the engine is busy checking other workflows; try again in a moment")]
    Busy,
    /// The check panicked: a bug in the checker, reported as a server error (a 500), not as
    /// "busy", which would invite the same request again.
    #[error("checking the workflow failed inside the engine ({0}); please report this file")]
    Crashed(String),
}

/// Runs CPU-heavy checks off the async threads, a bounded number at a time.
#[derive(Debug, Clone)]
pub struct CheckLimiter {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl CheckLimiter {
    /// At most `at_once` checks at a time; a caller waits at most `wait` for a turn.
    pub fn new(at_once: usize, wait: Duration) -> Self {
        CheckLimiter {
            permits: Arc::new(Semaphore::new(at_once.max(1))),
            wait,
        }
    }

    /// Runs `check` on a blocking thread once a turn is free.
    pub async fn run<T: Send + 'static>(
        &self,
        check: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CheckError> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| CheckError::Busy)?
            .map_err(|_| CheckError::Busy)?;
        let result = tokio::task::spawn_blocking(move || {
            let _turn = permit;
            check()
        })
        .await;
        // A panicking check is a bug: the server stays up and the caller gets a 500.
        result.map_err(|e| {
            let what = match e.try_into_panic() {
                Ok(payload) => payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into()),
                Err(e) => e.to_string(),
            };
            tracing::error!("a workflow check panicked: {what}");
            CheckError::Crashed(what)
        })
    }
}

impl CheckLimiter {
    /// Runs the future `work` makes on a runtime of its own on a blocking thread, once a turn
    /// is free, for at most `limit`: simulations of drafts (rule tests, backtests) stay off the
    /// threads that answer requests, a few at a time. `None` when the limit passed first.
    pub async fn run_isolated<T, F, Fut>(
        &self,
        limit: Duration,
        work: F,
    ) -> Result<Option<T>, CheckError>
    where
        T: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = T>,
    {
        self.run(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the simulation");
            runtime.block_on(async move { tokio::time::timeout(limit, work()).await.ok() })
        })
        .await
    }
}

impl Default for CheckLimiter {
    /// As many checks as cores (at most 4), waiting up to 10 s for a turn.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        CheckLimiter::new(cores.min(4), Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checks_beyond_the_bound_wait_then_are_told_busy() {
        let limiter = CheckLimiter::new(1, Duration::from_millis(100));
        let (release, held) = std::sync::mpsc::channel::<()>();
        let first = {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.run(move || held.recv().is_ok()).await })
        };
        // Give the first check its turn.
        while limiter.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            limiter.run(|| 2).await,
            Err(CheckError::Busy),
            "no turn within the wait"
        );
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(true));
        assert_eq!(limiter.run(|| 3).await, Ok(3), "a free turn runs at once");
    }

    #[tokio::test]
    async fn a_panicking_check_is_a_crash_not_busy_and_frees_its_turn() {
        let limiter = CheckLimiter::new(1, Duration::from_millis(100));
        let got = limiter.run(|| -> u8 { panic!("checker bug") }).await;
        assert_eq!(got, Err(CheckError::Crashed("checker bug".into())));
        assert_eq!(limiter.run(|| 4).await, Ok(4));
    }
}
