//! The YAML and DSL forms of the same workflow compile to equal IR: every example in
//! `workflows/` has a twin in the other syntax under `tests/twins/`.

use mikawaya_dsl::compile_file;
use std::path::Path;

#[test]
fn every_example_equals_its_twin_in_the_other_syntax() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let examples = root.join("../workflows");
    let mut pairs = 0;
    for entry in std::fs::read_dir(&examples).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if mikawaya_dsl::Syntax::of_file(&name).is_none() {
            continue; // rule tests, templates, the crate's own files
        }
        let twin_name = match name.rsplit_once('.') {
            Some((stem, "yaml")) => format!("{stem}.mkw"),
            Some((stem, "mkw")) => format!("{stem}.yaml"),
            _ => continue,
        };
        let twin = root.join("tests/twins").join(&twin_name);
        let a = compile_file(&name, &std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|d| panic!("{}", d.to_plain()));
        let b = compile_file(
            &twin_name,
            &std::fs::read_to_string(&twin)
                .unwrap_or_else(|_| panic!("missing twin {}", twin.display())),
        )
        .unwrap_or_else(|d| panic!("{}", d.to_plain()));
        assert!(
            a.same_logic(&b),
            "{name} and {twin_name} differ:\n{a:#?}\n---\n{b:#?}"
        );
        pairs += 1;
    }
    assert_eq!(pairs, 11, "expected eleven example workflows");
}

#[test]
fn a_real_difference_is_detected() {
    let a = compile_file("a.mkw", "workflow \"x\" version 1\non event a\nwait 1h\n").unwrap();
    let b = compile_file("b.mkw", "workflow \"x\" version 1\non event a\nwait 2h\n").unwrap();
    assert!(!a.same_logic(&b));
}

#[test]
fn one_run_at_a_time_policies_read_alike_in_both_syntaxes() {
    for (yaml, text) in [("when_finished", "when finished"), ("replace", "replace")] {
        let a = compile_file(
            "w.yaml",
            &format!("workflow: w\nversion: 1\ntrigger: {{ event: a.b }}\nre_enroll: {yaml}\nsteps:\n  - action: log\n"),
        )
        .unwrap();
        let b = compile_file(
            "w.mkw",
            &format!("workflow \"w\" version 1\non event a.b\nre-enroll {text}\ndo log()\n"),
        )
        .unwrap();
        assert!(a.same_logic(&b), "{yaml}");
        assert_ne!(a.re_enroll, mikawaya_dsl::ir::ReEnroll::Always);
    }
}

