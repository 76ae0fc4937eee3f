//! The wasmtime host: one engine with epoch interruption and the pooling allocator, the host
//! functions of ABI version 1 with their capability checks, module checks, and the on-disk cache
//! of compiled modules.

use super::manifest::{read_manifest, Capabilities, Grants, Manifest};
use async_trait::async_trait;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::{
    Caller, Config, Engine, ExternType, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, ValType,
};

/// Length of one epoch tick; deadlines are counted in ticks.
pub const TICK: Duration = Duration::from_millis(10);
/// Largest memory a plugin may ask for.
pub const MAX_MEMORY_MB: u32 = 256;

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
}

/// State shared by all calls of a host.
pub struct Shared {
    pub(super) kv: Arc<dyn KvStore>,
    pub(super) http: reqwest::Client,
    pub(super) now_ms: Arc<dyn Fn() -> i64 + Send + Sync>,
}

/// The plugin runtime.
pub struct WasmHost {
    pub(super) engine: Engine,
    linker: Linker<HostState>,
    cache_dir: Option<PathBuf>,
    pub(super) shared: Arc<Shared>,
}

/// A loaded plugin: manifest, granted capabilities, pre-instantiated module.
pub struct LoadedPlugin {
    /// Its manifest.
    pub manifest: Manifest,
    /// SHA-256 of its `.wasm`.
    pub digest: String,
    /// What it asked for and was granted.
    pub caps: Capabilities,
    pub(super) pre: InstancePre<HostState>,
    pub(super) engine: Engine,
    pub(super) shared: Arc<Shared>,
}

const IMPORTS: &[(&str, &[ValType], &[ValType])] = &[
    ("log", &[ValType::I32, ValType::I32, ValType::I32], &[]),
    ("now_ms", &[], &[ValType::I64]),
    ("kv_get", &[ValType::I32, ValType::I32], &[ValType::I64]),
    (
        "kv_set",
        &[ValType::I32, ValType::I32, ValType::I32, ValType::I32],
        &[ValType::I32],
    ),
    ("secret_get", &[ValType::I32, ValType::I32], &[ValType::I64]),
    (
        "http_request",
        &[ValType::I32, ValType::I32],
        &[ValType::I64],
    ),
];

fn sig_matches(ty: &ExternType, params: &[ValType], results: &[ValType]) -> bool {
    let ExternType::Func(f) = ty else {
        return false;
    };
    let same = |a: &mut dyn ExactSizeIterator<Item = ValType>, b: &[ValType]| {
        a.len() == b.len() && a.zip(b).all(|(x, y)| ValType::eq(&x, y))
    };
    same(&mut f.params(), params) && same(&mut f.results(), results)
}

