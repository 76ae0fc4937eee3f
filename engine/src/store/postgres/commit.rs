//! Run transitions on PostgreSQL, inside one transaction: each run's row moves only if its
//! revision is still the transition's `rev`, then its timeline lines, wait, sent message and
//! dead letter follow, one statement per kind of row.
//!
//! A batch of distinct runs is one `UPDATE … FROM UNNEST(…)` after one `SELECT … FOR UPDATE`
//! that locks the rows in id order (every batch locks in that order, so two nodes' batches never
//! deadlock): two round trips for the batch instead of one per run. A batch naming a run twice
//! (its transitions must apply in turn) takes one statement per transition, in id order.

use super::statements::{add_timeline, clear_waits, insert_message, insert_waits};
use crate::store::model::*;
use crate::store::rows::TimerColumns;
use crate::store::StoreResult;
use sqlx::PgConnection;
use std::collections::HashSet;

/// Applies `ts`; per transition whether it applied (a run named twice moves twice). Timers kept
/// leased are leased to `node`.
pub(super) async fn apply(
    tx: &mut PgConnection,
    ts: &[Transition],
    node: &str,
) -> StoreResult<Vec<bool>> {
    let ids: HashSet<&str> = ts.iter().map(|t| t.run_id.as_str()).collect();
    let applied = if ids.len() == ts.len() {
        update_distinct(tx, ts, node).await?
    } else {
        let mut order: Vec<usize> = (0..ts.len()).collect();
        order.sort_by(|a, b| ts[*a].run_id.cmp(&ts[*b].run_id));
        let mut applied = vec![false; ts.len()];
        for i in order {
            applied[i] = update_run(tx, &ts[i], node).await?;
        }
        applied
    };
    let moved: Vec<&Transition> = ts
        .iter()
        .zip(&applied)
        .filter(|(_, a)| **a)
        .map(|(t, _)| t)
        .collect();
    follow(tx, &moved).await?;
    Ok(applied)
}

/// The rows of distinct runs, each only at its transition's revision.
async fn update_distinct(
    tx: &mut PgConnection,
    ts: &[Transition],
    node: &str,
) -> StoreResult<Vec<bool>> {
    if ts.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<&str> = ts.iter().map(|t| t.run_id.as_str()).collect();
    ids.sort_unstable();
    sqlx::query("SELECT id FROM runs WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    let timers: Vec<TimerColumns> = ts
        .iter()
        .map(|t| TimerColumns::of(t.timer.as_ref()))
        .collect();
    let updated: Vec<String> = sqlx::query_scalar(
        "UPDATE runs r SET status = t.status, step = t.step, context = t.context, updated_at = t.at,
                ended_at = t.ended_at, exit_reason = COALESCE(t.exit_reason, r.exit_reason), rev = r.rev + 1,
                due_at = t.due_at, due_kind = t.due_kind, due_attempt = t.due_attempt, lease_until = t.lease_until,
                lease_owner = CASE WHEN t.lease_until > 0 THEN $13 END
         FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[],
                     $8::text[], $9::bigint[], $10::text[], $11::bigint[], $12::bigint[])
              AS t(id, rev, status, step, context, at, ended_at, exit_reason, due_at, due_kind, due_attempt, lease_until)
         WHERE r.id = t.id AND r.rev = t.rev
         RETURNING r.id",
    )
    .bind(ts.iter().map(|t| t.run_id.as_str()).collect::<Vec<_>>())
    .bind(ts.iter().map(|t| t.rev).collect::<Vec<_>>())
    .bind(ts.iter().map(|t| t.status.as_str()).collect::<Vec<_>>())
    .bind(ts.iter().map(|t| t.step.map(|s| s as i64)).collect::<Vec<_>>())
    .bind(ts.iter().map(|t| t.context.to_string()).collect::<Vec<_>>())
    .bind(ts.iter().map(|t| t.at).collect::<Vec<_>>())
    .bind(ts.iter().map(|t| t.status.is_final().then_some(t.at)).collect::<Vec<_>>())
    .bind(ts.iter().map(|t| t.exit_reason.as_deref()).collect::<Vec<_>>())
    .bind(timers.iter().map(|c| c.due_at).collect::<Vec<_>>())
    .bind(timers.iter().map(|c| c.kind).collect::<Vec<_>>())
    .bind(timers.iter().map(|c| c.attempt).collect::<Vec<_>>())
    .bind(timers.iter().map(|c| c.lease_until).collect::<Vec<_>>())
    .bind(node)
    .fetch_all(&mut *tx)
    .await?;
    let updated: HashSet<String> = updated.into_iter().collect();
    Ok(ts.iter().map(|t| updated.contains(&t.run_id)).collect())
}

/// The run's own row and timer, only if its revision is still `t.rev`.
/// A timer kept leased (the worker goes on executing the run) is leased to `node`.
async fn update_run(tx: &mut PgConnection, t: &Transition, node: &str) -> StoreResult<bool> {
    let timer = TimerColumns::of(t.timer.as_ref());
    let changed = sqlx::query(
        "UPDATE runs SET status = $1, step = $2, context = $3, updated_at = $4, ended_at = $5, exit_reason = COALESCE($6, exit_reason), rev = rev + 1,
                due_at = $9, due_kind = $10, due_attempt = $11, lease_until = $12,
                lease_owner = CASE WHEN $12 > 0 THEN $13 END
         WHERE id = $7 AND rev = $8",
    )
    .bind(t.status.as_str())
    .bind(t.step.map(|s| s as i64))
    .bind(t.context.to_string())
    .bind(t.at)
    .bind(t.status.is_final().then_some(t.at))
    .bind(&t.exit_reason)
    .bind(&t.run_id)
    .bind(t.rev)
    .bind(timer.due_at)
    .bind(timer.kind)
    .bind(timer.attempt)
    .bind(timer.lease_until)
    .bind(node)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// What applied transitions write besides their runs' rows, a statement per kind of row.
async fn follow(tx: &mut PgConnection, moved: &[&Transition]) -> StoreResult<()> {
    let lines: Vec<(&str, &TimelineEntry)> = moved
        .iter()
        .flat_map(|t| t.timeline.iter().map(|e| (t.run_id.as_str(), e)))
        .collect();
    add_timeline(tx, &lines).await?;
    let ids: Vec<&str> = moved.iter().map(|t| t.run_id.as_str()).collect();
    clear_waits(tx, &ids).await?;
    // A run moved twice in one batch keeps the wait of its last transition.
    let mut waits: Vec<(&str, &WaitRow)> = Vec::new();
    for t in moved {
        waits.retain(|(id, _)| *id != t.run_id);
        waits.extend(t.wait.as_ref().map(|w| (t.run_id.as_str(), w)));
    }
    insert_waits(tx, &waits).await?;
    for t in moved {
        if let Some(m) = &t.sent {
            insert_message(tx, m, &t.run_id, t.at).await?;
        }
        super::experiments::insert_entries(tx, &t.run_id, t.at, &t.experiments).await?;
        if let Some(d) = &t.dead_letter {
            sqlx::query(
                "INSERT INTO dead_letters (run_id, step_id, action, input, error, attempts, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&t.run_id)
            .bind(&d.step_id)
            .bind(&d.action)
            .bind(d.input.to_string())
            .bind(&d.error)
            .bind(d.attempts as i64)
            .bind(t.at)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}
