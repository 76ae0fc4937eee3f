//! The plugin manifest (`plugin.yaml`) and the operator's grants.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A plugin's manifest.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Plugin name, unique in the engine.
    pub name: String,
    /// Version (shown in run timelines).
    pub version: String,
    /// The `.wasm` file, relative to the manifest.
    pub wasm: PathBuf,
    /// The actions it exports.
    pub actions: Vec<ActionDecl>,
    /// Capabilities it asks for.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Limits of every call.
    #[serde(default)]
    pub limits: Limits,
}

/// One exported action.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ActionDecl {
    /// Name workflows use (`route.assign`).
    pub name: String,
    /// The guest function.
    pub export: String,
    /// JSON Schema of the input (a subset is checked: `type`, `required`, `enum`, `minimum`).
    #[serde(default)]
    pub input_schema: Option<Value>,
}

/// Capabilities, as asked by a plugin or granted by the operator.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Hosts it may call over HTTP(S).
    #[serde(default)]
    pub http: Vec<String>,
    /// Whether it may use its key-value store.
    #[serde(default)]
    pub kv: bool,
    /// Secrets it may read.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// In a grant: the longest call the operator allows this plugin, in milliseconds (default
    /// [`DEFAULT_MAX_TIMEOUT_MS`], at most [`MAX_TIMEOUT_MS`]). Ignored in a manifest, whose
    /// `limits.timeout_ms` asks for a budget within it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// The longest call a plugin gets without a `timeout_ms` grant.
pub const DEFAULT_MAX_TIMEOUT_MS: u64 = 5_000;
/// The longest call any grant can allow (the engine gives up on an action after 30 s anyway).
pub const MAX_TIMEOUT_MS: u64 = 30_000;

impl Capabilities {
    /// What is both asked for and granted.
    pub fn intersect(&self, granted: &Capabilities) -> Capabilities {
        Capabilities {
            http: self
                .http
                .iter()
                .filter(|h| granted.http.contains(h))
                .cloned()
                .collect(),
            kv: self.kv && granted.kv,
            timeout_ms: granted.timeout_ms,
            secrets: self
                .secrets
                .iter()
                .filter(|s| granted.secrets.contains(s))
                .cloned()
                .collect(),
        }
    }
}

/// Per-call limits.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock budget of one call in milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Linear memory cap in MiB.
    #[serde(default = "default_memory")]
    pub memory_mb: u32,
    /// Calls of the plugin's actions in flight at once, across every node (the API it calls
    /// allows so many concurrent requests); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
}

fn default_timeout() -> u64 {
    100
}

fn default_memory() -> u32 {
    16
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout_ms: default_timeout(),
            memory_mb: default_memory(),
            concurrency: None,
        }
    }
}

/// The operator's grants: plugin name → what it may use.
pub type Grants = BTreeMap<String, Capabilities>;

/// Reads a manifest; the error names the file, line and column.
pub fn read_manifest(path: &Path) -> Result<Manifest, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_manifest(path, &text)
}

/// Parses the text of the manifest at `path` (named in errors, with line and column).
pub fn parse_manifest(path: &Path, text: &str) -> Result<Manifest, String> {
    let m: Manifest = serde_yaml::from_str(text).map_err(|e| match e.location() {
        Some(l) => format!(
            "{}:{}:{}: {}",
            path.display(),
            l.line(),
            l.column(),
            e.to_string().split(" at line ").next().unwrap_or("")
        ),
        None => format!("{}: {e}", path.display()),
    })?;
    if m.actions.is_empty() {
        return Err(format!(
            "{}: a plugin must export at least one action",
            path.display()
        ));
    }
    if m.limits.timeout_ms == 0
        || m.limits.memory_mb == 0
        || m.limits.memory_mb > 1024
        || m.limits.concurrency == Some(0)
    {
        return Err(format!(
            "{}: limits must be positive and memory at most 1024 MiB",
            path.display()
        ));
    }
    Ok(m)
}

