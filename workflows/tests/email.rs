//! The cart-abandon workflow against a real SMTP server (aiosmtpd): what a customer would
//! actually receive, and what the restraint rules keep from them.

use chrono::{TimeZone, Utc};
use mikawaya_e2e::smtp::{header, SmtpServer};
use mikawaya_engine::tools::sim::{SimOptions, Simulation};
use serde_json::json;
use std::path::Path;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

const NEWSLETTER: &str =
    "workflow \"newsletter\" version 1\non event newsletter.sent\nre-enroll always\n\
    do email.send(to: customer.email, subject: \"News {{ event.issue }}\", text: \"Hello\")\n";

/// A folder with the real cart-abandon workflow and its templates, plus a newsletter workflow.
fn workflows_dir() -> tempfile::TempDir {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("workflows");
    std::fs::create_dir_all(wf.join("templates/cart-reminder")).unwrap();
    std::fs::copy(
        examples.join("cart-abandon.yaml"),
        wf.join("cart-abandon.yaml"),
    )
    .unwrap();
    for f in ["subject.txt", "text.txt", "html.html"] {
        std::fs::copy(
            examples.join("templates/cart-reminder").join(f),
            wf.join("templates/cart-reminder").join(f),
        )
        .unwrap();
    }
    std::fs::write(wf.join("newsletter.mkw"), NEWSLETTER).unwrap();
    dir
}

async fn sim(dir: &tempfile::TempDir, smtp: &SmtpServer) -> Simulation {
    let options = SimOptions {
        smtp_url: Some(smtp.url()),
        frequency_caps: Some("3/7d".parse().unwrap()),
        ..SimOptions::default()
    };
    Simulation::start_with(
        &dir.path().join("workflows"),
        dir.path(),
        Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap(),
        options,
    )
    .await
    .unwrap()
}

fn cart(id: &str, customer: &str) -> serde_json::Value {
    json!({"id": id, "type": "cart.abandoned",
           "customer": {"id": customer, "email": format!("{customer}@example.com"), "first_name": "Ada", "consent": {"email": true}},
           "data": {"cart": {"id": format!("k-{id}"), "total": 120, "items": ["tea", "cups"]}}})
}

fn statuses(timeline: &[mikawaya_engine::store::TimelineEntry]) -> Vec<String> {
    timeline
        .iter()
        .map(|e| format!("{}:{}", e.step_id, e.status))
        .collect()
}

