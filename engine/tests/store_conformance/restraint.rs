//! Conformance cases of the restraint store: suppressions and message claims.

use mikawaya_engine::store::*;
use std::sync::Arc;

/// Suppressions compare addresses case-insensitively; a bounce does not overwrite a manual reason.
pub async fn suppressions_are_case_insensitive(store: Arc<dyn Store>) {
    store
        .suppress("Ada@Example.com", "manual", 1)
        .await
        .unwrap();
    assert_eq!(
        store
            .suppressed("ada@example.COM")
            .await
            .unwrap()
            .as_deref(),
        Some("manual")
    );
    let batch = MatchBatch {
        suppressions: vec![
            ("ADA@example.com".into(), "hard bounce".into(), 2),
            ("b@x.io".into(), "complaint".into(), 3),
        ],
        ..Default::default()
    };
    store.apply_match(batch).await.unwrap();
    assert_eq!(
        store
            .suppressed("ada@example.com")
            .await
            .unwrap()
            .as_deref(),
        Some("manual")
    );
    let all = store.suppressions().await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.address.as_str()).collect::<Vec<_>>(),
        ["b@x.io", "ada@example.com"]
    );
    assert!(store.unsuppress("ADA@example.com").await.unwrap());
    assert!(!store.unsuppress("ada@example.com").await.unwrap());
}

fn message(key: &str) -> SentMessage {
    SentMessage {
        customer_id: Some("c1".into()),
        channel: "email".into(),
        kind: "marketing".into(),
        address: Some("c1@x.io".into()),
        workflow: "w".into(),
        key: key.into(),
        tags: Vec::new(),
    }
}

/// Grants `customer` consent to `channels`.
async fn consent(store: &Arc<dyn Store>, customer: &str, channels: &[&str]) {
    for channel in channels {
        store
            .set_consent(customer, channel, true, "test", 1)
            .await
            .unwrap();
    }
}

/// A cap that lets a message go while fewer than `max` earlier ones are handed to it, and
/// refuses naming them all (`channel[tags]@sent_at`, sorted), so a test sees what the store
/// handed over.
fn at_most(max: usize) -> impl Fn(&[PastMessage]) -> Option<CapRefusal> + Send + Sync {
    move |past| {
        let mut seen: Vec<String> = past
            .iter()
            .map(|p| format!("{}{:?}@{}", p.channel, p.tags, p.sent_at))
            .collect();
        seen.sort();
        (past.len() >= max).then(|| CapRefusal {
            rule: format!("at most {max}"),
            reason: seen.join(" "),
            opens_at: None,
        })
    }
}

/// The refusal of [`at_most`] naming `seen`.
fn over(max: usize, seen: &str) -> Claim {
    Claim::Over(CapRefusal {
        rule: format!("at most {max}"),
        reason: seen.into(),
        opens_at: None,
    })
}

