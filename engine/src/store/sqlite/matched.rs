//! Applying a matched batch in one transaction on the writer connection: customer and entity
//! snapshots, new runs, goal exits, resumed waits, date triggers, consent and suppressions, and
//! the events marked matched.

use super::commit::{insert_runs, mark_processed};
use super::customers::merge_all;
use super::restraint::record_consent;
use super::statements::{add_timeline, clear_wait, end_run};
use crate::store::model::*;
use crate::store::rows::TimerColumns;
use crate::store::status::statuses_for;
use crate::store::status::Cause;
use crate::store::StoreResult;
use rusqlite::{params, Transaction};

/// Everything `batch` changes; per new run whether it was inserted.
pub(super) fn apply(tx: &Transaction<'_>, batch: &MatchBatch) -> StoreResult<Vec<bool>> {
    merge_all(tx, &batch.customers)?;
    for (kind, id, data, at) in &batch.entities {
        tx.prepare_cached("INSERT INTO entities (kind, id, data, updated_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at")?
            .execute(params![kind, id, data.to_string(), at])?;
    }
    // New runs first: a goal later in the batch may end one of them.
    let inserted = insert_runs(tx, &batch.new_runs)?;
    for exit in &batch.exits {
        end_run(tx, &exit.end())?;
    }
    for r in &batch.resumes {
        resume(tx, r)?;
    }
    for d in &batch.date_triggers {
        tx.prepare_cached("INSERT INTO date_triggers (workflow, key, due_at, event_id) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (workflow, key) DO UPDATE SET due_at = excluded.due_at, event_id = excluded.event_id")?
            .execute(params![d.workflow, d.key, d.due_at, d.event_id])?;
    }
    for (customer, channel, granted, at) in &batch.consents {
        record_consent(
            tx,
            customer,
            channel,
            *granted,
            "consent.updated event",
            *at,
        )?;
    }
    for (address, reason, at) in &batch.suppressions {
        tx.prepare_cached("INSERT INTO suppressions (address, reason, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (address) DO NOTHING")?
            .execute(params![address.to_lowercase(), reason, at])?;
    }
    super::experiments::convert(tx, &batch.conversions)?;
    super::scores::append(tx, &batch.score_changes)?;
    mark_processed(tx, &batch.seqs)?;
    Ok(inserted)
}

/// Moves a waiting run on because its event arrived (only if it still waits at that step).
fn resume(tx: &Transaction<'_>, r: &Resume) -> StoreResult<()> {
    let status = r.status();
    let timer = r.target.map(|_| Timer::exec(r.entry.at));
    let timer = TimerColumns::of(timer.as_ref());
    let sql = format!(
        "UPDATE runs SET status = ?1, step = ?2, ended_at = ?3, updated_at = ?4, rev = rev + 1,
                due_at = ?7, due_kind = ?8, due_attempt = ?9, lease_until = ?10
         WHERE id = ?5 AND status IN {} AND step = ?6",
        statuses_for(Cause::EventArrived)
    );
    let changed = tx.prepare_cached(&sql)?.execute(params![
        status.as_str(),
        r.target.map(|s| s as i64),
        status.is_final().then_some(r.entry.at),
        r.entry.at,
        r.run_id,
        r.wait_step as i64,
        timer.due_at,
        timer.kind,
        timer.attempt,
        timer.lease_until
    ])?;
    if changed == 1 {
        clear_wait(tx, &r.run_id)?;
        add_timeline(tx, &r.run_id, &r.entry)?;
    }
    Ok(())
}
