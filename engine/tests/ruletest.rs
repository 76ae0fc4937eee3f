//! The rule test runner itself: a passing case, a failing case with the right diff, and a case
//! spanning 30 simulated days.

use mikawaya_engine::tools::ruletest::run_file;

const FLOW: &str = "workflow \"promo\" version 1\non event signup.completed\n\
    wait 1d\ndo email.send(to: customer.email, subject: \"Welcome\", coupon: \"SAVE10\")\n\
    wait 29d\ndo task.create(title: \"check in with {{ customer.id }}\")\n";

const TESTS: &str = r#"
customers:
  ada: { email: ada@example.com, consent: { email: true } }
cases:
  - name: passes
    events: [ { at: 0s, type: signup.completed, customer: ada } ]
    expect:
      actions:
        - { action: email.send, at: 1d, with: { coupon: SAVE10 } }
        - { action: task.create, at: 30d, with: { title: check in with ada } }
      status: completed
  - name: fails with a diff
    events: [ { at: 0s, type: signup.completed, customer: ada } ]
    expect:
      actions:
        - { action: email.send, with: { coupon: SAVE20, to: ada@example.com } }
      not_actions: [task.create]
      status: exited
"#;

/// Writes `flow` as `<name>.mkw` and `tests` beside it, runs them, and asserts that the file
/// has `cases` cases and every one passed.
async fn assert_all_pass(name: &str, flow: &str, tests: &str, cases: usize) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(format!("{name}.mkw")), flow).unwrap();
    let file = dir.path().join(format!("{name}.test.yaml"));
    std::fs::write(&file, tests).unwrap();
    let result = run_file(&file).await;
    assert_eq!(result.error, None);
    for case in &result.cases {
        assert!(
            case.failures.is_empty(),
            "{}: {:?}",
            case.name,
            case.failures
        );
    }
    assert_eq!(result.counts(), (cases, 0));
}

#[tokio::test]
async fn reports_passes_and_failures_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("promo.mkw"), FLOW).unwrap();
    std::fs::write(dir.path().join("promo.test.yaml"), TESTS).unwrap();
    let result = run_file(&dir.path().join("promo.test.yaml")).await;
    assert_eq!(result.error, None);
    assert_eq!(result.counts(), (1, 1));
    assert!(
        result.cases[0].failures.is_empty(),
        "{:?}",
        result.cases[0].failures
    );
    let text = result.render();
    assert!(text.contains("✓ passes"), "{text}");
    assert!(text.contains("✗ fails with a diff"), "{text}");
    assert!(
        text.contains("- coupon: \"SAVE20\"\n          + coupon: \"SAVE10\""),
        "{text}"
    );
    assert!(
        !text.contains("- to:"),
        "matching fields are not shown as differences: {text}"
    );
    assert!(
        text.contains("`task.create` must not run, but it ran at +30d"),
        "{text}"
    );
    assert!(
        text.contains("expected the run to end `exited`, got `completed`"),
        "{text}"
    );
    assert!(
        text.contains("+1d  email.send"),
        "the calls made are listed: {text}"
    );
}

#[tokio::test]
async fn a_broken_test_file_is_one_failure_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.test.yaml"), "cases: []\n").unwrap();
    let result = run_file(&dir.path().join("x.test.yaml")).await;
    assert_eq!(result.counts(), (0, 1));
    assert!(result
        .error
        .unwrap()
        .contains("no workflow file x.yaml or x.mkw"));
}

const PLUGIN_FLOW: &str = "workflow \"sla\" version 1\non event ticket.opened\nre-enroll always\n\
    do sla.level(priority: event.priority, age_minutes: event.age) as level\n\
    if steps.level.output.level >= 2 { do task.create(title: \"escalate to {{ steps.level.output.target }}\") }\n";

#[tokio::test]
async fn plugin_actions_run_for_real_inside_rule_tests() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/examples");
    assert!(
        examples.join("sla-escalation-c/sla.wasm").exists(),
        "build the examples first: plugins/examples/build.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sla.mkw"), PLUGIN_FLOW).unwrap();
    let tests = format!(
        "plugins: {}\ncases:\n  - name: an old urgent ticket goes to the director\n    events: [ {{ at: 0s, type: ticket.opened, data: {{ priority: urgent, age: 500 }} }} ]\n    expect:\n      actions: [ {{ action: task.create, with: {{ title: escalate to director }} }} ]\n  - name: a fresh ticket is not escalated\n    events: [ {{ at: 0s, type: ticket.opened, data: {{ priority: high, age: 10 }} }} ]\n    expect:\n      not_actions: [task.create]\n",
        examples.display()
    );
    std::fs::write(dir.path().join("sla.test.yaml"), tests).unwrap();
    let result = run_file(&dir.path().join("sla.test.yaml")).await;
    assert_eq!(result.counts(), (2, 0), "{}", result.render());
}

