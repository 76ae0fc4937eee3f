//! Prediction models (`workflows/models/*.yaml`), one per file: who is scored, what is
//! predicted, from which features — all expressions over the customer and their history:
//!
//! ```yaml
//! model: churn
//! description: Chance the customer places no order in the next 90 days.
//! horizon: 90d
//! population: count(order.placed, 365d) >= 1
//! label: count(order.placed, 90d) == 0
//! features:
//!   days_since_order: days_since(last(order.placed))
//!   orders_365d: count(order.placed, 365d)
//! ```
//!
//! Training (`mikawaya model train churn`) evaluates `population` and the features as of
//! `horizon` ago and `label` now, for every customer in the stored history; the fitted model
//! is then `customer.predict.churn` in expressions.

use crate::diag::{Diagnostics, Problem};
use crate::expr::{parse_duration, Aggregate, Env, Expr, Root};
use crate::locate::{declared_twice, Locator, Seg};
use serde::{Deserialize, Serialize};

/// The folder of model files inside a workflows folder.
pub const MODELS_DIR: &str = "models";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    model: String,
    #[serde(default)]
    description: Option<String>,
    horizon: String,
    population: String,
    label: String,
    features: serde_yaml::Mapping,
}

/// A checked model declaration.
#[derive(Debug, Clone, Serialize)]
pub struct ModelDef {
    /// The name (`customer.predict.<name>`).
    pub name: String,
    /// Free text for people.
    pub description: Option<String>,
    /// How far ahead the label looks, in milliseconds.
    pub horizon_ms: i64,
    /// Who is scored.
    pub population: Expr,
    /// What is predicted, evaluated `horizon` after the features.
    pub label: Expr,
    /// The features, by name, in file order.
    pub features: Vec<(String, Expr)>,
    /// The file declaring it.
    pub file: String,
}

impl ModelDef {
    /// Every history aggregate the model reads.
    pub fn aggregates(&self) -> Vec<Aggregate> {
        let mut out = Vec::new();
        self.population.node.aggregates(&mut out);
        self.label.node.aggregates(&mut out);
        for (_, f) in &self.features {
            f.node.aggregates(&mut out);
        }
        out.into_iter().cloned().collect()
    }
}

/// Reads and checks one model file.
pub fn parse_model(file: &str, text: &str) -> Result<ModelDef, Diagnostics> {
    let doc: ModelFile = crate::yaml::read_yaml(file, text)?;
    let mut diags = Diagnostics::new(file, text);
    let loc = Locator::new(text);
    let compile = |path: &[Seg<'_>], source: &str, diags: &mut Diagnostics| {
        let at = loc.span(path).start;
        let quoted = usize::from(text[at..].starts_with(['"', '\'']));
        let mut problems = Vec::new();
        let e = Expr::compile_at(source, at + quoted, &Env::default(), &mut problems);
        if let Some(e) = e.as_ref().filter(|e| e.node.reads(Root::Event)) {
            problems.push(
                Problem::new(
                    "model",
                    loc.span(path),
                    format!("`{e}` reads `event`: a model is about the customer"),
                )
                .hint("read the customer and their history: `count(order.placed, 30d)`"),
            );
        }
        let clean = problems.is_empty();
        problems.into_iter().for_each(|p| diags.push(p));
        e.filter(|_| clean)
    };
    let population = compile(&[Seg::Key("population")], &doc.population, &mut diags);
    let label = compile(&[Seg::Key("label")], &doc.label, &mut diags);
    let mut features = Vec::new();
    for (key, value) in &doc.features {
        let (Some(name), Some(source)) = (key.as_str(), value.as_str()) else {
            diags.push(
                Problem::new(
                    "model",
                    loc.span(&[Seg::Key("features")]),
                    "each feature is `name: expression`".to_string(),
                )
                .hint("e.g. `orders_90d: count(order.placed, 90d)`"),
            );
            continue;
        };
        if let Some(e) = compile(&[Seg::Key("features"), Seg::Key(name)], source, &mut diags) {
            features.push((name.to_string(), e));
        }
    }
    if doc.features.is_empty() {
        diags.push(
            Problem::new(
                "model",
                loc.span(&[Seg::Key("features")]),
                "the model has no features".to_string(),
            )
            .hint("add one, e.g. `orders_90d: count(order.placed, 90d)`"),
        );
    }
    let horizon_ms = parse_duration(&doc.horizon).filter(|h| *h > 0);
    if horizon_ms.is_none() {
        diags.push(
            Problem::new(
                "model",
                loc.span(&[Seg::Key("horizon")]),
                format!("`{}` is not a duration", doc.horizon),
            )
            .hint("write how far ahead the label looks, e.g. `90d`"),
        );
    }
    match (population, label, horizon_ms) {
        (Some(population), Some(label), Some(horizon_ms)) if diags.is_empty() => Ok(ModelDef {
            name: doc.model,
            description: doc.description,
            horizon_ms,
            population,
            label,
            features,
            file: file.to_string(),
        }),
        _ => Err(diags.finish()),
    }
}

/// Reads every model file; every file with a problem is reported (a name declared twice too).
pub fn models_from_files(files: &[(String, String)]) -> Result<Vec<ModelDef>, Vec<Diagnostics>> {
    let mut defs: Vec<ModelDef> = Vec::new();
    let mut failed = Vec::new();
    for (file, text) in files {
        match parse_model(file, text) {
            Ok(def) => match defs.iter().find(|d| d.name == def.name) {
                Some(first) => {
                    let what =
                        format!("model `{}` is already declared in {}", def.name, first.file);
                    failed.push(declared_twice(file, text, "model", what));
                }
                None => defs.push(def),
            },
            Err(d) => failed.push(d),
        }
    }
    if failed.is_empty() {
        Ok(defs)
    } else {
        Err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHURN: &str = "model: churn\nhorizon: 90d\npopulation: count(order.placed, 365d) >= 1\nlabel: count(order.placed, 90d) == 0\nfeatures:\n  recency: days_since(last(order.placed))\n  spent: sum(order.placed.total, 365d)\n";

    #[test]
    fn a_model_reads_with_its_features_in_order() {
        let m = parse_model("models/churn.yaml", CHURN).unwrap();
        assert_eq!(m.horizon_ms, 90 * 86_400_000);
        let names: Vec<&str> = m.features.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["recency", "spent"]);
        let aggs: Vec<String> = m.aggregates().iter().map(|a| a.to_string()).collect();
        assert!(aggs.contains(&"sum(order.placed.total, 365d)".to_string()));
    }

    #[test]
    fn problems_name_the_line() {
        let bad = CHURN.replace(
            "days_since(last(order.placed))",
            "days_since(lst(order.placed))",
        );
        let err = parse_model("m.yaml", &bad).unwrap_err();
        assert!(err.to_plain().contains("m.yaml:6:"), "{}", err.to_plain());
        let bad = CHURN.replace("90d\npop", "soon\npop");
        assert!(parse_model("m.yaml", &bad)
            .unwrap_err()
            .to_plain()
            .contains("not a duration"));
        let twice = models_from_files(&[
            ("a.yaml".into(), CHURN.into()),
            ("b.yaml".into(), CHURN.into()),
        ])
        .unwrap_err();
        assert!(twice[0].to_plain().contains("already declared in a.yaml"));
    }
}
