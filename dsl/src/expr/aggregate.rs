//! Aggregates of a customer's event history: `count(order.placed, 90d)`,
//! `sum(order.placed.total, 365d)` and `last(order.placed)` (the time of the latest one).
//!
//! They read the customer's history digest, kept by the engine among the customer's attributes
//! under [`HISTORY_KEY`]: per event type, columns of numbers ([`Digest`]): the events' times
//! (`at`, oldest first) and each field some aggregate sums. The engine keeps only the event
//! types and the window the declared aggregates need ([`Aggregate`] says which), so an
//! aggregate reads a few numbers, never the event log. Columns, not one entry per event: a
//! digest is copied with every customer object and rewritten with every event of its type, and
//! a column of numbers is one allocation however long it is.

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

/// The column of event times in a type's digest.
pub const TIMES: &str = "at";

/// One event type's part of a history digest, as stored: `{"at": [t1, t2, ...], "total":
/// [x1, null, ...]}` — the events' times in milliseconds, oldest first, and per kept field its
/// numbers (`null` where an event had none). A field column shorter than the times lines up
/// with their end (the field was not kept before).
#[derive(Debug, Clone, Copy)]
pub struct Digest<'a> {
    times: &'a [Value],
    columns: &'a serde_json::Map<String, Value>,
}

/// One field's numbers in a [`Digest`], lined up with its times.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    numbers: &'a [Value],
    offset: usize,
}

impl Column<'_> {
    /// The `i`-th event's number, if it had one.
    pub fn get(&self, i: usize) -> Option<f64> {
        self.numbers.get(i.checked_sub(self.offset)?)?.as_f64()
    }
}

impl<'a> Digest<'a> {
    /// The digest of `event_type` in the customer object `customer`, if one is kept.
    pub fn of(customer: &'a Value, event_type: &str) -> Option<Digest<'a>> {
        Digest::stored(customer.get(HISTORY_KEY)?.get(event_type)?)
    }

    /// A type's digest as stored (`None` when `v` is not one).
    pub fn stored(v: &'a Value) -> Option<Digest<'a>> {
        let columns = v.as_object()?;
        let times = columns.get(TIMES)?.as_array()?;
        Some(Digest { times, columns })
    }

    /// The times, oldest first (`None` for an entry that is not a time).
    pub fn times(&self) -> impl Iterator<Item = Option<i64>> + 'a {
        self.times.iter().map(Value::as_i64)
    }

    /// The column of `field`, lined up with the times.
    pub fn column(&self, field: &str) -> Option<Column<'a>> {
        let numbers = self.columns.get(field)?.as_array()?;
        let offset = self.times.len().checked_sub(numbers.len())?;
        Some(Column { numbers, offset })
    }

    /// The names of the field columns it holds.
    pub fn fields(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.columns
            .keys()
            .map(String::as_str)
            .filter(|k| *k != TIMES)
    }
}

impl Aggregate {
    /// The aggregate over the history digest of the customer in `scope`, at `scope.now`.
    pub fn eval<'a>(&self, scope: &Scope<'a>) -> Result<Val<'a>, EvalError> {
        let digest = Digest::of(scope.customer, &self.event_type);
        let now = scope.now.timestamp_millis();
        let since = self.window_ms.map_or(i64::MIN, |w| now.saturating_sub(w));
        let in_window = digest.iter().flat_map(|d| {
            d.times()
                .enumerate()
                .filter(move |(_, at)| at.is_some_and(|at| at > since && at <= now))
                .map(move |(i, _)| (d, i))
        });
        Ok(match self.kind {
            AggKind::Count => Val::Num(in_window.count() as f64),
            AggKind::Sum => {
                let field = self.field.as_deref().unwrap_or_default();
                let column = digest.and_then(|d| d.column(field));
                Val::Num(in_window.filter_map(|(_, i)| column?.get(i)).sum())
            }
            AggKind::Last => digest
                .iter()
                .flat_map(|d| d.times())
                .flatten()
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
        json!({ "_history": { "order.placed": {
            "at": [10 * DAY, 60 * DAY, 95 * DAY, 101 * DAY],
            "total": [100, 40, 25.5, 1000]
        } } })
    }

    #[test]
    fn count_and_sum_look_back_over_their_window_only() {
        let c = customer();
        assert_eq!(eval("count(order.placed, 90d)", &c), Val::Num(2.0));
        assert_eq!(eval("count(order.placed, 365d)", &c), Val::Num(3.0));
        assert_eq!(eval("sum(order.placed.total, 45d)", &c), Val::Num(65.5));
        assert_eq!(eval("count(cart.abandoned, 30d)", &c), Val::Num(0.0));
        // A field kept only lately lines up with the latest events.
        let late = json!({ "_history": { "order.placed": {
            "at": [10 * DAY, 60 * DAY, 95 * DAY], "total": [40, null]
        } } });
        assert_eq!(eval("sum(order.placed.total, 20d)", &late), Val::Num(0.0));
        assert_eq!(eval("sum(order.placed.total, 365d)", &late), Val::Num(40.0));
        assert_eq!(eval("count(order.placed, 365d)", &late), Val::Num(3.0));
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
