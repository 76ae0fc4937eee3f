//! Runtime values of the expression language; they borrow from the event JSON where they can.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// A value produced by evaluating an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    /// Missing or null.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number (JSON numbers are read as f64).
    Num(f64),
    /// A string, borrowed from the input where possible.
    Str(Cow<'a, str>),
    /// A duration in milliseconds.
    Dur(i64),
    /// A calendar date.
    Date(NaiveDate),
    /// An instant in UTC.
    Time(DateTime<Utc>),
    /// A JSON array or object from the input.
    Json(&'a Value),
    /// A list built by the expression (`[1, 2]`).
    List(Vec<Val<'a>>),
}

/// The static kind of a value, used by the checker and in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// Not known before run time (paths into events).
    Any,
    /// Null.
    Null,
    /// Boolean.
    Bool,
    /// Number.
    Num,
    /// String.
    Str,
    /// Duration.
    Dur,
    /// Date.
    Date,
    /// Instant.
    Time,
    /// List or JSON array.
    List,
}

impl Ty {
    /// The name used in messages ("a duration").
    pub fn article(self) -> &'static str {
        match self {
            Ty::Any => "a value",
            Ty::Null => "null",
            Ty::Bool => "a boolean",
            Ty::Num => "a number",
            Ty::Str => "a string",
            Ty::Dur => "a duration",
            Ty::Date => "a date",
            Ty::Time => "a time",
            Ty::List => "a list",
        }
    }
}

impl<'a> Val<'a> {
    /// Reads a JSON value without copying strings, arrays or objects.
    pub fn from_json(v: &'a Value) -> Val<'a> {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Val::Str(Cow::Borrowed(s)),
            other => Val::Json(other),
        }
    }

    /// The runtime kind of this value.
    pub fn ty(&self) -> Ty {
        match self {
            Val::Null => Ty::Null,
            Val::Bool(_) => Ty::Bool,
            Val::Num(_) => Ty::Num,
            Val::Str(_) => Ty::Str,
            Val::Dur(_) => Ty::Dur,
            Val::Date(_) => Ty::Date,
            Val::Time(_) => Ty::Time,
            Val::Json(Value::Array(_)) | Val::List(_) => Ty::List,
            Val::Json(_) => Ty::Any,
        }
    }

    /// Truth as conditions see it: null and false are false, empty strings and lists are false.
    pub fn truthy(&self) -> bool {
        match self {
            Val::Null => false,
            Val::Bool(b) => *b,
            Val::Num(n) => *n != 0.0 && !n.is_nan(),
            Val::Str(s) => !s.is_empty(),
            Val::List(l) => !l.is_empty(),
            Val::Json(Value::Array(a)) => !a.is_empty(),
            _ => true,
        }
    }

    /// Reads the value as a date if it is one or a string that spells one.
    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Val::Date(d) => Some(*d),
            Val::Time(t) => Some(t.date_naive()),
            Val::Str(s) => parse_date(s).or_else(|| parse_time(s).map(|t| t.date_naive())),
            _ => None,
        }
    }

    /// Reads the value as an instant if it is one or a string that spells one (dates are midnight UTC).
    pub fn as_time(&self) -> Option<DateTime<Utc>> {
        match self {
            Val::Time(t) => Some(*t),
            Val::Date(d) => Some(date_start(*d)),
            Val::Str(s) => parse_time(s).or_else(|| parse_date(s).map(date_start)),
            _ => None,
        }
    }

    /// Converts to JSON for action arguments and outputs.
    pub fn to_json(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Num(n) => num_json(*n),
            Val::Str(s) => Value::String(s.to_string()),
            Val::Dur(ms) => Value::String(format_duration(*ms)),
            Val::Date(d) => Value::String(d.format("%Y-%m-%d").to_string()),
            Val::Time(t) => Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            Val::Json(v) => (*v).clone(),
            Val::List(items) => Value::Array(items.iter().map(Val::to_json).collect()),
        }
    }

    /// Turns borrowed parts into owned ones so the value outlives its input.
    pub fn into_owned(self) -> Val<'static> {
        match self {
            Val::Null => Val::Null,
            Val::Bool(b) => Val::Bool(b),
            Val::Num(n) => Val::Num(n),
            Val::Str(s) => Val::Str(Cow::Owned(s.into_owned())),
            Val::Dur(d) => Val::Dur(d),
            Val::Date(d) => Val::Date(d),
            Val::Time(t) => Val::Time(t),
            Val::Json(v) => Val::Str(Cow::Owned(v.to_string())),
            Val::List(l) => Val::List(l.into_iter().map(Val::into_owned).collect()),
        }
    }
}

/// A number as JSON, integral numbers without a fraction.
pub fn num_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

impl fmt::Display for Val<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Str(s) => f.write_str(s),
            Val::Null => f.write_str(""),
            other => match other.to_json() {
                Value::String(s) => f.write_str(&s),
                v => write!(f, "{v}"),
            },
        }
    }
}

/// Midnight UTC at the start of `d`.
pub fn date_start(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Parses an RFC 3339 instant (or a naive `YYYY-MM-DDTHH:MM:SS` taken as UTC).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if s.len() < 19 {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|n| Utc.from_utc_datetime(&n))
        })
}

/// Formats milliseconds the way they are written: `30d`, `1h`, `90s`, `1500ms`.
pub fn format_duration(ms: i64) -> String {
    let units = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ];
    if ms == 0 {
        return "0s".into();
    }
    for (unit, size) in units {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_that_spell_dates_read_as_dates() {
        let v = Val::Str("2026-12-24".into());
        assert_eq!(v.as_date(), NaiveDate::from_ymd_opt(2026, 12, 24));
        let t = Val::Str("2026-12-24T10:00:00+09:00".into());
        assert_eq!(
            t.as_time().unwrap().to_rfc3339(),
            "2026-12-24T01:00:00+00:00"
        );
        assert_eq!(Val::Str("soon".into()).as_date(), None);
    }

    #[test]
    fn durations_format_in_their_largest_unit() {
        assert_eq!(format_duration(30 * 86_400_000), "30d");
        assert_eq!(format_duration(14 * 86_400_000), "14d");
        assert_eq!(format_duration(90_000), "90s");
        assert_eq!(format_duration(1500), "1500ms");
    }
}
