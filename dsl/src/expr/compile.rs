//! Syntax tree to compiled node: resolves roots and functions and checks types where they are known.

use super::aggregate::{AggKind, Aggregate};
use super::functions::{closest, lookup, AGGREGATES, FUNCTIONS};
use super::node::{ArithOp, CmpOp, Const, Node};
use super::parse::{Ast, AstKind, BinOp, UnOp};
use super::scope::Root;
use super::typing::{arith_ty, comparable};
use super::value::Ty;
use crate::diag::Problem;

/// The names an expression may start with, besides the fixed roots, and what is known of them.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// The `for each` entity name of a schedule trigger, if any (`contract`).
    pub entity: Option<String>,
    /// The declared shape of `event.*`, when the trigger's event type is in the event catalog.
    pub event: Option<EventShape>,
}

/// What the event catalog declares of the trigger's event type, for checking `event.*` paths.
#[derive(Debug, Clone)]
pub struct EventShape {
    /// The event type, e.g. `cart.abandoned`.
    pub event_type: String,
    /// The catalog file that declares it.
    pub file: String,
    /// The schema of `event.*` (see [`crate::catalog::event_scope`]).
    pub scope: std::sync::Arc<serde_json::Value>,
}

const FIXED_ROOTS: &[(&str, Root)] = &[
    ("event", Root::Event),
    ("customer", Root::Customer),
    ("run", Root::Run),
    ("steps", Root::Steps),
];

/// Compiles `ast`, pushing every problem found into `problems`.
pub(crate) fn compile(ast: &Ast, env: &Env, problems: &mut Vec<Problem>) -> Node {
    let mut c = Compiler { env, problems };
    c.node(ast).0
}

struct Compiler<'e> {
    env: &'e Env,
    problems: &'e mut Vec<Problem>,
}

