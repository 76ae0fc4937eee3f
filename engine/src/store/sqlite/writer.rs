//! The thread the write transactions run on.
//!
//! A transaction is a chain of statements, each a hand-off to the connection's own thread and
//! back. Polled by the engine's runtime, the task holding the transaction is woken from that
//! foreign thread into the runtime's global queue, behind the hundreds of run and request tasks
//! of a busy engine: measured at 10,000 events/s, each hand-off waited ~250 µs and the one
//! writer connection sat idle half of the time. On a runtime of its own, on its own thread,
//! the transaction is the only task there and goes on as soon as its statement is done.

use crate::store::{StoreError, StoreResult};
use std::future::Future;
use std::sync::Arc;
use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// A single-threaded runtime on a dedicated thread; it stops when the last clone is dropped.
#[derive(Clone)]
pub(super) struct WriterThread {
    handle: Handle,
    _stop: Arc<oneshot::Sender<()>>,
}

impl WriterThread {
    /// Starts the thread.
    pub fn start() -> StoreResult<Self> {
        let runtime = Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("starting the writer thread: {e}")))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("mikawaya-writer".into())
            .spawn(move || runtime.block_on(async move { stopped.await.ok() }))
            .map_err(|e| StoreError::Unavailable(format!("starting the writer thread: {e}")))?;
        Ok(WriterThread {
            handle,
            _stop: Arc::new(stop),
        })
    }

    /// Runs `work` on the writer thread and waits for its result.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = StoreResult<T>> + Send + 'static,
    ) -> StoreResult<T> {
        self.handle
            .spawn(work)
            .await
            .map_err(|e| StoreError::Unavailable(format!("the writer thread: {e}")))?
    }
}
