//! Compiled nodes printed back as expression text (canonical spacing, parentheses only where needed).

use super::node::{ArithOp, CmpOp, Const, Node};
use super::scope::Root;
use super::value::format_duration;
use std::fmt;

fn precedence(n: &Node) -> u8 {
    match n {
        Node::Or(..) => 1,
        Node::And(..) => 2,
        Node::Not(_) => 3,
        Node::Cmp(..) | Node::In(..) => 4,
        Node::Arith(ArithOp::Add | ArithOp::Sub, ..) => 5,
        Node::Arith(..) => 6,
        Node::Neg(_) => 7,
        _ => 8,
    }
}

/// Writes `child`, in parentheses when it binds looser than its parent needs.
fn operand(f: &mut fmt::Formatter<'_>, child: &Node, min: u8) -> fmt::Result {
    if precedence(child) < min {
        write!(f, "({child})")
    } else {
        write!(f, "{child}")
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = precedence(self);
        match self {
            Node::Const(Const::Null) => f.write_str("null"),
            Node::Const(Const::Bool(b)) => write!(f, "{b}"),
            Node::Const(Const::Num(n)) => write!(f, "{}", super::value::num_json(*n)),
            Node::Const(Const::Str(s)) => write!(f, "{}", serde_json::Value::String(s.to_string())),
            Node::Const(Const::Dur(d)) => f.write_str(&format_duration(*d)),
            Node::Path(root, segs) => {
                let root = match root {
                    Root::Event => "event",
                    Root::Customer => "customer",
                    Root::Run => "run",
                    Root::Steps => "steps",
                    Root::Entity => "entity",
                };
                f.write_str(root)?;
                segs.iter().try_for_each(|s| write!(f, ".{s}"))
            }
            Node::List(items) => list(f, items.iter()),
            Node::ConstList(items) => list(f, items.iter().map(|c| Node::Const(c.clone()))),
            Node::Not(e) => {
                f.write_str("not ")?;
                operand(f, e, p)
            }
            Node::Neg(e) => {
                f.write_str("-")?;
                operand(f, e, p)
            }
            Node::And(a, b) | Node::Or(a, b) => {
                operand(f, a, p)?;
                f.write_str(if matches!(self, Node::And(..)) {
                    " and "
                } else {
                    " or "
                })?;
                operand(f, b, p + 1)
            }
            Node::Cmp(op, a, b) => {
                operand(f, a, p + 1)?;
                let op = match op {
                    CmpOp::Eq => "==",
                    CmpOp::Ne => "!=",
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                };
                write!(f, " {op} ")?;
                operand(f, b, p + 1)
            }
            Node::Arith(op, a, b) => {
                operand(f, a, p)?;
                let op = match op {
                    ArithOp::Add => "+",
                    ArithOp::Sub => "-",
                    ArithOp::Mul => "*",
                    ArithOp::Div => "/",
                    ArithOp::Rem => "%",
                };
                write!(f, " {op} ")?;
                operand(f, b, p + 1)
            }
            Node::In(negated, needle, hay) => {
                operand(f, needle, p + 1)?;
                f.write_str(if *negated { " not in " } else { " in " })?;
                operand(f, hay, p + 1)
            }
            Node::Index(base, idx) => {
                operand(f, base, 8)?;
                write!(f, "[{idx}]")
            }
            Node::Aggregate(a) => write!(f, "{a}"),
            Node::Call(func, args) => {
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// `[a, b, …]`.
fn list<N: std::borrow::Borrow<Node>>(
    f: &mut std::fmt::Formatter<'_>,
    items: impl Iterator<Item = N>,
) -> std::fmt::Result {
    f.write_str("[")?;
    for (i, item) in items.enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{}", item.borrow())?;
    }
    f.write_str("]")
}
