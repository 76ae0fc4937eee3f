//! In-memory [`EventLog`].

use super::{EventEntry, MemoryStore};
use crate::clock::Millis;
use crate::event::Event;
use crate::store::model::*;
use crate::store::score_rows::{latest, rows, EVENTS_READ};
use crate::store::status::Cause;
use crate::store::views::*;
use crate::store::{EventLog, StoreResult};
use async_trait::async_trait;
use serde_json::{Map, Value};

#[async_trait]
impl EventLog for MemoryStore {
    async fn insert_events(&self, events: &[Event], at: Millis) -> StoreResult<Vec<bool>> {
        let mut s = self.lock();
        Ok(events
            .iter()
            .map(|e| {
                if s.event_index.contains_key(&e.id) {
                    return false;
                }
                let index = s.events.len();
                let seq = index as i64 + 1;
                s.event_index.insert(e.id.clone(), index);
                s.events.push(EventEntry {
                    seq,
                    event: e.clone(),
                    received_at: at,
                    processed: false,
                });
                true
            })
            .collect())
    }

    async fn pending_events(&self, taken: &[i64], limit: i64) -> StoreResult<Vec<StoredEvent>> {
        let s = self.lock();
        Ok(s.events
            .iter()
            .filter(|e| !e.processed && taken.binary_search(&e.seq).is_err())
            .take(limit.max(0) as usize)
            .map(|e| StoredEvent {
                seq: e.seq,
                event: Ok(e.event.clone()),
                received_at: e.received_at,
            })
            .collect())
    }

    async fn event(&self, id: &str) -> StoreResult<Option<Event>> {
        let s = self.lock();
        Ok(s.event_index.get(id).map(|i| s.events[*i].event.clone()))
    }

    async fn events_between(
        &self,
        from: Millis,
        to: Millis,
        limit: i64,
    ) -> StoreResult<Vec<Event>> {
        let s = self.lock();
        let mut found: Vec<&EventEntry> = s
            .events
            .iter()
            .filter(|e| e.event.occurred_at >= from && e.event.occurred_at < to)
            .collect();
        found.sort_by_key(|e| (e.event.occurred_at, e.seq));
        Ok(found
            .into_iter()
            .take(limit.max(0) as usize)
            .map(|e| e.event.clone())
            .collect())
    }

    async fn received_events(
        &self,
        event_type: &str,
        from: Millis,
        to: Millis,
        limit: i64,
    ) -> StoreResult<Vec<Event>> {
        let s = self.lock();
        let mut found: Vec<&EventEntry> = s
            .events
            .iter()
            .filter(|e| e.event.event_type == event_type)
            .filter(|e| e.received_at >= from && e.received_at <= to)
            .collect();
        found.sort_by_key(|e| std::cmp::Reverse((e.received_at, e.seq)));
        Ok(found
            .into_iter()
            .take(limit.max(0) as usize)
            .map(|e| e.event.clone())
            .collect())
    }

    async fn customer(&self, id: &str) -> StoreResult<Option<Map<String, Value>>> {
        Ok(self.lock().customers.get(id).cloned())
    }

    async fn customers(
        &self,
        ids: &[String],
    ) -> StoreResult<std::collections::HashMap<String, Map<String, Value>>> {
        let s = self.lock();
        Ok(ids
            .iter()
            .filter_map(|id| Some((id.clone(), s.customers.get(id)?.clone())))
            .collect())
    }

    async fn customer_page(
        &self,
        after: &str,
        limit: i64,
    ) -> StoreResult<Vec<(String, Map<String, Value>)>> {
        let s = self.lock();
        let mut page: Vec<(String, Map<String, Value>)> = s
            .customers
            .iter()
            .filter(|(id, _)| id.as_str() > after)
            .map(|(id, m)| (id.clone(), m.clone()))
            .collect();
        page.sort_by(|a, b| a.0.cmp(&b.0));
        page.truncate(limit.max(0) as usize);
        Ok(page)
    }

    async fn score_changes(&self, customer: &str, per_score: i64) -> StoreResult<Vec<ScoreChange>> {
        let s = self.lock();
        let from = (customer.to_string(), i64::MIN, String::new());
        let rows = s
            .score_changes
            .range(from..)
            .take_while(|((c, _, _), _)| c == customer)
            .map(|((_, at, event), json)| (*at, event.clone(), json.clone()))
            .collect::<Vec<_>>();
        let newest_first = rows.into_iter().rev().take(EVENTS_READ as usize).collect();
        Ok(latest(customer, newest_first, per_score))
    }

    async fn entities(&self, kind: &str) -> StoreResult<Vec<Value>> {
        let s = self.lock();
        Ok(s.entities
            .iter()
            .filter(|((k, _), _)| k == kind)
            .map(|(_, v)| v.clone())
            .collect())
    }

    async fn pending_count(&self) -> StoreResult<u64> {
        Ok(self.lock().events.iter().filter(|e| !e.processed).count() as u64)
    }

    async fn reject_message(&self, m: &RejectedMessage) -> StoreResult<()> {
        let mut s = self.lock();
        let id = s.rejected.len() as i64 + 1;
        s.rejected.push(RejectedMessage { id, ..m.clone() });
        Ok(())
    }

    async fn rejected_messages(&self, limit: i64) -> StoreResult<Vec<RejectedMessage>> {
        let s = self.lock();
        Ok(s.rejected
            .iter()
            .rev()
            .take(limit.max(0) as usize)
            .cloned()
            .collect())
    }

    async fn apply_match(&self, batch: MatchBatch) -> StoreResult<Vec<bool>> {
        let mut s = self.lock();
        for (id, attrs, at) in &batch.customers {
            s.merge_customer(id, attrs, *at);
        }
        for (kind, id, data, _) in batch.entities {
            s.entities.insert((kind, id), data);
        }
        // New runs first: a goal later in the batch may end one of them.
        let inserted = batch.new_runs.iter().map(|run| s.insert_run(run)).collect();
        for exit in &batch.exits {
            s.end_run(&exit.end());
        }
        for r in &batch.resumes {
            let status = r.status();
            let Some(run) = s
                .run_for(&r.run_id, Cause::EventArrived)
                .filter(|run| run.step == Some(r.wait_step))
            else {
                continue;
            };
            run.status = status;
            run.step = r.target;
            run.ended_at = status.is_final().then_some(r.entry.at);
            run.updated_at = r.entry.at;
            run.rev += 1;
            s.waits.remove(&r.run_id);
            s.set_timer(&r.run_id, r.target.map(|_| Timer::exec(r.entry.at)));
            s.add_timeline(&r.run_id, r.entry.clone());
        }
        for d in batch.date_triggers {
            s.date_triggers
                .insert((d.workflow.clone(), d.key.clone()), d);
        }
        for (customer, channel, granted, at) in &batch.consents {
            s.record_consent(customer, channel, *granted, "consent.updated event", *at);
        }
        for (address, reason, at) in batch.suppressions {
            let address = address.to_lowercase();
            s.suppressions
                .entry(address.clone())
                .or_insert(Suppression {
                    address,
                    reason,
                    created_at: at,
                });
        }
        for hit in &batch.conversions {
            s.convert(hit);
        }
        for row in rows(&batch.score_changes) {
            let key = (row.customer.to_string(), row.at, row.event.to_string());
            s.score_changes.entry(key).or_insert(row.changes);
        }
        for seq in batch.seqs {
            if let Some(e) = s.events.get_mut(seq as usize - 1) {
                e.processed = true;
            }
        }
        Ok(inserted)
    }
}
