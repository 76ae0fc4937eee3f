//! The customer's history digest: per event type that some aggregate reads (`count`, `sum`,
//! `last` in segments, workflows or RFM), the times of their events in the longest window any
//! aggregate looks back over, with the fields some `sum` adds up, as columns of numbers
//! ([`Digest`]). Kept among the customer's attributes under [`HISTORY_KEY`], written with the
//! event's batch; aggregates read it ([`mikawaya_dsl::expr::Aggregate`]), never the event log.

use crate::clock::Millis;
use crate::event::Event;
use mikawaya_dsl::expr::{AggKind, Aggregate, Digest, HISTORY_KEY, TIMES};
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
    /// (`{"_history": {"order.placed": {"at": [...], "total": [...]}}}`): the type's events with
    /// this one in time order, those out of the window dropped (the latest always stays, for
    /// `last`), at most [`MAX_ENTRIES`]; a column no aggregate sums any more is removed. `None`
    /// when the type is not kept.
    pub fn record(&self, ev: &Event, attrs: &Map<String, Value>, now: Millis) -> Option<Value> {
        let track = self.track(&ev.event_type)?;
        let stored = attrs.get(HISTORY_KEY).and_then(|h| h.get(&ev.event_type));
        let kept = stored.and_then(Digest::stored);
        // The kept events (an entry that is not a time is dropped, with its fields).
        let valid: Vec<(usize, i64)> = kept
            .iter()
            .flat_map(|d| d.times().enumerate())
            .filter_map(|(i, at)| Some((i, at?)))
            .collect();
        let mut times: Vec<i64> = valid.iter().map(|(_, at)| *at).collect();
        let mut columns: Vec<Vec<Option<f64>>> = track
            .fields
            .iter()
            .map(|f| {
                let column = kept.and_then(|d| d.column(f));
                valid.iter().map(|(i, _)| column?.get(*i)).collect()
            })
            .collect();
        let at = times.partition_point(|t| *t <= ev.occurred_at);
        times.insert(at, ev.occurred_at);
        for (column, f) in columns.iter_mut().zip(&track.fields) {
            column.insert(at, ev.data.get(f).and_then(Value::as_f64));
        }
        // Times are in order: what stays is a suffix — those in the window, else the latest.
        let since = now.saturating_sub(track.window_ms);
        let newest = times[times.len() - 1];
        let mut start = times.partition_point(|t| *t <= since);
        if start == times.len() {
            start = times.partition_point(|t| *t < newest);
        }
        let start = start.max(times.len().saturating_sub(MAX_ENTRIES));
        let mut digest = Map::new();
        digest.insert(TIMES.into(), times[start..].iter().copied().collect());
        for (column, f) in columns.iter().zip(&track.fields) {
            let numbers = column[start..]
                .iter()
                .map(|x| x.map_or(Value::Null, Value::from));
            digest.insert(f.clone(), numbers.collect());
        }
        for gone in kept.iter().flat_map(|d| d.fields()) {
            if !track.fields.iter().any(|f| f == gone) {
                digest.insert(gone.to_string(), Value::Null);
            }
        }
        Some(serde_json::json!({ HISTORY_KEY: { ev.event_type.clone(): digest } }))
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

    fn times(attrs: &Map<String, Value>) -> Vec<i64> {
        let d = Digest::stored(&attrs[HISTORY_KEY]["order.placed"]).unwrap();
        d.times().map(Option::unwrap).collect()
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
            serde_json::json!({"at": [150 * DAY, 195 * DAY], "total": [20.0, 30.0]})
        );
        // A field no aggregate sums any more leaves with the next event.
        let counted = tracked(&["count(order.placed, 90d) > 1"]);
        apply(&counted, &mut attrs, &order("d", 199 * DAY, 5.0), 200 * DAY);
        assert_eq!(
            attrs[HISTORY_KEY]["order.placed"],
            serde_json::json!({"at": [150 * DAY, 195 * DAY, 199 * DAY]})
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
        assert_eq!(times(&attrs), [3 * DAY, 5 * DAY]);
        // A year later, only the latest is left: `last` still knows it.
        apply(&t, &mut attrs, &order("old", 2 * DAY, 1.0), 400 * DAY);
        assert_eq!(times(&attrs), [5 * DAY]);
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
        let kept = times(&attrs);
        assert_eq!(kept.len(), MAX_ENTRIES);
        assert_eq!(kept[0], DAY + 20);
    }
}
