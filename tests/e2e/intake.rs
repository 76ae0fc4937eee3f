//! Event intake over HTTP: malformed events get a 400 with the reason and store nothing;
//! duplicates are reported and ignored; batches are all or nothing.

use crate::harness::{start, start_in_memory, workspace};
use serde_json::json;

const FLOW: &str = "workflow \"count\" version 1\non event lead.created\nre-enroll always\ndo log(message: \"lead {{ event.lead.id }}\")\n";

#[tokio::test]
async fn malformed_events_get_400_with_the_reason_and_nothing_is_stored() {
    let dir = workspace(&[("count.mkw", FLOW)]);
    let engine = start(&dir);
    let cases = [
        ("{not json", "body"),
        (r#"{"type": "lead.created"}"#, "id"),
        (r#"{"id": "x1", "type": "lead created"}"#, "type"),
        (
            r#"{"id": "x1", "type": "lead.created", "occurred_at": "last tuesday"}"#,
            "occurred_at",
        ),
        (
            r#"{"id": "x1", "type": "lead.created", "data": [1, 2]}"#,
            "data",
        ),
        (
            r#"[{"id": "x1", "type": "lead.created"}, {"id": "x2"}]"#,
            "type",
        ),
        ("[]", "body"),
    ];
    for (body, field) in cases {
        let (status, answer) = engine.post_events(body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["field"], field, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(field),
            "{answer}"
        );
    }
    // The refused batch stored nothing: x1 is still new.
    let (status, answer) = engine
        .post_events(r#"{"id": "x1", "type": "lead.created", "data": {"lead": {"id": 1}}}"#)
        .await;
    assert_eq!((status, answer["accepted"].as_u64()), (202, Some(1)));
    let runs = engine
        .wait_for("/runs?workflow=count", 30, |r| {
            r.as_array()
                .is_some_and(|a| a.len() == 1 && a[0]["status"] == "completed")
        })
        .await;
    assert_eq!(runs.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn duplicate_event_ids_are_ignored() {
    let dir = workspace(&[("count.mkw", FLOW)]);
    let engine = start(&dir);
    let batch = json!([
        {"id": "d1", "type": "lead.created", "data": {"lead": {"id": 1}}},
        {"id": "d2", "type": "lead.created", "data": {"lead": {"id": 2}}},
        {"id": "d1", "type": "lead.created", "data": {"lead": {"id": 1}}},
    ]);
    let (status, answer) = engine.post_events(&batch.to_string()).await;
    assert_eq!(status, 202);
    assert_eq!(answer, json!({"accepted": 2, "duplicates": ["d1"]}));
    let (_, again) = engine
        .post_events(&json!({"id": "d2", "type": "lead.created"}).to_string())
        .await;
    assert_eq!(again, json!({"accepted": 0, "duplicates": ["d2"]}));
    engine
        .wait_for("/runs?workflow=count", 30, |r| {
            crate::harness::count(r, "completed") == 2
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        engine
            .get("/runs?workflow=count")
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let metrics = engine.metrics_text(None).await;
    assert!(
        metrics.contains("mikawaya_events_accepted_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("mikawaya_events_duplicate_total 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn sigterm_stops_cleanly() {
    let dir = workspace(&[("count.mkw", FLOW)]);
    let engine = start(&dir);
    let (status, _) = engine
        .post_events(r#"{"id": "s1", "type": "lead.created"}"#)
        .await;
    assert_eq!(status, 202);
    let (code, log) = engine.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("stopped cleanly"), "{log}");
}

#[tokio::test]
async fn rejected_bodies_paths_and_queries_answer_with_the_json_error_shape() {
    let dir = workspace(&[("count.mkw", FLOW)]);
    let engine = start(&dir);
    let (status, answer) = engine.post("/suppressions", "{not json").await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("body")),
        "{answer}"
    );
    assert!(
        answer["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{answer}"
    );
    let (status, answer) = engine.post("/dead-letters/seven/retry", "").await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("path")),
        "{answer}"
    );
    let resp = reqwest::get(format!("{}/runs?limit=many", engine.url))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(answer["field"], "query", "{answer}");
    let resp = reqwest::get(format!("{}/nowhere", engine.url))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(answer["error"], "route `/nowhere` not found", "{answer}");
    let resp = reqwest::Client::new()
        .delete(format!("{}/events", engine.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert!(
        answer["error"].as_str().unwrap().contains("DELETE"),
        "{answer}"
    );
}

#[tokio::test]
async fn the_engine_runs_on_the_in_memory_store_and_keeps_no_file() {
    let dir = workspace(&[("count.mkw", FLOW)]);
    let engine = start_in_memory(&dir);
    let (status, _) = engine
        .post_events(r#"{"id": "m1", "type": "lead.created", "data": {"lead": {"id": 7}}}"#)
        .await;
    assert_eq!(status, 202);
    let (_, again) = engine
        .post_events(r#"{"id": "m1", "type": "lead.created"}"#)
        .await;
    assert_eq!(
        again["duplicates"][0], "m1",
        "duplicates are caught in memory too"
    );
    engine
        .wait_for("/runs?workflow=count", 30, |r| {
            r.as_array()
                .is_some_and(|a| a.len() == 1 && a[0]["status"] == "completed")
        })
        .await;
    let files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".db") || n.starts_with("memory"))
        .collect();
    assert!(files.is_empty(), "no database file: {files:?}");
}

#[tokio::test]
async fn events_posted_as_plain_text_are_refused_so_web_pages_cannot_post_them_cross_site() {
    let dir = workspace(&[("count.mkw", FLOW)]);
    let engine = start(&dir);
    let resp = reqwest::Client::new()
        .post(format!("{}/events", engine.url))
        .header("content-type", "text/plain")
        .body(r#"{"id": "csrf-1", "type": "lead.created"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(answer["field"], "content-type", "{answer}");
    let (status, answer) = engine
        .post_events(r#"{"id": "csrf-1", "type": "lead.created"}"#)
        .await;
    assert_eq!(
        (status, answer["accepted"].as_u64()),
        (202, Some(1)),
        "nothing was stored before"
    );
}

#[tokio::test]
async fn a_newline_in_event_data_cannot_forge_a_log_line() {
    let dir = workspace(&[("count.mkw", FLOW)]);
    let engine = start(&dir);
    let body = r#"{"id": "f1", "type": "lead.created", "data": {"lead": {"id": "7\nERROR forged: admin logged in"}}}"#;
    let (status, _) = engine.post_events(body).await;
    assert_eq!(status, 202);
    engine
        .wait_for("/runs?workflow=count", 30, |r| {
            r.as_array()
                .is_some_and(|a| a.len() == 1 && a[0]["status"] == "completed")
        })
        .await;
    let log = engine.log();
    assert!(log.contains(r"lead 7\nERROR forged"), "{log}");
    assert!(
        !log.lines().any(|l| l.starts_with("ERROR forged")),
        "a forged line: {log}"
    );
}

/// A webhook target that holds every request for a minute: runs calling it stay in flight.
async fn silent_target() -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            "late"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

/// The value of one series in `/metrics`.

#[tokio::test]
async fn a_full_backlog_gets_503_with_retry_after_and_the_refused_events_are_not_stored() {
    let hook = silent_target().await;
    let flow = format!(
        "workflow \"slow\" version 1\non event lead.created\nre-enroll always\ndo webhook(url: \"{hook}\")\n"
    );
    let dir = workspace(&[("slow.mkw", &flow)]);
    let engine = crate::harness::start_with(&dir, &["--max-backlog".into(), "3".into()]);
    for i in 0..3 {
        let (status, _) = engine
            .post_events(&json!({"id": format!("b{i}"), "type": "lead.created"}).to_string())
            .await;
        assert_eq!(status, 202);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while engine.metric("mikawaya_runs_in_flight", None).await < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the runs never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(engine.metric("mikawaya_backlog", None).await, 3);
    assert_eq!(engine.metric("mikawaya_backlog_bound", None).await, 3);
    let refused = reqwest::Client::new()
        .post(format!("{}/events", engine.url))
        .header("content-type", "application/json")
        .body(json!({"id": "b3", "type": "lead.created"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let answer: serde_json::Value = refused.json().await.unwrap();
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("the engine is behind"),
        "{answer}"
    );
    assert_eq!(
        engine
            .metric("mikawaya_events_pushed_back_total", None)
            .await,
        1
    );
    assert_eq!(
        engine.metric("mikawaya_events_accepted_total", None).await,
        3
    );
    // `mikawaya status` says so too, and exits 1 while the engine pushes back.
    let status = std::process::Command::new(crate::harness::binary())
        .args(["status", "--url", &engine.url])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(1), "{out}");
    assert!(
        out.starts_with("pushing back") && out.contains("backlog            3 of 3"),
        "{out}"
    );
    assert!(out.contains("pushed back (503)  1"), "{out}");
    let explained = engine.get("/events/b3/explain").await;
    assert!(
        explained.get("error").is_some(),
        "b3 was stored: {explained}"
    );
}