#[test]
fn a_wait_condition_reads_alike_in_both_syntaxes() {
    let yaml = "workflow: w\nversion: 1\ntrigger: { event: a.b }\nsteps:\n  - wait: { for: 1d, until_event: kpi.updated, where: \"event.kpi.value < 2\", match: event.kpi.id, on_event: exit }\n";
    let text = "workflow \"w\" version 1\non event a.b\nwait 1d until event kpi.updated where event.kpi.value < 2 match event.kpi.id -> exit\n";
    let a = compile_file("w.yaml", yaml).unwrap_or_else(|d| panic!("{}", d.to_plain()));
    let b = compile_file("w.mkw", text).unwrap_or_else(|d| panic!("{}", d.to_plain()));
    assert!(a.same_logic(&b), "{a:#?}\n---\n{b:#?}");
    let condition = match &a.steps[0].kind {
        mikawaya_dsl::ir::StepKind::Wait { until: Some(u), .. } => {
            u.condition.as_ref().map(|c| c.source.clone())
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(condition.as_deref(), Some("event.kpi.value < 2"));
}

#[test]
fn send_windows_read_alike_in_both_syntaxes() {
    use mikawaya_dsl::calendar::{DaySet, HolidaySource, Outside, WindowSetting};
    let yaml = "workflow: w\nversion: 1\ntrigger: { event: a.b }\nsend_window:\n  hours: mon-sat 10:00-18:30\n  timezone: Asia/Tokyo\n  holidays: customer.country\n  outside: skip\nsteps:\n  - action: log\n";
    let text = "workflow \"w\" version 1\non event a.b\nsend-window mon-sat 10:00-18:30 tz \"Asia/Tokyo\" holidays customer.country outside skip\ndo log()\n";
    let a = compile_file("w.yaml", yaml).unwrap_or_else(|d| panic!("{}", d.to_plain()));
    let b = compile_file("w.mkw", text).unwrap_or_else(|d| panic!("{}", d.to_plain()));
    assert!(a.same_logic(&b), "{a:#?}\n---\n{b:#?}");
    let Some(WindowSetting::On(w)) = &a.send_window else {
        panic!("{:?}", a.send_window)
    };
    assert_eq!(w.days, "mon-sat".parse::<DaySet>().unwrap());
    assert_eq!((w.from_minute, w.to_minute), (600, 1110));
    assert_eq!(w.holidays, Some(HolidaySource::Customer("country".into())));
    assert_eq!(w.outside, Outside::Skip);
    // The short forms: only the hours, and off.
    let short = compile_file(
        "s.yaml",
        &yaml.replace("send_window:\n  hours: mon-sat 10:00-18:30\n  timezone: Asia/Tokyo\n  holidays: customer.country\n  outside: skip\n", "send_window: weekdays 09:00-20:00\n"),
    )
    .unwrap();
    let twin = compile_file(
        "s.mkw",
        &text.replace(
            "send-window mon-sat 10:00-18:30 tz \"Asia/Tokyo\" holidays customer.country outside skip",
            "send-window weekdays 09:00-20:00",
        ),
    )
    .unwrap();
    assert!(short.same_logic(&twin));
    let off = compile_file("o.yaml", &yaml.replace("send_window:\n  hours: mon-sat 10:00-18:30\n  timezone: Asia/Tokyo\n  holidays: customer.country\n  outside: skip\n", "send_window: off\n")).unwrap();
    assert_eq!(off.send_window, Some(WindowSetting::Off));
}

#[test]
fn waits_until_a_moment_read_alike_in_both_syntaxes() {
    for moment in [
        "customer-local 09:00 on weekdays",
        "customer-local or \"Asia/Tokyo\" 08:30",
        "event.contract.renewal_date - 7d at 10:00 on mon-fri tz \"Europe/Paris\"",
        "event.at",
    ] {
        let yaml = format!(
            "workflow: w\nversion: 1\ntrigger: {{ event: a.b }}\nsteps:\n  - wait: {{ until: '{}' }}\n  - action: log\n",
            moment.replace('\'', "''")
        );
        let text =
            format!("workflow \"w\" version 1\non event a.b\nwait until {moment}\ndo log()\n");
        let a = compile_file("w.yaml", &yaml).unwrap_or_else(|d| panic!("{}", d.to_plain()));
        let b = compile_file("w.mkw", &text).unwrap_or_else(|d| panic!("{}", d.to_plain()));
        assert!(a.same_logic(&b), "{moment}: {a:#?}\n---\n{b:#?}");
        let mikawaya_dsl::ir::StepKind::Wait { at: Some(m), .. } = &a.steps[0].kind else {
            panic!("{moment}: {:?}", a.steps[0].kind)
        };
        // What the graph and explain print reads back as the same moment.
        let again = format!("workflow \"w\" version 1\non event a.b\nwait until {m}\ndo log()\n");
        let c = compile_file("c.mkw", &again).unwrap_or_else(|d| panic!("{m}: {}", d.to_plain()));
        assert!(a.same_logic(&c), "{moment} printed as {m}");
    }
}

#[test]
fn a_wait_lookback_reads_alike_in_both_syntaxes() {
    let yaml = "workflow: w\nversion: 1\ntrigger: { event: ticket.opened }\nsteps:\n  - wait: { for: 4h, until_event: ticket.replied, match: event.ticket.id, lookback: 10m, on_event: exit }\n";
    let text = "workflow \"w\" version 1\non event ticket.opened\nwait 4h until event ticket.replied match event.ticket.id lookback 10m -> exit\n";
    let a = compile_file("w.yaml", yaml).unwrap_or_else(|d| panic!("{}", d.to_plain()));
    let b = compile_file("w.mkw", text).unwrap_or_else(|d| panic!("{}", d.to_plain()));
    assert!(a.same_logic(&b), "{a:#?}\n---\n{b:#?}");
    let mikawaya_dsl::ir::StepKind::Wait { until: Some(u), .. } = &a.steps[0].kind else {
        panic!("{:?}", a.steps[0].kind)
    };
    assert_eq!(u.lookback_ms, Some(600_000));
    let graph = mikawaya_dsl::graph::graph(&a);
    let wait = graph
        .nodes
        .iter()
        .find(|n| n.label.starts_with("wait"))
        .unwrap();
    assert_eq!(wait.label, "wait 4h for ticket.replied (lookback 10m)");
}

#[test]
fn re_enrollment_per_key_reads_alike_in_both_syntaxes() {
    let yaml = "workflow: w\nversion: 1\ntrigger: { event: kpi.updated }\nre_enroll: when_finished per event.kpi.id\nsteps:\n  - action: log\n";
    let text = "workflow \"w\" version 1\non event kpi.updated\nre-enroll when finished per event.kpi.id\ndo log()\n";
    let a = compile_file("w.yaml", yaml).unwrap_or_else(|d| panic!("{}", d.to_plain()));
    let b = compile_file("w.mkw", text).unwrap_or_else(|d| panic!("{}", d.to_plain()));
    assert!(a.same_logic(&b), "{a:#?}\n---\n{b:#?}");
    assert_eq!(a.re_enroll, mikawaya_dsl::ir::ReEnroll::WhenFinished);
    assert_eq!(
        a.enroll_per.as_ref().map(|e| e.source.as_str()),
        Some("event.kpi.id")
    );
    let after = compile_file("a.yaml", &yaml.replace("when_finished", "after 1d")).unwrap();
    assert_eq!(
        after.re_enroll,
        mikawaya_dsl::ir::ReEnroll::After(86_400_000)
    );
    assert!(after.enroll_per.is_some());
}

#[test]
fn splits_read_alike_in_both_syntaxes() {
    let yaml = r#"workflow: w
version: 1
trigger: { event: cart.abandoned }
steps:
  - id: test
    split: reminder-coupon
    convert: order.placed within 7d
    variants:
      - name: coupon
        weight: 45
        steps:
          - action: log
            with: { message: coupon }
      - name: plain
        weight: 45
        steps:
          - action: log
            with: { message: plain }
      - name: holdout
        weight: 10
  - action: log
    with: { message: after }
"#;
    let text = r#"workflow "w" version 1
on event cart.abandoned
split "reminder-coupon" convert order.placed within 7d {
  variant "coupon" 45 { do log(message: "coupon") }
  variant "plain" 45 { do log(message: "plain") }
  variant "holdout" 10 { }
} as test
do log(message: "after")
"#;
    let a = compile_file("w.yaml", yaml).unwrap_or_else(|d| panic!("{}", d.to_plain()));
    let b = compile_file("w.mkw", text).unwrap_or_else(|d| panic!("{}", d.to_plain()));
    assert!(a.same_logic(&b), "{a:#?}\n---\n{b:#?}");
    let mikawaya_dsl::ir::StepKind::Split {
        experiment,
        variants,
        convert,
    } = &a.steps[0].kind
    else {
        panic!("{:?}", a.steps[0].kind)
    };
    assert_eq!(experiment, "reminder-coupon");
    assert_eq!(convert.as_ref().unwrap().within_ms, 7 * 86_400_000);
    let ids: Vec<&str> = variants
        .iter()
        .map(|v| match v.start {
            mikawaya_dsl::ir::Target::Step(i) => a.steps[i].id.as_str(),
            mikawaya_dsl::ir::Target::End => "end",
        })
        .collect();
    // The holdout has no steps: it goes straight on to the step after the split.
    assert_eq!(ids, ["test.coupon.1", "test.plain.1", "2"]);
    let graph = mikawaya_dsl::graph::mermaid(&a);
    assert!(
        graph.contains("coupon 45%") && graph.contains("holdout 10%"),
        "{graph}"
    );
}

#[test]
fn debounce_reads_alike_in_both_syntaxes() {
    let yaml = "workflow: w\nversion: 1\ntrigger: { event: account.updated }\ndebounce: 5m per event.account.id\nre_enroll: always\nsteps:\n  - action: log\n";
    let text = "workflow \"w\" version 1\non event account.updated\ndebounce 5m per event.account.id\nre-enroll always\ndo log()\n";
    let a = compile_file("w.yaml", yaml).unwrap_or_else(|d| panic!("{}", d.to_plain()));
    let b = compile_file("w.mkw", text).unwrap_or_else(|d| panic!("{}", d.to_plain()));
    assert!(a.same_logic(&b), "{a:#?}\n---\n{b:#?}");
    let d = a.debounce.unwrap();
    assert_eq!(d.quiet_ms, 300_000);
    assert_eq!(d.per.map(|e| e.source), Some("event.account.id".into()));
}

#[test]
fn a_throttle_reads_alike_in_both_syntaxes() {
    let yaml = "workflow: w\nversion: 1\ntrigger: { event: lead.updated }\nsteps:\n  - action: webhook\n    with: { url: \"https://crm.example/api\" }\n    throttle: 10/1s per event.account_id\n";
    let text = "workflow \"w\" version 1\non event lead.updated\ndo webhook(url: \"https://crm.example/api\") throttle 10/1s per event.account_id\n";
    let a = compile_file("w.yaml", yaml).unwrap_or_else(|d| panic!("{}", d.to_plain()));
    let b = compile_file("w.mkw", text).unwrap_or_else(|d| panic!("{}", d.to_plain()));
    assert!(a.same_logic(&b), "{a:#?}\n---\n{b:#?}");
    let mikawaya_dsl::ir::StepKind::Action {
        throttle: Some(t), ..
    } = &a.steps[0].kind
    else {
        panic!("{:?}", a.steps[0].kind)
    };
    assert_eq!((t.max, t.window_ms), (10, 1_000));
}

#[test]
fn decision_tables_read_alike_in_both_syntaxes() {
    let yaml = r#"workflow: w
version: 1
trigger: { event: lead.created }
steps:
  - id: route
    decide:
      inputs: [event.lead.region, event.lead.score]
      hit: collect
      rows:
        - { when: [APAC, ">= 80"], then: { queue: sales-apac } }
        - { when: ["in [\"EMEA\", \"NA\"]", "-"], then: { queue: west } }
        - { when: ["-", "< 0"], then: { queue: broken } }
"#;
    let text = r#"workflow "w" version 1
on event lead.created
decide event.lead.region, event.lead.score collect {
  "APAC", >= 80 -> (queue: "sales-apac")
  in ["EMEA", "NA"], - -> (queue: "west")
  -, < 0 -> (queue: "broken")
} as route
"#;
    let a = compile_file("w.yaml", yaml).unwrap_or_else(|d| panic!("{}", d.to_plain()));
    let b = compile_file("w.mkw", text).unwrap_or_else(|d| panic!("{}", d.to_plain()));
    assert!(a.same_logic(&b), "{a:#?}\n---\n{b:#?}");
}
