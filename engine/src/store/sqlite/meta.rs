//! SQLite [`MetaStore`] (workflow versions, settings) and [`PluginKv`].

use super::SqliteStore;
use crate::clock::Millis;
use crate::store::model::*;
use crate::store::rows::VersionRecord;
use crate::store::{MetaStore, PluginKv, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl MetaStore for SqliteStore {
    async fn index_events_by_type(&self) -> StoreResult<()> {
        sqlx::query(
            "CREATE INDEX IF NOT EXISTS events_type_received ON events (type, received_at)",
        )
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn save_versions(&self, rows: &[VersionRow], at: Millis) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        for v in rows {
            sqlx::query("INSERT OR IGNORE INTO workflow_versions (name, version, file, source, digest, ir, compiler, loaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(&v.name)
            .bind(v.version as i64)
            .bind(&v.file)
            .bind(&v.source)
            .bind(&v.digest)
            .bind(&v.ir)
            .bind(&v.compiler)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn versions(&self) -> StoreResult<Vec<VersionRow>> {
        let rows: Vec<VersionRecord> = sqlx::query_as("SELECT name, version, file, source, digest, ir, compiler FROM workflow_versions ORDER BY name, version")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(VersionRow::from).collect())
    }

    async fn setting_or_init(&self, key: &str, default: &str) -> StoreResult<String> {
        sqlx::query("INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)")
            .bind(key)
            .bind(default)
            .execute(&self.write)
            .await?;
        let value: String = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_one(&self.pool)
            .await?;
        Ok(value)
    }
}

#[async_trait]
impl PluginKv for SqliteStore {
    async fn kv_get(&self, plugin: &str, key: &str) -> StoreResult<Option<String>> {
        let row: Option<String> =
            sqlx::query_scalar("SELECT value FROM plugin_kv WHERE plugin = ? AND key = ?")
                .bind(plugin)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row)
    }

    async fn kv_set(&self, plugin: &str, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO plugin_kv (plugin, key, value) VALUES (?, ?, ?) ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value")
            .bind(plugin)
            .bind(key)
            .bind(value)
            .execute(&self.write)
            .await?;
        Ok(())
    }
}
