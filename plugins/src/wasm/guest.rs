//! Guest memory helpers for host functions: reading the guest's bytes, writing bytes through
//! its `alloc`, and recording denials.

use super::state::HostState;
use serde_json::{json, Value};
use wasmtime::Caller;

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
