//! Matching stored events to workflows: customer and entity snapshots, goal exits, satisfied
//! waits, new runs, date triggers. One transaction per batch; an event is marked processed in the
//! same transaction, so a crash re-matches it and the unique trigger key prevents a second run.

use crate::clock::Millis;
use crate::core::carry::Carry;
use crate::core::context::{Context, EngineError};
use crate::core::enroll::{BatchEnrollments, Candidate, Enroller};
use crate::core::metrics::Metrics;
use crate::core::ready::Ready;
use crate::core::registry::Registry;
use crate::core::runtime::target_index;
use crate::core::runtime::RuntimeWorkflow;
use crate::core::scope::{key_string, ScopeData};
use crate::core::trace;
use crate::event::Event;
use crate::store::merge::{consent_patch, merge_patch};
use crate::store::{
    DateTriggerRow, EarlyExit, MatchBatch, NewRun, Resume, RunsOf, TimelineEntry, WaitingRun,
};
use chrono::{Duration, NaiveTime, TimeZone};
use mikawaya_dsl::expr::{Node, Val};
use mikawaya_dsl::ir::{ReEnroll, StepKind, Trigger};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Events matched per transaction.
const EVENT_BATCH: i64 = 1024;

/// A matched batch, not written yet.
pub struct Prepared {
    batch: MatchBatch,
    handed: Vec<Option<Ready>>,
    events: usize,
    number: u64,
    /// When each event that started runs was stored, and how many it started.
    starts: Vec<(Millis, usize)>,
}

impl Prepared {
    /// The batch's number in its [`Carry`].
    pub fn number(&self) -> u64 {
        self.number
    }
}

/// Matches stored events against the loaded workflows.
pub struct Matcher<'a> {
    ctx: &'a Context,
    registry: &'a Registry,
}

impl<'a> Matcher<'a> {
    /// A matcher for the workflows of `registry`.
    pub fn new(ctx: &'a Context, registry: &'a Registry) -> Self {
        Matcher { ctx, registry }
    }

    /// Matches one batch of stored events and applies it; returns how many were processed.
    /// While the executor's ready queue is more than half full nothing is matched: the events
    /// wait in the store, counted in the backlog, so a slow executor slows intake down (503 past
    /// the bound) instead of piling up due runs that nothing counts.
    pub async fn process(&self) -> Result<usize, EngineError> {
        match self.prepare(&mut Carry::default()).await? {
            Some(prepared) => self.commit(prepared).await,
            None => Ok(0),
        }
    }

    /// Matches the next batch of stored events without writing anything: the events after
    /// `carry`'s, seen through what the batches still in flight changed (`carry`, which then
    /// holds this batch too). `None` when nothing is pending or the ready queue is too full.
    pub async fn prepare(&self, carry: &mut Carry) -> Result<Option<Prepared>, EngineError> {
        let ready = &self.ctx.ready;
        if ready.room().saturating_sub(carry.handed()) < ready.capacity().div_ceil(2) {
            return Ok(None);
        }
        let pending = self
            .ctx
            .store
            .pending_events(&carry.taken(), EVENT_BATCH)
            .await?;
        if pending.is_empty() {
            return Ok(None);
        }
        let number = carry.begin_batch();
        let mut batch = MatchBatch::default();
        let mut enrolled = carry.enrollments();
        // Every customer of the batch in one read (one not stored yet starts empty), except
        // those a batch in flight changed; the map then follows the batch's changes.
        let mut ids: Vec<String> = pending
            .iter()
            .filter_map(|p| p.event.as_ref().ok()?.customer_id.clone())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let (mut customers, unknown) = carry.customers(&ids);
        customers.extend(self.ctx.store.customers(&unknown).await?);
        let mut starts = Vec::new();
        for stored in &pending {
            match &stored.event {
                Ok(event) => {
                    let before = batch.new_runs.len();
                    self.match_event(event, &mut batch, &mut enrolled, &mut customers, carry)
                        .await?;
                    let started = batch.new_runs.len() - before;
                    if started > 0 {
                        starts.push((stored.received_at, started));
                    }
                }
                Err(problem) => {
                    tracing::error!(
                        seq = stored.seq,
                        "skipping a stored event that cannot be read: {problem}"
                    );
                }
            }
            batch.seqs.push(stored.seq);
        }
        let handed = self.lease_for_executor(&mut batch, carry.handed());
        let handed_count = handed.iter().flatten().count();
        carry.absorb(
            number,
            &batch.seqs,
            customers,
            enrolled,
            &batch.new_runs,
            handed_count,
        );
        Ok(Some(Prepared {
            batch,
            handed,
            events: pending.len(),
            number,
            starts,
        }))
    }

