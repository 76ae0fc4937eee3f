//! Customer intelligence through the real binary: segment entries and exits as events that
//! start workflows (once each), the sweep, a generated history (`mikawaya demo-data --send`),
//! a churn model trained on it, used in expressions, explained, and kept across a restart.

use crate::harness::{binary, start_with, workspace};
use serde_json::json;

const GOLD: &str = "segment: gold\nwhen: customer.tier == \"gold\"\n";
const BIG: &str = "segment: big-spender\nwhen: sum(order.placed.total, 365d) >= 100\n";
const ENTER: &str = "workflow \"gold-in\" version 1\non segment gold enter\nre-enroll always\ndo log(message: \"in\")\n";
const LEAVE: &str = "workflow \"gold-out\" version 1\non segment gold leave\nre-enroll always\ndo log(message: \"out\")\n";

#[tokio::test]
async fn segment_changes_are_events_that_start_workflows_once() {
    let dir = workspace(&[
        ("segments/gold.yaml", GOLD),
        ("segments/big.yaml", BIG),
        ("gold-in.mkw", ENTER),
        ("gold-out.mkw", LEAVE),
    ]);
    let engine = start_with(&dir, &["--segment-sweep-seconds".into(), "0".into()]);
    let tier = |id: &str, tier: &str| json!({"id": id, "type": "customer.updated", "customer": {"id": "c1", "tier": tier}});
    for (id, t) in [("t1", "gold"), ("t2", "gold")] {
        assert_eq!(engine.post_events(&tier(id, t).to_string()).await.0, 202);
    }
    let runs = engine
        .wait_for("/runs?workflow=gold-in", 10, |r| {
            r.as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    let customer = engine.get("/customers/c1").await;
    assert_eq!(customer["segments"], json!(["gold"]), "{customer}");
    assert!(customer.get("_segments").is_none() && customer.get("_history").is_none());
    // Orders add up to the big-spender segment, read from the history digest.
    for (id, total) in [("o1", 60), ("o2", 50)] {
        let order =
            json!({"id": id, "type": "order.placed", "customer": "c1", "data": {"total": total}});
        assert_eq!(engine.post_events(&order.to_string()).await.0, 202);
    }
    let customer = engine
        .wait_for("/customers/c1", 10, |c| {
            c["segments"].as_array().is_some_and(|s| s.len() == 2)
        })
        .await;
    // In the order of the segment files (big.yaml, gold.yaml).
    assert_eq!(
        customer["segments"],
        json!(["big-spender", "gold"]),
        "{customer}"
    );
    assert_eq!(
        engine
            .post_events(&tier("t3", "silver").to_string())
            .await
            .0,
        202
    );
    let out = engine
        .wait_for("/runs?workflow=gold-out", 10, |r| {
            r.as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    assert_eq!(out.as_array().unwrap().len(), 1, "{out}");
    // The second gold event did not enter again.
    let runs_now = engine.get("/runs?workflow=gold-in").await;
    assert_eq!(runs_now.as_array().unwrap().len(), 1, "{runs} {runs_now}");
    let sweep: serde_json::Value =
        serde_json::from_str(&engine.cli_output(&["segments", "--sweep"], None)).unwrap();
    assert_eq!(sweep["customers"], 1);
    assert_eq!(sweep["rechecks"], 0, "nothing drifted: {sweep}");
    assert_eq!(sweep["members"], json!({"big-spender": 1}), "{sweep}");
    let segments = engine.get("/segments").await;
    assert_eq!(segments["segments"][0]["name"], "big-spender", "{segments}");
    assert_eq!(segments["segments"][0]["members"], 1, "{segments}");
    assert_eq!(segments["segments"][1]["members"], 0, "{segments}");
    assert_eq!(segments["last_sweep"]["rfm"]["customers"], 1, "{segments}");
}

#[tokio::test]
async fn a_churn_model_trains_on_generated_history_and_predicts() {
    let churn = include_str!("../../workflows/models/churn.yaml");
    let dir = workspace(&[("models/churn.yaml", churn)]);
    let args = ["--segment-sweep-seconds".to_string(), "0".to_string()];
    let engine = start_with(&dir, &args);
    let (status, refused) = engine.post("/models/nope/train", "{}").await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused.to_string().contains("churn"),
        "names the declared models: {refused}"
    );
    let sent = std::process::Command::new(binary())
        .args([
            "demo-data",
            "--customers",
            "400",
            "--seed",
            "5",
            "--send",
            "--url",
            &engine.url,
        ])
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(String::from_utf8_lossy(&sent.stdout).contains("of 400 customers"));
    for _ in 0..600 {
        if engine.metric("mikawaya_events_unmatched", None).await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, trained) = engine.post("/models/churn/train", "{}").await;
    assert_eq!(status, 200, "{trained}");
    let e = &trained["evaluation"];
    let (auc, base) = (
        e["auc"].as_f64().unwrap(),
        e["baseline_auc"].as_f64().unwrap(),
    );
    assert!(auc > 0.7 && auc > base, "AUC {auc} vs baseline {base}");
    assert_eq!(trained["version"], 1);
    let predictions = engine.get("/customers/cust-00003/predictions").await;
    let chance = predictions[0]["chance"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&chance), "{predictions}");
    assert_eq!(predictions[0]["because"].as_array().unwrap().len(), 6);
    let customer = engine.get("/customers/cust-00003").await;
    assert_eq!(
        customer["predict"]["churn"].as_f64(),
        Some(chance),
        "{customer}"
    );

    // A restart keeps the model in force; training again makes version 2.
    let url = engine.url.clone();
    engine.terminate();
    let engine = start_with(&dir, &args);
    assert_ne!(url, "", "a new engine");
    let models = engine.get("/models").await;
    assert_eq!(models[0]["trained"]["version"], 1, "{models}");
    let again = engine.get("/customers/cust-00003/predictions").await;
    assert_eq!(again[0]["chance"].as_f64(), Some(chance));
    let second = engine.cli_output(&["model", "train", "churn"], None);
    assert!(
        second.starts_with("model churn version 2: trained on "),
        "{second}"
    );
}
