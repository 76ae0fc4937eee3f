//! What the page's builder asks of the engine: the paths a trigger's events carry (for the
//! condition builder's completion) and creating a new workflow file.

use crate::core::context::EngineError;
use crate::core::loader::LoadReport;
use crate::core::Engine;
use crate::event::Event;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How far back the builder looks for events of a type the catalog does not declare.
const SAMPLE_WINDOW_MS: i64 = 7 * 86_400_000;
/// How many of those events it reads at most.
const SAMPLE_EVENTS: i64 = 50;
/// Paths deeper than this are not offered (a payload can nest without bound).
const MAX_DEPTH: usize = 6;

/// A path a condition can read (`event.cart.total`), with its JSON type and where it is known
/// from: `catalog` (declared in `workflows/events/`) or `events` (seen in recent events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct KnownPath {
    /// The path as expressions write it.
    pub path: String,
    /// `string`, `number`, `integer`, `boolean`, `array`, `object`, or several joined by ` | `.
    #[serde(rename = "type")]
    pub kind: String,
    /// `catalog` or `events`.
    pub source: &'static str,
}

/// Why a new workflow file was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The file name or the source is not acceptable; the message says what to change.
    #[error("{0}")]
    Refused(String),
    /// The source does not compile.
    #[error("the workflow has problems")]
    Problems(mikawaya_dsl::Diagnostics),
    /// Something failed on the engine's side.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Whether `file` is a plain file name the builder may create: lowercase letters, digits, `-`
/// and `_`, ending in `.yaml` or `.mkw`, so it cannot leave the workflows folder.
pub fn acceptable_file_name(file: &str) -> Result<(), String> {
    let stem = file
        .strip_suffix(".yaml")
        .or_else(|| file.strip_suffix(".mkw"))
        .ok_or_else(|| format!("`{file}` must end in .yaml or .mkw"))?;
    let plain = stem
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if stem.is_empty() || !plain || stem.starts_with('-') {
        return Err(format!(
            "`{file}`: use lowercase letters, digits, `-` and `_` (e.g. `cart-abandon.yaml`)"
        ));
    }
    Ok(())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn walk_values(
    prefix: &str,
    map: &Map<String, Value>,
    depth: usize,
    out: &mut BTreeMap<String, Vec<&'static str>>,
) {
    for (field, value) in map {
        let path = format!("{prefix}.{field}");
        let kinds = out.entry(path.clone()).or_default();
        let kind = json_type(value);
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
        if let (Value::Object(inner), true) = (value, depth < MAX_DEPTH) {
            walk_values(&path, inner, depth + 1, out);
        }
    }
}

/// The paths seen in `events` (payload under `event.`, attributes under `customer.`), each with
/// every type it had; an integer seen beside a fraction counts as a number.
pub fn sampled_paths(events: &[Event]) -> Vec<KnownPath> {
    let mut seen = BTreeMap::new();
    for e in events {
        walk_values("event", &e.data, 1, &mut seen);
        walk_values("customer", &e.customer, 1, &mut seen);
    }
    seen.into_iter()
        .map(|(path, mut kinds)| {
            if kinds.contains(&"number") {
                kinds.retain(|k| *k != "integer");
            }
            kinds.sort_unstable();
            KnownPath {
                path,
                kind: kinds.join(" | "),
                source: "events",
            }
        })
        .collect()
}

fn schema_type(schema: &Value) -> String {
    match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => {
            let names: Vec<&str> = ts.iter().filter_map(Value::as_str).collect();
            names.join(" | ")
        }
        _ if schema.get("enum").is_some() => "enum".into(),
        _ => "any".into(),
    }
}

fn walk_schema(prefix: &str, schema: &Value, depth: usize, out: &mut Vec<KnownPath>) {
    let Some(fields) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (field, sub) in fields {
        let path = format!("{prefix}.{field}");
        out.push(KnownPath {
            path: path.clone(),
            kind: schema_type(sub),
            source: "catalog",
        });
        if depth < MAX_DEPTH {
            walk_schema(&path, sub, depth + 1, out);
        }
    }
}

/// The paths a declared event type's payload and customer attributes have.
pub fn declared_paths(data: &Value, customer: &Value) -> Vec<KnownPath> {
    let mut out = vec![];
    walk_schema("event", data, 1, &mut out);
    walk_schema("customer", customer, 1, &mut out);
    out
}

