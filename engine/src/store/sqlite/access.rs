//! SQLite [`AccessStore`]: scoped API tokens, kept as hashes, and the audit log.

use super::SqliteStore;
use crate::clock::Millis;
use crate::store::rows::{AuditRecord, TokenRecord};
use crate::store::views::{AuditEntry, TokenRow};
use crate::store::{AccessStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl AccessStore for SqliteStore {
    async fn create_token(&self, t: &TokenRow) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO api_tokens (name, hash, scopes, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&t.name)
        .bind(&t.hash)
        .bind(t.scopes.join(" "))
        .bind(t.created_at)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn tokens(&self) -> StoreResult<Vec<TokenRow>> {
        let rows: Vec<TokenRecord> = sqlx::query_as(
            "SELECT name, hash, scopes, created_at, revoked_at FROM api_tokens ORDER BY created_at, name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(TokenRow::from).collect())
    }

    async fn revoke_token(&self, name: &str, at: Millis) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(name)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(e.at)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.target)
        .bind(e.detail.to_string())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn audit_log(&self, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        let rows: Vec<AuditRecord> = sqlx::query_as(
            "SELECT id, at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(AuditEntry::from).collect())
    }
}
