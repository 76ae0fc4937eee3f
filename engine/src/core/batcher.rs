//! Leader/follower batching of store calls: concurrent callers hand their item in, and whoever
//! finds the store idle sends everything queued in one call, then answers each caller. No
//! background task: the first waiting caller leads the next batch, so a lone item goes out at
//! once and a busy engine batches by itself (the scheme of database group commit). Run commits
//! ([`crate::core::group_commit`]) and the customer reads of executing runs
//! ([`CustomerReads`]) go through it.

use crate::store::{Store, StoreError, StoreResult};
use prometheus_client::metrics::counter::Counter;
use serde_json::Value;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

type Reply<R> = oneshot::Sender<Result<R, String>>;

/// Batches items of many callers into single calls of at most `max` items.
pub struct Batcher<T, R> {
    queue: Mutex<Vec<(T, Reply<R>)>>,
    turn: tokio::sync::Mutex<()>,
    max: usize,
    /// Calls made.
    batches: Counter,
    /// Items sent in them.
    items: Counter,
}

impl<T, R> Batcher<T, R> {
    /// A batcher sending at most `max` items per call.
    pub fn new(max: usize) -> Self {
        Batcher {
            queue: Mutex::new(Vec::new()),
            turn: tokio::sync::Mutex::new(()),
            max: max.max(1),
            batches: Counter::default(),
            items: Counter::default(),
        }
    }

    /// `(calls, items)` so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.batches.get(), self.items.get())
    }

    /// The `(calls, items)` counters themselves, to register as metrics.
    pub fn counters(&self) -> (Counter, Counter) {
        (self.batches.clone(), self.items.clone())
    }

    /// Sends `item` with whatever else is queued through `call`, which answers per item in
    /// order (or fails the whole batch with a message); `what` names the batch in errors.
    pub async fn submit<F, Fut>(&self, item: T, what: &str, call: F) -> StoreResult<R>
    where
        F: Fn(Vec<T>) -> Fut,
        Fut: Future<Output = StoreResult<Vec<R>>>,
    {
        let (reply, mut answer) = oneshot::channel();
        self.queue.lock().expect("batch queue").push((item, reply));
        // Waiting for the turn is what lets the queue fill while the previous batch is out.
        let _turn = self.turn.lock().await;
        loop {
            match answer.try_recv() {
                Ok(result) => return result.map_err(StoreError::Unavailable),
                Err(oneshot::error::TryRecvError::Closed) => {
                    return Err(StoreError::Unavailable(format!(
                        "{what}: the batch holding this one was abandoned; it may or may not have gone through"
                    )))
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            // Lead: send a batch that holds this item or ones queued before it.
            let batch: Vec<(T, Reply<R>)> = {
                let mut queue = self.queue.lock().expect("batch queue");
                let n = queue.len().min(self.max);
                queue.drain(..n).collect()
            };
            let (items, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            self.batches.inc();
            self.items.inc_by(items.len() as u64);
            match call(items).await {
                Ok(answers) => {
                    for (reply, a) in replies.into_iter().zip(answers) {
                        let _ = reply.send(Ok(a));
                    }
                }
                Err(e) => {
                    let message = format!("{what}: {e}");
                    for reply in replies {
                        let _ = reply.send(Err(message.clone()));
                    }
                }
            }
        }
    }
}

/// Most customers read at once.
pub const MAX_CUSTOMER_READS: usize = 512;

/// The customers of executing runs, read for many runs at once: each run still reads its
/// customer when it executes (so it sees every change committed before), but a busy engine
/// makes one store read per batch instead of one per run.
pub struct CustomerReads {
    store: Arc<dyn Store>,
    batcher: Batcher<String, Value>,
}

impl CustomerReads {
    /// Customer reads over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        CustomerReads {
            store,
            batcher: Batcher::new(MAX_CUSTOMER_READS),
        }
    }

    /// Customer `id` as expressions see it at `now` (with `id`, empty when not stored).
    pub async fn read(
        &self,
        id: &str,
        knowledge: &crate::core::knowledge::Knowledge,
        now: crate::clock::Millis,
    ) -> StoreResult<Value> {
        let attrs = self
            .batcher
            .submit(id.to_string(), "reading customers", |ids| async move {
                let mut unique = ids.clone();
                unique.sort_unstable();
                unique.dedup();
                let found = self.store.customers(&unique).await?;
                Ok(ids
                    .iter()
                    .map(|id| found.get(id).cloned().map_or(Value::Null, Value::Object))
                    .collect())
            })
            .await?;
        let attrs = match attrs {
            Value::Object(m) => Some(m),
            _ => None,
        };
        Ok(crate::core::scope::customer_value(
            knowledge,
            Some(id),
            attrs.as_ref(),
            now,
        ))
    }

    /// `(reads, customers)` so far.
    pub fn counts(&self) -> (u64, u64) {
        self.batcher.counts()
    }

    /// The `(reads, customers)` counters, to register as metrics.
    pub fn counters(&self) -> (Counter, Counter) {
        self.batcher.counters()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventLog, MatchBatch, SqliteStore};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reads_share_store_calls_and_each_gets_its_own_customer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
        let customers = (0..50)
            .map(|i| {
                let attrs = serde_json::json!({ "n": i });
                (format!("c{i}"), attrs.as_object().unwrap().clone(), 1)
            })
            .collect();
        let batch = MatchBatch {
            customers,
            ..Default::default()
        };
        store.apply_match(batch).await.unwrap();
        let reads = Arc::new(CustomerReads::new(store));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200 {
            let reads = reads.clone();
            tasks.spawn(async move {
                (
                    i,
                    reads
                        .read(&format!("c{}", i % 60), &Default::default(), 0)
                        .await
                        .unwrap(),
                )
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (i, customer) = done.unwrap();
            let id = format!("c{}", i % 60);
            assert_eq!(customer["id"], serde_json::json!(id));
            // c50 … c59 were never stored: they read as an empty customer with their id.
            let n = (i % 60 < 50).then(|| serde_json::json!(i % 60));
            assert_eq!(customer.get("n"), n.as_ref(), "{id}");
        }
        let (calls, items) = reads.counts();
        assert_eq!(items, 200);
        assert!(calls < 200, "200 concurrent reads took {calls} store calls");
    }
}
