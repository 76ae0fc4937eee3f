//! Statements several PostgreSQL write transactions share: timeline lines, a run's timer and
//! wait, its end from outside its steps, new runs, a sent message. Each takes the transaction's
//! connection; lists are written with one `UNNEST` statement, not one statement per row.

use crate::clock::Millis;
use crate::store::model::*;
use crate::store::rows::TimerColumns;
use crate::store::status::{initial_status, statuses_for};
use crate::store::StoreResult;
use sqlx::PgConnection;

/// Appends timeline lines (run id, line), in order.
pub(super) async fn add_timeline(
    tx: &mut PgConnection,
    lines: &[(&str, &TimelineEntry)],
) -> StoreResult<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&(&str, &TimelineEntry)) -> String| lines.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO run_steps (run_id, step_id, kind, status, attempt, at, detail)
         SELECT run_id, step_id, kind, status, attempt, at, detail
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[])
              WITH ORDINALITY AS t(run_id, step_id, kind, status, attempt, at, detail, n)
         ORDER BY n",
    )
    .bind(column(|l| l.0.to_string()))
    .bind(column(|l| l.1.step_id.clone()))
    .bind(column(|l| l.1.kind.clone()))
    .bind(column(|l| l.1.status.clone()))
    .bind(lines.iter().map(|l| l.1.attempt as i64).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.1.at).collect::<Vec<_>>())
    .bind(column(|l| l.1.detail.to_string()))
    .execute(tx)
    .await?;
    Ok(())
}

/// Sets (or with `None` clears) a run's timer.
pub(super) async fn set_timer(
    tx: &mut PgConnection,
    run_id: &str,
    timer: Option<&Timer>,
) -> StoreResult<()> {
    let t = TimerColumns::of(timer);
    sqlx::query(
        "UPDATE runs SET due_at = $2, due_kind = $3, due_attempt = $4, lease_until = $5 WHERE id = $1",
    )
    .bind(run_id)
    .bind(t.due_at)
    .bind(t.kind)
    .bind(t.attempt)
    .bind(t.lease_until)
    .execute(tx)
    .await?;
    Ok(())
}

/// Ends an unfinished run from outside its steps (its goal, an operator's cancel), if its
/// status still allows it; whether it did.
pub(super) async fn end_run(tx: &mut PgConnection, end: &RunEnd<'_>) -> StoreResult<bool> {
    let sql = format!(
        "UPDATE runs SET status = $1, exit_reason = $2, ended_at = $3, updated_at = $3, rev = rev + 1,
                due_at = NULL, due_kind = NULL, due_attempt = NULL, lease_until = NULL
         WHERE id = $4 AND status IN {}",
        statuses_for(end.cause)
    );
    let changed = sqlx::query(&sql)
        .bind(end.status().as_str())
        .bind(end.reason)
        .bind(end.at)
        .bind(end.run_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed == 1 {
        clear_waits(tx, &[end.run_id]).await?;
        add_timeline(tx, &[(end.run_id, &end.entry())]).await?;
    }
    Ok(changed == 1)
}

/// Removes the wait-for-event registrations of runs.
pub(super) async fn clear_waits(tx: &mut PgConnection, run_ids: &[&str]) -> StoreResult<()> {
    if !run_ids.is_empty() {
        sqlx::query("DELETE FROM waits WHERE run_id = ANY($1)")
            .bind(run_ids)
            .execute(tx)
            .await?;
    }
    Ok(())
}

/// Registers runs' waits for events.
pub(super) async fn insert_waits(
    tx: &mut PgConnection,
    waits: &[(&str, &WaitRow)],
) -> StoreResult<()> {
    if waits.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&(&str, &WaitRow)) -> String| waits.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO waits (run_id, event_type, match_expr, match_key)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[])
         ON CONFLICT (run_id) DO UPDATE SET event_type = excluded.event_type,
             match_expr = excluded.match_expr, match_key = excluded.match_key",
    )
    .bind(column(|w| w.0.to_string()))
    .bind(column(|w| w.1.event_type.clone()))
    .bind(column(|w| w.1.match_expr.clone()))
    .bind(column(|w| w.1.match_key.clone()))
    .execute(tx)
    .await?;
    Ok(())
}

/// Records a sent message unless its key was claimed already.
pub(super) async fn insert_message(
    tx: &mut PgConnection,
    m: &SentMessage,
    run_id: &str,
    at: Millis,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO messages (customer_id, channel, kind, address, workflow, run_id, sent_at, key, tags)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE NOT EXISTS (SELECT 1 FROM messages WHERE key = $8)",
    )
    .bind(&m.customer_id)
    .bind(&m.channel)
    .bind(&m.kind)
    .bind(&m.address)
    .bind(&m.workflow)
    .bind(run_id)
    .bind(at)
    .bind(&m.key)
    .bind(crate::store::tags_json(&m.tags))
    .execute(tx)
    .await?;
    Ok(())
}