    /// Applies a prepared batch in one transaction and queues its new runs for the executor;
    /// returns how many events it processed.
    pub async fn commit(&self, prepared: Prepared) -> Result<usize, EngineError> {
        let Prepared {
            batch,
            handed,
            events,
            starts,
            ..
        } = prepared;
        self.ctx
            .metrics
            .runs_started
            .inc_by(batch.new_runs.len() as u64);
        let traced: Vec<(String, String, String)> = if trace::enabled() {
            let of = |r: &NewRun| {
                (
                    r.id.clone(),
                    r.workflow.clone(),
                    r.event_id().unwrap_or(&r.id).to_string(),
                )
            };
            batch.new_runs.iter().map(of).collect()
        } else {
            Vec::new()
        };
        let mut batch = batch;
        // Segment changes first: their ids come from their causes, so if the batch does not
        // commit, matching it again stores nothing twice.
        let emitted = std::mem::take(&mut batch.emitted);
        if !emitted.is_empty() {
            let at = self.ctx.clock.now_ms();
            let fresh = self.ctx.store.insert_events(&emitted, at).await?;
            let fresh = fresh.iter().filter(|f| **f).count();
            self.ctx.metrics.events_unmatched.inc_by(fresh as i64);
        }
        let inserted = self.ctx.store.apply_match(batch).await?;
        for ((run_id, workflow, key), inserted) in traced.iter().zip(&inserted) {
            if *inserted {
                let trace_id = trace::trace_id(key);
                tracing::debug!(target: trace::TARGET, %trace_id, %run_id, %workflow, "run started");
            }
        }
        Metrics::sub(&self.ctx.metrics.events_unmatched, events as u64);
        let now = self.ctx.clock.now_ms();
        for (received_at, runs) in starts {
            let seconds = (now - received_at).max(0) as f64 / 1000.0;
            for _ in 0..runs {
                self.ctx.metrics.event_to_start_seconds.observe(seconds);
            }
        }
        self.ctx.ready.push(
            handed
                .into_iter()
                .zip(inserted)
                .filter_map(|(ready, inserted)| ready.filter(|_| inserted)),
        );
        Ok(events)
    }

    /// Leases the first timers of the new runs this node executes: its share of them (all of
    /// them without peers, else one part per live node), as many as its executor's ready queue
    /// has room for, so they execute at once from memory. With peers, the others' shares are
    /// leased too and named in `batch.for_peers`, for the store to hand to them; runs beyond
    /// the shares stay unleased, due for any node's claim. Returns, per new run, what to queue
    /// here once inserted.
    fn lease_for_executor(&self, batch: &mut MatchBatch, reserved: usize) -> Vec<Option<Ready>> {
        let room = self.ctx.ready.room().saturating_sub(reserved);
        let peers = self.ctx.store.peers();
        let lease_until = self.ctx.clock.now_ms() + self.ctx.config.lease_ms;
        let exited: std::collections::HashSet<&str> =
            batch.exits.iter().map(|e| e.run_id.as_str()).collect();
        let startable = |run: &NewRun| run.start.is_some() && !exited.contains(run.id.as_str());
        let count = batch.new_runs.iter().filter(|r| startable(r)).count();
        // Equal shares: the peers never get more than theirs because this node's queue is
        // full; what it has no room for stays unleased, for whichever node claims it first.
        let share = count.div_ceil(peers + 1);
        let mut own = room.min(share);
        let mut peers_left = share * peers;
        let mut for_peers = Vec::new();
        let handed = batch
            .new_runs
            .iter_mut()
            .map(|run| {
                if !startable(run) {
                    return None;
                }
                if own == 0 {
                    if peers_left > 0 {
                        peers_left -= 1;
                        run.lease_until = lease_until;
                        for_peers.push(run.id.clone());
                    }
                    return None;
                }
                own -= 1;
                run.lease_until = lease_until;
                Some(Ready {
                    run: run.row(),
                    lease_until,
                })
            })
            .collect();
        batch.for_peers = for_peers;
        handed
    }

