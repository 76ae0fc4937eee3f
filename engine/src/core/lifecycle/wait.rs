//! Beginning a wait: until a moment, for a time, or for an event, looking back first through
//! the events received before the wait began when it has a lookback.

use super::*;
use crate::clock::Millis;

/// A wait's lookback: find an awaited event received since `since`, then send
/// [`Input::LookedBack`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookBack {
    /// The wait's step index.
    pub step: usize,
    /// The run's correlation key, which the event's must equal.
    pub key: String,
    /// The earliest time of receipt that counts.
    pub since: Millis,
    /// The run's trigger event, which never counts.
    pub trigger_event: Option<String>,
}

impl<'w> Machine<'w> {
    /// Begins the wait at step `index`. `None` when the run goes on at once (a moment already
    /// past, or one that cannot be computed: the timeline says why); else what to do: look
    /// back, or commit the wait.
    pub(super) fn begin_wait(
        &mut self,
        w: &'w RuntimeWorkflow,
        index: usize,
        now: Now,
    ) -> Option<Effect> {
        let step = &w.ir.steps[index];
        let StepKind::Wait {
            duration_ms,
            until,
            at,
            next,
            ..
        } = &step.kind
        else {
            unreachable!("begin_wait at a step that is no wait")
        };
        let data = RunScope {
            run: &self.run,
            customer: &self.customer,
            run_value: &self.run_value,
        };
        let scope = data.scope(to_time(now.ms), w.tz);
        let due = match at {
            None => now.ms.saturating_add(*duration_ms),
            Some(moment) => {
                let tz = moment.zone.resolve(&self.customer, w.tz);
                match moment.due(now.ms, tz, &scope) {
                    Ok(due) if due > now.ms => due,
                    // Already past, or no moment at all (the date is missing): go on now,
                    // saying why, as journey tools do with a missing date.
                    result => {
                        let detail = match result {
                            Ok(_) => json!({ "until": moment.to_string(), "passed": true }),
                            Err(e) => json!({ "until": moment.to_string(), "error": e.0 }),
                        };
                        self.timeline.push(entry(step, "done", 1, detail, now));
                        self.step = target_index(*next);
                        return None;
                    }
                }
            }
        };
        let wait = until.as_ref().and_then(|u| {
            let value = u.match_key.eval(&scope).ok()?.to_json();
            Some(WaitRow {
                event_type: u.event.clone(),
                match_expr: u.match_key.source.clone(),
                match_key: key_string(&value)?,
            })
        });
        if let (Some(lookback), Some(row)) = (until.as_ref().and_then(|u| u.lookback_ms), &wait) {
            if self.looked_back != Some(index) {
                self.looked_back = Some(index);
                return Some(Effect::LookBack(LookBack {
                    step: index,
                    key: row.match_key.clone(),
                    since: now.ms.saturating_sub(lookback),
                    trigger_event: self.run.context["event"]["id"].as_str().map(String::from),
                }));
            }
        }
        let detail = match at {
            Some(moment) => json!({ "until": moment.to_string(), "due_at": rfc3339(due) }),
            None => {
                json!({ "until": until.as_ref().map(|u| &u.event), "key": wait.as_ref().map(|w| &w.match_key), "due_at": rfc3339(due) })
            }
        };
        self.timeline.push(entry(step, "waiting", 1, detail, now));
        let timer = Timer {
            due_at: due,
            kind: TimerKind::Wake,
            attempt: 1,
            lease_until: 0,
        };
        let mut effect = self.commit(Waiting, Some(timer), now);
        if let Effect::Commit { transition, .. } = &mut effect {
            transition.wait = wait;
        }
        Some(effect)
    }

    /// What the lookback found: the id of an awaited event that arrived in time (the run takes
    /// the wait's event path at once), or none (the run waits). A failed lookup is noted in the
    /// timeline and the run waits: a later event still ends the wait.
    pub(super) fn looked_back(
        &mut self,
        found: Result<Option<String>, String>,
        now: Now,
    ) -> Effect {
        let (Some(w), Some(index)) = (self.workflow, self.step) else {
            return Effect::Done;
        };
        let step = &w.ir.steps[index];
        match (found, &step.kind) {
            (
                Ok(Some(event_id)),
                StepKind::Wait {
                    until: Some(u),
                    on_event,
                    ..
                },
            ) => {
                let detail =
                    json!({ "event_id": event_id, "event_type": u.event, "lookback": true });
                self.timeline.push(entry(step, "event", 1, detail, now));
                self.step = target_index(*on_event);
            }
            (Err(e), _) => {
                let detail = json!({ "error": format!("looking back for the event: {e}") });
                self.timeline.push(entry(step, "lookback", 1, detail, now));
            }
            _ => {}
        }
        self.walk(now)
    }
}
