//! `mikawaya bench`: drives `POST /events` from this process against an engine in another
//! process (started here on a fresh database unless `--url` is given) and reports durable
//! events per second and request latency percentiles. With `--until completed` it also runs the
//! benchmark workflow to the end: each event's run posts to a counting sink, and the report adds
//! completed runs per second, event → completion percentiles and the lag after the last event.

mod engine_proc;
mod load;
mod sink;
mod waits;

use anyhow::bail;
use std::time::{Duration, Instant};

/// How far each event is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Until {
    /// Until the engine has stored it (the intake alone).
    Accepted,
    /// Until its run's webhook has reached the sink.
    Completed,
}

/// Options of `bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Engine to measure; without it a fresh engine is started on a temporary database.
    #[arg(long)]
    pub url: Option<String>,
    /// The store of the engines started here: a PostgreSQL URL (each benchmark in a new schema
    /// of it); without it, a new SQLite file.
    #[arg(long)]
    pub db: Option<String>,
    /// Engines started on that store (the nodes); requests go round them.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// Events to send in total.
    #[arg(long, default_value_t = 20_000)]
    pub events: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Events per request.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Events per second to offer (default: as fast as the engine answers).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Follow each event until it is stored, or until its run completed.
    #[arg(long, value_enum, default_value_t = Until::Accepted)]
    pub until: Until,
    /// With `--until completed`: workflows listening to the event (one starts runs, the others
    /// only cost matching).
    #[arg(long, default_value_t = 1)]
    pub workflows: usize,
    /// With `--until completed`: the webhook also sends the customer's tier, so each run's
    /// step reads its customer (a run whose steps do not is executed without reading it).
    #[arg(long)]
    pub customer_in_step: bool,
    /// With `--until completed`: the port of the counting sink (needed with `--url`, whose
    /// workflow must post `{"event": event.id}` to `http://127.0.0.1:PORT/hook`).
    #[arg(long, default_value_t = 0)]
    pub sink_port: u16,
    /// Longest wait for the last run to complete, in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Bearer token.
    #[arg(long, env = "MIKAWAYA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Also declare 10 scores and 20 segments over the benchmark's events (history aggregates,
    /// scores, attributes): the matcher keeps them for every event, so the rate with and
    /// without this flag is what customer intelligence costs.
    #[arg(long)]
    pub intel: bool,
    /// Instead of sending events: time how long an engine with this many generated workflows
    /// takes to start on a new database, and to start again on it.
    #[arg(long)]
    pub startup: Option<usize>,
    /// Instead of the event benchmark: fill a database with this many runs waiting for an
    /// event, then report the engine's start time, memory, idle CPU and intake rate on it.
    #[arg(long)]
    pub waits: Option<usize>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Times the start of an engine with `count` workflows: first on a new database (every
/// version compiled and stored), then again on it (compiled, found stored).
async fn startup(count: usize) -> anyhow::Result<i32> {
    let dir = engine_proc::prepare(&engine_proc::many_workflows(count))?;
    let t = Instant::now();
    let engine = engine_proc::start_in(dir).await?;
    println!(
        "start with {count} workflows, new database: {}",
        ms(t.elapsed())
    );
    let t = Instant::now();
    let engine = engine.restart().await?;
    println!("start again on that database:   {}", ms(t.elapsed()));
    engine.stop().await;
    Ok(0)
}

/// Runs the benchmark and prints the numbers.
pub async fn run(args: BenchArgs) -> anyhow::Result<i32> {
    if let Some(count) = args.startup {
        return startup(count).await;
    }
    if let Some(count) = args.waits {
        return waits::run(count).await;
    }
    let prefix = uuid::Uuid::now_v7().to_string();
    let completed = args.until == Until::Completed;
    if completed && args.url.is_some() && args.sink_port == 0 {
        bail!("with --url, --until completed needs --sink-port: the engine's workflow must post to the sink");
    }
    let sink = match completed {
        true => Some(sink::start(args.events, prefix.clone(), args.sink_port).await?),
        false => None,
    };
    let engines = match (&args.url, &sink) {
        (Some(_), _) => Vec::new(),
        (None, sink) => {
            let mut files = sink.as_ref().map_or_else(Vec::new, |s| {
                engine_proc::workflows(&s.url, args.workflows, args.customer_in_step)
            });
            if args.intel {
                files.extend(engine_proc::intel_files());
            }
            engine_proc::start_nodes(&files, args.db.as_deref(), args.nodes).await?
        }
    };
    let urls: Vec<String> = match &args.url {
        Some(url) => vec![url.clone()],
        None => engines.iter().map(|e| e.url.clone()).collect(),
    };
    for e in &engines {
        if let Some(pid) = e.pid() {
            eprintln!("engine pid {pid} at {}", e.url);
        }
    }
    let plan = load::Plan {
        urls,
        token: args.token.clone(),
        events: args.events,
        concurrency: args.concurrency,
        batch: args.batch,
        rate: args.rate,
        prefix,
    };
    let sent = load::send(&plan).await?;
    report_intake(&args, &sent);
    if let Some(sink) = &sink {
        let backlog = args.events
            - sink
                .deliveries
                .count
                .load(std::sync::atomic::Ordering::Relaxed);
        println!("backlog when the last event was accepted: {backlog} runs");
        let deadline = Instant::now() + Duration::from_secs(args.timeout);
        while sink
            .deliveries
            .count
            .load(std::sync::atomic::Ordering::Relaxed)
            < args.events
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        report_completion(&args, &sent, sink);
    }
    for e in engines {
        e.stop().await;
    }
    Ok(0)
}

fn report_intake(args: &BenchArgs, sent: &load::Sent) {
    let mut latencies = sent.latencies.clone();
    latencies.sort();
    let elapsed = sent.finished - sent.started;
    println!("events:        {}", args.events);
    println!(
        "requests:      {} ({} event(s) each, {} in flight{})",
        latencies.len(),
        args.batch,
        args.concurrency,
        args.rate
            .map(|r| format!(", {r:.0} events/s offered"))
            .unwrap_or_default()
    );
    println!("elapsed:       {:.2} s", elapsed.as_secs_f64());
    println!(
        "throughput:    {:.0} durable events/s",
        args.events as f64 / elapsed.as_secs_f64()
    );
    println!("latency p50:   {}", ms(percentile(&latencies, 0.50)));
    println!("latency p99:   {}", ms(percentile(&latencies, 0.99)));
    if sent.pushed_back > 0 {
        println!(
            "pushed back:   {} answers (429/503, retried)",
            sent.pushed_back
        );
    }
}

fn report_completion(args: &BenchArgs, sent: &load::Sent, sink: &sink::Sink) {
    use std::sync::atomic::Ordering::Relaxed;
    let arrivals = sink.deliveries.arrivals();
    let mut e2e: Vec<Duration> = arrivals
        .iter()
        .zip(&sent.sent_at)
        .filter_map(|(a, s)| Some(a.as_ref()?.saturating_duration_since(*s.as_ref()?)))
        .collect();
    e2e.sort();
    let last = arrivals.iter().flatten().max().copied();
    let done = sink.deliveries.count.load(Relaxed);
    println!("completed:     {done} of {} runs", args.events);
    if let Some(last) = last {
        let span = last - sent.started;
        println!(
            "completion:    {:.0} completed runs/s ({} workflow(s) on the event)",
            done as f64 / span.as_secs_f64(),
            args.workflows
        );
        println!(
            "lag after the last event: {}",
            ms(last.saturating_duration_since(sent.finished))
        );
    }
    println!("event → completed p50: {}", ms(percentile(&e2e, 0.50)));
    println!("event → completed p99: {}", ms(percentile(&e2e, 0.99)));
    let (repeated, unknown) = (
        sink.deliveries.repeated.load(Relaxed),
        sink.deliveries.unknown.load(Relaxed),
    );
    if repeated + unknown > 0 {
        println!("repeated deliveries: {repeated}; unknown bodies: {unknown}");
    }
}
