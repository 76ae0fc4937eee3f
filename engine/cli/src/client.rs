//! Commands that talk to a running engine over HTTP.

use anyhow::{bail, Context};
use serde_json::Value;
use std::io::Read;

/// Where a running engine is, and the token to call it with (the options every command that
/// talks to one shares).
#[derive(Debug, Clone, clap::Args)]
pub struct Remote {
    /// Engine URL.
    #[arg(
        long,
        default_value = "http://127.0.0.1:8080",
        env = "MIKAWAYA_URL",
        global = true
    )]
    pub url: String,
    /// Bearer token (with the scope the command needs).
    #[arg(long, env = "MIKAWAYA_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
}

/// A request to `url`, with the bearer token if one is given.
pub(crate) fn request(
    method: reqwest::Method,
    url: &str,
    token: &Option<String>,
) -> reqwest::RequestBuilder {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req
}

/// Prints a JSON answer (pretty) to stdout, or the status and answer to stderr; the exit code.
pub(crate) async fn print_response(resp: reqwest::Response) -> anyhow::Result<i32> {
    let status = resp.status();
    let text = resp.text().await?;
    let pretty = serde_json::from_str::<Value>(&text)
        .map(|v| serde_json::to_string_pretty(&v).unwrap_or(text.clone()))
        .unwrap_or(text);
    if status.is_success() {
        println!("{pretty}");
        Ok(0)
    } else {
        eprintln!("{status}: {pretty}");
        Ok(1)
    }
}

/// The events given on the command line, or (`-`, nothing) read from standard input.
pub fn read_body(json: Option<String>) -> anyhow::Result<String> {
    Ok(match json.as_deref() {
        None | Some("-") => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
        Some(j) => j.to_string(),
    })
}

/// `send-event`.
pub async fn send_event(
    url: &str,
    token: Option<String>,
    json: Option<String>,
    source: Option<String>,
) -> anyhow::Result<i32> {
    let body = read_body(json)?;
    let (path, signature) = match &source {
        None => ("/events".to_string(), None),
        Some(name) => {
            let secret = std::env::var("MIKAWAYA_SOURCE_SECRET").map_err(|_| {
                anyhow::anyhow!("--source {name} signs with the secret in MIKAWAYA_SOURCE_SECRET, which is not set")
            })?;
            let t = chrono::Utc::now().timestamp();
            let header = mikawaya_engine::core::sources::sign(&secret, t, body.as_bytes());
            (format!("/sources/{name}/events"), Some(header))
        }
    };
    let mut req = request(reqwest::Method::POST, &format!("{url}{path}"), &token)
        .header("content-type", "application/json");
    if let Some(header) = signature {
        req = req.header(mikawaya_engine::core::sources::SIGNATURE_HEADER, header);
    }
    let resp = req
        .body(body)
        .send()
        .await
        .with_context(|| format!("is the engine running at {url}?"))?;
    print_response(resp).await
}