/// The reason the customer's cart-abandon reminder was skipped.
async fn skipped_reason(s: &Simulation, customer: &str) -> String {
    let runs = s.runs("cart-abandon").await.unwrap();
    let run = runs
        .iter()
        .find(|r| r.customer_id.as_deref() == Some(customer))
        .expect("a run of the customer");
    let timeline = s.timeline(&run.id).await.unwrap();
    let skipped = timeline
        .iter()
        .find(|e| e.status == "skipped")
        .unwrap_or_else(|| panic!("nothing skipped: {timeline:?}"));
    assert_eq!(skipped.step_id, "reminder");
    skipped.detail["reason"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn one_reminder_with_the_coupon_when_no_order_arrives() {
    let smtp = SmtpServer::start(0);
    let dir = workflows_dir();
    let s = sim(&dir, &smtp).await;
    s.send(cart("e1", "ada")).await.unwrap();
    s.advance(3 * DAY).await.unwrap();
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(header(m, "To").as_deref(), Some("ada@example.com"));
    assert_eq!(
        header(m, "Subject").as_deref(),
        Some("Ada, you left 2 item(s) in your cart")
    );
    assert!(
        m.contains("Use the code SAVE10 for 10% off your order."),
        "{m}"
    );
    assert!(
        m.contains("<strong>SAVE10</strong>"),
        "the HTML part is there too"
    );
    let run = &s.runs("cart-abandon").await.unwrap()[0];
    assert_eq!(
        header(m, "Message-ID"),
        Some(format!("<{}.reminder@mikawaya>", run.id))
    );
    assert!(header(m, "List-Unsubscribe")
        .unwrap()
        .contains("/unsubscribe/"));
}

#[tokio::test]
async fn no_reminder_when_the_order_arrives_within_the_hour() {
    let smtp = SmtpServer::start(0);
    let dir = workflows_dir();
    let s = sim(&dir, &smtp).await;
    s.send(cart("e1", "ada")).await.unwrap();
    s.advance(40 * MINUTE).await.unwrap();
    s.send(json!({"id": "o1", "type": "order.placed", "customer": "ada"}))
        .await
        .unwrap();
    s.advance(3 * DAY).await.unwrap();
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn no_reminder_after_the_customer_opted_out() {
    let smtp = SmtpServer::start(0);
    let dir = workflows_dir();
    let s = sim(&dir, &smtp).await;
    s.send(cart("e1", "ada")).await.unwrap();
    s.advance(10 * MINUTE).await.unwrap();
    s.send(json!({"id": "c1", "type": "consent.updated", "customer": "ada", "data": {"channel": "email", "granted": false}})).await.unwrap();
    s.advance(3 * DAY).await.unwrap();
    assert!(smtp.messages().is_empty());
    assert_eq!(
        skipped_reason(&s, "ada").await,
        "customer ada has not consented to email"
    );
}

#[tokio::test]
async fn no_reminder_past_the_frequency_cap_and_none_to_suppressed_addresses() {
    let smtp = SmtpServer::start(0);
    let dir = workflows_dir();
    let s = sim(&dir, &smtp).await;
    for i in 0..3 {
        s.send(json!({"id": format!("n{i}"), "type": "newsletter.sent", "customer": {"id": "ada", "email": "ada@example.com", "consent": {"email": true}}, "data": {"issue": i}})).await.unwrap();
    }
    assert_eq!(smtp.messages().len(), 3);
    s.send(cart("e1", "ada")).await.unwrap();
    s.advance(2 * HOUR).await.unwrap();
    assert_eq!(
        smtp.messages().len(),
        3,
        "a fourth marketing email within 7 days is skipped"
    );
    assert_eq!(
        skipped_reason(&s, "ada").await,
        "frequency cap 3/7d: 3 email message(s) in 7d already"
    );

    s.send(json!({"id": "b1", "type": "email.bounced", "data": {"address": "Cy@Example.com", "kind": "hard"}})).await.unwrap();
    s.send(cart("e2", "cy")).await.unwrap();
    s.advance(2 * HOUR).await.unwrap();
    assert_eq!(
        smtp.messages().len(),
        3,
        "a hard-bounced address gets nothing"
    );
    assert_eq!(
        skipped_reason(&s, "cy").await,
        "cy@example.com is suppressed (hard bounce)"
    );
}

#[tokio::test]
async fn a_temporary_smtp_refusal_is_retried_and_the_mail_arrives_once() {
    let smtp = SmtpServer::start(1);
    let dir = workflows_dir();
    let s = sim(&dir, &smtp).await;
    s.send(cart("e1", "ada")).await.unwrap();
    s.advance(HOUR + 1000).await.unwrap();
    assert!(
        smtp.messages().is_empty(),
        "the first attempt got 451; the retry waits 30-60 s"
    );
    s.advance(5 * MINUTE).await.unwrap();
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    let run = &s.runs("cart-abandon").await.unwrap()[0];
    let steps = statuses(&s.timeline(&run.id).await.unwrap());
    assert_eq!(
        steps[..5],
        [
            "run:started",
            "1:waiting",
            "1:done",
            "coupon-test:variant",
            "reminder:retry"
        ]
    );
    assert_eq!(steps[5], "reminder:done");
    s.advance(3 * DAY).await.unwrap();
    assert_eq!(smtp.messages().len(), 1);
}
