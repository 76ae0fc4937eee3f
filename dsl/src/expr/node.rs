//! The compiled expression tree: nodes, operators and folded constants. Plain data; evaluation is
//! in `eval.rs`, typing in `typing.rs`, printing in `display.rs`.

use super::functions::Func;
use super::scope::Root;

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
    /// A list literal of constants only (`["gold", "silver"]`), built once at compile time:
    /// `x in [...]` scans it without building a list at each evaluation.
    ConstList(Box<[Const]>),
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
    /// An aggregate of the customer's event history (`count(order.placed, 90d)`).
    Aggregate(Box<super::aggregate::Aggregate>),
}

impl Node {
    /// Every history aggregate the expression reads (what the engine must keep per customer).
    pub fn aggregates<'a>(&'a self, out: &mut Vec<&'a super::aggregate::Aggregate>) {
        match self {
            Node::Aggregate(a) => out.push(a),
            Node::Const(_) | Node::ConstList(_) | Node::Path(..) => {}
            Node::List(items) | Node::Call(_, items) => {
                items.iter().for_each(|n| n.aggregates(out))
            }
            Node::Not(n) | Node::Neg(n) => n.aggregates(out),
            Node::And(a, b)
            | Node::Or(a, b)
            | Node::Cmp(_, a, b)
            | Node::Arith(_, a, b)
            | Node::In(_, a, b)
            | Node::Index(a, b) => {
                a.aggregates(out);
                b.aggregates(out);
            }
        }
    }

    /// Whether the expression reads anything under `root` (the engine skips loading a run's
    /// customer when no step reads `customer`).
    pub fn reads(&self, root: Root) -> bool {
        match self {
            Node::Const(_) | Node::ConstList(_) => false,
            Node::Path(r, _) => *r == root,
            Node::Aggregate(_) => root == Root::Customer,
            Node::List(items) | Node::Call(_, items) => items.iter().any(|n| n.reads(root)),
            Node::Not(n) | Node::Neg(n) => n.reads(root),
            Node::And(a, b)
            | Node::Or(a, b)
            | Node::Cmp(_, a, b)
            | Node::Arith(_, a, b)
            | Node::In(_, a, b)
            | Node::Index(a, b) => a.reads(root) || b.reads(root),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::expr::{Env, Expr, Root};

    #[test]
    fn reads_finds_a_root_anywhere_in_the_tree() {
        let reads = |text: &str| {
            Expr::parse(text, &Env::default())
                .unwrap()
                .node
                .reads(Root::Customer)
        };
        assert!(reads("customer.tier == \"gold\""));
        assert!(reads("event.cart.total > 5 and not (customer.vip)"));
        assert!(reads("lower(customer.email) in [\"a\", \"b\"]"));
        assert!(!reads("event.cart.total >= 50"));
        assert!(!reads("\"customer\" in [\"customer\"]"));
    }
}
