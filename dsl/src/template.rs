//! String templates: `"Hi {{ customer.first_name }}"`, each placeholder a compiled expression.

use crate::diag::Problem;
use crate::expr::{Env, EvalError, Expr, Scope};
use crate::span::Span;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Text copied as is.
    Text(String),
    /// A placeholder.
    Expr(Expr),
}

/// A compiled template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The source text.
    pub source: String,
    /// Text and placeholders in order.
    pub parts: Vec<Part>,
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Template {
    /// Parses the template's text again.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let mut problems = Vec::new();
        let t = Template::parse(&text, 0, &crate::expr::deserialize_env(), &mut problems);
        if problems.is_empty() {
            Ok(t)
        } else {
            Err(serde::de::Error::custom(crate::expr::first_problem(
                &text, &problems,
            )))
        }
    }
}

impl Template {
    /// Whether a placeholder reads anything under `root`.
    pub fn reads(&self, root: crate::expr::Root) -> bool {
        self.parts.iter().any(|p| match p {
            Part::Text(_) => false,
            Part::Expr(e) => e.node.reads(root),
        })
    }

    /// Parses `text` found at byte `offset` of a file, collecting problems.
    pub fn parse(text: &str, offset: usize, env: &Env, problems: &mut Vec<Problem>) -> Template {
        let mut parts = Vec::new();
        let mut rest = 0;
        while let Some(open) = text[rest..].find("{{").map(|i| i + rest) {
            if open > rest {
                parts.push(Part::Text(text[rest..open].to_string()));
            }
            let Some(close) = text[open + 2..].find("}}").map(|i| i + open + 2) else {
                problems.push(
                    Problem::new(
                        "template",
                        Span::new(open, text.len()).shift(offset),
                        "`{{` is never closed",
                    )
                    .hint("close the placeholder with `}}`"),
                );
                return Template {
                    source: text.to_string(),
                    parts,
                };
            };
            let inner = &text[open + 2..close];
            let lead = inner.len() - inner.trim_start().len();
            if let Some(e) = Expr::compile_at(inner.trim(), offset + open + 2 + lead, env, problems)
            {
                parts.push(Part::Expr(e));
            }
            rest = close + 2;
        }
        if rest < text.len() {
            parts.push(Part::Text(text[rest..].to_string()));
        }
        Template {
            source: text.to_string(),
            parts,
        }
    }

    /// The single expression when the template is exactly one placeholder.
    pub fn as_single_expr(&self) -> Option<&Expr> {
        match self.parts.as_slice() {
            [Part::Expr(e)] => Some(e),
            _ => None,
        }
    }

    /// True when the template has no placeholders.
    pub fn is_plain(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// Renders the template; null placeholders render as empty text.
    pub fn render(&self, scope: &Scope<'_>) -> Result<String, EvalError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Expr(e) => out.push_str(&e.eval(scope)?.to_string()),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    #[test]
    fn renders_placeholders_and_text() {
        let mut problems = vec![];
        let t = Template::parse(
            "Hi {{ event.name }}, {{ event.n * 2 }} left",
            0,
            &Env::default(),
            &mut problems,
        );
        assert!(problems.is_empty());
        let ev = json!({"name": "Ada", "n": 2});
        assert_eq!(
            t.render(&Scope::with_event(&ev, Utc::now())).unwrap(),
            "Hi Ada, 4 left"
        );
    }

    #[test]
    fn unclosed_and_bad_placeholders_are_located() {
        let mut problems = vec![];
        Template::parse("x {{ event.a", 10, &Env::default(), &mut problems);
        assert_eq!(problems[0].span.start, 12);
        let mut problems = vec![];
        Template::parse("ab {{ nope(1) }}", 0, &Env::default(), &mut problems);
        assert_eq!(problems[0].code, "unknown-function");
        assert_eq!(problems[0].span.start, 6);
    }
}
