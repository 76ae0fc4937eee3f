//! The example workflows, run on the real executor with a simulated clock: each test is a
//! story an ops person would tell ("the customer orders within the hour, so no reminder").

use chrono::{TimeZone, Utc};
use mikawaya_engine::store::RunStatus;
use mikawaya_engine::tools::sim::Simulation;
use serde_json::json;
use std::path::Path;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

async fn sim(dir: &tempfile::TempDir) -> Simulation {
    let workflows = Path::new(env!("CARGO_MANIFEST_DIR"));
    Simulation::start(
        workflows,
        dir.path(),
        Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap(),
    )
    .await
    .unwrap()
}

fn cart(id: &str, customer: &str, total: i64, consent: bool) -> serde_json::Value {
    json!({
        "id": id, "type": "cart.abandoned",
        "customer": {"id": customer, "email": format!("{customer}@example.com"), "first_name": "Ada", "consent": {"email": consent}},
        "data": {"cart": {"id": format!("cart-{id}"), "total": total, "items": [1, 2]}}
    })
}

#[tokio::test]
async fn cart_abandon_reminds_once_after_an_hour() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(&dir).await;
    s.send(cart("e1", "c1", 80, true)).await.unwrap();
    s.advance(59 * MINUTE).await.unwrap();
    assert!(s.mails().is_empty(), "no reminder before the hour is up");
    s.advance(2 * MINUTE).await.unwrap();
    let mails = s.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("To: c1@example.com"), "{}", mails[0]);
    assert!(
        mails[0].contains("Subject: Ada, you left 2 item(s) in your cart"),
        "{}",
        mails[0]
    );
    assert!(
        mails[0].contains("your cart of 80 is still waiting for you."),
        "{}",
        mails[0]
    );
    assert!(mails[0].contains("Use the code SAVE10 for 10% off"));
    s.advance(3 * DAY).await.unwrap();
    let runs = s.runs("cart-abandon").await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Completed);
    assert!(
        s.tasks().await.unwrap().is_empty(),
        "carts under 200 get no call"
    );
    assert_eq!(s.mails().len(), 1, "exactly one reminder");
}

#[tokio::test]
async fn cart_abandon_stops_when_the_customer_orders() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(&dir).await;
    s.send(cart("e1", "c1", 250, true)).await.unwrap();
    s.advance(30 * MINUTE).await.unwrap();
    s.send(json!({"id": "o1", "type": "order.placed", "customer": "c1", "data": {"order": {"id": "o1"}}})).await.unwrap();
    s.advance(3 * DAY).await.unwrap();
    let run = &s.runs("cart-abandon").await.unwrap()[0];
    assert_eq!(run.status, RunStatus::Exited);
    assert_eq!(run.exit_reason.as_deref(), Some("goal: order.placed"));
    assert!(s.mails().is_empty());
    assert!(s.tasks().await.unwrap().is_empty());
}

#[tokio::test]
async fn cart_abandon_respects_condition_consent_and_re_enrollment() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(&dir).await;
    s.send(cart("small", "c1", 20, true)).await.unwrap();
    s.send(cart("no-consent", "c2", 90, false)).await.unwrap();
    assert!(
        s.runs("cart-abandon").await.unwrap().is_empty(),
        "neither a small cart nor a customer without consent enters"
    );

    s.send(cart("big", "c3", 300, true)).await.unwrap();
    assert!(
        !s.send(cart("big", "c3", 300, true)).await.unwrap(),
        "a duplicate event id is ignored"
    );
    s.advance(10 * DAY).await.unwrap();
    s.send(cart("again", "c3", 300, true)).await.unwrap();
    assert_eq!(
        s.runs("cart-abandon").await.unwrap().len(),
        1,
        "no second run within 30 days"
    );
    let tasks = s.tasks().await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].title, "Call c3@example.com about a cart of 300");
    assert_eq!(tasks[0].queue.as_deref(), Some("retention"));

    s.advance(21 * DAY).await.unwrap();
    s.send(cart("later", "c3", 300, true)).await.unwrap();
    assert_eq!(
        s.runs("cart-abandon").await.unwrap().len(),
        2,
        "after 30 days the customer may enter again"
    );
}

