//! Incoming CRM events: parsing and validation with exact reasons, and the JSON that expressions see.

use crate::clock::{rfc3339, Millis};
use mikawaya_dsl::expr::parse_time;
use serde_json::{Map, Value};

/// Longest accepted event id.
pub const MAX_ID_LEN: usize = 200;

/// A validated event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique id given by the sender; duplicates are ignored.
    pub id: String,
    /// Type such as `cart.abandoned`.
    pub event_type: String,
    /// The customer the event is about.
    pub customer_id: Option<String>,
    /// Customer attributes carried by the event (merged into the customer store).
    pub customer: Map<String, Value>,
    /// When it happened (defaults to when it was received).
    pub occurred_at: Millis,
    /// The payload.
    pub data: Map<String, Value>,
    /// The signed source that sent it (`POST /sources/{name}/events`); `None` for `/events`.
    pub source: Option<String>,
}

/// Why an event was refused: which one of a batch, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {index}: `{field}` {message}")]
pub struct EventError {
    /// Position in the batch (0 for a single event).
    pub index: usize,
    /// The field at fault.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn err(index: usize, field: &str, message: impl Into<String>) -> EventError {
    EventError {
        index,
        field: field.into(),
        message: message.into(),
    }
}

/// Parses one event object or an array of them; any bad event refuses the whole request.
pub fn parse_events(body: &[u8], now: Millis) -> Result<Vec<Event>, EventError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| err(0, "body", format!("is not valid JSON: {e}")))?;
    match value {
        Value::Array(items) if items.is_empty() => {
            Err(err(0, "body", "is an empty list; send at least one event"))
        }
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| parse_event(i, v, now))
            .collect(),
        other => Ok(vec![parse_event(0, other, now)?]),
    }
}

/// Validates one event value.
pub fn parse_event(index: usize, value: Value, now: Millis) -> Result<Event, EventError> {
    let Value::Object(mut obj) = value else {
        return Err(err(
            index,
            "event",
            "must be a JSON object with `id`, `type` and `data`",
        ));
    };
    let id = match obj.remove("id") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= MAX_ID_LEN => s,
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if s.len() > MAX_ID_LEN => {
            return Err(err(
                index,
                "id",
                format!("is longer than {MAX_ID_LEN} characters"),
            ))
        }
        Some(_) => return Err(err(index, "id", "must be a non-empty string")),
        None => {
            return Err(err(
                index,
                "id",
                "is missing; give every event a unique id so retries are not counted twice",
            ))
        }
    };
    let event_type = match obj.remove("type") {
        Some(Value::String(s)) if valid_type(&s) => s,
        Some(Value::String(s)) => {
            return Err(err(
                index,
                "type",
                format!("`{s}` is not an event type; use dotted words such as `cart.abandoned`"),
            ))
        }
        Some(_) => {
            return Err(err(
                index,
                "type",
                "must be a string such as `cart.abandoned`",
            ))
        }
        None => return Err(err(index, "type", "is missing")),
    };
    let occurred_at = match obj.remove("occurred_at") {
        None | Some(Value::Null) => now,
        Some(Value::String(s)) => {
            parse_time(&s)
                .map(|t| t.timestamp_millis())
                .ok_or_else(|| {
                    err(
                        index,
                        "occurred_at",
                        format!("`{s}` is not an RFC 3339 time such as `2026-11-24T09:00:00Z`"),
                    )
                })?
        }
        Some(_) => return Err(err(index, "occurred_at", "must be an RFC 3339 string")),
    };
    let (mut customer_id, mut customer) = (None, Map::new());
    match obj.remove("customer") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if !s.is_empty() => customer_id = Some(s),
        Some(Value::Object(mut m)) => {
            match m.remove("id") {
                Some(Value::String(s)) if !s.is_empty() => customer_id = Some(s),
                Some(Value::Number(n)) => customer_id = Some(n.to_string()),
                _ => {
                    return Err(err(
                        index,
                        "customer.id",
                        "is missing; a customer object needs its id",
                    ))
                }
            }
            customer = m;
        }
        Some(_) => {
            return Err(err(
                index,
                "customer",
                "must be a customer id or an object with `id`",
            ))
        }
    }
    if let Some(v) = obj.remove("customer_id") {
        match v {
            Value::String(s) if !s.is_empty() => customer_id = Some(s),
            _ => return Err(err(index, "customer_id", "must be a non-empty string")),
        }
    }
    let source = match obj.remove("source") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(_) => return Err(err(index, "source", "must be a source name")),
    };
    let data = match obj.remove("data").or_else(|| obj.remove("payload")) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(err(index, "data", "must be a JSON object")),
    };
    if let Some(extra) = obj.keys().next() {
        return Err(err(
            index,
            extra,
            "is not an event field; put payload fields under `data`",
        ));
    }
    Ok(Event {
        id,
        event_type,
        customer_id,
        customer,
        occurred_at,
        data,
        source,
    })
}

