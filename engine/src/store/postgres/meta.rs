//! PostgreSQL [`MetaStore`] (workflow versions, settings) and [`PluginKv`].

use super::PostgresStore;
use crate::clock::Millis;
use crate::store::model::*;
use crate::store::rows::VersionRecord;
use crate::store::{MetaStore, PluginKv, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl MetaStore for PostgresStore {
    async fn save_versions(&self, rows: &[VersionRow], at: Millis) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let text = |f: fn(&VersionRow) -> String| rows.iter().map(f).collect::<Vec<_>>();
        let optional =
            |f: fn(&VersionRow) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO workflow_versions (name, version, file, source, digest, ir, compiler, loaded_at)
             SELECT name, version, file, source, digest, ir, compiler, $8
             FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                  AS t(name, version, file, source, digest, ir, compiler)
             ON CONFLICT (name, version) DO NOTHING",
        )
        .bind(text(|v| v.name.clone()))
        .bind(rows.iter().map(|v| v.version as i64).collect::<Vec<_>>())
        .bind(text(|v| v.file.clone()))
        .bind(text(|v| v.source.clone()))
        .bind(text(|v| v.digest.clone()))
        .bind(optional(|v| v.ir.clone()))
        .bind(optional(|v| v.compiler.clone()))
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn versions(&self) -> StoreResult<Vec<VersionRow>> {
        let rows: Vec<VersionRecord> = sqlx::query_as(
            "SELECT name, version, file, source, digest, ir, compiler FROM workflow_versions ORDER BY name, version",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(VersionRow::from).collect())
    }

    async fn setting_or_init(&self, key: &str, default: &str) -> StoreResult<String> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(default)
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

#[async_trait]
impl PluginKv for PostgresStore {
    async fn kv_get(&self, plugin: &str, key: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM plugin_kv WHERE plugin = $1 AND key = $2")
                .bind(plugin)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn kv_set(&self, plugin: &str, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO plugin_kv (plugin, key, value) VALUES ($1, $2, $3)
             ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value",
        )
        .bind(plugin)
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
