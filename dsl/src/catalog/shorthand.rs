//! The shorthand for event payloads and customer attributes: a YAML mapping of field names to
//! type names, turned into the JSON Schema the catalog validates with.
//!
//! ```yaml
//! cart:
//!   total: number
//!   items: [string]        # a list of strings
//!   coupon?: string        # `?` after a name: the field may be missing
//!   note: string?          # `?` after a type: the value may be null
//! ```

use serde_json::{json, Map, Value};
use serde_yaml::Value as Yaml;

/// The type names of the shorthand, with their JSON Schemas.
const TYPES: &[&str] = &[
    "string", "number", "integer", "boolean", "date", "time", "object", "list", "any",
];

/// Where in the shorthand a problem is (keys from the declaration down) and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShorthandError {
    /// The keys leading to the bad value (a list's element is its list's path).
    pub path: Vec<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

/// The JSON Schema of a shorthand value: a mapping is an object (its fields required unless
/// their names end in `?`), a one-element list a list of that type, a text a type name.
pub fn to_schema(value: &Yaml) -> Result<Value, ShorthandError> {
    schema_at(value, &mut Vec::new())
}

fn schema_at(value: &Yaml, path: &mut Vec<String>) -> Result<Value, ShorthandError> {
    match value {
        Yaml::Mapping(fields) => {
            let mut properties = Map::new();
            let mut required = Vec::new();
            for (key, field) in fields {
                let Some(key) = key.as_str() else {
                    return Err(problem(path, "a field name must be a text", "quote it"));
                };
                let (name, optional) = match key.strip_suffix('?') {
                    Some(name) => (name, true),
                    None => (key, false),
                };
                path.push(key.to_string());
                properties.insert(name.to_string(), schema_at(field, path)?);
                path.pop();
                if !optional {
                    required.push(Value::String(name.to_string()));
                }
            }
            Ok(json!({"type": "object", "properties": properties, "required": required}))
        }
        Yaml::Sequence(items) => match items.as_slice() {
            [item] => Ok(json!({"type": "array", "items": schema_at(item, path)?})),
            _ => Err(problem(
                path,
                "a list type names one element type",
                "write `[string]` for a list of texts, `[{ id: string }]` for a list of objects",
            )),
        },
        Yaml::String(name) => type_schema(name).ok_or_else(|| {
            let bare = name.trim_end_matches('?');
            let hint = match crate::expr::closest(bare, TYPES.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("use one of {}", TYPES.join(", ")),
            };
            problem(path, &format!("`{name}` is not a type"), &hint)
        }),
        _ => Err(problem(
            path,
            "expected a type name, a mapping of fields or a one-element list",
            &format!("use one of {}", TYPES.join(", ")),
        )),
    }
}

/// The schema of a type name (`string`, `number?`, …).
fn type_schema(name: &str) -> Option<Value> {
    let (base, nullable) = match name.strip_suffix('?') {
        Some(base) => (base, true),
        None => (name, false),
    };
    let mut schema = match base {
        "string" | "number" | "integer" | "boolean" | "object" => json!({"type": base}),
        "list" => json!({"type": "array"}),
        "date" => json!({"type": "string", "format": "date"}),
        "time" => json!({"type": "string", "format": "date-time"}),
        "any" => return Some(json!({})),
        _ => return None,
    };
    if nullable {
        let ty = schema["type"].take();
        schema["type"] = json!([ty, "null"]);
    }
    Some(schema)
}

/// The same schema with no field required anywhere: what the customer attributes one event
/// carries must satisfy (they are a partial update: types hold, presence is not asked).
pub fn without_required(schema: &Value) -> Value {
    match schema {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "required")
                .map(|(k, v)| (k.clone(), without_required(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_required).collect()),
        other => other.clone(),
    }
}

fn problem(path: &[String], message: &str, hint: &str) -> ShorthandError {
    ShorthandError {
        path: path.to_vec(),
        message: message.to_string(),
        hint: hint.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Yaml {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn mappings_lists_and_optional_fields_become_json_schema() {
        let schema = to_schema(&yaml(
            "cart:\n  total: number\n  items: [string]\n  coupon?: string\n  note: string?\n",
        ))
        .unwrap();
        let cart = &schema["properties"]["cart"];
        assert_eq!(schema["required"], json!(["cart"]));
        assert_eq!(cart["required"], json!(["total", "items", "note"]));
        assert_eq!(cart["properties"]["total"], json!({"type": "number"}));
        assert_eq!(
            cart["properties"]["items"],
            json!({"type": "array", "items": {"type": "string"}})
        );
        assert_eq!(
            cart["properties"]["note"],
            json!({"type": ["string", "null"]})
        );
        assert_eq!(
            type_schema("date"),
            Some(json!({"type": "string", "format": "date"}))
        );
        assert_eq!(type_schema("any"), Some(json!({})));
    }

    #[test]
    fn a_bad_type_names_its_path_and_the_closest_type() {
        let err = to_schema(&yaml("cart:\n  total: nubmer\n")).unwrap_err();
        assert_eq!(err.path, ["cart", "total"]);
        assert_eq!(err.message, "`nubmer` is not a type");
        assert_eq!(err.hint, "did you mean `number`?");
        let err = to_schema(&yaml("items: [string, number]\n")).unwrap_err();
        assert_eq!(err.path, ["items"]);
        assert!(err.message.contains("one element type"));
        assert!(to_schema(&yaml("n: 3\n")).is_err());
    }

    #[test]
    fn a_customer_patch_schema_asks_for_no_field() {
        let schema = to_schema(&yaml("email: string\nprofile:\n  tier: string\n")).unwrap();
        let patch = without_required(&schema);
        assert!(patch.get("required").is_none());
        assert!(patch["properties"]["profile"].get("required").is_none());
        assert_eq!(patch["properties"]["email"], json!({"type": "string"}));
    }
}