impl WasmHost {
    /// A host whose compiled modules are cached in `cache_dir` (if given).
    pub fn new(
        cache_dir: Option<PathBuf>,
        kv: Arc<dyn KvStore>,
        now_ms: Arc<dyn Fn() -> i64 + Send + Sync>,
    ) -> Result<Self, String> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(128)
            .total_memories(128)
            .total_tables(128)
            .max_memory_size((MAX_MEMORY_MB as usize) << 20);
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(|e| format!("starting wasmtime: {e}"))?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .map_err(|e| e.to_string())?;
        let mut linker = Linker::new(&engine);
        super::abi::add_host_functions(&mut linker).map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared {
            kv,
            http: reqwest::Client::new(),
            now_ms,
        });
        Ok(WasmHost {
            engine,
            linker,
            cache_dir,
            shared,
        })
    }

    /// Compiles `bytes`, or loads the compiled form from the cache.
    fn compile(&self, bytes: &[u8], digest: &str) -> Result<Module, String> {
        let cached = self
            .cache_dir
            .as_ref()
            .map(|d| d.join(format!("{digest}-wasmtime48.cwasm")));
        if let Some(path) = cached.as_ref().filter(|p| p.exists()) {
            // SAFETY: the file was written by `Module::serialize` of this same engine configuration
            // (the name carries the content hash and the wasmtime version); a stale or foreign file
            // is rejected by wasmtime's own header check and we recompile.
            if let Ok(m) = unsafe { Module::deserialize_file(&self.engine, path) } {
                return Ok(m);
            }
        }
        let module = Module::new(&self.engine, bytes)
            .map_err(|e| format!("not a valid WebAssembly module: {e:#}"))?;
        if let (Some(path), Ok(compiled)) = (cached, module.serialize()) {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).ok();
            }
            std::fs::write(path, compiled).ok();
        }
        Ok(module)
    }

    /// Checks a module against a manifest and ABI version 1; returns every problem.
    pub fn check_module(module: &Module, manifest: &Manifest) -> Vec<String> {
        let mut problems = Vec::new();
        for import in module.imports() {
            let known = IMPORTS
                .iter()
                .find(|(n, ..)| import.module() == "mikawaya" && *n == import.name());
            match known {
                None => problems.push(format!(
                    "imports `{}.{}`, which the sandbox does not provide (plugins may import only mikawaya.{{{}}})",
                    import.module(),
                    import.name(),
                    IMPORTS.iter().map(|i| i.0).collect::<Vec<_>>().join(",")
                )),
                Some((name, params, results)) if !sig_matches(&import.ty(), params, results) => {
                    problems.push(format!("imports `mikawaya.{name}` with the wrong signature; see plugins/README.md"))
                }
                Some(_) => {}
            }
        }
        let export = |name: &str| module.exports().find(|e| e.name() == name).map(|e| e.ty());
        if !matches!(export("memory"), Some(ExternType::Memory(_))) {
            problems.push("does not export its `memory`".into());
        }
        if export("mikawaya_abi_1").is_none() {
            problems.push("does not export `mikawaya_abi_1` (the ABI version marker)".into());
        }
        match export("alloc") {
            Some(ty) if sig_matches(&ty, &[ValType::I32], &[ValType::I32]) => {}
            Some(_) => problems
                .push("exports `alloc` with the wrong signature; it must be (i32) -> i32".into()),
            None => problems.push("does not export `alloc(len: i32) -> i32`".into()),
        }
        for a in &manifest.actions {
            match export(&a.export) {
                Some(ty) if sig_matches(&ty, &[ValType::I32, ValType::I32], &[ValType::I64]) => {}
                Some(_) => problems.push(format!("exports `{}` for action `{}` with the wrong signature; it must be (i32, i32) -> i64", a.export, a.name)),
                None => problems.push(format!("does not export `{}`, which the manifest names for action `{}`", a.export, a.name)),
            }
        }
        problems
    }

    /// Loads the plugin whose manifest is at `manifest_path`, granting what `grants` allows.
    pub fn load(&self, manifest_path: &Path, grants: &Grants) -> Result<Arc<LoadedPlugin>, String> {
        let manifest = read_manifest(manifest_path)?;
        if manifest.limits.memory_mb > MAX_MEMORY_MB {
            return Err(format!(
                "{}: memory_mb may be at most {MAX_MEMORY_MB}",
                manifest_path.display()
            ));
        }
        let wasm_path = manifest_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&manifest.wasm);
        let bytes =
            std::fs::read(&wasm_path).map_err(|e| format!("{}: {e}", wasm_path.display()))?;
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let module = self
            .compile(&bytes, &digest)
            .map_err(|e| format!("{}: {e}", wasm_path.display()))?;
        let problems = Self::check_module(&module, &manifest);
        if !problems.is_empty() {
            return Err(format!("{}: {}", wasm_path.display(), problems.join("; ")));
        }
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|e| format!("{}: {e:#}", wasm_path.display()))?;
        let caps = manifest
            .capabilities
            .intersect(&grants.get(&manifest.name).cloned().unwrap_or_default());
        Ok(Arc::new(LoadedPlugin {
            manifest,
            digest,
            caps,
            pre,
            engine: self.engine.clone(),
            shared: self.shared.clone(),
        }))
    }
}

/// Reads bytes of the guest's memory.
pub(super) fn read_guest(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    len: i32,
) -> Option<Vec<u8>> {
    let memory = caller.get_export("memory")?.into_memory()?;
    let mut buf = vec![0u8; usize::try_from(len).ok()?];
    memory
        .read(&*caller, usize::try_from(ptr).ok()?, &mut buf)
        .ok()?;
    Some(buf)
}

/// Copies bytes into guest memory through its `alloc`; returns `(ptr << 32) | len`, or -2.
pub(super) fn write_guest(caller: &mut Caller<'_, HostState>, bytes: &[u8]) -> i64 {
    let Some(alloc) = caller.get_export("alloc").and_then(|e| e.into_func()) else {
        return -2;
    };
    let Ok(alloc) = alloc.typed::<i32, i32>(&*caller) else {
        return -2;
    };
    let Ok(ptr) = alloc.call(&mut *caller, bytes.len() as i32) else {
        return -2;
    };
    let Some(memory) = caller.get_export("memory").and_then(|e| e.into_memory()) else {
        return -2;
    };
    if ptr == 0 || memory.write(&mut *caller, ptr as usize, bytes).is_err() {
        return -2;
    }
    ((ptr as u32 as i64) << 32) | bytes.len() as i64
}

/// A JSON value as bytes.
pub(super) fn json_bytes(v: &Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// A denial message, logged and kept with the call.
pub(super) fn deny(caller: &mut Caller<'_, HostState>, what: String) {
    tracing::warn!(plugin = %caller.data().plugin, "{what}");
    caller.data_mut().denials.push(what);
}

/// The JSON answer of a failed HTTP call.
pub(super) fn http_error(message: String) -> Value {
    json!({ "status": 0, "error": message })
}
