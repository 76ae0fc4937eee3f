//! In-memory [`MetaStore`] and [`PluginKv`].

use super::MemoryStore;
use crate::clock::Millis;
use crate::store::model::*;
use crate::store::{MetaStore, PluginKv, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl MetaStore for MemoryStore {
    async fn save_versions(&self, rows: &[VersionRow], _at: Millis) -> StoreResult<()> {
        let mut s = self.lock();
        for v in rows {
            s.versions
                .entry((v.name.clone(), v.version))
                .or_insert_with(|| v.clone());
        }
        Ok(())
    }

    async fn versions(&self) -> StoreResult<Vec<VersionRow>> {
        Ok(self.lock().versions.values().cloned().collect())
    }

    async fn setting_or_init(&self, key: &str, default: &str) -> StoreResult<String> {
        Ok(self
            .lock()
            .settings
            .entry(key.into())
            .or_insert_with(|| default.into())
            .clone())
    }
}

#[async_trait]
impl PluginKv for MemoryStore {
    async fn kv_get(&self, plugin: &str, key: &str) -> StoreResult<Option<String>> {
        Ok(self
            .lock()
            .kv
            .get(&(plugin.to_string(), key.to_string()))
            .cloned())
    }

    async fn kv_set(&self, plugin: &str, key: &str, value: &str) -> StoreResult<()> {
        self.lock()
            .kv
            .insert((plugin.into(), key.into()), value.into());
        Ok(())
    }
}
