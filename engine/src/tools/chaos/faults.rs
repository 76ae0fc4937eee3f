//! Crash injection: a [`Store`] wrapper and a switch shared with the simulated actions. Every
//! store call and action call is one numbered *operation*; the simulator arms a crash at a later
//! operation, either before it (the change is lost) or after it (the change is applied but the
//! caller never hears). From then on every operation fails, as in a process that died, until the
//! simulator restarts the engine from the store.

use crate::clock::Millis;
use crate::event::Event;
use crate::store::*;
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Where, relative to an operation, the crash happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// The operation never happens.
    Before,
    /// The operation happens; its answer is lost.
    After,
}

/// The crash switch of one engine process.
#[derive(Debug, Default)]
pub struct Faults {
    ops: AtomicU64,
    armed: Mutex<Option<(u64, CrashPoint)>>,
    dead: AtomicBool,
}

fn crashed() -> StoreError {
    StoreError::Unavailable("the simulated process crashed".into())
}

impl Faults {
    /// A live process with no crash armed.
    pub fn new() -> Arc<Self> {
        Arc::new(Faults::default())
    }

    /// Crashes at the operation `ahead` operations from now, at `point`.
    pub fn arm(&self, ahead: u64, point: CrashPoint) {
        let at = self.ops.load(Ordering::SeqCst) + ahead;
        *self.armed.lock().expect("faults lock") = Some((at, point));
    }

    /// Whether the process has crashed.
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    /// Operations so far.
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::SeqCst)
    }

    fn hits(&self, op: u64, point: CrashPoint) -> bool {
        let armed = *self.armed.lock().expect("faults lock");
        if armed == Some((op, point)) {
            self.dead.store(true, Ordering::SeqCst);
        }
        self.is_dead()
    }

    /// Called before an operation: its number, or the crash.
    pub fn before(&self) -> StoreResult<u64> {
        if self.is_dead() {
            return Err(crashed());
        }
        let op = self.ops.fetch_add(1, Ordering::SeqCst);
        if self.hits(op, CrashPoint::Before) {
            return Err(crashed());
        }
        Ok(op)
    }

    /// Called after operation `op` was carried out: the crash, if one comes now.
    pub fn after(&self, op: u64) -> StoreResult<()> {
        if self.hits(op, CrashPoint::After) {
            return Err(crashed());
        }
        Ok(())
    }
}

/// A store whose calls pass through [`Faults`]; the wrapped store is what survives a crash.
pub struct CrashingStore {
    inner: Arc<dyn Store>,
    faults: Arc<Faults>,
}

impl CrashingStore {
    /// Wraps `inner` for the process whose switch is `faults`.
    pub fn new(inner: Arc<dyn Store>, faults: Arc<Faults>) -> Self {
        CrashingStore { inner, faults }
    }
}

/// Implements a store trait for [`CrashingStore`] by passing each call through the switch.
macro_rules! through_faults {
    ($trait:ident { $(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)* }) => {
        #[async_trait]
        impl $trait for CrashingStore {
            $(async fn $name(&self $(, $arg: $ty)*) -> StoreResult<$ret> {
                let op = self.faults.before()?;
                let result = self.inner.$name($($arg),*).await;
                self.faults.after(op)?;
                result
            })*
        }
    };
}

through_faults!(EventLog {
    fn insert_events(&self, events: &[Event], at: Millis) -> Vec<bool>;
    fn pending_events(&self, taken: &[i64], limit: i64) -> Vec<StoredEvent>;
    fn event(&self, id: &str) -> Option<Event>;
    fn events_between(&self, from: Millis, to: Millis, limit: i64) -> Vec<Event>;
    fn received_events(&self, event_type: &str, from: Millis, to: Millis, limit: i64) -> Vec<Event>;
    fn customer(&self, id: &str) -> Option<Map<String, Value>>;
    fn customers(&self, ids: &[String]) -> std::collections::HashMap<String, Map<String, Value>>;
    fn customer_page(&self, after: &str, limit: i64) -> Vec<(String, Map<String, Value>)>;
    fn score_changes(&self, customer: &str, per_score: i64) -> Vec<ScoreChange>;
    fn entities(&self, kind: &str) -> Vec<Value>;
    fn apply_match(&self, batch: MatchBatch) -> Vec<bool>;
    fn pending_count(&self) -> u64;
    fn reject_message(&self, m: &RejectedMessage) -> ();
    fn rejected_messages(&self, limit: i64) -> Vec<RejectedMessage>;
});

