//! In-memory [`RestraintStore`].

use super::MemoryStore;
use crate::clock::Millis;
use crate::store::model::*;
use crate::store::views::*;
use crate::store::{RestraintStore, StoreResult};
use async_trait::async_trait;
use std::collections::HashMap;

#[async_trait]
impl RestraintStore for MemoryStore {
    async fn messages_since(
        &self,
        customer_id: &str,
        channel: &str,
        kind: &str,
        since: Millis,
    ) -> StoreResult<Vec<Millis>> {
        Ok(self.lock().sent_since(customer_id, channel, kind, since))
    }

    async fn claim_slot(
        &self,
        key: &str,
        at: Millis,
        max: u32,
        window_ms: i64,
    ) -> StoreResult<Option<Millis>> {
        let mut s = self.lock();
        let calls = s.throttle.entry(key.to_string()).or_default();
        calls.retain(|t| *t > at - window_ms);
        if calls.len() < max as usize {
            calls.push(at);
            return Ok(None);
        }
        Ok(Some(calls.iter().min().copied().unwrap_or(at) + window_ms))
    }

    async fn acquire_lease(&self, l: &LeaseClaim<'_>) -> StoreResult<Option<Millis>> {
        let mut s = self.lock();
        let state = &mut *s;
        let leases = state.leases.entry(l.key.to_string()).or_default();
        leases.retain(|_, until| *until > l.now);
        let waiters = state.waiters.entry(l.key.to_string()).or_default();
        waiters.retain(|_, until| *until > l.now);
        let mine = waiters.keys().find(|(_, run)| run == l.run_id).cloned();
        let ahead = match &mine {
            Some(me) => waiters.range(..me.clone()).count(),
            None => waiters.len(),
        };
        if leases.contains_key(l.holder) || leases.len() + ahead < l.max as usize {
            leases.insert(l.holder.to_string(), l.until);
            if let Some(me) = mine {
                waiters.remove(&me);
            }
            return Ok(None);
        }
        let at = leases
            .values()
            .min()
            .copied()
            .unwrap_or(l.until)
            .min(l.until);
        let me = mine.unwrap_or((l.now, l.run_id.to_string()));
        waiters.insert(me, at + crate::store::WAITER_GRACE_MS);
        Ok(Some(at))
    }

    async fn release_lease(&self, key: &str, holder: &str, now: Millis) -> StoreResult<()> {
        let mut s = self.lock();
        let state = &mut *s;
        if let Some(leases) = state.leases.get_mut(key) {
            leases.remove(holder);
        }
        let first = state.waiters.get(key).and_then(|w| {
            w.iter()
                .find(|(_, until)| **until > now)
                .map(|((_, run), _)| run.clone())
        });
        if let Some(timer) = first.and_then(|run| state.timers.get_mut(&run)) {
            timer.due_at = timer.due_at.min(now);
        }
        Ok(())
    }

    async fn claim_message(
        &self,
        m: &SentMessage,
        _run_id: &str,
        at: Millis,
        caps: Option<&CapCheck<'_>>,
    ) -> StoreResult<Claim> {
        let mut s = self.lock();
        if let Some(reason) = m
            .address
            .as_ref()
            .and_then(|a| s.suppressions.get(&a.to_lowercase()))
        {
            return Ok(Claim::Suppressed(reason.reason.clone()));
        }
        let consent = m
            .customer_id
            .as_ref()
            .and_then(|c| s.customers.get(c))
            .and_then(|c| c.get("consent"));
        if m.kind == "marketing" && !consents_to(consent, &m.channel) {
            return Ok(Claim::NoConsent);
        }
        if let Some(caps) = caps {
            let mut latest: HashMap<&str, PastMessage> = HashMap::new();
            for (old, sent_at) in &s.messages {
                let counts = old.customer_id == m.customer_id
                    && old.kind == "marketing"
                    && *sent_at >= caps.since
                    && old.key != m.key;
                if counts {
                    let past = latest.entry(&old.key).or_insert_with(|| PastMessage {
                        channel: old.channel.clone(),
                        tags: old.tags.clone(),
                        sent_at: *sent_at,
                    });
                    past.sent_at = past.sent_at.max(*sent_at);
                }
            }
            let past: Vec<PastMessage> = latest.into_values().collect();
            if let Some(refusal) = (caps.judge)(&past) {
                return Ok(Claim::Over(refusal));
            }
        }
        s.messages.push((m.clone(), at));
        Ok(Claim::Granted)
    }

    async fn suppressed(&self, address: &str) -> StoreResult<Option<String>> {
        let s = self.lock();
        Ok(s.suppressions
            .get(&address.to_lowercase())
            .map(|x| x.reason.clone()))
    }

    async fn suppress(&self, address: &str, reason: &str, at: Millis) -> StoreResult<()> {
        let address = address.to_lowercase();
        let mut s = self.lock();
        s.suppressions
            .entry(address.clone())
            .and_modify(|x| x.reason = reason.into())
            .or_insert(Suppression {
                address,
                reason: reason.into(),
                created_at: at,
            });
        Ok(())
    }

    async fn unsuppress(&self, address: &str) -> StoreResult<bool> {
        Ok(self
            .lock()
            .suppressions
            .remove(&address.to_lowercase())
            .is_some())
    }

    async fn suppressions(&self) -> StoreResult<Vec<Suppression>> {
        let mut all: Vec<Suppression> = self.lock().suppressions.values().cloned().collect();
        all.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then(a.address.cmp(&b.address))
        });
        Ok(all)
    }

    async fn set_consent(
        &self,
        customer_id: &str,
        channel: &str,
        granted: bool,
        source: &str,
        at: Millis,
    ) -> StoreResult<()> {
        self.lock()
            .record_consent(customer_id, channel, granted, source, at);
        Ok(())
    }
}
