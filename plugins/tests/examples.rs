//! The example plugins as their authors would try them: the AssemblyScript lead router keeps
//! fair counters in its key-value store; the C SLA plugin decides escalation levels.

use mikawaya_plugins::wasm::manifest::{Capabilities, Grants};
use mikawaya_plugins::wasm::{MemoryKv, WasmAction, WasmHost};
use mikawaya_plugins::{Action, ActionContext};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

fn ctx() -> ActionContext {
    ActionContext::standalone("r", "1")
}

fn example(dir: &str) -> std::path::PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(dir)
        .join("plugin.yaml");
    let m = mikawaya_plugins::wasm::manifest::read_manifest(&manifest).unwrap();
    assert!(
        manifest.with_file_name(&m.wasm).exists(),
        "build the examples first: plugins/examples/build.sh"
    );
    manifest
}

fn router(kv: bool) -> WasmAction {
    let host = WasmHost::new(None, Arc::new(MemoryKv::default()), Arc::new(|| 0)).unwrap();
    let mut grants = Grants::new();
    grants.insert(
        "lead-router".into(),
        Capabilities {
            kv,
            ..Capabilities::default()
        },
    );
    WasmAction::all(&host.load(&example("lead-router-as"), &grants).unwrap()).remove(0)
}

async fn agents_chosen(action: &WasmAction, input: Value, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            action.call(input.clone(), &ctx()).await.unwrap()["agent"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    out
}

#[tokio::test]
async fn lead_router_round_robin_least_loaded_and_region() {
    let r = router(true);
    let agents = json!(["amy@APAC", "bob@EMEA", "cy@APAC"]);
    let rr = json!({"queue": "sales", "strategy": "round_robin", "agents": agents});
    assert_eq!(agents_chosen(&r, rr, 4).await, ["amy", "bob", "cy", "amy"]);
    // least_loaded sees the loads round robin left: amy 2, bob 1, cy 1.
    let ll = json!({"queue": "sales", "strategy": "least_loaded", "agents": agents});
    assert_eq!(agents_chosen(&r, ll, 3).await, ["bob", "cy", "amy"]);
    let apac = json!({"queue": "vip", "strategy": "region", "region": "apac", "score": 91, "agents": agents});
    let out = r.call(apac.clone(), &ctx()).await.unwrap();
    assert_eq!(
        out,
        json!({"agent": "amy", "queue": "vip", "strategy": "region", "load": 1, "priority": "high"})
    );
    assert_eq!(
        agents_chosen(&r, apac, 2).await,
        ["cy", "amy"],
        "only APAC agents, balanced"
    );
}

#[tokio::test]
async fn lead_router_errors_are_permanent_and_clear() {
    let r = router(false);
    let err = r
        .call(json!({"queue": "q", "agents": ["a"]}), &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.message(), "the lead router needs the kv capability");
    let r = router(true);
    let err = r
        .call(json!({"queue": "q", "agents": []}), &ctx())
        .await
        .unwrap_err();
    assert!(
        !err.is_retryable() && err.message().starts_with("no agents"),
        "{err}"
    );
    let err = r
        .call(
            json!({"queue": "q", "agents": ["a"], "strategy": "random"}),
            &ctx(),
        )
        .await
        .unwrap_err();
    assert!(
        err.message().contains("must be one of"),
        "the manifest schema is checked first: {err}"
    );
}

#[tokio::test]
async fn sla_plugin_decides_levels_by_priority_age_and_tier() {
    let host = WasmHost::new(None, Arc::new(MemoryKv::default()), Arc::new(|| 0)).unwrap();
    let sla = WasmAction::all(
        &host
            .load(&example("sla-escalation-c"), &Grants::new())
            .unwrap(),
    )
    .remove(0);
    let level =
        |p: &str, age: i64, tier: &str| json!({"priority": p, "age_minutes": age, "tier": tier});
    let cases = [
        (level("high", 100, "standard"), 0, "none"),
        (level("high", 300, "standard"), 1, "team-lead"),
        (level("high", 300, "enterprise"), 2, "manager"),
        (level("high", 200, "gold"), 1, "team-lead"),
        (level("urgent", 500, "standard"), 3, "director"),
    ];
    for (input, lvl, target) in cases {
        let out = sla.call(input.clone(), &ctx()).await.unwrap();
        assert_eq!(
            (out["level"].as_i64(), out["target"].as_str()),
            (Some(lvl), Some(target)),
            "{input}"
        );
    }
}
