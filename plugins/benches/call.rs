//! Criterion benchmark of a plugin call's overhead: a fresh instance from the pre-instantiated
//! module (pooling allocator), request in, result out. The guest does nothing (fixtures/pong.wat).

use criterion::{criterion_group, criterion_main, Criterion};
use mikawaya_plugins::wasm::manifest::Grants;
use mikawaya_plugins::wasm::{MemoryKv, WasmAction, WasmHost};
use mikawaya_plugins::{Action, ActionContext};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

fn setup() -> (Arc<mikawaya_plugins::wasm::LoadedPlugin>, WasmAction) {
    let dir = std::env::temp_dir().join("mikawaya-bench-pong");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pong.wat"),
        dir.join("pong.wat"),
    )
    .unwrap();
    std::fs::write(
        dir.join("plugin.yaml"),
        "name: pong\nversion: 1\nwasm: pong.wat\nactions: [ { name: t.pong, export: pong } ]\n",
    )
    .unwrap();
    let host = WasmHost::new(None, Arc::new(MemoryKv::default()), Arc::new(|| 0)).unwrap();
    let plugin = host.load(&dir.join("plugin.yaml"), &Grants::new()).unwrap();
    let action = WasmAction::all(&plugin).remove(0);
    (plugin, action)
}

fn calls(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (plugin, action) = setup();
    let request = json!({"input": {"queue": "sales"}, "context": {"run_id": "r", "step_id": "1"}})
        .to_string()
        .into_bytes();
    let handle = rt.handle().clone();
    c.bench_function("plugin_call/instantiate_and_call", |b| {
        b.iter(|| {
            plugin
                .call_blocking("pong", &request, handle.clone())
                .unwrap()
        })
    });
    let ctx = ActionContext::standalone("r", "1");
    c.bench_function("plugin_call/as_action_via_blocking_pool", |b| {
        b.to_async(&rt)
            .iter(|| async { action.call(json!({"queue": "sales"}), &ctx).await.unwrap() })
    });
}

criterion_group!(benches, calls);
criterion_main!(benches);
