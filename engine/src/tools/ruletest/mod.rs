//! `mikawaya test`: rule tests run on the real executor with a simulated clock and recording
//! stand-ins for every side-effecting action, so days of waits take milliseconds and nothing
//! leaves the machine.

mod report;
pub mod spec;

pub use report::{CaseResult, FileResult};

use crate::clock::{Clock, Millis};
use crate::core::actions::RecordedCall;
use crate::event::parse_event;
use crate::store::{MatchBatch, RunRow, TimelineEntry};
use crate::tools::sim::{SimOptions, Simulation};
use mikawaya_dsl::expr::{format_duration, parse_duration, parse_time};
use serde_json::{json, Value};
use spec::{subset, Case, TestFile};
use std::path::{Path, PathBuf};

/// Default simulated start: Monday 2026-01-05 09:00 UTC.
pub const DEFAULT_START: &str = "2026-01-05T09:00:00Z";

/// Test files under `dir` (`*.test.yaml`, `*.test.yml`), sorted.
pub fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walk(dir)
        .into_iter()
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".test.yaml") || n.ends_with(".test.yml")
        })
        .collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    if dir.is_file() {
        return vec![dir.to_path_buf()];
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The workflow file a test file is about.
fn workflow_file(test: &Path, spec: &TestFile) -> Result<PathBuf, String> {
    let dir = test.parent().unwrap_or(Path::new("."));
    if let Some(w) = &spec.workflow {
        return Ok(dir.join(w));
    }
    let name = test
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let stem = name
        .trim_end_matches(".yaml")
        .trim_end_matches(".yml")
        .trim_end_matches(".test");
    ["yaml", "yml", "mkw"]
        .iter()
        .map(|ext| dir.join(format!("{stem}.{ext}")))
        .find(|p| p.exists())
        .ok_or_else(|| format!("no workflow file {stem}.yaml or {stem}.mkw beside the test; name it with `workflow:`"))
}

fn duration(text: &str, what: &str) -> Result<Millis, String> {
    parse_duration(text)
        .ok_or_else(|| format!("{what}: `{text}` is not a duration such as `30m` or `2d`"))
}

/// Reads a test file's spec.
fn read_spec(path: &Path) -> Result<TestFile, String> {
    std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_yaml::from_str(&t).map_err(|e| e.to_string()))
}

/// The test files under `dir` that test `workflow` (a file of that folder).
pub fn tests_of(dir: &Path, workflow: &Path) -> Vec<PathBuf> {
    let same = |p: &Path| std::fs::canonicalize(p).ok() == std::fs::canonicalize(workflow).ok();
    test_files(dir)
        .into_iter()
        .filter(|t| {
            read_spec(t)
                .ok()
                .and_then(|spec| workflow_file(t, &spec).ok())
                .is_some_and(|w| same(&w))
        })
        .collect()
}

/// Runs every case of one test file.
pub async fn run_file(path: &Path) -> FileResult {
    run_file_with(path, None).await
}

