//! The wasmtime host: one engine with epoch interruption and the pooling allocator, linking the
//! ABI's host functions, checking modules against the ABI, and the on-disk cache of compiled
//! modules.

use super::abi::{sig_matches, IMPORTS};
use super::manifest::{
    read_manifest, Capabilities, Grants, Manifest, DEFAULT_MAX_TIMEOUT_MS, MAX_TIMEOUT_MS,
};
use super::state::{HostState, KvStore, Shared};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{
    Config, Engine, ExternType, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, ValType,
};

/// Length of one epoch tick; deadlines are counted in ticks.
pub const TICK: Duration = Duration::from_millis(10);
/// Largest memory a plugin may ask for.
pub const MAX_MEMORY_MB: u32 = 256;

/// The plugin runtime.
pub struct WasmHost {
    pub(super) engine: Engine,
    linker: Linker<HostState>,
    cache_dir: Option<PathBuf>,
    cache_key: Vec<u8>,
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
            // Redirects are followed by the host function itself, checking every hop against the
            // plugin's grant (a granted host must not bounce a plugin to a forbidden one).
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| e.to_string())?,
            now_ms,
        });
        Ok(WasmHost {
            engine,
            linker,
            cache_dir,
            cache_key: {
                use rand::RngCore;
                let mut key = vec![0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                key
            },
            shared,
        })
    }

    /// Compiles `bytes`, or loads the compiled form from the cache.
    /// Uses `key` (kept outside the cache folder, e.g. in the engine's database) to sign and
    /// verify cache entries, so entries survive restarts. Without it, a key is made per process.
    pub fn with_cache_key(mut self, key: &[u8]) -> Self {
        self.cache_key = key.to_vec();
        self
    }

    /// The MAC of a cache entry: compiled native code is only loaded when this engine wrote it.
    fn cache_mac(&self, digest: &str, compiled: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.cache_key).expect("any key length");
        mac.update(digest.as_bytes());
        mac.update(compiled);
        mac
    }

    fn compile(&self, bytes: &[u8], digest: &str) -> Result<Module, String> {
        let cached = self
            .cache_dir
            .as_ref()
            .map(|d| d.join(format!("{digest}-wasmtime48.cwasm")));
        if let Some(module) = cached.as_deref().and_then(|p| self.load_cached(p, digest)) {
            return Ok(module);
        }
        let module = Module::new(&self.engine, bytes)
            .map_err(|e| format!("not a valid WebAssembly module: {e:#}"))?;
        if let (Some(path), Ok(compiled)) = (cached, module.serialize()) {
            self.store_cached(&path, digest, &compiled);
        }
        Ok(module)
    }

    /// A cache entry whose MAC verifies (a copied, edited or foreign file is recompiled instead).
    fn load_cached(&self, path: &Path, digest: &str) -> Option<Module> {
        let compiled = std::fs::read(path).ok()?;
        let mac = std::fs::read(mac_path(path)).ok()?;
        self.cache_mac(digest, &compiled).verify_slice(&mac).ok()?;
        // SAFETY: the bytes are exactly what `Module::serialize` of this engine configuration
        // wrote (their MAC, keyed outside the cache, verified above); wasmtime also checks its
        // header and version.
        unsafe { Module::deserialize(&self.engine, &compiled) }.ok()
    }

    fn store_cached(&self, path: &Path, digest: &str, compiled: &[u8]) {
        if let Some(dir) = path.parent() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).ok();
        }
        let mac = self.cache_mac(digest, compiled).finalize().into_bytes();
        if std::fs::write(path, compiled).is_ok() {
            std::fs::write(mac_path(path), mac).ok();
        }
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
        let granted = grants.get(&manifest.name).cloned().unwrap_or_default();
        let ceiling = granted
            .timeout_ms
            .unwrap_or(DEFAULT_MAX_TIMEOUT_MS)
            .min(MAX_TIMEOUT_MS);
        if manifest.limits.timeout_ms > ceiling {
            return Err(format!(
                "{}: limits.timeout_ms asks for {} ms, but the operator allows `{}` at most {ceiling} ms; lower it, or raise `timeout_ms` in its grant (up to {MAX_TIMEOUT_MS})",
                manifest_path.display(),
                manifest.limits.timeout_ms,
                manifest.name
            ));
        }
        let caps = manifest.capabilities.intersect(&granted);
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

/// Where the MAC of a cache entry is kept.
fn mac_path(entry: &Path) -> PathBuf {
    entry.with_extension("cwasm.mac")
}
