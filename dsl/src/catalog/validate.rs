//! Checking a value against a declared schema, with errors a sender can act on: the field path
//! as written in the event (`data.cart.total`) and what was expected (`expected a number, got
//! "abc"`), not a JSON Pointer and a schema keyword.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

/// A value that does not fit its declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field at fault, e.g. `data.cart.total` or `data.cart.items[2]`.
    pub field: String,
    /// What was expected and what came.
    pub message: String,
}

/// A validator for `schema` (formats such as `date` checked); the crate's message if the
/// schema itself is not valid JSON Schema.
pub fn compile(schema: &Value) -> Result<Validator, String> {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// The first problem of `value` under `validator`, its field named under `prefix`.
pub fn first_error(validator: &Validator, value: &Value, prefix: &str) -> Option<FieldError> {
    let error = validator.iter_errors(value).next()?;
    Some(field_error(&error, prefix))
}

fn field_error(error: &ValidationError<'_>, prefix: &str) -> FieldError {
    let mut field = prefix.to_string();
    for segment in error.instance_path().as_str().split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.parse::<usize>().is_ok() {
            field.push_str(&format!("[{segment}]"));
        } else {
            field.push('.');
            field.push_str(&segment);
        }
    }
    let got = shown(error.instance());
    let message = match error.kind() {
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => with_article(&t.to_string()),
                TypeKind::Multiple(ts) => {
                    let names: Vec<String> = ts.iter().map(|t| t.to_string()).collect();
                    format!("one of {}", names.join(", "))
                }
            };
            format!("expected {expected}, got {got}")
        }
        ValidationErrorKind::Required { property } => {
            if let Some(name) = property.as_str() {
                field.push('.');
                field.push_str(name);
            }
            "is missing; the event catalog declares it required".to_string()
        }
        ValidationErrorKind::Format { format } => {
            let example = match format.as_str() {
                "date" => " such as `2026-12-01`",
                "date-time" => " such as `2026-12-01T09:00:00Z`",
                _ => "",
            };
            format!("expected a {format}{example}, got {got}")
        }
        _ => error.to_string(),
    };
    FieldError { field, message }
}

/// A value as a sender wrote it, cut short when long.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}...")
    } else {
        text
    }
}

fn with_article(name: &str) -> String {
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(schema: Value, value: Value) -> Option<FieldError> {
        first_error(&compile(&schema).unwrap(), &value, "data")
    }

    #[test]
    fn errors_name_the_field_as_written_and_what_was_expected() {
        let schema = json!({"type": "object", "properties": {"cart": {"type": "object",
            "properties": {"total": {"type": "number"}, "items": {"type": "array", "items": {"type": "string"}},
                           "on": {"type": "string", "format": "date"}},
            "required": ["total"]}}});
        let e = check(schema.clone(), json!({"cart": {"total": "abc"}})).unwrap();
        assert_eq!(e.field, "data.cart.total");
        assert_eq!(e.message, "expected a number, got \"abc\"");
        let e = check(
            schema.clone(),
            json!({"cart": {"total": 1, "items": ["a", 2]}}),
        )
        .unwrap();
        assert_eq!(e.field, "data.cart.items[1]");
        assert_eq!(e.message, "expected a string, got 2");
        let e = check(schema.clone(), json!({"cart": {}})).unwrap();
        assert_eq!(e.field, "data.cart.total");
        assert!(e.message.starts_with("is missing"), "{}", e.message);
        let e = check(schema.clone(), json!({"cart": {"total": 1, "on": "soon"}})).unwrap();
        assert_eq!(e.field, "data.cart.on");
        assert!(e.message.contains("2026-12-01"), "{}", e.message);
        assert_eq!(
            check(schema, json!({"cart": {"total": 1, "extra": true}})),
            None
        );
        let e = check(json!({"type": ["integer", "null"]}), json!(true)).unwrap();
        assert_eq!(e.message, "expected one of null, integer, got true");
    }

    #[test]
    fn a_schema_that_is_not_json_schema_is_refused() {
        assert!(compile(&json!({"type": "nonsense"})).is_err());
    }
}
