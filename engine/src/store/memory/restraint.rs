//! In-memory [`RestraintStore`].

use super::MemoryStore;
use crate::clock::Millis;
use crate::store::model::*;
use crate::store::{RestraintStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl RestraintStore for MemoryStore {
    async fn messages_since(
        &self,
        customer_id: &str,
        channel: &str,
        kind: &str,
        since: Millis,
    ) -> StoreResult<Vec<Millis>> {
        let s = self.lock();
        let mut sent: Vec<Millis> = s
            .messages
            .iter()
            .filter(|(c, ch, k, at)| {
                c.as_deref() == Some(customer_id) && ch == channel && k == kind && *at >= since
            })
            .map(|m| m.3)
            .collect();
        sent.sort();
        Ok(sent)
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
