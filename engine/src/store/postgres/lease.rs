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

impl PostgresStore {
    /// Takes or renews the matcher lease for reading pending events; whether this node holds it.
    /// The fence is remembered for [`PostgresStore::check_matcher`].
    pub(super) async fn hold_matcher(&self) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await?;
        let fence = acquire(&mut conn, "matcher", &self.node).await?;
        *self.matcher_fence.lock().expect("the fence lock") = fence;
        Ok(fence.is_some())
    }

    /// Inside the transaction applying a match: renews the matcher lease and checks that it is
    /// still the one the batch was read under (a batch applied without reading, by a test or a
    /// tool, only needs the lease).
    pub(super) async fn check_matcher(&self, tx: &mut PgConnection) -> StoreResult<()> {
        let read_under = *self.matcher_fence.lock().expect("the fence lock");
        let now = acquire(tx, "matcher", &self.node).await?;
        match (now, read_under) {
            (Some(now), Some(read)) if now != read => {}
            (Some(_), _) => return Ok(()),
            (None, _) => {}
        }
        *self.matcher_fence.lock().expect("the fence lock") = None;
        Err(StoreError::Fenced(format!(
            "node {} no longer holds the matcher lease it read these events under; another node matches them",
            self.node
        )))
    }
}
