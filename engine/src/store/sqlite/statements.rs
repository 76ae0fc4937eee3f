//! The single-row statements that several write transactions share (a timeline line, a run's
//! timer and wait, a customer merge, a sent message), run directly on the writer connection
//! (`direct.rs`) as cached prepared statements.

use crate::clock::Millis;
use crate::store::model::*;
use crate::store::rows::TimerColumns;
use crate::store::status::statuses_for;
use crate::store::StoreResult;
use rusqlite::{params, Transaction};

/// Appends a timeline line.
pub(super) fn add_timeline(
    tx: &Transaction<'_>,
    run_id: &str,
    e: &TimelineEntry,
) -> StoreResult<()> {
    tx.prepare_cached("INSERT INTO run_steps (run_id, step_id, kind, status, attempt, at, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
        .execute(params![run_id, e.step_id, e.kind, e.status, e.attempt as i64, e.at, e.detail.to_string()])?;
    Ok(())
}

/// Sets (or with `None` clears) the run's single timer, kept in the run's row (migration 0007).
/// The statements that write the run's row anyway set it there with [`TimerColumns`] instead.
pub(super) fn set_timer(
    tx: &Transaction<'_>,
    run_id: &str,
    timer: Option<&Timer>,
) -> StoreResult<()> {
    let t = TimerColumns::of(timer);
    tx.prepare_cached(
        "UPDATE runs SET due_at = ?2, due_kind = ?3, due_attempt = ?4, lease_until = ?5 WHERE id = ?1",
    )?
    .execute(params![run_id, t.due_at, t.kind, t.attempt, t.lease_until])?;
    Ok(())
}

/// Ends an unfinished run from outside its steps (its goal, an operator's cancel), if its
/// status still allows it; whether it did.
pub(super) fn end_run(tx: &Transaction<'_>, end: &RunEnd<'_>) -> StoreResult<bool> {
    let sql = format!(
        "UPDATE runs SET status = ?1, exit_reason = ?2, ended_at = ?3, updated_at = ?3, rev = rev + 1,
                due_at = NULL, due_kind = NULL, due_attempt = NULL, lease_until = NULL
         WHERE id = ?4 AND status IN {}",
        statuses_for(end.cause)
    );
    let changed = tx.prepare_cached(&sql)?.execute(params![
        end.status().as_str(),
        end.reason,
        end.at,
        end.run_id
    ])?;
    if changed == 1 {
        clear_wait(tx, end.run_id)?;
        add_timeline(tx, end.run_id, &end.entry())?;
    }
    Ok(changed == 1)
}

/// Removes a run's wait-for-event registration, if any.
pub(super) fn clear_wait(tx: &Transaction<'_>, run_id: &str) -> StoreResult<()> {
    tx.prepare_cached("DELETE FROM waits WHERE run_id = ?1")?
        .execute([run_id])?;
    Ok(())
}

/// Registers a run's wait for an event.
pub(super) fn insert_wait(tx: &Transaction<'_>, run_id: &str, w: &WaitRow) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO waits (run_id, event_type, match_expr, match_key) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![run_id, w.event_type, w.match_expr, w.match_key])?;
    Ok(())
}

/// Merges `patch` (a JSON object, as text) into the customer's attributes, creating the
/// customer: RFC 7386 merge patch by SQLite's `json_patch`, the same rule as
/// [`crate::store::merge::merge_patch`].
pub(super) fn merge_customer(
    tx: &Transaction<'_>,
    id: &str,
    patch: &str,
    at: Millis,
) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO customers (id, data, updated_at) VALUES (?1, json_patch('{}', ?2), ?3)
         ON CONFLICT (id) DO UPDATE SET data = json_patch(customers.data, ?2), updated_at = ?3",
    )?
    .execute(params![id, patch, at])?;
    Ok(())
}

/// Records a sent message unless its key was claimed already.
pub(super) fn insert_message(
    tx: &Transaction<'_>,
    m: &SentMessage,
    run_id: &str,
    at: Millis,
) -> StoreResult<()> {
    tx.prepare_cached("INSERT INTO messages (customer_id, channel, kind, address, workflow, run_id, sent_at, key, tags) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE NOT EXISTS (SELECT 1 FROM messages WHERE key = ?8)")?
        .execute(params![m.customer_id, m.channel, m.kind, m.address, m.workflow, run_id, at, m.key, crate::store::tags_json(&m.tags)])?;
    Ok(())
}