/// Runs every case of one test file, with `draft` as the text of the workflow under test
/// instead of its file (the page tries a change before saving it).
pub async fn run_file_with(path: &Path, draft: Option<&str>) -> FileResult {
    let mut result = FileResult {
        file: path.display().to_string(),
        error: None,
        cases: Vec::new(),
    };
    let spec: TestFile = match read_spec(path) {
        Ok(s) => s,
        Err(e) => {
            result.error = Some(format!("cannot read the test file: {e}"));
            return result;
        }
    };
    let workflow = match workflow_file(path, &spec) {
        Ok(w) => w,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    for case in &spec.cases {
        let outcome = run_case(&spec, &workflow, draft, case).await;
        result.cases.push(CaseResult {
            name: case.name.clone(),
            failures: outcome.unwrap_or_else(|e| vec![e]),
        });
    }
    result
}

/// What a case produced.
struct Observed {
    start: Millis,
    calls: Vec<RecordedCall>,
    runs: Vec<RunRow>,
    timelines: Vec<TimelineEntry>,
}

async fn run_case(
    spec: &TestFile,
    workflow: &Path,
    draft: Option<&str>,
    case: &Case,
) -> Result<Vec<String>, String> {
    let sandbox = std::env::temp_dir().join(format!("mikawaya-test-{}", uuid::Uuid::now_v7()));
    let observed = simulate(spec, workflow, draft, case, &sandbox).await;
    std::fs::remove_dir_all(&sandbox).ok();
    Ok(check(&case.expect, &observed?))
}

async fn simulate(
    spec: &TestFile,
    workflow: &Path,
    draft: Option<&str>,
    case: &Case,
    sandbox: &Path,
) -> Result<Observed, String> {
    let wf_dir = sandbox.join("workflows");
    std::fs::create_dir_all(&wf_dir).map_err(|e| e.to_string())?;
    let beside = workflow.parent().unwrap_or(Path::new("."));
    let others = case.with_workflows.iter().map(|w| beside.join(w));
    for file in std::iter::once(workflow.to_path_buf()).chain(others) {
        let file_name = file.file_name().ok_or("bad workflow path")?;
        let copied = match draft.filter(|_| file == workflow) {
            Some(text) => std::fs::write(wf_dir.join(file_name), text),
            None => std::fs::copy(&file, wf_dir.join(file_name)).map(|_| ()),
        };
        copied.map_err(|e| format!("{}: {e}", file.display()))?;
    }
    // The event catalog and the holiday calendars beside the workflow come along: the
    // workflow is checked against them, and the case's events against the catalog.
    for folder in [
        crate::core::event_types::CATALOG_DIR,
        crate::core::event_types::HOLIDAYS_DIR,
        mikawaya_dsl::scores::SCORES_DIR,
        mikawaya_dsl::segments::SEGMENTS_DIR,
        mikawaya_dsl::models::MODELS_DIR,
    ] {
        let files = crate::core::event_types::yaml_files(&beside.join(folder));
        if files.is_empty() {
            continue;
        }
        let into = wf_dir.join(folder);
        std::fs::create_dir_all(&into).map_err(|e| e.to_string())?;
        for f in files {
            let name = f.file_name().ok_or("bad catalog path")?;
            std::fs::copy(&f, into.join(name)).map_err(|e| format!("{}: {e}", f.display()))?;
        }
    }
    let templates = workflow
        .parent()
        .unwrap_or(Path::new("."))
        .join("templates");
    let start_text = spec.start.as_deref().unwrap_or(DEFAULT_START);
    let start = parse_time(start_text)
        .ok_or_else(|| format!("start: `{start_text}` is not an RFC 3339 time"))?;
    let caps = match spec.frequency_cap.as_deref() {
        Some(c) => Some(c.parse().map_err(|e| format!("frequency_cap: {e}"))?),
        None => None,
    };
    let test_dir = workflow.parent().unwrap_or(Path::new("."));
    let plugins = spec.plugins.as_ref().map(|p| {
        (
            test_dir.join(p),
            spec.plugin_grants.as_ref().map(|g| test_dir.join(g)),
        )
    });
    let options = SimOptions {
        record: true,
        frequency_caps: caps,
        templates: templates.is_dir().then_some(templates),
        plugins,
        ..SimOptions::default()
    };
    let sim = Simulation::start_with(&wf_dir, sandbox, start, options)
        .await
        .map_err(|e| e.to_string())?;
    let start_ms = sim.clock.now_ms();
    let mut batch = MatchBatch::default();
    for (id, attrs) in &spec.customers {
        batch.customers.push((id.clone(), attrs.clone(), start_ms));
    }
    sim.store
        .apply_match(batch)
        .await
        .map_err(|e| e.to_string())?;
    let mut events: Vec<(Millis, usize)> = Vec::new();
    for (i, e) in case.events.iter().enumerate() {
        events.push((duration(&e.at, "events[].at")?, i));
    }
    events.sort();
    for (at, i) in &events {
        let e = &case.events[*i];
        sim.advance(start_ms + at - sim.clock.now_ms())
            .await
            .map_err(|e| e.to_string())?;
        let mut body = json!({ "id": e.id.clone().unwrap_or_else(|| format!("test-event-{i}")), "type": e.event_type, "data": e.data.clone().unwrap_or_default() });
        if let Some(c) = &e.customer {
            body["customer"] = c.clone();
        }
        let event =
            parse_event(*i, body, sim.clock.now_ms()).map_err(|e| format!("events[{i}]: {e}"))?;
        // A test event must be one intake would take: it is checked against the event catalog,
        // so a fixture cannot drift from the declared shape.
        sim.engine
            .check_events(std::slice::from_ref(&event))
            .map_err(|e| format!("events[{i}]: `{}` {} (event catalog)", e.field, e.message))?;
        sim.store
            .insert_events(&[event], sim.clock.now_ms())
            .await
            .map_err(|e| e.to_string())?;
        sim.engine
            .run_until_idle()
            .await
            .map_err(|e| e.to_string())?;
    }
    let run_for = duration(case.run_for.as_deref().unwrap_or("30d"), "run_for")?;
    sim.advance(run_for).await.map_err(|e| e.to_string())?;
    let mut runs = Vec::new();
    for w in sim.engine.registry().active_workflows() {
        runs.extend(sim.runs(&w.name).await.map_err(|e| e.to_string())?);
    }
    runs.sort_by_key(|r| (r.started_at, r.id.clone()));
    let mut timelines = Vec::new();
    for r in &runs {
        timelines.extend(sim.timeline(&r.id).await.map_err(|e| e.to_string())?);
    }
    let calls = sim.calls.lock().expect("call log").clone();
    Ok(Observed {
        start: start_ms,
        calls,
        runs,
        timelines,
    })
}

fn rel(start: Millis, at: Millis) -> String {
    format!("+{}", format_duration(at - start))
}

/// Compares what happened with what was expected; returns one message per failed expectation.
fn check(expect: &spec::Expect, o: &Observed) -> Vec<String> {
    let mut failures = Vec::new();
    let mut next_call = 0;
    for (n, want) in expect.actions.iter().enumerate() {
        let want_at = want.at.as_deref().and_then(parse_duration);
        if let (Some(text), None) = (&want.at, want_at) {
            // A time that does not read would silently match any time.
            failures.push(format!(
                "expected action #{} `{}`: at `{text}` is not a duration; write one unit, e.g. `1599h` or `3d`",
                n + 1,
                want.action
            ));
            continue;
        }
        let found = o.calls[next_call..].iter().position(|c| {
            c.action == want.action
                && subset(&Value::Object(want.with.clone()), &c.input)
                && want_at.is_none_or(|w| (c.at - o.start - w).abs() <= 1000)
        });
        match found {
            Some(i) => next_call += i + 1,
            None => failures.push(report::missing_action(n, want, &o.calls, o.start)),
        }
    }
    for name in &expect.not_actions {
        for c in o.calls.iter().filter(|c| &c.action == name) {
            failures.push(format!(
                "`{name}` must not run, but it ran at {} with {}",
                rel(o.start, c.at),
                c.input
            ));
        }
    }
    if let Some(n) = expect.runs {
        if o.runs.len() != n {
            failures.push(format!("expected {n} run(s), got {}", o.runs.len()));
        }
    }
    let first = o.runs.first();
    if let Some(status) = &expect.status {
        let got = first.map(|r| r.status.as_str()).unwrap_or("no run");
        if got != status {
            failures.push(format!("expected the run to end `{status}`, got `{got}`"));
        }
    }
    if let Some(reason) = &expect.reason {
        let got = first
            .and_then(|r| r.exit_reason.clone())
            .unwrap_or_default();
        if &got != reason {
            failures.push(format!("expected exit reason {reason:?}, got {got:?}"));
        }
    }
    for part in &expect.skipped {
        let reasons: Vec<String> = o
            .timelines
            .iter()
            .filter(|e| e.status == "skipped")
            .map(|e| e.detail["reason"].as_str().unwrap_or("").to_string())
            .collect();
        if !reasons.iter().any(|r| r.contains(part.as_str())) {
            failures.push(format!(
                "expected a step skipped because of {part:?}; skipped: {reasons:?}"
            ));
        }
    }
    if !failures.is_empty() {
        let skipped: Vec<TimelineEntry> = o
            .timelines
            .iter()
            .filter(|e| e.status == "skipped")
            .cloned()
            .collect();
        failures.push(report::calls_made(&o.calls, &skipped, o.start));
    }
    failures
}