#[tokio::test]
async fn a_failure_shows_the_steps_restraint_skipped_and_why() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("promo.mkw"), FLOW).unwrap();
    let tests = "customers:\n  bob: { email: bob@example.com, consent: { email: false } }\ncases:\n  - name: expects a mail bob never agreed to\n    events: [ { at: 0s, type: signup.completed, customer: bob } ]\n    run_for: 2d\n    expect:\n      actions: [ { action: email.send } ]\n";
    std::fs::write(dir.path().join("promo.test.yaml"), tests).unwrap();
    let text = run_file(&dir.path().join("promo.test.yaml")).await.render();
    assert!(text.contains("calls made: none"), "{text}");
    assert!(text.contains("steps skipped:"), "{text}");
    assert!(
        text.contains("email.send: customer bob has not consented to email"),
        "{text}"
    );
}

#[tokio::test]
async fn test_events_are_checked_against_the_event_catalog_beside_the_workflow() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("promo.mkw"), FLOW).unwrap();
    std::fs::create_dir(dir.path().join("events")).unwrap();
    std::fs::write(
        dir.path().join("events/signup.yaml"),
        "signup.completed:\n  data:\n    plan: string\n",
    )
    .unwrap();
    let tests = TESTS.replace(
        "type: signup.completed, customer: ada }",
        "type: signup.completed, customer: ada, data: { plan: 3 } }",
    );
    std::fs::write(dir.path().join("promo.test.yaml"), tests).unwrap();
    let result = run_file(&dir.path().join("promo.test.yaml")).await;
    assert_eq!(result.counts(), (0, 2));
    let failure = &result.cases[0].failures[0];
    assert!(
        failure.contains("`data.plan` expected a string, got 3 (event catalog)"),
        "{failure}"
    );
}

/// One run at a time per customer: `when finished` drops a trigger while a run is active,
/// `replace` ends the active run for the new one (the YAML and DSL forms compile alike).
#[tokio::test]
async fn one_run_at_a_time_drops_or_replaces() {
    let flow = |policy: &str| {
        format!(
            "workflow \"nudge\" version 1\non event signup.step\nre-enroll {policy}\nwait 1d\n\
             do task.create(title: \"nudge {{{{ customer.id }}}} about {{{{ event.step }}}}\")\n"
        )
    };
    let step = |at: &str, step: &str| {
        format!("{{ at: {at}, type: signup.step, customer: ada, data: {{ step: {step} }} }}")
    };
    let finished = format!(
        "cases:\n  - name: a step during the run is dropped, one after it starts again\n    events: [ {}, {}, {} ]\n    expect:\n      actions:\n        - {{ action: task.create, at: 1d, with: {{ title: nudge ada about a }} }}\n        - {{ action: task.create, at: 3d, with: {{ title: nudge ada about c }} }}\n      runs: 2\n",
        step("0s", "a"),
        step("1h", "b"),
        step("2d", "c")
    );
    let replace = format!(
        "cases:\n  - name: a new step replaces the run in progress\n    events: [ {}, {} ]\n    expect:\n      actions:\n        - {{ action: task.create, at: 25h, with: {{ title: nudge ada about b }} }}\n      not_actions: []\n      runs: 2\n      status: exited\n      reason: replaced by the run of event test-event-1\n",
        step("0s", "a"),
        step("1h", "b")
    );
    for (policy, tests) in [("when finished", finished), ("replace", replace)] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("nudge.mkw"), flow(policy)).unwrap();
        std::fs::write(dir.path().join("nudge.test.yaml"), tests).unwrap();
        let result = run_file(&dir.path().join("nudge.test.yaml")).await;
        assert_eq!(result.error, None, "{policy}");
        assert!(
            result.cases[0].failures.is_empty(),
            "{policy}: {:?}",
            result.cases[0].failures
        );
    }
}

