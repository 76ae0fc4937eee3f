//! Static types of expressions for the checker: what an operator gives for its operand types,
//! which types compare, and the result type of a compiled node.

use super::functions::lookup;
use super::node::{ArithOp, Const, Node};
use super::value::Ty;

/// True when values of the two static kinds can be compared.
pub(crate) fn comparable(a: Ty, b: Ty) -> bool {
    let temporal = |t| matches!(t, Ty::Date | Ty::Time);
    a == b
        || a == Ty::Any
        || b == Ty::Any
        || (temporal(a) && (temporal(b) || b == Ty::Str))
        || (temporal(b) && a == Ty::Str)
}

/// The result kind of arithmetic, or `None` when it can never work.
pub(crate) fn arith_ty(op: ArithOp, a: Ty, b: Ty) -> Option<Ty> {
    use ArithOp::*;
    use Ty::*;
    match (op, a, b) {
        (_, Num, Num) => Some(Num),
        (Add | Sub, Dur, Dur) => Some(Dur),
        (Mul, Dur, Num) | (Mul, Num, Dur) | (Div, Dur, Num) => Some(Dur),
        (Add | Sub, Date, Dur) | (Add, Dur, Date) => Some(Date),
        (Add | Sub, Time, Dur) | (Add, Dur, Time) => Some(Time),
        (Sub, Date | Time, Date | Time) => Some(Dur),
        (Add, Str, Str) => Some(Str),
        (_, Any, _) | (_, _, Any) => Some(Any),
        (Add | Sub, Str, Dur) => Some(Any),
        _ => None,
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
        Node::List(_) | Node::ConstList(_) => Ty::List,
        Node::Path(..) | Node::Index(..) => Ty::Any,
        Node::Neg(e) => result_ty(e),
        Node::Arith(op, a, b) => arith_ty(*op, result_ty(a), result_ty(b)).unwrap_or(Ty::Any),
        Node::Aggregate(a) => match a.kind {
            super::aggregate::AggKind::Last => Ty::Time,
            _ => Ty::Num,
        },
        Node::Call(f, _) => lookup(f.name()).map(|f| f.3).unwrap_or(Ty::Any),
    }
}
