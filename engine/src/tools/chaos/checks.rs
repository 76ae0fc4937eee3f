//! The invariants checked when a simulation has drained: every accepted event's runs exist
//! exactly once, every run ended and no timer is left, every wait ended once, retried effects
//! repeat their idempotency key and input, and the frequency cap held in every window.

use super::world::{SeenEffect, SentEvent, World};
use super::SimCap;
use crate::store::{RunFilter, Store};
use std::collections::{BTreeMap, HashMap};

/// The simulator's workflows.
pub const WORKFLOWS: [&str; 3] = ["sim-cart", "sim-ticket", "sim-news"];

/// Checks the store and the effects after the drain; violations go to `world`.
pub async fn check_end(world: &World, store: &dyn Store, sent: &[SentEvent], cap: SimCap) {
    if let Err(e) = check_store(world, store, sent).await {
        world.violation(format!("the store failed during the checks: {e}"));
    }
    let effects = world.effects.lock().expect("effects").clone();
    check_keys(world, &effects);
    check_cap(world, &effects, cap);
}

async fn check_store(
    world: &World,
    store: &dyn Store,
    sent: &[SentEvent],
) -> Result<(), crate::store::StoreError> {
    for event in sent {
        for workflow in WORKFLOWS {
            let runs = store.runs_for_event(workflow, &event.id).await?.len();
            let expected = usize::from(event.starts.contains(&workflow));
            if runs != expected {
                world.violation(format!(
                    "event {} has {runs} run(s) of {workflow}, expected {expected}",
                    event.id
                ));
            }
        }
    }
    let all = RunFilter {
        limit: Some(10_000),
        ..RunFilter::default()
    };
    for run in store.runs(&all).await? {
        if !run.status.is_final() {
            world.violation(format!("run {} never ended ({:?})", run.id, run.status));
        }
        let mut ended: HashMap<String, usize> = HashMap::new();
        for entry in store.timeline(&run.id).await? {
            if entry.kind == "wait" && matches!(entry.status.as_str(), "done" | "timeout" | "event")
            {
                *ended.entry(entry.step_id).or_default() += 1;
            }
        }
        for (step, times) in ended.into_iter().filter(|(_, n)| *n > 1) {
            world.violation(format!("wait {step} of run {} ended {times} times", run.id));
        }
    }
    if let Some(due) = store.next_due().await? {
        world.violation(format!("a timer is left after the drain (due {due})"));
    }
    Ok(())
}

/// An effect repeated only with its step's idempotency key, and with the same input.
fn check_keys(world: &World, effects: &[SeenEffect]) {
    let mut first: HashMap<&str, &SeenEffect> = HashMap::new();
    for e in effects {
        if e.key != format!("{}:{}", e.run_id, e.step_id) {
            world.violation(format!(
                "effect of {}/{} has key {}",
                e.run_id, e.step_id, e.key
            ));
        }
        let earlier = first.entry(&e.key).or_insert(e);
        if earlier.input != e.input || earlier.action != e.action {
            world.violation(format!(
                "{} repeated with a different call: {} {} then {} {}",
                e.key, earlier.action, earlier.input, e.action, e.input
            ));
        }
    }
}

/// Distinct marketing emails per customer: never more than the cap within one window.
fn check_cap(world: &World, effects: &[SeenEffect], cap: SimCap) {
    let mut sent: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    for e in effects.iter().filter(|e| e.action == "email.send") {
        let kind = e.input.get("kind").and_then(|k| k.as_str());
        if kind.unwrap_or("marketing") != "marketing" {
            continue;
        }
        let Some(customer) = e.customer_id.as_deref() else {
            continue;
        };
        sent.entry(customer)
            .or_default()
            .entry(&e.key)
            .or_insert(e.at);
    }
    let max = cap.max as usize;
    for (customer, keys) in sent {
        let mut times: Vec<i64> = keys.into_values().collect();
        times.sort();
        for window in times.windows(max + 1) {
            if window[max] - window[0] < cap.window_ms {
                world.violation(format!(
                    "{customer} got {} marketing emails within {} ms (at {:?}); the cap is {}",
                    max + 1,
                    cap.window_ms,
                    window,
                    cap.max
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn email(key: &str, customer: &str, at: i64, kind: &str) -> SeenEffect {
        let (run_id, step_id) = key.split_once(':').expect("run:step");
        SeenEffect {
            action: "email.send".into(),
            key: key.into(),
            run_id: run_id.into(),
            step_id: step_id.into(),
            customer_id: Some(customer.into()),
            input: json!({ "kind": kind }),
            at,
        }
    }

    fn violations(world: &World) -> Vec<String> {
        world.violations.lock().unwrap().clone()
    }

    const CAP_2_PER_100: SimCap = SimCap {
        max: 2,
        window_ms: 100,
    };

    #[test]
    fn a_third_distinct_marketing_email_inside_the_window_breaks_the_cap() {
        let world = World::new(1, false);
        let effects = [
            email("r1:s", "ada", 0, "marketing"),
            email("r1:s", "ada", 50, "marketing"),
            email("r2:s", "ada", 60, "marketing"),
            email("r3:s", "ada", 100, "marketing"),
            email("r4:s", "ada", 101, "transactional"),
        ];
        check_cap(&world, &effects, CAP_2_PER_100);
        assert!(violations(&world).is_empty(), "{:?}", violations(&world));
        check_cap(
            &world,
            &[
                effects[0].clone(),
                effects[2].clone(),
                email("r5:s", "ada", 99, "marketing"),
            ],
            CAP_2_PER_100,
        );
        assert_eq!(violations(&world).len(), 1);
    }

    #[test]
    fn a_repeat_must_keep_its_key_and_input() {
        let world = World::new(1, false);
        let mut changed = email("r1:s", "ada", 5, "marketing");
        changed.input = json!({ "kind": "marketing", "subject": "other" });
        check_keys(&world, &[email("r1:s", "ada", 0, "marketing"), changed]);
        let mut wrong_key = email("r2:s", "ada", 0, "marketing");
        wrong_key.key = "r2:other".into();
        check_keys(&world, &[wrong_key]);
        let found = violations(&world);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("repeated with a different call"));
        assert!(found[1].contains("has key r2:other"));
    }
}
