//! Run transitions of many runs in one transaction, in few statements: one guarded multi-row
//! `UPDATE` of the runs (each run's revision decides whether its transition applies), then the
//! timeline lines, timers and waits of every applied transition as multi-row statements. Each statement is a hand-off
//! to the connection's thread, so their number, not SQLite's work, bounds the throughput.

use crate::store::model::*;
use crate::store::StoreResult;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::{HashMap, HashSet};

/// Applies `ts` inside the caller's transaction; per transition whether it applied.
pub(super) async fn apply(tx: &mut SqliteConnection, ts: &[Transition]) -> StoreResult<Vec<bool>> {
    let applied = update_runs(tx, ts).await?;
    let done: Vec<&Transition> = ts
        .iter()
        .zip(&applied)
        .filter_map(|(t, a)| a.then_some(t))
        .collect();
    if done.is_empty() {
        return Ok(applied);
    }
    let lines: Vec<(&str, &TimelineEntry)> = done
        .iter()
        .flat_map(|t| t.timeline.iter().map(|e| (t.run_id.as_str(), e)))
        .collect();
    insert_timeline(tx, &lines).await?;
    let cleared: Vec<&str> = done
        .iter()
        .filter(|t| t.timer.is_none())
        .map(|t| t.run_id.as_str())
        .collect();
    delete_where_run(tx, "timers", &cleared).await?;
    let timers: Vec<(&str, &Timer)> = done
        .iter()
        .filter_map(|t| Some((t.run_id.as_str(), t.timer.as_ref()?)))
        .collect();
    upsert_timers(tx, &timers).await?;
    let ids: Vec<&str> = done.iter().map(|t| t.run_id.as_str()).collect();
    delete_where_run(tx, "waits", &ids).await?;
    let waits: Vec<(&str, &WaitRow)> = done
        .iter()
        .filter_map(|t| Some((t.run_id.as_str(), t.wait.as_ref()?)))
        .collect();
    insert_waits(tx, &waits).await?;
    for t in &done {
        if let Some(m) = &t.sent {
            super::restraint::insert_message(m, &t.run_id, t.at)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(d) = &t.dead_letter {
            sqlx::query("INSERT INTO dead_letters (run_id, step_id, action, input, error, attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
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
    Ok(applied)
}

/// The runs' own rows, each only if its revision is still the transition's `rev`; per
/// transition whether it applied. One `UPDATE … FROM (VALUES …)` per 512 runs instead of one
/// statement (one hand-off to the connection's thread) per run. A run named twice in `ts` (the
/// executor never does that today) is updated in order, one round per occurrence.
async fn update_runs(tx: &mut SqliteConnection, ts: &[Transition]) -> StoreResult<Vec<bool>> {
    let mut applied = vec![false; ts.len()];
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    let mut occurrences: HashMap<&str, usize> = HashMap::with_capacity(ts.len());
    for (i, t) in ts.iter().enumerate() {
        let round = occurrences.entry(t.run_id.as_str()).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(i);
        *round += 1;
    }
    for round in rounds {
        for chunk in super::shapes::chunks(&round) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "UPDATE runs SET status = v.column3, step = v.column4, context = v.column5, updated_at = v.column6, ended_at = v.column7, exit_reason = COALESCE(v.column8, runs.exit_reason), rev = runs.rev + 1 FROM (",
            );
            q.push_values(chunk, |mut row, &i| {
                let t = &ts[i];
                row.push_bind(&t.run_id)
                    .push_bind(t.rev)
                    .push_bind(t.status.as_str())
                    .push_bind(t.step.map(|s| s as i64))
                    .push_bind(t.context.to_string())
                    .push_bind(t.at)
                    .push_bind(t.status.is_final().then_some(t.at))
                    .push_bind(&t.exit_reason);
            });
            q.push(") AS v WHERE runs.id = v.column1 AND runs.rev = v.column2 RETURNING runs.id");
            let ids: HashSet<String> = q
                .build_query_scalar::<String>()
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
            for &i in chunk {
                applied[i] = ids.contains(&ts[i].run_id);
            }
        }
    }
    Ok(applied)
}

pub(super) async fn insert_timeline(
    tx: &mut SqliteConnection,
    lines: &[(&str, &TimelineEntry)],
) -> StoreResult<()> {
    for chunk in super::shapes::chunks(lines) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO run_steps (run_id, step_id, kind, status, attempt, at, detail) ",
        );
        q.push_values(chunk, |mut row, (run_id, e)| {
            row.push_bind(*run_id)
                .push_bind(&e.step_id)
                .push_bind(&e.kind)
                .push_bind(&e.status)
                .push_bind(e.attempt as i64)
                .push_bind(e.at)
                .push_bind(e.detail.to_string());
        });
        q.build().execute(&mut *tx).await?;
    }
    Ok(())
}

