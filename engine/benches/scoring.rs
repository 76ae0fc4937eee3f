//! Criterion benchmark of score maintenance, the work the matcher adds per event when scores
//! are declared: `scoring/10_scores` runs [`score_event`] for an event that every one of 10
//! scores listens to (each with a rule with a condition and one without), on a customer who
//! already has all 10 states; `knowledge/10_scores_20_segments` runs all the matcher learns
//! from an event (history digest, 10 scores, 20 segments). The goal in the issue: under 20 µs
//! per event for 10 scores and 20 segments. Measured with the `mikawaya` binary's allocator.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use mikawaya_dsl::catalog::EventCatalog;
use mikawaya_dsl::expr::Scope;
use mikawaya_dsl::scores::Scores;
use mikawaya_engine::core::scoring::score_event;
use mikawaya_engine::store::merge::merge_patch;
use serde_json::{json, Map, Value};

fn scores(n: usize) -> Scores {
    let files: Vec<(String, String)> = (0..n)
        .map(|i| {
            let text = format!("score: s{i}\nhalf_life: 14d\nmax: 100\npoints:\n  page.viewed where event.page == \"pricing\": 3\n  page.viewed: 1\n");
            (format!("scores/s{i}.yaml"), text)
        })
        .collect();
    Scores::from_files(&files, &EventCatalog::default()).unwrap()
}

fn scoring(c: &mut Criterion) {
    let scores = scores(10);
    let event = json!({ "id": "e", "type": "page.viewed", "page": "pricing" });
    let customer = json!({ "id": "c1", "tier": "gold" });
    let scope = Scope {
        event: &event,
        customer: &customer,
        run: &Value::Null,
        steps: &Value::Null,
        entity: &Value::Null,
        now: chrono::Utc::now(),
        today: chrono::Utc::now().date_naive(),
    };
    // A customer with every state and a full history already.
    let mut attrs = Map::new();
    for i in 0..20 {
        let earned = score_event(&scores, "page.viewed", i * 60_000, &scope, &attrs).unwrap();
        merge_patch(&mut attrs, &earned.patch());
    }
    let mut group = c.benchmark_group("scoring");
    group.throughput(Throughput::Elements(1));
    group.bench_function("10_scores", |b| {
        b.iter(|| score_event(&scores, "page.viewed", 30 * 60_000, &scope, &attrs).unwrap())
    });
    group.finish();
}

criterion_group!(benches, scoring);

/// 20 segments over the customer's attributes, scores and history aggregates.
fn segments(n: usize) -> mikawaya_dsl::segments::Segments {
    let conditions = [
        "count(order.placed, 90d) >= 3",
        "sum(order.placed.total, 365d) >= 500",
        "days_since(last(order.placed)) > 60",
        "customer.score.s0 >= 50 and customer.tier == \"gold\"",
        "count(order.placed, 30d) == 0 and count(order.placed, 365d) >= 2",
    ];
    let files: Vec<(String, String)> = (0..n)
        .map(|i| {
            let text = format!(
                "segment: g{i}\nwhen: {}\n",
                conditions[i % conditions.len()]
            );
            (format!("segments/g{i}.yaml"), text)
        })
        .collect();
    mikawaya_dsl::segments::Segments::from_files(&files).unwrap()
}

/// `knowledge/10_scores_20_segments`: everything the matcher learns from one order of a
/// customer with a year of orders, 10 score states and some memberships — the history digest,
/// 10 scores listening to orders, 20 segments re-evaluated.
fn knowledge(c: &mut Criterion) {
    use mikawaya_engine::core::knowledge::{learn, Knowledge};
    let files: Vec<(String, String)> = (0..10)
        .map(|i| {
            let text = format!("score: s{i}\nhalf_life: 14d\nmax: 100\npoints:\n  order.placed where event.total > 50: 3\n  order.placed: 1\n");
            (format!("scores/s{i}.yaml"), text)
        })
        .collect();
    let k = Knowledge {
        scores: Scores::from_files(&files, &EventCatalog::default()).unwrap(),
        segments: segments(20),
        ..Default::default()
    }
    .tracking(&[]);
    let day = 86_400_000i64;
    let order = |i: i64| mikawaya_engine::event::Event {
        id: format!("o{i}"),
        event_type: "order.placed".into(),
        customer_id: Some("c1".into()),
        customer: Map::new(),
        occurred_at: i * 12 * day,
        data: json!({ "total": 40 + i }).as_object().unwrap().clone(),
        source: None,
    };
    let mut attrs = json!({ "tier": "gold", "email": "c1@example.com" })
        .as_object()
        .unwrap()
        .clone();
    for i in 0..30 {
        let mut batch = mikawaya_engine::store::MatchBatch::default();
        let ev = order(i);
        learn(
            &k,
            &ev,
            &ev.scope_value(),
            "c1",
            &mut attrs,
            &mut batch,
            i * 12 * day,
        );
    }
    let next = order(31);
    // Built once by the matcher for the scores and the workflows alike.
    let seen = next.scope_value();
    let now = 31 * 12 * day;
    let mut group = c.benchmark_group("knowledge");
    group.throughput(Throughput::Elements(1));
    group.bench_function("10_scores_20_segments", |b| {
        b.iter_batched(
            || (attrs.clone(), mikawaya_engine::store::MatchBatch::default()),
            |(mut attrs, mut batch)| {
                learn(&k, &next, &seen, "c1", &mut attrs, &mut batch, now);
                batch
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(knowledge_benches, knowledge);
criterion_main!(benches, knowledge_benches);
