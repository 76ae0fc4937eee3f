//! Conformance cases of [`ScheduleStore`]: cron state and date triggers.

use super::new_run;
use mikawaya_engine::store::*;
use std::sync::Arc;

/// Schedules and date triggers: one per workflow and key; firing removes them and starts runs.
pub async fn schedules_and_date_triggers_fire_once(store: Arc<dyn Store>) {
    assert_eq!(store.schedule_next("cron").await.unwrap(), None);
    store.apply_schedule("cron", 100, vec![]).await.unwrap();
    store
        .apply_schedule(
            "cron",
            200,
            vec![new_run("c1", "cron", "cron:100", Some(0), 100)],
        )
        .await
        .unwrap();
    assert_eq!(store.schedule_next("cron").await.unwrap(), Some(200));
    let d = |key: &str, due: i64| DateTriggerRow {
        workflow: "d".into(),
        key: key.into(),
        due_at: due,
        event_id: "e".into(),
    };
    let batch = MatchBatch {
        date_triggers: vec![d("k1", 500), d("k2", 300), d("k1", 400)],
        ..Default::default()
    };
    store.apply_match(batch).await.unwrap();
    assert_eq!(
        store.date_triggers().await.unwrap(),
        [d("k2", 300), d("k1", 400)],
        "a newer event reschedules"
    );
    let due = store.due_date_triggers(350, 10).await.unwrap();
    assert_eq!(due, [d("k2", 300)]);
    store
        .fire_date_triggers(due, vec![new_run("d1", "d", "date:k2:300", Some(0), 350)])
        .await
        .unwrap();
    assert_eq!(store.date_triggers().await.unwrap(), [d("k1", 400)]);
    assert_eq!(store.runs(&RunFilter::default()).await.unwrap().len(), 2);
}
