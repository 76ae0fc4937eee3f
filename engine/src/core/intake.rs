//! Event intake with group commit: concurrent requests queue their events; one writer stores
//! everything queued in a single transaction (one fsync), then answers each request. Under load
//! the batches grow by themselves; when idle a lone event commits at once.

use crate::core::Engine;
use crate::event::Event;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Most events written in one transaction.
pub const MAX_BATCH: usize = 4096;

struct Submission {
    events: Vec<Event>,
    reply: oneshot::Sender<Result<Vec<bool>, String>>,
}

/// The sending side of the intake; cheap to clone.
#[derive(Clone)]
pub struct Intake {
    tx: mpsc::Sender<Submission>,
}

/// Intake failures (storage trouble or shutdown): a 5xx for the caller, who may retry safely.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct IntakeError(pub String);

impl Intake {
    /// Starts the writer task; it ends when every `Intake` clone is dropped and the queue is empty.
    pub fn start(engine: Arc<Engine>) -> (Intake, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(16_384);
        (Intake { tx }, tokio::spawn(writer(engine, rx)))
    }

    /// Stores events durably; `true` per new event, `false` per duplicate id.
    pub async fn submit(&self, events: Vec<Event>) -> Result<Vec<bool>, IntakeError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Submission { events, reply })
            .await
            .map_err(|_| IntakeError("shutting down".into()))?;
        answer
            .await
            .map_err(|_| IntakeError("shutting down".into()))?
            .map_err(IntakeError)
    }
}

async fn writer(engine: Arc<Engine>, mut rx: mpsc::Receiver<Submission>) {
    while let Some(first) = rx.recv().await {
        let mut subs = vec![first];
        let mut count = subs[0].events.len();
        while count < MAX_BATCH {
            match rx.try_recv() {
                Ok(s) => {
                    count += s.events.len();
                    subs.push(s);
                }
                Err(_) => break,
            }
        }
        let all: Vec<Event> = subs.iter().flat_map(|s| s.events.iter().cloned()).collect();
        let result = engine
            .store()
            .insert_events(&all, engine.clock().now_ms())
            .await;
        match result {
            Ok(fresh) => {
                let new = fresh.iter().filter(|f| **f).count() as u64;
                engine.metrics().events_accepted.inc_by(new);
                engine.metrics().events_unmatched.inc_by(new as i64);
                engine
                    .metrics()
                    .events_duplicate
                    .inc_by(fresh.len() as u64 - new);
                let mut rest = fresh.as_slice();
                for s in subs {
                    let (mine, tail) = rest.split_at(s.events.len());
                    rest = tail;
                    let _ = s.reply.send(Ok(mine.to_vec()));
                }
                engine.wake();
            }
            Err(e) => {
                tracing::error!("event intake failed: {e}");
                for s in subs {
                    let _ = s.reply.send(Err(format!("storage error: {e}")));
                }
            }
        }
    }
}
