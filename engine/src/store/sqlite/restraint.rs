//! SQLite [`RestraintStore`]: sent messages, suppressions and consent.

use super::rows::merge_customer;
use super::SqliteStore;
use crate::clock::Millis;
use crate::store::merge::consent_patch;
use crate::store::model::*;
use crate::store::{RestraintStore, StoreResult};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::SqliteConnection;

#[async_trait]
impl RestraintStore for SqliteStore {
    async fn messages_since(
        &self,
        customer_id: &str,
        channel: &str,
        kind: &str,
        since: Millis,
    ) -> StoreResult<Vec<Millis>> {
        let rows: Vec<Millis> = sqlx::query_scalar("SELECT sent_at FROM messages WHERE customer_id = ? AND channel = ? AND kind = ? AND sent_at >= ? ORDER BY sent_at")
            .bind(customer_id)
            .bind(channel)
            .bind(kind)
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows)
    }

    async fn claim_message(
        &self,
        m: &SentMessage,
        run_id: &str,
        at: Millis,
        limit: Option<MessageLimit>,
    ) -> StoreResult<Claim> {
        // One statement counts and inserts, so SQLite's write lock makes it atomic. Old rows
        // without a key count one each.
        const OTHERS: &str = "FROM messages WHERE customer_id = ?1 AND channel = ?2 AND kind = ?3 \
             AND sent_at >= ?4 AND (key IS NULL OR key <> ?5)";
        let inserted = sqlx::query(&format!(
            "INSERT INTO messages (customer_id, channel, kind, sent_at, key, address, workflow, run_id) \
             SELECT ?1, ?2, ?3, ?7, ?5, ?8, ?9, ?10 WHERE ?6 IS NULL \
             OR (SELECT COUNT(DISTINCT COALESCE(key, 'row:' || id)) {OTHERS}) < ?6"
        ))
        .bind(&m.customer_id)
        .bind(&m.channel)
        .bind(&m.kind)
        .bind(limit.map_or(0, |l| l.since))
        .bind(&m.key)
        .bind(limit.map(|l| l.max as i64))
        .bind(at)
        .bind(&m.address)
        .bind(&m.workflow)
        .bind(run_id)
        .execute(&self.write)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(Claim::Granted);
        }
        let latest: Vec<Millis> = sqlx::query_scalar(&format!(
            "SELECT MAX(sent_at) AS at {OTHERS} GROUP BY COALESCE(key, 'row:' || id) ORDER BY at"
        ))
        .bind(&m.customer_id)
        .bind(&m.channel)
        .bind(&m.kind)
        .bind(limit.map_or(0, |l| l.since))
        .bind(&m.key)
        .fetch_all(&self.pool)
        .await?;
        Ok(Claim::Over(latest))
    }

    async fn suppressed(&self, address: &str) -> StoreResult<Option<String>> {
        let row: Option<String> =
            sqlx::query_scalar("SELECT reason FROM suppressions WHERE address = ?")
                .bind(address.to_lowercase())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row)
    }

    async fn suppress(&self, address: &str, reason: &str, at: Millis) -> StoreResult<()> {
        sqlx::query("INSERT INTO suppressions (address, reason, created_at) VALUES (?, ?, ?) ON CONFLICT (address) DO UPDATE SET reason = excluded.reason")
            .bind(address.to_lowercase())
            .bind(reason)
            .bind(at)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn unsuppress(&self, address: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM suppressions WHERE address = ?")
            .bind(address.to_lowercase())
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn suppressions(&self) -> StoreResult<Vec<Suppression>> {
        Ok(sqlx::query_as(
            "SELECT address, reason, created_at FROM suppressions ORDER BY created_at DESC, address",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn set_consent(
        &self,
        customer_id: &str,
        channel: &str,
        granted: bool,
        source: &str,
        at: Millis,
    ) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        record_consent(&mut tx, customer_id, channel, granted, source, at).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Sets `consent.<channel>` in the customer store and logs the change, inside a transaction.
pub(super) async fn record_consent(
    tx: &mut SqliteConnection,
    customer_id: &str,
    channel: &str,
    granted: bool,
    source: &str,
    at: Millis,
) -> StoreResult<()> {
    let patch = Value::Object(consent_patch(channel, granted));
    merge_customer(&mut *tx, customer_id, &patch, at).await?;
    sqlx::query("INSERT INTO consent_log (customer_id, channel, granted, source, at) VALUES (?, ?, ?, ?, ?)")
        .bind(customer_id)
        .bind(channel)
        .bind(granted)
        .bind(source)
        .bind(at)
        .execute(tx)
        .await?;
    Ok(())
}

/// The statement recording a sent message unless its key was claimed already.
pub(super) fn insert_message<'q>(
    m: &'q SentMessage,
    run_id: &'q str,
    at: Millis,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    sqlx::query("INSERT INTO messages (customer_id, channel, kind, address, workflow, run_id, sent_at, key) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE NOT EXISTS (SELECT 1 FROM messages WHERE key = ?8)")
        .bind(&m.customer_id)
        .bind(&m.channel)
        .bind(&m.kind)
        .bind(&m.address)
        .bind(&m.workflow)
        .bind(run_id)
        .bind(at)
        .bind(&m.key)
}
