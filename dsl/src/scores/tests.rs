use super::*;

const LEAD: &str = r#"score: lead
description: How warm a lead is.
half_life: 14d
min: 0
max: 100
points:
  lead.form_submitted where event.form == "demo": 30
  email.opened: 5
  email.unsubscribed: -20
"#;

fn catalog() -> EventCatalog {
    let text = "lead.form_submitted:\n  data:\n    form: string\n";
    EventCatalog::from_files(&[("events/crm.yaml".into(), text.into())]).unwrap()
}

fn problems(text: &str) -> Vec<String> {
    let d = parse_score("scores/x.yaml", text, &catalog()).unwrap_err();
    d.problems
        .iter()
        .map(|p| {
            let at = crate::span::position(&d.source, p.span.start);
            format!("{}:{} {}", at.line, at.column, p.message)
        })
        .collect()
}

#[test]
fn a_score_file_becomes_rules_by_event_type() {
    let def = parse_score("scores/lead.yaml", LEAD, &catalog()).unwrap();
    assert_eq!(
        (def.name.as_str(), def.half_life_ms),
        ("lead", Some(14 * 86_400_000))
    );
    assert_eq!((def.min, def.max), (Some(0.0), Some(100.0)));
    let rules: Vec<(String, Option<String>, f64)> = def
        .rules
        .iter()
        .map(|r| {
            (
                r.event.clone(),
                r.condition.as_ref().map(|c| c.source.clone()),
                r.points,
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            (
                "lead.form_submitted".into(),
                Some("event.form == \"demo\"".into()),
                30.0
            ),
            ("email.opened".into(), None, 5.0),
            ("email.unsubscribed".into(), None, -20.0),
        ]
    );
    let scores =
        Scores::from_files(&[("scores/lead.yaml".into(), LEAD.into())], &catalog()).unwrap();
    let opened: Vec<f64> = scores
        .rules_for("email.opened")
        .map(|(_, r)| r.points)
        .collect();
    assert_eq!(opened, [5.0]);
    assert_eq!(scores.rules_for("order.placed").count(), 0);
}

#[test]
fn problems_point_at_their_line_and_column() {
    let bad_condition = LEAD.replace("event.form ==", "event.fomr ==");
    let found = problems(&bad_condition);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("7:29 "),
        "the path inside the key: {found:?}"
    );
    assert!(found[0].contains("fomr"), "{found:?}");
    assert_eq!(
        problems(&LEAD.replace("half_life: 14d", "half_life: soon")),
        ["3:12 `soon` is not a duration"]
    );
    assert_eq!(
        problems(&LEAD.replace("score: lead", "score: Lead-Score")),
        ["1:8 `Lead-Score` cannot name a score"]
    );
    assert_eq!(
        problems(&LEAD.replace("max: 100", "max: -1")),
        ["5:6 max -1 is not above min 0"]
    );
    assert_eq!(
        problems(&LEAD.replace("email.opened: 5", "email.opened: lots")),
        ["8:17 the points of `email.opened` are not a number"]
    );
    let unknown = problems(&LEAD.replace("points:", "pionts:"));
    assert!(unknown[0].contains("unknown field `pionts`"), "{unknown:?}");
}

#[test]
fn a_score_declared_twice_is_refused() {
    let files = [
        ("scores/a.yaml".to_string(), LEAD.to_string()),
        ("scores/b.yaml".to_string(), LEAD.to_string()),
    ];
    let failed = Scores::from_files(&files, &catalog()).unwrap_err();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].problems[0]
        .message
        .contains("already declared in scores/a.yaml"));
}
