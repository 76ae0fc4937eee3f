use super::*;
use crate::core::history::Tracked;
use crate::store::merge::merge_patch;

const DAY: i64 = 86_400_000;

fn knowledge() -> Knowledge {
    let files = vec![
        (
            "segments/at-risk.yaml".to_string(),
            "segment: at-risk\nwhen: count(order.placed, 365d) >= 2 and days_since(last(order.placed)) > 60\n".to_string(),
        ),
        (
            "segments/vip.yaml".to_string(),
            "segment: vip\nwhen: customer.tier == \"gold\"\n".to_string(),
        ),
    ];
    let segments = Segments::from_files(&files).unwrap();
    Knowledge {
        segments,
        ..Default::default()
    }
    .tracking(&[])
}

fn order(id: &str, at: i64) -> Event {
    Event {
        id: id.into(),
        event_type: "order.placed".into(),
        customer_id: Some("c1".into()),
        customer: Map::new(),
        occurred_at: at,
        data: Map::new(),
        source: None,
    }
}

/// Feeds `ev` at `now` the way the matcher does; returns the ids of the events emitted.
fn feed(k: &Knowledge, attrs: &mut Map<String, Value>, ev: &Event, now: i64) -> Vec<String> {
    let mut batch = crate::store::MatchBatch::default();
    merge_patch(attrs, &ev.customer);
    crate::core::knowledge::learn(k, ev, &ev.scope_value(), "c1", attrs, &mut batch, now);
    batch.emitted.iter().map(|e| e.id.clone()).collect()
}

#[test]
fn entering_and_leaving_are_each_emitted_once() {
    let k = knowledge();
    let mut attrs = Map::new();
    assert!(feed(&k, &mut attrs, &order("o1", DAY), DAY).is_empty());
    assert!(feed(&k, &mut attrs, &order("o2", 2 * DAY), 2 * DAY).is_empty());
    // 70 days on, the recheck finds them drifted and moves them in, once.
    let mut recheck = order("r1", 72 * DAY);
    recheck.event_type = RECHECK.into();
    assert!(drifted(&k, "c1", &attrs, 72 * DAY));
    assert_eq!(
        feed(&k, &mut attrs, &recheck, 72 * DAY),
        ["r1-segment.entered-at-risk"]
    );
    assert!(!drifted(&k, "c1", &attrs, 72 * DAY));
    recheck.id = "r2".into();
    assert!(
        feed(&k, &mut attrs, &recheck, 73 * DAY).is_empty(),
        "no second entry"
    );
    assert_eq!(members(&k.segments, &attrs), ["at-risk"]);
    // An order brings them back: they leave, once.
    assert_eq!(
        feed(&k, &mut attrs, &order("o3", 80 * DAY), 80 * DAY),
        ["o3-segment.left-at-risk"]
    );
    assert!(feed(&k, &mut attrs, &order("o4", 81 * DAY), 81 * DAY).is_empty());
    assert!(members(&k.segments, &attrs).is_empty());
}

#[test]
fn an_attribute_change_moves_a_customer_and_a_replay_emits_the_same_ids() {
    let k = knowledge();
    let mut attrs = Map::new();
    let mut gold = order("e1", DAY);
    gold.event_type = "customer.updated".into();
    gold.customer = serde_json::json!({ "tier": "gold" })
        .as_object()
        .unwrap()
        .clone();
    let before = attrs.clone();
    let first = feed(&k, &mut attrs, &gold, DAY);
    assert_eq!(first, ["e1-segment.entered-vip"]);
    // The same event matched again from the same state (a crash before the batch committed).
    let mut again = before;
    assert_eq!(feed(&k, &mut again, &gold, DAY + 5), first);
    let value = customer_value(&k, Some("c1"), Some(&attrs), DAY);
    assert_eq!(value["segments"], serde_json::json!(["vip"]));
    assert!(value.get(SEGMENTS_KEY).is_none());
}

#[test]
fn the_digest_keeps_what_the_segments_read() {
    let k = knowledge();
    let t: &Tracked = &k.tracked;
    assert_eq!(t.track("order.placed").unwrap().window_ms, 365 * DAY);
    // RFM's default sum of `total` is kept too.
    assert_eq!(t.track("order.placed").unwrap().fields, ["total"]);
}
