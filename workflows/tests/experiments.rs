//! The cart-abandon experiment counted: who entered which variant, and which orders convert
//! (an order after entering and within 7 days; not one before the split, not one too late).

use chrono::{TimeZone, Utc};
use mikawaya_engine::tools::sim::Simulation;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

#[tokio::test]
async fn conversions_are_counted_per_variant_inside_the_window_only() {
    let dir = tempfile::tempdir().unwrap();
    let workflows = Path::new(env!("CARGO_MANIFEST_DIR"));
    let start = Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap();
    let s = Simulation::start(workflows, dir.path(), start)
        .await
        .unwrap();
    let order = |i: usize| json!({"id": format!("o{i}"), "type": "order.placed", "customer": format!("c{i}")});
    for i in 0..60 {
        let customer = json!({"id": format!("c{i}"), "email": format!("c{i}@example.com"), "consent": {"email": true}});
        s.send(json!({"id": format!("e{i}"), "type": "cart.abandoned", "customer": customer, "data": {"cart": {"total": 80}}}))
            .await
            .unwrap();
    }
    s.advance(30 * MINUTE).await.unwrap();
    // Ordered before the split: the goal ends the run, no entry.
    for i in (0..60).filter(|i| i % 5 == 0) {
        s.send(order(i)).await.unwrap();
    }
    s.advance(90 * MINUTE).await.unwrap();
    // Ordered an hour after entering: converts.
    for i in (0..60).filter(|i| i % 5 == 1) {
        s.send(order(i)).await.unwrap();
    }
    s.advance(8 * DAY).await.unwrap();
    // Ordered eight days after entering: too late to count.
    for i in (0..60).filter(|i| i % 5 == 2) {
        s.send(order(i)).await.unwrap();
    }
    s.advance(HOUR).await.unwrap();

    // What each customer took, read from their run.
    let mut expected: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for run in s.runs("cart-abandon").await.unwrap() {
        let Some(variant) = run.context["experiments"]["cart-reminder-coupon"].as_str() else {
            continue;
        };
        let i: usize = run.customer_id.as_deref().unwrap()[1..].parse().unwrap();
        let e = expected.entry(variant.to_string()).or_default();
        e.0 += 1;
        e.1 += u64::from(i % 5 == 1);
    }
    let counts = s.store.variant_counts(Some("cart-abandon")).await.unwrap();
    let got: BTreeMap<String, (u64, u64)> = counts
        .iter()
        .map(|c| (c.variant.clone(), (c.entered, c.converted)))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        got.values().map(|v| v.0).sum::<u64>(),
        48,
        "12 ordered before the split"
    );
    assert_eq!(got.values().map(|v| v.1).sum::<u64>(), 12);
    assert_eq!(got.len(), 3, "all three variants drawn among 48: {got:?}");
    assert!(counts
        .iter()
        .all(|c| c.experiment == "cart-reminder-coupon"));
}
