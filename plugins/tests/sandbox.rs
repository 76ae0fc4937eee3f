//! The sandbox with real fixtures (`fixtures/*.wat`): a loop is stopped, a memory bomb traps,
//! an ungranted HTTP call is refused inside the plugin, WASI imports and malformed modules or
//! manifests are rejected at load, a trapping plugin recovers, and concurrent calls stay isolated.

use mikawaya_plugins::wasm::manifest::{Capabilities, Grants};
use mikawaya_plugins::wasm::{LoadedPlugin, MemoryKv, WasmAction, WasmHost};
use mikawaya_plugins::{Action, ActionContext};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

fn host() -> WasmHost {
    WasmHost::new(None, Arc::new(MemoryKv::default()), Arc::new(|| 0)).unwrap()
}

/// Writes a manifest for fixture `name` (export `name`, action `t.<name>`) and loads it.
fn load(
    host: &WasmHost,
    name: &str,
    extra: &str,
    grants: &Grants,
) -> Result<Arc<LoadedPlugin>, String> {
    let dir = tempfile::tempdir().unwrap().keep();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.wat"));
    std::fs::copy(&fixture, dir.join(format!("{name}.wat"))).unwrap();
    let manifest = format!("name: {name}\nversion: 0.1.0\nwasm: {name}.wat\nactions:\n  - {{ name: t.{name}, export: {name} }}\n{extra}");
    std::fs::write(dir.join("plugin.yaml"), manifest).unwrap();
    host.load(&dir.join("plugin.yaml"), grants)
}

fn ctx() -> ActionContext {
    ActionContext::standalone("r", "1")
}

async fn call(p: &Arc<LoadedPlugin>, input: Value) -> Result<Value, mikawaya_plugins::ActionError> {
    WasmAction::all(p).remove(0).call(input, &ctx()).await
}

