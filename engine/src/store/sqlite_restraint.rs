//! SQLite queries of the restraint rules: sent messages, suppressions, consent, settings.

use super::sqlite::SqliteStore;
use super::*;
use sqlx::Row;

impl SqliteStore {
    pub(super) async fn messages_since_impl(
        &self,
        customer_id: &str,
        channel: &str,
        kind: &str,
        since: Millis,
    ) -> StoreResult<Vec<Millis>> {
        let rows = sqlx::query("SELECT sent_at FROM messages WHERE customer_id = ? AND channel = ? AND kind = ? AND sent_at >= ? ORDER BY sent_at")
            .bind(customer_id)
            .bind(channel)
            .bind(kind)
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub(super) async fn suppressed_impl(&self, address: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT reason FROM suppressions WHERE address = ?")
            .bind(address.to_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    pub(super) async fn suppress_impl(
        &self,
        address: &str,
        reason: &str,
        at: Millis,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO suppressions (address, reason, created_at) VALUES (?, ?, ?) ON CONFLICT (address) DO UPDATE SET reason = excluded.reason")
            .bind(address.to_lowercase())
            .bind(reason)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn unsuppress_impl(&self, address: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM suppressions WHERE address = ?")
            .bind(address.to_lowercase())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub(super) async fn suppressions_impl(&self) -> StoreResult<Vec<Suppression>> {
        let rows = sqlx::query(
            "SELECT address, reason, created_at FROM suppressions ORDER BY created_at DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Suppression {
                address: r.get(0),
                reason: r.get(1),
                created_at: r.get(2),
            })
            .collect())
    }

    pub(super) async fn set_consent_impl(
        &self,
        customer_id: &str,
        channel: &str,
        granted: bool,
        source: &str,
        at: Millis,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        record_consent(&mut tx, customer_id, channel, granted, source, at).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn setting_or_init_impl(
        &self,
        key: &str,
        default: &str,
    ) -> StoreResult<String> {
        sqlx::query("INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)")
            .bind(key)
            .bind(default)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get(0))
    }
}

/// Sets `consent.<channel>` in the customer store and logs the change, inside a transaction.
pub(super) async fn record_consent(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    customer_id: &str,
    channel: &str,
    granted: bool,
    source: &str,
    at: Millis,
) -> StoreResult<()> {
    let patch = serde_json::json!({ "consent": { channel: granted } });
    super::sqlite_runs::merge_customer(tx, customer_id, &patch, at).await?;
    sqlx::query("INSERT INTO consent_log (customer_id, channel, granted, source, at) VALUES (?, ?, ?, ?, ?)")
        .bind(customer_id)
        .bind(channel)
        .bind(granted)
        .bind(source)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
