//! `bench --waits N`: an engine whose database holds N runs waiting for an event (a 30-day wait
//! that ends early on `lead.replied` for the same lead). It reports how long the engine takes to
//! start on that database, its memory and its idle CPU, and the intake rate next to the same
//! engine on an empty database.

use super::engine_proc::{self, EngineProc};
use super::{load, ms};
use mikawaya_engine::store::{
    EventLog, MatchBatch, NewRun, RunStatus, RunStore, SqliteStore, TimelineEntry, Timer,
    TimerKind, Transition, WaitRow,
};
use serde_json::json;
use std::time::{Duration, Instant};

const WAITER: &str = "workflow \"waiter\" version 1\non event lead.created\nre-enroll always\n\nwait 30d until event lead.replied match event.lead.id -> exit \"replied\"\ndo log(message: \"no reply from {{ event.lead.id }}\")\n";

/// Runs per transaction while the database is filled.
const CHUNK: usize = 5_000;

/// Fills `db` with `count` runs of `waiter` waiting at their first step.
async fn seed(db: &std::path::Path, count: usize) -> anyhow::Result<()> {
    let store = SqliteStore::open(db).await?;
    let now = chrono::Utc::now().timestamp_millis();
    for from in (0..count).step_by(CHUNK) {
        let ids: Vec<usize> = (from..(from + CHUNK).min(count)).collect();
        let context = |i: &usize| json!({"event": {"id": format!("seed-{i}"), "lead": {"id": format!("L{i}")}}, "steps": {}});
        let runs: Vec<NewRun> = ids
            .iter()
            .map(|i| NewRun {
                id: format!("seed-{i:08}"),
                workflow: "waiter".into(),
                version: 1,
                customer_id: Some(format!("c{i}")),
                enroll_key: format!("c{i}"),
                trigger_key: format!("event:seed-{i}"),
                context: context(i),
                start: Some(0),
                at: now,
                lease_until: 0,
            })
            .collect();
        store
            .apply_match(MatchBatch {
                new_runs: runs,
                ..Default::default()
            })
            .await?;
        let waits: Vec<Transition> = ids
            .iter()
            .map(|i| Transition {
                timeline: vec![TimelineEntry::run_level("waiting", now, json!({}))],
                timer: Some(Timer {
                    due_at: now + 30 * 86_400_000,
                    kind: TimerKind::Wake,
                    attempt: 1,
                    lease_until: 0,
                }),
                wait: Some(WaitRow {
                    event_type: "lead.replied".into(),
                    match_expr: "event.lead.id".into(),
                    match_key: format!("L{i}"),
                }),
                ..Transition::new(
                    format!("seed-{i:08}"),
                    0,
                    RunStatus::Waiting,
                    Some(0),
                    context(i),
                    now,
                )
            })
            .collect();
        store.commit_batch(waits).await?;
    }
    Ok(())
}

/// Resident memory and CPU ticks (1/100 s) of a process.
fn usage(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command.
    (rss_kb, ticks(11) + ticks(12))
}

/// Intake events/s into `engine` (20,000 events, 50 per request, 16 in flight).
async fn intake(engine: &EngineProc) -> anyhow::Result<f64> {
    let plan = load::Plan {
        urls: vec![engine.url.clone()],
        token: None,
        events: 20_000,
        concurrency: 16,
        batch: 50,
        rate: None,
        prefix: uuid::Uuid::now_v7().to_string(),
    };
    let sent = load::send(&plan).await?;
    Ok(plan.events as f64 / (sent.finished - sent.started).as_secs_f64())
}

/// Measures and prints.
pub async fn run(count: usize) -> anyhow::Result<i32> {
    let files = vec![("waiter.mkw".to_string(), WAITER.to_string())];
    let empty = engine_proc::start(&files).await?;
    let base = intake(&empty).await?;
    empty.stop().await;

    let dir = engine_proc::prepare(&files)?;
    // The engine stores the workflow's version on its first start; the runs are then seeded.
    engine_proc::start_in(dir.clone())
        .await?
        .stop_keeping()
        .await;
    let t = Instant::now();
    seed(&dir.join("bench.db"), count).await?;
    println!("seeded {count} waiting runs in {}", ms(t.elapsed()));
    let t = Instant::now();
    let engine = engine_proc::start_in(dir).await?;
    println!("start on that database:      {}", ms(t.elapsed()));
    let pid = engine.pid().unwrap_or(0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, before) = usage(pid);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (rss, after) = usage(pid);
    println!("resident memory:             {} MB", rss / 1024);
    println!(
        "idle CPU over 10 s:          {:.2} % of a core",
        (after - before) as f64 / 10.0
    );
    let with_waits = intake(&engine).await?;
    println!(
        "intake, 50 per request:      {with_waits:.0} events/s ({base:.0} on an empty database: {:+.1} %)",
        (with_waits / base - 1.0) * 100.0
    );
    engine.stop().await;
    Ok(0)
}
