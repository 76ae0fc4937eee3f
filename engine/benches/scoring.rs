//! Criterion benchmark of score maintenance, the work the matcher adds per event when scores
//! are declared: `scoring/10_scores` runs [`score_event`] for an event that every one of 10
//! scores listens to (each with a rule with a condition and one without), on a customer who
//! already has all 10 states with full histories. The goal in the issue: under 20 µs per event
//! (for 10 scores and 20 segments; segments are not built yet).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
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
        let patch = score_event(
            &scores,
            &format!("e{i}"),
            "page.viewed",
            i * 60_000,
            &scope,
            &attrs,
        )
        .unwrap();
        merge_patch(&mut attrs, patch.as_object().unwrap());
    }
    let mut group = c.benchmark_group("scoring");
    group.throughput(Throughput::Elements(1));
    group.bench_function("10_scores", |b| {
        b.iter(|| {
            score_event(
                &scores,
                "e-next",
                "page.viewed",
                30 * 60_000,
                &scope,
                &attrs,
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, scoring);
criterion_main!(benches);
