//! Signed sources: a sending system posts to `/sources/<name>/events` with the body signed by
//! its secret (`Mikawaya-Signature: t=…,v1=…`, computed here independently of the engine, as the
//! README tells senders to), needs no bearer token, and its events carry `event.source`.
//! Wrong signatures, stale times and unknown sources are refused with the reason; nothing of a
//! refused request is stored.

use crate::harness::{start_with, workspace, Engine};
use hmac::{Hmac, Mac};
use serde_json::Value;

const SECRET: &str = "shop-secret-0123456789abcdef";

/// Starts only for orders the shop signed: a rule can tell sources apart.
const FLOW: &str = "workflow \"from-shop\" version 1\non event order.placed\nwhen event.source == \"shop\"\nre-enroll always\ndo log(message: \"order {{ event.id }} from {{ event.source }}\")\n";

fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs `body` as the shop with signature header `sig`.
async fn as_shop(engine: &Engine, body: &str, sig: &str) -> (u16, Value) {
    engine
        .post_with("/sources/shop/events", body, &[("Mikawaya-Signature", sig)])
        .await
}

fn now_s() -> i64 {
    chrono::Utc::now().timestamp()
}

fn order(id: &str) -> String {
    format!(r#"{{"id": "{id}", "type": "order.placed", "customer": "c-1"}}"#)
}

#[tokio::test]
async fn signed_events_are_accepted_without_a_token_and_bad_signatures_are_refused_with_the_reason()
{
    let dir = workspace(&[("from-shop.mkw", FLOW)]);
    std::fs::write(dir.path().join("shop.secret"), format!("{SECRET}\n")).unwrap();
    let sources = dir.path().join("sources.yaml");
    let file = dir.path().join("shop.secret");
    std::fs::write(
        &sources,
        format!(
            "shop:\n  secret_file: {}\n  tolerance: 2m\n",
            file.display()
        ),
    )
    .unwrap();
    let engine = start_with(
        &dir,
        &[
            "--sources".into(),
            sources.display().to_string(),
            "--token".into(),
            "write-token".into(),
        ],
    );

    // Signed correctly: accepted although the request has no bearer token.
    let body = order("o-1");
    let sig = signature(SECRET, now_s(), &body);
    let (status, answer) = as_shop(&engine, &body, &sig).await;
    assert_eq!(
        (status, answer["accepted"].as_u64()),
        (202, Some(1)),
        "{answer}"
    );
    // The same request again (a replay inside the window) is a duplicate, not a second event.
    let (status, answer) = as_shop(&engine, &body, &sig).await;
    assert_eq!(
        (status, answer["duplicates"][0].as_str()),
        (202, Some("o-1"))
    );

    let refused = |status: u16, answer: &Value, words: &str| {
        assert_eq!(status, 401, "{answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(words), "{error}");
        assert_eq!(answer["field"], "mikawaya-signature");
    };
    // The body changed after signing (or signed with another secret).
    let (status, answer) = as_shop(&engine, &order("o-2"), &sig).await;
    refused(status, &answer, "no `v1` signature matches");
    let other = signature("another-secret-entirely", now_s(), &order("o-3"));
    let (status, answer) = as_shop(&engine, &order("o-3"), &other).await;
    refused(status, &answer, "no `v1` signature matches");
    // Signed ten minutes ago: outside the source's 2-minute tolerance.
    let stale = signature(SECRET, now_s() - 600, &order("o-4"));
    let (status, answer) = as_shop(&engine, &order("o-4"), &stale).await;
    refused(status, &answer, "tolerance 120 s");
    // No signature at all, and a source nobody configured.
    let (status, answer) = engine.post("/sources/shop/events", &order("o-5")).await;
    refused(status, &answer, "no `Mikawaya-Signature` header");
    let (status, answer) = engine
        .post_with(
            "/sources/crm/events",
            &order("o-6"),
            &[("Mikawaya-Signature", &sig)],
        )
        .await;
    assert_eq!(status, 404, "{answer}");
    // A body may not claim a source itself, on either route.
    let claimed = r#"{"id": "o-7", "type": "order.placed", "source": "shop"}"#;
    let claimed_sig = signature(SECRET, now_s(), claimed);
    let (status, answer) = as_shop(&engine, claimed, &claimed_sig).await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("source")),
        "{answer}"
    );
    let bearer = "Bearer write-token";
    let (status, answer) = engine
        .post_with("/events", claimed, &[("Authorization", bearer)])
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("source")),
        "{answer}"
    );

    // An unsigned event through the bearer route starts nothing: the rule wants the shop. It is
    // stored before the next signed one, so once that one's run completed it has been matched.
    let (status, _) = engine
        .post_with("/events", &order("o-8"), &[("Authorization", bearer)])
        .await;
    assert_eq!(status, 202);
    // The command line signs too.
    let sent = std::process::Command::new(crate::harness::binary())
        .args([
            "send-event",
            "--source",
            "shop",
            "--url",
            &engine.url,
            &order("o-9"),
        ])
        .env("MIKAWAYA_SOURCE_SECRET", SECRET)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&sent.stdout);
    assert!(
        sent.status.success() && out.contains("\"accepted\": 1"),
        "{out}"
    );

    let client = reqwest::Client::new();
    let runs_of = |path: String| {
        let client = client.clone();
        let url = format!("{}{path}", engine.url);
        async move {
            client
                .get(url)
                .header("Authorization", bearer)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let runs = loop {
        let runs = runs_of("/runs?workflow=from-shop".into()).await;
        let done = runs
            .as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().all(|r| r["status"] == "completed"));
        if done || std::time::Instant::now() > deadline {
            break runs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2, "only the signed orders start runs: {runs:?}");
    let explained = runs_of("/events/o-8/explain".into()).await;
    assert!(
        explained.to_string().contains("event.source"),
        "{explained}"
    );
    let logged: Vec<String> = runs
        .iter()
        .map(|r| r["context"]["steps"]["1"]["output"]["logged"].to_string())
        .collect();
    assert!(
        logged.iter().any(|l| l.contains("order o-1 from shop"))
            && logged.iter().any(|l| l.contains("order o-9 from shop")),
        "the source is in the event each run sees: {logged:?}"
    );
}
