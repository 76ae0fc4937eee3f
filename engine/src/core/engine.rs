//! The engine: shared state (store, clock, workflows, actions) and the loop steps that move work
//! forward. Each `process_*` call does one bounded batch, so tests drive it step by step with a
//! manual clock and `serve` drives it from background tasks.

use crate::clock::Clock;
use crate::core::loader::{load, LoadReport};
use crate::core::plugins::Plugins;
use crate::core::registry::Registry;
use crate::core::restraint::Restraint;
use crate::core::runtime::ActionResolver;
use crate::store::{Store, StoreError};
use mikawaya_dsl::check::Catalog;
use mikawaya_plugins::ActionRegistry;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

/// Settings of the engine core.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Folder of rule files.
    pub workflows_dir: PathBuf,
    /// Longest an action call may take before it counts as a retryable failure.
    pub action_timeout: Duration,
    /// How long a claimed timer stays leased to one worker.
    pub lease_ms: i64,
    /// Timers claimed per batch.
    pub batch: i64,
    /// The global cap on marketing messages per customer (`None`: no cap).
    pub frequency_cap: Option<crate::core::restraint::FrequencyCap>,
    /// Base URL customers reach the engine at (for unsubscribe links).
    pub public_url: String,
    /// Secret that signs unsubscribe links (kept in the database's settings).
    pub secret: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            workflows_dir: PathBuf::from("workflows"),
            action_timeout: Duration::from_secs(30),
            lease_ms: 60_000,
            batch: 64,
            frequency_cap: Some(crate::core::restraint::FrequencyCap {
                max: 3,
                window_ms: 7 * 86_400_000,
            }),
            public_url: "http://127.0.0.1:8080".into(),
            secret: String::new(),
        }
    }
}

/// Counters exposed on `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Events accepted (new).
    pub events_accepted: AtomicU64,
    /// Duplicate events ignored.
    pub events_duplicate: AtomicU64,
    /// Events refused as malformed.
    pub events_rejected: AtomicU64,
    /// Runs started.
    pub runs_started: AtomicU64,
    /// Action calls that succeeded.
    pub actions_ok: AtomicU64,
    /// Action calls that failed.
    pub actions_failed: AtomicU64,
}

impl Metrics {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Engine errors.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Workflow files failed to load.
    #[error("workflows failed to load:\n{0}")]
    Workflows(String),
}

/// The engine. Its parts are private: the API calls its services ([`crate::core::services`]),
/// the loops call its `process_*` steps, and waking the loops is its own business.
pub struct Engine {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Built-in actions (plugins are added on top).
    builtins: ActionRegistry,
    /// Built-ins plus the current plugin builds.
    actions: RwLock<Arc<ActionRegistry>>,
    plugins: Option<Arc<Plugins>>,
    restraint: Restraint,
    /// Settings.
    pub config: EngineConfig,
    /// Counters.
    pub metrics: Metrics,
    wake: Notify,
    registry: RwLock<Arc<Registry>>,
}

/// Finds actions among the current ones, telling which plugin provides each.
struct Resolver<'a> {
    actions: &'a ActionRegistry,
    plugins: Option<&'a Plugins>,
}

impl ActionResolver for Resolver<'_> {
    fn resolve(&self, name: &str) -> Option<(Arc<dyn mikawaya_plugins::Action>, Option<String>)> {
        let plugin = self.plugins.and_then(|p| p.plugin_of(name));
        self.actions.get(name).map(|a| (a, plugin))
    }
}

