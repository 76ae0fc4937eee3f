//! What every part of the engine shares: the store, the clock, settings, counters, the plugins
//! and the restraint rules. The parts ([`crate::core::matcher::Matcher`],
//! [`crate::core::executor::Executor`], [`crate::core::scheduler::Scheduler`], …) each borrow
//! one [`Context`]; the [`crate::core::Engine`] owns it and the loaded workflows.

use crate::clock::Clock;
use crate::core::metrics::Metrics;
use crate::core::plugins::Plugins;
use crate::core::restraint::Restraint;
use crate::store::{Store, StoreError};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
    /// Most bytes of JSON one action's output may keep in its run (more is truncated, marked).
    pub max_output_bytes: usize,
    /// The frequency caps on marketing messages per customer, across workflows.
    pub frequency_caps: crate::core::caps::Caps,
    /// Base URL customers reach the engine at (for unsubscribe links).
    pub public_url: String,
    /// Secret that signs unsubscribe links (kept in the database's settings).
    pub secret: String,
    /// Runs executing at once (each waits mostly on its action's I/O).
    pub max_in_flight: usize,
    /// New runs the matcher may hand straight to the executor (more wait in the store).
    pub ready_capacity: usize,
    /// Work not yet done (events not matched, runs ready or executing) past which the intake
    /// answers 503 with `Retry-After` instead of letting the backlog grow without bound.
    pub max_backlog: u64,
    /// Refuse events whose type the event catalog does not declare (`--strict-events`).
    pub strict_events: bool,
    /// The send window of workflows without their own (`--send-window`; `None`: any hour).
    pub send_window: Option<mikawaya_dsl::calendar::SendWindow>,
    /// The share of customers, in percent, who get no marketing at all (`--global-control`).
    pub global_control: Option<f64>,
    /// Calls in flight at once per action, across nodes (`--action-concurrency`); a plugin's
    /// own limit applies to actions not named here.
    pub action_concurrency: std::collections::BTreeMap<String, u32>,
}

/// The frequency caps of a server started without `--frequency-cap`: three marketing
/// messages per customer and channel in seven days.
pub const DEFAULT_CAPS: &str = "3/7d";

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            workflows_dir: PathBuf::from("workflows"),
            action_timeout: Duration::from_secs(30),
            lease_ms: 60_000,
            batch: 64,
            max_output_bytes: crate::core::lifecycle::DEFAULT_MAX_OUTPUT,
            frequency_caps: DEFAULT_CAPS.parse().expect("the default caps parse"),
            public_url: "http://127.0.0.1:8080".into(),
            secret: String::new(),
            max_in_flight: 512,
            ready_capacity: 4096,
            max_backlog: 100_000,
            strict_events: false,
            send_window: None,
            global_control: None,
            action_concurrency: Default::default(),
        }
    }
}

/// Engine errors.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// What the caller gave is not valid (the message says why).
    #[error("{0}")]
    Input(String),
    /// What the caller asks for clashes with what exists (a name already taken).
    #[error("{0}")]
    Conflict(String),
    /// Too much work of this kind is running; the caller may retry.
    #[error("{0}")]
    Busy(String),
    /// A bug inside the engine (a panicking check); the caller should not simply retry.
    #[error("{0}")]
    Internal(String),
    /// Workflow files failed to load.
    #[error("workflows failed to load:\n{0}")]
    Workflows(String),
}

/// What the engine's parts share.
pub struct Context {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub config: EngineConfig,
    /// Counters.
    pub metrics: Metrics,
    /// WASM plugins, if a plugins folder is configured.
    pub plugins: Option<Arc<Plugins>>,
    /// Consent, suppressions, the cap and unsubscribe links.
    pub restraint: Restraint,
    /// Run transitions, committed in groups.
    pub commits: crate::core::group_commit::GroupCommit,
    /// Customers of executing runs, read in groups.
    pub customer_reads: crate::core::batcher::CustomerReads,
    /// New runs handed from the matcher to the executor.
    pub ready: crate::core::ready::ReadyQueue,
    /// Scores, segments, the history digest and RFM in force, which the matcher keeps per
    /// customer as events arrive.
    pub knowledge: std::sync::RwLock<Arc<crate::core::knowledge::Knowledge>>,
    /// What the last segment sweep found.
    pub last_sweep: std::sync::Mutex<Option<crate::core::sweep::SweepReport>>,
}

impl Context {
    /// The knowledge in force.
    pub fn knowledge(&self) -> Arc<crate::core::knowledge::Knowledge> {
        self.knowledge.read().expect("knowledge lock").clone()
    }

    /// Replaces the knowledge in force with `f` of it.
    pub fn update_knowledge(
        &self,
        f: impl FnOnce(crate::core::knowledge::Knowledge) -> crate::core::knowledge::Knowledge,
    ) {
        let mut lock = self.knowledge.write().expect("knowledge lock");
        *lock = Arc::new(f((**lock).clone()));
    }

    /// Work not yet done: events not matched, runs ready or executing.
    pub fn backlog(&self) -> u64 {
        self.metrics.backlog(self.ready.len() as u64)
    }
}

impl Context {
    /// The customer `id` as expressions see it (null without a customer).
    pub async fn customer(&self, id: Option<&str>) -> Result<serde_json::Value, EngineError> {
        Ok(match id {
            Some(c) => {
                let attrs = self.store.customer(c).await?;
                crate::core::scope::customer_value(
                    &self.knowledge(),
                    Some(c),
                    attrs.as_ref(),
                    self.clock.now_ms(),
                )
            }
            None => serde_json::Value::Null,
        })
    }
}

impl From<crate::core::checks::CheckError> for EngineError {
    fn from(e: crate::core::checks::CheckError) -> Self {
        use crate::core::checks::CheckError;
        match e {
            CheckError::Busy => EngineError::Busy(e.to_string()),
            CheckError::Crashed(_) => EngineError::Internal(e.to_string()),
        }
    }
}
