//! Email through the real binary and a real SMTP server: the List-Unsubscribe link in a received
//! message records the opt-out, and later marketing mail to that customer stops.

use crate::harness::{count, start_with, workspace};
use mikawaya_e2e::smtp::{header, SmtpServer};
use serde_json::json;

const PROMO: &str = "workflow \"promo\" version 1\non event promo.eligible\nre-enroll always\n\
    do email.send(to: customer.email, subject: \"A gift for {{ customer.first_name }}\", text: \"Here is 10% off.\")\n";

#[tokio::test]
async fn the_unsubscribe_link_records_the_opt_out_and_stops_later_mail() {
    let smtp = SmtpServer::start(0);
    let dir = workspace(&[("promo.mkw", PROMO)]);
    let engine = start_with(
        &dir,
        &[
            "--smtp-url".into(),
            smtp.url(),
            "--frequency-cap".into(),
            "10/1d".into(),
        ],
    );
    let eligible = |id: &str| json!({"id": id, "type": "promo.eligible", "customer": {"id": "ada", "email": "ada@example.com", "first_name": "Ada", "consent": {"email": true}}});

    engine.post_events(&eligible("p1").to_string()).await;
    engine
        .wait_for("/runs?workflow=promo", 30, |r| count(r, "completed") == 1)
        .await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        header(&messages[0], "Subject").as_deref(),
        Some("A gift for Ada")
    );
    let link = header(&messages[0], "List-Unsubscribe").unwrap();
    let url = link
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string();
    assert!(
        url.starts_with(&engine.url),
        "{url} should point at the engine"
    );
    assert_eq!(
        header(&messages[0], "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );

    // Following the link shows a confirmation page and changes nothing (link scanners GET too).
    let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(page.contains("<form method=\"post\">"), "{page}");
    assert_eq!(engine.get("/customers/ada").await["consent"]["email"], true);
    // A tampered link is refused.
    let forged = format!("{}0", url);
    assert_eq!(
        reqwest::Client::new()
            .post(&forged)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // The one-click POST records the opt-out.
    let resp = reqwest::Client::new()
        .post(&url)
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        engine.get("/customers/ada").await["consent"]["email"],
        false
    );

    // The next promotion is skipped with the reason, and no mail is sent.
    engine
        .post_events(&json!({"id": "p2", "type": "promo.eligible", "customer": "ada"}).to_string())
        .await;
    let runs = engine
        .wait_for("/runs?workflow=promo", 30, |r| count(r, "completed") == 2)
        .await;
    let latest = engine
        .get(&format!("/runs/{}", runs[0]["id"].as_str().unwrap()))
        .await;
    let step = &latest["timeline"][1];
    assert_eq!(
        (step["status"].as_str(), step["detail"]["reason"].as_str()),
        (
            Some("skipped"),
            Some("customer ada has not consented to email")
        )
    );
    assert_eq!(smtp.messages().len(), 1);
}
