//! Training and scoring the prediction models of `workflows/models/` ([`ModelDef`]): a
//! logistic regression over the model's features, each standardised, trained from the stored
//! event history as it stood `horizon` ago (features) and as it stands now (label), evaluated
//! on a held-out quarter of the customers (AUC, calibration, Brier score, against the first
//! feature alone as the trivial baseline).

use crate::clock::Millis;
use crate::event::Event;
use crate::intel::logistic::{auc, Linear};
use mikawaya_dsl::expr::{Env, Expr, Scope, Val};
use mikawaya_dsl::models::ModelDef;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// L2 penalty of the regression.
const ALPHA: f64 = 1.0;
/// Calibration bins.
const BINS: usize = 5;

/// One customer's row: features as of the cutoff, the label now.
#[derive(Debug, Clone)]
pub struct Row {
    /// The customer.
    pub customer: String,
    /// Feature values (null and non-numbers as 0).
    pub x: Vec<f64>,
    /// The label.
    pub y: bool,
}

/// A number for a feature value: numbers as they are, booleans as 0/1, the rest 0.
fn number(v: Result<Val<'_>, mikawaya_dsl::expr::EvalError>) -> f64 {
    match v {
        Ok(Val::Num(n)) if n.is_finite() => n,
        Ok(Val::Bool(b)) => f64::from(u8::from(b)),
        _ => 0.0,
    }
}

/// Evaluates `exprs` on the customer `attrs` (with its history digest) at `now`.
pub fn evaluate(exprs: &[&Expr], customer: &Value, now: Millis) -> Vec<f64> {
    let null = Value::Null;
    let scope = Scope {
        customer,
        ..Scope::with_event(&null, crate::clock::to_time(now))
    };
    exprs.iter().map(|e| number(e.eval(&scope))).collect()
}

/// The rows of `def` from `events` (in time order): the customers in the population as of
/// `now - horizon`, their features then, and their label at `now`.
pub fn dataset(def: &ModelDef, events: &[Event], now: Millis) -> Vec<Row> {
    let tracked = crate::core::history::Tracked::of(&def.aggregates());
    let cutoff = now - def.horizon_ms;
    let mut customers: HashMap<&str, Map<String, Value>> = HashMap::new();
    fn feed<'e>(
        tracked: &crate::core::history::Tracked,
        ev: &'e Event,
        customers: &mut HashMap<&'e str, Map<String, Value>>,
    ) {
        let Some(id) = ev.customer_id.as_deref() else {
            return;
        };
        let attrs = customers.entry(id).or_default();
        crate::store::merge::merge_patch(attrs, &ev.customer);
        if let Some(Value::Object(patch)) = tracked.record(ev, attrs, ev.occurred_at) {
            crate::store::merge::merge_patch(attrs, &patch);
        }
    }
    let split = events.partition_point(|e| e.occurred_at <= cutoff);
    events[..split]
        .iter()
        .for_each(|e| feed(&tracked, e, &mut customers));
    let features: Vec<&Expr> = def.features.iter().map(|(_, e)| e).collect();
    let mut rows: Vec<Row> = Vec::new();
    for (id, attrs) in &customers {
        let customer = Value::Object(attrs.clone());
        if evaluate(&[&def.population], &customer, cutoff)[0] == 0.0 {
            continue;
        }
        rows.push(Row {
            customer: id.to_string(),
            x: evaluate(&features, &customer, cutoff),
            y: false,
        });
    }
    events[split..]
        .iter()
        .filter(|e| e.occurred_at <= now)
        .for_each(|e| feed(&tracked, e, &mut customers));
    for row in &mut rows {
        let customer = Value::Object(customers[row.customer.as_str()].clone());
        row.y = evaluate(&[&def.label], &customer, now)[0] != 0.0;
    }
    rows.sort_by(|a, b| a.customer.cmp(&b.customer));
    rows
}

/// Whether a customer is in the held-out quarter (by a hash of their id).
fn held_out(customer: &str) -> bool {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    customer.hash(&mut h);
    h.finish().is_multiple_of(4)
}

/// One calibration bin: customers whose predicted chance fell in it, the mean prediction and
/// the rate observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bin {
    /// Customers in the bin.
    pub customers: usize,
    /// Their mean predicted chance.
    pub predicted: f64,
    /// The share of them whose label was true.
    pub observed: f64,
}

/// How a trained model did on the held-out customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Evaluation {
    /// Customers trained on.
    pub train_rows: usize,
    /// Customers held out.
    pub test_rows: usize,
    /// The share of held-out customers whose label was true.
    pub positive_rate: f64,
    /// Area under the ROC curve on the held-out customers.
    pub auc: f64,
    /// The same for the trivial baseline: the first feature alone (in whichever direction
    /// ranks better).
    pub baseline_auc: f64,
    /// The baseline feature.
    pub baseline_feature: String,
    /// Mean squared error of the predicted chances.
    pub brier: f64,
    /// Predicted vs observed by quintile of prediction.
    pub calibration: Vec<Bin>,
}

/// A trained model, as stored (`model train` writes a new version each time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedModel {
    /// The model's name.
    pub name: String,
    /// 1, 2, …
    pub version: u32,
    /// When it was trained.
    pub trained_at: Millis,
    /// Feature names and their expressions, as trained.
    pub features: Vec<(String, String)>,
    /// Feature means over the training rows.
    pub means: Vec<f64>,
    /// Feature standard deviations (1 where a feature did not vary).
    pub stds: Vec<f64>,
    /// The fitted regression over standardised features.
    pub linear: Linear,
    /// How it did on held-out customers.
    pub evaluation: Evaluation,
}

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Too few customers, or all with the same label.
    #[error("{0}")]
    Data(String),
    /// The regression failed.
    #[error(transparent)]
    Fit(#[from] crate::intel::logistic::FitError),
}

