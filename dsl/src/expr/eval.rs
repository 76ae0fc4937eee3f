//! The evaluator: walks a compiled [`Node`] tree against a [`Scope`]; no parsing, no
//! allocation for paths and comparisons.

use super::compare::{equal, order};
use super::node::{ArithOp, CmpOp, Const, Node};
use super::scope::{EvalError, Scope};
use super::value::Val;
use chrono::Duration;
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;

impl Node {
    /// Evaluates the node against `scope`.
    pub fn eval<'a>(&'a self, scope: &Scope<'a>) -> Result<Val<'a>, EvalError> {
        match self {
            Node::Const(c) => Ok(c.val()),
            Node::ConstList(items) => Ok(Val::List(items.iter().map(Const::val).collect())),
            Node::In(negated, needle, hay) if matches!(**hay, Node::ConstList(_)) => {
                let Node::ConstList(items) = &**hay else {
                    unreachable!("matched above")
                };
                let needle = needle.eval(scope)?;
                let found = items.iter().any(|c| equal(&c.val(), &needle));
                Ok(Val::Bool(found != *negated))
            }
            Node::Path(root, segs) => Ok(walk(scope.root(*root), segs)),
            Node::List(items) => items
                .iter()
                .map(|n| n.eval(scope))
                .collect::<Result<_, _>>()
                .map(Val::List),
            Node::Not(e) => Ok(Val::Bool(!e.eval(scope)?.truthy())),
            Node::Neg(e) => match e.eval(scope)? {
                Val::Num(n) => Ok(Val::Num(-n)),
                Val::Dur(d) => d.checked_neg().map(Val::Dur).ok_or_else(too_long),
                Val::Null => Ok(Val::Null),
                v => Err(EvalError::new(format!(
                    "cannot negate {}",
                    v.ty().article()
                ))),
            },
            Node::And(a, b) => Ok(Val::Bool(
                a.eval(scope)?.truthy() && b.eval(scope)?.truthy(),
            )),
            Node::Or(a, b) => Ok(Val::Bool(
                a.eval(scope)?.truthy() || b.eval(scope)?.truthy(),
            )),
            Node::Cmp(op, a, b) => compare(*op, &a.eval(scope)?, &b.eval(scope)?).map(Val::Bool),
            Node::Arith(op, a, b) => arith(*op, a.eval(scope)?, b.eval(scope)?),
            Node::In(negated, needle, hay) => {
                let found = contains(&hay.eval(scope)?, &needle.eval(scope)?);
                Ok(Val::Bool(found != *negated))
            }
            Node::Index(base, idx) => Ok(index(base.eval(scope)?, &idx.eval(scope)?)),
            Node::Aggregate(a) => a.eval(scope),
            Node::Call(f, args) => {
                let vals = args
                    .iter()
                    .map(|n| n.eval(scope))
                    .collect::<Result<Vec<_>, _>>()?;
                f.apply(vals, scope)
            }
        }
    }
}

fn walk<'a>(mut v: &'a Value, segs: &[Box<str>]) -> Val<'a> {
    for seg in segs {
        v = match v {
            Value::Object(map) => match map.get(&**seg) {
                Some(next) => next,
                None => return Val::Null,
            },
            Value::Array(items) => match seg.parse::<usize>().ok().and_then(|i| items.get(i)) {
                Some(next) => next,
                None => return Val::Null,
            },
            _ => return Val::Null,
        };
    }
    Val::from_json(v)
}

fn index<'a>(base: Val<'a>, idx: &Val<'_>) -> Val<'a> {
    match (base, idx) {
        (Val::Json(Value::Array(a)), Val::Num(n)) => {
            a.get(*n as usize).map(Val::from_json).unwrap_or(Val::Null)
        }
        (Val::Json(Value::Object(o)), Val::Str(k)) => {
            o.get(&**k).map(Val::from_json).unwrap_or(Val::Null)
        }
        (Val::List(mut l), Val::Num(n)) if (*n as usize) < l.len() => l.swap_remove(*n as usize),
        _ => Val::Null,
    }
}

fn compare(op: CmpOp, a: &Val<'_>, b: &Val<'_>) -> Result<bool, EvalError> {
    Ok(match op {
        CmpOp::Eq => equal(a, b),
        CmpOp::Ne => !equal(a, b),
        _ if matches!(a, Val::Null) || matches!(b, Val::Null) => false,
        CmpOp::Lt => order(a, b)? == Ordering::Less,
        CmpOp::Le => order(a, b)? != Ordering::Greater,
        CmpOp::Gt => order(a, b)? == Ordering::Greater,
        CmpOp::Ge => order(a, b)? != Ordering::Less,
    })
}

