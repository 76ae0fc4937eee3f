//! Run transitions and new runs, inside a transaction on the writer connection (`direct.rs`):
//! each run's row moves only if its revision is still the transition's `rev`, and its timeline
//! lines, timer, wait, sent message and dead letter follow in the same transaction.

use super::statements::{add_timeline, clear_wait, insert_message, insert_wait, set_timer};
use crate::store::model::*;
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

/// The run's own row, only if its revision is still `t.rev`.
fn update_run(tx: &Transaction<'_>, t: &Transition) -> StoreResult<bool> {
    let changed = tx
        .prepare_cached(
            "UPDATE runs SET status = ?1, step = ?2, context = ?3, updated_at = ?4, ended_at = ?5, exit_reason = COALESCE(?6, exit_reason), rev = rev + 1
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
            t.rev
        ])?;
    Ok(changed == 1)
}

/// What an applied transition writes besides the run's row.
fn follow(tx: &Transaction<'_>, t: &Transition) -> StoreResult<()> {
    for e in &t.timeline {
        add_timeline(tx, &t.run_id, e)?;
    }
    set_timer(tx, &t.run_id, t.timer.as_ref())?;
    clear_wait(tx, &t.run_id)?;
    if let Some(w) = &t.wait {
        insert_wait(tx, &t.run_id, w)?;
    }
    if let Some(m) = &t.sent {
        insert_message(tx, m, &t.run_id, t.at)?;
    }
    if let Some(d) = &t.dead_letter {
        tx.prepare_cached("INSERT INTO dead_letters (run_id, step_id, action, input, error, attempts, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
            .execute(params![t.run_id, d.step_id, d.action, d.input.to_string(), d.error, d.attempts as i64, t.at])?;
    }
    Ok(())
}

/// Inserts new runs, skipping those whose trigger already started one (or whose id exists);
/// per run whether it was inserted. An inserted run's enrollment, first timeline line and
/// timer follow.
pub(super) fn insert_runs(tx: &Transaction<'_>, runs: &[NewRun]) -> StoreResult<Vec<bool>> {
    runs.iter()
        .map(|run| {
            let status = crate::store::status::initial_status(run.start);
            let inserted = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO runs (id, workflow, version, customer_id, enroll_key, trigger_key, status, step, context, event_id, started_at, updated_at, ended_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)",
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
                    status.is_final().then_some(run.at)
                ])?
                == 1;
            if inserted {
                tx.prepare_cached(
                    "INSERT INTO enrollments (workflow, enroll_key, last_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (workflow, enroll_key) DO UPDATE SET last_at = excluded.last_at",
                )?
                .execute(params![run.workflow, run.enroll_key, run.at])?;
                add_timeline(tx, &run.id, &run.started_entry())?;
                if let Some(timer) = run.first_timer() {
                    set_timer(tx, &run.id, Some(&timer))?;
                }
            }
            Ok(inserted)
        })
        .collect()
}

/// Marks events matched.
pub(super) fn mark_processed(tx: &Transaction<'_>, seqs: &[i64]) -> StoreResult<()> {
    let mut mark = tx.prepare_cached("UPDATE events SET processed = 1 WHERE seq = ?1")?;
    for seq in seqs {
        mark.execute([seq])?;
    }
    Ok(())
}
