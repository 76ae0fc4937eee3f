//! A wait's lookback: when a wait for an event begins, the events of that type the engine
//! received in the lookback span are searched for one the wait would have taken (same
//! correlation key, meets the wait's `where`), so an answer that raced the wait is not lost.

use crate::core::lifecycle::LookBack;
use crate::core::scope::{customer_value, key_string, ScopeData};
use crate::event::Event;
use crate::store::{EventLog, StoreResult};
use chrono::{DateTime, Utc};
use mikawaya_dsl::ir::WaitUntil;

/// How many of the latest events of the awaited type a lookback reads at most: the work per
/// wait is bounded however busy the type is.
pub const LOOKBACK_EVENTS: i64 = 1_000;

/// Whether `ev` is an event the wait `until` of `look` would have taken.
pub fn takes(until: &WaitUntil, look: &LookBack, ev: &Event, now: DateTime<Utc>) -> bool {
    if look.trigger_event.as_deref() == Some(ev.id.as_str()) {
        return false;
    }
    let data = ScopeData {
        event: ev.scope_value(),
        customer: customer_value(
            &Default::default(),
            ev.customer_id.as_deref(),
            Some(&ev.customer),
            ev.occurred_at,
        ),
        ..Default::default()
    };
    let scope = data.scope(now, chrono_tz::UTC);
    let key = until
        .match_key
        .eval(&scope)
        .ok()
        .and_then(|v| key_string(&v.to_json()));
    key.as_deref() == Some(look.key.as_str())
        && until.condition.as_ref().is_none_or(|c| c.matches(&scope))
}

/// The id of the latest event received since `look.since` that the wait would have taken.
pub async fn find(
    events: &dyn EventLog,
    until: &WaitUntil,
    look: &LookBack,
    now: DateTime<Utc>,
) -> StoreResult<Option<String>> {
    let now_ms = now.timestamp_millis();
    let candidates = events
        .received_events(&until.event, look.since, now_ms, LOOKBACK_EVENTS)
        .await?;
    Ok(candidates
        .into_iter()
        .find(|ev| takes(until, look, ev, now))
        .map(|ev| ev.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_event;
    use crate::store::MemoryStore;
    use mikawaya_dsl::expr::{Env, Expr};
    use serde_json::json;

    fn until(condition: Option<&str>) -> WaitUntil {
        let env = Env::default();
        WaitUntil {
            event: "ticket.replied".into(),
            match_key: Expr::parse("event.ticket.id", &env).unwrap(),
            condition: condition.map(|c| Expr::parse(c, &env).unwrap()),
            lookback_ms: Some(600_000),
        }
    }

    fn reply(id: &str, ticket: &str, by: &str) -> Event {
        let body = json!({ "id": id, "type": "ticket.replied", "data": { "ticket": { "id": ticket }, "by": by } });
        parse_event(0, body, 0).unwrap()
    }

    #[tokio::test]
    async fn the_latest_correlated_event_in_the_span_counts_and_nothing_else() {
        let store = MemoryStore::new();
        let look = LookBack {
            step: 0,
            key: "T1".into(),
            since: 1_000,
            trigger_event: Some("r0".into()),
        };
        store
            .insert_events(&[reply("r0", "T1", "agent")], 1_500)
            .await
            .unwrap();
        store
            .insert_events(&[reply("old", "T1", "agent")], 500)
            .await
            .unwrap();
        store
            .insert_events(&[reply("other", "T2", "agent")], 1_200)
            .await
            .unwrap();
        let now = DateTime::from_timestamp_millis(2_000).unwrap();
        assert_eq!(
            find(&store, &until(None), &look, now).await.unwrap(),
            None,
            "the trigger, one before the span, one of another ticket"
        );
        store
            .insert_events(
                &[reply("bot", "T1", "bot"), reply("r1", "T1", "agent")],
                1_800,
            )
            .await
            .unwrap();
        assert_eq!(
            find(&store, &until(None), &look, now).await.unwrap(),
            Some("r1".into())
        );
        let by_bot = until(Some("event.by == \"bot\""));
        assert_eq!(
            find(&store, &by_bot, &look, now).await.unwrap(),
            Some("bot".into()),
            "the wait's `where` picks among them"
        );
    }
}
