//! Runs end to end: an event starts a run whose action reaches a real HTTP server; a goal event
//! ends a waiting run; a wait that times out takes the timeout path.

use crate::harness::{count, start, workspace};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::Digest;
use std::sync::{Arc, Mutex};

/// What the receiver saw: idempotency key, body and `traceparent` of each call.
pub type Seen = Arc<Mutex<Vec<(String, Value, String)>>>;

/// A real HTTP server recording every call to `/hook`; its URL and what it saw.
async fn receiver() -> (String, Seen) {
    receiver_answering_after(std::time::Duration::ZERO).await
}

/// Like [`receiver`], answering each call only after `delay` (the call is recorded at once).
pub async fn receiver_answering_after(delay: std::time::Duration) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, Json(body): Json<Value>| {
            let s = s.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                s.lock()
                    .unwrap()
                    .push((header("idempotency-key"), body, header("traceparent")));
                tokio::time::sleep(delay).await;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), seen)
}

#[tokio::test]
async fn an_event_runs_its_workflow_and_the_action_reaches_the_target() {
    let (hook, seen) = receiver().await;
    let flow = format!(
        "workflow: notify\nversion: 1\ntrigger: {{ event: deal.won }}\nwhen: event.deal.amount > 1000\nsteps:\n  - action: webhook\n    with:\n      url: {hook}\n      deal: \"{{{{ event.deal.id }}}}\"\n      amount: \"{{{{ event.deal.amount }}}}\"\n"
    );
    let dir = workspace(&[("notify.yaml", &flow)]);
    let engine = start(&dir);
    let (status, _) = engine.post_events(&json!([
        {"id": "w1", "type": "deal.won", "customer": "c1", "data": {"deal": {"id": "D-1", "amount": 5000}}},
        {"id": "w2", "type": "deal.won", "customer": "c2", "data": {"deal": {"id": "D-2", "amount": 10}}},
    ]).to_string()).await;
    assert_eq!(status, 202);
    let runs = engine
        .wait_for("/runs?workflow=notify", 30, |r| count(r, "completed") == 1)
        .await;
    assert_eq!(
        runs.as_array().unwrap().len(),
        1,
        "the small deal does not match"
    );
    let run_id = runs[0]["id"].as_str().unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (key, body, traceparent) = &seen[0];
    assert_eq!(key, &format!("{run_id}:1"));
    assert_eq!(body, &json!({"deal": "D-1", "amount": 5000}));
    // The event's trace id (W3C) reaches the target and is on every log line of its path.
    let trace_id = hex::encode(&sha2::Sha256::digest(b"w1")[..16]);
    assert!(
        traceparent.starts_with(&format!("00-{trace_id}-")) && traceparent.ends_with("-01"),
        "{traceparent}"
    );
    let log = engine.log();
    for line in ["event stored", "run started", "action called"] {
        assert!(
            log.lines()
                .any(|l| l.contains(line) && l.contains(&trace_id)),
            "no `{line}` line with trace {trace_id}:\n{log}"
        );
    }
    let detail = engine.get(&format!("/runs/{run_id}")).await;
    let steps: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["started", "done"]);
    let by_customer = engine.get("/runs?customer=c1").await;
    assert_eq!(by_customer[0]["id"], run_id);
}

const WAITING: &str = "workflow \"onboarding\" version 1\non event signup.completed\ngoal event plan.upgraded\n\
    wait 2s until event profile.completed -> continue timeout -> exit \"never finished the profile\"\n\
    do task.create(title: \"welcome call for {{ customer.id }}\")\n";

#[tokio::test]
async fn waits_end_by_goal_event_or_matching_event_or_timeout() {
    let dir = workspace(&[("onboarding.mkw", WAITING)]);
    let engine = start(&dir);
    let signup = |id: &str, c: &str| json!({"id": id, "type": "signup.completed", "customer": c});
    for (i, c) in ["goal", "event", "timeout"].iter().enumerate() {
        engine
            .post_events(&signup(&format!("s{i}"), c).to_string())
            .await;
    }
    engine
        .wait_for("/runs?workflow=onboarding", 30, |r| {
            count(r, "waiting") == 3
        })
        .await;
    engine
        .post_events(&json!({"id": "u1", "type": "plan.upgraded", "customer": "goal"}).to_string())
        .await;
    engine
        .post_events(
            &json!({"id": "p1", "type": "profile.completed", "customer": "event"}).to_string(),
        )
        .await;
    engine
        .post_events(
            &json!({"id": "p2", "type": "profile.completed", "customer": "stranger"}).to_string(),
        )
        .await;
    let runs = engine
        .wait_for("/runs?workflow=onboarding", 30, |r| {
            count(r, "exited") == 2 && count(r, "completed") == 1
        })
        .await;
    let reason = |c: &str| {
        runs.as_array()
            .unwrap()
            .iter()
            .find(|r| r["customer_id"] == c)
            .unwrap()["exit_reason"]
            .clone()
    };
    assert_eq!(reason("goal"), "goal: plan.upgraded");
    assert_eq!(reason("timeout"), "never finished the profile");
    assert_eq!(reason("event"), Value::Null);
    let tasks = engine.get("/tasks").await;
    assert_eq!(tasks.as_array().unwrap().len(), 1);
    assert_eq!(tasks[0]["title"], "welcome call for event");
}
