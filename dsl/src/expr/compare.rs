//! Equality and ordering of values across kinds (dates with date strings, numbers with
//! numbers), shared by the evaluator and the built-in functions.

use super::scope::EvalError;
use super::value::Val;
use serde_json::Value;
use std::cmp::Ordering;

/// Equality across kinds: dates compare with date strings, numbers with numbers, null only with null.
pub fn equal(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Null, _) | (_, Val::Null) => false,
        (Val::Json(x), Val::Json(y)) => x == y,
        (Val::List(x), Val::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Val::List(l), Val::Json(Value::Array(j))) | (Val::Json(Value::Array(j)), Val::List(l)) => {
            l.len() == j.len() && l.iter().zip(j).all(|(p, q)| equal(p, &Val::from_json(q)))
        }
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => x == y,
        _ => order(a, b).map(|o| o == Ordering::Equal).unwrap_or(false),
    }
}

/// Ordering of two values of comparable kinds.
pub fn order(a: &Val<'_>, b: &Val<'_>) -> Result<Ordering, EvalError> {
    let mismatch = || {
        EvalError::new(format!(
            "cannot compare {} with {}",
            a.ty().article(),
            b.ty().article()
        ))
    };
    match (a, b) {
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(y).ok_or_else(mismatch),
        (Val::Dur(x), Val::Dur(y)) => Ok(x.cmp(y)),
        (Val::Str(x), Val::Str(y)) => Ok(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Ok(x.cmp(y)),
        (Val::Date(x), Val::Date(y)) => Ok(x.cmp(y)),
        (Val::Date(x), Val::Str(_))
            if b.as_date().is_some()
                && b.as_time() == b.as_date().map(super::value::date_start) =>
        {
            Ok(x.cmp(&b.as_date().expect("checked")))
        }
        (Val::Str(_), Val::Date(y))
            if a.as_date().is_some()
                && a.as_time() == a.as_date().map(super::value::date_start) =>
        {
            Ok(a.as_date().expect("checked").cmp(y))
        }
        (Val::Time(_), _) | (_, Val::Time(_)) | (Val::Date(_), _) | (_, Val::Date(_)) => {
            let (x, y) = (
                a.as_time().ok_or_else(mismatch)?,
                b.as_time().ok_or_else(mismatch)?,
            );
            Ok(x.cmp(&y))
        }
        _ => Err(mismatch()),
    }
}