/// A wait for an event with a condition: a correlated event that does not meet `where` leaves
/// the run waiting; the first that does ends the wait.
#[tokio::test]
async fn a_wait_ends_only_on_an_event_that_meets_its_condition() {
    let flow = "workflow \"breach\" version 1\non event kpi.breached\nre-enroll always\n\
        wait 30d until event kpi.updated where event.kpi.value < event.kpi.threshold match event.kpi.id -> exit \"recovered\"\n\
        do task.create(title: \"still breached\")\n";
    let update = |at: &str, id: &str, value: u32| {
        format!("{{ at: {at}, type: kpi.updated, data: {{ kpi: {{ id: {id}, value: {value}, threshold: 2 }} }} }}")
    };
    let breached = "{ at: 0s, type: kpi.breached, data: { kpi: { id: k1 } } }";
    let tests = format!(
        "cases:\n  - name: recovers on the second update\n    events: [ {breached}, {}, {}, {} ]\n    expect:\n      not_actions: [task.create]\n      status: exited\n      reason: recovered\n  - name: never recovers\n    events: [ {breached}, {}, {} ]\n    run_for: 31d\n    expect:\n      actions: [ {{ action: task.create, at: 30d }} ]\n      status: completed\n",
        update("1h", "k1", 5),
        update("2h", "k2", 1),
        update("3h", "k1", 1),
        update("1h", "k1", 5),
        update("2h", "k2", 1),
    );
    assert_all_pass("breach", flow, &tests, 2).await;
}

/// `wait until customer-local 09:00 on weekdays` ends at the customer's next weekday 09:00;
/// `wait until <date> - 7d at 10:00` at that day's 10:00; a date already past ends the wait at
/// once; a missing date too, saying why in the timeline.
#[tokio::test]
async fn waits_until_a_moment_end_at_the_customers_local_time() {
    let flow = "workflow \"moment\" version 1\non event trial.started\nre-enroll always\n\
        wait until customer-local 09:00 on weekdays\ndo log(message: \"morning\")\n\
        wait until event.trial.ends - 7d at 10:00 tz \"Asia/Tokyo\"\ndo log(message: \"a week left\")\n";
    // The start is Monday 2026-01-05 09:00 UTC = 18:00 Tokyo = 10:00 Paris.
    let tests = r#"
customers:
  tokyo: { timezone: Asia/Tokyo }
  paris: { timezone: Europe/Paris }
  nowhere: {}
cases:
  # 2026-01-20 - 7d = 2026-01-13 10:00 Tokyo = 01:00 UTC: 7 days 16 hours after the start.
  - name: Tokyo hears at 09:00 Tokyo the next day, a week before the end at 10:00 Tokyo
    events: [ { at: 0s, type: trial.started, customer: tokyo, data: { trial: { ends: "2026-01-20" } } } ]
    run_for: 20d
    expect:
      actions:
        - { action: log, at: 15h, with: { message: morning } }
        - { action: log, at: 184h, with: { message: a week left } }
      status: completed
  # Friday 2026-01-09 20:00 Paris; Monday 09:00 Paris = 08:00 UTC, 6 days 23 hours in.
  - name: an event on Friday evening in Paris waits for Monday 09:00 Paris
    events: [ { at: 106h, type: trial.started, customer: paris, data: { trial: { ends: "2026-01-01" } } } ]
    run_for: 10d
    expect:
      actions:
        - { action: log, at: 167h, with: { message: morning } }
        - { action: log, at: 167h, with: { message: a week left } }
  - name: without a time zone the workflow's (UTC) is used; a missing date does not hold the run
    events: [ { at: 1h, type: trial.started, customer: nowhere, data: { trial: {} } } ]
    run_for: 3d
    expect:
      actions:
        - { action: log, at: 1d, with: { message: morning } }
        - { action: log, at: 1d, with: { message: a week left } }
      status: completed
"#;
    assert_all_pass("moment", flow, tests, 3).await;
}

