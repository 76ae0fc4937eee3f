//! Restraint decisions: suppression, consent, kinds, the cap, the global control group.

use super::*;
use crate::core::unsubscribe::hex;
use crate::store::MemoryStore;
use serde_json::json;

const DAY: i64 = 86_400_000;

fn rules(caps: &str) -> (Restraint, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let windows = WindowRules::default();
    let r = Restraint::new(
        store.clone(),
        caps.parse().unwrap(),
        windows,
        "http://x/".into(),
        "s3cret".into(),
    );
    (r, store)
}

fn message<'a>(input: &'a Value, customer: &'a Value, over_cap: OverCap) -> Message<'a> {
    Message {
        channel: "email",
        input,
        customer_id: Some("c-1"),
        customer,
        over_cap,
        key: "run-1:promo",
        run_id: "run-1",
        workflow: "w",
        window: None,
        priority: Priority::Normal,
        yields_last_slot: false,
    }
}

fn skipped(d: Decision) -> String {
    match d {
        Decision::Skip(_, reason) => reason,
        other => panic!("expected a skip, got {other:?}"),
    }
}

#[tokio::test]
async fn suppression_consent_and_kind_decide_in_that_order() {
    let (r, store) = rules("off");
    let consented = json!({ "consent": { "email": true } });
    let unconsented = json!({ "consent": { "email": false } });
    store.suppress("ADA@x.io", "hard bounce", 1).await.unwrap();
    let to_ada = json!({ "to": "Ada <ada@x.io>" });
    let d = r
        .decide(message(&to_ada, &consented, OverCap::Skip), 10)
        .await
        .unwrap();
    assert_eq!(skipped(d), "ada@x.io is suppressed (hard bounce)");
    let internal = json!({ "to": "ada@x.io", "kind": "internal" });
    let d = r
        .decide(message(&internal, &unconsented, OverCap::Skip), 10)
        .await
        .unwrap();
    assert!(
        matches!(d, Decision::Send { .. }),
        "internal mail is not restrained"
    );
    let receipt = json!({ "to": "bob@x.io", "kind": "transactional" });
    let d = r
        .decide(message(&receipt, &unconsented, OverCap::Skip), 10)
        .await
        .unwrap();
    assert_eq!(
        d,
        Decision::Send {
            kind: "transactional".into(),
            address: Some("bob@x.io".into())
        }
    );
    let promo = json!({ "to": "bob@x.io" });
    let d = r
        .decide(message(&promo, &unconsented, OverCap::Skip), 10)
        .await
        .unwrap();
    assert_eq!(skipped(d), "customer c-1 has not consented to email");
    // The run read the customer while consent stood; the store no longer holds it.
    let d = r
        .decide(message(&promo, &consented, OverCap::Skip), 10)
        .await
        .unwrap();
    assert_eq!(
        skipped(d),
        "customer c-1 withdrew consent to email before the send"
    );
    store
        .set_consent("c-1", "email", true, "form", 11)
        .await
        .unwrap();
    let d = r
        .decide(message(&promo, &consented, OverCap::Skip), 12)
        .await
        .unwrap();
    assert!(matches!(d, Decision::Send { .. }), "{d:?}");
    let odd = json!({ "to": "bob@x.io", "kind": "newsletter" });
    let d = r
        .decide(message(&odd, &consented, OverCap::Skip), 10)
        .await
        .unwrap();
    assert!(skipped(d).contains("unknown message kind `newsletter`"));
}

#[tokio::test]
async fn the_cap_skips_or_defers_until_the_oldest_message_leaves_the_window() {
    let (r, store) = rules("2/7d");
    store
        .set_consent("c-1", "email", true, "form", 0)
        .await
        .unwrap();
    let customer = json!({ "consent": { "email": true } });
    let promo = json!({ "to": "bob@x.io" });
    let sent = |at| SentAt(store.clone(), at);
    for at in [DAY, 3 * DAY] {
        sent(at).record().await;
    }
    let d = r
        .decide(message(&promo, &customer, OverCap::Skip), 4 * DAY)
        .await
        .unwrap();
    assert_eq!(
        skipped(d),
        "frequency cap 2/7d: 2 email message(s) in 7d already"
    );
    let d = r
        .decide(message(&promo, &customer, OverCap::Defer), 4 * DAY)
        .await
        .unwrap();
    assert!(
        matches!(d, Decision::Defer { until, .. } if until == 8 * DAY),
        "{d:?}"
    );
    let d = r
        .decide(message(&promo, &customer, OverCap::Skip), 8 * DAY)
        .await
        .unwrap();
    assert!(
        matches!(d, Decision::Send { .. }),
        "the first message left the window"
    );
}

