//! Lowering action arguments: literals, expressions and templates, folded to plain values
//! wherever nothing is computed at run time (so `"x"` in the DSL equals `x` in YAML).

use super::Checker;
use crate::ast::*;
use crate::expr::{Const, Expr, Node};
use crate::ir::*;
use crate::template::Template;
use std::collections::BTreeMap;

impl Checker<'_> {
    /// The IR of one argument.
    pub(super) fn arg(&mut self, arg: &ArgAst) -> Arg {
        match arg {
            ArgAst::Literal(v) => Arg::Value(v.clone()),
            ArgAst::Expr(src) => match self.expr(src) {
                Some(Expr {
                    node: Node::Const(Const::Str(s)),
                    ..
                }) if s.contains("{{") => {
                    let quoted = ExprSrc {
                        text: s.to_string(),
                        offset: src.offset + 1,
                    };
                    self.arg(&ArgAst::Template(quoted))
                }
                Some(e) => simplify_expr(e),
                None => Arg::Value(serde_json::Value::Null),
            },
            ArgAst::Template(src) => {
                let t = Template::parse(&src.text, src.offset, &self.env, &mut self.problems);
                if t.is_plain() {
                    Arg::Value(serde_json::Value::String(src.text.clone()))
                } else if let Some(e) = t.as_single_expr() {
                    simplify_expr(e.clone())
                } else {
                    Arg::Template(t)
                }
            }
            ArgAst::Map(entries) => {
                let map: BTreeMap<String, Arg> = entries
                    .iter()
                    .map(|(k, a)| (k.clone(), self.arg(a)))
                    .collect();
                if map.values().all(|a| matches!(a, Arg::Value(_))) {
                    Arg::Value(serde_json::Value::Object(
                        map.into_iter().map(|(k, a)| (k, value_of(a))).collect(),
                    ))
                } else {
                    Arg::Object(map)
                }
            }
            ArgAst::List(items) => {
                let list: Vec<Arg> = items.iter().map(|a| self.arg(a)).collect();
                if list.iter().all(|a| matches!(a, Arg::Value(_))) {
                    Arg::Value(serde_json::Value::Array(
                        list.into_iter().map(value_of).collect(),
                    ))
                } else {
                    Arg::List(list)
                }
            }
        }
    }
}

fn value_of(a: Arg) -> serde_json::Value {
    match a {
        Arg::Value(v) => v,
        _ => serde_json::Value::Null,
    }
}

/// A constant expression becomes a plain value, so `"x"` in the DSL equals `x` in YAML.
fn simplify_expr(e: Expr) -> Arg {
    match &e.node {
        Node::Const(c) => Arg::Value(match c {
            Const::Null => serde_json::Value::Null,
            Const::Bool(b) => serde_json::Value::Bool(*b),
            Const::Num(n) => crate::expr::num_json(*n),
            Const::Str(s) => serde_json::Value::String(s.to_string()),
            Const::Dur(d) => serde_json::Value::String(crate::expr::format_duration(*d)),
        }),
        _ => Arg::Expr(e),
    }
}
