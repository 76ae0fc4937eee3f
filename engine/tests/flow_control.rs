//! Flow control for actions against a real HTTP target: a concurrency limit holds the calls
//! in flight to it, queued runs are woken in turn as calls end, and nothing is lost.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use chrono::{TimeZone, Utc};
use mikawaya_engine::store::RunStatus;
use mikawaya_engine::tools::sim::{SimOptions, Simulation};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Requests in flight now, the most seen at once, and the total.
#[derive(Default)]
struct Load {
    now: AtomicUsize,
    most: AtomicUsize,
    total: AtomicUsize,
}

/// A target that takes 80 ms to answer each request, counting how many it holds at once.
async fn slow_target() -> (String, Arc<Load>) {
    let load = Arc::new(Load::default());
    let app = Router::new()
        .route(
            "/hook",
            post(|State(load): State<Arc<Load>>| async move {
                let now = load.now.fetch_add(1, Ordering::SeqCst) + 1;
                load.most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(80)).await;
                load.now.fetch_sub(1, Ordering::SeqCst);
                load.total.fetch_add(1, Ordering::SeqCst);
                "ok"
            }),
        )
        .with_state(load.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), load)
}

const FLOW: &str = "workflow \"sync\" version 1\non event lead.updated\nre-enroll always\n\
    do webhook(url: event.url, lead: event.lead)\n";

/// Eight runs call the target at once; with `limit` calls allowed in flight, returns the most
/// the target held at once, the calls it got, and how many steps waited in line.
async fn eight_calls(limit: Option<u32>) -> (usize, usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("wf");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::write(flows.join("sync.mkw"), FLOW).unwrap();
    let (url, load) = slow_target().await;
    let options = SimOptions {
        action_concurrency: limit
            .map(|n| [("webhook".to_string(), n)].into())
            .unwrap_or_default(),
        ..SimOptions::default()
    };
    let start = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
    let s = Simulation::start_with(&flows, dir.path(), start, options)
        .await
        .unwrap();
    let now = {
        use mikawaya_engine::clock::Clock;
        s.clock.now_ms()
    };
    let events: Vec<_> = (0..8)
        .map(|i| {
            let e = json!({"id": format!("u{i}"), "type": "lead.updated", "data": {"url": url, "lead": i}});
            mikawaya_engine::event::parse_event(i, e, now).unwrap()
        })
        .collect();
    s.store.insert_events(&events, now).await.unwrap();
    // The clock stands still: only a finished call waking the next in line lets them all end
    // (the leases would run out only at the action timeout).
    s.engine.run_until_idle().await.unwrap();
    let runs = s.runs("sync").await.unwrap();
    assert_eq!(runs.len(), 8);
    assert!(
        runs.iter().all(|r| r.status == RunStatus::Completed),
        "every run completes"
    );
    let mut queued = 0;
    for r in &runs {
        let timeline = s.timeline(&r.id).await.unwrap();
        queued += timeline.iter().filter(|e| e.status == "queued").count();
    }
    (
        load.most.load(Ordering::SeqCst),
        load.total.load(Ordering::SeqCst),
        queued,
    )
}

#[tokio::test]
async fn a_concurrency_limit_holds_the_calls_in_flight_and_loses_none() {
    let (most, total, queued) = eight_calls(Some(2)).await;
    assert_eq!(most, 2, "at most two calls in flight");
    assert_eq!(total, 8, "each run called once");
    assert!(queued >= 6, "the others waited in line: {queued}");
    let (most, total, queued) = eight_calls(None).await;
    assert!(most > 2, "without a limit the calls overlap: {most}");
    assert_eq!((total, queued), (8, 0));
}
