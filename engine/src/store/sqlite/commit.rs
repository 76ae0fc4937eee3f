//! Run transitions and new runs, inside a transaction on the writer connection (`direct.rs`):
//! each run's row moves only if its revision is still the transition's `rev`, and its timeline
//! lines, timer, wait, sent message and dead letter follow in the same transaction.

use super::statements::{add_timeline, clear_wait, insert_message, insert_wait};
use crate::store::model::*;
use crate::store::rows::TimerColumns;
use crate::store::StoreResult;
use rusqlite::{params, Transaction};

/// Applies `ts` in order; per transition whether it applied (a run named twice moves twice).
pub(super) fn apply(tx: &Transaction<'_>, ts: &[Transition]) -> StoreResult<Vec<bool>> {
    ts.iter()
        .map(|t| {
            let applied = update_run(tx, t)?;
            if applied {
                follow(tx, t)?;
            }
            Ok(applied)
        })
        .collect()
}

/// The run's own row and timer, only if its revision is still `t.rev`.
fn update_run(tx: &Transaction<'_>, t: &Transition) -> StoreResult<bool> {
    let timer = TimerColumns::of(t.timer.as_ref());
    let changed = tx
        .prepare_cached(
            "UPDATE runs SET status = ?1, step = ?2, context = ?3, updated_at = ?4, ended_at = ?5, exit_reason = COALESCE(?6, exit_reason), rev = rev + 1,
                    due_at = ?9, due_kind = ?10, due_attempt = ?11, lease_until = ?12
             WHERE id = ?7 AND rev = ?8",
        )?
        .execute(params![
            t.status.as_str(),
            t.step.map(|s| s as i64),
            t.context.to_string(),
            t.at,
            t.status.is_final().then_some(t.at),
            t.exit_reason,
            t.run_id,
            t.rev,
            timer.due_at,
            timer.kind,
            timer.attempt,
            timer.lease_until
        ])?;
    Ok(changed == 1)
}

/// What an applied transition writes besides the run's row.
fn follow(tx: &Transaction<'_>, t: &Transition) -> StoreResult<()> {
    for e in &t.timeline {
        add_timeline(tx, &t.run_id, e)?;
    }
    clear_wait(tx, &t.run_id)?;
    if let Some(w) = &t.wait {
        insert_wait(tx, &t.run_id, w)?;
    }
    if let Some(m) = &t.sent {
        insert_message(tx, m, &t.run_id, t.at)?;
    }
    super::experiments::insert_entries(tx, &t.run_id, t.at, &t.experiments)?;
    if let Some(d) = &t.dead_letter {
        tx.prepare_cached("INSERT INTO dead_letters (run_id, step_id, action, input, error, attempts, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
            .execute(params![t.run_id, d.step_id, d.action, d.input.to_string(), d.error, d.attempts as i64, t.at])?;
    }
    Ok(())
}

/// Inserts new runs, skipping those whose trigger already started one (or whose id exists);
/// per run whether it was inserted, with its first timer in its row. An inserted run's
/// enrollment follows; its `started` timeline line is read from its row.
pub(super) fn insert_runs(tx: &Transaction<'_>, runs: &[NewRun]) -> StoreResult<Vec<bool>> {
    runs.iter()
        .map(|run| {
            let status = crate::store::status::initial_status(run.start);
            let timer = run.first_timer();
            let timer = TimerColumns::of(timer.as_ref());
            let inserted = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO runs (id, workflow, version, customer_id, enroll_key, trigger_key, status, step, context, event_id, started_at, updated_at, ended_at,
                                                 due_at, due_kind, due_attempt, lease_until)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13, ?14, ?15, ?16)",
                )?
                .execute(params![
                    run.id,
                    run.workflow,
                    run.version as i64,
                    run.customer_id,
                    run.enroll_key,
                    run.trigger_key,
                    status.as_str(),
                    run.start.map(|s| s as i64),
                    run.context.to_string(),
                    run.event_id(),
                    run.at,
                    status.is_final().then_some(run.at),
                    timer.due_at,
                    timer.kind,
                    timer.attempt,
                    timer.lease_until
                ])?
                == 1;
            if inserted {
                tx.prepare_cached(
                    "INSERT INTO enrollments (workflow, enroll_key, last_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (workflow, enroll_key) DO UPDATE SET last_at = excluded.last_at",
                )?
                .execute(params![run.workflow, run.enroll_key, run.at])?;
            }
            Ok(inserted)
        })
        .collect()
}

/// Marks events matched: moves the match cursor to the batch's last event (a batch is always
/// the next pending events in sequence order; see migration 0007).
pub(super) fn mark_processed(tx: &Transaction<'_>, seqs: &[i64]) -> StoreResult<()> {
    if let Some(last) = seqs.iter().max() {
        tx.prepare_cached("UPDATE match_cursor SET seq = MAX(seq, ?1)")?
            .execute([last])?;
    }
    Ok(())
}
