//! The counting sink of `bench --until completed`: an HTTP server in the bench process that the
//! benchmark workflow's `webhook` posts to. It notes when each event's delivery arrived (by the
//! event's index in the body) and counts repeated deliveries.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What the sink saw.
pub struct Deliveries {
    /// Arrival time per event index (`None`: not delivered yet).
    arrived: Mutex<Vec<Option<Instant>>>,
    /// Deliveries so far (first ones only).
    pub count: AtomicUsize,
    /// Deliveries of an event that had already arrived.
    pub repeated: AtomicUsize,
    /// Bodies that named no event of this benchmark.
    pub unknown: AtomicUsize,
}

impl Deliveries {
    fn new(events: usize) -> Self {
        Deliveries {
            arrived: Mutex::new(vec![None; events]),
            count: AtomicUsize::new(0),
            repeated: AtomicUsize::new(0),
            unknown: AtomicUsize::new(0),
        }
    }

    /// Records the delivery of event `index`.
    fn record(&self, index: usize) {
        let mut arrived = self.arrived.lock().expect("sink lock");
        match arrived.get_mut(index) {
            Some(slot @ None) => {
                *slot = Some(Instant::now());
                self.count.fetch_add(1, Ordering::Relaxed);
            }
            Some(Some(_)) => {
                self.repeated.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                self.unknown.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Arrival times by event index.
    pub fn arrivals(&self) -> Vec<Option<Instant>> {
        self.arrived.lock().expect("sink lock").clone()
    }
}

/// A running sink.
pub struct Sink {
    /// Where the workflow posts (`http://127.0.0.1:PORT/hook`).
    pub url: String,
    /// What arrived.
    pub deliveries: Arc<Deliveries>,
}

/// Starts a sink for `events` events on local `port` (0: a free one); `prefix` is the benchmark's event id
/// prefix (a body's `event` is `PREFIX-INDEX`).
pub async fn start(events: usize, prefix: String, port: u16) -> anyhow::Result<Sink> {
    let deliveries = Arc::new(Deliveries::new(events));
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state((deliveries.clone(), Arc::new(prefix)));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Sink { url, deliveries })
}

async fn hook(
    State((deliveries, prefix)): State<(Arc<Deliveries>, Arc<String>)>,
    Json(body): Json<Value>,
) -> &'static str {
    let index = body
        .get("event")
        .and_then(Value::as_str)
        .and_then(|id| id.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    match index {
        Some(i) => deliveries.record(i),
        None => {
            deliveries.unknown.fetch_add(1, Ordering::Relaxed);
        }
    }
    "{}"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_deliveries_are_timed_and_repeats_counted_apart() {
        let d = Deliveries::new(3);
        d.record(1);
        d.record(1);
        d.record(7);
        assert_eq!(d.count.load(Ordering::Relaxed), 1);
        assert_eq!(d.repeated.load(Ordering::Relaxed), 1);
        assert_eq!(d.unknown.load(Ordering::Relaxed), 1);
        let arrivals = d.arrivals();
        assert!(arrivals[0].is_none() && arrivals[1].is_some() && arrivals[2].is_none());
    }
}
