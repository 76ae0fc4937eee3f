//! Conformance cases of [`EventLog`]: deduplication, pending events, time windows, the
//! latest of a type, customer merges.

use super::event;
use mikawaya_engine::store::*;
use serde_json::json;
use std::sync::Arc;

/// Events: duplicates by id (also within one batch), pending until matched, time windows, the
/// latest of a type by time of receipt.
pub async fn events_are_deduplicated_and_pending_until_matched(store: Arc<dyn Store>) {
    let a = event("a", "x.y", json!("c1"), 1_000);
    let b = event("b", "x.y", json!("c1"), 2_000);
    let fresh = store
        .insert_events(&[a.clone(), b.clone(), a.clone()], 5)
        .await
        .unwrap();
    assert_eq!(fresh, [true, true, false]);
    assert_eq!(
        store
            .insert_events(std::slice::from_ref(&b), 6)
            .await
            .unwrap(),
        [false]
    );
    let pending = store.pending_events(&[], 10).await.unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|p| p.event.as_ref().unwrap().id.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert!(pending[0].seq < pending[1].seq);
    let after_a = store.pending_events(&[pending[0].seq], 10).await.unwrap();
    assert_eq!(
        after_a.len(),
        1,
        "only the events after a batch still being written"
    );
    assert_eq!(after_a[0].seq, pending[1].seq);
    assert_eq!(store.event("b").await.unwrap(), Some(b));
    assert_eq!(
        store.events_between(1_500, 3_000, 10).await.unwrap().len(),
        1
    );
    let batch = MatchBatch {
        seqs: vec![pending[0].seq],
        ..Default::default()
    };
    store.apply_match(batch).await.unwrap();
    let left = store.pending_events(&[], 10).await.unwrap();
    assert_eq!(
        left.iter()
            .map(|p| p.event.as_ref().unwrap().id.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
    // What a wait's lookback reads: one type, by time of receipt, newest first.
    let c = event("c", "x.y", json!("c2"), 500);
    let other = event("d", "z.z", json!("c1"), 3_000);
    store.insert_events(&[c, other], 8).await.unwrap();
    let ids = |events: Vec<mikawaya_engine::event::Event>| {
        events.into_iter().map(|e| e.id).collect::<Vec<_>>()
    };
    let received = store.received_events("x.y", 0, 10, 10).await.unwrap();
    assert_eq!(ids(received), ["c", "b", "a"]);
    let received = store.received_events("x.y", 0, 10, 2).await.unwrap();
    assert_eq!(ids(received), ["c", "b"]);
    let received = store.received_events("x.y", 6, 8, 10).await.unwrap();
    assert_eq!(
        ids(received),
        ["c"],
        "received at 8, though it occurred first"
    );
    assert!(store
        .received_events("x.y", 9, 10, 10)
        .await
        .unwrap()
        .is_empty());
}

/// The merge rule: objects merge deeply, null removes, other values replace (RFC 7386).
pub async fn customers_merge_as_a_json_merge_patch(store: Arc<dyn Store>) {
    let patch = |v: serde_json::Value| v.as_object().unwrap().clone();
    let batch = MatchBatch {
        customers: vec![
            (
                "c1".into(),
                patch(
                    json!({"consent": {"email": true, "sms": false}, "tier": "gold", "gone": null}),
                ),
                1,
            ),
            // c2's second patch merges an object into the value its first one set: applied
            // in turn, it replaces that value.
            ("c2".into(), patch(json!({"tier": 1, "keep": true})), 2),
            (
                "c1".into(),
                patch(json!({"consent": {"sms": true}, "tier": null, "name": "Ada"})),
                2,
            ),
            (
                "c2".into(),
                patch(json!({"tier": {"level": 2, "x": null}})),
                3,
            ),
        ],
        ..Default::default()
    };
    store.apply_match(batch).await.unwrap();
    let c2 = store.customer("c2").await.unwrap().unwrap();
    assert_eq!(
        serde_json::Value::Object(c2),
        json!({"tier": {"level": 2}, "keep": true})
    );
    let found = store
        .customers(&["c1".into(), "c2".into(), "nobody".into()])
        .await
        .unwrap();
    let mut names: Vec<&String> = found.keys().collect();
    names.sort();
    assert_eq!(names, ["c1", "c2"]);
    let c = store.customer("c1").await.unwrap().unwrap();
    assert_eq!(
        serde_json::Value::Object(c),
        json!({"consent": {"email": true, "sms": true}, "name": "Ada"})
    );
    store
        .set_consent("c1", "email", false, "test", 3)
        .await
        .unwrap();
    let c = store.customer("c1").await.unwrap().unwrap();
    assert_eq!(c["consent"], json!({"email": false, "sms": true}));
    assert_eq!(store.customer("nobody").await.unwrap(), None);
}

/// Paging through customers: id order (byte order, as Rust compares strings), after the last
/// id of the previous page, at most `limit`, with their merged attributes.
pub async fn customers_are_paged_in_id_order(store: Arc<dyn Store>) {
    let ids = ["b", "a", "B", "c-1", "c_1", "aa"];
    let batch = MatchBatch {
        customers: ids
            .iter()
            .map(|id| {
                (
                    id.to_string(),
                    json!({ "name": id }).as_object().unwrap().clone(),
                    1,
                )
            })
            .collect(),
        ..Default::default()
    };
    store.apply_match(batch).await.unwrap();
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = store.customer_page(&after, 4).await.unwrap();
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        after = last.0.clone();
        for (id, attrs) in page {
            assert_eq!(attrs["name"], json!(id));
            seen.push(id);
        }
    }
    let mut want: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(seen, want);
}

/// Score changes: appended with their batch, the latest `per_score` of each score read back
/// by score, oldest first; an event's changes applied twice are kept once; other customers'
/// stay apart.
pub async fn score_changes_keep_the_latest_per_score(store: Arc<dyn Store>) {
    let change = |customer: &str, score: &str, event: &str, at: i64| ScoreChange {
        customer: customer.into(),
        score: score.into(),
        event: event.into(),
        rule: "x.y".into(),
        points: at as f64 / 10.0,
        value: at as f64,
        at,
    };
    let mut changes: Vec<ScoreChange> = (0..6)
        .map(|i| change("c1", "lead", &format!("e{i}"), 100 - i * 10))
        .collect();
    changes.push(change("c1", "engagement", "e9", 5));
    changes.push(change("c2", "lead", "x1", 1));
    // A second rule of the same event: a change of its own.
    changes.push(ScoreChange {
        rule: "x.y where event.z".into(),
        ..change("c1", "lead", "e0", 100)
    });
    for batch in [changes.clone(), changes[..2].to_vec()] {
        store
            .apply_match(MatchBatch {
                score_changes: batch,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let got = store.score_changes("c1", 3).await.unwrap();
    let seen: Vec<(&str, &str, i64, &str)> = got
        .iter()
        .map(|c| (&*c.score, &*c.event, c.at, &*c.rule))
        .collect();
    assert_eq!(
        seen,
        [
            ("engagement", "e9", 5, "x.y"),
            ("lead", "e1", 90, "x.y"),
            ("lead", "e0", 100, "x.y"),
            ("lead", "e0", 100, "x.y where event.z")
        ]
    );
    assert_eq!(got[2], change("c1", "lead", "e0", 100), "every field kept");
    assert_eq!(store.score_changes("c2", 3).await.unwrap().len(), 1);
    assert!(store.score_changes("c3", 3).await.unwrap().is_empty());
}
