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

    async fn claim_message(
        &self,
        m: &SentMessage,
        _run_id: &str,
        at: Millis,
        limit: Option<MessageLimit>,
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
        if let Some(limit) = limit {
            let mut latest: HashMap<&str, Millis> = HashMap::new();
            for (old, sent_at) in &s.messages {
                let counts = old.customer_id == m.customer_id
                    && old.channel == m.channel
                    && old.kind == m.kind
                    && *sent_at >= limit.since
                    && old.key != m.key;
                if counts {
                    let at = latest.entry(&old.key).or_insert(*sent_at);
                    *at = (*at).max(*sent_at);
                }
            }
            if latest.len() >= limit.max {
                let mut times: Vec<Millis> = latest.into_values().collect();
                times.sort();
                return Ok(Claim::Over(times));
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
