//! What a path into a declared event is: the checker follows `event.cart.total` through the
//! event type's schema, so a misspelled field is an error with a suggestion and the field's
//! declared type takes part in type checks (`event.cart.total >= "abc"`).

use crate::expr::Ty;
use serde_json::{json, Map, Value};

/// The fields the engine adds to every event's `event.*` scope, besides the payload.
const ADDED: &[&str] = &["id", "type", "occurred_at", "customer_id", "source"];

/// The schema of `event.*` for a payload `schema`: its fields plus the ones the engine adds.
/// `None` when the payload declares no fields (nothing to check paths against).
pub fn event_scope(schema: &Value) -> Option<Value> {
    let mut properties: Map<String, Value> = schema.get("properties")?.as_object()?.clone();
    for name in ADDED {
        properties
            .entry(name.to_string())
            .or_insert_with(|| json!({"type": "string"}));
    }
    Some(json!({"type": "object", "properties": properties}))
}

/// Why a path cannot be in a declared event: the field at `index` of the path is not among
/// `known`, the fields its parent declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    /// Position of the unknown field in the path.
    pub index: usize,
    /// The fields declared where it was looked for, sorted.
    pub known: Vec<String>,
}

/// The static type of the value at `path` (field names below `event`) in `scope`. A field
/// under an object that lists its properties must be one of them; below a value whose fields
/// are not declared (an `object`, `any`, a list) anything goes, typed as unknown.
pub fn path_type(scope: &Value, path: &[&str]) -> Result<Ty, UnknownField> {
    let mut at = scope;
    for (index, field) in path.iter().enumerate() {
        let Some(properties) = at.get("properties").and_then(Value::as_object) else {
            return Ok(Ty::Any);
        };
        match properties.get(*field) {
            Some(next) => at = next,
            None => {
                let mut known: Vec<String> = properties.keys().cloned().collect();
                known.sort();
                return Err(UnknownField { index, known });
            }
        }
    }
    Ok(ty_of(at))
}

/// The expression type of values a schema admits (dates stay text: that is what they are at
/// run time, and text compares with dates).
fn ty_of(schema: &Value) -> Ty {
    match schema.get("type").and_then(Value::as_str) {
        Some("number" | "integer") => Ty::Num,
        Some("string") => Ty::Str,
        Some("boolean") => Ty::Bool,
        Some("array") => Ty::List,
        _ => Ty::Any,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Value {
        let data = crate::catalog::to_schema(
            &serde_yaml::from_str(
                "cart: { total: number, items: [string], meta: object, note: string? }",
            )
            .unwrap(),
        )
        .unwrap();
        event_scope(&data).unwrap()
    }

    #[test]
    fn declared_paths_have_their_type_and_unknown_ones_name_the_known_fields() {
        let s = scope();
        assert_eq!(path_type(&s, &["cart", "total"]), Ok(Ty::Num));
        assert_eq!(path_type(&s, &["cart", "items"]), Ok(Ty::List));
        assert_eq!(path_type(&s, &["cart"]), Ok(Ty::Any));
        assert_eq!(path_type(&s, &["cart", "note"]), Ok(Ty::Any), "nullable");
        assert_eq!(path_type(&s, &["id"]), Ok(Ty::Str), "added by the engine");
        assert_eq!(path_type(&s, &["cart", "meta", "anything"]), Ok(Ty::Any));
        let e = path_type(&s, &["cart", "totl"]).unwrap_err();
        assert_eq!(e.index, 1);
        assert_eq!(e.known, ["items", "meta", "note", "total"]);
        assert_eq!(path_type(&s, &["crat"]).unwrap_err().index, 0);
        assert_eq!(
            event_scope(&json!({})),
            None,
            "no declared fields, no checks"
        );
    }
}