fn valid_type(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl Event {
    /// The stored form.
    pub fn to_json(&self) -> Value {
        let customer = match &self.customer_id {
            Some(id) => {
                let mut c = self.customer.clone();
                c.insert("id".into(), Value::String(id.clone()));
                Value::Object(c)
            }
            None => Value::Null,
        };
        let mut stored = serde_json::json!({
            "id": self.id,
            "type": self.event_type,
            "occurred_at": rfc3339(self.occurred_at),
            "customer": customer,
            "data": self.data,
        });
        if let Some(source) = &self.source {
            stored["source"] = Value::String(source.clone());
        }
        stored
    }

    /// Reads the stored form back.
    pub fn from_stored(body: &str) -> Option<Event> {
        let v: Value = serde_json::from_str(body).ok()?;
        parse_event(0, v, 0).ok()
    }

    /// What `event.*` means in expressions: the payload plus `id`, `type`, `occurred_at`,
    /// `customer_id` and, for an event from a signed source, `source`.
    pub fn scope_value(&self) -> Value {
        let mut m = self.data.clone();
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert("type".into(), Value::String(self.event_type.clone()));
        m.insert(
            "occurred_at".into(),
            Value::String(rfc3339(self.occurred_at)),
        );
        if let Some(c) = &self.customer_id {
            m.insert("customer_id".into(), Value::String(c.clone()));
        }
        if let Some(source) = &self.source {
            m.insert("source".into(), Value::String(source.clone()));
        }
        Value::Object(m)
    }

    /// Objects in the payload that carry an `id` are entity snapshots, keyed by their field name.
    pub fn entities(&self) -> impl Iterator<Item = (&str, String, &Value)> {
        self.data.iter().filter_map(|(kind, v)| {
            let id = match v.get("id")? {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((kind.as_str(), id, v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Ids are text: a number is taken as its decimal text, so `42` and `"42"` are one event (a
    /// sender that retries with the other spelling is not counted twice).
    #[test]
    fn a_numeric_id_and_its_text_name_the_same_event() {
        let n = one(json!({"id": 42, "type": "a.b"})).unwrap();
        let t = one(json!({"id": "42", "type": "a.b"})).unwrap();
        assert_eq!(n.id, t.id);
        assert_eq!(n.id, "42");
    }

    fn one(v: Value) -> Result<Event, EventError> {
        parse_events(v.to_string().as_bytes(), 1000).map(|mut e| e.remove(0))
    }

    #[test]
    fn accepts_a_full_event_and_defaults_the_time() {
        let anonymous = one(json!({"id": "e0", "type": "lead.created"})).unwrap();
        assert_eq!(
            Event::from_stored(&anonymous.to_json().to_string()).unwrap(),
            anonymous
        );
        let e = one(json!({"id": "e1", "type": "cart.abandoned", "customer": {"id": "c1", "email": "a@x"}, "data": {"cart": {"id": "k", "total": 5}}})).unwrap();
        assert_eq!(e.customer_id.as_deref(), Some("c1"));
        assert_eq!(e.customer["email"], "a@x");
        assert_eq!(e.occurred_at, 1000);
        assert_eq!(e.scope_value()["cart"]["total"], 5);
        assert_eq!(
            e.entities()
                .map(|(k, id, _)| (k.to_string(), id))
                .collect::<Vec<_>>(),
            vec![("cart".into(), "k".into())]
        );
        assert_eq!(Event::from_stored(&e.to_json().to_string()).unwrap(), e);
    }

    #[test]
    fn refuses_with_the_field_and_reason() {
        let cases = [
            (json!({"type": "a.b"}), "id"),
            (json!({"id": "1", "type": "has space"}), "type"),
            (
                json!({"id": "1", "type": "a", "occurred_at": "yesterday"}),
                "occurred_at",
            ),
            (json!({"id": "1", "type": "a", "data": [1]}), "data"),
            (
                json!({"id": "1", "type": "a", "customer": {"email": "x"}}),
                "customer.id",
            ),
            (json!({"id": "1", "type": "a", "totl": 5}), "totl"),
            (json!(5), "event"),
        ];
        for (v, field) in cases {
            assert_eq!(one(v.clone()).unwrap_err().field, field, "{v}");
        }
        let batch = json!([{"id": "1", "type": "a"}, {"id": "2"}]).to_string();
        let e = parse_events(batch.as_bytes(), 0).unwrap_err();
        assert_eq!((e.index, e.field.as_str()), (1, "type"));
        assert_eq!(parse_events(b"{", 0).unwrap_err().field, "body");
    }
}
