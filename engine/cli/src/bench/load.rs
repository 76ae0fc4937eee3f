//! The load `bench` offers: `POST /events` from `concurrency` tasks, `batch` events per request,
//! as fast as answered or at a steady `rate`. A 429/503 answer (the engine pushing back) is
//! retried after its `Retry-After`, and counted.

use anyhow::bail;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to send.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The engine's base URL.
    pub urls: Vec<String>,
    /// Bearer token.
    pub token: Option<String>,
    /// Events in total.
    pub events: usize,
    /// Requests in flight.
    pub concurrency: usize,
    /// Events per request.
    pub batch: usize,
    /// Events per second offered (`None`: as fast as the engine answers).
    pub rate: Option<f64>,
    /// Event ids are `PREFIX-INDEX`.
    pub prefix: String,
}

/// What sending took.
pub struct Sent {
    /// When sending started.
    pub started: Instant,
    /// When the last request was answered.
    pub finished: Instant,
    /// When each event's (accepted) request was sent, by event index.
    pub sent_at: Vec<Option<Instant>>,
    /// Latency of each accepted request.
    pub latencies: Vec<Duration>,
    /// Answers that pushed back (429/503) and were retried.
    pub pushed_back: usize,
}

/// Event `i` of the benchmark: an abandoned cart of 80 by one of 1,000 customers, who consented
/// to email.
pub fn event(prefix: &str, i: usize) -> serde_json::Value {
    json!({
        "id": format!("{prefix}-{i}"),
        "type": "cart.abandoned",
        "customer": {"id": format!("c{}", i % 1000), "consent": {"email": true}},
        "data": {"cart": {"id": format!("k{i}"), "total": 80}, "value": 80},
    })
}

/// Sends the plan's events and returns when every one was accepted.
pub async fn send(plan: &Plan) -> anyhow::Result<Sent> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(plan.concurrency)
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..plan.concurrency.max(1) {
        let (client, next, plan) = (client.clone(), next.clone(), plan.clone());
        tasks.spawn(async move { sender(client, next, plan, started).await });
    }
    let mut sent_at = vec![None; plan.events];
    let (mut latencies, mut pushed_back) = (Vec::new(), 0);
    while let Some(r) = tasks.join_next().await {
        let report = r??;
        for (from, to, t0, latency) in report.requests {
            sent_at[from..to].fill(Some(t0));
            latencies.push(latency);
        }
        pushed_back += report.pushed_back;
    }
    Ok(Sent {
        started,
        finished: Instant::now(),
        sent_at,
        latencies,
        pushed_back,
    })
}

struct SenderReport {
    /// `(first index, end index, sent at, latency)` per accepted request.
    requests: Vec<(usize, usize, Instant, Duration)>,
    pushed_back: usize,
}

async fn sender(
    client: reqwest::Client,
    next: Arc<AtomicUsize>,
    plan: Plan,
    started: Instant,
) -> anyhow::Result<SenderReport> {
    let batch = plan.batch.max(1);
    let mut report = SenderReport {
        requests: Vec::new(),
        pushed_back: 0,
    };
    loop {
        let from = next.fetch_add(batch, Ordering::Relaxed);
        if from >= plan.events {
            return Ok(report);
        }
        let to = (from + batch).min(plan.events);
        if let Some(rate) = plan.rate {
            let due = started + Duration::from_secs_f64(from as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let body: Vec<_> = (from..to).map(|i| event(&plan.prefix, i)).collect();
        loop {
            // Requests go round the engines (the nodes of one store).
            let url = &plan.urls[(from / batch) % plan.urls.len()];
            let mut req = client.post(format!("{url}/events")).json(&body);
            if let Some(t) = &plan.token {
                req = req.bearer_auth(t);
            }
            let t0 = Instant::now();
            let resp = req.send().await?;
            let status = resp.status();
            if status == reqwest::StatusCode::ACCEPTED {
                report.requests.push((from, to, t0, t0.elapsed()));
                break;
            }
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS
                || status == reqwest::StatusCode::SERVICE_UNAVAILABLE
            {
                report.pushed_back += 1;
                let wait = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.05)
                    .min(5.0);
                tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                continue;
            }
            bail!("engine answered {status}: {}", resp.text().await?);
        }
    }
}
