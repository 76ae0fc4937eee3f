//! `mikawaya bench`: drives `POST /events` from this process against an engine in another
//! process (started here on a fresh database unless `--url` is given) and reports durable
//! events per second and request latency percentiles.

use anyhow::{bail, Context};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Options of `bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Engine to measure; without it a fresh engine is started on a temporary database.
    #[arg(long)]
    pub url: Option<String>,
    /// Events to send in total.
    #[arg(long, default_value_t = 20_000)]
    pub events: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Events per request.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Bearer token.
    #[arg(long, env = "MIKAWAYA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

struct Engine {
    url: String,
    child: Option<tokio::process::Child>,
    dir: Option<std::path::PathBuf>,
}

async fn start_engine() -> anyhow::Result<Engine> {
    let dir = std::env::temp_dir().join(format!("mikawaya-bench-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(dir.join("workflows"))?;
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["serve", "--listen", "127.0.0.1:0", "--no-watch"])
        .arg("--db")
        .arg(dir.join("bench.db"))
        .arg("--workflows")
        .arg(dir.join("workflows"))
        .env("MIKAWAYA_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting the engine")?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await??
        .unwrap_or_default();
    let Some(url) = line.strip_prefix("mikawaya listening on ") else {
        bail!("engine did not start: {line}")
    };
    Ok(Engine {
        url: url.trim().to_string(),
        child: Some(child),
        dir: Some(dir),
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs the benchmark and prints the numbers.
pub async fn run(args: BenchArgs) -> anyhow::Result<i32> {
    let mut engine = match &args.url {
        Some(u) => Engine {
            url: u.clone(),
            child: None,
            dir: None,
        },
        None => start_engine().await?,
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let run_id = uuid::Uuid::now_v7().to_string();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency.max(1) {
        let (client, next, url, token, run_id) = (
            client.clone(),
            next.clone(),
            engine.url.clone(),
            args.token.clone(),
            run_id.clone(),
        );
        let (total, batch) = (args.events, args.batch.max(1));
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let from = next.fetch_add(batch, Ordering::Relaxed);
                if from >= total {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let events: Vec<_> = (from..(from + batch).min(total))
                    .map(|i| json!({"id": format!("{run_id}-{i}"), "type": "bench.event", "customer": format!("c{}", i % 1000), "data": {"n": i}}))
                    .collect();
                let mut req = client.post(format!("{url}/events")).json(&events);
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                let t0 = Instant::now();
                let resp = req.send().await?;
                if resp.status() != reqwest::StatusCode::ACCEPTED {
                    bail!("engine answered {}", resp.status());
                }
                latencies.push(t0.elapsed());
            }
        });
    }
    let mut latencies = Vec::new();
    while let Some(r) = tasks.join_next().await {
        latencies.extend(r??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    println!("events:        {}", args.events);
    println!(
        "requests:      {} ({} event(s) each, {} in flight)",
        latencies.len(),
        args.batch,
        args.concurrency
    );
    println!("elapsed:       {:.2} s", elapsed.as_secs_f64());
    println!(
        "throughput:    {:.0} durable events/s",
        args.events as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency p50:   {:.2} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3
    );
    println!(
        "latency p99:   {:.2} ms",
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    if let Some(mut child) = engine.child.take() {
        child.start_kill().ok();
        child.wait().await.ok();
    }
    if let Some(dir) = engine.dir.take() {
        std::fs::remove_dir_all(dir).ok();
    }
    Ok(0)
}
