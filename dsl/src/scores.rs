//! Scores: points a customer earns from events (`workflows/scores/*.yaml`), with an optional
//! half-life and bounds. One file declares one score:
//!
//! ```yaml
//! score: lead
//! description: How warm a lead is.
//! half_life: 14d
//! min: 0
//! max: 100
//! points:
//!   lead.form_submitted where event.form == "demo": 30
//!   email.opened: 5
//!   email.unsubscribed: -20
//! ```
//!
//! Each `points` key is an event type, optionally followed by `where` and a condition on the
//! event and the customer (checked like a workflow's, against the event catalog); the value is
//! the points, negative to take some away. Workflows read the score as `customer.score.lead`.

use crate::catalog::EventCatalog;
use crate::diag::{Diagnostics, Problem};
use crate::expr::{parse_duration, Env, Expr};
use crate::locate::{declared_twice, Locator, Seg};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The folder of score files inside a workflows folder.
pub const SCORES_DIR: &str = "scores";

/// A score file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreFile {
    score: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    half_life: Option<String>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    points: serde_yaml::Mapping,
}

/// One way to earn (or lose) points.
#[derive(Debug, Clone, Serialize)]
pub struct ScoreRule {
    /// The event type.
    pub event: String,
    /// The condition on `event` and `customer`, if any.
    pub condition: Option<Expr>,
    /// Points added (negative: taken away).
    pub points: f64,
    /// The rule as written (`page.viewed where event.page == "pricing"`): what a score's
    /// history says earned the points. Shared, not copied, by every change it makes.
    #[serde(serialize_with = "shared_str")]
    pub text: std::sync::Arc<str>,
    /// The name of the score it belongs to (shared with every change it makes).
    #[serde(skip)]
    pub score: std::sync::Arc<str>,
}

fn shared_str<S: serde::Serializer>(s: &std::sync::Arc<str>, to: S) -> Result<S::Ok, S::Error> {
    to.serialize_str(s)
}

/// A checked score declaration.
#[derive(Debug, Clone, Serialize)]
pub struct ScoreDef {
    /// The name (`customer.score.<name>`).
    pub name: String,
    /// Free text for people.
    pub description: Option<String>,
    /// Points lose half their weight in this long; `None`: they keep it.
    pub half_life_ms: Option<i64>,
    /// The lowest value; `None`: no bound.
    pub min: Option<f64>,
    /// The highest value; `None`: no bound.
    pub max: Option<f64>,
    /// The rules, in file order.
    pub rules: Vec<ScoreRule>,
    /// The file declaring it.
    pub file: String,
}

