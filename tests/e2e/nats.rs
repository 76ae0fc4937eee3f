//! Events through NATS JetStream: two nodes on one PostgreSQL schema share one durable
//! consumer; `mikawaya send-event --nats` publishes 200 events, then all of them again (a
//! publisher retrying), and a message that is not an event. Every event gets exactly one run,
//! the bad message is kept with its reason (`GET /events/rejected`) and not redelivered.

use crate::harness::{binary, count, fresh_schema, workspace, Engine};
use serde_json::json;
use std::process::Command;

/// The NATS server the tests use.
pub const NATS: &str = "nats://127.0.0.1:4222";

/// Publishes `body` (events) with `mikawaya send-event --nats`, each to `<prefix>.<type>`.
pub fn publish(prefix: &str, body: &str) {
    use std::io::Write;
    let mut child = Command::new(binary())
        .args(["send-event", "--nats", NATS, "--nats-prefix", prefix, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn nodes_share_a_jetstream_consumer_and_keep_what_they_refuse() {
    let dir = workspace(&[(
        "from-nats.mkw",
        "workflow \"from-nats\" version 1\non event nats.test\nre-enroll always\ndo task.create(title: \"{{ event.id }}\")\n",
    )]);
    let (db, _schema) = fresh_schema("e2e_nats");
    // A stream and subjects of this test's own, so runs never see each other's messages.
    let unique = _schema.0.clone();
    let prefix = format!("e2e.{unique}");
    let nats = [
        "--nats".to_string(),
        NATS.to_string(),
        "--nats-stream".to_string(),
        unique.clone(),
        "--nats-subject".to_string(),
        format!("{prefix}.>"),
    ];
    let nodes: Vec<Engine> = (0..2)
        .map(|i| {
            let outbox = dir.path().join(format!("outbox{i}"));
            Engine::start(&dir.path().join("workflows"), &db, &outbox, &nats)
        })
        .collect();
    // The consumer exists once a node has started pulling; publish after that.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let events: Vec<_> = (0..200)
        .map(|i| json!({"id": format!("n-{i:03}"), "type": "nats.test", "customer": format!("c{}", i % 20)}))
        .collect();
    let body = serde_json::to_string(&events).unwrap();
    publish(&prefix, &body);
    publish(&prefix, &body);
    publish(
        &prefix,
        &json!({"id": "bad-1", "type": "nats.test", "customer": "c1", "total": 5}).to_string(),
    );

    nodes[1]
        .wait_for("/runs?workflow=from-nats&limit=1000", 60, |r| {
            count(r, "completed") >= 200
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let runs = nodes[0].get("/runs?workflow=from-nats&limit=1000").await;
    let mut ids: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["context"]["event"]["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let expected: Vec<String> = (0..200).map(|i| format!("n-{i:03}")).collect();
    assert_eq!(ids, expected, "each event once, though published twice");
    assert_eq!(count(&runs, "completed"), 200);

    let rejected = nodes[0].get("/events/rejected").await;
    let rejected = rejected.as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0]["source"], format!("nats:{prefix}.nats.test"));
    let reason = rejected[0]["reason"].as_str().unwrap();
    assert!(reason.contains("`total`"), "{reason}");
    assert!(rejected[0]["body"].as_str().unwrap().contains("bad-1"));
    for node in nodes {
        let (code, log) = node.terminate();
        assert_eq!(code, Some(0), "{log}");
    }
}