/// Inserts new runs, skipping those whose trigger already started one (or whose id exists);
/// per run whether it was inserted, with its first timer in its row. The enrollments of the
/// inserted runs follow. A leased first timer is leased to the node `owner` names for its run.
pub(super) async fn insert_runs<'a>(
    tx: &mut PgConnection,
    runs: &'a [NewRun],
    owner: impl Fn(&'a NewRun) -> &'a str,
) -> StoreResult<Vec<bool>> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let text = |f: fn(&NewRun) -> String| runs.iter().map(f).collect::<Vec<_>>();
    let optional = |f: fn(&NewRun) -> Option<String>| runs.iter().map(f).collect::<Vec<_>>();
    let number = |f: fn(&NewRun) -> Option<i64>| runs.iter().map(f).collect::<Vec<_>>();
    let timers: Vec<TimerColumns> = runs
        .iter()
        .map(|r| TimerColumns::of(r.first_timer().as_ref()))
        .collect();
    let inserted: Vec<String> = sqlx::query_scalar(
        "INSERT INTO runs (id, workflow, version, customer_id, enroll_key, trigger_key, status, step, context, event_id,
                           started_at, updated_at, ended_at, due_at, due_kind, due_attempt, lease_until, lease_owner)
         SELECT id, workflow, version, customer_id, enroll_key, trigger_key, status, step, context, event_id,
                started_at, started_at, ended_at, due_at, due_kind, due_attempt, lease_until,
                CASE WHEN lease_until > 0 THEN owner END
         FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[],
                     $9::text[], $10::text[], $11::bigint[], $12::bigint[], $13::bigint[], $14::text[], $15::bigint[], $16::bigint[],
                     $17::text[])
              WITH ORDINALITY AS t(id, workflow, version, customer_id, enroll_key, trigger_key, status, step, context, event_id,
                                   started_at, ended_at, due_at, due_kind, due_attempt, lease_until, owner, n)
         ORDER BY n
         ON CONFLICT DO NOTHING
         RETURNING id",
    )
    .bind(text(|r| r.id.clone()))
    .bind(text(|r| r.workflow.clone()))
    .bind(runs.iter().map(|r| r.version as i64).collect::<Vec<_>>())
    .bind(optional(|r| r.customer_id.clone()))
    .bind(text(|r| r.enroll_key.clone()))
    .bind(text(|r| r.trigger_key.clone()))
    .bind(text(|r| initial_status(r.start).as_str().to_string()))
    .bind(number(|r| r.start.map(|s| s as i64)))
    .bind(text(|r| r.context.to_string()))
    .bind(optional(|r| r.event_id().map(String::from)))
    .bind(runs.iter().map(|r| r.at).collect::<Vec<_>>())
    .bind(number(|r| initial_status(r.start).is_final().then_some(r.at)))
    .bind(timers.iter().map(|t| t.due_at).collect::<Vec<_>>())
    .bind(timers.iter().map(|t| t.kind).collect::<Vec<_>>())
    .bind(timers.iter().map(|t| t.attempt).collect::<Vec<_>>())
    .bind(timers.iter().map(|t| t.lease_until).collect::<Vec<_>>())
    .bind(runs.iter().map(owner).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?;
    // A trigger repeated within the list conflicts with its first run, inserted just before.
    let inserted: std::collections::HashSet<String> = inserted.into_iter().collect();
    let flags: Vec<bool> = runs.iter().map(|r| inserted.contains(&r.id)).collect();
    let enrolled: Vec<&NewRun> = runs
        .iter()
        .zip(&flags)
        .filter(|(_, f)| **f)
        .map(|(r, _)| r)
        .collect();
    if !enrolled.is_empty() {
        // The latest time per key, so one statement never updates a row twice.
        let mut latest: std::collections::BTreeMap<(&str, &str), Millis> = Default::default();
        for r in &enrolled {
            let at = latest.entry((&r.workflow, &r.enroll_key)).or_insert(r.at);
            *at = (*at).max(r.at);
        }
        sqlx::query(
            "INSERT INTO enrollments (workflow, enroll_key, last_at)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[])
             ON CONFLICT (workflow, enroll_key) DO UPDATE SET last_at = excluded.last_at",
        )
        .bind(latest.keys().map(|k| k.0).collect::<Vec<_>>())
        .bind(latest.keys().map(|k| k.1).collect::<Vec<_>>())
        .bind(latest.values().copied().collect::<Vec<_>>())
        .execute(tx)
        .await?;
    }
    Ok(flags)
}
