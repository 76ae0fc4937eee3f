//! WASM plugins inside real workflows: both example plugins drive an escalation; a plugin that
//! traps is retried into success; a plugin that never returns fails its step, not the engine; a
//! new plugin build is picked up without a restart while runs in flight keep theirs.

use chrono::{TimeZone, Utc};
use mikawaya_engine::store::RunStatus;
use mikawaya_engine::tools::sim::{SimOptions, Simulation};
use serde_json::json;
use std::path::{Path, PathBuf};

const HOUR: i64 = 3_600_000;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/examples")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/tests/fixtures")
        .join(name)
}

async fn sim(dir: &Path, workflow: &str, plugins: PathBuf, grants: &str) -> Simulation {
    let wf = dir.join("wf");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::write(wf.join("flow.mkw"), workflow).unwrap();
    std::fs::write(dir.join("grants.yaml"), grants).unwrap();
    let options = SimOptions {
        plugins: Some((plugins, Some(dir.join("grants.yaml")))),
        ..SimOptions::default()
    };
    Simulation::start_with(
        &wf,
        dir,
        Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap(),
        options,
    )
    .await
    .unwrap()
}

const ESCALATION: &str = r#"workflow "plugin-escalation" version 1
on event ticket.opened
re-enroll always
do sla.level(priority: event.ticket.priority, age_minutes: event.ticket.age_minutes, tier: customer.tier) as level
if steps.level.output.level >= 1 {
  do route.assign(queue: "escalations", strategy: "least_loaded", agents: ["amy@APAC", "bob@EMEA"], score: 90) as route
  do task.create(title: "{{ steps.level.output.target }}: ticket {{ event.ticket.id }} to {{ steps.route.output.agent }}")
}
"#;

#[tokio::test]
async fn both_example_plugins_run_inside_a_workflow() {
    let manifest = examples().join("lead-router-as/lead_router.wasm");
    assert!(
        manifest.exists(),
        "build the examples first: plugins/examples/build.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    let s = sim(
        dir.path(),
        ESCALATION,
        examples(),
        "lead-router: { kv: true }\n",
    )
    .await;
    let ticket = |id: &str, priority: &str, age: i64| json!({"id": id, "type": "ticket.opened", "customer": {"id": "c1", "tier": "standard"}, "data": {"ticket": {"id": id, "priority": priority, "age_minutes": age}}});
    s.send(ticket("T1", "high", 300)).await.unwrap();
    s.send(ticket("T2", "urgent", 200)).await.unwrap();
    s.send(ticket("T3", "low", 10)).await.unwrap();
    s.send(ticket("T4", "high", 1000)).await.unwrap();
    let titles = s.task_titles().await.unwrap();
    assert_eq!(
        titles,
        [
            "director: ticket T4 to amy",
            "manager: ticket T2 to bob",
            "team-lead: ticket T1 to amy"
        ]
    );
    let runs = s.runs("plugin-escalation").await.unwrap();
    assert!(runs.iter().all(|r| r.status == RunStatus::Completed));
    assert!(
        runs[0].context["plugins"]["lead-router"].is_string(),
        "runs pin the plugin builds"
    );
}

const FLAKY: &str = "workflow \"flaky\" version 1\non event go\nre-enroll always\ndo t.flaky() retry 3 backoff 1s\ndo task.create(title: \"after flaky\")\n";

fn plugin_dir(dir: &Path, name: &str, wat: &str, extra: &str) -> PathBuf {
    let p = dir.join("plugins").join(name);
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join(format!("{name}.wat")), wat).unwrap();
    let manifest = format!("name: {name}\nversion: 1.0.0\nwasm: {name}.wat\nactions:\n  - {{ name: t.{name}, export: {name} }}\n{extra}");
    std::fs::write(p.join("plugin.yaml"), manifest).unwrap();
    dir.join("plugins")
}

