//! Built-in actions: `log`, `webhook`, `email.send`, and the email templates.

mod email;
mod log;
pub mod templates;
mod webhook;

pub use email::{EmailAction, EmailConfig};
pub use log::LogAction;
pub use webhook::WebhookAction;
