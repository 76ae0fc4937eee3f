//! What host functions work with: the state of one call ([`HostState`]), the state shared by
//! every call of a host ([`Shared`]) and the plugins' key-value storage ([`KvStore`]).

use super::manifest::Capabilities;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Per-plugin key-value storage behind the `kv_get` / `kv_set` host functions.
#[async_trait]
pub trait KvStore: Send + Sync {
    /// The value of `key` in `plugin`'s namespace.
    async fn get(&self, plugin: &str, key: &str) -> Result<Option<String>, String>;
    /// Sets `key` in `plugin`'s namespace.
    async fn set(&self, plugin: &str, key: &str, value: &str) -> Result<(), String>;
}

/// A key-value store in memory (for `mikawaya plugin call` and tests).
#[derive(Default)]
pub struct MemoryKv(Mutex<HashMap<(String, String), String>>);

#[async_trait]
impl KvStore for MemoryKv {
    async fn get(&self, plugin: &str, key: &str) -> Result<Option<String>, String> {
        Ok(self
            .0
            .lock()
            .expect("kv lock")
            .get(&(plugin.to_string(), key.to_string()))
            .cloned())
    }
    async fn set(&self, plugin: &str, key: &str, value: &str) -> Result<(), String> {
        self.0
            .lock()
            .expect("kv lock")
            .insert((plugin.to_string(), key.to_string()), value.to_string());
        Ok(())
    }
}

/// What host functions see during one call.
pub struct HostState {
    pub(super) plugin: String,
    pub(super) caps: Capabilities,
    pub(super) limits: wasmtime::StoreLimits,
    pub(super) shared: Arc<Shared>,
    pub(super) rt: tokio::runtime::Handle,
    /// Denied or failed host calls, reported with the call's result.
    pub(super) denials: Vec<String>,
    /// When the call's time is up; host calls (HTTP) never run past it.
    pub(super) deadline: std::time::Instant,
    /// A host call ran into the deadline: the call fails as timed out (retryable).
    pub(super) timed_out: bool,
}

/// State shared by all calls of a host.
pub struct Shared {
    pub(super) kv: Arc<dyn KvStore>,
    pub(super) http: reqwest::Client,
    pub(super) now_ms: Arc<dyn Fn() -> i64 + Send + Sync>,
}
