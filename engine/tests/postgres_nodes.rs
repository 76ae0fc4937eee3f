//! Many nodes on one PostgreSQL database, as the store sees them: each case opens several
//! stores on one schema (each is a node, with its own id) and checks what they must not do
//! together: match the same events, claim the same timer, pass a frequency cap.

#[path = "store_conformance/backends.rs"]
mod backends;

use backends::{postgres_url, Schema};
use mikawaya_engine::event::parse_event;
use mikawaya_engine::store::*;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;

/// `n` nodes on a fresh schema.
async fn nodes(n: usize) -> (Vec<Arc<PostgresStore>>, Schema) {
    let schema = format!("nodes_{}", uuid::Uuid::new_v4().simple());
    let mut stores = Vec::new();
    for _ in 0..n {
        let store = PostgresStore::open(&postgres_url(), Some(&schema))
            .await
            .unwrap();
        stores.push(Arc::new(store));
    }
    (stores, Schema(schema))
}

/// Runs SQL in the schema, as an operator (or a test standing in for time) would.
async fn sql(schema: &Schema, statement: &str) {
    let pool = sqlx::PgPool::connect(&postgres_url()).await.unwrap();
    let statement = format!("SET search_path TO \"{}\"; {statement}", schema.0);
    sqlx::raw_sql(&statement).execute(&pool).await.unwrap();
}

fn event(id: &str) -> mikawaya_engine::event::Event {
    parse_event(0, json!({"id": id, "type": "x.y", "customer": "c1"}), 1_000).unwrap()
}

fn seqs(events: &[StoredEvent]) -> Vec<i64> {
    events.iter().map(|e| e.seq).collect()
}

#[tokio::test]
async fn one_node_matches_at_a_time_and_a_stalled_one_is_fenced_off() {
    let (n, schema) = nodes(2).await;
    let (a, b) = (&n[0], &n[1]);
    b.insert_events(&[event("e1"), event("e2")], 1_000)
        .await
        .unwrap();
    let read_by_a = a.pending_events(&[], 10).await.unwrap();
    assert_eq!(
        read_by_a.len(),
        2,
        "events stored on b are matched by a, the lease holder"
    );
    assert!(
        b.pending_events(&[], 10).await.unwrap().is_empty(),
        "b does not match while a holds the lease"
    );
    // a stalls past its lease: b takes the role over and reads the same events.
    sql(
        &schema,
        "UPDATE leases SET until = 0 WHERE name = 'matcher'",
    )
    .await;
    let read_by_b = b.pending_events(&[], 10).await.unwrap();
    assert_eq!(seqs(&read_by_b), seqs(&read_by_a));
    // b stalls in turn, before applying; a wakes up, takes the role back and reads on (the
    // events after its batch in flight).
    sql(
        &schema,
        "UPDATE leases SET until = 0 WHERE name = 'matcher'",
    )
    .await;
    b.insert_events(&[event("e3")], 1_000).await.unwrap();
    let read_on = a.pending_events(&seqs(&read_by_a), 10).await.unwrap();
    assert_eq!(read_on.len(), 1);
    // The batch a read under its first lease is refused although a holds the lease again:
    // b might have applied part of it meanwhile. Nothing of it is applied.
    let late = MatchBatch {
        seqs: seqs(&read_by_a),
        customers: vec![(
            "c1".into(),
            json!({"from": "a"}).as_object().unwrap().clone(),
            5,
        )],
        ..Default::default()
    };
    let refused = a.apply_match(late).await;
    assert!(matches!(refused, Err(StoreError::Fenced(_))), "{refused:?}");
    assert_eq!(
        b.customer("c1").await.unwrap(),
        None,
        "nothing of a's late batch"
    );
    let late_b = MatchBatch {
        seqs: seqs(&read_by_b),
        ..Default::default()
    };
    let refused = b.apply_match(late_b).await;
    assert!(
        matches!(refused, Err(StoreError::Fenced(_))),
        "b lost the role: {refused:?}"
    );
    assert_eq!(a.pending_count().await.unwrap(), 3, "all still queued");
    // a goes on under its current lease: the batch it read on applies, then the first two
    // events, read again.
    let on = MatchBatch {
        seqs: seqs(&read_on),
        ..Default::default()
    };
    a.apply_match(on).await.unwrap();
    let again = a.pending_events(&[], 10).await.unwrap();
    assert_eq!(seqs(&again), seqs(&read_by_a));
    a.apply_match(MatchBatch {
        seqs: seqs(&again),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(b.pending_count().await.unwrap(), 0);
}

#[tokio::test]
async fn nodes_claiming_at_once_never_take_the_same_timer() {
    let (n, _schema) = nodes(3).await;
    let runs: Vec<NewRun> = (0..300)
        .map(|i| NewRun {
            id: format!("r{i:03}"),
            ..new_run(i, 10, 0)
        })
        .collect();
    n[0].apply_match(MatchBatch {
        new_runs: runs,
        ..Default::default()
    })
    .await
    .unwrap();
    let claims = n.iter().map(|store| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store.claim_due(100, 7, 60_000).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|d| d.run_id));
            }
        })
    });
    let mut all = Vec::new();
    let mut per_node = Vec::new();
    for claim in claims.collect::<Vec<_>>() {
        let mine = claim.await.unwrap();
        per_node.push(mine.len());
        all.extend(mine);
    }
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(
        (all.len(), distinct.len()),
        (300, 300),
        "each timer claimed once: {per_node:?}"
    );
}

