//! What an expression sees while it is evaluated (the roots of paths, the clock), and the one
//! run-time error. Depends on nothing else in the expression language.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

/// Where a path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Root {
    /// The event that triggered the run (or that a wait is matching).
    Event,
    /// The customer the run is about.
    Customer,
    /// The run itself (`run.id`, `run.started_at`).
    Run,
    /// Outputs of earlier steps (`steps.<id>.output`).
    Steps,
    /// The entity of a `for each` schedule (its name is chosen by the rule).
    Entity,
}

/// What an expression can see while it is evaluated.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The event (`event.*`).
    pub event: &'a Value,
    /// The customer (`customer.*`).
    pub customer: &'a Value,
    /// The run (`run.*`).
    pub run: &'a Value,
    /// Earlier step outputs (`steps.*`).
    pub steps: &'a Value,
    /// The `for each` entity.
    pub entity: &'a Value,
    /// The current instant (from the injected clock).
    pub now: DateTime<Utc>,
    /// The current date in the workflow's time zone.
    pub today: NaiveDate,
}

static NULL: Value = Value::Null;

impl<'a> Scope<'a> {
    /// A scope with only an event and a clock; other roots are null.
    pub fn with_event(event: &'a Value, now: DateTime<Utc>) -> Self {
        Scope {
            event,
            customer: &NULL,
            run: &NULL,
            steps: &NULL,
            entity: &NULL,
            now,
            today: now.date_naive(),
        }
    }

    pub(crate) fn root(&self, root: Root) -> &'a Value {
        match root {
            Root::Event => self.event,
            Root::Customer => self.customer,
            Root::Run => self.run,
            Root::Steps => self.steps,
            Root::Entity => self.entity,
        }
    }
}

/// A run-time evaluation failure (a type that only showed up in the data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    /// What went wrong.
    pub message: String,
}

impl EvalError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        EvalError {
            message: message.into(),
        }
    }
}
