//! The event catalog through the real binary: declared events that do not fit are refused with
//! the field and the expectation and store nothing; undeclared types pass unless the engine is
//! strict; a broken catalog file keeps the last good catalog, and a fixed one takes over.

use crate::harness::{start_with, workspace};
use serde_json::json;
use std::time::Duration;

const FLOW: &str = "workflow \"carts\" version 1\non event cart.abandoned\nre-enroll always\ndo log(message: \"cart {{ event.cart.total }}\")\n";
const CATALOG: &str = "cart.abandoned:\n  data:\n    cart: { total: number, items?: [string] }\n  customer:\n    email?: string\n";

fn cart(id: &str, cart: serde_json::Value) -> serde_json::Value {
    json!({"id": id, "type": "cart.abandoned", "customer": "c1", "data": {"cart": cart}})
}

#[tokio::test]
async fn declared_events_are_checked_at_intake_and_the_catalog_reloads() {
    let dir = workspace(&[("carts.mkw", FLOW), ("events/shop.yaml", CATALOG)]);
    let engine = start_with(&dir, &[]);
    let types = engine.get("/event-types").await;
    assert_eq!(types[0]["name"], "cart.abandoned", "{types}");
    assert_eq!(
        types[0]["data"]["properties"]["cart"]["properties"]["total"]["type"],
        "number"
    );
    assert!(types[0]["file"].as_str().unwrap().ends_with("shop.yaml"));
    let cases = [
        (
            cart("b1", json!({"total": "abc"})),
            "data.cart.total",
            "expected a number, got \"abc\"",
        ),
        (
            cart("b2", json!({"total": 5, "items": ["mug", 3]})),
            "data.cart.items[1]",
            "expected a string, got 3",
        ),
        (cart("b3", json!({})), "data.cart.total", "is missing"),
        (
            json!({"id": "b4", "type": "cart.abandoned", "customer": {"id": "c1", "email": 42}, "data": {"cart": {"total": 1}}}),
            "customer.email",
            "expected a string, got 42",
        ),
    ];
    for (event, field, reason) in cases {
        let (status, answer) = engine
            .post_events(&json!([cart("ok", json!({"total": 1})), event]).to_string())
            .await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(
            (answer["index"].as_u64(), answer["field"].as_str()),
            (Some(1), Some(field)),
            "{answer}"
        );
        assert!(
            answer["reason"].as_str().unwrap().starts_with(reason),
            "{answer}"
        );
    }
    // Nothing of a refused batch was stored; a fitting event and an undeclared type pass.
    let (status, _) = engine
        .post_events(&cart("ok", json!({"total": 80})).to_string())
        .await;
    assert_eq!(status, 202);
    let (status, _) = engine
        .post_events(r#"{"id": "l1", "type": "lead.created", "data": {"anything": true}}"#)
        .await;
    assert_eq!(status, 202);
    let runs = engine
        .wait_for("/runs?workflow=carts", 30, |r| {
            r.as_array()
                .is_some_and(|a| a.len() == 1 && a[0]["status"] == "completed")
        })
        .await;
    assert_eq!(runs[0]["context"]["event"]["id"], "ok");

    // A broken catalog file is refused and the last good catalog keeps checking.
    let file = dir.path().join("workflows/events/shop.yaml");
    std::fs::write(
        &file,
        "cart.abandoned:\n  data:\n    cart: { total: nubmer }\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (status, _) = engine
        .post_events(&cart("b5", json!({"total": "x"})).to_string())
        .await;
    assert_eq!(status, 400, "the last good catalog still holds");
    let log = engine.log();
    assert!(
        log.contains("shop.yaml:3:") && log.contains("did you mean `number`?"),
        "{log}"
    );
    // Fixed, with a string total now: the new catalog takes over.
    std::fs::write(
        &file,
        "cart.abandoned:\n  data:\n    cart: { total: string }\n",
    )
    .unwrap();
    let mut status = 0;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        (status, _) = engine
            .post_events(&cart("s1", json!({"total": "12.50"})).to_string())
            .await;
        if status == 202 {
            break;
        }
    }
    assert_eq!(status, 202, "the fixed catalog is in force");
    engine.terminate();
}

#[tokio::test]
async fn strict_events_refuses_undeclared_types() {
    let dir = workspace(&[("carts.mkw", FLOW), ("events/shop.yaml", CATALOG)]);
    let engine = start_with(&dir, &["--strict-events".into()]);
    let (status, answer) = engine
        .post_events(r#"{"id": "l1", "type": "lead.created"}"#)
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("type")),
        "{answer}"
    );
    assert!(answer["reason"]
        .as_str()
        .unwrap()
        .contains("not declared in the event catalog"));
    let (status, _) = engine
        .post_events(&cart("ok", json!({"total": 1})).to_string())
        .await;
    assert_eq!(status, 202);
    engine.terminate();
}

/// A workflow naming a holiday calendar that does not exist is refused; writing the calendar
/// file alone (the watcher sees the holidays folder) makes it load.
#[tokio::test]
async fn a_new_holiday_calendar_is_picked_up_by_the_watcher() {
    let dir = workspace(&[("carts.mkw", FLOW)]);
    let engine = start_with(&dir, &[]);
    // Past the watcher's first look at the folder (it compares with what it saw then).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let windowed = "workflow \"windowed\" version 1\non event cart.abandoned\nsend-window weekdays 09:00-20:00 tz \"Asia/Tokyo\" holidays \"JP\"\ndo log()\n";
    std::fs::write(dir.path().join("workflows/windowed.mkw"), windowed).unwrap();
    let names = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w["name"].as_str().map(String::from))
            .collect()
    };
    // The watcher reloads within a few seconds; the workflow stays out for want of JP.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(names(&engine.get("/workflows").await), ["carts"]);
    assert!(
        engine.log().contains("unknown holiday calendar `JP`"),
        "{}",
        engine.log()
    );
    std::fs::create_dir_all(dir.path().join("workflows/holidays")).unwrap();
    std::fs::write(
        dir.path().join("workflows/holidays/JP.yaml"),
        "2026-01-01: New Year's Day\n",
    )
    .unwrap();
    engine
        .wait_for("/workflows", 15, |v| {
            names(v).contains(&"windowed".to_string())
        })
        .await;
    engine.terminate();
}