#[tokio::test]
async fn a_trapping_plugin_fails_its_step_and_the_retry_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(
        dir.path(),
        "flaky",
        &std::fs::read_to_string(fixture("flaky.wat")).unwrap(),
        "capabilities: { kv: true }\n",
    );
    let s = sim(dir.path(), FLAKY, plugins, "flaky: { kv: true }\n").await;
    s.send(json!({"id": "g1", "type": "go"})).await.unwrap();
    s.advance(HOUR).await.unwrap();
    let run = &s.runs("flaky").await.unwrap()[0];
    assert_eq!(run.status, RunStatus::Completed);
    let statuses: Vec<String> = s
        .timeline(&run.id)
        .await
        .unwrap()
        .iter()
        .map(|e| format!("{}:{}", e.step_id, e.status))
        .collect();
    assert_eq!(statuses, ["run:started", "1:retry", "1:done", "2:done"]);
    let retry = &s.timeline(&run.id).await.unwrap()[1];
    assert!(
        retry.detail["error"].as_str().unwrap().contains("trapped"),
        "{}",
        retry.detail
    );
}

const SPIN: &str =
    "workflow \"spin\" version 1\non event go\nre-enroll always\ndo t.spin() retry 2 backoff 1s\n";

#[tokio::test]
async fn a_plugin_that_never_returns_fails_its_step_not_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(
        dir.path(),
        "spin",
        &std::fs::read_to_string(fixture("spin.wat")).unwrap(),
        "limits: { timeout_ms: 50 }\n",
    );
    let s = sim(dir.path(), SPIN, plugins, "{}\n").await;
    s.send(json!({"id": "g1", "type": "go"})).await.unwrap();
    s.advance(HOUR).await.unwrap();
    let run = &s.runs("spin").await.unwrap()[0];
    assert_eq!(run.status, RunStatus::Failed);
    let letters = s.engine.dead_letters(10).await.unwrap();
    assert_eq!((letters.len(), letters[0].attempts), (1, 2));
    assert!(
        letters[0]
            .error
            .contains("stopped after its 50 ms time limit"),
        "{}",
        letters[0].error
    );
    s.send(json!({"id": "g2", "type": "go"})).await.unwrap();
    assert_eq!(
        s.runs("spin").await.unwrap().len(),
        2,
        "the engine keeps working"
    );
}

fn versioned(v: u32) -> String {
    format!(
        "(module (memory (export \"memory\") 1) (global $t (mut i32) (i32.const 1024))\n\
         (data (i32.const 0) \"{{\\\"ok\\\":{{\\\"v\\\":{v}}}}}\")\n\
         (func (export \"mikawaya_abi_1\"))\n\
         (func (export \"alloc\") (param $l i32) (result i32) (local $p i32) (local.set $p (global.get $t)) (global.set $t (i32.add (global.get $t) (local.get $l))) (local.get $p))\n\
         (func (export \"ver\") (param i32 i32) (result i64) (i64.const 14)))"
    )
}

const PINNED: &str = "workflow \"pinned\" version 1\non event go\nre-enroll always\nwait 1h\ndo t.ver() as call\ndo task.create(title: \"v{{ steps.call.output.v }}\")\n";

#[tokio::test]
async fn a_new_plugin_build_loads_without_restart_and_runs_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(dir.path(), "ver", &versioned(1), "");
    let s = sim(dir.path(), PINNED, plugins.clone(), "{}\n").await;
    s.send(json!({"id": "a", "type": "go"})).await.unwrap();
    std::fs::write(plugins.join("ver/ver.wat"), versioned(2)).unwrap();
    assert!(s.engine.reload_plugins().is_empty());
    s.send(json!({"id": "b", "type": "go"})).await.unwrap();
    s.advance(2 * HOUR).await.unwrap();
    assert_eq!(
        s.task_titles().await.unwrap(),
        ["v1", "v2"],
        "the run started on build 1 called build 1"
    );
}
