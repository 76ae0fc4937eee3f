//! The built-in functions of the expression language: names, arity, result types and bodies.

use super::compare::order;
use super::scope::{EvalError, Scope};
use super::value::{Ty, Val};
use serde_json::Value;
use std::borrow::Cow;

/// A built-in function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `now()`: the current instant.
    Now,
    /// `today()`: the current date in the trigger's time zone.
    Today,
    /// `len(x)`: length of a string, list or object.
    Len,
    /// `lower(s)`.
    Lower,
    /// `upper(s)`.
    Upper,
    /// `trim(s)`.
    Trim,
    /// `date(x)`: a date from a string or instant.
    Date,
    /// `time(x)`: an instant from a string or date.
    Time,
    /// `exists(x)`: true when `x` is not null.
    Exists,
    /// `coalesce(a, b, ...)`: the first argument that is not null.
    Coalesce,
    /// `round(n)`.
    Round,
    /// `abs(n)`.
    Abs,
    /// `min(a, b, ...)`.
    Min,
    /// `max(a, b, ...)`.
    Max,
    /// `days(d)`: a duration as a number of days.
    Days,
    /// `hours(d)`: a duration as a number of hours.
    Hours,
    /// `starts_with(s, prefix)`.
    StartsWith,
    /// `ends_with(s, suffix)`.
    EndsWith,
    /// `days_since(t)`: whole days from instant or date `t` to now (null for null).
    DaysSince,
}

/// Name, function, minimum and maximum argument count, result type.
pub const FUNCTIONS: &[(&str, Func, usize, usize, Ty)] = &[
    ("now", Func::Now, 0, 0, Ty::Time),
    ("today", Func::Today, 0, 0, Ty::Date),
    ("len", Func::Len, 1, 1, Ty::Num),
    ("lower", Func::Lower, 1, 1, Ty::Str),
    ("upper", Func::Upper, 1, 1, Ty::Str),
    ("trim", Func::Trim, 1, 1, Ty::Str),
    ("date", Func::Date, 1, 1, Ty::Date),
    ("time", Func::Time, 1, 1, Ty::Time),
    ("exists", Func::Exists, 1, 1, Ty::Bool),
    ("coalesce", Func::Coalesce, 1, 16, Ty::Any),
    ("round", Func::Round, 1, 1, Ty::Num),
    ("abs", Func::Abs, 1, 1, Ty::Num),
    ("min", Func::Min, 1, 16, Ty::Any),
    ("max", Func::Max, 1, 16, Ty::Any),
    ("days", Func::Days, 1, 1, Ty::Num),
    ("hours", Func::Hours, 1, 1, Ty::Num),
    ("starts_with", Func::StartsWith, 2, 2, Ty::Bool),
    ("ends_with", Func::EndsWith, 2, 2, Ty::Bool),
    ("days_since", Func::DaysSince, 1, 1, Ty::Num),
];

/// The aggregates of the customer's event history, compiled apart (`expr::aggregate`); listed
/// here for "did you mean" hints.
pub const AGGREGATES: &[&str] = &["count", "sum", "last"];

