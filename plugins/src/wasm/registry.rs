//! Loading a folder of plugins (each `*/plugin.yaml`), and the set of loaded plugins.

use super::action::WasmAction;
use super::host::{LoadedPlugin, WasmHost};
use super::manifest::Grants;
use crate::{Action, ActionRegistry};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Loaded plugins and the problems of those that failed.
#[derive(Default)]
pub struct PluginSet {
    /// Plugins that loaded.
    pub plugins: Vec<Arc<LoadedPlugin>>,
    /// `manifest path: problem` for each one that did not.
    pub errors: Vec<String>,
}

impl PluginSet {
    /// Registers every action of every loaded plugin.
    pub fn register(&self, registry: &mut ActionRegistry) {
        for p in &self.plugins {
            for a in WasmAction::all(p) {
                registry.register(Arc::new(a) as Arc<dyn Action>);
            }
        }
    }
}

/// Manifests under `dir`: `dir/*/plugin.yaml` and `dir/*/*/plugin.yaml`, sorted.
pub fn manifests_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for level1 in std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
    {
        if level1.join("plugin.yaml").exists() {
            out.push(level1.join("plugin.yaml"));
        }
        for level2 in std::fs::read_dir(&level1)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
        {
            if level2.join("plugin.yaml").exists() {
                out.push(level2.join("plugin.yaml"));
            }
        }
    }
    out.sort();
    out
}

/// Loads every plugin under `dir`.
pub fn load_dir(host: &WasmHost, dir: &Path, grants: &Grants) -> PluginSet {
    let mut set = PluginSet::default();
    for manifest in manifests_in(dir) {
        match host.load(&manifest, grants) {
            Ok(p) => set.plugins.push(p),
            Err(e) => set.errors.push(e),
        }
    }
    set
}
