//! Experiments: which variant a customer takes, and how sure a conversion rate is.
//!
//! Assignment is sticky without storing anything: the variant is picked from a SHA-256 hash of
//! the experiment's name and the customer's id, so a customer who enters again (or a replay of
//! the history) takes the same variant, and two experiments split the same customers
//! independently.

use sha2::{Digest, Sha256};

/// The index of the variant `unit` (a customer id) takes in `experiment`, whose variants have
/// `weights` (at least one positive).
pub fn assign(experiment: &str, unit: &str, weights: &[u32]) -> usize {
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    if total == 0 {
        return 0;
    }
    let digest = Sha256::new()
        .chain_update(experiment.as_bytes())
        .chain_update([0u8])
        .chain_update(unit.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // 2^64 is a multiple of no weight total worth worrying about: the modulo bias is below
    // total / 2^64.
    let mut point = u64::from_be_bytes(first) % total;
    for (i, w) in weights.iter().enumerate() {
        if point < u64::from(*w) {
            return i;
        }
        point -= u64::from(*w);
    }
    weights.len() - 1
}

/// Whether `unit` is in a stable `percent` of all customers named by `salt` (the global
/// control group: customers who get no marketing at all).
pub fn in_share(salt: &str, unit: &str, percent: f64) -> bool {
    let scale = 1_000_000u32;
    let inside = ((percent / 100.0) * f64::from(scale)).round() as u32;
    assign(salt, unit, &[inside.min(scale), scale - inside.min(scale)]) == 0 && inside > 0
}

/// The 95% Wilson score interval of `converted` out of `entered` (0..1 each end); `(0, 0)` with
/// nobody entered.
pub fn wilson_interval(converted: u64, entered: u64) -> (f64, f64) {
    if entered == 0 {
        return (0.0, 0.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let n = entered as f64;
    let p = converted as f64 / n;
    let denominator = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denominator;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denominator;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10,000 customers land within ±2 points of each weight, and each takes the same variant
    /// every time.
    #[test]
    fn assignment_follows_the_weights_and_is_sticky() {
        let weights = [45, 45, 10];
        let mut counts = [0u32; 3];
        for i in 0..10_000 {
            let customer = format!("customer-{i}");
            let v = assign("reminder-test", &customer, &weights);
            assert_eq!(assign("reminder-test", &customer, &weights), v);
            counts[v] += 1;
        }
        for (count, weight) in counts.iter().zip(weights) {
            let share = f64::from(*count) / 100.0;
            assert!((share - f64::from(weight)).abs() <= 2.0, "{counts:?}");
        }
        // Another experiment splits the same customers independently.
        let same = (0..1_000)
            .filter(|i| {
                let c = format!("customer-{i}");
                assign("a", &c, &[50, 50]) == assign("b", &c, &[50, 50])
            })
            .count();
        assert!((400..600).contains(&same), "{same}");
    }

    #[test]
    fn a_global_control_share_is_stable_and_about_its_size() {
        let inside = (0..10_000)
            .filter(|i| in_share("global-control", &format!("c{i}"), 5.0))
            .count();
        assert!((400..600).contains(&inside), "{inside}");
        assert!(!(0..1_000).any(|i| in_share("global-control", &format!("c{i}"), 0.0)));
        assert!((0..1_000).all(|i| in_share("global-control", &format!("c{i}"), 100.0)));
    }

    #[test]
    fn the_wilson_interval_matches_known_values() {
        // 10 of 100: the textbook interval is 0.0552 to 0.1744.
        let (lo, hi) = wilson_interval(10, 100);
        assert!(
            (lo - 0.0552).abs() < 1e-3 && (hi - 0.1744).abs() < 1e-3,
            "{lo} {hi}"
        );
        assert_eq!(wilson_interval(0, 0), (0.0, 0.0));
        let (lo, hi) = wilson_interval(0, 20);
        assert!(lo == 0.0 && hi > 0.15 && hi < 0.17, "{hi}");
    }
}