/// Claims hand the caps the latest send of each other step (key) of the customer's marketing
/// messages in the window, every channel, with tags: a retry claims again without counting as
/// another message, a third step is over, and a committed message whose key was claimed adds
/// nothing.
pub async fn claims_hold_the_limit_per_distinct_step(store: Arc<dyn Store>) {
    consent(&store, "c1", &["email", "sms"]).await;
    let two = at_most(2);
    let claim = |key: &'static str, at: i64| {
        let store = store.clone();
        let two = &two;
        async move {
            let check = CapCheck {
                since: at - 99,
                judge: two,
            };
            store
                .claim_message(&message(key), "r", at, Some(&check))
                .await
                .unwrap()
        }
    };
    assert_eq!(claim("r1:a", 10).await, Claim::Granted);
    assert_eq!(claim("r2:a", 20).await, Claim::Granted);
    assert_eq!(
        claim("r1:a", 30).await,
        Claim::Granted,
        "a retry of the same step"
    );
    assert_eq!(claim("r3:a", 40).await, over(2, "email[]@20 email[]@30"));
    assert_eq!(claim("r3:a", 111).await, over(2, "email[]@20 email[]@30"));
    assert_eq!(
        claim("r3:a", 120).await,
        Claim::Granted,
        "r2 left the window"
    );
    let tagged_sms = SentMessage {
        channel: "sms".into(),
        tags: vec!["news".into(), "promo".into()],
        ..message("r4:a")
    };
    let three = at_most(3);
    let check = CapCheck {
        since: 21,
        judge: &three,
    };
    let got = store
        .claim_message(&tagged_sms, "r", 120, Some(&check))
        .await
        .unwrap();
    assert_eq!(got, Claim::Granted);
    let unlimited = store
        .claim_message(&message("r5:a"), "r", 121, None)
        .await
        .unwrap();
    assert_eq!(unlimited, Claim::Granted);
    let check = CapCheck {
        since: 21,
        judge: &three,
    };
    let seen = store
        .claim_message(&message("r6:a"), "r", 122, Some(&check))
        .await
        .unwrap();
    assert_eq!(
        seen,
        over(
            3,
            r#"email[]@120 email[]@121 email[]@30 sms["news", "promo"]@120"#
        ),
        "every channel, with its tags"
    );
    let before = store
        .messages_since("c1", "email", "marketing", 0)
        .await
        .unwrap();
    assert_eq!(before, [10, 20, 30, 120, 121]);
    let run = NewRun {
        id: "r1".into(),
        workflow: "w".into(),
        version: 1,
        customer_id: Some("c1".into()),
        enroll_key: "c1".into(),
        trigger_key: "t1".into(),
        context: serde_json::json!({}),
        start: Some(0),
        at: 1,
        lease_until: 0,
    };
    let batch = MatchBatch {
        new_runs: vec![run],
        ..Default::default()
    };
    store.apply_match(batch).await.unwrap();
    let t = Transition {
        sent: Some(message("r1:a")),
        ..Transition::new(
            "r1",
            0,
            RunStatus::Completed,
            None,
            serde_json::json!({}),
            130,
        )
    };
    assert!(store.commit(t).await.unwrap());
    let after = store
        .messages_since("c1", "email", "marketing", 0)
        .await
        .unwrap();
    assert_eq!(after, before, "the claimed message is not recorded twice");
}

/// Many runs claiming at the same moment: exactly the limit gets through.
pub async fn concurrent_claims_never_pass_the_limit_together(store: Arc<dyn Store>) {
    consent(&store, "c1", &["email"]).await;
    let claims = (0..12).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let key = format!("r{i}:a");
            let three = at_most(3);
            let check = CapCheck {
                since: 0,
                judge: &three,
            };
            store
                .claim_message(&message(&key), "r", 50, Some(&check))
                .await
                .unwrap()
        })
    });
    let mut granted = 0;
    for claim in claims.collect::<Vec<_>>() {
        granted += usize::from(claim.await.unwrap() == Claim::Granted);
    }
    assert_eq!(granted, 3);
}

/// A claim decides on consent and suppressions as they are stored when it runs, whatever the
/// run read before: marketing needs consent exactly `true`, transactional does not, and a
/// suppressed address is refused for both.
pub async fn claims_read_consent_and_suppressions_as_stored(store: Arc<dyn Store>) {
    let claim = |m: SentMessage| {
        let store = store.clone();
        async move { store.claim_message(&m, "r", 10, None).await.unwrap() }
    };
    assert_eq!(
        claim(message("r1:a")).await,
        Claim::NoConsent,
        "no customer yet"
    );
    consent(&store, "c1", &["email"]).await;
    assert_eq!(claim(message("r1:a")).await, Claim::Granted);
    let sms = SentMessage {
        channel: "sms".into(),
        ..message("r1:b")
    };
    assert_eq!(claim(sms).await, Claim::NoConsent, "consent is per channel");
    store
        .set_consent("c1", "email", false, "preference center", 2)
        .await
        .unwrap();
    assert_eq!(claim(message("r2:a")).await, Claim::NoConsent, "withdrawn");
    let mut patch = serde_json::Map::new();
    patch.insert("consent".into(), serde_json::json!({"email": "true"}));
    let batch = MatchBatch {
        customers: vec![("c1".into(), patch, 3)],
        ..Default::default()
    };
    store.apply_match(batch).await.unwrap();
    assert_eq!(
        claim(message("r3:a")).await,
        Claim::NoConsent,
        "only JSON true is consent"
    );
    let receipt = SentMessage {
        kind: "transactional".into(),
        ..message("r4:a")
    };
    assert_eq!(
        claim(receipt.clone()).await,
        Claim::Granted,
        "transactional needs no consent"
    );
    store.suppress("C1@x.io", "hard bounce", 4).await.unwrap();
    assert_eq!(
        claim(receipt).await,
        Claim::Suppressed("hard bounce".into()),
        "suppression holds for every kind, addresses compared case-insensitively"
    );
    let mut counts = Vec::new();
    for kind in ["marketing", "transactional"] {
        let sent = store.messages_since("c1", "email", kind, 0).await.unwrap();
        counts.push(sent.len());
    }
    assert_eq!(counts, [1, 1], "only granted claims are recorded");
}