    /// Everything one event changes, added to `batch`.
    async fn match_event(
        &self,
        ev: &Event,
        batch: &mut MatchBatch,
        enrolled: &mut BatchEnrollments,
        customers: &mut HashMap<String, Map<String, Value>>,
        carry: &Carry,
    ) -> Result<(), EngineError> {
        let now = self.ctx.clock.now_ms();
        let event = ev.scope_value();
        let customer = self.snapshot(ev, &event, batch, customers, now);
        let scope = ScopeData {
            event,
            customer,
            ..Default::default()
        };
        self.goal_exits(ev, batch, carry, now).await?;
        if let (true, Some(unit)) = (self.registry.converts(&ev.event_type), &ev.customer_id) {
            batch.conversions.push(crate::store::ConversionHit {
                unit: unit.clone(),
                event_type: ev.event_type.clone(),
                event_id: ev.id.clone(),
                at: ev.occurred_at,
            });
        }
        self.resume_waits(ev, &scope, batch, now).await?;
        self.start_runs(ev, &scope, batch, enrolled, carry, now)
            .await?;
        Ok(())
    }

    /// The customer's attributes after this event (also kept in `customers` for the rest of the
    /// batch), with the snapshots, consent changes and suppressions it carries added to `batch`.
    fn snapshot(
        &self,
        ev: &Event,
        event: &Value,
        batch: &mut MatchBatch,
        customers: &mut HashMap<String, Map<String, Value>>,
        now: Millis,
    ) -> Value {
        if let Some((address, reason)) = suppression_of(ev) {
            batch.suppressions.push((address, reason, now));
        }
        for (kind, id, data) in ev.entities() {
            batch
                .entities
                .push((kind.to_string(), id, data.clone(), now));
        }
        let Some(id) = &ev.customer_id else {
            return Value::Null;
        };
        let attrs = customers.entry(id.clone()).or_default();
        merge_patch(attrs, &ev.customer);
        if let Some((channel, granted)) = consent_change(ev) {
            merge_patch(attrs, &consent_patch(&channel, granted));
            batch.consents.push((id.clone(), channel, granted, now));
        }
        batch.customers.push((id.clone(), ev.customer.clone(), now));
        crate::core::knowledge::learn(&self.ctx.knowledge(), ev, event, id, attrs, batch, now)
    }

    /// Ends the customer's unfinished runs of workflows whose goal this event is.
    async fn goal_exits(
        &self,
        ev: &Event,
        batch: &mut MatchBatch,
        carry: &Carry,
        now: Millis,
    ) -> Result<(), EngineError> {
        let Some(cid) = &ev.customer_id else {
            return Ok(());
        };
        for name in self.registry.goal_of(&ev.event_type) {
            for run_id in self
                .active_runs(name, RunsOf::Customer(cid), batch, carry)
                .await?
            {
                batch.exits.push(EarlyExit {
                    run_id,
                    reason: format!("goal: {}", ev.event_type),
                    at: now,
                });
            }
        }
        Ok(())
    }

