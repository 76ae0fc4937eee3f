//! `mikawaya replay`: runs a workflow (a new version, not yet deployed) over the stored event
//! history in a sandbox with recording actions, and reports what it would have done; with
//! `--compare`, the deployed version too, over the same events.

use crate::clock::{to_time, Clock, Millis};
use crate::core::actions::RecordedCall;
use crate::core::EngineError;
use crate::event::Event;
use crate::store::{MetaStore, RunRow};
use crate::tools::sim::{SimOptions, Simulation};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What one workflow version would have done over the history.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct ReplayReport {
    /// Workflow name and version replayed.
    pub workflow: String,
    /// Version.
    pub version: u32,
    /// Events replayed.
    pub events: usize,
    /// Runs started.
    pub runs: usize,
    /// Distinct customers enrolled.
    pub customers: usize,
    /// Runs by final status.
    pub by_status: BTreeMap<String, usize>,
    /// Action calls by action name.
    pub actions: BTreeMap<String, usize>,
    /// Steps skipped by restraint, by reason.
    pub skipped: BTreeMap<String, usize>,
    /// A few runs: customer, status, the steps they went through.
    pub sample: Vec<String>,
    /// Runs that entered each experiment variant, keyed `experiment/variant` (a split's
    /// backtest: who would have taken which variant).
    pub variants: BTreeMap<String, usize>,
    /// Of those, converted within the experiment's window by the history's own events.
    pub conversions: BTreeMap<String, usize>,
    /// Customers (runs, for runs without one) that reached each step, by step id: the
    /// backtest's numbers on the graph.
    pub reached: BTreeMap<String, usize>,
}

/// Replays `events` (oldest first) through the workflow in `workflow_file` until `until`.
pub async fn replay(
    workflow_file: &Path,
    events: &[Event],
    until: Millis,
    sample: usize,
) -> Result<ReplayReport, EngineError> {
    let source = std::fs::read_to_string(workflow_file)
        .map_err(|e| EngineError::Workflows(format!("{}: {e}", workflow_file.display())))?;
    replay_source(workflow_file, &source, events, until, sample).await
}

/// Like [`replay`], with `source` as the text of `workflow_file` (a draft not saved yet; the
/// file's folder still gives the templates).
pub async fn replay_source(
    workflow_file: &Path,
    source: &str,
    events: &[Event],
    until: Millis,
    sample: usize,
) -> Result<ReplayReport, EngineError> {
    let sandbox = std::env::temp_dir().join(format!("mikawaya-replay-{}", uuid::Uuid::now_v7()));
    let result = replay_in(workflow_file, source, events, until, sample, &sandbox).await;
    std::fs::remove_dir_all(&sandbox).ok();
    result
}

async fn replay_in(
    workflow_file: &Path,
    source: &str,
    events: &[Event],
    until: Millis,
    sample: usize,
    sandbox: &Path,
) -> Result<ReplayReport, EngineError> {
    let wf_dir = sandbox.join("workflows");
    std::fs::create_dir_all(&wf_dir).map_err(|e| EngineError::Workflows(e.to_string()))?;
    let name = workflow_file
        .file_name()
        .ok_or_else(|| EngineError::Workflows("no file name".into()))?;
    std::fs::write(wf_dir.join(name), source)
        .map_err(|e| EngineError::Workflows(format!("{}: {e}", workflow_file.display())))?;
    let templates: Option<PathBuf> = workflow_file
        .parent()
        .map(|p| p.join("templates"))
        .filter(|p| p.is_dir());
    let start = events.first().map(|e| e.occurred_at).unwrap_or(until);
    let options = SimOptions {
        record: true,
        templates,
        ..SimOptions::default()
    };
    let sim = Simulation::start_with(&wf_dir, sandbox, to_time(start), options).await?;
    for ev in events {
        let gap = ev.occurred_at - sim.clock.now_ms();
        if gap > 0 {
            sim.advance(gap).await?;
        }
        sim.store
            .insert_events(std::slice::from_ref(ev), sim.clock.now_ms())
            .await?;
        sim.engine.run_until_idle().await?;
    }
    if until > sim.clock.now_ms() {
        sim.advance(until - sim.clock.now_ms()).await?;
    }
    let w = sim
        .engine
        .registry()
        .active_workflows()
        .next()
        .cloned()
        .ok_or_else(|| EngineError::Workflows("no workflow in the file".into()))?;
    let runs = sim.runs(&w.name).await?;
    let calls = sim.calls.lock().expect("call log").clone();
    report(
        &sim,
        &w.name,
        w.version,
        events.len(),
        &runs,
        &calls,
        sample,
    )
    .await
}

async fn report(
    sim: &Simulation,
    name: &str,
    version: u32,
    events: usize,
    runs: &[RunRow],
    calls: &[RecordedCall],
    sample: usize,
) -> Result<ReplayReport, EngineError> {
    let mut r = ReplayReport {
        workflow: name.into(),
        version,
        events,
        runs: runs.len(),
        ..Default::default()
    };
    let customers: std::collections::BTreeSet<&str> = runs
        .iter()
        .filter_map(|r| r.customer_id.as_deref())
        .collect();
    r.customers = customers.len();
    let mut reached: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for run in runs {
        *r.by_status.entry(run.status.as_str().into()).or_default() += 1;
        let timeline = sim.timeline(&run.id).await?;
        let who = run.customer_id.clone().unwrap_or_else(|| run.id.clone());
        for e in timeline.iter().filter(|e| e.step_id != "run") {
            reached
                .entry(e.step_id.clone())
                .or_default()
                .insert(who.clone());
        }
        for e in timeline.iter().filter(|e| e.status == "skipped") {
            *r.skipped
                .entry(e.detail["reason"].as_str().unwrap_or("").to_string())
                .or_default() += 1;
        }
        if r.sample.len() < sample {
            let steps: Vec<String> = timeline
                .iter()
                .filter(|e| e.step_id != "run")
                .map(|e| format!("{}:{}", e.step_id, e.status))
                .collect();
            r.sample.push(format!(
                "{} {} [{}]",
                run.customer_id.as_deref().unwrap_or("-"),
                run.status.as_str(),
                steps.join(" ")
            ));
        }
    }
    r.reached = reached.into_iter().map(|(k, v)| (k, v.len())).collect();
    for c in calls {
        *r.actions.entry(c.action.clone()).or_default() += 1;
    }
    for v in sim.store.variant_counts(Some(name)).await? {
        let key = format!("{}/{}", v.experiment, v.variant);
        r.variants.insert(key.clone(), v.entered as usize);
        r.conversions.insert(key, v.converted as usize);
    }
    Ok(r)
}

/// Writes the deployed version of `name` from `store` to `dir`, for `--compare`.
pub async fn deployed_version_file(
    store: &dyn MetaStore,
    name: &str,
    dir: &Path,
) -> Result<Option<PathBuf>, EngineError> {
    let Some(v) = store
        .versions()
        .await?
        .into_iter()
        .filter(|v| v.name == name)
        .max_by_key(|v| v.version)
    else {
        return Ok(None);
    };
    let ext = if v.file.ends_with(".mkw") {
        "mkw"
    } else {
        "yaml"
    };
    let path = dir.join(format!("{name}.deployed.{ext}"));
    std::fs::create_dir_all(dir).map_err(|e| EngineError::Workflows(e.to_string()))?;
    std::fs::write(&path, &v.source).map_err(|e| EngineError::Workflows(e.to_string()))?;
    Ok(Some(path))
}