impl Engine {
    /// The paths events of `event_type` carry: the catalog's declaration when there is one,
    /// else what the last week's events of the type (at most 50) held.
    pub async fn trigger_paths(&self, event_type: &str) -> Result<Vec<KnownPath>, EngineError> {
        if let Some(t) = self.event_catalog().get(event_type) {
            return Ok(declared_paths(&t.data, &t.customer));
        }
        let now = self.clock().now_ms();
        let events = self
            .store()
            .received_events(event_type, now - SAMPLE_WINDOW_MS, now, SAMPLE_EVENTS)
            .await?;
        Ok(sampled_paths(&events))
    }

    /// Creates `file` in the workflows folder with `source` (checked first; never over an
    /// existing file or an active workflow's name) and loads it.
    pub async fn create_workflow(
        &self,
        file: &str,
        source: String,
    ) -> Result<(String, LoadReport), CreateError> {
        acceptable_file_name(file).map_err(CreateError::Refused)?;
        let path = self.config().workflows_dir.join(file);
        let compiled = self
            .check_draft(path.display().to_string(), source.clone())
            .await?
            .map_err(CreateError::Problems)?;
        if self.active_workflow(&compiled.name).is_some() {
            return Err(CreateError::Refused(format!(
                "a workflow named `{}` exists already; pick another name",
                compiled.name
            )));
        }
        let created = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await;
        let mut out = match created {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(CreateError::Refused(format!(
                    "`{file}` exists already; pick another file name"
                )))
            }
            Err(e) => return Err(EngineError::Workflows(format!("{}: {e}", path.display())).into()),
        };
        use tokio::io::AsyncWriteExt;
        let written = match out.write_all(source.as_bytes()).await {
            Ok(()) => out.sync_all().await,
            Err(e) => Err(e),
        };
        written.map_err(|e| EngineError::Workflows(format!("{}: {e}", path.display())))?;
        Ok((compiled.name, self.reload().await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(data: Value, customer: Value) -> Event {
        Event {
            id: "e".into(),
            event_type: "lead.created".into(),
            customer_id: Some("c".into()),
            customer: customer.as_object().unwrap().clone(),
            occurred_at: 0,
            data: data.as_object().unwrap().clone(),
            source: None,
        }
    }

    #[test]
    fn paths_of_recent_events_carry_every_type_seen() {
        let events = [
            event(
                json!({"lead": {"score": 3, "source": "web"}}),
                json!({"tier": "gold"}),
            ),
            event(
                json!({"lead": {"score": 4.5, "tags": ["a"]}}),
                json!({"tier": null}),
            ),
        ];
        let paths: Vec<(String, String)> = sampled_paths(&events)
            .into_iter()
            .map(|p| (p.path, p.kind))
            .collect();
        let want = [
            ("customer.tier", "null | string"),
            ("event.lead", "object"),
            ("event.lead.score", "number"),
            ("event.lead.source", "string"),
            ("event.lead.tags", "array"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(p, k)| (p.to_string(), k.to_string()))
            .collect();
        assert_eq!(paths, want);
    }

    #[test]
    fn declared_paths_follow_the_schema() {
        let data = json!({"properties": {"cart": {"type": "object", "properties": {"total": {"type": "number"}}}}});
        let customer = json!({"properties": {"tier": {"enum": ["gold", "silver"]}}});
        let paths: Vec<String> = declared_paths(&data, &customer)
            .into_iter()
            .map(|p| format!("{} {} {}", p.path, p.kind, p.source))
            .collect();
        assert_eq!(
            paths,
            [
                "event.cart object catalog",
                "event.cart.total number catalog",
                "customer.tier enum catalog"
            ]
        );
    }

    #[test]
    fn file_names_stay_in_the_folder() {
        assert!(acceptable_file_name("win-back_2.yaml").is_ok());
        assert!(acceptable_file_name("win-back.mkw").is_ok());
        for bad in [
            "../x.yaml",
            "x.yml",
            "X.yaml",
            ".yaml",
            "a/b.yaml",
            "cart.test.yaml",
            "-x.yaml",
        ] {
            assert!(
                acceptable_file_name(bad).is_err(),
                "{bad} should be refused"
            );
        }
    }
}
