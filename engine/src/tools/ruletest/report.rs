//! Test results and their text: pass/fail per case, and for a missing action the closest call
//! with a field-by-field diff.

use super::spec::ExpectedAction;
use crate::clock::Millis;
use crate::core::actions::RecordedCall;
use crate::store::TimelineEntry;
use mikawaya_dsl::expr::format_duration;
use serde_json::Value;

/// The outcome of one case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// Failed expectations (empty: passed).
    pub failures: Vec<String>,
}

/// The outcome of one test file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileResult {
    /// The file.
    pub file: String,
    /// A problem that kept the file from running.
    pub error: Option<String>,
    /// Its cases.
    pub cases: Vec<CaseResult>,
}

impl FileResult {
    /// Cases passed and failed (a file error counts as one failure).
    pub fn counts(&self) -> (usize, usize) {
        let failed = self.cases.iter().filter(|c| !c.failures.is_empty()).count();
        (
            self.cases.len() - failed,
            failed + usize::from(self.error.is_some()),
        )
    }

    /// The report, as a test runner prints it.
    pub fn render(&self) -> String {
        let mut out = format!("{}\n", self.file);
        if let Some(e) = &self.error {
            out.push_str(&format!("  ✗ {e}\n"));
        }
        for c in &self.cases {
            if c.failures.is_empty() {
                out.push_str(&format!("  ✓ {}\n", c.name));
            } else {
                out.push_str(&format!("  ✗ {}\n", c.name));
                for f in &c.failures {
                    for (i, line) in f.lines().enumerate() {
                        out.push_str(if i == 0 { "      " } else { "        " });
                        out.push_str(line);
                        out.push('\n');
                    }
                }
            }
        }
        out
    }
}

fn rel(start: Millis, at: Millis) -> String {
    format!("+{}", format_duration(at - start))
}

/// Explains an expected action that no call matched, with a diff against the closest call.
pub fn missing_action(
    n: usize,
    want: &ExpectedAction,
    calls: &[RecordedCall],
    start: Millis,
) -> String {
    let at = want
        .at
        .as_deref()
        .map(|a| format!(" at +{a}"))
        .unwrap_or_default();
    let mut text = format!(
        "expected action #{} `{}`{at} with {} — no matching call (in order)",
        n + 1,
        want.action,
        Value::Object(want.with.clone())
    );
    let same: Vec<&RecordedCall> = calls.iter().filter(|c| c.action == want.action).collect();
    let Some(closest) = same.iter().min_by_key(|c| diff(&want.with, &c.input).len()) else {
        text.push_str(&format!("\n`{}` never ran", want.action));
        return text;
    };
    text.push_str(&format!("\nclosest call, at {}:", rel(start, closest.at)));
    for line in diff(&want.with, &closest.input) {
        text.push_str(&format!("\n  {line}"));
    }
    text
}

/// Field-by-field differences between expected and actual arguments.
fn diff(want: &serde_json::Map<String, Value>, got: &Value) -> Vec<String> {
    want.iter()
        .filter(|(k, v)| {
            !got.get(k.as_str())
                .is_some_and(|g| super::spec::subset(v, g))
        })
        .map(|(k, v)| match got.get(k.as_str()) {
            Some(g) => format!("- {k}: {v}\n  + {k}: {g}"),
            None => format!("- {k}: {v}\n  + {k}: (missing)"),
        })
        .collect()
}

/// All calls made, one per line.
pub fn calls_made(calls: &[RecordedCall], skipped: &[TimelineEntry], start: Millis) -> String {
    let mut text = if calls.is_empty() {
        String::from("calls made: none")
    } else {
        let mut text = String::from("calls made:");
        for c in calls {
            text.push_str(&format!(
                "\n  {:>6}  {} {}",
                rel(start, c.at),
                c.action,
                c.input
            ));
        }
        text
    };
    // A step restraint skipped made no call; say so, or "none" reads like a broken rule.
    if !skipped.is_empty() {
        text.push_str("\nsteps skipped:");
        for e in skipped {
            text.push_str(&format!(
                "\n  {:>6}  step {} {}: {}",
                rel(start, e.at),
                e.step_id,
                e.detail["action"].as_str().unwrap_or(""),
                e.detail["reason"].as_str().unwrap_or("")
            ));
        }
    }
    text
}
