//! What matched batches whose writes are still being committed changed, for the next batch.
//!
//! The serving matcher prepares batch N+1 while batch N's writes commit (`Engine::
//! match_continuously`), so the store does not show N's effects yet. N+1 must still see them:
//! the customer attributes N merged, the enrollments it made (a `re-enroll never` workflow must
//! not start twice) and the runs it started (a goal event in N+1 ends them), and it must not take
//! N's events again. Each entry is tagged with its batch; once a batch has committed, its
//! entries are dropped, as the store then answers for them.

use crate::clock::Millis;
use crate::core::enroll::BatchEnrollments;
use crate::store::NewRun;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A run a batch started: enough for a later goal event to end it.
#[derive(Debug, Clone, PartialEq)]
pub struct StartedRun {
    /// Its id.
    pub id: String,
    /// Its workflow.
    pub workflow: String,
    /// Its customer.
    pub customer_id: Option<String>,
    /// The key it was enrolled under.
    pub enroll_key: String,
}

/// The uncommitted changes of the batches in flight, by batch.
#[derive(Debug, Default)]
pub struct Carry {
    taken: Vec<(u64, Vec<i64>)>,
    next_batch: u64,
    customers: HashMap<String, (u64, Map<String, Value>)>,
    enrollments: HashMap<(String, String), (u64, Millis)>,
    started: Vec<(u64, StartedRun)>,
    handed: Vec<(u64, usize)>,
}

impl Carry {
    /// The events of the batches in flight, in sequence order: the next batch leaves them out.
    pub fn taken(&self) -> Vec<i64> {
        let mut seqs: Vec<i64> = self
            .taken
            .iter()
            .flat_map(|(_, s)| s.iter().copied())
            .collect();
        seqs.sort_unstable();
        seqs
    }

    /// The number of the next batch.
    pub fn begin_batch(&mut self) -> u64 {
        self.next_batch += 1;
        self.next_batch
    }

    /// The attributes in-flight batches left for those of `ids` they touched; the other ids.
    pub fn customers(&self, ids: &[String]) -> (HashMap<String, Map<String, Value>>, Vec<String>) {
        let mut known = HashMap::new();
        let mut unknown = Vec::new();
        for id in ids {
            match self.customers.get(id) {
                Some((_, attrs)) => {
                    known.insert(id.clone(), attrs.clone());
                }
                None => unknown.push(id.clone()),
            }
        }
        (known, unknown)
    }

    /// Enrollments of the in-flight batches, as a starting memo for the next one.
    pub fn enrollments(&self) -> BatchEnrollments {
        self.enrollments
            .iter()
            .map(|(key, (_, at))| (key.clone(), *at))
            .collect()
    }

    /// Runs the in-flight batches started.
    pub fn started(&self) -> impl Iterator<Item = &StartedRun> {
        self.started.iter().map(|(_, run)| run)
    }

    /// Runs handed to the executor's ready queue by in-flight batches, not queued yet.
    pub fn handed(&self) -> usize {
        self.handed.iter().map(|(_, n)| n).sum()
    }

    /// Records what batch `batch` (of the events `seqs`) changed.
    pub fn absorb(
        &mut self,
        batch: u64,
        seqs: &[i64],
        customers: HashMap<String, Map<String, Value>>,
        enrollments: BatchEnrollments,
        new_runs: &[NewRun],
        handed: usize,
    ) {
        self.taken.push((batch, seqs.to_vec()));
        for (id, attrs) in customers {
            self.customers.insert(id, (batch, attrs));
        }
        for (key, at) in enrollments {
            let newer = self.enrollments.get(&key).is_none_or(|(_, old)| *old <= at);
            if newer {
                self.enrollments.insert(key, (batch, at));
            }
        }
        self.started
            .extend(new_runs.iter().filter(|r| r.start.is_some()).map(|r| {
                let run = StartedRun {
                    id: r.id.clone(),
                    workflow: r.workflow.clone(),
                    customer_id: r.customer_id.clone(),
                    enroll_key: r.enroll_key.clone(),
                };
                (batch, run)
            }));
        self.handed.push((batch, handed));
    }

    /// Batch `batch` and every earlier one committed: the store now answers for them.
    pub fn committed(&mut self, batch: u64) {
        self.customers.retain(|_, (b, _)| *b > batch);
        self.enrollments.retain(|_, (b, _)| *b > batch);
        self.started.retain(|(b, _)| *b > batch);
        self.handed.retain(|(b, _)| *b > batch);
        self.taken.retain(|(b, _)| *b > batch);
    }

    /// Forgets everything (a batch failed to commit): the next batch starts from the store.
    pub fn reset(&mut self) {
        *self = Carry::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_batch_sees_what_earlier_uncommitted_batches_changed_until_they_commit() {
        let mut carry = Carry::default();
        let first = carry.begin_batch();
        let customers = HashMap::from([("c1".to_string(), attrs(json!({"tier": "gold"})))]);
        let enrolled = BatchEnrollments::from([(("w".to_string(), "c1".to_string()), 5)]);
        carry.absorb(first, &[9, 10], customers, enrolled, &[], 3);
        let second = carry.begin_batch();
        let customers = HashMap::from([("c2".to_string(), attrs(json!({"tier": "silver"})))]);
        carry.absorb(second, &[20], customers, BatchEnrollments::new(), &[], 4);

        assert_eq!(carry.taken(), [9, 10, 20]);
        assert_eq!(carry.handed(), 7);
        let (known, unknown) = carry.customers(&["c1".into(), "c3".into()]);
        assert_eq!(known["c1"], attrs(json!({"tier": "gold"})));
        assert_eq!(unknown, ["c3"]);
        assert_eq!(carry.enrollments().len(), 1);

        carry.committed(first);
        let (known, _) = carry.customers(&["c1".into(), "c2".into()]);
        assert!(!known.contains_key("c1"), "the store answers for c1 now");
        assert!(known.contains_key("c2"));
        assert!(carry.enrollments().is_empty());
        assert_eq!((carry.handed(), carry.taken()), (4, vec![20]));

        carry.committed(second);
        assert_eq!(carry.customers(&["c2".into()]).1, ["c2"]);
        assert!(carry.taken().is_empty(), "the store knows they are matched");
    }
}
