//! Scoped API tokens through the real binary: created with the command line (shown once),
//! allowed exactly their scopes (403 naming the missing one), refused at once when revoked, and
//! kept across a restart.

use crate::harness::{binary, start_with, workspace, Engine};
use serde_json::Value;

const FLOW: &str = "workflow \"count\" version 1\non event lead.created\nre-enroll always\ndo log(message: \"lead\")\n";
const ADMIN: &str = "admin-bootstrap-token";

/// Runs `mikawaya token …` against `engine` with the admin token; its JSON answer.
fn token_cli(engine: &Engine, args: &[&str]) -> Value {
    let args: Vec<&str> = ["token"].into_iter().chain(args.iter().copied()).collect();
    engine.cli(&args, ADMIN)
}

/// The status of `method path` with bearer `token` (and a lead event as the body), and the
/// answer.
async fn call(engine: &Engine, method: &str, path: &str, token: &str) -> (u16, Value) {
    let lead = r#"{"id": "l-1", "type": "lead.created", "customer": "c-1"}"#;
    engine.call(method, path, token, lead).await
}

#[tokio::test]
async fn scoped_tokens_allow_exactly_their_scopes_and_revoking_one_refuses_it_at_once() {
    let dir = workspace(&[("count.mkw", FLOW)]);
    let args = ["--token".to_string(), ADMIN.to_string()];
    let engine = start_with(&dir, &args);

    let created = token_cli(
        &engine,
        &["create", "--name", "shop", "--scope", "events:write"],
    );
    let shop = created["token"].as_str().unwrap().to_string();
    assert!(shop.starts_with("mkw_"), "{created}");
    let created = token_cli(
        &engine,
        &["create", "--name", "grafana", "--scope", "runs:read"],
    );
    let grafana = created["token"].as_str().unwrap().to_string();

    // The shop may send events and nothing else.
    assert_eq!(call(&engine, "POST", "/events", &shop).await.0, 202);
    for (method, path, scope) in [
        ("GET", "/runs", "runs:read"),
        ("GET", "/customers/c-1", "customers:read"),
        ("POST", "/workflows/reload", "workflows:write"),
        ("GET", "/tokens", "admin"),
    ] {
        let (status, answer) = call(&engine, method, path, &shop).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(
            error.contains(&format!("`{scope}`")) && error.contains("`shop`"),
            "{error}"
        );
    }
    // The dashboard reads runs, but not customers' personal data, and sends nothing.
    assert_eq!(call(&engine, "GET", "/runs", &grafana).await.0, 200);
    assert_eq!(
        call(&engine, "GET", "/customers/c-1", &grafana).await.0,
        403
    );
    assert_eq!(call(&engine, "POST", "/events", &grafana).await.0, 403);
    assert_eq!(call(&engine, "GET", "/runs", "mkw_0000").await.0, 401);
    // Runs without `customers:read`: their shape, not the event data or step details.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let runs = loop {
        let (_, runs) = call(&engine, "GET", "/runs?status=completed", ADMIN).await;
        if runs.as_array().is_some_and(|a| !a.is_empty()) || std::time::Instant::now() > deadline {
            break runs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        runs[0]["context"]["event"]["id"], "l-1",
        "the admin sees it all: {runs}"
    );
    let (_, seen) = call(&engine, "GET", "/runs?status=completed", &grafana).await;
    assert_eq!(seen[0]["status"], "completed");
    assert_eq!(
        seen[0]["context"]["hidden"], "needs the customers:read scope",
        "{seen}"
    );
    let path = format!("/runs/{}", runs[0]["id"].as_str().unwrap());
    let (_, one) = call(&engine, "GET", &path, &grafana).await;
    let details: Vec<&Value> = one["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["detail"])
        .collect();
    assert!(
        details.len() >= 2 && details.iter().all(|d| d["hidden"].is_string()),
        "{one}"
    );
    assert_eq!(
        call(&engine, "GET", "/events/l-1/explain", &grafana)
            .await
            .0,
        403
    );

    // The list names holders and scopes, never a token or its hash.
    let list = token_cli(&engine, &["list"]);
    let text = list.to_string();
    assert!(
        text.contains("\"shop\"") && text.contains("events:write"),
        "{text}"
    );
    assert!(
        !text.contains(&shop[4..]) && !text.contains("hash"),
        "{text}"
    );

    // Revoked: refused from the next request on.
    let revoked = token_cli(&engine, &["revoke", "shop"]);
    assert_eq!(revoked["revoked"], "shop");
    assert_eq!(call(&engine, "POST", "/events", &shop).await.0, 401);
    let again = r#"{"name": "shop", "scopes": ["events:write"]}"#;
    let (status, answer) = engine.call("POST", "/tokens", ADMIN, again).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("conflict")),
        "a revoked name stays taken: {answer}"
    );

    // Kept across a restart: the dashboard still reads, the shop stays refused.
    engine.terminate();
    let engine = start_with(&dir, &args);
    assert_eq!(call(&engine, "GET", "/runs", &grafana).await.0, 200);
    assert_eq!(call(&engine, "POST", "/events", &shop).await.0, 401);
    let (status, answer) = call(&engine, "POST", "/tokens", ADMIN).await;
    assert_eq!(status, 400, "a body that is not a token request: {answer}");
}

