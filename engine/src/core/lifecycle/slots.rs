//! A call that must wait for a slot: of its throttle (`throttled`), or of its action's
//! concurrency limit (`queued`). The step runs again later with the same attempt; waiting for
//! a slot never spends a retry.

use super::*;

impl Machine<'_> {
    /// The pending call's throttle key, if it has a throttle.
    pub(super) fn pending_throttle_key(&self) -> Option<String> {
        let (call, _) = self.pending.as_ref()?;
        call.throttle.as_ref().map(|t| t.key.clone())
    }

    /// The call waits for a free slot (of its throttle: `throttled`, or of its concurrency
    /// limit: `queued`), counted under `key`: the step runs again at `until`, with the same
    /// attempt.
    pub(super) fn wait_for_slot(
        &mut self,
        status: &str,
        key: Option<String>,
        until: Millis,
        now: Now,
    ) -> Effect {
        let (Some(w), Some((call, _))) = (self.workflow, self.pending.take()) else {
            return Effect::Done;
        };
        let step = &w.ir.steps[call.step];
        let action = w.action_name(call.step).unwrap_or_default();
        let detail = json!({ "action": action, "key": key, "until": rfc3339(until) });
        self.run_again_at(step, status, call.attempt, detail, until, now)
    }
}
