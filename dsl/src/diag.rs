//! Diagnostics: every problem names its file, line and column, what is wrong and how to fix it.

use crate::span::{position, LineIndex, Pos, Span};
use std::fmt;
use std::sync::Arc;

/// Problems [`Diagnostics::render`] shows with source excerpts (the rest get one line each);
/// each excerpt copies and scans the file, so a large broken file with thousands of problems
/// took minutes to render them all.
pub const RENDERED_PROBLEMS: usize = 50;

/// One problem found in a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// A short stable code, e.g. `unknown-function`.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// Where in the file.
    pub span: Span,
    /// How to fix it, when we can tell.
    pub hint: Option<String>,
}

impl Problem {
    /// A problem with `code` and `message` at `span`.
    pub fn new(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Problem {
            code,
            message: message.into(),
            span,
            hint: None,
        }
    }

    /// The same problem with a hint on how to fix it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// All problems of one file, with the text needed to show them.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    /// The file name as given by the caller.
    pub file: String,
    /// The file's text.
    pub source: Arc<str>,
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl Diagnostics {
    /// Diagnostics for `file` with no problems yet.
    pub fn new(file: &str, source: &str) -> Self {
        Diagnostics {
            file: file.to_string(),
            source: Arc::from(source),
            problems: Vec::new(),
        }
    }

    /// Adds a problem.
    pub fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// True when no problem was found.
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// The line and column of a problem.
    pub fn pos(&self, problem: &Problem) -> Pos {
        position(&self.source, problem.span.start)
    }

    /// Sorts problems by position and drops exact duplicates.
    pub fn finish(mut self) -> Self {
        self.problems.sort_by_key(|p| (p.span.start, p.code));
        self.problems.dedup();
        self
    }

    /// One line per problem: `file:line:col: error[code]: message (hint: ...)`.
    pub fn to_plain(&self) -> String {
        let mut out = String::new();
        self.plain_lines(&self.problems, &LineIndex::new(&self.source), &mut out);
        out
    }

    fn plain_lines(&self, problems: &[Problem], lines: &LineIndex<'_>, out: &mut String) {
        for p in problems {
            let pos = lines.position(p.span.start);
            out.push_str(&format!(
                "{}:{}: error[{}]: {}",
                self.file, pos, p.code, p.message
            ));
            if let Some(h) = &p.hint {
                out.push_str(&format!("\n  hint: {h}"));
            }
            out.push('\n');
        }
    }

    /// A rich rendering with source excerpts (miette's graphical handler, no colours): the
    /// first [`RENDERED_PROBLEMS`] in full, the rest one line each.
    pub fn render(&self) -> String {
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .with_width(100);
        let mut out = String::new();
        let lines = LineIndex::new(&self.source);
        for p in self.problems.iter().take(RENDERED_PROBLEMS) {
            let report = RenderedProblem {
                problem: p.clone(),
                pos: lines.position(p.span.start),
                src: miette::NamedSource::new(self.file.clone(), self.source.to_string()),
            };
            let _ = handler.render_report(&mut out, &report);
        }
        let rest = &self.problems[self.problems.len().min(RENDERED_PROBLEMS)..];
        if !rest.is_empty() {
            out.push_str(&format!("… and {} more, one per line:\n", rest.len()));
            self.plain_lines(rest, &lines, &mut out);
        }
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_plain().trim_end())
    }
}

impl std::error::Error for Diagnostics {}

#[derive(Debug)]
struct RenderedProblem {
    problem: Problem,
    pos: Pos,
    src: miette::NamedSource<String>,
}

impl fmt::Display for RenderedProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at {})", self.problem.message, self.pos)
    }
}

impl std::error::Error for RenderedProblem {}

impl miette::Diagnostic for RenderedProblem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.problem.code))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.problem
            .hint
            .as_ref()
            .map(|h| Box::new(h.clone()) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.src)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = self.problem.span;
        let label = miette::LabeledSpan::new(Some("here".into()), span.start, span.len().max(1));
        Some(Box::new(std::iter::once(label)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_problems_render_the_first_in_full_and_the_rest_one_line_each() {
        let source = "x\n".repeat(200);
        let mut d = Diagnostics::new("big.yaml", &source);
        for i in 0..200 {
            d.push(Problem::new(
                "bad",
                Span::new(i * 2, i * 2 + 1),
                format!("problem {i}"),
            ));
        }
        let text = d.render();
        assert!(text.contains("… and 150 more, one per line:"), "{text}");
        assert!(text.contains("big.yaml:200:1: error[bad]: problem 199"));
        assert!(text.contains("problem 49") && !text.contains("big.yaml:50:1: error[bad]"));
        assert_eq!(d.to_plain().lines().count(), 200);
    }
}