/// A cap of zero (only reachable in code: `0/7d` is refused when parsed) skips, and never
/// computes a defer time from a message that does not exist.
#[tokio::test]
async fn a_cap_of_zero_skips_instead_of_panicking() {
    use crate::core::caps::{CapRule, CapScope, CapSpan};
    let (mut r, store) = rules("off");
    store
        .set_consent("c-1", "email", true, "form", 0)
        .await
        .unwrap();
    r.caps = Caps::one(CapRule {
        scope: CapScope::EachChannel,
        max: 0,
        span: CapSpan::Rolling(DAY),
    });
    let customer = json!({ "consent": { "email": true } });
    let promo = json!({ "to": "bob@x.io" });
    let d = r
        .decide(message(&promo, &customer, OverCap::Defer), DAY)
        .await
        .unwrap();
    assert_eq!(
        skipped(d),
        "frequency cap 0/1d: 0 email message(s) in 1d already"
    );
}

/// A marketing message recorded as sent to customer c-1 at a time.
struct SentAt(Arc<MemoryStore>, Millis);

impl SentAt {
    async fn record(&self) {
        use crate::store::{
            EventLog, MatchBatch, NewRun, RunStatus, RunStore, SentMessage, Transition,
        };
        let id = format!("run-{}", self.1);
        let run = NewRun {
            id: id.clone(),
            workflow: "w".into(),
            version: 1,
            customer_id: Some("c-1".into()),
            enroll_key: id.clone(),
            trigger_key: id.clone(),
            context: json!({}),
            start: Some(0),
            at: self.1,
            lease_until: 0,
        };
        self.0
            .apply_match(MatchBatch {
                new_runs: vec![run],
                ..Default::default()
            })
            .await
            .unwrap();
        let sent = SentMessage {
            customer_id: Some("c-1".into()),
            channel: "email".into(),
            kind: "marketing".into(),
            address: None,
            workflow: "w".into(),
            key: format!("{id}:promo"),
            tags: vec!["promo".into()],
        };
        let t = Transition {
            sent: Some(sent),
            ..Transition::new(id, 0, RunStatus::Completed, None, json!({}), self.1)
        };
        assert!(self.0.commit(t).await.unwrap());
    }
}

#[test]
fn links_carry_a_token_the_same_rules_verify() {
    let (r, _) = rules("off");
    let url = r.unsubscribe_url("c-42", "email");
    let token = url
        .strip_prefix("http://x/unsubscribe/")
        .expect("one slash");
    assert_eq!(
        r.unsubscribe_target(token),
        Some(("c-42".into(), "email".into()))
    );
}

#[test]
fn tokens_round_trip_and_reject_tampering() {
    let t = unsubscribe_token("s3cret", "c-42", "email");
    assert_eq!(
        verify_token("s3cret", &t),
        Some(("c-42".into(), "email".into()))
    );
    assert_eq!(verify_token("other", &t), None);
    let forged = t.replacen(&hex(b"c-42"), &hex(b"c-43"), 1);
    assert_eq!(verify_token("s3cret", &forged), None);
    assert_eq!(verify_token("s3cret", "zz.zz"), None);
}

#[test]
fn secrets_compare_equal_only_when_equal() {
    assert!(constant_time_eq("s3cret-token", "s3cret-token"));
    assert!(!constant_time_eq("s3cret-token", "s3cret-tokeN"));
    assert!(!constant_time_eq("s3cret-token", "s3cret"));
    assert!(!constant_time_eq("", "x"));
}

#[test]
fn recipients_are_bare_lowercase_addresses() {
    assert_eq!(
        recipient(&serde_json::json!({"to": "Ada <ADA@Example.com>"})).as_deref(),
        Some("ada@example.com")
    );
    assert_eq!(
        recipient(&serde_json::json!({"to": "b@x.io"})).as_deref(),
        Some("b@x.io")
    );
    assert_eq!(recipient(&serde_json::json!({})), None);
}

#[tokio::test]
async fn the_global_control_group_gets_no_marketing_but_still_its_receipts() {
    let (everyone, store) = rules("off");
    let everyone = everyone.with_global_control(Some(100.0));
    store
        .set_consent("c-1", "email", true, "form", 0)
        .await
        .unwrap();
    let customer = json!({ "consent": { "email": true } });
    let promo = json!({ "to": "bob@x.io" });
    let d = everyone
        .decide(message(&promo, &customer, OverCap::Skip), 10)
        .await
        .unwrap();
    assert_eq!(
        skipped(d),
        "customer c-1 is in the global control group (100% of customers get no marketing)"
    );
    let receipt = json!({ "to": "bob@x.io", "kind": "transactional" });
    let d = everyone
        .decide(message(&receipt, &customer, OverCap::Skip), 10)
        .await
        .unwrap();
    assert!(matches!(d, Decision::Send { .. }), "{d:?}");
    let (nobody, _) = rules("off");
    let nobody = nobody.with_global_control(Some(0.0));
    let d = nobody
        .decide(message(&promo, &customer, OverCap::Skip), 10)
        .await;
    // c-1 has not consented in this store: the next rule decides, not the control group.
    assert!(skipped(d.unwrap()).contains("consent"));
}
