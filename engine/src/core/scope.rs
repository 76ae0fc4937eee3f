//! The values expressions see (`event`, `customer`, `run`, `steps`, the `for each` entity), owned,
//! so a [`mikawaya_dsl::expr::Scope`] can borrow them.

use crate::clock::{rfc3339, Millis};
use crate::store::RunRow;
use chrono::{DateTime, Utc};
use mikawaya_dsl::expr::Scope;
use serde_json::Value;

/// Owned scope values.
#[derive(Debug, Clone, Default)]
pub struct ScopeData {
    /// `event.*`.
    pub event: Value,
    /// `customer.*`.
    pub customer: Value,
    /// `run.*`.
    pub run: Value,
    /// `steps.*`.
    pub steps: Value,
    /// The entity.
    pub entity: Value,
}

pub use crate::core::knowledge::customer_value;

static NULL: Value = Value::Null;

/// `run.*` as expressions see it.
pub fn run_value(run: &RunRow) -> Value {
    serde_json::json!({
        "id": run.id,
        "workflow": run.workflow,
        "version": run.version,
        "started_at": rfc3339(run.started_at),
    })
}

/// The scope of a run, borrowed from it (nothing is copied to evaluate a step): its context's
/// `event`, `steps` and `entity`, the customer's current attributes and `run` ([`run_value`]).
#[derive(Clone, Copy)]
pub struct RunScope<'a> {
    /// The run.
    pub run: &'a RunRow,
    /// The customer as expressions see it.
    pub customer: &'a Value,
    /// `run.*`.
    pub run_value: &'a Value,
}

impl<'a> RunScope<'a> {
    fn part(&self, key: &str) -> &'a Value {
        self.run.context.get(key).unwrap_or(&NULL)
    }

    /// The expression scope at `now`, with `today` in `tz`.
    pub fn scope(&self, now: DateTime<Utc>, tz: chrono_tz::Tz) -> Scope<'a> {
        Scope {
            event: self.part("event"),
            customer: self.customer,
            run: self.run_value,
            steps: self.part("steps"),
            entity: self.part("entity"),
            now,
            today: now.with_timezone(&tz).date_naive(),
        }
    }

    /// The values as one JSON object (what templates see).
    pub fn to_json(&self) -> Value {
        serde_json::json!({ "customer": self.customer, "event": self.part("event"), "run": self.run_value, "steps": self.part("steps"), "entity": self.part("entity") })
    }
}

impl ScopeData {
    /// Borrows the values as an expression scope at `now`, with `today` in `tz`.
    pub fn scope(&self, now: DateTime<Utc>, tz: chrono_tz::Tz) -> Scope<'_> {
        Scope {
            event: &self.event,
            customer: &self.customer,
            run: &self.run,
            steps: &self.steps,
            entity: &self.entity,
            now,
            today: now.with_timezone(&tz).date_naive(),
        }
    }
}

/// A JSON value as a correlation key string (`None` for null).
pub fn key_string(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Keeps the compiler honest about the unit of stored times.
pub fn ms(t: DateTime<Utc>) -> Millis {
    t.timestamp_millis()
}
