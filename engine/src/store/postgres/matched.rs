//! Applying a matched batch on PostgreSQL, inside the transaction that checked the matcher
//! lease: snapshots, new runs, goal exits, resumed waits, date triggers, consent, suppressions,
//! and the events taken off the queue.

use super::customers::merge_all;
use super::nodes;
use super::restraint::log_consents;
use super::statements::{add_timeline, clear_waits, end_run, insert_runs};
use crate::store::merge::consent_patch;
use crate::store::model::*;
use crate::store::rows::TimerColumns;
use crate::store::status::{statuses_for, Cause};
use crate::store::StoreResult;
use sqlx::PgConnection;
use std::sync::Arc;

/// Everything `batch` changes; per new run whether it was inserted. New runs are leased to
/// `node` (the matcher), except those for peers, leased and handed to `peers` in turn.
pub(super) async fn apply(
    tx: &mut PgConnection,
    batch: &MatchBatch,
    node: &str,
    peers: &[Arc<str>],
) -> StoreResult<Vec<bool>> {
    // Consent changes are customer merges too, after the batch's attribute merges.
    let mut patches = batch.customers.clone();
    patches.extend(
        batch
            .consents
            .iter()
            .map(|(c, channel, granted, at)| (c.clone(), consent_patch(channel, *granted), *at)),
    );
    merge_all(tx, &patches).await?;
    let consents: Vec<(&str, &str, bool, &str, i64)> = batch
        .consents
        .iter()
        .map(|(c, ch, g, at)| (c.as_str(), ch.as_str(), *g, "consent.updated event", *at))
        .collect();
    log_consents(tx, &consents).await?;
    for (kind, id, data, at) in &batch.entities {
        sqlx::query(
            "INSERT INTO entities (kind, id, data, updated_at) VALUES ($1, $2, $3::jsonb, $4)
             ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
        )
        .bind(kind)
        .bind(id)
        .bind(data.to_string())
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }
    // New runs first: a goal later in the batch may end one of them.
    let handed_to = nodes::assign(&batch.for_peers, peers, node);
    let owner = |r: &NewRun| handed_to.get(r.id.as_str()).copied().unwrap_or(node);
    let inserted = insert_runs(tx, &batch.new_runs, owner).await?;
    let handed: Vec<(&str, &str)> = batch
        .new_runs
        .iter()
        .zip(&inserted)
        .filter(|(_, inserted)| **inserted)
        .filter_map(|(r, _)| Some((*handed_to.get(r.id.as_str())?, r.id.as_str())))
        .collect();
    nodes::record(tx, &handed).await?;
    for exit in &batch.exits {
        end_run(tx, &exit.end()).await?;
    }
    for r in &batch.resumes {
        resume(tx, r).await?;
    }
    for d in &batch.date_triggers {
        sqlx::query(
            "INSERT INTO date_triggers (workflow, key, due_at, event_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (workflow, key) DO UPDATE SET due_at = excluded.due_at, event_id = excluded.event_id",
        )
        .bind(&d.workflow)
        .bind(&d.key)
        .bind(d.due_at)
        .bind(&d.event_id)
        .execute(&mut *tx)
        .await?;
    }
    for (address, reason, at) in &batch.suppressions {
        sqlx::query(
            "INSERT INTO suppressions (address, reason, created_at) VALUES ($1, $2, $3) ON CONFLICT (address) DO NOTHING",
        )
        .bind(address.to_lowercase())
        .bind(reason)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }
    super::experiments::convert(tx, &batch.conversions).await?;
    super::scores::append(tx, &batch.score_changes).await?;
    sqlx::query("DELETE FROM event_queue WHERE seq = ANY($1)")
        .bind(&batch.seqs)
        .execute(tx)
        .await?;
    Ok(inserted)
}

/// Moves a waiting run on because its event arrived (only if it still waits at that step).
async fn resume(tx: &mut PgConnection, r: &Resume) -> StoreResult<()> {
    let status = r.status();
    let timer = r.target.map(|_| Timer::exec(r.entry.at));
    let timer = TimerColumns::of(timer.as_ref());
    let sql = format!(
        "UPDATE runs SET status = $1, step = $2, ended_at = $3, updated_at = $4, rev = rev + 1,
                due_at = $7, due_kind = $8, due_attempt = $9, lease_until = $10
         WHERE id = $5 AND status IN {} AND step = $6",
        statuses_for(Cause::EventArrived)
    );
    let changed = sqlx::query(&sql)
        .bind(status.as_str())
        .bind(r.target.map(|s| s as i64))
        .bind(status.is_final().then_some(r.entry.at))
        .bind(r.entry.at)
        .bind(&r.run_id)
        .bind(r.wait_step as i64)
        .bind(timer.due_at)
        .bind(timer.kind)
        .bind(timer.attempt)
        .bind(timer.lease_until)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed == 1 {
        clear_waits(tx, &[&r.run_id]).await?;
        add_timeline(tx, &[(&r.run_id, &r.entry)]).await?;
    }
    Ok(())
}
