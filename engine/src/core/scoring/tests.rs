use super::*;
use mikawaya_dsl::catalog::EventCatalog;
use serde_json::json;

const DAY: i64 = 86_400_000;

fn def(half_life: Option<&str>, min: Option<f64>, max: Option<f64>) -> ScoreDef {
    let mut text = String::from("score: lead\n");
    if let Some(h) = half_life {
        text.push_str(&format!("half_life: {h}\n"));
    }
    if let Some(lo) = min {
        text.push_str(&format!("min: {lo}\n"));
    }
    if let Some(hi) = max {
        text.push_str(&format!("max: {hi}\n"));
    }
    text.push_str("points:\n  lead.form_submitted where event.form == \"demo\": 30\n  email.opened: 5\n  email.unsubscribed: -20\n");
    mikawaya_dsl::scores::parse_score("scores/lead.yaml", &text, &EventCatalog::default()).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn points_lose_half_their_weight_every_half_life() {
    let lead = def(Some("10d"), None, None);
    let s = add(&lead, None, 40.0, 0);
    assert_eq!(s.value_at(0), 40.0);
    assert!(close(s.value_at(10 * DAY), 20.0));
    assert!(close(s.value_at(20 * DAY), 10.0));
    let s = add(&lead, Some(s), 5.0, 10 * DAY);
    assert!(close(s.value, 25.0), "20 left of 40, plus 5: {}", s.value);
    let keep = add(&def(None, None, None), None, 40.0, 0);
    assert_eq!(
        keep.value_at(365 * DAY),
        40.0,
        "no half-life: points keep their weight"
    );
}

#[test]
fn bounds_apply_after_each_change() {
    let lead = def(None, Some(0.0), Some(100.0));
    let mut s = None;
    for i in 0..5 {
        s = Some(add(&lead, s.take(), 30.0, i));
    }
    assert_eq!(s.as_ref().unwrap().value, 100.0, "capped at max");
    let s = add(&lead, s, -20.0, 10);
    assert_eq!(s.value, 80.0, "the cap does not bank the excess");
    let low = add(&lead, None, -20.0, 0);
    assert_eq!(low.value, 0.0, "floored at min");
}

#[test]
fn incremental_and_full_recomputation_agree_in_any_order() {
    let lead = def(Some("7d"), None, None);
    let events: Vec<(f64, i64)> = (0..40)
        .map(|i| (if i % 7 == 0 { -20.0 } else { 5.0 + i as f64 }, i * DAY / 3))
        .collect();
    let now = 20 * DAY;
    // From scratch: every event's points decayed from its own time to now.
    let full: f64 = events
        .iter()
        .map(|(p, at)| decay(*p, *at, now, lead.half_life_ms))
        .sum();
    let mut in_order = None;
    for (p, at) in &events {
        in_order = Some(add(&lead, in_order.take(), *p, *at));
    }
    assert!((in_order.unwrap().value_at(now) - full).abs() < 1e-6);
    // Delivered out of order (reversed): the same value.
    let mut shuffled = None;
    for (p, at) in events.iter().rev() {
        shuffled = Some(add(&lead, shuffled.take(), *p, *at));
    }
    assert!((shuffled.unwrap().value_at(now) - full).abs() < 1e-6);
}

#[test]
fn an_event_earns_the_points_of_the_rules_that_hold() {
    let scores = Scores::from_files(
        &[("scores/lead.yaml".into(), "score: lead\nmax: 100\npoints:\n  lead.form_submitted where event.form == \"demo\": 30\n  lead.form_submitted: 1\n".into())],
        &EventCatalog::default(),
    )
    .unwrap();
    let customer = json!({ "id": "c1" });
    let event = |form: &str| json!({ "form": form });
    fn scope<'a>(ev: &'a Value, customer: &'a Value) -> Scope<'a> {
        Scope {
            event: ev,
            customer,
            run: &Value::Null,
            steps: &Value::Null,
            entity: &Value::Null,
            now: chrono::Utc::now(),
            today: chrono::Utc::now().date_naive(),
        }
    }
    let demo = event("demo");
    let earned = score_event(
        &scores,
        "lead.form_submitted",
        0,
        &scope(&demo, &customer),
        &Map::new(),
    )
    .unwrap();
    let patch = Value::Object(earned.patch());
    assert_eq!(
        patch[SCORES_KEY]["lead"][0], 31.0,
        "both rules hold: {patch}"
    );
    let rows = earned.rows("c1", "e1");
    let seen: Vec<(&str, f64, f64)> = rows.iter().map(|r| (&*r.rule, r.points, r.value)).collect();
    assert_eq!(
        seen,
        [
            (
                "lead.form_submitted where event.form == \"demo\"",
                30.0,
                30.0
            ),
            ("lead.form_submitted", 1.0, 31.0)
        ],
        "one change per rule that held, each with the value after it"
    );
    assert!(rows
        .iter()
        .all(|r| &*r.event == "e1" && &*r.customer == "c1"));
    let mut attrs = Map::new();
    crate::store::merge::merge_patch(&mut attrs, patch.as_object().unwrap());
    let newsletter = event("newsletter");
    let earned = score_event(
        &scores,
        "lead.form_submitted",
        1,
        &scope(&newsletter, &customer),
        &attrs,
    )
    .unwrap();
    assert_eq!(earned.patch()[SCORES_KEY]["lead"], json!([32.0, 1, null]));
    assert!(score_event(&scores, "order.placed", 2, &scope(&demo, &customer), &attrs).is_none());
    assert_eq!(score_values(&attrs, 5).unwrap(), json!({ "lead": 31.0 }));
}

#[test]
fn views_list_declared_scores_then_stored_ones_each_with_its_own_changes() {
    let scores = Scores::from_files(
        &[
            (
                "scores/lead.yaml".into(),
                "score: lead\ndescription: Lead heat\npoints:\n  email.opened: 5\n".into(),
            ),
            (
                "scores/fit.yaml".into(),
                "score: fit\npoints:\n  email.opened: 1\n".into(),
            ),
        ],
        &EventCatalog::default(),
    )
    .unwrap();
    let attrs = json!({ SCORES_KEY: {
        "lead": { "value": 40.0, "at": 0, "half_life_ms": 10 * DAY },
        "old": [7.0, 0, null],
    }});
    let change = |score: &str, event: &str| ScoreChange {
        customer: "c1".into(),
        score: score.into(),
        event: event.into(),
        rule: "email.opened".into(),
        points: 5.0,
        value: 40.0,
        at: 0,
    };
    let changes = [
        change("lead", "e1"),
        change("old", "e0"),
        change("lead", "e2"),
    ];
    let views = views(&scores, attrs.as_object().unwrap(), &changes, 10 * DAY);
    let seen: Vec<(&str, f64, usize)> = views
        .iter()
        .map(|v| (v.name.as_str(), v.value, v.history.len()))
        .collect();
    assert_eq!(seen, [("lead", 20.0, 2), ("fit", 0.0, 0), ("old", 7.0, 1)]);
    assert_eq!(views[0].description.as_deref(), Some("Lead heat"));
    assert_eq!(&*views[0].history[1].event, "e2", "oldest first, as stored");
    let shown = serde_json::to_value(&views[0]).unwrap();
    assert_eq!(
        shown["history"][0],
        json!({ "event": "e1", "rule": "email.opened", "points": 5.0, "value": 40.0, "at": 0 })
    );
}
