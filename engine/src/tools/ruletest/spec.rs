//! The rule test file format (`<workflow>.test.yaml`, beside the workflow).

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A test file: starting state and cases for one workflow.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// The workflow file, relative to the test file (default: same name without `.test`).
    pub workflow: Option<String>,
    /// Simulated start time, RFC 3339 (default `2026-01-05T09:00:00Z`, a Monday).
    pub start: Option<String>,
    /// Customers known before the first event: id → attributes.
    #[serde(default)]
    pub customers: BTreeMap<String, Map<String, Value>>,
    /// Frequency caps during the test, as `--frequency-cap` (default `3/7d`, `off` to disable).
    pub frequency_cap: Option<String>,
    /// A folder of WASM plugins, relative to the test file; their actions run for real (in their
    /// sandbox, with a fresh key-value store per case), every other action is recorded.
    pub plugins: Option<String>,
    /// The grants file for those plugins, relative to the test file.
    pub plugin_grants: Option<String>,
    /// The cases.
    pub cases: Vec<Case>,
}

/// One story: events at relative times, then expectations.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows.
    pub name: String,
    /// Events, at times relative to the start.
    #[serde(default)]
    pub events: Vec<TestEvent>,
    /// How long to simulate after the last event (default `30d`).
    pub run_for: Option<String>,
    /// Other workflow files loaded beside the one under test, relative to the test file, for
    /// stories across workflows (a cap's last slot, a priority); their runs and calls count.
    #[serde(default)]
    pub with_workflows: Vec<String>,
    /// What must have happened.
    pub expect: Expect,
}

/// An event of a case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestEvent {
    /// When, relative to the start (`0s`, `30m`, `2d`).
    pub at: String,
    /// Event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Event id (default: generated).
    pub id: Option<String>,
    /// Customer id or object.
    pub customer: Option<Value>,
    /// Payload.
    pub data: Option<Map<String, Value>>,
}

/// Expectations of a case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Actions that must run, in this order (other calls may come between).
    #[serde(default)]
    pub actions: Vec<ExpectedAction>,
    /// Actions that must not run at all.
    #[serde(default)]
    pub not_actions: Vec<String>,
    /// Number of runs the workflow must have started.
    pub runs: Option<usize>,
    /// Final status of the (first) run: `completed`, `exited`, `failed`, `waiting`, `active`.
    pub status: Option<String>,
    /// Its exit reason.
    pub reason: Option<String>,
    /// Parts of the reasons of steps skipped by consent, suppression or the frequency cap.
    #[serde(default)]
    pub skipped: Vec<String>,
}

/// An action expected to run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAction {
    /// Action name.
    pub action: String,
    /// Arguments that must be present with these values (others may be present too).
    #[serde(default)]
    pub with: Map<String, Value>,
    /// When, relative to the start (within a second).
    pub at: Option<String>,
}

/// True when every field of `expected` is in `actual` with an equal value (recursively).
pub fn subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| subset(v, av))),
        (Value::Number(e), Value::Number(a)) => e.as_f64() == a.as_f64(),
        _ => expected == actual,
    }
}

#[cfg(test)]
mod tests {
    use super::subset;
    use serde_json::json;

    #[test]
    fn subset_ignores_extra_fields_but_not_different_values() {
        assert!(subset(
            &json!({"a": 1, "b": {"c": 2}}),
            &json!({"a": 1.0, "b": {"c": 2, "d": 3}, "e": 4})
        ));
        assert!(!subset(&json!({"a": 1}), &json!({"a": 2})));
        assert!(!subset(&json!({"a": 1}), &json!({})));
        assert!(!subset(&json!([1]), &json!([1, 2])));
    }
}