#[tokio::test]
async fn every_change_through_the_api_is_in_the_audit_log_once_with_its_actor() {
    let dir = workspace(&[("count.mkw", FLOW)]);
    let engine = start_with(&dir, &["--token".to_string(), ADMIN.to_string()]);
    let created = token_cli(
        &engine,
        &[
            "create",
            "--name",
            "ops",
            "--scope",
            "workflows:write",
            "--scope",
            "consent:write",
        ],
    );
    let ops = created["token"].as_str().unwrap().to_string();
    let post = |path: &'static str, body: &'static str| {
        let (url, ops) = (engine.url.clone(), ops.clone());
        async move {
            reqwest::Client::new()
                .post(format!("{url}{path}"))
                .bearer_auth(ops)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(post("/workflows/reload", "").await, 200);
    let suppression = r#"{"address": "Ada@Example.com", "reason": "complaint"}"#;
    assert_eq!(post("/suppressions", suppression).await, 200);
    assert_eq!(
        call(&engine, "DELETE", "/suppressions/ada@example.com", &ops)
            .await
            .0,
        200
    );
    token_cli(&engine, &["revoke", "ops"]);
    // Reads are not changes: none of these is recorded.
    assert_eq!(call(&engine, "GET", "/runs", ADMIN).await.0, 200);

    let out = std::process::Command::new(binary())
        .args(["audit", "--url", &engine.url, "--token", ADMIN])
        .output()
        .unwrap();
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries: Vec<(String, String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap().to_string();
            (text("actor"), text("action"), text("target"))
        })
        .collect();
    let expected = [
        ("bootstrap", "token.revoked", "ops"),
        ("ops", "suppression.removed", "ada@example.com"),
        ("ops", "suppression.added", "ada@example.com"),
        ("ops", "workflows.reloaded", "workflows"),
        ("bootstrap", "token.created", "ops"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(entries, expected, "newest first: {log}");
    assert_eq!(log[4]["detail"]["scopes"][0], "workflows:write", "{log}");
    assert_eq!(log[2]["detail"]["reason"], "complaint", "{log}");
    // Nothing deletes from it through the API, not even the admin.
    assert_eq!(call(&engine, "DELETE", "/audit", ADMIN).await.0, 405);
}

/// `count` lead events with ids `{prefix}-0` …, as one JSON array.
fn leads(prefix: &str, count: usize) -> String {
    let events: Vec<String> = (0..count)
        .map(|i| format!(r#"{{"id": "{prefix}-{i}", "type": "lead.created"}}"#))
        .collect();
    format!("[{}]", events.join(","))
}

#[tokio::test]
async fn each_token_has_its_own_intake_rate_and_a_refused_request_stores_nothing() {
    let dir = workspace(&[("count.mkw", FLOW)]);
    let args = ["--token", ADMIN, "--rate-limit", "20/s"].map(String::from);
    let engine = start_with(&dir, &args);
    let shop = token_cli(
        &engine,
        &["create", "--name", "shop", "--scope", "events:write"],
    );
    let shop = format!("Bearer {}", shop["token"].as_str().unwrap());
    let admin = format!("Bearer {ADMIN}");
    let send = |auth: &str, body: String| {
        let (url, auth) = (engine.url.clone(), auth.to_string());
        async move {
            let resp = reqwest::Client::new()
                .post(format!("{url}/events"))
                .header("authorization", auth)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let retry = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            (status, retry, resp.json::<Value>().await.unwrap())
        }
    };
    // A second's budget at once, then nothing more for the shop...
    assert_eq!(send(&shop, leads("a", 20)).await.0, 202);
    let (status, retry, answer) = send(&shop, leads("b", 15)).await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(retry.as_deref(), Some("1"), "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("`shop`"),
        "{answer}"
    );
    // ...while another token has its own budget.
    assert_eq!(send(&admin, leads("c", 20)).await.0, 202);
    // More than a second's budget in one request can never pass: split it.
    let (status, _, answer) = send(&admin, leads("d", 21)).await;
    assert_eq!(status, 429);
    assert!(
        answer["error"].as_str().unwrap().contains("split it"),
        "{answer}"
    );
    // After the wait the refused request goes through whole: nothing of it had been stored.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _, answer) = send(&shop, leads("b", 15)).await;
    assert_eq!(
        (status, answer["accepted"].as_u64()),
        (202, Some(15)),
        "{answer}"
    );
    let limited = engine.metric("mikawaya_events_rate_limited_total", Some(ADMIN));
    assert_eq!(limited.await, 2, "the two refused requests are counted");
}

#[tokio::test]
async fn a_workflow_file_changed_on_disk_is_reloaded_and_audited_as_the_file_watcher() {
    let dir = workspace(&[("count.mkw", FLOW)]);
    let engine = start_with(&dir, &["--token".to_string(), ADMIN.to_string()]);
    let second = FLOW.replace("\"count\"", "\"second\"");
    // The watcher takes its first look at the folder once serving; a file written before that
    // look is part of the starting state, not a change.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    std::fs::write(dir.path().join("workflows/second.mkw"), second).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let entry = loop {
        let (_, log) = call(&engine, "GET", "/audit", ADMIN).await;
        let found = log
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "workflows.reloaded")
            .cloned();
        if let Some(entry) = found {
            break entry;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no reload audited: {log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(entry["actor"], "file-watcher", "{entry}");
    let active = entry["detail"]["active"].to_string();
    assert!(active.contains("second"), "{entry}");
}
