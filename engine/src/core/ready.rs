//! Runs that are due now and already in memory: the matcher hands the runs it just started
//! straight to the executor here instead of making it read them back from the store. Bounded:
//! runs that do not fit stay due in the store, where the executor's claim finds them. The store
//! stays the truth: a queued run's timer is leased to this process, so a crash loses nothing
//! (at start-up the leases are released and the runs are claimed from the store).

use crate::clock::Millis;
use crate::store::RunRow;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::Notify;

/// A run ready to execute its first step.
#[derive(Debug, Clone)]
pub struct Ready {
    /// The run as stored.
    pub run: RunRow,
    /// Until when its timer is leased to this process.
    pub lease_until: Millis,
}

/// The bounded queue of ready runs.
pub struct ReadyQueue {
    runs: Mutex<VecDeque<Ready>>,
    capacity: usize,
    added: Notify,
    taken: Notify,
}

impl ReadyQueue {
    /// A queue holding at most `capacity` runs.
    pub fn new(capacity: usize) -> Self {
        ReadyQueue {
            runs: Mutex::new(VecDeque::new()),
            capacity,
            added: Notify::new(),
            taken: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Ready>> {
        self.runs.lock().expect("ready queue lock")
    }

    /// Most runs it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many more runs fit.
    pub fn room(&self) -> usize {
        self.capacity.saturating_sub(self.lock().len())
    }

    /// Runs waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no run waits.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Adds runs (whose timers the caller leased) and wakes the executor.
    pub fn push(&self, runs: impl IntoIterator<Item = Ready>) {
        self.lock().extend(runs);
        self.added.notify_one();
    }

    /// Takes up to `n` runs, oldest first. A run that waited past half its lease is dropped: its
    /// lease may end before it finishes, so the store's claim will hand it out instead.
    pub fn take(&self, n: usize, now: Millis, lease_ms: i64) -> Vec<Ready> {
        let mut runs = self.lock();
        let mut taken = Vec::with_capacity(n.min(runs.len()));
        while taken.len() < n {
            let Some(r) = runs.pop_front() else { break };
            if r.lease_until - lease_ms / 2 > now {
                taken.push(r);
            }
        }
        if !taken.is_empty() {
            self.taken.notify_one();
        }
        taken
    }

    /// Resolves when runs were taken (the matcher waits for room with it).
    pub async fn taken(&self) {
        self.taken.notified().await
    }

    /// Resolves when runs were added (at once if some were added since the last call).
    pub async fn added(&self) {
        self.added.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(id: &str, lease_until: Millis) -> Ready {
        let run = crate::store::NewRun {
            id: id.into(),
            workflow: "w".into(),
            version: 1,
            customer_id: None,
            enroll_key: id.into(),
            trigger_key: id.into(),
            context: serde_json::json!({}),
            start: Some(0),
            at: 0,
            lease_until,
        }
        .row();
        Ready { run, lease_until }
    }

    #[tokio::test]
    async fn bounded_oldest_first_and_runs_near_the_end_of_their_lease_are_left_to_the_store() {
        let q = ReadyQueue::new(3);
        q.push([ready("a", 1_000), ready("b", 100), ready("c", 1_000)]);
        assert_eq!(q.room(), 0);
        // The push left a wake-up behind even though nobody was waiting yet.
        tokio::time::timeout(std::time::Duration::from_secs(1), q.added())
            .await
            .expect("a push wakes a later waiter");
        // Lease 1,000 ms: at 460, `b` (leased until 100) has too little lease left.
        let taken: Vec<String> = q
            .take(5, 460, 1_000)
            .into_iter()
            .map(|r| r.run.id)
            .collect();
        assert_eq!(taken, ["a", "c"]);
        assert!(q.is_empty());
        assert_eq!(q.room(), 3);
    }
}
