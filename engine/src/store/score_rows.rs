//! Score changes as every store keeps them: one row per scored event of a customer, holding
//! each change the event made as JSON (`[[score, rule, points, value after], ...]`). An event
//! that twenty rules hold for is one insert, not twenty; reading the latest changes per score
//! walks a customer's latest scored events, newest first.

use super::ScoreChange;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// How many of a customer's latest scored events are read for their changes: bounds the work of
/// one request (a score that changed less often shows fewer changes).
pub const EVENTS_READ: i64 = 1_000;

/// The changes one event made to one customer's scores, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EventChanges<'a> {
    /// The customer.
    pub customer: &'a str,
    /// When (the changes' time).
    pub at: i64,
    /// The event.
    pub event: &'a str,
    /// Its changes, in the order they were made, as JSON.
    pub changes: String,
}

/// `changes` as rows: grouped by customer, time and event, in first-seen order.
pub fn rows(changes: &[ScoreChange]) -> Vec<EventChanges<'_>> {
    let mut groups: Vec<(&ScoreChange, Vec<&ScoreChange>)> = Vec::new();
    let mut index: HashMap<(&str, i64, &str), usize> = HashMap::new();
    for c in changes {
        let key = (&*c.customer, c.at, &*c.event);
        match index.get(&key) {
            Some(&i) => groups[i].1.push(c),
            None => {
                index.insert(key, groups.len());
                groups.push((c, vec![c]));
            }
        }
    }
    groups
        .into_iter()
        .map(|(first, list)| {
            let made: Vec<(&str, &str, f64, f64)> = list
                .iter()
                .map(|c| (&*c.score, &*c.rule, c.points, c.value))
                .collect();
            EventChanges {
                customer: &first.customer,
                at: first.at,
                event: &first.event,
                changes: serde_json::to_string(&made).expect("changes serialise"),
            }
        })
        .collect()
}

/// From `customer`'s stored rows `(at, event, changes)`, newest first: the latest `per_score`
/// changes of each score, by score (in byte order), oldest first. A row that does not read is
/// skipped.
pub fn latest(
    customer: &str,
    rows: Vec<(i64, String, String)>,
    per_score: i64,
) -> Vec<ScoreChange> {
    let per_score = per_score.max(0) as usize;
    let customer: Arc<str> = customer.into();
    let mut by_score: BTreeMap<String, Vec<ScoreChange>> = BTreeMap::new();
    for (at, event, json) in rows {
        let Ok(made) = serde_json::from_str::<Vec<(String, String, f64, f64)>>(&json) else {
            continue;
        };
        let event: Arc<str> = event.into();
        // Newest first throughout: an event's own changes from its last.
        for (score, rule, points, value) in made.into_iter().rev() {
            let kept = by_score.entry(score.clone()).or_default();
            if kept.len() < per_score {
                kept.push(ScoreChange {
                    customer: customer.clone(),
                    score: score.into(),
                    event: event.clone(),
                    rule: rule.into(),
                    points,
                    value,
                    at,
                });
            }
        }
    }
    by_score
        .into_values()
        .flat_map(|mut kept| {
            kept.reverse();
            kept
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(score: &str, event: &str, rule: &str, at: i64) -> ScoreChange {
        ScoreChange {
            customer: "c1".into(),
            score: score.into(),
            event: event.into(),
            rule: rule.into(),
            points: 1.0,
            value: at as f64,
            at,
        }
    }

    #[test]
    fn an_event_is_one_row_and_reads_back_newest_per_score() {
        let made = [
            change("lead", "e1", "a", 10),
            change("fit", "e1", "b", 10),
            change("lead", "e2", "a", 20),
            change("lead", "e1", "c", 10),
        ];
        let stored = rows(&made);
        assert_eq!(stored.len(), 2, "one row per event: {stored:?}");
        assert_eq!(
            stored[0].changes,
            r#"[["lead","a",1.0,10.0],["fit","b",1.0,10.0],["lead","c",1.0,10.0]]"#
        );
        // Read back newest first, as the stores give them, with a row that does not read.
        let back: Vec<(i64, String, String)> = stored
            .iter()
            .rev()
            .map(|r| (r.at, r.event.to_string(), r.changes.clone()))
            .chain([(5, "old".to_string(), "not json".to_string())])
            .collect();
        let got = latest("c1", back, 2);
        let seen: Vec<(&str, &str, &str)> = got
            .iter()
            .map(|c| (&*c.score, &*c.event, &*c.rule))
            .collect();
        assert_eq!(
            seen,
            [("fit", "e1", "b"), ("lead", "e1", "c"), ("lead", "e2", "a")],
            "by score, the latest two of each, oldest first"
        );
        assert!(got.iter().all(|c| &*c.customer == "c1"));
    }
}