impl Compiler<'_> {
    fn node(&mut self, ast: &Ast) -> (Node, Ty) {
        match &ast.kind {
            AstKind::Num(n) => (Node::Const(Const::Num(*n)), Ty::Num),
            AstKind::Dur(d) => (Node::Const(Const::Dur(*d)), Ty::Dur),
            AstKind::Str(s) => (Node::Const(Const::Str(s.as_ref().into())), Ty::Str),
            AstKind::Bool(b) => (Node::Const(Const::Bool(*b)), Ty::Bool),
            AstKind::Null => (Node::Const(Const::Null), Ty::Null),
            AstKind::Path(segs) => self.path(ast, segs),
            AstKind::List(items) => {
                let nodes: Vec<Node> = items.iter().map(|i| self.node(i).0).collect();
                let consts: Option<Box<[Const]>> = nodes
                    .iter()
                    .map(|n| match n {
                        Node::Const(c) => Some(c.clone()),
                        _ => None,
                    })
                    .collect();
                let node = match consts {
                    Some(consts) => Node::ConstList(consts),
                    None => Node::List(nodes.into()),
                };
                (node, Ty::List)
            }
            AstKind::Call(name, args) => self.call(ast, name, args),
            AstKind::Index(base, idx) => {
                let (b, _) = self.node(base);
                let (i, _) = self.node(idx);
                (Node::Index(Box::new(b), Box::new(i)), Ty::Any)
            }
            AstKind::Unary(UnOp::Not, e) => (Node::Not(Box::new(self.node(e).0)), Ty::Bool),
            AstKind::Unary(UnOp::Neg, e) => match self.node(e) {
                (Node::Const(Const::Num(n)), t) => (Node::Const(Const::Num(-n)), t),
                (Node::Const(Const::Dur(d)), t) => (Node::Const(Const::Dur(-d)), t),
                (n, t) => {
                    if !matches!(t, Ty::Any | Ty::Num | Ty::Dur) {
                        self.problem(
                            ast,
                            format!("cannot negate {}", t.article()),
                            "only numbers and durations have a sign",
                        );
                    }
                    (Node::Neg(Box::new(n)), t)
                }
            },
            AstKind::Binary(op, l, r) => self.binary(ast, *op, l, r),
        }
    }

    fn problem(&mut self, ast: &Ast, message: String, hint: &str) {
        self.problems
            .push(Problem::new("type", ast.span, message).hint(hint));
    }

    fn path(&mut self, ast: &Ast, segs: &[&str]) -> (Node, Ty) {
        let first = segs[0];
        let root = FIXED_ROOTS
            .iter()
            .find(|(n, _)| *n == first)
            .map(|(_, r)| *r)
            .or_else(|| (self.env.entity.as_deref() == Some(first)).then_some(Root::Entity));
        let Some(root) = root else {
            let mut names: Vec<&str> = FIXED_ROOTS.iter().map(|(n, _)| *n).collect();
            if let Some(e) = self.env.entity.as_deref() {
                names.push(e);
            }
            let hint = match closest(first, names.iter().copied()) {
                Some(c) => format!(
                    "did you mean `{c}`? paths start with one of: {}",
                    names.join(", ")
                ),
                None => format!("paths start with one of: {}", names.join(", ")),
            };
            self.problems.push(
                Problem::new("unknown-name", ast.span, format!("unknown name `{first}`"))
                    .hint(hint),
            );
            return (Node::Const(Const::Null), Ty::Any);
        };
        let node = Node::Path(root, segs[1..].iter().map(|s| (*s).into()).collect());
        let ty = match (&self.env.event, root) {
            (Some(shape), Root::Event) => self.event_path(ast, shape, &segs[1..]),
            _ => Ty::Any,
        };
        (node, ty)
    }

    /// The declared type of `event.<fields>`; a field the catalog does not declare is a problem.
    fn event_path(&mut self, ast: &Ast, shape: &EventShape, fields: &[&str]) -> Ty {
        match crate::catalog::path_type(&shape.scope, fields) {
            Ok(ty) => ty,
            Err(unknown) => {
                let field = fields[unknown.index];
                let parent = match unknown.index {
                    0 => "the event".to_string(),
                    i => format!("`event.{}`", fields[..i].join(".")),
                };
                let known = unknown.known.join(", ");
                let hint = match closest(field, unknown.known.iter().map(String::as_str)) {
                    Some(best) => format!("did you mean `{best}`? {parent} has: {known}"),
                    None => format!("{parent} has: {known}; declare the field in {}", shape.file),
                };
                self.problems.push(
                    Problem::new(
                        "unknown-field",
                        ast.span,
                        format!(
                            "`{field}` is not a field of {parent} in `{}` events (event catalog: {})",
                            shape.event_type, shape.file
                        ),
                    )
                    .hint(hint),
                );
                Ty::Any
            }
        }
    }

    fn call(&mut self, ast: &Ast, name: &str, args: &[Ast]) -> (Node, Ty) {
        if let Some(kind) = AggKind::of(name) {
            return self.aggregate(ast, kind, args);
        }
        let compiled: Vec<Node> = args.iter().map(|a| self.node(a).0).collect();
        let Some((func, min, max, ty)) = lookup(name) else {
            let names = FUNCTIONS
                .iter()
                .map(|f| f.0)
                .chain(AGGREGATES.iter().copied());
            let hint = match closest(name, names) {
                Some(c) => format!("did you mean `{c}()`?"),
                None => format!(
                    "known functions: {}",
                    FUNCTIONS.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
                ),
            };
            self.problems.push(
                Problem::new(
                    "unknown-function",
                    ast.span,
                    format!("unknown function `{name}`"),
                )
                .hint(hint),
            );
            return (Node::Const(Const::Null), Ty::Any);
        };
        if args.len() < min || args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            self.problems.push(
                Problem::new(
                    "arity",
                    ast.span,
                    format!("`{name}` takes {want} argument(s), got {}", args.len()),
                )
                .hint(format!(
                    "call it as `{name}({})`",
                    vec!["x"; min].join(", ")
                )),
            );
        }
        (Node::Call(func, compiled.into()), ty)
    }

    /// `count(type, window)`, `sum(type.field, window)`, `last(type)`: the first argument names
    /// an event type (for `sum`, then the field), written as a path; the window is a duration.
    fn aggregate(&mut self, ast: &Ast, kind: AggKind, args: &[Ast]) -> (Node, Ty) {
        let name = kind.name();
        let usage = match kind {
            AggKind::Count => "count(order.placed, 90d)",
            AggKind::Sum => "sum(order.placed.total, 365d)",
            AggKind::Last => "days_since(last(order.placed))",
        };
        let mut problem = |span, message: String, hint: String| {
            self.problems
                .push(Problem::new("aggregate", span, message).hint(hint));
            (Node::Const(Const::Null), Ty::Any)
        };
        let Some(AstKind::Path(segs)) = args.first().map(|a| &a.kind) else {
            let span = args.first().map_or(ast.span, |a| a.span);
            return problem(
                span,
                format!("`{name}` needs an event type as its first argument"),
                format!("write the event type as a path: `{usage}`"),
            );
        };
        let (event_type, field) = match kind {
            AggKind::Sum if segs.len() < 2 => {
                return problem(
                    args[0].span,
                    format!(
                        "`sum` needs a field of `{}` events to add up",
                        segs.join(".")
                    ),
                    format!("name the field after the event type: `{usage}`"),
                )
            }
            AggKind::Sum => (
                segs[..segs.len() - 1].join("."),
                segs.last().map(|f| (*f).into()),
            ),
            _ => (segs.join("."), None),
        };
        let window_ms = match (kind, args.get(1).map(|a| &a.kind)) {
            (AggKind::Last, None) => None,
            (AggKind::Last, Some(_)) => {
                return problem(
                    args[1].span,
                    "`last` takes no window: it is the latest event's time".into(),
                    format!("write `{usage}`; compare it with a duration to bound it"),
                )
            }
            (_, Some(AstKind::Dur(ms))) if *ms > 0 && args.len() == 2 => Some(*ms),
            (_, None) => {
                return problem(
                    ast.span,
                    format!("`{name}` needs a window to look back over"),
                    format!("add a duration: `{usage}`"),
                )
            }
            (_, Some(_)) => {
                return problem(
                    args[1].span,
                    format!("the window of `{name}` must be one positive duration"),
                    format!("write a duration such as `30d` or `12h`: `{usage}`"),
                )
            }
        };
        let node = Node::Aggregate(Box::new(Aggregate {
            kind,
            event_type: event_type.into(),
            field,
            window_ms,
        }));
        let ty = if kind == AggKind::Last {
            Ty::Time
        } else {
            Ty::Num
        };
        (node, ty)
    }

    fn binary(&mut self, ast: &Ast, op: BinOp, l: &Ast, r: &Ast) -> (Node, Ty) {
        let (ln, lt) = self.node(l);
        let (rn, rt) = self.node(r);
        let (a, b) = (Box::new(ln), Box::new(rn));
        match op {
            BinOp::Or => (Node::Or(a, b), Ty::Bool),
            BinOp::And => (Node::And(a, b), Ty::Bool),
            BinOp::In | BinOp::NotIn | BinOp::Contains => {
                let (needle, hay, hay_ty) = if op == BinOp::Contains {
                    (b, a, lt)
                } else {
                    (a, b, rt)
                };
                if !matches!(hay_ty, Ty::Any | Ty::List | Ty::Str) {
                    self.problem(
                        ast,
                        format!("cannot look inside {}", hay_ty.article()),
                        "`in` and `contains` need a list or a string",
                    );
                }
                (Node::In(op == BinOp::NotIn, needle, hay), Ty::Bool)
            }
            BinOp::Eq | BinOp::Ne => {
                if !comparable(lt, rt) && lt != Ty::Null && rt != Ty::Null {
                    self.problem(
                        ast,
                        format!("comparing {} with {} is always {}", lt.article(), rt.article(), op != BinOp::Eq),
                        "compare values of the same kind, e.g. a duration with `30d`, a date with `date(\"2026-01-01\")`",
                    );
                }
                let c = if op == BinOp::Eq {
                    CmpOp::Eq
                } else {
                    CmpOp::Ne
                };
                (Node::Cmp(c, a, b), Ty::Bool)
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if !comparable(lt, rt)
                    || matches!(lt, Ty::Bool | Ty::List | Ty::Null)
                    || matches!(rt, Ty::Bool | Ty::List | Ty::Null)
                {
                    self.problem(
                        ast,
                        format!("cannot order {} against {}", lt.article(), rt.article()),
                        "`<`, `>` work on numbers, strings, durations, dates and times of the same kind",
                    );
                }
                let c = match op {
                    BinOp::Lt => CmpOp::Lt,
                    BinOp::Le => CmpOp::Le,
                    BinOp::Gt => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                (Node::Cmp(c, a, b), Ty::Bool)
            }
            _ => {
                let aop = match op {
                    BinOp::Add => ArithOp::Add,
                    BinOp::Sub => ArithOp::Sub,
                    BinOp::Mul => ArithOp::Mul,
                    BinOp::Div => ArithOp::Div,
                    _ => ArithOp::Rem,
                };
                let ty = arith_ty(aop, lt, rt).unwrap_or_else(|| {
                    self.problem(
                        ast,
                        format!("cannot apply `{}` to {} and {}", symbol(aop), lt.article(), rt.article()),
                        "arithmetic works on numbers, and on dates or times with durations (`renewal_date - 30d`)",
                    );
                    Ty::Any
                });
                (Node::Arith(aop, a, b), ty)
            }
        }
    }
}

fn symbol(op: ArithOp) -> &'static str {
    match op {
        ArithOp::Add => "+",
        ArithOp::Sub => "-",
        ArithOp::Mul => "*",
        ArithOp::Div => "/",
        ArithOp::Rem => "%",
    }
}