through_faults!(RunStore {
    fn enrollment(&self, workflow: &str, key: &str) -> Option<Millis>;
    fn waiting_runs(&self, event_type: &str, match_expr: &str, key: &str) -> Vec<WaitingRun>;
    fn open_runs(&self, workflow: &str, of: RunsOf<'_>) -> Vec<String>;
    fn take_handed(&self, now: Millis, limit: i64, lease_ms: i64) -> Vec<RunRow>;
    fn claim_due(&self, now: Millis, limit: i64, lease_ms: i64) -> Vec<DueWork>;
    fn release_leases(&self) -> u64;
    fn due_count(&self, now: Millis, cap: i64) -> u64;
    fn next_due(&self) -> Option<Millis>;
    fn run(&self, id: &str) -> Option<RunRow>;
    fn commit_batch(&self, ts: Vec<Transition>) -> Vec<bool>;
    fn create_task(&self, key: &str, run_id: &str, input: &Value, at: Millis) -> String;
    fn retry_dead_letter(&self, id: i64, at: Millis) -> Option<String>;
    fn retry_runs(&self, ids: &[String], at: Millis) -> Vec<String>;
    fn cancel_runs(&self, ids: &[String], reason: &str, at: Millis) -> Vec<String>;
});

through_faults!(ScheduleStore {
    fn schedule_next(&self, workflow: &str) -> Option<Millis>;
    fn apply_schedule(&self, workflow: &str, next_due: Millis, runs: Vec<NewRun>) -> ();
    fn due_date_triggers(&self, now: Millis, limit: i64) -> Vec<DateTriggerRow>;
    fn fire_date_triggers(&self, fired: Vec<DateTriggerRow>, runs: Vec<NewRun>) -> ();
    fn date_triggers(&self) -> Vec<DateTriggerRow>;
});

through_faults!(RestraintStore {
    fn messages_since(&self, customer_id: &str, channel: &str, kind: &str, since: Millis) -> Vec<Millis>;
    fn suppressed(&self, address: &str) -> Option<String>;
    fn claim_message(&self, m: &SentMessage, run_id: &str, at: Millis, caps: Option<&CapCheck<'_>>) -> Claim;
    fn suppress(&self, address: &str, reason: &str, at: Millis) -> ();
    fn claim_slot(&self, key: &str, at: Millis, max: u32, window_ms: i64) -> Option<Millis>;
    fn acquire_lease(&self, lease: &LeaseClaim<'_>) -> Option<Millis>;
    fn release_lease(&self, key: &str, holder: &str, now: Millis) -> ();
    fn unsuppress(&self, address: &str) -> bool;
    fn suppressions(&self) -> Vec<Suppression>;
    fn set_consent(&self, customer_id: &str, channel: &str, granted: bool, source: &str, at: Millis) -> ();
});

through_faults!(PluginKv {
    fn kv_get(&self, plugin: &str, key: &str) -> Option<String>;
    fn kv_set(&self, plugin: &str, key: &str, value: &str) -> ();
});

through_faults!(ReadModel {
    fn runs(&self, filter: &RunFilter) -> Vec<RunRow>;
    fn runs_for_event(&self, workflow: &str, event_id: &str) -> Vec<RunRow>;
    fn timeline(&self, run_id: &str) -> Vec<TimelineEntry>;
    fn workflow_counts(&self, since: Millis) -> Vec<(String, WorkflowCounts)>;
    fn variant_counts(&self, workflow: Option<&str>) -> Vec<VariantCount>;
    fn step_counts(&self, workflow: &str) -> Vec<StepCount>;
    fn step_stats(&self, workflow: &str, version: u32, since: Millis) -> Vec<StepStat>;
    fn recent_steps(&self, workflow: &str, version: u32, limit: i64) -> Vec<(String, TimelineEntry)>;
    fn tasks(&self, limit: i64) -> Vec<TaskRow>;
    fn dead_letters(&self, limit: i64) -> Vec<DeadLetterRow>;
    fn nodes(&self) -> Vec<NodeRow>;
});

through_faults!(MetaStore {
    fn save_versions(&self, rows: &[VersionRow], at: Millis) -> ();
    fn versions(&self) -> Vec<VersionRow>;
    fn setting_or_init(&self, key: &str, default: &str) -> String;
    fn index_events_by_type(&self) -> ();
});

through_faults!(AccessStore {
    fn create_token(&self, token: &TokenRow) -> bool;
    fn tokens(&self) -> Vec<TokenRow>;
    fn revoke_token(&self, name: &str, at: Millis) -> bool;
    fn record_audit(&self, entry: &AuditEntry) -> ();
    fn audit_log(&self, limit: i64) -> Vec<AuditEntry>;
});

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_crash_after_a_call_keeps_its_change_and_fails_everything_after() {
        let inner: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let faults = Faults::new();
        let store = CrashingStore::new(inner.clone(), faults.clone());
        faults.arm(0, CrashPoint::After);
        assert!(store.suppress("a@x.com", "test", 1).await.is_err());
        assert!(faults.is_dead());
        assert!(inner.suppressed("a@x.com").await.unwrap().is_some());
        assert!(store.suppressed("a@x.com").await.is_err());
    }

    #[tokio::test]
    async fn a_crash_before_a_call_loses_its_change() {
        let inner: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let faults = Faults::new();
        let store = CrashingStore::new(inner.clone(), faults.clone());
        store.suppress("a@x.com", "test", 1).await.unwrap();
        faults.arm(1, CrashPoint::Before);
        store.unsuppress("b@x.com").await.unwrap();
        assert!(store.unsuppress("a@x.com").await.is_err());
        assert!(inner.suppressed("a@x.com").await.unwrap().is_some());
    }
}
