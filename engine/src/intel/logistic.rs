//! Logistic regression, fitted by smartcore (L-BFGS, L2 penalty), kept as plain weights so a
//! model can be stored as JSON and scored without the training library's types.

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};

/// A fitted linear model: one weight row and intercept per class (one row for two classes:
/// the second class's log-odds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    /// The class labels, sorted.
    pub classes: Vec<u32>,
    /// Weights, one row per class (one row when there are two classes).
    pub weights: Vec<Vec<f64>>,
    /// Intercepts, one per row of `weights`.
    pub intercepts: Vec<f64>,
}

/// Why fitting failed (too few classes, mismatched sizes).
#[derive(Debug, thiserror::Error)]
#[error("fitting the model: {0}")]
pub struct FitError(pub String);

impl Linear {
    /// Fits rows `x` (all of one length) to labels `y` with L2 penalty `alpha`.
    pub fn fit(x: &[Vec<f64>], y: &[u32], alpha: f64) -> Result<Linear, FitError> {
        let matrix = DenseMatrix::from_2d_vec(&x.to_vec()).map_err(|e| FitError(e.to_string()))?;
        let params = LogisticRegressionParameters::default().with_alpha(alpha);
        let model: LogisticRegression<f64, u32, DenseMatrix<f64>, Vec<u32>> =
            LogisticRegression::fit(&matrix, &y.to_vec(), params)
                .map_err(|e| FitError(e.to_string()))?;
        let (rows, cols) = model.coefficients().shape();
        Ok(Linear {
            classes: model.classes().clone(),
            weights: (0..rows)
                .map(|r| {
                    (0..cols)
                        .map(|c| *model.coefficients().get((r, c)))
                        .collect()
                })
                .collect(),
            intercepts: (0..rows).map(|r| *model.intercept().get((r, 0))).collect(),
        })
    }

    /// The score (log-odds, or logit per class) of each weight row for features `x`.
    pub fn scores(&self, x: &[f64]) -> Vec<f64> {
        self.weights
            .iter()
            .zip(&self.intercepts)
            .map(|(w, b)| w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() + b)
            .collect()
    }

    /// The probability of each class (in `classes` order) for features `x`.
    pub fn probabilities(&self, x: &[f64]) -> Vec<f64> {
        let scores = self.scores(x);
        if self.weights.len() == 1 {
            let p = sigmoid(scores[0]);
            return vec![1.0 - p, p];
        }
        let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let exp: Vec<f64> = scores.iter().map(|s| (s - top).exp()).collect();
        let sum: f64 = exp.iter().sum();
        exp.into_iter().map(|e| e / sum).collect()
    }

    /// The most probable class and its probability.
    pub fn predict(&self, x: &[f64]) -> (u32, f64) {
        let p = self.probabilities(x);
        let (i, best) = p
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .expect("at least two classes");
        (self.classes[i], *best)
    }
}

/// The logistic function.
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The area under the ROC curve of `scores` for labels `positive`: the chance a random
/// positive scores above a random negative (ties count half). `None` without both kinds.
pub fn auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let mut pairs: Vec<(f64, bool)> = scores
        .iter()
        .copied()
        .zip(positive.iter().copied())
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (pos, neg) = pairs.iter().fold(
        (0usize, 0usize),
        |(p, n), (_, y)| if *y { (p + 1, n) } else { (p, n + 1) },
    );
    if pos == 0 || neg == 0 {
        return None;
    }
    // Mann–Whitney U from average ranks (ties share their rank).
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i;
        while j + 1 < pairs.len() && pairs[j + 1].0 == pairs[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += rank * pairs[i..=j].iter().filter(|p| p.1).count() as f64;
        i = j + 1;
    }
    let u = rank_sum - (pos * (pos + 1)) as f64 / 2.0;
    Some(u / (pos * neg) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ordered_pairs_and_ties_half() {
        assert_eq!(
            auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
            Some(1.0)
        );
        assert_eq!(
            auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]),
            Some(0.0)
        );
        assert_eq!(auc(&[0.5, 0.5], &[false, true]), Some(0.5));
        assert_eq!(
            auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            Some(0.75)
        );
        assert_eq!(auc(&[0.1], &[true]), None);
    }

    #[test]
    fn a_separable_problem_is_learned_with_calibrated_direction() {
        let x: Vec<Vec<f64>> = (0..40).map(|i| vec![f64::from(i) / 10.0, 1.0]).collect();
        let y: Vec<u32> = (0..40).map(|i| u32::from(i >= 20)).collect();
        let m = Linear::fit(&x, &y, 0.1).unwrap();
        assert_eq!(m.classes, [0, 1]);
        assert!(m.probabilities(&[3.9, 1.0])[1] > 0.9);
        assert!(m.probabilities(&[0.0, 1.0])[1] < 0.1);
        assert_eq!(m.predict(&[3.0, 1.0]).0, 1);
    }

    #[test]
    fn three_classes_get_a_softmax() {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..30 {
            let c = i % 3;
            let mut row = vec![0.0; 3];
            row[c] = 1.0 + f64::from(i as u8) / 100.0;
            x.push(row);
            y.push(c as u32);
        }
        let m = Linear::fit(&x, &y, 0.01).unwrap();
        let p = m.probabilities(&[0.0, 1.0, 0.0]);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert_eq!(m.predict(&[0.0, 0.0, 1.0]).0, 2);
    }
}
