//! The expression language shared by conditions, arguments and templates.
//!
//! Text is parsed once (pest), checked and compiled into a [`Node`] tree; evaluation walks the tree
//! against a [`Scope`] of borrowed JSON, so the common case (paths, comparisons, and/or) allocates nothing.

mod compile;
mod display;
mod eval;
mod explain;
mod functions;
mod parse;
mod value;

pub use compile::Env;
pub use eval::{equal, order, ArithOp, CmpOp, Const, EvalError, Node, Root, Scope};
pub use explain::Explanation;
pub use functions::{Func, FUNCTIONS};
pub use parse::{parse_duration, MAX_DEPTH};
pub use value::{date_start, format_duration, num_json, parse_date, parse_time, Ty, Val};

pub(crate) use functions::closest;
pub(crate) use parse::{check_nesting, unescape};

use crate::diag::Problem;
use serde::{Serialize, Serializer};
use std::fmt;

/// A compiled expression with the text it came from.
#[derive(Debug, Clone)]
pub struct Expr {
    /// The expression as written.
    pub source: String,
    /// The compiled tree.
    pub node: Node,
}

impl PartialEq for Expr {
    /// Two expressions are equal when they compile to the same tree, however they were spelled.
    fn eq(&self, other: &Self) -> bool {
        self.node == other.node
    }
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl Expr {
    /// Parses and compiles `text` standing alone (offsets count from 0).
    pub fn parse(text: &str, env: &Env) -> Result<Expr, Vec<Problem>> {
        let mut problems = Vec::new();
        match Self::compile_at(text, 0, env, &mut problems) {
            Some(e) if problems.is_empty() => Ok(e),
            _ => Err(problems),
        }
    }

    /// Parses and compiles `text` found at byte `offset` of a file, collecting problems.
    pub(crate) fn compile_at(
        text: &str,
        offset: usize,
        env: &Env,
        problems: &mut Vec<Problem>,
    ) -> Option<Expr> {
        let ast = match parse::parse_expression(text, offset) {
            Ok(ast) => ast,
            Err(p) => {
                problems.push(p);
                return None;
            }
        };
        Some(Self::from_ast(text, &ast, env, problems))
    }

    /// Compiles an already parsed syntax tree.
    pub(crate) fn from_ast(
        text: &str,
        ast: &parse::Ast,
        env: &Env,
        problems: &mut Vec<Problem>,
    ) -> Expr {
        Expr {
            source: text.trim().to_string(),
            node: compile::compile(ast, env, problems),
        }
    }

    /// Evaluates the expression.
    pub fn eval<'a>(&'a self, scope: &Scope<'a>) -> Result<Val<'a>, EvalError> {
        self.node.eval(scope)
    }

    /// Evaluates as a condition: true only when the value is truthy; errors count as false.
    pub fn matches(&self, scope: &Scope<'_>) -> bool {
        self.node.eval(scope).map(|v| v.truthy()).unwrap_or(false)
    }

    /// Explains the expression as a condition: each part with the values it saw.
    pub fn explain(&self, scope: &Scope<'_>) -> Explanation {
        explain::explain(&self.node, scope)
    }

    /// The static result kind, when known.
    pub fn ty(&self) -> Ty {
        eval::result_ty(&self.node)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests;
