//! Explain (why a workflow did or did not start for an event) and replay (what a new version
//! would have done over the stored history), on known data.

use chrono::{TimeZone, Utc};
use mikawaya_engine::clock::{Clock, SystemClock};
use mikawaya_engine::event::parse_event;
use mikawaya_engine::store::{EventLog, MetaStore, SqliteStore, VersionRow};
use mikawaya_engine::tools::replay::{deployed_version_file, replay};
use mikawaya_engine::tools::sim::Simulation;
use serde_json::json;
use std::path::Path;

fn examples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../workflows"))
}

fn cart(id: &str, customer: &str, total: i64, consent: bool) -> serde_json::Value {
    json!({"id": id, "type": "cart.abandoned", "customer": {"id": customer, "email": format!("{customer}@example.com"), "consent": {"email": consent}},
           "data": {"cart": {"total": total, "items": [1]}}})
}

#[tokio::test]
async fn explains_matched_condition_failed_and_policy_blocked_events() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("wf");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::copy(
        examples().join("cart-abandon.yaml"),
        wf.join("cart-abandon.yaml"),
    )
    .unwrap();
    let s = Simulation::start(
        &wf,
        dir.path(),
        Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap(),
    )
    .await
    .unwrap();
    s.send(cart("matched", "ada", 120, true)).await.unwrap();
    s.send(cart("small", "bob", 32, true)).await.unwrap();
    s.advance(3_600_000 * 2).await.unwrap();
    s.send(cart("again", "ada", 150, true)).await.unwrap();
    s.send(cart("optout", "cy", 90, true)).await.unwrap();
    s.send(json!({"id": "c1", "type": "consent.updated", "customer": "cy", "data": {"channel": "email", "granted": false}})).await.unwrap();
    s.advance(3_600_000 * 2).await.unwrap();

    let x = s.engine.explain_event("matched").await.unwrap().unwrap();
    assert_eq!(x.workflows.len(), 1);
    let v = &x.workflows[0];
    assert!(v.fired && v.summary.starts_with("started run "), "{v:?}");

    let v = &s
        .engine
        .explain_event("small")
        .await
        .unwrap()
        .unwrap()
        .workflows[0];
    assert!(!v.fired);
    assert_eq!(
        v.summary,
        "not started: the entry condition was false: `event.cart.total >= 50` was `32 >= 50`"
    );
    let cond = v.condition.as_ref().unwrap();
    assert_eq!(
        (cond.parts[1].expr.as_str(), cond.parts[1].result),
        ("customer.consent.email", true)
    );

    let v = &s
        .engine
        .explain_event("again")
        .await
        .unwrap()
        .unwrap()
        .workflows[0];
    assert!(
        v.summary.starts_with(
            "not started: re-enrollment is `after 30d`; ada enrolled at 2026-11-02T08:00:00"
        ),
        "{}",
        v.summary
    );
    assert!(
        v.summary
            .ends_with("may enter again from 2026-12-02T08:00:00.000Z"),
        "{}",
        v.summary
    );

    let v = &s
        .engine
        .explain_event("optout")
        .await
        .unwrap()
        .unwrap()
        .workflows[0];
    assert!(v.fired);
    assert_eq!(
        v.skipped,
        vec![(
            "reminder".to_string(),
            "customer cy has not consented to email".to_string()
        )]
    );

    assert!(s.engine.explain_event("nope").await.unwrap().is_none());
    assert!(
        s.engine
            .explain_event("c1")
            .await
            .unwrap()
            .unwrap()
            .workflows
            .is_empty(),
        "nothing listens to consent.updated"
    );
}

#[tokio::test]
async fn replay_reports_what_a_new_version_would_have_done_and_compares() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("history.db"))
        .await
        .unwrap();
    let now = SystemClock.now_ms();
    let day = 86_400_000;
    // History: four carts over the last ten days; ada orders within the hour of hers.
    let history = [
        (cart("h1", "ada", 120, true), 10 * day),
        (
            json!({"id": "h2", "type": "order.placed", "customer": "ada"}),
            10 * day - 1_800_000,
        ),
        (cart("h3", "bob", 60, true), 8 * day),
        (cart("h4", "cy", 250, true), 5 * day),
        (cart("h5", "dee", 30, true), 3 * day),
    ];
    let events: Vec<_> = history
        .iter()
        .enumerate()
        .map(|(i, (v, ago))| {
            let mut v = v.clone();
            v["occurred_at"] = json!(mikawaya_engine::clock::rfc3339(now - ago));
            parse_event(i, v, now).unwrap()
        })
        .collect();
    store.insert_events(&events, now).await.unwrap();
    // The example as deployed version 1 (the file is at version 2).
    let deployed = std::fs::read_to_string(examples().join("cart-abandon.yaml"))
        .unwrap()
        .replace("version: 2", "version: 1");
    store
        .save_version(
            &VersionRow {
                name: "cart-abandon".into(),
                version: 1,
                file: "cart-abandon.yaml".into(),
                source: deployed.clone(),
                digest: "x".into(),
                ir: None,
                compiler: None,
            },
            now,
        )
        .await
        .unwrap();

    // The candidate only reminds carts of 100 or more.
    let candidate = dir.path().join("cart-abandon.yaml");
    std::fs::write(
        &candidate,
        deployed
            .replace("event.cart.total >= 50", "event.cart.total >= 100")
            .replace("version: 1", "version: 2"),
    )
    .unwrap();
    let stored = store
        .events_between(now - 30 * day, now, 1000)
        .await
        .unwrap();
    assert_eq!(stored.len(), 5);
    let new = replay(&candidate, &stored, now, 3).await.unwrap();
    assert_eq!(
        (new.version, new.events, new.runs, new.customers),
        (2, 5, 2, 2)
    );
    // The backtest of the split: cy (the only one past the hour) takes `coupon`, the variant
    // a hash of her id gives her; ada ordered before the split.
    assert_eq!(
        new.variants.clone().into_iter().collect::<Vec<_>>(),
        [("cart-reminder-coupon/coupon".to_string(), 1)]
    );
    assert_eq!(new.conversions.get("cart-reminder-coupon/coupon"), Some(&0));
    assert_eq!(
        new.by_status.get("exited"),
        Some(&1),
        "ada ordered: {new:?}"
    );
    assert_eq!(
        new.actions.get("email.send"),
        Some(&1),
        "only cy is reminded"
    );
    assert_eq!(
        new.actions.get("task.create"),
        Some(&1),
        "cy's cart is over 200"
    );

    let old_file = deployed_version_file(&store, "cart-abandon", &dir.path().join("deployed"))
        .await
        .unwrap()
        .unwrap();
    let old = replay(&old_file, &stored, now, 3).await.unwrap();
    assert_eq!((old.version, old.runs), (1, 3));
    assert_eq!(
        old.actions.get("email.send"),
        Some(&1),
        "bob is in the holdout, cy is reminded"
    );
    assert_eq!(old.variants.get("cart-reminder-coupon/holdout"), Some(&1));
    assert!(
        new.sample.iter().any(|s| s.starts_with("cy completed")),
        "{:?}",
        new.sample
    );
}