#[tokio::test]
async fn lead_routing_sends_each_lead_down_one_path() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(&dir).await;
    let lead = |id: &str, score: i64, region: Option<&str>| json!({"id": id, "type": "lead.created", "data": {"lead": {"id": id, "company": format!("Co {id}"), "score": score, "region": region, "email": format!("{id}@lead.example")}}});
    s.send(lead("l1", 91, Some("APAC"))).await.unwrap();
    s.send(lead("l2", 60, None)).await.unwrap();
    s.send(lead("l3", 10, None)).await.unwrap();
    let tasks = s.tasks().await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].queue.as_deref(), Some("sales-apac"));
    assert_eq!(tasks[0].data["lead_id"], "l1");
    let mails = s.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("To: l2@lead.example"));
    let runs = s.runs("lead-routing").await.unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r.status == RunStatus::Completed));
}

#[tokio::test]
async fn support_escalation_waits_for_a_reply_to_the_same_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(&dir).await;
    let opened = |id: &str, ticket: &str, priority: &str| json!({"id": id, "type": "ticket.opened", "customer": {"id": "c9", "tier": "gold"}, "data": {"ticket": {"id": ticket, "priority": priority}}});
    s.send(opened("t1", "T-1", "urgent")).await.unwrap();
    s.send(opened("t2", "T-2", "high")).await.unwrap();
    s.send(opened("t3", "T-3", "low")).await.unwrap();
    s.advance(2 * HOUR).await.unwrap();
    s.send(json!({"id": "r1", "type": "ticket.replied", "customer": "c9", "data": {"ticket": {"id": "T-1"}}})).await.unwrap();
    s.advance(3 * HOUR).await.unwrap();

    let tasks = s.tasks().await.unwrap();
    assert_eq!(
        tasks.len(),
        1,
        "only the unanswered high ticket is escalated: {tasks:?}"
    );
    assert_eq!(tasks[0].title, "SLA breached: ticket T-2 (high)");
    assert_eq!(tasks[0].queue.as_deref(), Some("escalations-gold"));

    s.advance(5 * HOUR).await.unwrap();
    let tasks = s.tasks().await.unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].queue.as_deref(), Some("support-managers"));
    let runs = s.runs("support-escalation").await.unwrap();
    let answered = runs
        .iter()
        .find(|r| r.context["event"]["ticket"]["id"] == "T-1")
        .unwrap();
    assert_eq!(answered.exit_reason.as_deref(), Some("answered in time"));
    assert_eq!(
        runs.len(),
        2,
        "the low-priority ticket of a non-enterprise customer does not enter"
    );
}

#[tokio::test]
async fn renewal_reminder_fires_thirty_days_before_at_nine_tokyo_time() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(&dir).await;
    let contract = |id: &str, event: &str, date: &str| {
        json!({"id": event, "type": "contract.updated", "customer": "acme",
               "data": {"contract": {"id": id, "name": format!("Contract {id}"), "renewal_date": date, "status": "active", "owner_email": "owner@example.com"}}})
    };
    // Now is 2026-11-02 08:00 UTC. K1 renews 2026-12-20, so the reminder is due 2026-11-20 09:00 JST (00:00 UTC).
    s.send(contract("K1", "u1", "2026-12-20")).await.unwrap();
    s.send(contract("K2", "u2", "2026-12-25")).await.unwrap();
    s.send(contract("K2", "u3", "2026-12-27")).await.unwrap(); // K2 moved: rescheduled, not doubled
    s.advance(17 * DAY + 15 * HOUR + 59 * MINUTE).await.unwrap(); // 2026-11-19 23:59 UTC
    assert!(s.mails().is_empty());
    s.advance(2 * MINUTE).await.unwrap();
    assert_eq!(s.mails().len(), 1);
    assert!(s.mails()[0].contains("Subject: Renewal in 30 days: Contract K1"));

    s.send(json!({"id": "ren1", "type": "contract.renewed", "customer": "acme", "data": {"contract": {"id": "K1"}}})).await.unwrap();
    s.advance(30 * DAY).await.unwrap();
    let runs = s.runs("renewal-reminder").await.unwrap();
    assert_eq!(runs.len(), 2, "one run per contract, once: {runs:?}");
    let k1 = runs
        .iter()
        .find(|r| r.context["event"]["contract"]["id"] == "K1")
        .unwrap();
    assert_eq!(k1.exit_reason.as_deref(), Some("renewed"));
    let k2 = runs
        .iter()
        .find(|r| r.context["event"]["contract"]["id"] == "K2")
        .unwrap();
    assert_eq!(
        k2.context["event"]["contract"]["renewal_date"],
        "2026-12-27"
    );
    assert_eq!(
        k2.status,
        RunStatus::Completed,
        "K2 was not renewed in 14 days: escalated"
    );
    let tasks = s.tasks().await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].title, "Renewal at risk: Contract K2");
}

