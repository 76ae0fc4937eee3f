//! The expression language shared by conditions, arguments and templates.
//!
//! Text is parsed once (a hand-written Pratt parser), checked and compiled into a [`Node`] tree; evaluation walks the tree
//! against a [`Scope`] of borrowed JSON, so the common case (paths, comparisons, and/or) allocates nothing.

mod aggregate;
mod compare;
mod compile;
mod display;
mod eval;
mod explain;
mod functions;
mod lex;
mod literal;
mod node;
mod parse;
mod scope;
mod typing;
mod value;

pub use aggregate::{AggKind, Aggregate, Column, Digest, HISTORY_KEY, TIMES};
pub use compare::{equal, order};
pub use compile::{Env, EventShape};
pub use explain::Explanation;
pub use functions::{Func, FUNCTIONS};
pub use literal::{parse_duration, MAX_DURATION_MS};
pub use node::{ArithOp, CmpOp, Const, Node};
pub use parse::MAX_DEPTH;
pub use scope::{EvalError, Root, Scope};
pub use value::{date_start, format_duration, num_json, parse_date, parse_time, Ty, Val};

pub(crate) use functions::closest;
pub(crate) use literal::unescape;
pub(crate) use parse::check_nesting;

use crate::diag::Problem;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::RefCell;
use std::fmt;

thread_local! {
    /// The names in scope while an IR is deserialized (see [`with_deserialize_env`]).
    static DESERIALIZE_ENV: RefCell<Env> = RefCell::new(Env::default());
}

/// Runs `f` with `env` as the names in scope for expressions and templates deserialized from
/// their text (serde gives `Deserialize` no context of its own).
pub fn with_deserialize_env<T>(env: Env, f: impl FnOnce() -> T) -> T {
    let old = DESERIALIZE_ENV.with(|e| e.replace(env));
    let result = f();
    DESERIALIZE_ENV.with(|e| e.replace(old));
    result
}

/// The names in scope for deserialization.
pub(crate) fn deserialize_env() -> Env {
    DESERIALIZE_ENV.with(|e| e.borrow().clone())
}

/// The first problem's message, for a deserialization error.
pub(crate) fn first_problem(text: &str, problems: &[Problem]) -> String {
    let reason = problems
        .first()
        .map(|p| p.message.as_str())
        .unwrap_or("invalid");
    format!("`{text}`: {reason}")
}

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

impl<'de> Deserialize<'de> for Expr {
    /// Compiles the expression's text again.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Expr::parse(&text, &deserialize_env())
            .map_err(|p| serde::de::Error::custom(first_problem(&text, &p)))
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
        typing::result_ty(&self.node)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests;
