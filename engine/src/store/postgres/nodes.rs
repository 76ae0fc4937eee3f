//! The nodes sharing the database: each one's heartbeat, the live peers it sees, and the
//! hand-off of new runs from the node that matches events to the others, so execution spreads
//! over every node instead of staying where the events were matched.

use super::{ALIVE_MS, DB_NOW, HEARTBEAT};
use crate::clock::Millis;
use crate::store::rows::{run_rows, RunRecord, RUN_COLUMNS};
use crate::store::{RunRow, StoreResult};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

/// The other nodes alive at the latest heartbeat, by id.
pub(super) type Peers = Arc<RwLock<Vec<Arc<str>>>>;

/// Writes this node's heartbeat every [`HEARTBEAT`] and refreshes `peers` from the others',
/// until the store is dropped.
pub(super) async fn heartbeat(
    pool: PgPool,
    node: Arc<str>,
    peers: Peers,
    mut stopped: watch::Receiver<()>,
) {
    let beat = format!(
        "INSERT INTO nodes (id, started_at, heartbeat_at) VALUES ($1, {DB_NOW}, {DB_NOW})
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at"
    );
    let alive = format!(
        "SELECT id FROM nodes WHERE heartbeat_at > {DB_NOW} - {ALIVE_MS} AND id <> $1 ORDER BY id"
    );
    // Every start adds a node id; the ones silent for a day are gone for good, and so are the
    // hand-offs to nodes no longer alive (their runs' leases end and any node claims them).
    let forget = format!(
        "DELETE FROM nodes WHERE heartbeat_at < {DB_NOW} - 86400000;
         DELETE FROM handoffs WHERE node NOT IN
           (SELECT id FROM nodes WHERE heartbeat_at > {DB_NOW} - {ALIVE_MS})"
    );
    if let Err(e) = sqlx::raw_sql(&forget).execute(&pool).await {
        tracing::warn!("forgetting long-dead nodes: {e}");
    }
    loop {
        if let Err(e) = sqlx::query(&beat).bind(&*node).execute(&pool).await {
            tracing::warn!(%node, "writing the node's heartbeat: {e}");
        }
        match sqlx::query_scalar::<_, String>(&alive)
            .bind(&*node)
            .fetch_all(&pool)
            .await
        {
            Ok(ids) => {
                *peers.write().expect("peers lock") = ids.into_iter().map(Arc::from).collect()
            }
            Err(e) => tracing::warn!(%node, "reading the live nodes: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(HEARTBEAT) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// Which node each run in `ids` goes to: the peers in turn, or `node` itself when it sees none
/// (the matcher asked while a peer was alive; the runs are still taken, by this node).
pub(super) fn assign<'a>(
    ids: &'a [String],
    peers: &'a [Arc<str>],
    node: &'a str,
) -> HashMap<&'a str, &'a str> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let to = if peers.is_empty() {
                node
            } else {
                &*peers[i % peers.len()]
            };
            (id.as_str(), to)
        })
        .collect()
}

/// Records hand-offs `(node, run id)` in the transaction that inserts their runs.
pub(super) async fn record(tx: &mut PgConnection, handed: &[(&str, &str)]) -> StoreResult<()> {
    if handed.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO handoffs (node, run_id) SELECT * FROM UNNEST($1::text[], $2::text[])
         ON CONFLICT DO NOTHING",
    )
    .bind(handed.iter().map(|h| h.0).collect::<Vec<_>>())
    .bind(handed.iter().map(|h| h.1).collect::<Vec<_>>())
    .execute(tx)
    .await?;
    Ok(())
}

/// Takes up to `limit` runs handed to `node` at `now`, deleting their rows: those whose first
/// timer is still leased to it (a run whose lease ended is left to the claims of every node).
/// A lease past its first half is renewed for `lease_ms`, so a run waiting long in a busy
/// node's hand-offs never executes under a lease about to end (it is still this node's:
/// no other node can have claimed it).
pub(super) async fn take(
    pool: &PgPool,
    node: &str,
    now: Millis,
    limit: i64,
    lease_ms: i64,
) -> StoreResult<Vec<RunRow>> {
    let records: Vec<RunRecord> = sqlx::query_as(&format!(
        "WITH taken AS (DELETE FROM handoffs WHERE node = $1 AND run_id IN
                          (SELECT run_id FROM handoffs WHERE node = $1 LIMIT $2)
                        RETURNING run_id),
              renewed AS (UPDATE runs SET lease_until = $5 FROM taken
                          WHERE runs.id = taken.run_id AND lease_owner = $1
                            AND lease_until > $3 AND lease_until < $4)
         SELECT {RUN_COLUMNS} FROM runs JOIN taken ON runs.id = taken.run_id
         WHERE lease_owner = $1 AND lease_until > $3 AND due_at IS NOT NULL"
    ))
    .bind(node)
    .bind(limit)
    .bind(now)
    .bind(now + lease_ms / 2)
    .bind(now + lease_ms)
    .fetch_all(pool)
    .await?;
    run_rows(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_go_to_the_peers_in_turn_or_stay_without_any() {
        let ids: Vec<String> = (0..5).map(|i| format!("r{i}")).collect();
        let peers: Vec<Arc<str>> = vec!["b".into(), "c".into()];
        let to = assign(&ids, &peers, "a");
        let got: Vec<&str> = ids.iter().map(|id| to[id.as_str()]).collect();
        assert_eq!(got, ["b", "c", "b", "c", "b"]);
        let alone = assign(&ids, &[], "a");
        assert!(alone.values().all(|n| *n == "a"));
    }
}