impl Engine {
    /// An engine with no workflows loaded yet, whose actions are `builtins` plus the WASM plugins
    /// of `plugins` (loaded here).
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        builtins: ActionRegistry,
        config: EngineConfig,
        plugins: Option<Arc<Plugins>>,
    ) -> Arc<Self> {
        let restraint = Restraint::new(
            store.clone(),
            config.frequency_cap,
            config.public_url.clone(),
            config.secret.clone(),
        );
        let engine = Arc::new(Engine {
            restraint,
            store,
            clock,
            actions: RwLock::new(Arc::new(builtins.clone())),
            builtins,
            plugins,
            config,
            metrics: Metrics::default(),
            wake: Notify::new(),
            registry: RwLock::new(Arc::new(Registry::default())),
        });
        engine.reload_plugins();
        engine
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The store, for the engine's own modules and tools.
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The restraint rules (consent, suppressions, the cap, unsubscribe links).
    pub fn restraint(&self) -> &Restraint {
        &self.restraint
    }

    /// The plugins, if a plugins folder is configured.
    pub fn plugins(&self) -> Option<&Arc<Plugins>> {
        self.plugins.as_ref()
    }

    /// Wakes the loops: new events are stored or a run is due now.
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    /// Resolves when [`Engine::wake`] is called.
    pub async fn woken(&self) {
        self.wake.notified().await
    }

    /// The customer `id` as expressions see it (null without a customer).
    pub async fn customer(&self, id: Option<&str>) -> Result<serde_json::Value, EngineError> {
        Ok(match id {
            Some(c) => crate::core::scope::customer_value(Some(c), self.store.customer(c).await?),
            None => serde_json::Value::Null,
        })
    }

    /// The actions workflows can call now.
    pub fn actions(&self) -> Arc<ActionRegistry> {
        self.actions.read().expect("actions lock").clone()
    }

    /// Re-reads the plugins folder, rebuilds the action set and re-resolves the loaded
    /// workflows' actions; returns the plugins' problems.
    pub fn reload_plugins(&self) -> Vec<String> {
        let Some(plugins) = &self.plugins else {
            return vec![];
        };
        let errors = plugins.reload();
        let mut actions = self.builtins.clone();
        plugins.register(&mut actions);
        *self.actions.write().expect("actions lock") = Arc::new(actions);
        let (registry, problems) = self.registry().relink(&self.resolver(&self.actions()));
        for p in &problems {
            tracing::error!("{p}");
        }
        *self.registry.write().expect("registry lock") = Arc::new(registry);
        errors
    }

    fn resolver<'a>(&'a self, actions: &'a ActionRegistry) -> Resolver<'a> {
        Resolver {
            actions,
            plugins: self.plugins.as_deref(),
        }
    }

    /// The current workflows.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.read().expect("registry lock").clone()
    }

    /// The action names workflows may use.
    pub fn catalog(&self) -> Catalog {
        Catalog {
            actions: Some(self.actions().names()),
        }
    }

    /// (Re)loads the workflows folder; files that fail keep their last good version running.
    pub async fn reload(&self) -> Result<LoadReport, EngineError> {
        let previous = self.registry();
        let actions = self.actions();
        let (registry, report) = load(
            &self.config.workflows_dir,
            &*self.store,
            &self.catalog(),
            Some(&previous),
            &self.resolver(&actions),
            self.clock.now_ms(),
        )
        .await?;
        *self.registry.write().expect("registry lock") = Arc::new(registry);
        for d in &report.errors {
            tracing::error!(file = %d.file, "workflow rejected:\n{}", d.to_plain());
        }
        for p in &report.problems {
            tracing::error!("{p}");
        }
        for n in &report.notes {
            tracing::warn!("{n}");
        }
        tracing::info!(active = ?report.active, "workflows loaded");
        Ok(report)
    }

    /// Runs every kind of work until nothing is due at the clock's current time.
    pub async fn run_until_idle(self: &Arc<Self>) -> Result<(), EngineError> {
        loop {
            let mut done = self.process_events().await?;
            done += self.process_schedules().await?;
            done += self.process_due().await?;
            if done == 0 {
                return Ok(());
            }
        }
    }

    /// When the next run timer is due (or its lease ends).
    pub async fn next_timer(&self) -> Result<Option<crate::clock::Millis>, EngineError> {
        Ok(self.store.next_due().await?)
    }

    /// The earliest time at which something is due: a timer, a date trigger or a cron schedule.
    pub async fn next_wakeup(&self) -> Result<Option<crate::clock::Millis>, EngineError> {
        let mut next = self.store.next_due().await?;
        let mut consider = |t: Option<i64>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: i64| n.min(t)));
            }
        };
        consider(self.store.date_triggers().await?.first().map(|d| d.due_at));
        for w in self.registry().scheduled() {
            consider(self.store.schedule_next(&w.name).await?);
        }
        Ok(next)
    }
}
