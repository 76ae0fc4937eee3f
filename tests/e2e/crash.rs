//! The crash test: SIGKILL the engine in the middle of a load, restart it on the same database,
//! let the sender retry everything (at-least-once delivery), and check that every event has
//! exactly one completed run and exactly one task: nothing lost, nothing doubled.

use crate::harness::{start, workspace};
use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LOAD: &str = "workflow \"load\" version 1\non event load.test\nre-enroll always\nwait 1s\ndo task.create(title: \"task {{ event.id }}\")\n";
const EVENTS: usize = 600;
const BATCH: usize = 10;

async fn send_all(
    url: String,
    ids: Vec<String>,
    accepted: Arc<Mutex<HashSet<String>>>,
    sent: Arc<AtomicUsize>,
) {
    let client = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in ids.chunks(BATCH * 8) {
        for part in chunk.chunks(BATCH) {
            let body: Vec<_> = part
                .iter()
                .map(|id| json!({"id": id, "type": "load.test", "customer": format!("c-{id}")}))
                .collect();
            let (client, url, accepted, sent, part) = (
                client.clone(),
                url.clone(),
                accepted.clone(),
                sent.clone(),
                part.to_vec(),
            );
            tasks.spawn(async move {
                if let Ok(resp) = client
                    .post(format!("{url}/events"))
                    .json(&body)
                    .send()
                    .await
                {
                    if resp.status() == 202 {
                        accepted.lock().unwrap().extend(part);
                        sent.fetch_add(BATCH, Ordering::SeqCst);
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }
}

#[tokio::test]
async fn sigkill_mid_load_loses_nothing_and_doubles_nothing() {
    let dir = workspace(&[("load.mkw", LOAD)]);
    let ids: Vec<String> = (0..EVENTS).map(|i| format!("ev-{i:05}")).collect();
    let accepted_before = Arc::new(Mutex::new(HashSet::new()));
    let sent = Arc::new(AtomicUsize::new(0));

    let engine = start(&dir);
    let sender = tokio::spawn(send_all(
        engine.url.clone(),
        ids.clone(),
        accepted_before.clone(),
        sent.clone(),
    ));
    while sent.load(Ordering::SeqCst) < EVENTS / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    engine.kill9();
    sender.await.unwrap();
    let before = accepted_before.lock().unwrap().clone();
    assert!(
        before.len() >= EVENTS / 3 && before.len() < EVENTS,
        "the kill should land mid-load ({} accepted)",
        before.len()
    );

    let engine = start(&dir);
    let accepted_after = Arc::new(Mutex::new(HashSet::new()));
    send_all(
        engine.url.clone(),
        ids.clone(),
        accepted_after.clone(),
        Arc::new(AtomicUsize::new(0)),
    )
    .await;
    assert_eq!(
        accepted_after.lock().unwrap().len(),
        EVENTS,
        "every retry is answered 202 (new or duplicate)"
    );

    let runs = engine
        .wait_for(
            &format!("/runs?workflow=load&status=completed&limit={}", EVENTS * 2),
            300,
            |r| r.as_array().is_some_and(|a| a.len() >= EVENTS),
        )
        .await;
    let all_runs = engine
        .get(&format!("/runs?workflow=load&limit={}", EVENTS * 2))
        .await;
    assert_eq!(
        all_runs.as_array().unwrap().len(),
        EVENTS,
        "one run per event, none twice"
    );
    let per_event: HashSet<String> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["customer_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(per_event.len(), EVENTS);
    for id in &before {
        assert!(
            per_event.contains(&format!("c-{id}")),
            "event {id} was accepted before the crash but has no run"
        );
    }
    let tasks = engine.get("/tasks").await;
    let titles: HashSet<String> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        tasks.as_array().unwrap().len(),
        titles.len(),
        "no task was created twice"
    );
}
