//! Trace ids in the W3C Trace Context shape (OpenTelemetry's): one 32-hex trace id per event,
//! carried into the runs it starts and their action calls. It is derived from the event's id
//! (a run started by a schedule or date trigger uses its own id), so the intake, the matcher and
//! the executor name the same trace without storing anything; every log line of a run's
//! execution carries it (the `run` span), and a webhook sends it on as `traceparent` so the
//! receiving service can join the trace.

use crate::store::RunRow;

/// The log target of the lines that follow an event through the engine (`event stored`, `run
/// started`, `action called`), at debug level: `MIKAWAYA_LOG=info,mikawaya::trace=debug`
/// shows them. A failed action call is logged at warn level with its trace id regardless.
pub const TARGET: &str = "mikawaya::trace";

/// Whether the trace lines are wanted (their ids are then computed).
pub fn enabled() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::DEBUG)
}
use sha2::{Digest, Sha256};

/// The trace id of the event (or run) with id `key`: 32 lowercase hex digits, never all zero.
pub fn trace_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut id = hex::encode(&digest[..16]);
    if id.bytes().all(|b| b == b'0') {
        id.replace_range(31.., "1");
    }
    id
}

/// The trace id of a run: its event's, or its own when no event started it.
pub fn of_run(run: &RunRow) -> String {
    match run.context["event"]["id"].as_str() {
        Some(event_id) => trace_id(event_id),
        None => trace_id(&run.id),
    }
}

/// The `traceparent` header of one call in trace `trace_id`, its span id derived from `call`
/// (the step's idempotency key, so a retried call is the same span): `00-{trace}-{span}-01`.
pub fn traceparent(trace_id: &str, call: &str) -> String {
    let span = Sha256::digest(call.as_bytes());
    let mut span = hex::encode(&span[..8]);
    if span.bytes().all(|b| b == b'0') {
        span.replace_range(15.., "1");
    }
    format!("00-{trace_id}-{span}-01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_and_the_runs_it_starts_share_one_trace_id() {
        let id = trace_id("ev-42");
        assert_eq!(id.len(), 32);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(id, trace_id("ev-42"), "derived, so every part agrees");
        assert_ne!(id, trace_id("ev-43"));
        let run = RunRow {
            id: "run-1".into(),
            workflow: "w".into(),
            version: 1,
            customer_id: None,
            status: crate::store::RunStatus::Active,
            step: Some(0),
            rev: 0,
            context: serde_json::json!({ "event": { "id": "ev-42" } }),
            started_at: 0,
            updated_at: 0,
            ended_at: None,
            exit_reason: None,
        };
        assert_eq!(of_run(&run), id);
        let scheduled = RunRow {
            context: serde_json::json!({}),
            ..run
        };
        assert_eq!(of_run(&scheduled), trace_id("run-1"));
    }

    #[test]
    fn traceparent_has_the_w3c_shape() {
        let header = traceparent(&trace_id("ev-1"), "run-1:0");
        let parts: Vec<&str> = header.split('-').collect();
        assert_eq!(parts.len(), 4, "{header}");
        assert_eq!((parts[0], parts[3]), ("00", "01"));
        assert_eq!((parts[1].len(), parts[2].len()), (32, 16));
        assert_eq!(
            header,
            traceparent(&trace_id("ev-1"), "run-1:0"),
            "a retry is the same span"
        );
    }
}
