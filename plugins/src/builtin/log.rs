//! `log`: writes its arguments to the structured log; useful for trying workflows out.

use crate::{Action, ActionContext, ActionError};
use async_trait::async_trait;
use serde_json::{json, Value};

/// Logs `message` (and all other arguments) at info level.
pub struct LogAction;

#[async_trait]
impl Action for LogAction {
    fn name(&self) -> &str {
        "log"
    }

    fn input_schema(&self) -> Option<Value> {
        Some(json!({
            "type": "object",
            "description": "Writes its arguments to the engine's log.",
            "properties": { "message": { "type": "string", "description": "The line to log." } },
        }))
    }

    async fn call(&self, input: Value, ctx: &ActionContext) -> Result<Value, ActionError> {
        let message = input.get("message").and_then(Value::as_str).unwrap_or("");
        tracing::info!(workflow = %ctx.workflow, run = %ctx.run_id, step = %ctx.step_id, args = %input, "{message}");
        Ok(json!({ "logged": message }))
    }
}
