//! The compiled expression tree and its evaluator: no parsing, no allocation for paths and comparisons.

use super::functions::Func;
use super::value::{Ty, Val};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;

/// Where a path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Root {
    /// The event that triggered the run (or that a wait is matching).
    Event,
    /// The customer the run is about.
    Customer,
    /// The run itself (`run.id`, `run.started_at`).
    Run,
    /// Outputs of earlier steps (`steps.<id>.output`).
    Steps,
    /// The entity of a `for each` schedule (its name is chosen by the rule).
    Entity,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

/// A constant folded at compile time.
#[derive(Debug, Clone, PartialEq)]
pub enum Const {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number.
    Num(f64),
    /// A string.
    Str(Box<str>),
    /// A duration in milliseconds.
    Dur(i64),
}

/// A compiled expression node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A literal.
    Const(Const),
    /// A path from a root through object fields.
    Path(Root, Box<[Box<str>]>),
    /// A list literal.
    List(Box<[Node]>),
    /// `not x`
    Not(Box<Node>),
    /// `-x`
    Neg(Box<Node>),
    /// `a and b` (short-circuit)
    And(Box<Node>, Box<Node>),
    /// `a or b` (short-circuit)
    Or(Box<Node>, Box<Node>),
    /// A comparison.
    Cmp(CmpOp, Box<Node>, Box<Node>),
    /// Arithmetic, including date ± duration.
    Arith(ArithOp, Box<Node>, Box<Node>),
    /// `needle in haystack` (negated for `not in`).
    In(bool, Box<Node>, Box<Node>),
    /// `x[i]`
    Index(Box<Node>, Box<Node>),
    /// A function call.
    Call(Func, Box<[Node]>),
}

/// What an expression can see while it is evaluated.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The event (`event.*`).
    pub event: &'a Value,
    /// The customer (`customer.*`).
    pub customer: &'a Value,
    /// The run (`run.*`).
    pub run: &'a Value,
    /// Earlier step outputs (`steps.*`).
    pub steps: &'a Value,
    /// The `for each` entity.
    pub entity: &'a Value,
    /// The current instant (from the injected clock).
    pub now: DateTime<Utc>,
    /// The current date in the workflow's time zone.
    pub today: NaiveDate,
}

static NULL: Value = Value::Null;

impl<'a> Scope<'a> {
    /// A scope with only an event and a clock; other roots are null.
    pub fn with_event(event: &'a Value, now: DateTime<Utc>) -> Self {
        Scope {
            event,
            customer: &NULL,
            run: &NULL,
            steps: &NULL,
            entity: &NULL,
            now,
            today: now.date_naive(),
        }
    }

    fn root(&self, root: Root) -> &'a Value {
        match root {
            Root::Event => self.event,
            Root::Customer => self.customer,
            Root::Run => self.run,
            Root::Steps => self.steps,
            Root::Entity => self.entity,
        }
    }
}

/// A run-time evaluation failure (a type that only showed up in the data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    /// What went wrong.
    pub message: String,
}

impl EvalError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        EvalError {
            message: message.into(),
        }
    }
}

impl Node {
    /// Evaluates the node against `scope`.
    pub fn eval<'a>(&'a self, scope: &Scope<'a>) -> Result<Val<'a>, EvalError> {
        match self {
            Node::Const(c) => Ok(match c {
                Const::Null => Val::Null,
                Const::Bool(b) => Val::Bool(*b),
                Const::Num(n) => Val::Num(*n),
                Const::Str(s) => Val::Str(Cow::Borrowed(s)),
                Const::Dur(d) => Val::Dur(*d),
            }),
            Node::Path(root, segs) => Ok(walk(scope.root(*root), segs)),
            Node::List(items) => items
                .iter()
                .map(|n| n.eval(scope))
                .collect::<Result<_, _>>()
                .map(Val::List),
            Node::Not(e) => Ok(Val::Bool(!e.eval(scope)?.truthy())),
            Node::Neg(e) => match e.eval(scope)? {
                Val::Num(n) => Ok(Val::Num(-n)),
                Val::Dur(d) => Ok(Val::Dur(-d)),
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
        (Add, Val::Dur(x), Val::Dur(y)) => Val::Dur(x + y),
        (Sub, Val::Dur(x), Val::Dur(y)) => Val::Dur(x - y),
        (Mul, Val::Dur(x), Val::Num(y)) | (Mul, Val::Num(y), Val::Dur(x)) => {
            Val::Dur((*x as f64 * y) as i64)
        }
        (Div, Val::Dur(x), Val::Num(y)) => Val::Dur((*x as f64 / y) as i64),
        (Add | Sub, _, Val::Dur(ms)) => shift(op, &a, *ms).ok_or_else(|| bad(&a, &b))?,
        (Add, Val::Dur(ms), _) => shift(op, &b, *ms).ok_or_else(|| bad(&a, &b))?,
        (Sub, _, _) if a.as_time().is_some() && b.as_time().is_some() => Val::Dur(
            (a.as_time().expect("checked") - b.as_time().expect("checked")).num_milliseconds(),
        ),
        (Add, Val::Str(x), Val::Str(y)) => Val::Str(Cow::Owned(format!("{x}{y}"))),
        _ => return Err(bad(&a, &b)),
    })
}

/// Moves a date or instant by a duration; whole days keep a date a date.
fn shift<'a>(op: ArithOp, base: &Val<'_>, ms: i64) -> Option<Val<'a>> {
    let ms = if op == ArithOp::Sub { -ms } else { ms };
    let as_date = match base {
        Val::Date(d) => Some(*d),
        Val::Str(s) if s.len() == 10 => base.as_date(),
        _ => None,
    };
    match as_date {
        Some(d) if ms % 86_400_000 == 0 => d
            .checked_add_signed(Duration::days(ms / 86_400_000))
            .map(Val::Date),
        _ => base
            .as_time()
            .and_then(|t| t.checked_add_signed(Duration::milliseconds(ms)))
            .map(Val::Time),
    }
}

/// The static result type of a node, for the checker.
pub fn result_ty(node: &Node) -> Ty {
    match node {
        Node::Const(Const::Null) => Ty::Null,
        Node::Const(Const::Bool(_))
        | Node::Not(_)
        | Node::And(..)
        | Node::Or(..)
        | Node::Cmp(..)
        | Node::In(..) => Ty::Bool,
        Node::Const(Const::Num(_)) => Ty::Num,
        Node::Const(Const::Str(_)) => Ty::Str,
        Node::Const(Const::Dur(_)) => Ty::Dur,
        Node::List(_) => Ty::List,
        Node::Path(..) | Node::Index(..) => Ty::Any,
        Node::Neg(e) => result_ty(e),
        Node::Arith(op, a, b) => {
            super::compile::arith_ty(*op, result_ty(a), result_ty(b)).unwrap_or(Ty::Any)
        }
        Node::Call(f, _) => super::functions::lookup(f.name())
            .map(|f| f.3)
            .unwrap_or(Ty::Any),
    }
}