/// Reads a grants file (missing file: nothing granted).
pub fn read_grants(path: Option<&Path>) -> Result<Grants, String> {
    let Some(path) = path else {
        return Ok(Grants::new());
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Checks `input` against the subset of JSON Schema plugins use; returns the first problem.
pub fn check_input(schema: &Value, input: &Value, at: &str) -> Result<(), String> {
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => input.is_object(),
            "string" => input.is_string(),
            "integer" => input.is_i64() || input.is_u64(),
            "number" => input.is_number(),
            "boolean" => input.is_boolean(),
            "array" => input.is_array(),
            _ => true,
        };
        if !ok {
            return Err(format!("{at} must be of type {t}"));
        }
    }
    if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
        if !choices.contains(input) {
            return Err(format!(
                "{at} must be one of {}",
                Value::Array(choices.clone())
            ));
        }
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        input.as_f64(),
    ) {
        if n < min {
            return Err(format!("{at} must be at least {min}"));
        }
    }
    for key in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if input.get(key).is_none() {
            return Err(format!("{at}.{key} is required"));
        }
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, s) in props {
            if let Some(v) = input.get(k) {
                check_input(s, v, &format!("{at}.{k}"))?;
            }
        }
    }
    Ok(())
}

/// The fuzz target's entry point (`fuzz/`, and the corpus replay in the tests): any text is a
/// manifest or an error, a manifest survives being written out and read back, and its input
/// schemas judge any input without panicking.
pub fn fuzz_manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("plugin.yaml");
    let Ok(m) = parse_manifest(path, text) else {
        return;
    };
    let written = serde_yaml::to_string(&m).expect("a manifest serializes");
    let back = parse_manifest(path, &written).expect("a written manifest reads back");
    assert_eq!(back, m);
    let _ = m.capabilities.intersect(&Capabilities::default());
    for action in &m.actions {
        if let Some(schema) = &action.input_schema {
            for input in [
                Value::Null,
                serde_json::json!({}),
                serde_json::json!({"a": [1, "b"]}),
            ] {
                let _ = check_input(schema, &input, "input");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_concurrency_limit_is_read_and_zero_refused() {
        let text = |limits: &str| {
            format!("name: crm\nversion: 1.0.0\nwasm: crm.wasm\nactions:\n  - {{ name: crm.update, export: update }}\nlimits: {{ {limits} }}\n")
        };
        let path = Path::new("plugin.yaml");
        let m = parse_manifest(path, &text("concurrency: 3")).unwrap();
        assert_eq!(m.limits.concurrency, Some(3));
        let none = parse_manifest(path, &text("timeout_ms: 50")).unwrap();
        assert_eq!(none.limits.concurrency, None);
        let zero = parse_manifest(path, &text("concurrency: 0")).unwrap_err();
        assert!(zero.contains("limits must be positive"), "{zero}");
    }

    #[test]
    fn schema_subset_names_the_field() {
        let schema = json!({"type": "object", "required": ["priority"], "properties": {"priority": {"enum": ["low", "high"]}, "age": {"type": "integer", "minimum": 0}}});
        assert_eq!(
            check_input(&schema, &json!({"priority": "high", "age": 3}), "input"),
            Ok(())
        );
        assert_eq!(
            check_input(&schema, &json!({}), "input").unwrap_err(),
            "input.priority is required"
        );
        assert!(check_input(&schema, &json!({"priority": "mid"}), "input")
            .unwrap_err()
            .contains("must be one of"));
        assert_eq!(
            check_input(&schema, &json!({"priority": "low", "age": -1}), "input").unwrap_err(),
            "input.age must be at least 0"
        );
    }

    #[test]
    fn grants_intersect_requests() {
        let asked = Capabilities {
            http: vec!["a.com".into(), "b.com".into()],
            kv: true,
            secrets: vec!["X".into()],
            timeout_ms: Some(99_999),
        };
        let granted = Capabilities {
            http: vec!["b.com".into()],
            kv: false,
            secrets: vec!["X".into(), "Y".into()],
            timeout_ms: Some(2_000),
        };
        assert_eq!(
            asked.intersect(&granted),
            Capabilities {
                http: vec!["b.com".into()],
                kv: false,
                secrets: vec!["X".into()],
                timeout_ms: Some(2_000),
            },
            "the ceiling is the operator's, whatever the manifest says"
        );
    }
}
