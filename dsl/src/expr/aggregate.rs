//! Aggregates of a customer's event history: `count(order.placed, 90d)`,
//! `sum(order.placed.total, 365d)` and `last(order.placed)` (the time of the latest one).
//!
//! They read the customer's history digest, kept by the engine among the customer's attributes
//! under [`HISTORY_KEY`]: per event type, entries `[at_ms, {field: number}]`, oldest first,
//! holding the fields some aggregate sums. The engine keeps only the event types and the
//! window the declared aggregates need ([`Aggregate`] says which), so an aggregate reads a few
//! numbers, never the event log.

use super::scope::{EvalError, Scope};
use super::value::Val;
use serde_json::Value;

/// Where the history digest is kept among a customer's attributes.
pub const HISTORY_KEY: &str = "_history";

/// What an aggregate computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggKind {
    /// How many events in the window.
    Count,
    /// The sum of a field over the events in the window.
    Sum,
    /// When the latest event happened (null when none).
    Last,
}

impl AggKind {
    /// The function name.
    pub fn name(self) -> &'static str {
        match self {
            AggKind::Count => "count",
            AggKind::Sum => "sum",
            AggKind::Last => "last",
        }
    }

    /// The aggregate function called `name`.
    pub fn of(name: &str) -> Option<AggKind> {
        match name {
            "count" => Some(AggKind::Count),
            "sum" => Some(AggKind::Sum),
            "last" => Some(AggKind::Last),
            _ => None,
        }
    }
}

/// One aggregate as compiled: over which events, which field, which window.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Aggregate {
    /// What it computes.
    pub kind: AggKind,
    /// The event type (`order.placed`).
    pub event_type: Box<str>,
    /// The summed field of the event's data (`total`), for [`AggKind::Sum`].
    pub field: Option<Box<str>>,
    /// How far back it looks, in milliseconds (none for [`AggKind::Last`]).
    pub window_ms: Option<i64>,
}

impl std::fmt::Display for Aggregate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({}", self.kind.name(), self.event_type)?;
        if let Some(field) = &self.field {
            write!(f, ".{field}")?;
        }
        if let Some(w) = self.window_ms {
            write!(f, ", {}", super::value::format_duration(w))?;
        }
        f.write_str(")")
    }
}

/// The time of a digest entry.
pub fn entry_at(entry: &Value) -> Option<i64> {
    entry.get(0)?.as_i64()
}

impl Aggregate {
    /// The aggregate over the history digest of the customer in `scope`, at `scope.now`.
    pub fn eval<'a>(&self, scope: &Scope<'a>) -> Result<Val<'a>, EvalError> {
        let entries = scope
            .customer
            .get(HISTORY_KEY)
            .and_then(|h| h.get(&*self.event_type))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let now = scope.now.timestamp_millis();
        let since = self.window_ms.map_or(i64::MIN, |w| now.saturating_sub(w));
        let in_window = entries
            .iter()
            .filter(|e| entry_at(e).is_some_and(|at| at > since && at <= now));
        Ok(match self.kind {
            AggKind::Count => Val::Num(in_window.count() as f64),
            AggKind::Sum => {
                let field = self.field.as_deref().unwrap_or_default();
                Val::Num(
                    in_window
                        .filter_map(|e| e.get(1)?.get(field)?.as_f64())
                        .sum(),
                )
            }
            AggKind::Last => entries
                .iter()
                .filter_map(entry_at)
                .filter(|at| *at <= now)
                .max()
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map_or(Val::Null, Val::Time),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::expr::{Env, Expr, Scope, Val};
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    const DAY: i64 = 86_400_000;

    fn eval(text: &str, customer: &serde_json::Value) -> Val<'static> {
        let now = Utc.timestamp_millis_opt(100 * DAY).unwrap();
        let expr = Expr::parse(text, &Env::default()).unwrap();
        let null = serde_json::Value::Null;
        let scope = Scope {
            customer,
            ..Scope::with_event(&null, now)
        };
        expr.eval(&scope).unwrap().into_owned()
    }

    fn customer() -> serde_json::Value {
        json!({ "_history": { "order.placed": [
            [10 * DAY, {"total": 100}],
            [60 * DAY, {"total": 40}],
            [95 * DAY, {"total": 25.5}],
            [101 * DAY, {"total": 1000}]
        ] } })
    }

    #[test]
    fn count_and_sum_look_back_over_their_window_only() {
        let c = customer();
        assert_eq!(eval("count(order.placed, 90d)", &c), Val::Num(2.0));
        assert_eq!(eval("count(order.placed, 365d)", &c), Val::Num(3.0));
        assert_eq!(eval("sum(order.placed.total, 45d)", &c), Val::Num(65.5));
        assert_eq!(eval("count(cart.abandoned, 30d)", &c), Val::Num(0.0));
        assert!(eval(
            "count(order.placed, 90d) >= 2 and sum(order.placed.total, 365d) > 150",
            &c
        )
        .truthy());
    }

    #[test]
    fn last_and_days_since_give_the_latest_event_not_in_the_future() {
        let c = customer();
        assert_eq!(eval("days_since(last(order.placed))", &c), Val::Num(5.0));
        assert_eq!(eval("last(lead.created)", &c), Val::Null);
        assert_eq!(eval("days_since(last(lead.created))", &c), Val::Null);
    }

    #[test]
    fn aggregates_print_as_written_and_read_the_customer() {
        let e = Expr::parse("sum(order.placed.total, 365d) > 10", &Env::default()).unwrap();
        assert_eq!(e.node.to_string(), "sum(order.placed.total, 365d) > 10");
        assert!(e.node.reads(crate::expr::Root::Customer));
    }

    #[test]
    fn a_window_is_required_where_it_counts_and_refused_on_last() {
        for (text, needle) in [
            ("count(order.placed) > 1", "window"),
            ("sum(order, 30d) > 1", "field"),
            ("last(order.placed, 30d)", "window"),
            ("count(\"order.placed\" + 1, 30d)", "event type"),
            ("count(order.placed, 3) > 1", "duration"),
        ] {
            let problems = Expr::parse(text, &Env::default()).unwrap_err();
            assert!(
                problems[0].message.contains(needle)
                    || problems[0].hint.as_deref().unwrap_or("").contains(needle),
                "{text}: {problems:?}"
            );
        }
    }
}
