//! The embedded SQLite store (WAL, full sync). Each concern's queries live in their own file;
//! rows are read by column name through the `FromRow` records of [`rows`]. The schema is
//! `engine/migrations/*.sql`, applied by sqlx's migrator (embedded at build time).

mod access;
mod commit;
mod customers;
mod direct;
mod events;
mod experiments;
mod matched;
mod meta;
mod read;
mod restraint;
mod runs;
mod schedules;
mod scores;
mod shapes;
mod statements;
#[cfg(test)]
mod upgrade_tests;
mod writer;

use super::StoreResult;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::Path;
use std::time::Duration;

/// SQLite behind the store traits.
///
/// Writes go through one connection, reads through a pool of four. SQLite takes one writer at a
/// time anyway; with several writing connections the losers sleep in SQLite's busy handler
/// (fixed steps of 1 to 100 ms) and come back late, which made the p99 of a busy engine. One
/// writer connection queues them in arrival order instead, without sleeping, and the callers
/// batch what they write (the intake and the run commits group many changes per transaction).
#[derive(Clone)]
pub struct SqliteStore {
    /// Readers (WAL: they never wait for the writer).
    pool: SqlitePool,
    /// The single writer.
    write: SqlitePool,
    /// Where the hot write transactions (events, matches, run commits) run.
    writer: writer::WriterThread,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&write).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(SqliteStore {
            pool,
            write,
            writer: writer::WriterThread::start()?,
        })
    }

    /// Runs `work` as one transaction on the writer connection, on the writer thread.
    async fn write_tx<T: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let write = self.write.clone();
        self.writer
            .run(async move { direct::transaction(&write, work).await })
            .await
    }
}
