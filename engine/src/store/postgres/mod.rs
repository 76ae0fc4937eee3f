//! The PostgreSQL store, for many engine nodes on one database (`--db postgres://…`). Each
//! concern's queries live in their own file, as for SQLite; the rows are the shared records of
//! `store/rows.rs`. The schema is `engine/migrations-postgres/*.sql`, applied by sqlx's migrator.
//!
//! What changes with many nodes, and where it is handled:
//! - timers are claimed with `FOR UPDATE SKIP LOCKED`, and a claim bumps the run's revision, the
//!   fencing counter a late commit is checked against (`runs.rs`);
//! - matching stays in event order on one node at a time, the holder of the `matcher` lease, and
//!   a matched batch is applied only under the lease it was read with ([`lease`]);
//! - leases of a node that died end by themselves (nothing is freed at start-up);
//! - frequency-cap claims lock the customer's channel for their transaction (`restraint.rs`);
//! - customer merges lock the customers' rows and apply [`crate::store::merge`] (`customers.rs`);
//! - the matcher keeps its share of the runs it starts and hands the rest to the live peers
//!   ([`nodes`]), whose executors take them with their next claim.

mod access;
mod commit;
mod customers;
mod events;
mod experiments;
mod lease;
mod matched;
mod meta;
mod nodes;
mod read;
mod restraint;
mod runs;
mod schedules;
mod scores;
mod statements;

use super::{StoreError, StoreResult};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How often a node writes its heartbeat.
pub(super) const HEARTBEAT: Duration = Duration::from_secs(2);

/// A node whose latest heartbeat is younger than this (five heartbeats) counts as alive.
pub(super) const ALIVE_MS: i64 = 10_000;

/// PostgreSQL behind the store traits, shared by every node that opens the same database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// This process's node id (a fresh one per start: a restarted node does not inherit the
    /// leases of its previous life, they end by themselves).
    node: Arc<str>,
    /// Under which matcher fence each pending event was read (seq → fence), until its batch
    /// is applied.
    matcher_reads: Arc<Mutex<std::collections::HashMap<i64, i64>>>,
    /// The other nodes alive at the latest heartbeat: new runs the matcher leaves to them are
    /// handed to these.
    peers: nodes::Peers,
    /// Who to wake when another node made work (see [`super::EventLog::on_remote_work`]).
    wake: Wakeup,
    /// The `NOTIFY` channel of this schema's nodes.
    channel: Arc<str>,
    /// Stops the heartbeat and the listener when the last clone is dropped.
    _stop: Arc<watch::Sender<()>>,
}

/// The callback a notification calls, once the engine has set it.
type Wakeup = Arc<Mutex<Option<Arc<dyn Fn() + Send + Sync>>>>;

/// The channel the nodes of one schema notify each other on (`NOTIFY`), as a hint that work is
/// waiting: `mikawaya_` and a digest of the schema, since channels are per database and two
/// deployments (or test cases) in two schemas must not wake each other.
fn channel(schema: Option<&str>) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(schema.unwrap_or("public").as_bytes());
    format!("mikawaya_{}", hex::encode(&digest[..8]))
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/database`), applies the migrations and
    /// registers this node. `schema`, when given, is created if missing and used for every table
    /// (the tests give each case its own).
    pub async fn open(url: &str, schema: Option<&str>) -> StoreResult<Self> {
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Url(format!("`{url}` is not a PostgreSQL URL: {e}")))?
            // A node stopped mid-transaction (SIGSTOP, a pause of its VM) must not hold row
            // locks, such as the matcher lease's, until it wakes: the server ends its session.
            .options([("idle_in_transaction_session_timeout", "15s")]);
        if let Some(schema) = schema {
            if schema.is_empty()
                || !schema
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(StoreError::Url(format!(
                    "schema `{schema}`: use letters, digits and `_` only"
                )));
            }
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await?;
            // Nodes starting together would race on CREATE SCHEMA; they take turns.
            let mut tx = admin.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('mikawaya schema', 0))")
                .execute(&mut *tx)
                .await?;
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            admin.close().await;
            options = options.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(format!("connecting to {url}: {e}")))?;
        // Two nodes starting at once must not both create the tables: one migrates, the other
        // waits for it (sqlx's migrator takes an advisory lock for the run).
        sqlx::migrate!("./migrations-postgres").run(&pool).await?;
        let node: Arc<str> = node_id().into();
        let (stop, stopped) = watch::channel(());
        let wake: Wakeup = Arc::default();
        let channel: Arc<str> = channel(schema).into();
        let peers = nodes::Peers::default();
        tokio::spawn(nodes::heartbeat(
            pool.clone(),
            node.clone(),
            peers.clone(),
            stopped.clone(),
        ));
        tokio::spawn(listen(pool.clone(), channel.clone(), wake.clone(), stopped));
        Ok(PostgresStore {
            pool,
            node,
            matcher_reads: Arc::default(),
            peers,
            wake,
            channel,
            _stop: Arc::new(stop),
        })
    }
}

/// Takes mikawaya's own `schema=NAME` parameter out of a PostgreSQL URL (the driver would
/// refuse it): the URL left, and the schema.
pub fn split_schema(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut schema = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("schema=") {
            Some(name) => {
                schema = Some(name.to_string());
                false
            }
            None => true,
        })
        .collect();
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, schema)
}

/// `host-pid-random`: readable in `nodes` and in the leases, unique per process start.
fn node_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &random[..8])
}

/// The database's clock in milliseconds, as SQL: leases compare times written by different
/// machines, so they use one clock.
pub(super) const DB_NOW: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

/// Listens on `channel` and calls the wake-up for each notification, until the store is
/// dropped; a lost connection is opened again (the engine polls meanwhile).
async fn listen(pool: PgPool, channel: Arc<str>, wake: Wakeup, mut stopped: watch::Receiver<()>) {
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("listening for other nodes' work: {e}");
                tokio::select! {
                    _ = tokio::time::sleep(HEARTBEAT) => continue,
                    _ = stopped.changed() => return,
                }
            }
        };
        if let Err(e) = listener.listen(&channel).await {
            tracing::warn!("listening for other nodes' work: {e}");
        }
        loop {
            tokio::select! {
                got = listener.recv() => match got {
                    Ok(_) => {
                        let wake = wake.lock().expect("the wake-up lock").clone();
                        if let Some(wake) = wake {
                            wake();
                        }
                    }
                    Err(e) => {
                        tracing::warn!("listening for other nodes' work: {e}");
                        break;
                    }
                },
                _ = stopped.changed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_schema;

    #[test]
    fn the_schema_parameter_is_taken_out_of_the_url() {
        assert_eq!(
            split_schema("postgres://h/db?schema=crm&sslmode=disable"),
            (
                "postgres://h/db?sslmode=disable".to_string(),
                Some("crm".to_string())
            )
        );
        assert_eq!(
            split_schema("postgres://h/db?schema=crm"),
            ("postgres://h/db".to_string(), Some("crm".to_string()))
        );
        assert_eq!(
            split_schema("postgres://h/db"),
            ("postgres://h/db".to_string(), None)
        );
    }
}