fn standardise(rows: &[&Row], width: usize) -> (Vec<f64>, Vec<f64>) {
    let n = rows.len().max(1) as f64;
    let means: Vec<f64> = (0..width)
        .map(|j| rows.iter().map(|r| r.x[j]).sum::<f64>() / n)
        .collect();
    let stds = (0..width)
        .map(|j| {
            let var = rows
                .iter()
                .map(|r| (r.x[j] - means[j]).powi(2))
                .sum::<f64>()
                / n;
            if var > 1e-12 {
                var.sqrt()
            } else {
                1.0
            }
        })
        .collect();
    (means, stds)
}

impl TrainedModel {
    /// Trains version `version` of `def` on `rows` at `now`.
    pub fn train(
        def: &ModelDef,
        rows: &[Row],
        version: u32,
        now: Millis,
    ) -> Result<TrainedModel, TrainError> {
        let (test, train): (Vec<&Row>, Vec<&Row>) =
            rows.iter().partition(|r| held_out(&r.customer));
        let positives = train.iter().filter(|r| r.y).count();
        if train.len() < 20 || test.len() < 5 || positives == 0 || positives == train.len() {
            return Err(TrainError::Data(format!(
                "{} customers ({positives} with a true label) are too few to train on: the model needs at least 20 with both labels; generate a history with `mikawaya demo-data` or wait for more events",
                train.len()
            )));
        }
        let width = def.features.len();
        let (means, stds) = standardise(&train, width);
        let z =
            |r: &Row| -> Vec<f64> { (0..width).map(|j| (r.x[j] - means[j]) / stds[j]).collect() };
        let x: Vec<Vec<f64>> = train.iter().map(|r| z(r)).collect();
        let y: Vec<u32> = train.iter().map(|r| u32::from(r.y)).collect();
        let linear = Linear::fit(&x, &y, ALPHA)?;
        let mut model = TrainedModel {
            name: def.name.clone(),
            version,
            trained_at: now,
            features: def
                .features
                .iter()
                .map(|(n, e)| (n.clone(), e.source.clone()))
                .collect(),
            means,
            stds,
            linear,
            evaluation: Evaluation {
                train_rows: train.len(),
                test_rows: test.len(),
                positive_rate: 0.0,
                auc: 0.0,
                baseline_auc: 0.0,
                baseline_feature: def.features[0].0.clone(),
                brier: 0.0,
                calibration: Vec::new(),
            },
        };
        let predicted: Vec<f64> = test.iter().map(|r| model.chance(&r.x)).collect();
        let labels: Vec<bool> = test.iter().map(|r| r.y).collect();
        let first: Vec<f64> = test.iter().map(|r| r.x[0]).collect();
        let e = &mut model.evaluation;
        e.positive_rate = labels.iter().filter(|y| **y).count() as f64 / labels.len() as f64;
        e.auc = auc(&predicted, &labels).unwrap_or(0.5);
        let base = auc(&first, &labels).unwrap_or(0.5);
        e.baseline_auc = base.max(1.0 - base);
        e.brier = predicted
            .iter()
            .zip(&labels)
            .map(|(p, y)| (p - f64::from(u8::from(*y))).powi(2))
            .sum::<f64>()
            / labels.len() as f64;
        e.calibration = calibration(&predicted, &labels);
        Ok(model)
    }

    /// The predicted chance for raw feature values `x`.
    pub fn chance(&self, x: &[f64]) -> f64 {
        self.linear.probabilities(&self.standardised(x))[1]
    }

    fn standardised(&self, x: &[f64]) -> Vec<f64> {
        x.iter()
            .zip(self.means.iter().zip(&self.stds))
            .map(|(v, (m, s))| (v - m) / s)
            .collect()
    }

    /// What each feature adds to the log-odds for raw values `x` (weight × standardised value),
    /// largest effect first.
    pub fn contributions(&self, x: &[f64]) -> Vec<Contribution> {
        let z = self.standardised(x);
        let w = &self.linear.weights[0];
        let mut out: Vec<Contribution> = self
            .features
            .iter()
            .enumerate()
            .map(|(j, (name, _))| Contribution {
                feature: name.clone(),
                value: x[j],
                contribution: (w[j] * z[j] * 1000.0).round() / 1000.0,
            })
            .collect();
        out.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
        out
    }

    /// The feature expressions, compiled (they were checked when the model was declared).
    pub fn compiled_features(&self) -> Result<Vec<Expr>, String> {
        self.features
            .iter()
            .map(|(name, src)| {
                Expr::parse(src, &Env::default()).map_err(|p| {
                    format!(
                        "feature `{name}` of model `{}`: {}",
                        self.name,
                        p.first().map_or("", |p| p.message.as_str())
                    )
                })
            })
            .collect()
    }
}

/// One feature's part in a prediction.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Contribution {
    /// The feature.
    pub feature: String,
    /// Its value for the customer.
    pub value: f64,
    /// What it adds to the log-odds (negative: lowers the chance).
    pub contribution: f64,
}

/// Predicted vs observed rate in quintiles of the predictions.
pub fn calibration(predicted: &[f64], labels: &[bool]) -> Vec<Bin> {
    let mut pairs: Vec<(f64, bool)> = predicted
        .iter()
        .copied()
        .zip(labels.iter().copied())
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let size = pairs.len().div_ceil(BINS).max(1);
    pairs
        .chunks(size)
        .map(|c| Bin {
            customers: c.len(),
            predicted: c.iter().map(|p| p.0).sum::<f64>() / c.len() as f64,
            observed: c.iter().filter(|p| p.1).count() as f64 / c.len() as f64,
        })
        .collect()
}

#[cfg(test)]
mod tests;