#[tokio::test]
async fn kpi_alert_raises_one_task_per_breach_window() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(&dir).await;
    let kpi = |event: &str, id: &str, value: f64| json!({"id": event, "type": "kpi.updated", "data": {"kpi": {"id": id, "name": id, "value": value, "threshold": 2.0}}});
    s.send(kpi("k1", "conversion", 1.5)).await.unwrap();
    s.advance(MINUTE).await.unwrap();
    let tasks = s.tasks().await.unwrap();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0].title, "KPI conversion is 1.5 (threshold 2)");
    s.send(kpi("k2", "conversion", 1.2)).await.unwrap();
    s.advance(5 * MINUTE).await.unwrap();
    assert_eq!(
        s.tasks().await.unwrap().len(),
        1,
        "the breach is still open"
    );
    s.send(kpi("k3", "retention", 1.0)).await.unwrap();
    s.advance(5 * MINUTE).await.unwrap();
    assert_eq!(
        s.tasks().await.unwrap().len(),
        2,
        "another KPI, its own breach"
    );
    s.send(kpi("k4", "conversion", 2.4)).await.unwrap();
    s.advance(5 * MINUTE).await.unwrap();
    let runs = s.runs("kpi-alert").await.unwrap();
    let recovered = runs
        .iter()
        .filter(|r| r.exit_reason.as_deref() == Some("recovered"))
        .count();
    assert_eq!(recovered, 1, "{runs:?}");
    s.send(kpi("k5", "conversion", 1.9)).await.unwrap();
    s.advance(5 * MINUTE).await.unwrap();
    let tasks = s.tasks().await.unwrap();
    assert_eq!(tasks.len(), 3, "a new breach after the recovery: {tasks:?}");
}

/// What a story left behind, comparable across stores: per run (in start order) its workflow,
/// status, exit reason and timeline (step, status); then the task titles and the mail count.
type Outcome = (
    Vec<(String, RunStatus, Option<String>, Vec<(String, String)>)>,
    Vec<String>,
    usize,
);

async fn story(memory: bool) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let workflows = Path::new(env!("CARGO_MANIFEST_DIR"));
    let options = mikawaya_engine::tools::sim::SimOptions {
        memory,
        ..Default::default()
    };
    let start = Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap();
    let s = Simulation::start_with(workflows, dir.path(), start, options)
        .await
        .unwrap();
    s.send(cart("e1", "c1", 80, true)).await.unwrap();
    s.send(cart("e2", "c2", 250, true)).await.unwrap();
    s.send(cart("e3", "c3", 30, true)).await.unwrap();
    s.advance(30 * MINUTE).await.unwrap();
    s.send(json!({"id": "o1", "type": "order.placed", "customer": "c1", "data": {"order": {"id": "o1"}}})).await.unwrap();
    s.send(json!({"id": "l1", "type": "lead.created", "data": {"lead": {"id": "l1", "company": "Co", "score": 90, "region": "emea", "email": "l1@lead.example"}}})).await.unwrap();
    s.send(json!({"id": "t1", "type": "ticket.opened", "customer": {"id": "c9", "tier": "gold"}, "data": {"ticket": {"id": "T-1", "priority": "high"}}})).await.unwrap();
    s.advance(3 * DAY).await.unwrap();
    let mut runs = Vec::new();
    for w in ["cart-abandon", "lead-routing", "support-escalation"] {
        let mut found = s.runs(w).await.unwrap();
        found.sort_by_key(|r| (r.started_at, r.customer_id.clone()));
        for r in found {
            let timeline = s.timeline(&r.id).await.unwrap();
            let lines = timeline
                .into_iter()
                .map(|e| (e.step_id, e.status))
                .collect();
            runs.push((r.workflow, r.status, r.exit_reason, lines));
        }
    }
    (runs, s.task_titles().await.unwrap(), s.mails().len())
}

/// The executor does not depend on the store: the same story ends the same on SQLite and in
/// memory, line for line.
#[tokio::test]
async fn a_story_ends_the_same_on_sqlite_and_in_memory() {
    let on_sqlite = story(false).await;
    assert!(
        on_sqlite.0.len() >= 4,
        "the story starts runs: {:?}",
        on_sqlite.0
    );
    assert!(on_sqlite.2 >= 1, "and sends mail");
    assert_eq!(story(true).await, on_sqlite);
}
