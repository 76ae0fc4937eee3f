//! The engine's metrics in one prometheus-client [`Registry`]: counters, gauges and histograms
//! (with labels where one number would hide the cause), served as OpenMetrics text on
//! `/metrics`. The parts update them where the work happens; the few values that are a state
//! rather than a count (backlog, timer lag, due timers) are set by [`Metrics::encode`]'s caller
//! just before it encodes ([`Snapshot`]).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;

/// Seconds buckets from 0.5 ms to about 65 s (doubling): HTTP requests, steps, lags.
fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

/// A histogram family labelled by action and outcome.
type StepHistograms = Family<StepLabels, Histogram, fn() -> Histogram>;

/// Labels of a step's duration: which action, and whether the call succeeded.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    /// The action's name (`email.send`, `webhook`, a plugin's action).
    pub action: String,
    /// `ok` or `failed`.
    pub outcome: &'static str,
}

/// Labels of a customer-facing message's fate.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MessageLabels {
    /// `email`, `sms`, …
    pub channel: String,
    /// `sent`, `deferred`, or why it was skipped (`suppressed`, `no_consent`, `capped`, …).
    pub outcome: &'static str,
}

/// State read at scrape time, set just before encoding.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    /// New runs handed to the executor, not started yet.
    pub runs_ready: u64,
    /// Milliseconds the earliest due timer has waited (0 when none is overdue).
    pub timer_lag_ms: u64,
    /// Timers due now and not taken (counted up to a cap).
    pub timers_due: u64,
    /// The backlog bound.
    pub backlog_bound: u64,
}

