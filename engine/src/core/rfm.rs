//! RFM: each buying customer's recency, frequency and monetary value as quintiles 1–5 (5 is
//! best: most recent, most frequent, most spent), against the breakpoints of the whole customer
//! base. The breakpoints are recomputed by the segment sweep ([`crate::core::sweep`]) and kept
//! in the store; between sweeps a customer's quintiles follow their own history at once.

use crate::clock::Millis;
use mikawaya_dsl::expr::{Scope, Val};
use mikawaya_dsl::segments::RfmConfig;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A customer's raw measures: days since the last purchase, purchases and amount in the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measures {
    /// Days since the last purchase.
    pub recency_days: f64,
    /// Purchases in the window.
    pub frequency: f64,
    /// Amount spent in the window.
    pub monetary: f64,
}

/// The quintile breakpoints of the customer base: for each measure, the values at 20, 40, 60
/// and 80 % of the customers (sorted ascending).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RfmBreaks {
    /// Days since the last purchase.
    pub recency_days: [f64; 4],
    /// Purchases in the window.
    pub frequency: [f64; 4],
    /// Amount spent in the window.
    pub monetary: [f64; 4],
    /// How many buying customers they were computed from.
    pub customers: usize,
    /// When.
    pub computed_at: Millis,
}

/// The values at 20/40/60/80 % of `values` (nearest rank: the smallest value with at least that
/// share of values at or below it). `None` for no values.
pub fn quintile_breaks(values: &mut [f64]) -> Option<[f64; 4]> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some([1, 2, 3, 4].map(|k| values[(k * n).div_ceil(5) - 1]))
}

/// The quintile (1–5) of `v`: 1 plus how many breakpoints it is above; reversed when a lower
/// value is better (recency).
pub fn quintile(breaks: &[f64; 4], v: f64, lower_is_better: bool) -> u8 {
    let above = breaks.iter().filter(|b| v > **b).count() as u8;
    if lower_is_better {
        5 - above
    } else {
        1 + above
    }
}

/// The measures of the customer in `customer` (as expressions see it, with its history
/// digest) at `now`; `None` when they bought nothing in the window.
pub fn measures(cfg: &RfmConfig, customer: &Value, now: Millis) -> Option<Measures> {
    let time = crate::clock::to_time(now);
    let null = Value::Null;
    let scope = Scope {
        customer,
        ..Scope::with_event(&null, time)
    };
    let [last, count, sum] = cfg.aggregates();
    let num = |v: Result<Val<'_>, _>| match v {
        Ok(Val::Num(n)) => Some(n),
        _ => None,
    };
    let frequency = num(count.eval(&scope)).filter(|n| *n > 0.0)?;
    let Ok(Val::Time(last)) = last.eval(&scope) else {
        return None;
    };
    Some(Measures {
        recency_days: (time - last).num_milliseconds() as f64 / 86_400_000.0,
        frequency,
        monetary: num(sum.eval(&scope)).unwrap_or(0.0),
    })
}

impl RfmBreaks {
    /// The breakpoints of `all` customers' measures at `now`; `None` when nobody bought.
    pub fn of(all: &[Measures], now: Millis) -> Option<RfmBreaks> {
        let pick = |f: fn(&Measures) -> f64| {
            let mut v: Vec<f64> = all.iter().map(f).collect();
            quintile_breaks(&mut v)
        };
        Some(RfmBreaks {
            recency_days: pick(|m| m.recency_days)?,
            frequency: pick(|m| m.frequency)?,
            monetary: pick(|m| m.monetary)?,
            customers: all.len(),
            computed_at: now,
        })
    }

    /// `customer.rfm`: `{r, f, m, code}` (`code` is `"545"`), for measures `m`.
    pub fn value(&self, m: &Measures) -> Value {
        let r = quintile(&self.recency_days, m.recency_days, true);
        let f = quintile(&self.frequency, m.frequency, false);
        let mo = quintile(&self.monetary, m.monetary, false);
        serde_json::json!({ "r": r, "f": f, "m": mo, "code": format!("{r}{f}{mo}") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintiles_of_one_to_a_hundred_are_twenties() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let b = quintile_breaks(&mut v).unwrap();
        assert_eq!(b, [20.0, 40.0, 60.0, 80.0]);
        let q = |x: f64| quintile(&b, x, false);
        assert_eq!(
            [q(1.0), q(20.0), q(21.0), q(60.0), q(61.0), q(100.0)],
            [1, 1, 2, 3, 4, 5]
        );
        let r = |x: f64| quintile(&b, x, true);
        assert_eq!([r(1.0), r(20.0), r(21.0), r(100.0)], [5, 5, 4, 1]);
        assert!(quintile_breaks(&mut []).is_none());
    }

    #[test]
    fn a_known_customer_base_gets_its_textbook_scores() {
        // Ten customers: i days since the last order, i orders, 100·i spent.
        let all: Vec<Measures> = (1..=10)
            .map(|i| Measures {
                recency_days: f64::from(i),
                frequency: f64::from(i),
                monetary: 100.0 * f64::from(i),
            })
            .collect();
        let b = RfmBreaks::of(&all, 0).unwrap();
        assert_eq!(b.frequency, [2.0, 4.0, 6.0, 8.0]);
        assert_eq!(b.customers, 10);
        // The most recent buys least often and spends least; the stalest is the best spender.
        assert_eq!(b.value(&all[0])["code"], "511");
        assert_eq!(b.value(&all[9])["code"], "155");
        assert_eq!(b.value(&all[4])["code"], "333");
    }

    #[test]
    fn measures_come_from_the_history_digest() {
        let day = 86_400_000i64;
        let c = serde_json::json!({ "_history": { "order.placed": {
            "at": [10 * day, 300 * day, 390 * day], "total": [50, 20, 30]
        } } });
        let m = measures(&RfmConfig::default(), &c, 400 * day).unwrap();
        assert_eq!(
            m,
            Measures {
                recency_days: 10.0,
                frequency: 2.0,
                monetary: 50.0
            }
        );
        let none =
            serde_json::json!({ "_history": { "order.placed": { "at": [1], "total": [5] } } });
        assert!(measures(&RfmConfig::default(), &none, 400 * day).is_none());
    }
}
