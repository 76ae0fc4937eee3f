//! Built-in actions: `log`, `webhook`, `email.send`.

mod email;
mod log;
mod webhook;

pub use email::{EmailAction, EmailConfig};
pub use log::LogAction;
pub use webhook::WebhookAction;