/// Every metric of the engine.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Events stored.
    pub events_accepted: Counter,
    /// Events ignored as duplicates.
    pub events_duplicate: Counter,
    /// Requests refused as malformed.
    pub events_rejected: Counter,
    /// Requests refused with 503 because the backlog passed its bound.
    pub events_pushed_back: Counter,
    /// Requests refused with 429 (rate limit).
    pub events_rate_limited: Counter,
    /// Runs started.
    pub runs_started: Counter,
    /// Runs that ended while executing in this process.
    pub runs_ended: Counter,
    /// Action calls that succeeded.
    pub actions_ok: Counter,
    /// Action calls that failed.
    pub actions_failed: Counter,
    /// Stored events not matched yet.
    pub events_unmatched: Gauge,
    /// Runs executing now.
    pub runs_in_flight: Gauge,
    /// Seconds from an intake request's arrival to its answer.
    pub intake_seconds: Histogram,
    /// Seconds from an event's arrival to the start of each run it started.
    pub event_to_start_seconds: Histogram,
    /// Seconds a timer waited past its due time before the executor took it.
    pub timer_lag_seconds: Histogram,
    /// Seconds of each action call, by action and outcome.
    pub step_seconds: StepHistograms,
    /// Customer-facing messages by channel and outcome.
    pub messages: Family<MessageLabels, Counter>,
    runs_ready: Gauge,
    backlog: Gauge,
    backlog_bound: Gauge,
    timer_lag_ms: Gauge,
    timers_due: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric, registered.
    pub fn new() -> Self {
        let mut m = Metrics {
            registry: Registry::default(),
            events_accepted: Counter::default(),
            events_duplicate: Counter::default(),
            events_rejected: Counter::default(),
            events_pushed_back: Counter::default(),
            events_rate_limited: Counter::default(),
            runs_started: Counter::default(),
            runs_ended: Counter::default(),
            actions_ok: Counter::default(),
            actions_failed: Counter::default(),
            events_unmatched: Gauge::default(),
            runs_in_flight: Gauge::default(),
            intake_seconds: seconds(),
            event_to_start_seconds: seconds(),
            timer_lag_seconds: seconds(),
            step_seconds: Family::new_with_constructor(seconds),
            messages: Family::default(),
            runs_ready: Gauge::default(),
            backlog: Gauge::default(),
            backlog_bound: Gauge::default(),
            timer_lag_ms: Gauge::default(),
            timers_due: Gauge::default(),
        };
        let r = &mut m.registry;
        let counters = [
            ("events_accepted", "Events stored.", &m.events_accepted),
            (
                "events_duplicate",
                "Events ignored as duplicates.",
                &m.events_duplicate,
            ),
            (
                "events_rejected",
                "Requests refused as malformed.",
                &m.events_rejected,
            ),
            (
                "events_pushed_back",
                "Requests refused with 503 because the backlog passed its bound.",
                &m.events_pushed_back,
            ),
            (
                "events_rate_limited",
                "Requests refused with 429 because their token or source was over --rate-limit.",
                &m.events_rate_limited,
            ),
            ("runs_started", "Runs started.", &m.runs_started),
            (
                "runs_ended",
                "Runs that completed, exited or failed while executing in this process.",
                &m.runs_ended,
            ),
            ("actions_ok", "Action calls that succeeded.", &m.actions_ok),
            (
                "actions_failed",
                "Action calls that failed.",
                &m.actions_failed,
            ),
        ];
        for (name, help, counter) in counters {
            r.register(format!("mikawaya_{name}"), help, counter.clone());
        }
        let gauges = [
            ("events_unmatched", "Stored events not matched yet.", &m.events_unmatched),
            ("runs_in_flight", "Runs executing now.", &m.runs_in_flight),
            ("runs_ready", "New runs handed to the executor, not started yet.", &m.runs_ready),
            ("backlog", "Work not yet done: unmatched events plus ready and executing runs.", &m.backlog),
            ("backlog_bound", "Backlog at which the intake answers 503 with Retry-After.", &m.backlog_bound),
            ("timer_lag_ms", "How long the earliest due timer (a next step, a retry, a wait's timeout) has been due without being taken.", &m.timer_lag_ms),
            ("timers_due", "Timers due now and not taken yet (counted up to 100,000).", &m.timers_due),
        ];
        for (name, help, gauge) in gauges {
            r.register(format!("mikawaya_{name}"), help, gauge.clone());
        }
        let histograms = [
            (
                "intake_seconds",
                "Seconds from an intake request's arrival to its answer (events stored durably).",
                &m.intake_seconds,
            ),
            (
                "event_to_start_seconds",
                "Seconds from an event's arrival to the start of a run it started.",
                &m.event_to_start_seconds,
            ),
            (
                "timer_lag_seconds",
                "Seconds a timer waited past its due time before the executor took it.",
                &m.timer_lag_seconds,
            ),
        ];
        for (name, help, histogram) in histograms {
            r.register(format!("mikawaya_{name}"), help, histogram.clone());
        }
        r.register(
            "mikawaya_step_seconds",
            "Seconds of each action call, by action (built-in or plugin) and outcome.",
            m.step_seconds.clone(),
        );
        r.register(
            "mikawaya_messages",
            "Customer-facing messages by channel and outcome: sent, deferred, or the reason they were skipped.",
            m.messages.clone(),
        );
        m
    }

    /// Registers a [`crate::core::batcher::Batcher`]'s `(calls, items)` counters as
    /// `mikawaya_{calls}` and `mikawaya_{items}`.
    pub fn register_batches(
        &mut self,
        calls: (&str, &str),
        items: (&str, &str),
        counters: (Counter, Counter),
    ) {
        self.registry
            .register(format!("mikawaya_{}", calls.0), calls.1, counters.0);
        self.registry
            .register(format!("mikawaya_{}", items.0), items.1, counters.1);
    }

    /// Records one action call of `elapsed` seconds.
    pub fn step(&self, action: &str, ok: bool, elapsed: f64) {
        let labels = StepLabels {
            action: action.to_string(),
            outcome: if ok { "ok" } else { "failed" },
        };
        self.step_seconds.get_or_create(&labels).observe(elapsed);
    }

    /// Counts one message on `channel` with `outcome`.
    pub fn message(&self, channel: &str, outcome: &'static str) {
        let labels = MessageLabels {
            channel: channel.to_string(),
            outcome,
        };
        self.messages.get_or_create(&labels).inc();
    }

    /// Takes `n` from a gauge, stopping at 0.
    pub fn sub(gauge: &Gauge, n: u64) {
        let _ = gauge
            .inner()
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n as i64).max(0))
            });
    }

    /// Work not yet done: unmatched events, ready runs and runs executing.
    pub fn backlog(&self, ready: u64) -> u64 {
        (self.events_unmatched.get().max(0) + self.runs_in_flight.get().max(0)) as u64 + ready
    }

    /// Everything, in OpenMetrics text, with the scrape-time state `now`.
    pub fn encode(&self, now: Snapshot) -> String {
        let set = |g: &Gauge, v: u64| {
            g.set(v.min(i64::MAX as u64) as i64);
        };
        set(&self.runs_ready, now.runs_ready);
        set(&self.backlog, self.backlog(now.runs_ready));
        set(&self.backlog_bound, now.backlog_bound);
        set(&self.timer_lag_ms, now.timer_lag_ms);
        set(&self.timers_due, now.timers_due);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String does not fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_gauges_and_labelled_histograms_are_encoded() {
        let m = Metrics::new();
        m.events_accepted.inc_by(3);
        m.events_unmatched.inc_by(5);
        Metrics::sub(&m.events_unmatched, 9);
        m.step("webhook", false, 0.002);
        m.step("webhook", true, 0.2);
        m.message("email", "suppressed");
        let text = m.encode(Snapshot {
            runs_ready: 2,
            timer_lag_ms: 40,
            timers_due: 1,
            backlog_bound: 100,
        });
        assert!(
            text.contains("mikawaya_events_accepted_total 3\n"),
            "{text}"
        );
        assert!(
            text.contains("mikawaya_events_unmatched 0\n"),
            "stops at 0: {text}"
        );
        assert!(text.contains("mikawaya_backlog 2\n"), "{text}");
        assert!(text.contains("mikawaya_timer_lag_ms 40\n"), "{text}");
        assert!(
            text.contains(r#"mikawaya_step_seconds_count{action="webhook",outcome="failed"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"mikawaya_step_seconds_bucket{le="0.004",action="webhook",outcome="failed"} 1"#
            ) || text.contains(
                r#"mikawaya_step_seconds_bucket{action="webhook",outcome="failed",le="0.004"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"mikawaya_messages_total{channel="email",outcome="suppressed"} 1"#),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
