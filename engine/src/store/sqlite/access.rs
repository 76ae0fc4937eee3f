//! SQLite [`AccessStore`]: scoped API tokens, kept as hashes, and the audit log.

use super::rows::json_of;
use super::SqliteStore;
use crate::clock::Millis;
use crate::store::views::{AuditEntry, TokenRow};
use crate::store::{AccessStore, StoreResult};
use async_trait::async_trait;

#[derive(sqlx::FromRow)]
struct TokenRecord {
    name: String,
    hash: String,
    scopes: String,
    created_at: Millis,
    revoked_at: Option<Millis>,
}

#[derive(sqlx::FromRow)]
struct AuditRecord {
    id: i64,
    at: Millis,
    actor: String,
    action: String,
    target: String,
    detail: String,
}

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
        Ok(rows
            .into_iter()
            .map(|r| TokenRow {
                name: r.name,
                hash: r.hash,
                scopes: r.scopes.split_whitespace().map(String::from).collect(),
                created_at: r.created_at,
                revoked_at: r.revoked_at,
            })
            .collect())
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
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                at: r.at,
                actor: r.actor,
                action: r.action,
                target: r.target,
                detail: json_of(&r.detail),
            })
            .collect())
    }
}