/// `runs`.
pub async fn runs(
    url: &str,
    token: Option<String>,
    id: Option<String>,
    customer: Option<String>,
    workflow: Option<String>,
    status: Option<String>,
) -> anyhow::Result<i32> {
    if let Some(id) = id {
        return run_timeline(url, token, &id).await;
    }
    let query: Vec<(&str, String)> = [
        ("customer", customer),
        ("workflow", workflow),
        ("status", status),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    let runs: Vec<Value> = match get_json(url, &token, "/runs", &query).await? {
        Ok(runs) => runs,
        Err(code) => return Ok(code),
    };
    println!(
        "{:<38} {:<22} {:>3} {:<12} {:<10} exit",
        "run", "workflow", "v", "customer", "status"
    );
    for r in &runs {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
        println!(
            "{:<38} {:<22} {:>3} {:<12} {:<10} {}",
            s("id"),
            s("workflow"),
            r["version"],
            s("customer_id"),
            s("status"),
            s("exit_reason")
        );
    }
    Ok(0)
}

/// `experiments`: a table of every variant's numbers.
pub async fn experiments(
    url: &str,
    token: Option<String>,
    workflow: Option<String>,
) -> anyhow::Result<i32> {
    let query: Vec<(&str, String)> = workflow.map(|w| ("workflow", w)).into_iter().collect();
    let experiments: Vec<Value> = match get_json(url, &token, "/experiments", &query).await? {
        Ok(experiments) => experiments,
        Err(code) => return Ok(code),
    };
    println!(
        "{:<22} {:<22} {:<14} {:>8} {:>9} {:>7}  95% interval",
        "workflow", "experiment", "variant", "entered", "converted", "rate"
    );
    let pct = |v: &Value| format!("{:.1}%", v.as_f64().unwrap_or(0.0) * 100.0);
    for e in &experiments {
        for v in e["variants"].as_array().into_iter().flatten() {
            println!(
                "{:<22} {:<22} {:<14} {:>8} {:>9} {:>7}  {} to {}",
                e["workflow"].as_str().unwrap_or("-"),
                e["experiment"].as_str().unwrap_or("-"),
                v["variant"].as_str().unwrap_or("-"),
                v["entered"],
                v["converted"],
                pct(&v["rate"]),
                pct(&v["rate_low"]),
                pct(&v["rate_high"]),
            );
        }
    }
    Ok(0)
}

/// `scores CUSTOMER`: each score's value, then its latest changes.
pub async fn scores(url: &str, token: Option<String>, customer: &str) -> anyhow::Result<i32> {
    let path = format!("/customers/{customer}/scores");
    let scores: Vec<Value> = match get_json(url, &token, &path, &[]).await? {
        Ok(scores) => scores,
        Err(code) => return Ok(code),
    };
    let num = |v: &Value| v.as_f64().unwrap_or(0.0);
    for s in &scores {
        let (name, about) = (
            s["name"].as_str().unwrap_or("-"),
            s["description"].as_str().unwrap_or(""),
        );
        println!("{name:<20} {:>8.2}  {about}", num(&s["value"]));
        for c in s["history"].as_array().into_iter().flatten() {
            let at = c["at"]
                .as_i64()
                .map(mikawaya_engine::clock::rfc3339)
                .unwrap_or_default();
            let (event, rule) = (
                c["event"].as_str().unwrap_or("-"),
                c["rule"].as_str().unwrap_or("-"),
            );
            println!(
                "  {at}  {:>+8.2} -> {:>8.2}  event {event}: {rule}",
                num(&c["points"]),
                num(&c["value"])
            );
        }
    }
    Ok(0)
}

/// `dead-letters`.
pub async fn dead_letters(
    url: &str,
    token: Option<String>,
    retry: Option<i64>,
) -> anyhow::Result<i32> {
    match retry {
        Some(id) => {
            let path = format!("/dead-letters/{id}/retry");
            call_print(reqwest::Method::POST, url, token, &path).await
        }
        None => get_print(url, token, "/dead-letters").await,
    }
}

/// GETs `path` with `query` and reads its JSON; a refusal is printed and its exit code given
/// instead.
pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
    url: &str,
    token: &Option<String>,
    path: &str,
    query: &[(&str, String)],
) -> anyhow::Result<Result<T, i32>> {
    call_json(reqwest::Method::GET, url, token, path, query).await
}

/// Calls `path` with `method` and `query` (no body) and reads its JSON; a refusal is printed
/// and its exit code given instead.
pub(crate) async fn call_json<T: serde::de::DeserializeOwned>(
    method: reqwest::Method,
    url: &str,
    token: &Option<String>,
    path: &str,
    query: &[(&str, String)],
) -> anyhow::Result<Result<T, i32>> {
    let resp = request(method, &format!("{url}{path}"), token)
        .query(query)
        .send()
        .await
        .with_context(|| format!("is the engine running at {url}?"))?;
    if !resp.status().is_success() {
        return Ok(Err(print_response(resp).await?));
    }
    Ok(Ok(resp.json().await?))
}

/// GETs a path and prints the JSON.
pub async fn get_print(url: &str, token: Option<String>, path: &str) -> anyhow::Result<i32> {
    call_print(reqwest::Method::GET, url, token, path).await
}

/// Calls a path with `method` (no body) and prints the JSON answer.
pub async fn call_print(
    method: reqwest::Method,
    url: &str,
    token: Option<String>,
    path: &str,
) -> anyhow::Result<i32> {
    let resp = request(method, &format!("{url}{path}"), &token)
        .send()
        .await
        .with_context(|| format!("is the engine running at {url}?"))?;
    if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
        bail!("the engine wants a token: pass --token or set MIKAWAYA_TOKEN");
    }
    print_response(resp).await
}

/// `runs ID`: the run's state and a readable timeline.
async fn run_timeline(url: &str, token: Option<String>, id: &str) -> anyhow::Result<i32> {
    let body: Value = match get_json(url, &token, &format!("/runs/{id}"), &[]).await? {
        Ok(body) => body,
        Err(code) => return Ok(code),
    };
    let run = &body["run"];
    let text = |v: &Value| {
        v.as_str()
            .map(String::from)
            .unwrap_or_else(|| v.to_string())
    };
    println!(
        "run {}  {} v{}  customer {}  {}",
        text(&run["id"]),
        text(&run["workflow"]),
        run["version"],
        text(&run["customer_id"]),
        text(&run["status"])
    );
    if let Some(reason) = run["exit_reason"].as_str() {
        println!("exit reason: {reason}");
    }
    for e in body["timeline"].as_array().into_iter().flatten() {
        let at = mikawaya_engine::clock::rfc3339(e["at"].as_i64().unwrap_or(0));
        let attempt = if e["attempt"].as_u64().unwrap_or(1) > 1 {
            format!(" (attempt {})", e["attempt"])
        } else {
            String::new()
        };
        println!(
            "{at}  {:<14} {:<7} {:<8}{attempt}  {}",
            text(&e["step_id"]),
            text(&e["kind"]),
            text(&e["status"]),
            e["detail"]
        );
    }
    Ok(0)
}
