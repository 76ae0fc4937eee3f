//! Roles held by one node at a time, with a fencing counter: the `matcher` lease.
//!
//! Matching must see the events in order and one batch at a time (a batch reads what the
//! previous one changed), so it is not split across nodes: the node holding the lease matches,
//! the others execute runs. The lease is taken or renewed each time pending events are read
//! and in the transaction that applies a match. Taking it over from another node (only once
//! its time ran out) bumps the fence; a batch is applied only if the fence it was read under is
//! still the lease's, so a node that stalled past its lease and wakes up has its batch refused
//! (the events are still in the queue; the new holder matches them).

use super::{PostgresStore, DB_NOW};
use crate::store::{StoreError, StoreResult};
use sqlx::PgConnection;

/// How long a lease lasts without renewal; a dead node's role moves after this.
pub(super) const LEASE_MS: i64 = 10_000;

/// Takes or renews the lease `name` for `node`; its fence, or `None` when another node holds
/// it. Inside a transaction the lease row stays locked until it ends, so no takeover can pass
/// between the check and the commit.
pub(super) async fn acquire(
    conn: &mut PgConnection,
    name: &str,
    node: &str,
) -> StoreResult<Option<i64>> {
    let sql = format!(
        "INSERT INTO leases (name, owner, until, fence) VALUES ($1, $2, {DB_NOW} + $3, 1)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until,
             fence = leases.fence + CASE WHEN leases.owner = excluded.owner THEN 0 ELSE 1 END
         WHERE leases.owner = excluded.owner OR leases.until < {DB_NOW}
         RETURNING fence"
    );
    Ok(sqlx::query_scalar(&sql)
        .bind(name)
        .bind(node)
        .bind(LEASE_MS)
        .fetch_optional(conn)
        .await?)
}

/// Most pending events remembered with the fence they were read under; past it the memory is
/// cleared (only a node that lost and took back the role many times without applying gets here).
const MAX_READS: usize = 65_536;

impl PostgresStore {
    /// Takes or renews the matcher lease for reading pending events; its fence, or `None` when
    /// another node holds it.
    pub(super) async fn hold_matcher(&self) -> StoreResult<Option<i64>> {
        let mut conn = self.pool.acquire().await?;
        // Another node's lease that has not run out: nothing to try. The nodes without the role
        // ask every 250 ms and at every notification; an upsert that takes nothing would still
        // lock the row and wait for the disk each time.
        let held: Option<(String, bool)> = sqlx::query_as(&format!(
            "SELECT owner, until >= {DB_NOW} FROM leases WHERE name = 'matcher'"
        ))
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((owner, live)) = held {
            if live && owner != *self.node {
                return Ok(None);
            }
        }
        acquire(&mut conn, "matcher", &self.node).await
    }

    /// Remembers that events `seqs` were read under `fence`.
    pub(super) fn read_under(&self, seqs: impl Iterator<Item = i64>, fence: i64) {
        let mut reads = self.matcher_reads.lock().expect("the reads lock");
        if reads.len() > MAX_READS {
            tracing::warn!(
                "forgetting the fences of {} events read and never applied",
                reads.len()
            );
            reads.clear();
        }
        reads.extend(seqs.map(|seq| (seq, fence)));
    }

    /// Inside the transaction applying a match of events `seqs`: renews the matcher lease and
    /// checks that each event was read under the lease's current fence. A batch read under an
    /// earlier fence is refused even if this node holds the lease again: another node may have
    /// matched some of its events meanwhile. Events applied without being read (by a test or a
    /// tool) only need the lease.
    pub(super) async fn check_matcher(
        &self,
        tx: &mut PgConnection,
        seqs: &[i64],
    ) -> StoreResult<()> {
        let now = acquire(tx, "matcher", &self.node).await?;
        let read: Vec<i64> = {
            let mut reads = self.matcher_reads.lock().expect("the reads lock");
            seqs.iter().filter_map(|seq| reads.remove(seq)).collect()
        };
        let current = match now {
            Some(fence) => read.iter().all(|r| *r == fence),
            None => false,
        };
        if current {
            return Ok(());
        }
        Err(StoreError::Fenced(format!(
            "node {} no longer holds the matcher lease it read these events under; another node matches them",
            self.node
        )))
    }
}
