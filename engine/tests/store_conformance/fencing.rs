//! Conformance cases of ownership: a claim fences whoever held a run before it.

use super::{new_run, start, transition};
use mikawaya_engine::store::*;
use std::sync::Arc;

/// A worker that took a run (here: the process that started it, its first timer leased) and
/// stalled past its lease has its late commit refused once another claims the run; the
/// claimer's commit, at the revision it read after claiming, applies.
pub async fn a_claim_fences_the_runs_earlier_holder(store: Arc<dyn Store>) {
    let mut run = new_run("r1", "w", "t1", Some(0), 10);
    run.lease_until = 1_010;
    start(&*store, vec![run]).await;
    let stale = store.run("r1").await.unwrap().unwrap();
    assert!(
        store.claim_due(500, 10, 1_000).await.unwrap().is_empty(),
        "leased to the starter until 1,010"
    );
    let claimed = store.claim_due(2_000, 10, 1_000).await.unwrap();
    assert_eq!(claimed.len(), 1, "due once the lease ended");
    let fresh = store.run("r1").await.unwrap().unwrap();
    assert!(fresh.rev > stale.rev, "the claim moved the revision");
    let late = transition(&stale, RunStatus::Completed, None, 2_100);
    assert!(
        !store.commit(late).await.unwrap(),
        "the stalled holder's commit is refused"
    );
    let mine = transition(&fresh, RunStatus::Completed, None, 2_200);
    assert!(store.commit(mine).await.unwrap());
    let done = store.run("r1").await.unwrap().unwrap();
    assert_eq!(
        (done.status, done.ended_at),
        (RunStatus::Completed, Some(2_200))
    );
    assert_eq!(store.next_due().await.unwrap(), None, "no timer left");
}
