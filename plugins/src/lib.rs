//! # mikawaya-plugins: the action interface and built-in actions
//!
//! Every step that does something calls an [`Action`]: built-ins (`log`, `webhook`, `email.send`)
//! and, later, WASM plugins implement the same trait, so the executor never knows the difference.
//!
//! The one design choice to know: an action gets an **idempotency key** that stays the same across
//! retries of the same step of the same run. Targets that honour it (webhooks with an
//! `Idempotency-Key` header, email Message-IDs) turn the engine's at-least-once delivery into
//! effectively-once.
#![deny(missing_docs)]

pub mod builtin;
pub mod wasm;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What an action knows about the run that calls it.
#[derive(Debug, Clone, Serialize)]
pub struct ActionContext {
    /// Workflow name.
    pub workflow: String,
    /// Workflow version.
    pub version: u32,
    /// Run id.
    pub run_id: String,
    /// Step id inside the workflow.
    pub step_id: String,
    /// The customer the run is about, if any.
    pub customer_id: Option<String>,
    /// Stable across retries of this step of this run.
    pub idempotency_key: String,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// What the run's expressions see: `customer`, `event`, `run`, `steps` (for templates).
    pub scope: Value,
    /// One-click unsubscribe link for the run's customer on this action's channel, if any.
    pub unsubscribe_url: Option<String>,
    /// The W3C `traceparent` of this call (the trace of the event that started the run), which
    /// actions that call other services pass on; `None` outside a run.
    pub traceparent: Option<String>,
}

impl ActionContext {
    /// A context outside any workflow run (`mikawaya plugin call`, tests, benchmarks).
    pub fn standalone(run_id: &str, step_id: &str) -> Self {
        ActionContext {
            workflow: "standalone".into(),
            version: 0,
            run_id: run_id.into(),
            step_id: step_id.into(),
            customer_id: None,
            idempotency_key: format!("{run_id}:{step_id}"),
            attempt: 1,
            scope: Value::Null,
            unsubscribe_url: None,
            traceparent: None,
        }
    }
}

/// Why an action failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// A passing problem (timeout, 5xx, SMTP 4xx): the step is retried per its policy.
    #[error("retryable: {0}")]
    Retryable(String),
    /// A problem that will not go away (bad input, 4xx, SMTP 5xx): the step fails at once.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl ActionError {
    /// True when the step may be retried.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ActionError::Retryable(_))
    }

    /// The message without the kind.
    pub fn message(&self) -> &str {
        match self {
            ActionError::Retryable(m) | ActionError::Permanent(m) => m,
        }
    }
}

/// One kind of step effect: send an email, call a webhook, create a task.
#[async_trait]
pub trait Action: Send + Sync {
    /// The name steps use (`email.send`).
    fn name(&self) -> &str;

    /// The customer-facing channel (`email`, `sms`), if any: the engine checks consent, the
    /// suppression list and the frequency cap before each call.
    fn channel(&self) -> Option<&'static str> {
        None
    }

    /// At most this many calls of the action in flight at once, across every node, counted
    /// under the returned key (a plugin's actions share one): `None`, no limit of its own.
    fn concurrency(&self) -> Option<(String, u32)> {
        None
    }

    /// Whether the action reads [`ActionContext::scope`] (what templates see). The engine builds
    /// that copy of the run's event, customer and step outputs only for actions that say so;
    /// the others get `null` there.
    fn uses_scope(&self) -> bool {
        false
    }

    /// Whether the action only computes its output from its input, touching nothing outside
    /// (a classifier): rule tests, replays and backtests run it for real instead of recording
    /// a stand-in, so the steps after it see its real output.
    fn pure(&self) -> bool {
        false
    }

    /// The JSON Schema of the action's input (a step's `with:`): the page's builder makes its
    /// form from it and the WASM host checks plugin input against it. `None`: free-form.
    fn input_schema(&self) -> Option<Value> {
        None
    }

    /// Runs the action with evaluated arguments; returns its output as JSON.
    async fn call(&self, input: Value, ctx: &ActionContext) -> Result<Value, ActionError>;
}

/// The actions known to an engine, by name.
#[derive(Clone, Default)]
pub struct ActionRegistry {
    actions: BTreeMap<String, Arc<dyn Action>>,
}

impl ActionRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) an action under its own name.
    pub fn register(&mut self, action: Arc<dyn Action>) {
        self.actions.insert(action.name().to_string(), action);
    }

    /// The action called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Action>> {
        self.actions.get(name).cloned()
    }

    /// All names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.actions.keys().cloned().collect()
    }

    /// Every action, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Action>> {
        self.actions.values()
    }
}

/// Reads a required string field of an action's input.
pub fn required_str<'a>(input: &'a Value, field: &str) -> Result<&'a str, ActionError> {
    input
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ActionError::Permanent(format!("missing text argument `{field}`")))
}
