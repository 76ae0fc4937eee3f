//! Conformance cases of [`AccessStore`]: scoped API tokens.

use mikawaya_engine::store::*;
use std::sync::Arc;

fn token(name: &str, hash: &str, at: i64) -> TokenRow {
    TokenRow {
        name: name.into(),
        hash: hash.into(),
        scopes: vec!["events:write".into(), "runs:read".into()],
        created_at: at,
        revoked_at: None,
    }
}

/// A name is taken once, even after its token was revoked; revoking happens once.
pub async fn tokens_are_created_once_listed_and_revoked(store: Arc<dyn Store>) {
    assert!(store.create_token(&token("shop", "h1", 10)).await.unwrap());
    assert!(store.create_token(&token("crm", "h2", 5)).await.unwrap());
    assert!(
        !store.create_token(&token("shop", "h3", 20)).await.unwrap(),
        "a second token named shop"
    );
    let tokens = store.tokens().await.unwrap();
    let names: Vec<&str> = tokens.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["crm", "shop"], "oldest first");
    assert_eq!(tokens[1], token("shop", "h1", 10), "scopes and hash kept");

    assert!(store.revoke_token("shop", 30).await.unwrap());
    assert!(
        !store.revoke_token("shop", 40).await.unwrap(),
        "revoked once"
    );
    assert!(!store.revoke_token("nobody", 40).await.unwrap());
    let shop = store.tokens().await.unwrap().pop().unwrap();
    assert_eq!(shop.revoked_at, Some(30));
    assert!(
        !store.create_token(&token("shop", "h4", 50)).await.unwrap(),
        "a revoked name stays taken, so the audit's actor names stay unambiguous"
    );
}

/// The audit log keeps every entry in order, newest first when read.
pub async fn the_audit_log_keeps_entries_in_order(store: Arc<dyn Store>) {
    for (i, action) in ["token.created", "workflow.saved", "token.revoked"]
        .iter()
        .enumerate()
    {
        let entry = AuditEntry {
            id: 0,
            at: 100 + i as i64,
            actor: "bootstrap".into(),
            action: action.to_string(),
            target: format!("t{i}"),
            detail: serde_json::json!({ "n": i }),
        };
        store.record_audit(&entry).await.unwrap();
    }
    let log = store.audit_log(2).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["token.revoked", "workflow.saved"]);
    assert!(log[0].id > log[1].id);
    assert_eq!((log[0].at, log[0].target.as_str()), (102, "t2"));
    assert_eq!(log[0].detail, serde_json::json!({ "n": 2 }));
    assert_eq!(store.audit_log(10).await.unwrap().len(), 3);
}

/// Messages an intake refused are kept with their reason, newest first.
pub async fn rejected_messages_are_kept_newest_first(store: Arc<dyn Store>) {
    for (i, reason) in ["not JSON", "event 0: `id` is missing"].iter().enumerate() {
        let m = RejectedMessage {
            id: 0,
            at: 10 + i as i64,
            source: "nats:crm.events.x".into(),
            reason: reason.to_string(),
            body: format!("body {i}"),
        };
        store.reject_message(&m).await.unwrap();
    }
    let kept = store.rejected_messages(10).await.unwrap();
    let reasons: Vec<&str> = kept.iter().map(|m| m.reason.as_str()).collect();
    assert_eq!(reasons, ["event 0: `id` is missing", "not JSON"]);
    assert!(kept[0].id > kept[1].id);
    assert_eq!((kept[1].at, kept[1].body.as_str()), (10, "body 0"));
    assert_eq!(store.rejected_messages(1).await.unwrap().len(), 1);
}
