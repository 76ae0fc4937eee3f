//! In-memory [`AccessStore`]: tokens and the audit log.

use super::MemoryStore;
use crate::clock::Millis;
use crate::store::views::{AuditEntry, TokenRow};
use crate::store::{AccessStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl AccessStore for MemoryStore {
    async fn create_token(&self, t: &TokenRow) -> StoreResult<bool> {
        let mut s = self.lock();
        if s.tokens
            .iter()
            .any(|x| x.name == t.name || x.hash == t.hash)
        {
            return Ok(false);
        }
        s.tokens.push(t.clone());
        Ok(true)
    }

    async fn tokens(&self) -> StoreResult<Vec<TokenRow>> {
        let mut tokens = self.lock().tokens.clone();
        tokens.sort_by(|a, b| (a.created_at, &a.name).cmp(&(b.created_at, &b.name)));
        Ok(tokens)
    }

    async fn revoke_token(&self, name: &str, at: Millis) -> StoreResult<bool> {
        let mut s = self.lock();
        match s
            .tokens
            .iter_mut()
            .find(|t| t.name == name && t.revoked_at.is_none())
        {
            Some(t) => {
                t.revoked_at = Some(at);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn record_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        let mut s = self.lock();
        let id = s.audit.len() as i64 + 1;
        s.audit.push(AuditEntry { id, ..e.clone() });
        Ok(())
    }

    async fn audit_log(&self, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        let s = self.lock();
        Ok(s.audit
            .iter()
            .rev()
            .take(limit.max(0) as usize)
            .cloned()
            .collect())
    }
}
