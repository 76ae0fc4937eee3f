//! Actions the engine itself provides (`task.create`), and the default action set.

use crate::clock::Clock;
use crate::store::RunStore;
use async_trait::async_trait;
use mikawaya_plugins::builtin::{EmailAction, EmailConfig, LogAction, WebhookAction};
use mikawaya_plugins::{required_str, Action, ActionContext, ActionError, ActionRegistry};
use serde_json::{json, Value};
use std::sync::Arc;

/// `task.create`: stores a task for a person or queue (`title` required; `assignee`, `queue`, any
/// other fields kept as data). Created once per idempotency key, so a retried step never
/// duplicates a task.
pub struct TaskAction {
    store: Arc<dyn RunStore>,
    clock: Arc<dyn Clock>,
}

#[async_trait]
impl Action for TaskAction {
    fn name(&self) -> &str {
        "task.create"
    }

    fn input_schema(&self) -> Option<Value> {
        let text = |description: &str| json!({ "type": "string", "description": description });
        Some(json!({
            "type": "object",
            "description": "Creates a task for a person or a queue; other fields are kept as its data.",
            "required": ["title"],
            "properties": {
                "title": text("What to do; may hold `{{ expressions }}`."),
                "queue": text("The team queue, e.g. `retention`."),
                "assignee": text("A person, instead of a queue."),
            },
            "additionalProperties": true,
        }))
    }

    async fn call(&self, input: Value, ctx: &ActionContext) -> Result<Value, ActionError> {
        required_str(&input, "title")?;
        let id = self
            .store
            .create_task(
                &ctx.idempotency_key,
                &ctx.run_id,
                &input,
                self.clock.now_ms(),
            )
            .await
            .map_err(|e| ActionError::Retryable(e.to_string()))?;
        Ok(json!({ "task_id": id }))
    }
}

/// `ticket.triage`: a ticket's topic and priority from its `text`, by the model trained on the
/// shipped examples ([`crate::intel::triage`]); pure, so rule tests run it for real. The model
/// is trained on the first call, on the blocking pool.
pub struct TriageAction;

#[async_trait]
impl Action for TriageAction {
    fn name(&self) -> &str {
        "ticket.triage"
    }

    fn pure(&self) -> bool {
        true
    }

    fn input_schema(&self) -> Option<Value> {
        Some(json!({
            "type": "object",
            "description": "Predicts a support ticket's topic (billing, delivery, technical, account, cancellation) and priority (urgent, high, normal, low); English and Japanese. Output: topic, topic_confidence, priority, priority_confidence.",
            "required": ["text"],
            "properties": {
                "text": { "type": "string", "description": "The ticket's text; may hold `{{ expressions }}`." },
            },
            "additionalProperties": false,
        }))
    }

    async fn call(&self, input: Value, _ctx: &ActionContext) -> Result<Value, ActionError> {
        let text = required_str(&input, "text")?.to_string();
        let verdict =
            tokio::task::spawn_blocking(move || crate::intel::triage::shipped().classify(&text))
                .await
                .map_err(|e| ActionError::Retryable(format!("triage: {e}")))?;
        serde_json::to_value(verdict).map_err(|e| ActionError::Permanent(e.to_string()))
    }
}

/// The built-in actions: `log`, `webhook`, `email.send`, `task.create`, `ticket.triage`.
pub fn default_actions(
    store: Arc<dyn RunStore>,
    clock: Arc<dyn Clock>,
    email: &EmailConfig,
) -> Result<ActionRegistry, String> {
    let mut registry = ActionRegistry::new();
    registry.register(Arc::new(LogAction));
    registry.register(Arc::new(WebhookAction::default()));
    registry.register(Arc::new(EmailAction::new(email)?));
    registry.register(Arc::new(TaskAction { store, clock }));
    registry.register(Arc::new(TriageAction));
    Ok(registry)
}

/// The names of the built-in actions ([`default_actions`]), for checking workflows without an
/// engine (`mikawaya validate`).
pub const BUILTIN_ACTIONS: &[&str] = &[
    "log",
    "webhook",
    "email.send",
    "task.create",
    "ticket.triage",
];

/// One call recorded by a stand-in action.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecordedCall {
    /// Action name.
    pub action: String,
    /// Evaluated arguments.
    pub input: Value,
    /// Run that called it.
    pub run_id: String,
    /// Step that called it.
    pub step_id: String,
    /// When, in the engine's clock.
    pub at: crate::clock::Millis,
}

/// The shared log of recorded calls.
pub type CallLog = Arc<std::sync::Mutex<Vec<RecordedCall>>>;

/// A stand-in for a side-effecting action: records the call and succeeds, so tests and replays
/// touch nothing outside. It keeps the real action's channel, so consent and caps still apply.
pub struct RecordingAction {
    name: String,
    /// The real action, called after recording when it is pure ([`Action::pure`]).
    pure: Option<Arc<dyn Action>>,
    channel: Option<&'static str>,
    uses_scope: bool,
    log: CallLog,
    clock: Arc<dyn Clock>,
}

#[async_trait]
impl Action for RecordingAction {
    fn name(&self) -> &str {
        &self.name
    }

    fn channel(&self) -> Option<&'static str> {
        self.channel
    }

    fn uses_scope(&self) -> bool {
        self.uses_scope
    }

    async fn call(&self, input: Value, ctx: &ActionContext) -> Result<Value, ActionError> {
        let call = RecordedCall {
            action: self.name.clone(),
            input,
            run_id: ctx.run_id.clone(),
            step_id: ctx.step_id.clone(),
            at: self.clock.now_ms(),
        };
        self.log.lock().expect("call log").push(call);
        if let Some(real) = &self.pure {
            return real.call(input_of(&self.log), ctx).await;
        }
        Ok(
            json!({ "recorded": true, "task_id": format!("task-{}", ctx.idempotency_key), "message_id": format!("<{}@recorded>", ctx.idempotency_key) }),
        )
    }
}

/// The input of the call just recorded in `log`.
fn input_of(log: &CallLog) -> Value {
    log.lock()
        .expect("call log")
        .last()
        .map(|c| c.input.clone())
        .unwrap_or_default()
}

/// Replaces every action of `real` with a recording stand-in writing to `log`.
pub fn recording(real: &ActionRegistry, log: &CallLog, clock: Arc<dyn Clock>) -> ActionRegistry {
    let mut registry = ActionRegistry::new();
    for name in real.names() {
        let channel = real.get(&name).and_then(|a| a.channel());
        let uses_scope = real.get(&name).is_some_and(|a| a.uses_scope());
        registry.register(Arc::new(RecordingAction {
            pure: real.get(&name).filter(|a| a.pure()),
            name,
            channel,
            uses_scope,
            log: log.clone(),
            clock: clock.clone(),
        }));
    }
    registry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_builtins_are_the_registered_ones() {
        let store: Arc<dyn RunStore> = Arc::new(crate::store::memory::MemoryStore::new());
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
        let dir = tempfile::tempdir().unwrap();
        let email = EmailConfig {
            smtp_url: None,
            outbox: dir.path().to_path_buf(),
            from: "shop@example.com".into(),
            timeout: std::time::Duration::from_secs(5),
            templates: dir.path().to_path_buf(),
        };
        let mut names = default_actions(store, clock, &email).unwrap().names();
        names.sort();
        let mut listed: Vec<String> = BUILTIN_ACTIONS.iter().map(|s| s.to_string()).collect();
        listed.sort();
        assert_eq!(names, listed);
    }
}
