//! The in-memory store: every concern behind one mutex, so each call is atomic as a transaction
//! is in SQLite. For tests, simulations and `--db memory:`; nothing survives the process. It
//! follows the same rules as the SQLite store, checked by the conformance suite.

mod access;
mod events;
mod meta;
mod read;
mod restraint;
mod runs;
mod schedules;

use crate::clock::Millis;
use crate::event::Event;
use crate::store::merge::{consent_patch, merge_patch};
use crate::store::model::*;
use crate::store::status::{self, Cause};
use crate::store::views::*;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

/// Everything kept, in plain collections.
#[derive(Default)]
struct State {
    events: Vec<EventEntry>,
    event_index: HashMap<String, usize>,
    customers: HashMap<String, Map<String, Value>>,
    entities: BTreeMap<(String, String), Value>,
    runs: HashMap<String, RunEntry>,
    trigger_keys: HashSet<(String, String)>,
    timeline: Vec<(String, TimelineEntry)>,
    timers: HashMap<String, Timer>,
    waits: HashMap<String, WaitRow>,
    enrollments: HashMap<(String, String), Millis>,
    date_triggers: HashMap<(String, String), DateTriggerRow>,
    schedules: HashMap<String, Millis>,
    tasks: Vec<(String, TaskRow)>,
    dead_letters: Vec<DeadLetterRow>,
    messages: Vec<(SentMessage, Millis)>,
    suppressions: HashMap<String, Suppression>,
    consent_log: Vec<(String, String, bool, String, Millis)>,
    settings: HashMap<String, String>,
    kv: HashMap<(String, String), String>,
    versions: BTreeMap<(String, u32), VersionRow>,
    tokens: Vec<TokenRow>,
    audit: Vec<AuditEntry>,
    rejected: Vec<RejectedMessage>,
    /// Score changes as stored ([`crate::store::score_rows`]) by (customer, at, event).
    score_changes: BTreeMap<(String, Millis, String), String>,
    experiments: Vec<ExperimentRow>,
    throttle: HashMap<String, Vec<Millis>>,
    /// Concurrent call leases per key: holder → until.
    leases: HashMap<String, HashMap<String, Millis>>,
    /// Runs waiting for a call slot per key: (since, run id) → until.
    waiters: HashMap<String, BTreeMap<(Millis, String), Millis>>,
}

/// One experiment entry: who took which variant, until when a conversion counts, and whether
/// one came.
struct ExperimentRow {
    run_id: String,
    entry: crate::store::ExperimentEntry,
    entered_at: Millis,
    converted_at: Option<Millis>,
}

struct EventEntry {
    seq: i64,
    event: Event,
    received_at: Millis,
    processed: bool,
}

struct RunEntry {
    row: RunRow,
    event_id: Option<String>,
    enroll_key: String,
}

/// The in-memory store.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn add_timeline(&mut self, run_id: &str, entry: TimelineEntry) {
        self.timeline.push((run_id.to_string(), entry));
    }

    /// Records a run's entry into a split, once per run and experiment.
    fn enter_experiment(&mut self, run_id: &str, entry: crate::store::ExperimentEntry, at: Millis) {
        let known = self
            .experiments
            .iter()
            .any(|r| r.run_id == run_id && r.entry.experiment == entry.experiment);
        if !known {
            self.experiments.push(ExperimentRow {
                run_id: run_id.to_string(),
                entry,
                entered_at: at,
                converted_at: None,
            });
        }
    }

    /// Marks converted the open entries `hit` converts.
    fn convert(&mut self, hit: &crate::store::ConversionHit) {
        for row in &mut self.experiments {
            let converts = row.entry.unit == hit.unit
                && row.converted_at.is_none()
                && row.entered_at <= hit.at
                && row.entry.convert.as_ref().is_some_and(|(event, within)| {
                    *event == hit.event_type && hit.at <= row.entered_at.saturating_add(*within)
                });
            if converts {
                row.converted_at = Some(hit.at);
            }
        }
    }

    /// Records a sent message unless its key was claimed already.
    fn record_message(&mut self, m: SentMessage, at: Millis) {
        if !self.messages.iter().any(|(old, _)| old.key == m.key) {
            self.messages.push((m, at));
        }
    }

    /// When messages of a customer, channel and kind were sent since `since`, oldest first.
    fn sent_since(
        &self,
        customer_id: &str,
        channel: &str,
        kind: &str,
        since: Millis,
    ) -> Vec<Millis> {
        let mut sent: Vec<Millis> = self
            .messages
            .iter()
            .filter(|(m, at)| {
                m.customer_id.as_deref() == Some(customer_id)
                    && m.channel == channel
                    && m.kind == kind
                    && *at >= since
            })
            .map(|(_, at)| *at)
            .collect();
        sent.sort();
        sent
    }

    fn set_timer(&mut self, run_id: &str, timer: Option<Timer>) {
        match timer {
            Some(t) => self.timers.insert(run_id.to_string(), t),
            None => self.timers.remove(run_id),
        };
    }

    fn merge_customer(&mut self, id: &str, patch: &Map<String, Value>, _at: Millis) {
        merge_patch(self.customers.entry(id.to_string()).or_default(), patch);
    }

    /// The run `id` if its status allows `cause`.
    fn run_for(&mut self, id: &str, cause: Cause) -> Option<&mut RunRow> {
        self.runs
            .get_mut(id)
            .map(|r| &mut r.row)
            .filter(|r| status::from_statuses(cause).contains(&r.status))
    }

    /// Ends an unfinished run from outside its steps (its goal, an operator's cancel), if its
    /// status still allows it; whether it did.
    fn end_run(&mut self, end: &RunEnd<'_>) -> bool {
        let Some(run) = self.run_for(end.run_id, end.cause) else {
            return false;
        };
        run.status = end.status();
        run.exit_reason = Some(end.reason.to_string());
        run.ended_at = Some(end.at);
        run.updated_at = end.at;
        run.rev += 1;
        self.set_timer(end.run_id, None);
        self.waits.remove(end.run_id);
        self.add_timeline(end.run_id, end.entry());
        true
    }

    fn insert_run(&mut self, run: &NewRun) -> bool {
        let trigger = (run.workflow.clone(), run.trigger_key.clone());
        if self.runs.contains_key(&run.id) || self.trigger_keys.contains(&trigger) {
            return false;
        }
        self.trigger_keys.insert(trigger);
        let row = run.row();
        let event_id = run.event_id().map(String::from);
        let enroll_key = run.enroll_key.clone();
        let entry = RunEntry {
            row,
            event_id,
            enroll_key,
        };
        self.runs.insert(run.id.clone(), entry);
        self.enrollments
            .insert((run.workflow.clone(), run.enroll_key.clone()), run.at);
        self.add_timeline(&run.id, run.started_entry());
        if let Some(timer) = run.first_timer() {
            self.set_timer(&run.id, Some(timer));
        }
        true
    }

    fn record_consent(
        &mut self,
        customer: &str,
        channel: &str,
        granted: bool,
        source: &str,
        at: Millis,
    ) {
        self.merge_customer(customer, &consent_patch(channel, granted), at);
        self.consent_log
            .push((customer.into(), channel.into(), granted, source.into(), at));
    }
}
