//! WASM plugins inside the engine: loading a folder with the operator's grants, hot reload, the
//! key-value store in the database, and version pinning (a run calls the plugin build that was
//! current when it started, as long as that build is still loaded).

use crate::store::PluginKv;
use async_trait::async_trait;
use mikawaya_plugins::wasm::manifest::read_grants;
use mikawaya_plugins::wasm::{load_dir, KvStore, LoadedPlugin, WasmAction, WasmHost};
use mikawaya_plugins::{Action, ActionRegistry};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

/// The engine's store as the plugins' key-value store.
pub struct StoreKv(pub Arc<dyn PluginKv>);

#[async_trait]
impl KvStore for StoreKv {
    async fn get(&self, plugin: &str, key: &str) -> Result<Option<String>, String> {
        self.0.kv_get(plugin, key).await.map_err(|e| e.to_string())
    }
    async fn set(&self, plugin: &str, key: &str, value: &str) -> Result<(), String> {
        self.0
            .kv_set(plugin, key, value)
            .await
            .map_err(|e| e.to_string())
    }
}

/// The plugins of a folder.
pub struct Plugins {
    host: WasmHost,
    dir: PathBuf,
    grants: Option<PathBuf>,
    latest: RwLock<HashMap<String, Arc<LoadedPlugin>>>,
    by_digest: Mutex<HashMap<String, Arc<LoadedPlugin>>>,
}

impl Plugins {
    /// Plugins of `dir`, granted per the `grants` file.
    pub fn new(host: WasmHost, dir: PathBuf, grants: Option<PathBuf>) -> Self {
        Plugins {
            host,
            dir,
            grants,
            latest: RwLock::default(),
            by_digest: Mutex::default(),
        }
    }

    /// The plugins folder.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// (Re)loads the folder; returns one message per plugin that failed (its previous build, if
    /// any, stays active).
    pub fn reload(&self) -> Vec<String> {
        let grants = match read_grants(self.grants.as_deref()) {
            Ok(g) => g,
            Err(e) => return vec![format!("grants: {e}")],
        };
        let set = load_dir(&self.host, &self.dir, &grants);
        let mut latest = self.latest.write().expect("plugins lock");
        let mut all = self.by_digest.lock().expect("plugins lock");
        for p in set.plugins {
            if latest
                .get(&p.manifest.name)
                .is_none_or(|old| old.digest != p.digest)
            {
                tracing::info!(plugin = %p.manifest.name, version = %p.manifest.version, "plugin loaded");
            }
            all.entry(p.digest.clone()).or_insert_with(|| p.clone());
            latest.insert(p.manifest.name.clone(), p);
        }
        for e in &set.errors {
            tracing::error!("plugin rejected: {e}");
        }
        set.errors
    }

    /// Registers the actions of the current builds.
    pub fn register(&self, registry: &mut ActionRegistry) {
        for p in self.latest.read().expect("plugins lock").values() {
            for a in WasmAction::all(p) {
                registry.register(Arc::new(a));
            }
        }
    }

    /// The builds a new run pins: plugin name → content digest.
    pub fn pins(&self) -> Value {
        let latest = self.latest.read().expect("plugins lock");
        Value::Object(
            latest
                .iter()
                .map(|(n, p)| (n.clone(), Value::String(p.digest.clone())))
                .collect::<Map<_, _>>(),
        )
    }

    /// The plugin whose current build provides action `name`, if any.
    pub fn plugin_of(&self, name: &str) -> Option<String> {
        let latest = self.latest.read().expect("plugins lock");
        latest
            .values()
            .find(|p| p.manifest.actions.iter().any(|a| a.name == name))
            .map(|p| p.manifest.name.clone())
    }

    /// The action `name` of the build pinned in `pins`, when it differs from the current one and
    /// is still loaded.
    pub fn pinned(&self, name: &str, pins: &Value) -> Option<Arc<dyn Action>> {
        let latest = self.latest.read().expect("plugins lock");
        let current = latest
            .values()
            .find(|p| p.manifest.actions.iter().any(|a| a.name == name))?;
        let digest = pins.get(&current.manifest.name)?.as_str()?;
        if digest == current.digest {
            return None;
        }
        let old = self
            .by_digest
            .lock()
            .expect("plugins lock")
            .get(digest)
            .cloned()?;
        WasmAction::all(&old)
            .into_iter()
            .find(|a| a.name() == name)
            .map(|a| Arc::new(a) as Arc<dyn Action>)
    }
}