#[tokio::test]
async fn sends_from_many_nodes_never_pass_the_cap_together() {
    let (n, _schema) = nodes(3).await;
    n[0].set_consent("c1", "email", true, "test", 1)
        .await
        .unwrap();
    let attempts = (0..30).map(|i| {
        let store = n[i % 3].clone();
        tokio::spawn(async move {
            let m = SentMessage {
                customer_id: Some("c1".into()),
                channel: "email".into(),
                kind: "marketing".into(),
                address: None,
                workflow: "w".into(),
                key: format!("run{i}:send"),
                tags: Vec::new(),
            };
            let two = |past: &[PastMessage]| {
                (past.len() >= 2).then(|| CapRefusal {
                    rule: "2".into(),
                    reason: "two already".into(),
                    opens_at: None,
                })
            };
            let check = CapCheck {
                since: 0,
                judge: &two,
            };
            store
                .claim_message(&m, &format!("run{i}"), 100 + i as i64, Some(&check))
                .await
                .unwrap()
        })
    });
    let mut granted = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        if attempt.await.unwrap() == Claim::Granted {
            granted += 1;
        }
    }
    assert_eq!(granted, 2, "the cap of 2 held across three nodes");
    assert_eq!(
        n[1].messages_since("c1", "email", "marketing", 0)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn events_stored_on_one_node_wake_the_others_at_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (n, _schema) = nodes(2).await;
    let hints = Arc::new(AtomicUsize::new(0));
    let h = hints.clone();
    n[1].on_remote_work(Arc::new(move || {
        h.fetch_add(1, Ordering::SeqCst);
    }));
    let heard_within = |before: usize, ms: u64| {
        let hints = hints.clone();
        async move {
            let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
            while std::time::Instant::now() < until {
                if hints.load(Ordering::SeqCst) > before {
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            false
        }
    };
    // The listener connects in the background: wait until a hint gets through.
    let mut heard = false;
    for i in 0..50 {
        let before = hints.load(Ordering::SeqCst);
        n[0].insert_events(&[event(&format!("warm-{i}"))], 1_000)
            .await
            .unwrap();
        if heard_within(before, 100).await {
            heard = true;
            break;
        }
    }
    assert!(heard, "node 1 never heard of node 0's events");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let before = hints.load(Ordering::SeqCst);
    assert!(!heard_within(before, 300).await, "no hint without work");
    n[0].insert_events(&[event("e-late")], 1_000).await.unwrap();
    assert!(
        heard_within(before, 2_000).await,
        "a hint for the new event"
    );
}

#[tokio::test]
async fn the_nodes_list_shows_who_is_alive_matching_and_holding_runs() {
    let (n, schema) = nodes(2).await;
    use mikawaya_engine::clock::{Clock, SystemClock};
    let now = SystemClock.now_ms();
    sql(
        &schema,
        &format!(
            "INSERT INTO nodes VALUES ('gone', 0, {}), ('ancient', 0, {})",
            now - 60_000,
            now - 2 * 86_400_000
        ),
    )
    .await;
    // A node starting forgets the nodes silent for a day.
    let third = PostgresStore::open(&postgres_url(), Some(&schema.0))
        .await
        .unwrap();
    n[0].pending_events(&[], 10).await.unwrap();
    let runs: Vec<NewRun> = (0..3).map(|i| new_run(i, now, 0)).collect();
    n[0].apply_match(MatchBatch {
        new_runs: runs,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(n[1].claim_due(now, 10, 60_000).await.unwrap().len(), 3);
    let mut list = Vec::new();
    for _ in 0..50 {
        list = third.nodes().await.unwrap();
        if list.len() == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let ids: Vec<&str> = list.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(list.len(), 4, "three nodes and the silent one: {ids:?}");
    assert!(!ids.contains(&"ancient"), "{ids:?}");
    assert_eq!(ids[3], "gone", "alive nodes first: {ids:?}");
    assert!(!list[3].alive && list[3].silent_ms >= 60_000);
    assert!(list[..3].iter().all(|n| n.alive && n.silent_ms < 10_000));
    let matcher: Vec<_> = list.iter().filter(|n| n.matcher).collect();
    let holder: Vec<_> = list.iter().filter(|n| n.runs_leased == 3).collect();
    assert_eq!((matcher.len(), holder.len()), (1, 1), "{list:?}");
    assert_ne!(
        matcher[0].id, holder[0].id,
        "the matcher is n0, the runs are n1's"
    );
}

#[tokio::test]
async fn new_runs_for_peers_are_handed_to_them_and_taken_over_when_one_dies() {
    use mikawaya_engine::clock::{Clock, SystemClock};
    let (n, _schema) = nodes(3).await;
    // Each node sees the two others once their heartbeats are in.
    for _ in 0..50 {
        if n.iter().all(|s| s.peers() == 2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(n[0].peers(), 2);
    let now = SystemClock.now_ms();
    let lease = now + 60_000;
    let runs: Vec<NewRun> = (0..6).map(|i| new_run(i, now, lease)).collect();
    n[0].pending_events(&[], 10).await.unwrap();
    n[0].apply_match(MatchBatch {
        new_runs: runs,
        for_peers: (2..6).map(|i| format!("r{i}")).collect(),
        ..Default::default()
    })
    .await
    .unwrap();
    let ids = |runs: Vec<RunRow>| -> Vec<String> { runs.into_iter().map(|r| r.id).collect() };
    // The matcher kept r0 and r1 (leased to it, in its own queue): no one takes or claims them.
    assert!(n[0].take_handed(now, 10, 60_000).await.unwrap().is_empty());
    assert!(n[1].claim_due(now, 10, 60_000).await.unwrap().is_empty());
    let got1 = ids(n[1].take_handed(now, 10, 60_000).await.unwrap());
    let got2 = ids(n[2].take_handed(now, 10, 60_000).await.unwrap());
    assert_eq!((got1.len(), got2.len()), (2, 2), "{got1:?} {got2:?}");
    let mut all: Vec<String> = got1.iter().chain(&got2).cloned().collect();
    all.sort();
    assert_eq!(all, ["r2", "r3", "r4", "r5"], "each handed run to one peer");
    assert!(
        n[1].take_handed(now, 10, 60_000).await.unwrap().is_empty(),
        "a hand-off is taken once"
    );
    assert!(
        n[0].take_handed(now, 10, 60_000).await.unwrap().is_empty(),
        "nor by a node it was not handed to"
    );
    // r6 is taken late, past half its lease: its lease is renewed, so no claim takes it
    // away while it executes. r7's lease ends before it is taken: the node it was handed to
    // leaves it, and any node claims it.
    let (late, ended) = (now + 40_000, lease + 1);
    let mut taken = Vec::new();
    for (i, at) in [(6, late), (7, ended)] {
        n[0].apply_match(MatchBatch {
            new_runs: vec![new_run(i, now, lease)],
            for_peers: vec![format!("r{i}")],
            ..Default::default()
        })
        .await
        .unwrap();
        for node in &n[1..] {
            taken.extend(ids(node.take_handed(at, 10, 60_000).await.unwrap()));
        }
    }
    assert_eq!(taken, ["r6"]);
    let claimed: Vec<String> = n[0]
        .claim_due(ended, 10, 60_000)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.run_id)
        .collect();
    assert!(!claimed.contains(&"r6".to_string()), "renewed: {claimed:?}");
    assert!(claimed.contains(&"r7".to_string()), "{claimed:?}");
}

/// New run `r<i>` of workflow `w` started at `at`, its first timer leased until `lease`
/// (0: not leased).
fn new_run(i: usize, at: i64, lease: i64) -> NewRun {
    NewRun {
        id: format!("r{i}"),
        workflow: "w".into(),
        version: 1,
        customer_id: None,
        enroll_key: format!("k{i}"),
        trigger_key: format!("t{i}"),
        context: json!({"steps": {}}),
        start: Some(0),
        at,
        lease_until: lease,
    }
}
