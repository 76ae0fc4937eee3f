//! A plugin action as an [`Action`]: each call runs on a blocking thread in a fresh instance with
//! the plugin's time and memory limits, and its result or failure maps onto the step's outcome.

use super::host::{LoadedPlugin, TICK};
use super::manifest::check_input;
use super::state::HostState;
use crate::{Action, ActionContext, ActionError};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::sync::Arc;
use wasmtime::{Store, StoreLimitsBuilder, Trap};

/// One exported action of a loaded plugin.
pub struct WasmAction {
    plugin: Arc<LoadedPlugin>,
    index: usize,
}

impl WasmAction {
    /// Every action of `plugin`.
    pub fn all(plugin: &Arc<LoadedPlugin>) -> Vec<WasmAction> {
        (0..plugin.manifest.actions.len())
            .map(|index| WasmAction {
                plugin: plugin.clone(),
                index,
            })
            .collect()
    }
}

/// Why a call did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The time limit was hit.
    #[error("stopped after its {0} ms time limit")]
    Timeout(u64),
    /// The guest trapped (including growing past the memory limit).
    #[error("trapped: {0}")]
    Trap(String),
    /// The guest broke the ABI (bad result pointer, not JSON).
    #[error("broke the plugin ABI: {0}")]
    Abi(String),
}

impl LoadedPlugin {
    /// Calls `export` with a request, blocking the current thread (use a blocking task).
    pub fn call_blocking(
        &self,
        export: &str,
        request: &[u8],
        rt: tokio::runtime::Handle,
    ) -> Result<Vec<u8>, CallError> {
        let limits = self.manifest.limits;
        let state = HostState {
            plugin: self.manifest.name.clone(),
            caps: self.caps.clone(),
            limits: StoreLimitsBuilder::new()
                .memory_size((limits.memory_mb as usize) << 20)
                .trap_on_grow_failure(true)
                .instances(1)
                .build(),
            shared: self.shared.clone(),
            rt,
            denials: Vec::new(),
            deadline: std::time::Instant::now()
                + std::time::Duration::from_millis(limits.timeout_ms),
            timed_out: false,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(limits.timeout_ms.div_ceil(TICK.as_millis() as u64) + 1);
        store.epoch_deadline_trap();
        let classify = |e: wasmtime::Error| match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => CallError::Timeout(limits.timeout_ms),
            Some(t) => CallError::Trap(t.to_string()),
            None => CallError::Trap(format!("{e:#}")),
        };
        let instance = self.pre.instantiate(&mut store).map_err(classify)?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| CallError::Abi("no memory".into()))?;
        let alloc = instance
            .get_typed_func::<i32, i32>(&mut store, "alloc")
            .map_err(|e| CallError::Abi(e.to_string()))?;
        let func = instance
            .get_typed_func::<(i32, i32), i64>(&mut store, export)
            .map_err(|e| CallError::Abi(e.to_string()))?;
        let ptr = alloc
            .call(&mut store, request.len() as i32)
            .map_err(classify)?;
        if ptr == 0 {
            return Err(CallError::Abi("alloc returned 0".into()));
        }
        memory
            .write(&mut store, ptr as usize, request)
            .map_err(|e| CallError::Abi(e.to_string()))?;
        let packed = func
            .call(&mut store, (ptr, request.len() as i32))
            .map_err(classify)?;
        if store.data().timed_out {
            return Err(CallError::Timeout(limits.timeout_ms));
        }
        let (out_ptr, out_len) = (
            (packed as u64 >> 32) as usize,
            (packed as u64 & 0xffff_ffff) as usize,
        );
        let mut out = vec![0u8; out_len];
        memory
            .read(&store, out_ptr, &mut out)
            .map_err(|_| CallError::Abi(format!("result {out_ptr}+{out_len} is outside memory")))?;
        Ok(out)
    }
}

/// Maps a guest's JSON result onto an action outcome.
pub fn outcome(bytes: &[u8]) -> Result<Value, ActionError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| ActionError::Permanent(format!("plugin result is not JSON: {e}")))?;
    if let Some(ok) = v.get("ok") {
        return Ok(ok.clone());
    }
    if let Some(m) = v.get("retry") {
        return Err(ActionError::Retryable(
            m.as_str()
                .map(String::from)
                .unwrap_or_else(|| m.to_string()),
        ));
    }
    if let Some(m) = v.get("error") {
        return Err(ActionError::Permanent(
            m.as_str()
                .map(String::from)
                .unwrap_or_else(|| m.to_string()),
        ));
    }
    Err(ActionError::Permanent(format!(
        "plugin result must have `ok`, `retry` or `error`: {v}"
    )))
}

#[async_trait]
impl Action for WasmAction {
    fn name(&self) -> &str {
        &self.plugin.manifest.actions[self.index].name
    }

    fn concurrency(&self) -> Option<(String, u32)> {
        let m = &self.plugin.manifest;
        m.limits
            .concurrency
            .map(|n| (format!("plugin:{}", m.name), n))
    }

    fn input_schema(&self) -> Option<Value> {
        self.plugin.manifest.actions[self.index]
            .input_schema
            .clone()
    }

    async fn call(&self, input: Value, ctx: &ActionContext) -> Result<Value, ActionError> {
        let decl = &self.plugin.manifest.actions[self.index];
        if let Some(schema) = &decl.input_schema {
            check_input(schema, &input, "input")
                .map_err(|e| ActionError::Permanent(format!("{}: {e}", decl.name)))?;
        }
        let request = json!({
            "input": input,
            "context": {
                "workflow": ctx.workflow, "version": ctx.version, "run_id": ctx.run_id, "step_id": ctx.step_id,
                "customer_id": ctx.customer_id, "idempotency_key": ctx.idempotency_key, "attempt": ctx.attempt,
            },
        });
        let (plugin, export, rt) = (
            self.plugin.clone(),
            decl.export.clone(),
            tokio::runtime::Handle::current(),
        );
        let bytes = request.to_string().into_bytes();
        let result = tokio::task::spawn_blocking(move || plugin.call_blocking(&export, &bytes, rt))
            .await
            .map_err(|e| ActionError::Retryable(format!("plugin task failed: {e}")))?;
        let name = &self.plugin.manifest.name;
        match result {
            Ok(bytes) => outcome(&bytes),
            Err(CallError::Abi(m)) => Err(ActionError::Permanent(format!(
                "plugin {name} {}",
                CallError::Abi(m)
            ))),
            Err(e) => Err(ActionError::Retryable(format!("plugin {name} {e}"))),
        }
    }
}
