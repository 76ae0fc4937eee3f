//! A deterministic simulation of the engine: a real SQLite file and the real executor, with a
//! manual clock that jumps from one due time to the next, so days of waits run in milliseconds.
//! Used by the example workflows' tests and the end-to-end scenarios in process.

use crate::clock::{Clock, ManualClock, Millis};
use crate::core::actions::{default_actions, recording, CallLog};
use crate::core::caps::Caps;
use crate::core::plugins::{Plugins, StoreKv};
use crate::core::restraint::new_secret;
use crate::core::{Engine, EngineConfig, EngineError};
use crate::event::parse_event;
use crate::store::{MemoryStore, RunFilter, RunRow, SqliteStore, Store, TaskRow, TimelineEntry};
use chrono::{DateTime, Utc};
use mikawaya_plugins::builtin::EmailConfig;
use mikawaya_plugins::wasm::WasmHost;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Settings of a simulation.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Send mail to this SMTP server instead of the outbox folder.
    pub smtp_url: Option<String>,
    /// Replace the default frequency caps.
    pub frequency_caps: Option<Caps>,
    /// Email templates folder (default `<workflows>/templates`).
    pub templates: Option<PathBuf>,
    /// Load WASM plugins from this folder, with this grants file.
    pub plugins: Option<(PathBuf, Option<PathBuf>)>,
    /// Replace every action with a recording stand-in (no side effects); see [`Simulation::calls`].
    pub record: bool,
    /// Keep everything in memory instead of `dir/sim.db`.
    pub memory: bool,
    /// Replace the size of the executor's ready queue.
    pub ready_capacity: Option<usize>,
    /// Calls in flight at once per action (as `--action-concurrency`).
    pub action_concurrency: std::collections::BTreeMap<String, u32>,
}

/// An engine on a manual clock.
pub struct Simulation {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Its store, for setting up and inspecting scenarios.
    pub store: Arc<dyn Store>,
    /// The clock to move.
    pub clock: Arc<ManualClock>,
    /// Where `email.send` writes `.eml` files.
    pub outbox: PathBuf,
    /// Calls recorded by stand-in actions (with `SimOptions::record`).
    pub calls: CallLog,
}

impl Simulation {
    /// Starts on `dir/sim.db` (reused if present) with the workflows of `workflows`, at `at`;
    /// mail goes to `dir/outbox`, the frequency cap is the default (3 per 7 days).
    pub async fn start(
        workflows: &Path,
        dir: &Path,
        at: DateTime<Utc>,
    ) -> Result<Self, EngineError> {
        Self::start_with(workflows, dir, at, SimOptions::default()).await
    }

    /// Like [`Simulation::start`], with options.
    pub async fn start_with(
        workflows: &Path,
        dir: &Path,
        at: DateTime<Utc>,
        options: SimOptions,
    ) -> Result<Self, EngineError> {
        let store: Arc<dyn Store> = if options.memory {
            Arc::new(MemoryStore::new())
        } else {
            Arc::new(SqliteStore::open(&dir.join("sim.db")).await?)
        };
        let clock = Arc::new(ManualClock::at(at));
        let outbox = dir.join("outbox");
        let email = EmailConfig {
            smtp_url: options.smtp_url,
            outbox: outbox.clone(),
            from: "shop@example.com".into(),
            timeout: Duration::from_secs(5),
            templates: options
                .templates
                .clone()
                .unwrap_or_else(|| workflows.join("templates")),
        };
        let mut actions =
            default_actions(store.clone(), clock.clone(), &email).expect("outbox can be created");
        let calls = CallLog::default();
        if options.record {
            actions = recording(&actions, &calls, clock.clone());
        }
        let defaults = EngineConfig::default();
        let config = EngineConfig {
            workflows_dir: workflows.to_path_buf(),
            action_timeout: Duration::from_secs(10),
            frequency_caps: options.frequency_caps.unwrap_or(defaults.frequency_caps),
            action_concurrency: options.action_concurrency,
            ready_capacity: options.ready_capacity.unwrap_or(defaults.ready_capacity),
            secret: store
                .setting_or_init("unsubscribe_secret", &new_secret())
                .await?,
            ..defaults
        };
        let plugins = match options.plugins {
            Some((dir, grants)) => {
                let c = clock.clone();
                let host = WasmHost::new(
                    None,
                    Arc::new(StoreKv(store.clone())),
                    Arc::new(move || c.now_ms()),
                )
                .map_err(EngineError::Workflows)?;
                Some(Arc::new(Plugins::new(host, dir, grants)))
            }
            None => None,
        };
        let engine = Engine::new(store.clone(), clock.clone(), actions, config, plugins);
        let report = engine.reload().await?;
        if !report.errors.is_empty() || !report.problems.is_empty() {
            let mut text: Vec<String> = report.errors.iter().map(|d| d.to_plain()).collect();
            text.extend(report.problems);
            return Err(EngineError::Workflows(text.join("\n")));
        }
        Ok(Simulation {
            engine,
            store,
            clock,
            outbox,
            calls,
        })
    }

