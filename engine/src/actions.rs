//! Actions the engine itself provides (`task.create`), and the default action set.

use crate::clock::Clock;
use crate::store::Store;
use async_trait::async_trait;
use mikawaya_plugins::builtin::{EmailAction, EmailConfig, LogAction, WebhookAction};
use mikawaya_plugins::{required_str, Action, ActionContext, ActionError, ActionRegistry};
use serde_json::{json, Value};
use std::sync::Arc;

/// `task.create`: stores a task for a person or queue (`title` required; `assignee`, `queue`, any
/// other fields kept as data). Created once per idempotency key, so a retried step never
/// duplicates a task.
pub struct TaskAction {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

#[async_trait]
impl Action for TaskAction {
    fn name(&self) -> &str {
        "task.create"
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

/// The built-in actions: `log`, `webhook`, `email.send`, `task.create`.
pub fn default_actions(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    email: &EmailConfig,
) -> Result<ActionRegistry, String> {
    let mut registry = ActionRegistry::new();
    registry.register(Arc::new(LogAction));
    registry.register(Arc::new(WebhookAction::default()));
    registry.register(Arc::new(EmailAction::new(email)?));
    registry.register(Arc::new(TaskAction { store, clock }));
    Ok(registry)
}