#[tokio::test]
async fn a_trivial_plugin_answers() {
    let p = load(&host(), "pong", "", &Grants::new()).unwrap();
    assert_eq!(call(&p, json!({})).await.unwrap(), json!({"pong": true}));
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_at_its_time_limit() {
    let p = load(&host(), "spin", "", &Grants::new()).unwrap();
    let started = Instant::now();
    let err = call(&p, json!({})).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(err.is_retryable(), "{err}");
    assert!(
        err.message()
            .contains("stopped after its 100 ms time limit"),
        "{err}"
    );
    assert!(elapsed.as_millis() < 400, "stopped after {elapsed:?}");
    let p = load(
        &host(),
        "spin",
        "limits: { timeout_ms: 30 }\n",
        &Grants::new(),
    )
    .unwrap();
    let started = Instant::now();
    assert!(call(&p, json!({}))
        .await
        .unwrap_err()
        .message()
        .contains("30 ms"));
    assert!(started.elapsed().as_millis() < 200);
}

#[tokio::test]
async fn a_memory_bomb_traps_at_the_memory_limit() {
    let p = load(
        &host(),
        "bomb",
        "limits: { memory_mb: 8 }\n",
        &Grants::new(),
    )
    .unwrap();
    let err = call(&p, json!({})).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(
        err.message().contains("trapped") && err.message().contains("memory"),
        "{err}"
    );
}

#[tokio::test]
async fn http_to_a_host_outside_the_grant_is_refused_inside_the_plugin() {
    let asks = "capabilities: { http: [evil.example] }\n";
    let p = load(&host(), "fetch", asks, &Grants::new()).unwrap();
    assert_eq!(
        call(&p, json!({})).await.unwrap(),
        json!({"denied": true}),
        "asked but not granted"
    );
    let mut grants = Grants::new();
    grants.insert(
        "fetch".into(),
        Capabilities {
            http: vec!["other.example".into()],
            ..Capabilities::default()
        },
    );
    let p = load(&host(), "fetch", asks, &grants).unwrap();
    assert_eq!(
        call(&p, json!({})).await.unwrap(),
        json!({"denied": true}),
        "granted for another host only"
    );
    assert!(p.caps.http.is_empty());
}

#[tokio::test]
async fn a_granted_http_call_reaches_its_host_and_the_answer_comes_back() {
    use axum::{routing::post, Router};
    let app = Router::new().route(
        "/crm",
        post(|body: String| async move { format!("got {body}") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let request = format!(r#"{{"url":"http://{addr}/crm","method":"POST","body":"lead-7"}}"#);
    let wat = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/relay.wat"),
    )
    .unwrap()
    .replace("REQUEST_LEN", &request.len().to_string())
    .replace("\"REQUEST\"", &format!("{:?}", request));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("relay.wat"), wat).unwrap();
    std::fs::write(dir.path().join("plugin.yaml"), "name: relay\nversion: 1\nwasm: relay.wat\nactions: [ { name: t.relay, export: relay } ]\ncapabilities: { http: [127.0.0.1] }\n").unwrap();
    let mut grants = Grants::new();
    grants.insert(
        "relay".into(),
        Capabilities {
            http: vec!["127.0.0.1".into()],
            ..Capabilities::default()
        },
    );
    let p = host()
        .load(&dir.path().join("plugin.yaml"), &grants)
        .unwrap();
    assert_eq!(
        call(&p, json!({})).await.unwrap(),
        json!({"status": 200, "body": "got lead-7"})
    );
    let p = host()
        .load(&dir.path().join("plugin.yaml"), &Grants::new())
        .unwrap();
    assert_eq!(call(&p, json!({})).await.unwrap_err().message(), "denied");
}

#[tokio::test]
async fn a_plugin_that_traps_fails_and_succeeds_once_it_recovers() {
    let mut grants = Grants::new();
    grants.insert(
        "flaky".into(),
        Capabilities {
            kv: true,
            ..Capabilities::default()
        },
    );
    let p = load(&host(), "flaky", "capabilities: { kv: true }\n", &grants).unwrap();
    let err = call(&p, json!({})).await.unwrap_err();
    assert!(
        err.is_retryable() && err.message().contains("unreachable"),
        "{err}"
    );
    assert_eq!(
        call(&p, json!({})).await.unwrap(),
        json!({"recovered": true})
    );
}

#[tokio::test]
async fn forbidden_imports_and_malformed_modules_or_manifests_are_rejected_at_load() {
    let h = host();
    let err = load(&h, "wasi", "", &Grants::new()).err().unwrap();
    assert!(
        err.contains(
            "imports `wasi_snapshot_preview1.fd_write`, which the sandbox does not provide"
        ),
        "{err}"
    );
    assert!(
        err.contains("does not export `wasi`"),
        "the manifest's export is checked too: {err}"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junk.wasm"), b"\0asm\x01\0\0\0garbage").unwrap();
    std::fs::write(
        dir.path().join("plugin.yaml"),
        "name: junk\nversion: 1\nwasm: junk.wasm\nactions: [ { name: j, export: j } ]\n",
    )
    .unwrap();
    let err = h
        .load(&dir.path().join("plugin.yaml"), &Grants::new())
        .err()
        .unwrap();
    assert!(err.contains("not a valid WebAssembly module"), "{err}");

    std::fs::write(
        dir.path().join("plugin.yaml"),
        "name: junk\nversion: 1\nwasm: junk.wasm\nactoins: []\n",
    )
    .unwrap();
    let err = h
        .load(&dir.path().join("plugin.yaml"), &Grants::new())
        .err()
        .unwrap();
    assert!(
        err.contains("plugin.yaml:4:1: unknown field `actoins`"),
        "{err}"
    );
}

#[tokio::test]
async fn input_is_checked_against_the_manifest_schema() {
    let extra = "";
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pong.wat"),
        dir.path().join("pong.wat"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("plugin.yaml"),
        format!("name: pong\nversion: 1\nwasm: pong.wat\nactions:\n  - name: t.pong\n    export: pong\n    input_schema: {{ type: object, required: [queue] }}\n{extra}"),
    )
    .unwrap();
    let p = host()
        .load(&dir.path().join("plugin.yaml"), &Grants::new())
        .unwrap();
    let err = call(&p, json!({"q": 1})).await.unwrap_err();
    assert!(!err.is_retryable());
    assert_eq!(err.message(), "t.pong: input.queue is required");
}

#[tokio::test]
async fn concurrent_calls_of_the_c_example_are_correct_and_isolated() {
    let manifest =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sla-escalation-c/plugin.yaml");
    assert!(
        manifest.with_file_name("sla.wasm").exists(),
        "build the examples first: plugins/examples/build.sh"
    );
    let p = host().load(&manifest, &Grants::new()).unwrap();
    let action = Arc::new(WasmAction::all(&p).remove(0));
    let mut tasks = tokio::task::JoinSet::new();
    for age in 0..64 {
        let action = action.clone();
        tasks.spawn(async move {
            (
                age,
                action
                    .call(
                        json!({"priority": "urgent", "age_minutes": age * 10, "tier": "standard"}),
                        &ctx(),
                    )
                    .await,
            )
        });
    }
    while let Some(r) = tasks.join_next().await {
        let (age, out) = r.unwrap();
        let out = out.unwrap();
        let minutes = age * 10;
        let level = if minutes >= 240 {
            3
        } else if minutes >= 120 {
            2
        } else if minutes >= 60 {
            1
        } else {
            0
        };
        assert_eq!(out["level"], level, "age {minutes}: {out}");
        assert_eq!(out["overdue_minutes"], (minutes - 60).max(0));
    }
}

/// A relay plugin (fixture `relay.wat`) sending `request`, granted `hosts`, with `limits`.
fn relay(request: &str, hosts: &[&str], limits: &str) -> Arc<LoadedPlugin> {
    let wat = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/relay.wat"),
    )
    .unwrap()
    .replace("REQUEST_LEN", &request.len().to_string())
    .replace("\"REQUEST\"", &format!("{:?}", request));
    let dir = tempfile::tempdir().unwrap().keep();
    std::fs::write(dir.join("relay.wat"), wat).unwrap();
    let asks: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
    std::fs::write(
        dir.join("plugin.yaml"),
        format!("name: relay\nversion: 1\nwasm: relay.wat\nactions: [ {{ name: t.relay, export: relay }} ]\ncapabilities: {{ http: [{}] }}\n{limits}", asks.join(", ")),
    )
    .unwrap();
    let mut grants = Grants::new();
    grants.insert(
        "relay".into(),
        Capabilities {
            http: hosts.iter().map(|h| h.to_string()).collect(),
            ..Capabilities::default()
        },
    );
    host().load(&dir.join("plugin.yaml"), &grants).unwrap()
}

#[tokio::test]
async fn a_manifest_asking_more_time_than_the_operator_allows_is_refused() {
    let err = load(
        &host(),
        "spin",
        "limits: { timeout_ms: 100000000000 }\n",
        &Grants::new(),
    )
    .err()
    .expect("refused");
    assert!(
        err.contains("asks for 100000000000 ms") && err.contains("at most 5000 ms"),
        "{err}"
    );
    let mut grants = Grants::new();
    grants.insert(
        "spin".into(),
        Capabilities {
            timeout_ms: Some(8_000),
            ..Capabilities::default()
        },
    );
    assert!(load(&host(), "spin", "limits: { timeout_ms: 7000 }\n", &grants).is_ok());
    grants.get_mut("spin").unwrap().timeout_ms = Some(10_000_000);
    let err = load(
        &host(),
        "spin",
        "limits: { timeout_ms: 1000000 }\n",
        &grants,
    )
    .err()
    .expect("the grant itself is capped");
    assert!(err.contains("at most 30000 ms"), "{err}");
}

#[tokio::test]
async fn a_redirect_to_a_host_outside_the_grant_is_refused_and_one_inside_is_followed() {
    use axum::response::Redirect;
    use axum::{routing::get, Router};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let port = addr.port();
    let app =
        Router::new()
            .route("/inside", get(|| async { Redirect::temporary("/answer") }))
            .route("/answer", get(|| async { "the answer" }))
            .route(
                "/outside",
                get(move || async move {
                    Redirect::temporary(&format!("http://localhost:{port}/answer"))
                }),
            );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let p = relay(
        &format!(r#"{{"url":"http://{addr}/inside"}}"#),
        &["127.0.0.1"],
        "",
    );
    assert_eq!(
        call(&p, json!({})).await.unwrap(),
        json!({"status": 200, "body": "the answer"})
    );
    let p = relay(
        &format!(r#"{{"url":"http://{addr}/outside"}}"#),
        &["127.0.0.1"],
        "",
    );
    let answer = call(&p, json!({})).await.unwrap();
    assert_eq!(answer["status"], 0, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("host `localhost`"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_host_call_runs_under_the_plugins_deadline_and_fails_retryable() {
    use axum::{routing::get, Router};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            "late"
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let p = relay(
        &format!(r#"{{"url":"http://{addr}/slow"}}"#),
        &["127.0.0.1"],
        "limits: { timeout_ms: 100 }\n",
    );
    let started = Instant::now();
    let err = call(&p, json!({})).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.message().contains("100 ms"), "{err}");
    assert!(
        started.elapsed().as_millis() < 2_000,
        "not the server's 3 s: {:?}",
        started.elapsed()
    );
}

/// Compiled native code in the cache is only loaded when this engine's key signed it: a file
/// copied over an entry is recompiled from the plugin's own `.wasm` instead of being run.
#[tokio::test]
async fn a_cache_entry_copied_from_another_module_is_not_run() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let cached_host = || {
        WasmHost::new(
            Some(cache.clone()),
            Arc::new(MemoryKv::default()),
            Arc::new(|| 0),
        )
        .unwrap()
        .with_cache_key(b"kept in the database")
    };
    let pong = load(&cached_host(), "pong", "", &Grants::new()).unwrap();
    let spin = load(&cached_host(), "spin", "", &Grants::new()).unwrap();
    let entry = |digest: &str| cache.join(format!("{digest}-wasmtime48.cwasm"));
    assert!(entry(&pong.digest).exists() && entry(&spin.digest).exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cache).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the cache folder is the owner's only: {mode:o}"
        );
    }
    // An attacker copies spin's compiled code over pong's entry.
    std::fs::copy(entry(&spin.digest), entry(&pong.digest)).unwrap();
    let pong = load(&cached_host(), "pong", "", &Grants::new()).unwrap();
    assert_eq!(call(&pong, json!({})).await.unwrap(), json!({"pong": true}));
    // The entry was rewritten from pong's own module, and is used from then on.
    let again = load(&cached_host(), "pong", "", &Grants::new()).unwrap();
    assert_eq!(
        call(&again, json!({})).await.unwrap(),
        json!({"pong": true})
    );
}