    /// Stores one event (JSON as posted to `/events`) and processes everything due now.
    /// Returns whether the event was new; a malformed event is an [`EngineError::Input`].
    pub async fn send(&self, event: Value) -> Result<bool, EngineError> {
        let event = parse_event(0, event, self.clock.now_ms())
            .map_err(|e| EngineError::Input(e.to_string()))?;
        let fresh = self
            .store
            .insert_events(&[event], self.clock.now_ms())
            .await?;
        self.engine.run_until_idle().await?;
        Ok(fresh[0])
    }

    /// Moves the clock forward by `ms`, stopping at every due time on the way.
    pub async fn advance(&self, ms: Millis) -> Result<(), EngineError> {
        const DAY: Millis = 86_400_000;
        let target = self.clock.now_ms() + ms;
        self.engine.run_until_idle().await?;
        // With segments declared, they are swept every midnight (UTC), as a server would.
        let sweeps = !self.engine.knowledge().segments.is_empty();
        loop {
            let sweep = sweeps.then(|| (self.clock.now_ms() / DAY + 1) * DAY);
            let timer = self.engine.next_wakeup().await?;
            let Some(next) = [timer, sweep].into_iter().flatten().min() else {
                break;
            };
            if next > target {
                break;
            }
            self.clock
                .set(crate::clock::to_time(next.max(self.clock.now_ms())));
            if Some(next) == sweep {
                self.engine.sweep_segments().await?;
            }
            self.engine.run_until_idle().await?;
        }
        self.clock.set(crate::clock::to_time(target));
        self.engine.run_until_idle().await
    }

    /// Runs of one workflow, newest first.
    pub async fn runs(&self, workflow: &str) -> Result<Vec<RunRow>, EngineError> {
        let filter = RunFilter {
            workflow: Some(workflow.into()),
            limit: Some(10_000),
            ..RunFilter::default()
        };
        Ok(self.store.runs(&filter).await?)
    }

    /// A run's timeline.
    pub async fn timeline(&self, run_id: &str) -> Result<Vec<TimelineEntry>, EngineError> {
        Ok(self.store.timeline(run_id).await?)
    }

    /// Tasks, newest first.
    pub async fn tasks(&self) -> Result<Vec<TaskRow>, EngineError> {
        Ok(self.store.tasks(10_000).await?)
    }

    /// Titles of all tasks, sorted.
    pub async fn task_titles(&self) -> Result<Vec<String>, EngineError> {
        let mut titles: Vec<String> = self.tasks().await?.into_iter().map(|t| t.title).collect();
        titles.sort();
        Ok(titles)
    }

    /// The `.eml` texts written so far, in no particular order.
    pub fn mails(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.outbox) else {
            return vec![];
        };
        entries
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect()
    }
}
