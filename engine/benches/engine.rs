//! Criterion benchmarks of the executor's two batch writers and of matching:
//! - `writer/commit_256_transitions`: one `commit_batch` of 256 run transitions on SQLite (a
//!   file in WAL mode with full sync, as `serve` uses it), the group commit's unit of work;
//! - `matcher/256_events/{1,100}_workflows`: matching 256 stored events against one workflow, and
//!   against 100 workflows on the same event type of which one starts runs (the goal: 100
//!   workflows keep at least 80 % of the throughput of one).

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mikawaya_engine::clock::Clock;
use mikawaya_engine::event::parse_event;
use mikawaya_engine::store::{
    EventLog, MatchBatch, NewRun, RunStatus, RunStore, SqliteStore, TimelineEntry, Transition,
};
use mikawaya_engine::tools::sim::{SimOptions, Simulation};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn writer(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = rt
        .block_on(SqliteStore::open(&dir.path().join("w.db")))
        .unwrap();
    let next = AtomicUsize::new(0);
    let mut group = c.benchmark_group("writer");
    group.throughput(Throughput::Elements(256));
    group.bench_function("commit_256_transitions", |b| {
        b.iter_batched(
            || {
                // 256 fresh runs, started outside the measurement.
                let from = next.fetch_add(256, Ordering::Relaxed);
                let runs: Vec<NewRun> = (from..from + 256)
                    .map(|i| NewRun {
                        id: format!("r{i}"),
                        workflow: "w".into(),
                        version: 1,
                        customer_id: Some(format!("c{}", i % 1000)),
                        enroll_key: format!("c{i}"),
                        trigger_key: format!("event:{i}"),
                        context: json!({"event": {"id": i, "cart": {"total": 80}}, "steps": {}}),
                        start: Some(0),
                        at: 0,
                        lease_until: 0,
                    })
                    .collect();
                let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
                rt.block_on(store.apply_match(MatchBatch {
                    new_runs: runs,
                    ..Default::default()
                }))
                .unwrap();
                ids.into_iter()
                    .map(|id| {
                        let context = json!({"event": {"cart": {"total": 80}}, "steps": {"1": {"output": {"status": 200}}}});
                        Transition {
                            timeline: vec![TimelineEntry::run_level("done", 1, json!({"status": 200}))],
                            ..Transition::new(id, 0, RunStatus::Completed, None, context, 1)
                        }
                    })
                    .collect::<Vec<_>>()
            },
            |ts| assert!(rt.block_on(store.commit_batch(ts)).unwrap().iter().all(|a| *a)),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// A simulation whose folder holds `count` workflows on `cart.abandoned`; only the first can
/// start runs.
fn simulation(rt: &tokio::runtime::Runtime, count: usize) -> (Simulation, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("wf");
    std::fs::create_dir_all(&wf).unwrap();
    for i in 0..count {
        let when = if i == 0 {
            "event.cart.total >= 50 and customer.consent.email".to_string()
        } else {
            format!("event.cart.total >= 50 and event.cart.region == \"r{i}\"")
        };
        let text = format!("workflow \"m{i}\" version 1\non event cart.abandoned\nwhen {when}\nre-enroll always\ndo log()\n");
        std::fs::write(wf.join(format!("m{i}.mkw")), text).unwrap();
    }
    let at = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
    // No ready queue: nothing executes the runs here, and a filling queue would stop the
    // matcher (it waits while the queue is more than half full).
    let options = SimOptions {
        memory: true,
        ready_capacity: Some(0),
        ..Default::default()
    };
    let sim = rt
        .block_on(Simulation::start_with(&wf, dir.path(), at, options))
        .unwrap();
    (sim, dir)
}

fn matcher(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("matcher");
    group.throughput(Throughput::Elements(256));
    for count in [1, 100] {
        let (sim, _dir) = simulation(&rt, count);
        let next = AtomicUsize::new(0);
        group.bench_function(format!("256_events/{count}_workflows"), |b| {
            b.iter_batched(
                || {
                    let from = next.fetch_add(256, Ordering::Relaxed);
                    let now = sim.clock.now_ms();
                    let events: Vec<_> = (from..from + 256)
                        .map(|i| {
                            let body = json!({"id": format!("e{i}"), "type": "cart.abandoned",
                                "customer": {"id": format!("c{}", i % 1000), "consent": {"email": true}},
                                "data": {"cart": {"id": format!("k{i}"), "total": 80}}});
                            parse_event(0, body, now).unwrap()
                        })
                        .collect();
                    rt.block_on(sim.store.insert_events(&events, now)).unwrap();
                },
                |()| assert_eq!(rt.block_on(sim.engine.process_events()).unwrap(), 256),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, writer, matcher);
criterion_main!(benches);
