//! Segment membership: which segments a customer is in, kept among their attributes under
//! [`SEGMENTS_KEY`] (`{"at-risk": <since, ms>}`), and the `segment.entered` / `segment.left`
//! events a change makes. Membership changes only here, from the matcher (one writer per
//! customer): on every event of the customer, and on the sweep's `segment.recheck` events for
//! drift with time alone (a window moving past an order).
//!
//! A change's event id is derived from the event that caused it, so a batch matched again after
//! a crash emits the same ids and the store keeps one: each entry and exit is emitted once.

use crate::clock::Millis;
use crate::core::knowledge::{customer_value, Knowledge};
use crate::event::Event;
use mikawaya_dsl::expr::Scope;
use mikawaya_dsl::segments::{Segments, ENTERED, LEFT};
use serde_json::{Map, Value};

/// Where a customer's memberships are kept among their attributes.
pub const SEGMENTS_KEY: &str = "_segments";
/// The event type the sweep sends for a customer whose membership drifted with time.
pub const RECHECK: &str = "segment.recheck";

/// The declared segments the customer with `attrs` is in, in declaration order.
pub fn members<'a>(segments: &'a Segments, attrs: &Map<String, Value>) -> Vec<&'a str> {
    let stored = attrs.get(SEGMENTS_KEY).and_then(Value::as_object);
    segments
        .iter()
        .filter(|d| stored.is_some_and(|s| s.contains_key(&d.name)))
        .map(|d| d.name.as_str())
        .collect()
}

/// The segments the customer (as expressions see them) should be in at `now`.
pub fn due<'a>(k: &'a Knowledge, customer: &Value, now: Millis) -> Vec<&'a str> {
    let null = Value::Null;
    let scope = Scope {
        customer,
        ..Scope::with_event(&null, crate::clock::to_time(now))
    };
    k.segments
        .iter()
        .filter(|d| d.condition.matches(&scope))
        .map(|d| d.name.as_str())
        .collect()
}

/// Whether the stored membership of customer `id` (`attrs`) differs from [`due`] (what the
/// sweep checks).
pub fn drifted(k: &Knowledge, id: &str, attrs: &Map<String, Value>, now: Millis) -> bool {
    let customer = customer_value(k, Some(id), Some(attrs), now);
    due(k, &customer, now) != members(&k.segments, attrs)
}

/// The membership patch and the enter/leave events for customer `id` (seen by expressions as
/// `customer`, stored as `attrs`) after event `cause`.
pub fn changes(
    k: &Knowledge,
    id: &str,
    customer: &Value,
    attrs: &Map<String, Value>,
    cause: &str,
    now: Millis,
) -> (Option<Map<String, Value>>, Vec<Event>) {
    let now_in = due(k, customer, now);
    let was_in = members(&k.segments, attrs);
    let mut patch = Map::new();
    let mut events = Vec::new();
    let event = |segment: &str, event_type: &str| Event {
        id: format!("{cause}-{event_type}-{segment}"),
        event_type: event_type.to_string(),
        customer_id: Some(id.to_string()),
        customer: Map::new(),
        occurred_at: now,
        data: serde_json::json!({ "segment": segment })
            .as_object()
            .expect("an object")
            .clone(),
        source: None,
    };
    for name in now_in.iter().filter(|n| !was_in.contains(n)) {
        patch.insert(name.to_string(), Value::from(now));
        events.push(event(name, ENTERED));
    }
    for name in was_in.iter().filter(|n| !now_in.contains(n)) {
        patch.insert(name.to_string(), Value::Null);
        events.push(event(name, LEFT));
    }
    let patch = (!patch.is_empty())
        .then(|| {
            serde_json::json!({ SEGMENTS_KEY: patch })
                .as_object()
                .cloned()
        })
        .flatten();
    (patch, events)
}

#[cfg(test)]
mod tests;