/// A burst of updates of one account starts one run, with its last update, once five minutes
/// passed without another; each account has its own burst.
#[tokio::test]
async fn a_debounced_burst_starts_one_run_with_its_last_event() {
    let flow = "workflow \"sync\" version 1\non event account.updated\ndebounce 5m per event.account.id\nre-enroll always\n\
        do log(message: \"sync {{ event.account.id }} v{{ event.account.version }}\")\n";
    let update = |at: &str, id: &str, v: u32| {
        format!("{{ at: {at}, type: account.updated, data: {{ account: {{ id: {id}, version: {v} }} }} }}")
    };
    let tests = format!(
        "cases:\n  - name: bursts\n    events: [ {}, {}, {}, {}, {} ]\n    run_for: 1h\n    expect:\n      runs: 3\n      actions:\n        - {{ action: log, at: 7m, with: {{ message: sync a2 v1 }} }}\n        - {{ action: log, at: 8m, with: {{ message: sync a1 v3 }} }}\n        - {{ action: log, at: 25m, with: {{ message: sync a1 v4 }} }}\n",
        update("0m", "a1", 1),
        update("1m", "a1", 2),
        update("2m", "a2", 1),
        update("3m", "a1", 3),
        update("20m", "a1", 4),
    );
    assert_all_pass("sync", flow, &tests, 1).await;
}

/// A throttled action makes at most two calls a minute per account: the third and fourth wait
/// for the next minute, the fifth for the one after; another account has its own slots.
#[tokio::test]
async fn a_throttled_action_waits_for_a_free_slot_per_key() {
    let flow = "workflow \"crm-sync\" version 1\non event lead.updated\nre-enroll always\n\
        do log(account: event.account, lead: event.lead) throttle 2/1m per event.account\n";
    let lead = |id: &str, account: &str| {
        format!("{{ at: 0s, type: lead.updated, data: {{ account: {account}, lead: {id} }} }}")
    };
    let events: Vec<String> = (1..=5)
        .map(|i| lead(&format!("L{i}"), "A"))
        .chain([lead("L9", "B")])
        .collect();
    let tests = format!(
        "cases:\n  - name: account A\n    events: [ {events} ]\n    run_for: 5m\n    expect:\n      runs: 6\n      actions:\n        - {{ action: log, at: 0s, with: {{ account: A }} }}\n        - {{ action: log, at: 0s, with: {{ account: A }} }}\n        - {{ action: log, at: 1m, with: {{ account: A }} }}\n        - {{ action: log, at: 1m, with: {{ account: A }} }}\n        - {{ action: log, at: 2m, with: {{ account: A }} }}\n      status: completed\n  - name: account B is not held by A\n    events: [ {events} ]\n    expect:\n      actions:\n        - {{ action: log, at: 0s, with: {{ account: B }} }}\n",
        events = events.join(", ")
    );
    assert_all_pass("sync", flow, &tests, 2).await;
}

/// A routing matrix as a decision table: region × score → queue and priority; the first
/// matching row wins, `-` matches anything, and the output feeds the next step.
#[tokio::test]
async fn a_decision_table_routes_by_its_first_matching_row() {
    let flow = r#"workflow "route" version 1
on event lead.created
re-enroll always
decide event.lead.region, event.lead.score first {
  "APAC", >= 80 -> (queue: "sales-apac", priority: "high")
  in ["EMEA", "NA"], >= 80 -> (queue: "sales-west", priority: "high")
  -, >= 50 -> (queue: "nurture", priority: "normal")
  -, - -> (queue: "marketing", priority: "low")
} as route
do task.create(title: "lead {{ event.lead.id }}", queue: steps.route.output.queue, priority: steps.route.output.priority)
"#;
    let lead = |id: &str, region: &str, score: u32| {
        format!("{{ at: 0s, type: lead.created, data: {{ lead: {{ id: {id}, region: {region}, score: {score} }} }} }}")
    };
    let case = |name: &str, event: String, queue: &str, priority: &str| {
        format!("  - name: {name}\n    events: [ {event} ]\n    expect:\n      actions:\n        - {{ action: task.create, with: {{ queue: {queue}, priority: {priority} }} }}\n")
    };
    let tests = format!(
        "cases:\n{}{}{}{}",
        case("hot APAC", lead("L1", "APAC", 91), "sales-apac", "high"),
        case("hot EMEA", lead("L2", "EMEA", 85), "sales-west", "high"),
        case("warm anywhere", lead("L3", "APAC", 60), "nurture", "normal"),
        case("cold", lead("L4", "LATAM", 10), "marketing", "low"),
    );
    assert_all_pass("route", flow, &tests, 4).await;
}
