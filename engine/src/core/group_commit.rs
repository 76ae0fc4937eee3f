//! Group commit of run transitions: concurrent runs hand their transitions in, and whoever
//! finds the store idle commits everything queued in one transaction (one disk sync), then
//! answers each caller ([`Batcher`]'s leader/follower scheme). A caller is answered only after
//! its batch committed, so no step's effect is acknowledged before it is durable.

use crate::core::batcher::Batcher;
use crate::store::{Store, StoreResult, Transition};
use std::sync::Arc;

/// Most transitions committed in one transaction.
pub const MAX_BATCH: usize = 512;

/// Batches run transitions of many runs into single transactions.
pub struct GroupCommit {
    store: Arc<dyn Store>,
    batcher: Batcher<Transition, bool>,
}

impl GroupCommit {
    /// Group commit over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        GroupCommit {
            store,
            batcher: Batcher::new(MAX_BATCH),
        }
    }

    /// `(transactions, transitions)` committed so far.
    pub fn counts(&self) -> (u64, u64) {
        self.batcher.counts()
    }

    /// The `(transactions, transitions)` counters, to register as metrics.
    pub fn counters(
        &self,
    ) -> (
        prometheus_client::metrics::counter::Counter,
        prometheus_client::metrics::counter::Counter,
    ) {
        self.batcher.counters()
    }

    /// Commits `t` with whatever else is queued; `false` when its run changed meanwhile.
    pub async fn commit(&self, t: Transition) -> StoreResult<bool> {
        self.batcher
            .submit(t, "committing a batch of run changes", |ts| {
                self.store.commit_batch(ts)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewRun, RunStatus, RunStore, ScheduleStore, SqliteStore};

    fn transition(run_id: &str, rev: i64) -> Transition {
        Transition::new(
            run_id,
            rev,
            RunStatus::Completed,
            None,
            serde_json::json!({}),
            1,
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_share_transactions_and_each_caller_gets_its_own_answer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
        let runs: Vec<NewRun> = (0..200)
            .map(|i| NewRun {
                id: format!("r{i}"),
                workflow: "w".into(),
                version: 1,
                customer_id: None,
                enroll_key: format!("k{i}"),
                trigger_key: format!("t{i}"),
                context: serde_json::json!({}),
                start: Some(0),
                at: 0,
                lease_until: 0,
            })
            .collect();
        store.apply_schedule("w", 10, runs).await.unwrap();
        let commits = Arc::new(GroupCommit::new(store.clone()));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200 {
            let commits = commits.clone();
            // Every fourth one carries a stale revision and must be refused, alone.
            let rev = if i % 4 == 3 { 7 } else { 0 };
            tasks
                .spawn(async move { (i, commits.commit(transition(&format!("r{i}"), rev)).await) });
        }
        while let Some(done) = tasks.join_next().await {
            let (i, result) = done.unwrap();
            assert_eq!(result.unwrap(), i % 4 != 3, "run r{i}");
        }
        let (batches, transitions) = commits.counts();
        assert_eq!(transitions, 200);
        assert!(
            batches < 100,
            "200 concurrent commits took {batches} transactions"
        );
        let run = store.run("r0").await.unwrap().unwrap();
        assert_eq!((run.status, run.rev), (RunStatus::Completed, 1));
        let stale = store.run("r3").await.unwrap().unwrap();
        assert_eq!((stale.status, stale.rev), (RunStatus::Active, 0));
        assert!(
            store.next_due().await.unwrap().is_some(),
            "the refused run keeps its timer"
        );
    }
}