impl Func {
    /// The function's name as written.
    pub fn name(self) -> &'static str {
        FUNCTIONS
            .iter()
            .find(|f| f.1 == self)
            .map(|f| f.0)
            .expect("every function is listed")
    }

    /// Applies the function to evaluated arguments.
    pub fn apply<'a>(self, args: Vec<Val<'a>>, scope: &Scope<'a>) -> Result<Val<'a>, EvalError> {
        let first = || args.first().cloned().unwrap_or(Val::Null);
        Ok(match self {
            Func::Now => Val::Time(scope.now),
            Func::Today => Val::Date(scope.today),
            Func::Len => match first() {
                Val::Null => Val::Num(0.0),
                Val::Str(s) => Val::Num(s.chars().count() as f64),
                Val::List(l) => Val::Num(l.len() as f64),
                Val::Json(Value::Array(a)) => Val::Num(a.len() as f64),
                Val::Json(Value::Object(o)) => Val::Num(o.len() as f64),
                other => {
                    return Err(EvalError::new(format!(
                        "len() needs a string or list, got {}",
                        other.ty().article()
                    )))
                }
            },
            Func::Lower => map_str(first(), |s| s.to_lowercase())?,
            Func::Upper => map_str(first(), |s| s.to_uppercase())?,
            Func::Trim => map_str(first(), |s| s.trim().to_string())?,
            Func::Date => first().as_date().map(Val::Date).unwrap_or(Val::Null),
            Func::Time => first().as_time().map(Val::Time).unwrap_or(Val::Null),
            Func::Exists => Val::Bool(!matches!(first(), Val::Null)),
            Func::Coalesce => args
                .into_iter()
                .find(|v| !matches!(v, Val::Null))
                .unwrap_or(Val::Null),
            Func::Round => num(first(), f64::round)?,
            Func::Abs => num(first(), f64::abs)?,
            Func::Min | Func::Max => extreme(args, self == Func::Max)?,
            Func::Days => dur(first(), 86_400_000.0)?,
            Func::Hours => dur(first(), 3_600_000.0)?,
            Func::DaysSince => match first().as_time() {
                None => Val::Null,
                Some(t) => Val::Num(((scope.now - t).num_milliseconds() / 86_400_000) as f64),
            },
            Func::StartsWith | Func::EndsWith => {
                let (Val::Str(s), Val::Str(p)) =
                    (first(), args.get(1).cloned().unwrap_or(Val::Null))
                else {
                    return Ok(Val::Bool(false));
                };
                Val::Bool(if self == Func::StartsWith {
                    s.starts_with(&*p)
                } else {
                    s.ends_with(&*p)
                })
            }
        })
    }
}

fn map_str<'a>(v: Val<'a>, f: impl Fn(&str) -> String) -> Result<Val<'a>, EvalError> {
    match v {
        Val::Null => Ok(Val::Null),
        Val::Str(s) => Ok(Val::Str(Cow::Owned(f(&s)))),
        other => Err(EvalError::new(format!(
            "expected a string, got {}",
            other.ty().article()
        ))),
    }
}

fn num<'a>(v: Val<'a>, f: impl Fn(f64) -> f64) -> Result<Val<'a>, EvalError> {
    match v {
        Val::Null => Ok(Val::Null),
        Val::Num(n) => Ok(Val::Num(f(n))),
        other => Err(EvalError::new(format!(
            "expected a number, got {}",
            other.ty().article()
        ))),
    }
}

fn dur<'a>(v: Val<'a>, unit: f64) -> Result<Val<'a>, EvalError> {
    match v {
        Val::Null => Ok(Val::Null),
        Val::Dur(ms) => Ok(Val::Num(ms as f64 / unit)),
        other => Err(EvalError::new(format!(
            "expected a duration, got {}",
            other.ty().article()
        ))),
    }
}

fn extreme(args: Vec<Val<'_>>, max: bool) -> Result<Val<'_>, EvalError> {
    let mut best: Option<Val<'_>> = None;
    for v in args.into_iter().filter(|v| !matches!(v, Val::Null)) {
        best = Some(match best {
            None => v,
            Some(b) => {
                let ord = order(&v, &b)?;
                if (ord == std::cmp::Ordering::Greater) == max {
                    v
                } else {
                    b
                }
            }
        });
    }
    Ok(best.unwrap_or(Val::Null))
}

/// Looks a function up by name.
pub fn lookup(name: &str) -> Option<(Func, usize, usize, Ty)> {
    FUNCTIONS
        .iter()
        .find(|f| f.0 == name)
        .map(|f| (f.1, f.2, f.3, f.4))
}

/// The known name closest to `name`, for "did you mean" hints.
pub fn closest<'n>(name: &str, candidates: impl IntoIterator<Item = &'n str>) -> Option<&'n str> {
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min()
        .map(|(_, c)| c)
}