pub(super) async fn upsert_timers(
    tx: &mut SqliteConnection,
    timers: &[(&str, &Timer)],
) -> StoreResult<()> {
    for chunk in super::shapes::chunks(timers) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO timers (run_id, due_at, kind, attempt, lease_until) ",
        );
        q.push_values(chunk, |mut row, (run_id, t)| {
            row.push_bind(*run_id)
                .push_bind(t.due_at)
                .push_bind(t.kind.as_str())
                .push_bind(t.attempt as i64)
                .push_bind(t.lease_until);
        });
        q.push(
            " ON CONFLICT (run_id) DO UPDATE SET due_at = excluded.due_at, kind = excluded.kind, attempt = excluded.attempt, lease_until = excluded.lease_until",
        );
        q.build().execute(&mut *tx).await?;
    }
    Ok(())
}

async fn insert_waits(tx: &mut SqliteConnection, waits: &[(&str, &WaitRow)]) -> StoreResult<()> {
    for chunk in super::shapes::chunks(waits) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO waits (run_id, event_type, match_expr, match_key) ",
        );
        q.push_values(chunk, |mut row, (run_id, w)| {
            row.push_bind(*run_id)
                .push_bind(&w.event_type)
                .push_bind(&w.match_expr)
                .push_bind(&w.match_key);
        });
        q.build().execute(&mut *tx).await?;
    }
    Ok(())
}

/// Inserts new runs in multi-row statements, skipping those whose trigger already started one;
/// per run whether it was inserted. Their enrollments, first timeline lines and timers follow.
pub(super) async fn insert_runs(
    tx: &mut SqliteConnection,
    runs: &[NewRun],
) -> StoreResult<Vec<bool>> {
    let mut inserted = HashSet::new();
    for chunk in super::shapes::chunks(runs) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT OR IGNORE INTO runs (id, workflow, version, customer_id, enroll_key, trigger_key, status, step, context, event_id, started_at, updated_at, ended_at) ",
        );
        q.push_values(chunk, |mut row, run| {
            let status = crate::store::status::initial_status(run.start);
            row.push_bind(&run.id)
                .push_bind(&run.workflow)
                .push_bind(run.version as i64)
                .push_bind(&run.customer_id)
                .push_bind(&run.enroll_key)
                .push_bind(&run.trigger_key)
                .push_bind(status.as_str())
                .push_bind(run.start.map(|s| s as i64))
                .push_bind(run.context.to_string())
                .push_bind(run.event_id())
                .push_bind(run.at)
                .push_bind(run.at)
                .push_bind(status.is_final().then_some(run.at));
        });
        q.push(" RETURNING id");
        let ids: Vec<String> = q.build_query_scalar().fetch_all(&mut *tx).await?;
        inserted.extend(ids);
    }
    let new: Vec<&NewRun> = runs.iter().filter(|r| inserted.contains(&r.id)).collect();
    for chunk in super::shapes::chunks(&new) {
        let mut q =
            QueryBuilder::<Sqlite>::new("INSERT INTO enrollments (workflow, enroll_key, last_at) ");
        q.push_values(chunk, |mut row, run| {
            row.push_bind(&run.workflow)
                .push_bind(&run.enroll_key)
                .push_bind(run.at);
        });
        q.push(" ON CONFLICT (workflow, enroll_key) DO UPDATE SET last_at = excluded.last_at");
        q.build().execute(&mut *tx).await?;
    }
    let started: Vec<(String, TimelineEntry)> = new
        .iter()
        .map(|r| (r.id.clone(), r.started_entry()))
        .collect();
    let lines: Vec<(&str, &TimelineEntry)> =
        started.iter().map(|(id, e)| (id.as_str(), e)).collect();
    insert_timeline(tx, &lines).await?;
    let first: Vec<(&str, Timer)> = new
        .iter()
        .filter_map(|r| Some((r.id.as_str(), r.first_timer()?)))
        .collect();
    let timers: Vec<(&str, &Timer)> = first.iter().map(|(id, t)| (*id, t)).collect();
    upsert_timers(tx, &timers).await?;
    Ok(runs.iter().map(|r| inserted.contains(&r.id)).collect())
}

/// Marks events matched, many per statement.
pub(super) async fn mark_processed(tx: &mut SqliteConnection, seqs: &[i64]) -> StoreResult<()> {
    for chunk in super::shapes::chunks(seqs) {
        in_list("UPDATE events SET processed = 1 WHERE seq", chunk)
            .build()
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// `DELETE FROM {table} WHERE run_id IN (…)` for `ids`.
async fn delete_where_run(
    tx: &mut SqliteConnection,
    table: &'static str,
    ids: &[&str],
) -> StoreResult<()> {
    for chunk in super::shapes::chunks(ids) {
        in_list(&format!("DELETE FROM {table} WHERE run_id"), chunk)
            .build()
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// `{head} IN (?, ?, …)` with `values` bound, one per placeholder.
pub(super) fn in_list<'a, T>(head: &str, values: &'a [T]) -> QueryBuilder<'a, Sqlite>
where
    &'a T: sqlx::Encode<'a, Sqlite> + sqlx::Type<Sqlite>,
{
    let mut q = QueryBuilder::<Sqlite>::new(format!("{head} IN ("));
    let mut list = q.separated(", ");
    for v in values {
        list.push_bind(v);
    }
    q.push(")");
    q
}
