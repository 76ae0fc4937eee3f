//! The segment sweep: pages through every customer, recomputes the RFM breakpoints of the
//! customer base and, for each customer whose membership drifted with time alone (an order
//! leaving a 90-day window, a date passing), stores a `segment.recheck` event. The matcher then
//! moves them in or out like after any event, so membership has one writer and each change is
//! one `segment.entered` / `segment.left` event.
//!
//! The evaluation runs on the blocking pool a page at a time: a large customer base does not
//! hold the async threads.

use crate::clock::Millis;
use crate::core::context::Context;
use crate::core::knowledge::{customer_value, Knowledge};
use crate::core::membership::{drifted, members, RECHECK};
use crate::core::rfm::{measures, Measures, RfmBreaks};
use crate::core::EngineError;
use crate::event::Event;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Customers read and evaluated at once.
pub const PAGE: i64 = 500;
/// Where the RFM breakpoints are kept (the plugin key-value store, under the engine's name).
const KV_SPACE: &str = "_engine";
const KV_RFM: &str = "rfm";

/// What a sweep found.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SweepReport {
    /// When it ran.
    pub at: Millis,
    /// Customers evaluated.
    pub customers: usize,
    /// Customers sent a recheck (their membership drifted).
    pub rechecks: usize,
    /// Members per segment as stored before the rechecks are matched.
    pub members: BTreeMap<String, usize>,
    /// The RFM breakpoints computed (none when nobody bought in the window).
    #[schema(value_type = Option<Object>)]
    pub rfm: Option<RfmBreaks>,
}

/// What one page yields: drifted customers, stored memberships, RFM measures.
fn evaluate_page(
    k: &Knowledge,
    page: &[(String, Map<String, Value>)],
    now: Millis,
) -> (Vec<String>, Vec<String>, Vec<Measures>) {
    let mut drift = Vec::new();
    let mut member_of = Vec::new();
    let mut all = Vec::new();
    for (id, attrs) in page {
        if !k.segments.is_empty() && drifted(k, id, attrs, now) {
            drift.push(id.clone());
        }
        member_of.extend(members(&k.segments, attrs).into_iter().map(String::from));
        let customer = customer_value(k, Some(id), Some(attrs), now);
        all.extend(measures(&k.segments.rfm, &customer, now));
    }
    (drift, member_of, all)
}

/// Runs one sweep at `now`: rechecks for drifted customers, RFM breakpoints put in force and
/// kept in the store.
pub async fn sweep(ctx: &Context, now: Millis) -> Result<SweepReport, EngineError> {
    let k = ctx.knowledge();
    let mut report = SweepReport {
        at: now,
        ..Default::default()
    };
    let mut all_measures = Vec::new();
    let mut after = String::new();
    loop {
        let page = ctx.store.customer_page(&after, PAGE).await?;
        let Some((last, _)) = page.last() else { break };
        after = last.clone();
        report.customers += page.len();
        let knowledge = Arc::clone(&k);
        let (drift, member_of, found) =
            tokio::task::spawn_blocking(move || evaluate_page(&knowledge, &page, now))
                .await
                .map_err(|e| EngineError::Internal(format!("segment sweep: {e}")))?;
        for name in member_of {
            *report.members.entry(name).or_default() += 1;
        }
        all_measures.extend(found);
        let rechecks: Vec<Event> = drift.iter().map(|id| recheck(id, now)).collect();
        if !rechecks.is_empty() {
            let fresh = ctx.store.insert_events(&rechecks, now).await?;
            let fresh = fresh.iter().filter(|f| **f).count();
            ctx.metrics.events_unmatched.inc_by(fresh as i64);
            report.rechecks += fresh;
        }
    }
    report.rfm = RfmBreaks::of(&all_measures, now);
    if let Some(breaks) = &report.rfm {
        let json = serde_json::to_string(breaks).expect("breakpoints serialise");
        ctx.store.kv_set(KV_SPACE, KV_RFM, &json).await?;
    }
    let rfm = report.rfm.clone();
    ctx.update_knowledge(|k| Knowledge { rfm, ..k });
    *ctx.last_sweep.lock().expect("sweep lock") = Some(report.clone());
    Ok(report)
}

/// The key whose throttle slot a scheduled sweep takes.
const TURN_KEY: &str = "_engine:segment-sweep";

/// Whether this node takes the scheduled sweep due at `now` (every `every`): one slot of the
/// store's throttle per period (a little shorter than `every`, so clocks and timers drifting
/// apart do not skip a period), taken by the first node to ask.
pub async fn claim_turn(
    store: &dyn crate::store::Store,
    now: Millis,
    every: std::time::Duration,
) -> Result<bool, EngineError> {
    let period = every.as_millis() as i64;
    let window = period - (period / 10).min(60_000);
    Ok(store.claim_slot(TURN_KEY, now, 1, window).await?.is_none())
}

/// The recheck event of customer `id` for the sweep at `now`.
fn recheck(id: &str, now: Millis) -> Event {
    Event {
        id: format!("sweep-{now}-{id}"),
        event_type: RECHECK.into(),
        customer_id: Some(id.to_string()),
        customer: Map::new(),
        occurred_at: now,
        data: Map::new(),
        source: None,
    }
}

/// Puts the RFM breakpoints the last sweep kept in the store in force (at start).
pub async fn restore_rfm(ctx: &Context) -> Result<(), EngineError> {
    if let Some(json) = ctx.store.kv_get(KV_SPACE, KV_RFM).await? {
        if let Ok(breaks) = serde_json::from_str::<RfmBreaks>(&json) {
            ctx.update_knowledge(|k| Knowledge {
                rfm: Some(breaks),
                ..k
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::claim_turn;
    use crate::store::MemoryStore;
    use std::time::Duration;

    #[tokio::test]
    async fn nodes_sharing_a_store_take_one_scheduled_sweep_per_period() {
        let store = MemoryStore::new();
        let hour = Duration::from_secs(3600);
        let at = |minutes: i64| 1_000_000 + minutes * 60_000;
        assert!(
            claim_turn(&store, at(0), hour).await.unwrap(),
            "the first node sweeps"
        );
        assert!(
            !claim_turn(&store, at(0) + 300, hour).await.unwrap(),
            "a second node starting at once does not"
        );
        assert!(!claim_turn(&store, at(30), hour).await.unwrap());
        // The next period, even asked a little early by a node whose timer runs ahead.
        assert!(claim_turn(&store, at(59), hour).await.unwrap());
        assert!(!claim_turn(&store, at(60), hour).await.unwrap());
        let minute = Duration::from_secs(60);
        assert!(claim_turn(&store, at(200), minute).await.unwrap());
        assert!(
            claim_turn(&store, at(201), minute).await.unwrap(),
            "short periods too"
        );
    }
}