    /// The customer's unfinished runs of workflow `name`: stored, started by an earlier event of
    /// this batch, or by a batch still being written (not stored yet, but the store inserts new
    /// runs before it applies exits, and batches commit in order).
    async fn active_runs(
        &self,
        name: &str,
        of: RunsOf<'_>,
        batch: &MatchBatch,
        carry: &Carry,
    ) -> Result<Vec<String>, EngineError> {
        let mut active = self.ctx.store.open_runs(name, of).await?;
        let belongs = |workflow: &str, customer: Option<&str>, key: &str| {
            workflow == name
                && match of {
                    RunsOf::Customer(id) => customer == Some(id),
                    RunsOf::Key(k) => key == k,
                }
        };
        active.extend(
            batch
                .new_runs
                .iter()
                .filter(|r| {
                    r.start.is_some()
                        && belongs(&r.workflow, r.customer_id.as_deref(), &r.enroll_key)
                })
                .map(|r| r.id.clone()),
        );
        active.extend(
            carry
                .started()
                .filter(|r| belongs(&r.workflow, r.customer_id.as_deref(), &r.enroll_key))
                .map(|r| r.id.clone()),
        );
        let ended: std::collections::HashSet<&str> =
            batch.exits.iter().map(|e| e.run_id.as_str()).collect();
        active.retain(|id| !ended.contains(id.as_str()));
        active.sort_unstable();
        active.dedup();
        Ok(active)
    }

    /// Moves on the runs waiting for this event with a matching correlation.
    async fn resume_waits(
        &self,
        ev: &Event,
        scope: &ScopeData,
        batch: &mut MatchBatch,
        now: Millis,
    ) -> Result<(), EngineError> {
        let s = scope.scope(self.ctx.clock.now(), chrono_tz::UTC);
        for expr in self.registry.wait_exprs(&ev.event_type) {
            let Some(key) = expr.eval(&s).ok().and_then(|v| key_string(&v.to_json())) else {
                continue;
            };
            let waiting = self
                .ctx
                .store
                .waiting_runs(&ev.event_type, &expr.source, &key)
                .await?;
            for WaitingRun {
                run_id,
                workflow,
                version,
                step,
            } in waiting
            {
                let Some(w) = self.registry.version(&workflow, version) else {
                    continue;
                };
                let Some(StepKind::Wait {
                    on_event, until, ..
                }) = w.steps.get(step).map(|s| &s.kind)
                else {
                    continue;
                };
                // A correlated event that does not meet the wait's `where` leaves it waiting.
                let condition = until.as_ref().and_then(|u| u.condition.as_ref());
                if condition.is_some_and(|c| !c.matches(&s)) {
                    continue;
                }
                let entry = TimelineEntry {
                    step_id: w.steps[step].id.clone(),
                    kind: "wait".into(),
                    status: "event".into(),
                    attempt: 1,
                    at: now,
                    detail: serde_json::json!({ "event_id": ev.id, "event_type": ev.event_type }),
                };
                batch.resumes.push(Resume {
                    run_id,
                    wait_step: step,
                    target: target_index(*on_event),
                    entry,
                });
            }
        }
        Ok(())
    }

