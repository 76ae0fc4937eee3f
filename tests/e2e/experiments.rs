//! An experiment through the real binary: customers split into variants, orders convert, and
//! `GET /experiments` and `mikawaya experiments` show entries, conversions and the interval.

use crate::harness::{binary, start_with, workspace};
use serde_json::json;

const FLOW: &str = "workflow \"promo\" version 1\non event signup.completed\nre-enroll always\n\
split \"welcome-offer\" convert order.placed within 7d {\n\
  variant \"offer\" 50 { do log(message: \"offer\") }\n\
  variant \"control\" 50 { }\n\
}\n";

#[tokio::test]
async fn variants_and_conversions_are_counted_and_shown() {
    let dir = workspace(&[("promo.mkw", FLOW)]);
    let engine = start_with(&dir, &[]);
    let signups: Vec<_> = (0..40)
        .map(|i| json!({"id": format!("s{i}"), "type": "signup.completed", "customer": format!("c{i}")}))
        .collect();
    let (status, _) = engine.post_events(&json!(signups).to_string()).await;
    assert_eq!(status, 202);
    engine
        .wait_for("/experiments", 20, |v| {
            v[0]["variants"].as_array().is_some_and(|vs| {
                vs.iter()
                    .map(|x| x["entered"].as_u64().unwrap_or(0))
                    .sum::<u64>()
                    == 40
            })
        })
        .await;
    // The first ten customers order: each converts the variant they took.
    let orders: Vec<_> = (0..10)
        .map(
            |i| json!({"id": format!("o{i}"), "type": "order.placed", "customer": format!("c{i}")}),
        )
        .collect();
    engine.post_events(&json!(orders).to_string()).await;
    let shown = engine
        .wait_for("/experiments?workflow=promo", 20, |v| {
            v[0]["variants"].as_array().is_some_and(|vs| {
                vs.iter()
                    .map(|x| x["converted"].as_u64().unwrap_or(0))
                    .sum::<u64>()
                    == 10
            })
        })
        .await;
    assert_eq!(shown[0]["experiment"], "welcome-offer");
    for v in shown[0]["variants"].as_array().unwrap() {
        let (entered, converted) = (
            v["entered"].as_f64().unwrap(),
            v["converted"].as_f64().unwrap(),
        );
        let rate = v["rate"].as_f64().unwrap();
        assert!((rate - converted / entered).abs() < 1e-9, "{v}");
        assert!(
            v["rate_low"].as_f64().unwrap() <= rate && rate <= v["rate_high"].as_f64().unwrap()
        );
    }
    assert_eq!(engine.get("/experiments?workflow=other").await, json!([]));
    let out = std::process::Command::new(binary())
        .args(["experiments", "--url", &engine.url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("promo") && l.contains("welcome-offer") && l.contains("offer")),
        "{text}"
    );
    assert!(text.contains("95% interval"), "{text}");
}
