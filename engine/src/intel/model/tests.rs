use super::*;
use crate::tools::demo_data::{generate, DemoOptions};

const DAY: Millis = 86_400_000;

fn churn() -> ModelDef {
    let text = include_str!("../../../../workflows/models/churn.yaml");
    mikawaya_dsl::models::parse_model("models/churn.yaml", text).unwrap()
}

fn event(customer: &str, t: &str, at: Millis, data: Value) -> Event {
    Event {
        id: format!("{customer}-{t}-{at}"),
        event_type: t.into(),
        customer_id: Some(customer.into()),
        customer: Map::new(),
        occurred_at: at,
        data: data.as_object().cloned().unwrap_or_default(),
        source: None,
    }
}

#[test]
fn rows_take_features_at_the_cutoff_and_labels_now() {
    let now = 500 * DAY;
    let events = vec![
        // a: bought before the cutoff and again after: label false.
        event(
            "a",
            "order.placed",
            300 * DAY,
            serde_json::json!({"total": 10}),
        ),
        event(
            "a",
            "order.placed",
            450 * DAY,
            serde_json::json!({"total": 10}),
        ),
        // b: bought before the cutoff only: label true.
        event(
            "b",
            "order.placed",
            380 * DAY,
            serde_json::json!({"total": 30}),
        ),
        event("b", "email.opened", 400 * DAY, serde_json::json!({})),
        // c: first order after the cutoff: not in the population then.
        event(
            "c",
            "order.placed",
            420 * DAY,
            serde_json::json!({"total": 5}),
        ),
    ];
    let rows = dataset(&churn(), &events, now);
    let ids: Vec<&str> = rows.iter().map(|r| r.customer.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert!(!rows[0].y && rows[1].y);
    // b at the cutoff (day 410): 30 days since the order, one order in 90 days, 30 spent, one
    // email opened in 30 days, no ticket.
    assert_eq!(&rows[1].x[..5], &[30.0, 1.0, 30.0, 1.0, 0.0]);
}

#[test]
fn the_churn_model_beats_the_trivial_baseline_on_generated_history() {
    let now = 2_000 * DAY;
    let demo = generate(&DemoOptions {
        customers: 1500,
        days: 365,
        seed: 11,
        end: now,
    });
    let def = churn();
    let rows = dataset(&def, &demo.events, now);
    let model = TrainedModel::train(&def, &rows, 1, now).unwrap();
    let e = &model.evaluation;
    eprintln!(
        "churn on demo data: {} train / {} held out, positive rate {:.2}, AUC {:.3} vs baseline ({}) {:.3}, Brier {:.3}, calibration {:?}",
        e.train_rows, e.test_rows, e.positive_rate, e.auc, e.baseline_feature, e.baseline_auc, e.brier,
        e.calibration.iter().map(|b| (b.predicted * 100.0).round() / 100.0).zip(e.calibration.iter().map(|b| (b.observed * 100.0).round() / 100.0)).collect::<Vec<_>>()
    );
    eprintln!(
        "weights {:?}",
        model
            .features
            .iter()
            .map(|f| f.0.as_str())
            .zip(
                model.linear.weights[0]
                    .iter()
                    .map(|w| (w * 100.0).round() / 100.0)
            )
            .collect::<Vec<_>>()
    );
    assert!(e.auc > 0.75, "AUC {}", e.auc);
    assert!(
        e.auc > e.baseline_auc + 0.03,
        "{} vs {}",
        e.auc,
        e.baseline_auc
    );
    // Calibrated enough: the riskiest fifth churns far more than the safest.
    let (low, high) = (&e.calibration[0], e.calibration.last().unwrap());
    assert!(high.observed > low.observed + 0.3, "{low:?} {high:?}");
    assert!((high.predicted - high.observed).abs() < 0.2, "{high:?}");
    // Explanations add up to the log-odds around the mean.
    let x = &rows[0].x;
    let total: f64 = model.contributions(x).iter().map(|c| c.contribution).sum();
    let logit = model.linear.scores(&model.standardised(x))[0] - model.linear.intercepts[0];
    assert!((total - logit).abs() < 0.01 * model.features.len() as f64);
}

#[test]
fn too_little_history_is_refused_with_what_to_do() {
    let err = TrainedModel::train(&churn(), &[], 1, 0).unwrap_err();
    assert!(err.to_string().contains("demo-data"), "{err}");
}
