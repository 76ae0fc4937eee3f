//! Scores through the real binary: points kept per customer as events arrive, read by a
//! workflow's condition as `customer.score.<name>`, shown with what added which points; a
//! broken score file keeps the last good scores.

use crate::harness::{start_with, workspace};
use serde_json::json;

const SCORE: &str = "score: engagement\nmax: 10\npoints:\n  page.viewed: 3\n  page.viewed where event.page == \"pricing\": 2\n  email.bounced: -4\n";
const FLOW: &str = "workflow \"engaged\" version 1\non event page.viewed\nwhen customer.score.engagement >= 8\nre-enroll always\ndo log(message: \"engaged\")\n";

#[tokio::test]
async fn points_are_kept_per_customer_and_read_by_conditions() {
    let dir = workspace(&[("scores/engagement.yaml", SCORE), ("engaged.mkw", FLOW)]);
    let engine = start_with(&dir, &[]);
    let view = |id: &str, page: &str| json!({"id": id, "type": "page.viewed", "customer": "c1", "data": {"page": page}});
    for (id, page) in [("v1", "home"), ("v2", "pricing"), ("v3", "pricing")] {
        assert_eq!(engine.post_events(&view(id, page).to_string()).await.0, 202);
    }
    // 3, then 8 (3 + 3 + 2: the second view starts a run), then capped at 10 (starts another).
    let runs = engine
        .wait_for("/runs?workflow=engaged", 10, |r| {
            r.as_array().is_some_and(|a| a.len() == 2)
        })
        .await;
    assert_eq!(runs.as_array().unwrap().len(), 2, "{runs}");
    let scores = engine.get("/customers/c1/scores").await;
    assert_eq!(scores[0]["name"], "engagement");
    assert_eq!(scores[0]["value"], 10.0, "{scores}");
    let history: Vec<(String, f64, f64)> = scores[0]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["event"].as_str().unwrap().to_string(),
                c["points"].as_f64().unwrap(),
                c["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            ("v1".into(), 3.0, 3.0),
            ("v2".into(), 3.0, 6.0),
            ("v2".into(), 2.0, 8.0),
            ("v3".into(), 3.0, 10.0),
            ("v3".into(), 2.0, 10.0)
        ]
    );
    assert_eq!(
        scores[0]["history"][2]["rule"], "page.viewed where event.page == \"pricing\"",
        "each change names the rule that held"
    );
    let customer = engine.get("/customers/c1").await;
    assert_eq!(customer["score"], json!({"engagement": 10.0}), "{customer}");
    assert!(
        customer.get("_scores").is_none(),
        "the stored states stay out of sight"
    );
    assert_eq!(
        engine.get("/customers/nobody/scores").await["code"],
        "not_found"
    );

    // A broken score file is reported and the last good scores keep counting.
    std::fs::write(
        dir.path().join("workflows/scores/engagement.yaml"),
        SCORE.replace("max: 10", "max: lots"),
    )
    .unwrap();
    let (_, reload) = engine.post("/workflows/reload", "{}").await;
    assert!(
        reload["errors"].to_string().contains("engagement.yaml"),
        "{reload}"
    );
    let bounce = json!({"id": "b1", "type": "email.bounced", "customer": "c1"});
    assert_eq!(engine.post_events(&bounce.to_string()).await.0, 202);
    let scores = engine
        .wait_for("/customers/c1/scores", 10, |s| s[0]["value"] == 6.0)
        .await;
    assert_eq!(scores[0]["value"], 6.0, "{scores}");
}
