//! # mikawaya-dsl: the rule language
//!
//! Ops teams write automation rules in YAML (`.yaml`) or in a small text DSL (`.mkw`). Both are parsed
//! into one AST ([`ast`]), checked, and compiled into one IR ([`ir`]) that the engine executes.
//!
//! The one design choice to know: **expressions are compiled once** ([`expr::Expr`]) and evaluated
//! against borrowed JSON, so conditions cost nanoseconds per event. Every problem carries file, line,
//! column and a hint ([`diag`]), and all problems of a file are reported together.
//!
//! This crate is pure: no I/O, no async runtime. Callers pass file names and text.
#![deny(missing_docs)]

pub mod ast;
pub mod calendar;
pub mod catalog;
pub mod check;
mod clash;
pub mod decide;
pub mod decide_gaps;
pub mod diag;
pub mod experiment;
pub mod expr;
pub mod fuzzing;
mod grammar;
pub mod graph;
pub mod ir;
mod locate;
pub mod models;
pub mod schema;
pub mod scores;
pub mod segments;
pub mod span;
pub mod template;
pub mod text;
pub mod yaml;

pub use diag::{Diagnostics, Problem};
pub use ir::Workflow;

/// Which surface syntax a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// YAML (`.yaml`, `.yml`).
    Yaml,
    /// The text DSL (`.mkw`).
    Text,
}

impl Syntax {
    /// The syntax for a file name, by extension (`None` for other files).
    pub fn of_file(name: &str) -> Option<Syntax> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".test.yaml") || lower.ends_with(".test.yml") {
            None
        } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Some(Syntax::Yaml)
        } else if lower.ends_with(".mkw") {
            Some(Syntax::Text)
        } else {
            None
        }
    }
}

/// Parses, checks and compiles one rule file; `file` is used in messages and picks the syntax.
pub fn compile_file(file: &str, text: &str) -> Result<Workflow, Diagnostics> {
    compile_source(file, text, Syntax::of_file(file).unwrap_or(Syntax::Yaml))
}

/// Parses, checks and compiles `text` written in `syntax`.
pub fn compile_source(file: &str, text: &str, syntax: Syntax) -> Result<Workflow, Diagnostics> {
    compile_source_with(file, text, syntax, &check::Catalog::default())
}

/// Like [`compile_source`], also checking action names against `catalog`.
pub fn compile_source_with(
    file: &str,
    text: &str,
    syntax: Syntax,
    catalog: &check::Catalog,
) -> Result<Workflow, Diagnostics> {
    let mut diags = Diagnostics::new(file, text);
    if text.len() > MAX_FILE_BYTES {
        diags.push(
            Problem::new(
                "too-large",
                span::Span::new(0, 0),
                format!(
                    "file is {} bytes; the limit is {MAX_FILE_BYTES}",
                    text.len()
                ),
            )
            .hint("split the workflow into several files"),
        );
        return Err(diags);
    }
    let ast = match syntax {
        Syntax::Yaml => yaml::parse(text, &mut diags),
        Syntax::Text => text::parse(text, &mut diags),
    };
    let workflow = ast.and_then(|ast| check::compile_with(&ast, file, &mut diags, catalog));
    match workflow {
        Some(w) if diags.is_empty() => Ok(w),
        _ => Err(diags.finish()),
    }
}

/// Largest rule file accepted (1 MiB); larger input is refused before parsing.
pub const MAX_FILE_BYTES: usize = 1 << 20;
