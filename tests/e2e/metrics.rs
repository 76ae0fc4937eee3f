//! `/metrics` scraped from the real binary and read with a Prometheus text parser: counters,
//! gauges and histograms (intake latency, event → run start, step duration per action and
//! outcome, timer lag) and messages by outcome, after real work.

use crate::harness::{count, start, workspace};
use prometheus_parse::{Sample, Scrape, Value};

const COUNT: &str =
    "workflow \"count\" version 1\non event lead.created\nre-enroll always\ndo log(message: \"lead\")\n";

/// A marketing email to customers who never consented: skipped, counted by reason.
const PROMO: &str = "workflow \"promo\" version 1\non event lead.created\nre-enroll always\ndo email.send(to: \"ada@example.com\", subject: \"Hi\", text: \"Hello\")\n";

const FRAGILE: &str = r#"workflow: fragile
version: 1
trigger: { event: order.placed }
steps:
  - action: webhook
    with: { url: "http://127.0.0.1:9/hook" }
    retry: { attempts: 1 }
"#;

/// The samples of `metric` whose labels include every `(name, value)` of `labels`.
fn find<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect()
}

/// The one scalar value (counter, gauge or untyped) of `metric` with `labels`.
fn scalar(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match find(scrape, metric, labels).as_slice() {
        [one] => match one.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            ref other => panic!("{metric} is not a scalar: {other:?}"),
        },
        other => panic!("{metric}{labels:?}: {} samples", other.len()),
    }
}

/// The observation count of histogram `metric` with `labels` (its `+Inf` bucket), checking
/// that its buckets never decrease.
fn observations(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let samples = find(scrape, metric, labels);
    let [one] = samples.as_slice() else {
        panic!("{metric}{labels:?}: {} histograms", samples.len());
    };
    let Value::Histogram(buckets) = &one.value else {
        panic!("{metric} is not a histogram: {:?}", one.value);
    };
    assert!(
        buckets.windows(2).all(|w| w[0].count <= w[1].count),
        "{metric}: cumulative buckets: {buckets:?}"
    );
    let last = buckets.last().expect("buckets");
    assert!(last.less_than.is_infinite(), "{buckets:?}");
    last.count
}

#[tokio::test]
async fn metrics_are_scraped_and_parsed_after_real_work() {
    let dir = workspace(&[
        ("count.mkw", COUNT),
        ("promo.mkw", PROMO),
        ("fragile.yaml", FRAGILE),
    ]);
    let engine = start(&dir);
    let leads: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"id": "l-{i}", "type": "lead.created", "customer": "c-{i}"}}"#))
        .collect();
    let (status, _) = engine.post_events(&format!("[{}]", leads.join(","))).await;
    assert_eq!(status, 202);
    let (status, _) = engine
        .post_events(r#"{"id": "o-1", "type": "order.placed", "customer": "c-1"}"#)
        .await;
    assert_eq!(status, 202);
    engine
        .wait_for("/runs?limit=100", 30, |r| {
            count(r, "completed") == 20 && count(r, "failed") == 1
        })
        .await;

    let text = engine.metrics_text(None).await;
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    assert_eq!(
        scalar(&scrape, "mikawaya_events_accepted_total", &[]),
        11.0,
        "{text}"
    );
    assert_eq!(scalar(&scrape, "mikawaya_runs_started_total", &[]), 21.0);
    assert_eq!(scalar(&scrape, "mikawaya_events_unmatched", &[]), 0.0);
    assert_eq!(scalar(&scrape, "mikawaya_backlog", &[]), 0.0);
    assert_eq!(
        observations(&scrape, "mikawaya_intake_seconds", &[]),
        2.0,
        "two requests"
    );
    assert_eq!(
        observations(&scrape, "mikawaya_event_to_start_seconds", &[]),
        21.0
    );
    let log_ok = [("action", "log"), ("outcome", "ok")];
    assert_eq!(
        observations(&scrape, "mikawaya_step_seconds", &log_ok),
        10.0
    );
    let hook_failed = [("action", "webhook"), ("outcome", "failed")];
    assert_eq!(
        observations(&scrape, "mikawaya_step_seconds", &hook_failed),
        1.0
    );
    let no_consent = [("channel", "email"), ("outcome", "no_consent")];
    assert_eq!(
        scalar(&scrape, "mikawaya_messages_total", &no_consent),
        10.0
    );
    assert!(
        observations(&scrape, "mikawaya_timer_lag_seconds", &[]) >= 0.0,
        "the timer lag histogram is served"
    );
    assert!(scrape.docs.contains_key("mikawaya_timers_due"), "{text}");
}