/// Throttle slots: `max` per window per key, the answer naming when the oldest leaves the
/// window, keys apart; concurrent claims never take more than `max` together.
pub async fn throttle_slots_hold_their_rate_per_key(store: Arc<dyn Store>) {
    let claim = |key: &'static str, at: i64| {
        let store = store.clone();
        async move { store.claim_slot(key, at, 2, 100).await.unwrap() }
    };
    assert_eq!(claim("webhook:A", 0).await, None);
    assert_eq!(claim("webhook:A", 10).await, None);
    assert_eq!(
        claim("webhook:A", 20).await,
        Some(100),
        "the call at 0 leaves at 100"
    );
    assert_eq!(
        claim("webhook:B", 20).await,
        None,
        "another key has its own slots"
    );
    assert_eq!(claim("webhook:A", 99).await, Some(100));
    assert_eq!(
        claim("webhook:A", 100).await,
        None,
        "the call at 0 has left"
    );
    assert_eq!(claim("webhook:A", 101).await, Some(110));
    let claims = (0..12).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.claim_slot("api:C", 500, 3, 1000).await.unwrap() })
    });
    let mut granted = 0;
    for c in claims.collect::<Vec<_>>() {
        granted += usize::from(c.await.unwrap().is_none());
    }
    assert_eq!(granted, 3);
}

/// Concurrent call leases: `max` holders per key, a retry of a held call keeps its slot, the
/// others queue in arrival order (a newcomer never takes a slot a longer waiter is owed), a
/// release wakes the longest waiter's run, keys are apart, and a lease ends by itself.
pub async fn call_leases_queue_waiters_in_arrival_order(store: Arc<dyn Store>) {
    let waiting = NewRun {
        id: "rc".into(),
        workflow: "w".into(),
        version: 1,
        customer_id: None,
        enroll_key: "rc".into(),
        trigger_key: "rc".into(),
        context: serde_json::json!({}),
        start: Some(0),
        at: 1_000_000,
        lease_until: 0,
    };
    let batch = MatchBatch {
        new_runs: vec![waiting],
        ..Default::default()
    };
    store.apply_match(batch).await.unwrap();
    let acquire = |key: &'static str, run: &'static str, now: i64| {
        let store = store.clone();
        async move {
            let holder = format!("{run}:1");
            let claim = LeaseClaim {
                key,
                holder: &holder,
                run_id: run,
                max: 2,
                now,
                until: now + 1000,
            };
            store.acquire_lease(&claim).await.unwrap()
        }
    };
    let crm = "action:crm";
    assert_eq!(acquire(crm, "ra", 0).await, None);
    assert_eq!(acquire(crm, "rb", 10).await, None);
    assert_eq!(
        acquire(crm, "ra", 20).await,
        None,
        "a retry of a held call keeps (and extends) its slot"
    );
    assert_eq!(
        acquire(crm, "rc", 30).await,
        Some(1010),
        "full: try again when the earliest lease ends"
    );
    assert_eq!(acquire(crm, "rd", 40).await, Some(1010));
    assert_eq!(store.next_due().await.unwrap(), Some(1_000_000));
    store.release_lease(crm, "ra:1", 500).await.unwrap();
    assert_eq!(
        store.next_due().await.unwrap(),
        Some(500),
        "the longest waiter's run is woken"
    );
    assert_eq!(
        acquire(crm, "rd", 510).await,
        Some(1010),
        "rd may not jump the line: rc waited longer"
    );
    assert_eq!(acquire(crm, "rc", 520).await, None);
    assert_eq!(acquire("action:other", "re", 530).await, None, "keys apart");
    assert_eq!(
        acquire(crm, "rd", 1011).await,
        None,
        "rb's lease ended by itself at 1010"
    );
    assert_eq!(acquire(crm, "rf", 1012).await, Some(1520));
}