    /// Starts the runs this event triggers and (re)schedules the date triggers it carries.
    async fn start_runs(
        &self,
        ev: &Event,
        scope: &ScopeData,
        batch: &mut MatchBatch,
        enrolled: &mut BatchEnrollments,
        carry: &Carry,
        now: Millis,
    ) -> Result<(), EngineError> {
        let at = self.ctx.clock.now();
        for w in self.registry.event_triggered(&ev.event_type) {
            // A debounced workflow (re)starts its key's quiet time; the scheduler starts the
            // run with the last event when it ends, testing the entry condition then.
            if let Some(d) = &w.debounce {
                batch.date_triggers.push(DateTriggerRow {
                    workflow: w.name.clone(),
                    key: crate::core::enroll::debounce_key(d, scope, ev, self.ctx.clock.now()),
                    due_at: now.saturating_add(d.quiet_ms),
                    event_id: ev.id.clone(),
                });
                continue;
            }
            // Most listening workflows stop at their entry condition: test it before building
            // the candidate's keys (100 workflows on one event type must stay cheap).
            if !Enroller::admits(w, scope, at) {
                continue;
            }
            let enroll_key = crate::core::enroll::enroll_key(w, scope, ev, self.ctx.clock.now());
            // One run at a time per key (the customer, or `per`): the active ones block the
            // new run, or it replaces them.
            let active = match w.re_enroll {
                ReEnroll::WhenFinished | ReEnroll::Replace => {
                    self.active_runs(&w.name, RunsOf::Key(&enroll_key), batch, carry)
                        .await?
                }
                _ => Vec::new(),
            };
            let candidate = Candidate {
                workflow: w,
                scope,
                customer_id: ev.customer_id.clone(),
                trigger_key: format!("event:{}", ev.id),
                enroll_key,
            };
            if w.re_enroll == ReEnroll::WhenFinished && !active.is_empty() {
                continue;
            }
            if let Some(run) = Enroller::new(self.ctx)
                .enroll_admitted(candidate, enrolled)
                .await?
            {
                for run_id in active {
                    batch.exits.push(EarlyExit {
                        run_id,
                        reason: format!("replaced by the run of event {}", ev.id),
                        at: now,
                    });
                }
                batch.new_runs.push(run);
            }
        }
        for w in self.registry.date_triggered(&ev.event_type) {
            if let Some((key, due_at)) = date_due(w, scope, now) {
                batch.date_triggers.push(DateTriggerRow {
                    workflow: w.name.clone(),
                    key,
                    due_at,
                    event_id: ev.id.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Date triggers whose due time passed more than this long ago are not fired late.
const DATE_GRACE_MS: i64 = 86_400_000;

/// When a date trigger fires for this event, and under which key (the object holding the date,
/// by its `id`; else the customer). `None` when the date is missing or long past.
pub fn date_due(w: &RuntimeWorkflow, scope: &ScopeData, now: i64) -> Option<(String, i64)> {
    let Trigger::Date {
        date,
        offset_ms,
        at_minute,
        ..
    } = &w.trigger
    else {
        return None;
    };
    let s = scope.scope(crate::clock::to_time(now), chrono_tz::UTC);
    let value = date.eval(&s).ok()?;
    let due = match (&value, value.as_time()) {
        // A full timestamp fires at that instant plus the offset (`at` applies to dates only).
        (Val::Str(text), Some(instant)) if text.len() > 10 => {
            instant.timestamp_millis().saturating_add(*offset_ms)
        }
        (Val::Time(instant), _) => instant.timestamp_millis().saturating_add(*offset_ms),
        _ => {
            let day = value.as_date()?;
            let local = day
                .and_time(NaiveTime::from_hms_opt(at_minute / 60, at_minute % 60, 0)?)
                .checked_add_signed(Duration::milliseconds(*offset_ms))?;
            w.tz.from_local_datetime(&local)
                .earliest()?
                .timestamp_millis()
        }
    };
    if due < now - DATE_GRACE_MS {
        return None;
    }
    let key = match &date.node {
        Node::Path(_, segs) if segs.len() > 1 => {
            let mut holder = &scope.event;
            for seg in &segs[..segs.len() - 1] {
                holder = holder.get(&**seg).unwrap_or(&Value::Null);
            }
            holder.get("id").and_then(key_string)
        }
        _ => None,
    };
    let key = key
        .or_else(|| scope.customer.get("id").and_then(key_string))
        .or_else(|| scope.event.get("id").and_then(key_string))?;
    Some((key, due))
}

/// A `consent.updated` event's `data.channel` and `data.granted`.
fn consent_change(ev: &Event) -> Option<(String, bool)> {
    if ev.event_type != "consent.updated" {
        return None;
    }
    Some((
        ev.data.get("channel")?.as_str()?.to_string(),
        ev.data.get("granted")?.as_bool()?,
    ))
}

/// The address a hard bounce (`email.bounced`, `data.kind` not `soft`) or a complaint
/// (`email.complained`) suppresses, with the reason.
fn suppression_of(ev: &Event) -> Option<(String, String)> {
    let address = ev.data.get("address")?.as_str()?.to_string();
    match ev.event_type.as_str() {
        "email.bounced" if ev.data.get("kind").and_then(Value::as_str) != Some("soft") => {
            Some((address, "hard bounce".into()))
        }
        "email.complained" => Some((address, "complaint".into())),
        _ => None,
    }
}