impl Const {
    /// The constant as a value (borrowing its text).
    pub fn val(&self) -> Val<'_> {
        match self {
            Const::Null => Val::Null,
            Const::Bool(b) => Val::Bool(*b),
            Const::Num(n) => Val::Num(*n),
            Const::Str(s) => Val::Str(Cow::Borrowed(s)),
            Const::Dur(d) => Val::Dur(*d),
        }
    }
}

fn contains(hay: &Val<'_>, needle: &Val<'_>) -> bool {
    match hay {
        Val::List(items) => items.iter().any(|v| equal(v, needle)),
        Val::Json(Value::Array(items)) => items.iter().any(|v| equal(&Val::from_json(v), needle)),
        Val::Json(Value::Object(map)) => matches!(needle, Val::Str(k) if map.contains_key(&**k)),
        Val::Str(s) => matches!(needle, Val::Str(n) if s.contains(&**n)),
        _ => false,
    }
}

fn arith<'a>(op: ArithOp, a: Val<'a>, b: Val<'a>) -> Result<Val<'a>, EvalError> {
    use ArithOp::*;
    let bad = |a: &Val<'_>, b: &Val<'_>| {
        EvalError::new(format!(
            "cannot apply {op:?} to {} and {}",
            a.ty().article(),
            b.ty().article()
        ))
    };
    Ok(match (op, &a, &b) {
        (_, Val::Null, _) | (_, _, Val::Null) => Val::Null,
        (_, Val::Num(x), Val::Num(y)) => Val::Num(match op {
            Add => x + y,
            Sub => x - y,
            Mul => x * y,
            Div => x / y,
            Rem => x % y,
        }),
        (Add, Val::Dur(x), Val::Dur(y)) => Val::Dur(x.checked_add(*y).ok_or_else(too_long)?),
        (Sub, Val::Dur(x), Val::Dur(y)) => Val::Dur(x.checked_sub(*y).ok_or_else(too_long)?),
        (Mul, Val::Dur(x), Val::Num(y)) | (Mul, Val::Num(y), Val::Dur(x)) => {
            Val::Dur(whole_ms(*x as f64 * y)?)
        }
        (Div, Val::Dur(x), Val::Num(y)) => Val::Dur(whole_ms(*x as f64 / y)?),
        (Add | Sub, _, Val::Dur(ms)) => shift(op, &a, *ms).ok_or_else(|| bad(&a, &b))?,
        (Add, Val::Dur(ms), _) => shift(op, &b, *ms).ok_or_else(|| bad(&a, &b))?,
        (Sub, _, _) if a.as_time().is_some() && b.as_time().is_some() => Val::Dur(
            (a.as_time().expect("checked") - b.as_time().expect("checked")).num_milliseconds(),
        ),
        (Add, Val::Str(x), Val::Str(y)) => Val::Str(Cow::Owned(format!("{x}{y}"))),
        _ => return Err(bad(&a, &b)),
    })
}

/// A duration too long to compute with.
fn too_long() -> EvalError {
    EvalError::new("the duration is out of range (about ±292 million years)")
}

/// Milliseconds of a computed duration, refused when it is not a finite value in range (the
/// cast would silently saturate, and the next `+` or `-` overflow).
fn whole_ms(ms: f64) -> Result<i64, EvalError> {
    if ms.is_finite() && ms.abs() < i64::MAX as f64 {
        Ok(ms as i64)
    } else {
        Err(too_long())
    }
}

/// Moves a date or instant by a duration; whole days keep a date a date. `None` when the result
/// is out of the calendar's range.
fn shift<'a>(op: ArithOp, base: &Val<'_>, ms: i64) -> Option<Val<'a>> {
    let ms = if op == ArithOp::Sub {
        ms.checked_neg()?
    } else {
        ms
    };
    let as_date = match base {
        Val::Date(d) => Some(*d),
        Val::Str(s) if s.len() == 10 => base.as_date(),
        _ => None,
    };
    match as_date {
        Some(d) if ms % 86_400_000 == 0 => d
            .checked_add_signed(Duration::try_days(ms / 86_400_000)?)
            .map(Val::Date),
        _ => base
            .as_time()
            .and_then(|t| t.checked_add_signed(Duration::try_milliseconds(ms)?))
            .map(Val::Time),
    }
}
