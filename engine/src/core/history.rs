//! The customer's history digest: per event type that some aggregate reads (`count`, `sum`,
//! `last` in segments, workflows or RFM), the times of their events in the longest window any
//! aggregate looks back over, with the fields some `sum` adds up. Kept among the customer's
//! attributes under [`HISTORY_KEY`], written with the event's batch; aggregates read it
//! ([`mikawaya_dsl::expr::Aggregate`]), never the event log.

use crate::clock::Millis;
use crate::event::Event;
use mikawaya_dsl::expr::{entry_at, AggKind, Aggregate, HISTORY_KEY};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The most events kept per type and customer (the oldest go first): bounds the digest of a
/// customer sending a flood of one type.
pub const MAX_ENTRIES: usize = 1000;

/// What is kept of one event type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Track {
    /// Entries older than this are dropped (the latest one is always kept, for `last`).
    pub window_ms: i64,
    /// The data fields kept (summed by some aggregate).
    pub fields: Vec<String>,
}

/// The event types kept in the digest, from every aggregate in force.
#[derive(Debug, Clone, Default)]
pub struct Tracked {
    by_type: HashMap<String, Track>,
}

impl Tracked {
    /// What `aggregates` need: per type the longest window and the summed fields.
    pub fn of<'a>(aggregates: impl IntoIterator<Item = &'a Aggregate>) -> Tracked {
        Tracked::default().with(aggregates)
    }

    /// What this keeps and what `aggregates` need too.
    pub fn with<'a>(&self, aggregates: impl IntoIterator<Item = &'a Aggregate>) -> Tracked {
        let mut by_type = self.by_type.clone();
        for a in aggregates {
            let track = by_type.entry(a.event_type.to_string()).or_default();
            track.window_ms = track.window_ms.max(a.window_ms.unwrap_or(0));
            if let (AggKind::Sum, Some(f)) = (a.kind, &a.field) {
                if !track.fields.iter().any(|x| **x == **f) {
                    track.fields.push(f.to_string());
                }
            }
        }
        Tracked { by_type }
    }

    /// True when no aggregate is in force.
    pub fn is_empty(&self) -> bool {
        self.by_type.is_empty()
    }

    /// What is kept of `event_type`, if anything.
    pub fn track(&self, event_type: &str) -> Option<&Track> {
        self.by_type.get(event_type)
    }

    /// The digest patch for event `ev` of a customer with `attrs` at `now`
    /// (`{"_history": {"order.placed": [...]}}`): the type's entries with this one in time order,
    /// those out of the window dropped; `None` when the type is not kept.
    pub fn record(&self, ev: &Event, attrs: &Map<String, Value>, now: Millis) -> Option<Value> {
        let track = self.track(&ev.event_type)?;
        let kept = attrs
            .get(HISTORY_KEY)
            .and_then(|h| h.get(&ev.event_type))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let since = now.saturating_sub(track.window_ms);
        let latest = kept.iter().filter_map(entry_at).max();
        let mut entries: Vec<Value> = kept
            .iter()
            .filter(|e| entry_at(e).is_some_and(|at| at > since || Some(at) == latest))
            .cloned()
            .collect();
        let mut entry = vec![Value::from(ev.occurred_at)];
        if !track.fields.is_empty() {
            let fields: Map<String, Value> = track
                .fields
                .iter()
                .filter_map(|f| Some((f.clone(), Value::from(ev.data.get(f)?.as_f64()?))))
                .collect();
            entry.push(Value::Object(fields));
        }
        let at = entries.partition_point(|e| entry_at(e).is_some_and(|t| t <= ev.occurred_at));
        entries.insert(at, Value::Array(entry));
        // An old event outside the window still counts as the latest if nothing is newer.
        let newest = entries.iter().filter_map(entry_at).max();
        entries.retain(|e| entry_at(e).is_some_and(|t| t > since || Some(t) == newest));
        if entries.len() > MAX_ENTRIES {
            entries.drain(..entries.len() - MAX_ENTRIES);
        }
        Some(serde_json::json!({ HISTORY_KEY: { ev.event_type.clone(): entries } }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mikawaya_dsl::expr::{Env, Expr};

    const DAY: i64 = 86_400_000;

    fn tracked(texts: &[&str]) -> Tracked {
        let exprs: Vec<Expr> = texts
            .iter()
            .map(|t| Expr::parse(t, &Env::default()).unwrap())
            .collect();
        let mut all = Vec::new();
        exprs.iter().for_each(|e| e.node.aggregates(&mut all));
        Tracked::of(all)
    }

    fn order(id: &str, at: i64, total: f64) -> Event {
        Event {
            id: id.into(),
            event_type: "order.placed".into(),
            customer_id: Some("c".into()),
            customer: Map::new(),
            occurred_at: at,
            data: serde_json::json!({ "total": total, "note": "x" })
                .as_object()
                .unwrap()
                .clone(),
            source: None,
        }
    }

    fn apply(t: &Tracked, attrs: &mut Map<String, Value>, ev: &Event, now: i64) {
        let patch = t.record(ev, attrs, now).unwrap();
        crate::store::merge::merge_patch(attrs, patch.as_object().unwrap());
    }

    #[test]
    fn keeps_the_longest_window_and_the_summed_fields_only() {
        let t = tracked(&[
            "count(order.placed, 30d) > 1",
            "sum(order.placed.total, 90d) > 10",
        ]);
        assert_eq!(t.track("order.placed").unwrap().window_ms, 90 * DAY);
        assert!(t.track("cart.abandoned").is_none());
        let mut attrs = Map::new();
        apply(&t, &mut attrs, &order("a", 100 * DAY, 10.0), 100 * DAY);
        apply(&t, &mut attrs, &order("b", 150 * DAY, 20.0), 150 * DAY);
        apply(&t, &mut attrs, &order("c", 195 * DAY, 30.0), 200 * DAY);
        // a fell out of the 90-day window; each entry keeps `total`, not `note`.
        assert_eq!(
            attrs[HISTORY_KEY]["order.placed"],
            serde_json::json!([[150 * DAY, {"total": 20.0}], [195 * DAY, {"total": 30.0}]])
        );
    }

    #[test]
    fn late_events_take_their_place_in_time_and_the_latest_stays_for_last() {
        let t = tracked(&[
            "days_since(last(order.placed)) > 30",
            "count(order.placed, 10d) > 0",
        ]);
        let mut attrs = Map::new();
        apply(&t, &mut attrs, &order("a", 5 * DAY, 1.0), 5 * DAY);
        apply(&t, &mut attrs, &order("b", 3 * DAY, 1.0), 6 * DAY);
        let times: Vec<i64> = attrs[HISTORY_KEY]["order.placed"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(entry_at)
            .collect();
        assert_eq!(times, [3 * DAY, 5 * DAY]);
        // A year later, only the latest is left: `last` still knows it.
        apply(&t, &mut attrs, &order("old", 2 * DAY, 1.0), 400 * DAY);
        let kept = attrs[HISTORY_KEY]["order.placed"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(kept.len(), 1);
        assert_eq!(entry_at(&kept[0]), Some(5 * DAY));
    }

    #[test]
    fn a_flood_of_one_type_is_bounded() {
        let t = tracked(&["count(order.placed, 3650d) > 0"]);
        let mut attrs = Map::new();
        for i in 0..(MAX_ENTRIES as i64 + 20) {
            apply(
                &t,
                &mut attrs,
                &order(&i.to_string(), DAY + i, 1.0),
                2 * DAY,
            );
        }
        let kept = attrs[HISTORY_KEY]["order.placed"].as_array().unwrap();
        assert_eq!(kept.len(), MAX_ENTRIES);
        assert_eq!(entry_at(&kept[0]), Some(DAY + 20));
    }
}