/// The scores in force, with their rules indexed by event type.
#[derive(Debug, Clone, Default)]
pub struct Scores {
    defs: Vec<ScoreDef>,
    by_event: HashMap<String, Vec<(usize, usize)>>,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks one score file: its fields, each rule's event type and condition, the bounds.
pub fn parse_score(
    file: &str,
    text: &str,
    catalog: &EventCatalog,
) -> Result<ScoreDef, Diagnostics> {
    let doc: ScoreFile = crate::yaml::read_yaml(file, text)?;
    let mut diags = Diagnostics::new(file, text);
    let loc = Locator::new(text);
    let problem = |path: &[Seg<'_>], message: String, hint: &str| {
        Problem::new("score", loc.span(path), message).hint(hint)
    };
    if !valid_name(&doc.score) {
        diags.push(problem(&[Seg::Key("score")], format!("`{}` cannot name a score", doc.score), "use lowercase letters, digits and `_`, starting with a letter (`lead`, `churn_risk`): workflows read it as `customer.score.<name>`"));
    }
    let half_life_ms = doc.half_life.as_deref().and_then(|h| {
        let ms = parse_duration(h).filter(|ms| *ms > 0);
        if ms.is_none() {
            diags.push(problem(&[Seg::Key("half_life")], format!("`{h}` is not a duration"), "write a duration such as `14d` or `12h`, or leave `half_life` out for points that keep their weight"));
        }
        ms
    });
    if let (Some(lo), Some(hi)) = (doc.min, doc.max) {
        if lo >= hi {
            diags.push(problem(
                &[Seg::Key("max")],
                format!("max {hi} is not above min {lo}"),
                "make `max` larger than `min`",
            ));
        }
    }
    let mut rules = Vec::new();
    for (key, value) in &doc.points {
        let Some(key) = key.as_str() else {
            diags.push(problem(
                &[Seg::Key("points")],
                "a `points` key must be an event type".into(),
                "write `event.type: 10` or `event.type where <condition>: 10`",
            ));
            continue;
        };
        let at = loc.key_span(&[Seg::Key("points")], key).start;
        let points = match value.as_f64() {
            Some(p) if p.is_finite() => p,
            _ => {
                diags.push(
                    Problem::new(
                        "score",
                        loc.span(&[Seg::Key("points"), Seg::Key(key)]),
                        format!("the points of `{key}` are not a number"),
                    )
                    .hint("write a number: `30`, `-20`, `2.5`"),
                );
                continue;
            }
        };
        let (event, condition_text) = match key.split_once(" where ") {
            Some((e, c)) => (e.trim(), Some(c)),
            None => (key.trim(), None),
        };
        let env = Env {
            entity: None,
            event: catalog.event_shape(event),
        };
        let condition = condition_text.and_then(|c| {
            let quoted = usize::from(text[at..].starts_with(['"', '\'']));
            let offset = at + quoted + key.find(c).unwrap_or(0);
            let mut problems = Vec::new();
            let expr = Expr::compile_at(c, offset, &env, &mut problems);
            let clean = problems.is_empty();
            problems.into_iter().for_each(|p| diags.push(p));
            expr.filter(|_| clean)
        });
        rules.push(ScoreRule {
            event: event.to_string(),
            condition,
            points,
            text: key.trim().into(),
            score: doc.score.as_str().into(),
        });
    }
    if rules.is_empty() && diags.is_empty() {
        diags.push(problem(
            &[Seg::Key("points")],
            "the score has no rules".into(),
            "add one under `points`, e.g. `email.opened: 5`",
        ));
    }
    if !diags.is_empty() {
        return Err(diags.finish());
    }
    Ok(ScoreDef {
        name: doc.score,
        description: doc.description,
        half_life_ms,
        min: doc.min,
        max: doc.max,
        rules,
        file: file.to_string(),
    })
}

impl Scores {
    /// Builds the scores from `(file, text)` pairs; every file with a problem is reported (a
    /// score declared twice is one).
    pub fn from_files(
        files: &[(String, String)],
        catalog: &EventCatalog,
    ) -> Result<Scores, Vec<Diagnostics>> {
        let mut scores = Scores::default();
        let mut failed = Vec::new();
        for (file, text) in files {
            match parse_score(file, text, catalog) {
                Ok(def) => {
                    if let Some(first) = scores.get(&def.name) {
                        let what =
                            format!("score `{}` is already declared in {}", def.name, first.file);
                        failed.push(declared_twice(file, text, "score", what));
                        continue;
                    }
                    let index = scores.defs.len();
                    for (r, rule) in def.rules.iter().enumerate() {
                        scores
                            .by_event
                            .entry(rule.event.clone())
                            .or_default()
                            .push((index, r));
                    }
                    scores.defs.push(def);
                }
                Err(d) => failed.push(d),
            }
        }
        if failed.is_empty() {
            Ok(scores)
        } else {
            Err(failed)
        }
    }

    /// The score called `name`.
    pub fn get(&self, name: &str) -> Option<&ScoreDef> {
        self.defs.iter().find(|d| d.name == name)
    }

    /// Every score, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &ScoreDef> {
        self.defs.iter()
    }

    /// The rules listening to `event_type`, each with its score.
    pub fn rules_for<'a>(
        &'a self,
        event_type: &str,
    ) -> impl Iterator<Item = (&'a ScoreDef, &'a ScoreRule)> + 'a {
        self.by_event
            .get(event_type)
            .into_iter()
            .flatten()
            .map(|&(d, r)| (&self.defs[d], &self.defs[d].rules[r]))
    }

    /// True when no score is declared.
    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }
}

#[cfg(test)]
mod tests;
