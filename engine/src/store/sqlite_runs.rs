//! SQLite queries about runs: creation, matching, timers, transitions and listings.

use super::sqlite::{json_of, SqliteStore};
use super::*;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

type Tx<'c> = Transaction<'c, Sqlite>;

const RUN_COLUMNS: &str =
    "id, workflow, version, customer_id, status, step, rev, context, started_at, updated_at, ended_at, exit_reason";

fn run_row(r: &SqliteRow) -> StoreResult<RunRow> {
    let status: String = r.get(4);
    Ok(RunRow {
        id: r.get(0),
        workflow: r.get(1),
        version: r.get::<i64, _>(2) as u32,
        customer_id: r.get(3),
        status: RunStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("run status {status}")))?,
        step: r.get::<Option<i64>, _>(5).map(|s| s as usize),
        rev: r.get(6),
        context: json_of(&r.get::<String, _>(7)),
        started_at: r.get(8),
        updated_at: r.get(9),
        ended_at: r.get(10),
        exit_reason: r.get(11),
    })
}

async fn add_timeline(tx: &mut Tx<'_>, run_id: &str, e: &TimelineEntry) -> StoreResult<()> {
    sqlx::query("INSERT INTO run_steps (run_id, step_id, kind, status, attempt, at, detail) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(run_id)
        .bind(&e.step_id)
        .bind(&e.kind)
        .bind(&e.status)
        .bind(e.attempt as i64)
        .bind(e.at)
        .bind(e.detail.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn set_timer(tx: &mut Tx<'_>, run_id: &str, timer: Option<&Timer>) -> StoreResult<()> {
    match timer {
        None => sqlx::query("DELETE FROM timers WHERE run_id = ?").bind(run_id).execute(&mut **tx).await?,
        Some(t) => sqlx::query(
            "INSERT INTO timers (run_id, due_at, kind, attempt, lease_until) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (run_id) DO UPDATE SET due_at = excluded.due_at, kind = excluded.kind, attempt = excluded.attempt, lease_until = excluded.lease_until",
        )
        .bind(run_id)
        .bind(t.due_at)
        .bind(t.kind.as_str())
        .bind(t.attempt as i64)
        .bind(t.lease_until)
        .execute(&mut **tx)
        .await?,
    };
    Ok(())
}

/// A timeline line read from columns `step_id, kind, status, attempt, at, detail` starting at `first`.
fn timeline_entry(r: &SqliteRow, first: usize) -> TimelineEntry {
    TimelineEntry {
        step_id: r.get(first),
        kind: r.get(first + 1),
        status: r.get(first + 2),
        attempt: r.get::<i64, _>(first + 3) as u32,
        at: r.get(first + 4),
        detail: r
            .get::<Option<String>, _>(first + 5)
            .map(|d| json_of(&d))
            .unwrap_or(Value::Null),
    }
}

/// Merges `patch` into the customer's stored attributes (JSON merge patch), creating the customer.
pub(super) async fn merge_customer(
    tx: &mut Tx<'_>,
    id: &str,
    patch: &Value,
    at: Millis,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO customers (id, data, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET data = json_patch(customers.data, excluded.data), updated_at = excluded.updated_at",
    )
    .bind(id)
    .bind(patch.to_string())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Removes a run's wait-for-event registration, if any.
async fn clear_wait(tx: &mut sqlx::SqliteConnection, run_id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM waits WHERE run_id = ?")
        .bind(run_id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Inserts a new run unless its trigger already started one; returns whether it was inserted.
pub(super) async fn insert_run(tx: &mut Tx<'_>, run: &NewRun) -> StoreResult<bool> {
    let status = if run.start.is_some() {
        "active"
    } else {
        "completed"
    };
    let done = sqlx::query(
        "INSERT OR IGNORE INTO runs (id, workflow, version, customer_id, enroll_key, trigger_key, status, step, context, started_at, updated_at, ended_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&run.id)
    .bind(&run.workflow)
    .bind(run.version as i64)
    .bind(&run.customer_id)
    .bind(&run.enroll_key)
    .bind(&run.trigger_key)
    .bind(status)
    .bind(run.start.map(|s| s as i64))
    .bind(run.context.to_string())
    .bind(run.at)
    .bind(run.at)
    .bind(if run.start.is_some() { None } else { Some(run.at) })
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("INSERT INTO enrollments (workflow, enroll_key, last_at) VALUES (?, ?, ?) ON CONFLICT (workflow, enroll_key) DO UPDATE SET last_at = excluded.last_at")
        .bind(&run.workflow)
        .bind(&run.enroll_key)
        .bind(run.at)
        .execute(&mut **tx)
        .await?;
    let entry = TimelineEntry::run_level(
        "started",
        run.at,
        serde_json::json!({ "trigger": run.trigger_key }),
    );
    add_timeline(tx, &run.id, &entry).await?;
    if run.start.is_some() {
        set_timer(tx, &run.id, Some(&Timer::exec(run.at))).await?;
    }
    Ok(true)
}

async fn end_run(tx: &mut Tx<'_>, exit: &EarlyExit) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE runs SET status = 'exited', exit_reason = ?, ended_at = ?, updated_at = ?, rev = rev + 1 WHERE id = ? AND status IN ('active', 'waiting')",
    )
    .bind(&exit.reason)
    .bind(exit.at)
    .bind(exit.at)
    .bind(&exit.run_id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 1 {
        set_timer(tx, &exit.run_id, None).await?;
        clear_wait(&mut *tx, &exit.run_id).await?;
        let entry = TimelineEntry::run_level(
            "exited",
            exit.at,
            serde_json::json!({ "reason": exit.reason }),
        );
        add_timeline(tx, &exit.run_id, &entry).await?;
    }
    Ok(())
}

async fn resume(tx: &mut Tx<'_>, r: &Resume) -> StoreResult<()> {
    let (status, ended) = match r.target {
        Some(_) => ("active", None),
        None => ("completed", Some(r.entry.at)),
    };
    let done = sqlx::query(
        "UPDATE runs SET status = ?, step = ?, ended_at = ?, updated_at = ?, rev = rev + 1 WHERE id = ? AND status = 'waiting' AND step = ?",
    )
    .bind(status)
    .bind(r.target.map(|s| s as i64))
    .bind(ended)
    .bind(r.entry.at)
    .bind(&r.run_id)
    .bind(r.wait_step as i64)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 1 {
        clear_wait(&mut *tx, &r.run_id).await?;
        let timer = r.target.map(|_| Timer::exec(r.entry.at));
        set_timer(tx, &r.run_id, timer.as_ref()).await?;
        add_timeline(tx, &r.run_id, &r.entry).await?;
    }
    Ok(())
}

impl SqliteStore {
    pub(super) async fn waiting_runs_impl(
        &self,
        event_type: &str,
        match_expr: &str,
        key: &str,
    ) -> StoreResult<Vec<(String, String, u32, usize)>> {
        let rows = sqlx::query(
            "SELECT r.id, r.workflow, r.version, r.step FROM waits w JOIN runs r ON r.id = w.run_id
             WHERE w.event_type = ? AND w.match_expr = ? AND w.match_key = ? AND r.status = 'waiting'",
        )
        .bind(event_type)
        .bind(match_expr)
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    r.get(1),
                    r.get::<i64, _>(2) as u32,
                    r.get::<Option<i64>, _>(3).unwrap_or(0) as usize,
                )
            })
            .collect())
    }

    pub(super) async fn apply_match_impl(&self, batch: MatchBatch) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for (id, attrs, at) in &batch.customers {
            merge_customer(&mut tx, id, &Value::Object(attrs.clone()), *at).await?;
        }
        for (kind, id, data, at) in &batch.entities {
            sqlx::query("INSERT INTO entities (kind, id, data, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at")
                .bind(kind)
                .bind(id)
                .bind(data.to_string())
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        for exit in &batch.exits {
            end_run(&mut tx, exit).await?;
        }
        for r in &batch.resumes {
            resume(&mut tx, r).await?;
        }
        for run in &batch.new_runs {
            insert_run(&mut tx, run).await?;
        }
        for d in &batch.date_triggers {
            sqlx::query("INSERT INTO date_triggers (workflow, key, due_at, event_id) VALUES (?, ?, ?, ?) ON CONFLICT (workflow, key) DO UPDATE SET due_at = excluded.due_at, event_id = excluded.event_id")
                .bind(&d.workflow)
                .bind(&d.key)
                .bind(d.due_at)
                .bind(&d.event_id)
                .execute(&mut *tx)
                .await?;
        }
        for (customer, channel, granted, at) in &batch.consents {
            super::sqlite_restraint::record_consent(
                &mut tx,
                customer,
                channel,
                *granted,
                "consent.updated event",
                *at,
            )
            .await?;
        }
        for (address, reason, at) in &batch.suppressions {
            sqlx::query("INSERT INTO suppressions (address, reason, created_at) VALUES (?, ?, ?) ON CONFLICT (address) DO NOTHING")
                .bind(address.to_lowercase())
                .bind(reason)
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        for seq in &batch.seqs {
            sqlx::query("UPDATE events SET processed = 1 WHERE seq = ?")
                .bind(seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn claim_due_impl(
        &self,
        now: Millis,
        limit: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<DueWork>> {
        let rows = sqlx::query(
            "UPDATE timers SET lease_until = ? WHERE run_id IN
               (SELECT run_id FROM timers WHERE due_at <= ? AND lease_until < ? ORDER BY due_at LIMIT ?)
             RETURNING run_id, kind, attempt",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| DueWork {
                run_id: r.get(0),
                kind: if r.get::<String, _>(1) == "wake" {
                    TimerKind::Wake
                } else {
                    TimerKind::Exec
                },
                attempt: r.get::<i64, _>(2) as u32,
            })
            .collect())
    }

    pub(super) async fn run_impl(&self, id: &str) -> StoreResult<Option<RunRow>> {
        let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(run_row).transpose()
    }

    pub(super) async fn commit_impl(&self, t: Transition) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let ended = t.status.is_final().then_some(t.at);
        let done = sqlx::query(
            "UPDATE runs SET status = ?, step = ?, context = ?, updated_at = ?, ended_at = ?, exit_reason = COALESCE(?, exit_reason), rev = rev + 1
             WHERE id = ? AND rev = ?",
        )
        .bind(t.status.as_str())
        .bind(t.step.map(|s| s as i64))
        .bind(t.context.to_string())
        .bind(t.at)
        .bind(ended)
        .bind(&t.exit_reason)
        .bind(&t.run_id)
        .bind(t.rev)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        for e in &t.timeline {
            add_timeline(&mut tx, &t.run_id, e).await?;
        }
        set_timer(&mut tx, &t.run_id, t.timer.as_ref()).await?;
        clear_wait(&mut tx, &t.run_id).await?;
        if let Some(w) = &t.wait {
            sqlx::query(
                "INSERT INTO waits (run_id, event_type, match_expr, match_key) VALUES (?, ?, ?, ?)",
            )
            .bind(&t.run_id)
            .bind(&w.event_type)
            .bind(&w.match_expr)
            .bind(&w.match_key)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(m) = &t.sent {
            sqlx::query("INSERT INTO messages (customer_id, channel, kind, address, workflow, run_id, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .bind(&m.customer_id)
                .bind(&m.channel)
                .bind(&m.kind)
                .bind(&m.address)
                .bind(&m.workflow)
                .bind(&t.run_id)
                .bind(t.at)
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
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn runs_impl(&self, f: &RunFilter) -> StoreResult<Vec<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE (?1 IS NULL OR customer_id = ?1) AND (?2 IS NULL OR workflow = ?2) AND (?3 IS NULL OR status = ?3)
             ORDER BY started_at DESC, id DESC LIMIT ?4"
        );
        let rows = sqlx::query(&sql)
            .bind(&f.customer)
            .bind(&f.workflow)
            .bind(&f.status)
            .bind(f.limit.unwrap_or(100).clamp(1, 10_000))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(run_row).collect()
    }

    pub(super) async fn runs_for_event_impl(
        &self,
        workflow: &str,
        event_id: &str,
    ) -> StoreResult<Vec<RunRow>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE workflow = ? AND json_extract(context, '$.event.id') = ? ORDER BY started_at");
        let rows = sqlx::query(&sql)
            .bind(workflow)
            .bind(event_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(run_row).collect()
    }

    pub(super) async fn recent_steps_impl(
        &self,
        workflow: &str,
        version: u32,
        limit: i64,
    ) -> StoreResult<Vec<(String, TimelineEntry)>> {
        let rows = sqlx::query(
            "SELECT s.run_id, s.step_id, s.kind, s.status, s.attempt, s.at, s.detail FROM run_steps s JOIN runs r ON r.id = s.run_id
             WHERE r.workflow = ? AND r.version = ? ORDER BY s.id DESC LIMIT ?",
        )
        .bind(workflow)
        .bind(version as i64)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<String, _>(0), timeline_entry(r, 1)))
            .collect())
    }

    pub(super) async fn timeline_impl(&self, run_id: &str) -> StoreResult<Vec<TimelineEntry>> {
        let rows = sqlx::query("SELECT step_id, kind, status, attempt, at, detail FROM run_steps WHERE run_id = ? ORDER BY id")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| timeline_entry(r, 0)).collect())
    }

    pub(super) async fn workflow_counts_impl(
        &self,
        since: Millis,
    ) -> StoreResult<Vec<(String, WorkflowCounts)>> {
        let rows = sqlx::query(
            "SELECT workflow,
                    SUM(status IN ('active', 'waiting')),
                    SUM(status IN ('completed', 'exited') AND ended_at >= ?1),
                    SUM(status = 'failed' AND ended_at >= ?1)
             FROM runs GROUP BY workflow",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    WorkflowCounts {
                        active: r.get(1),
                        completed: r.get(2),
                        failed: r.get(3),
                    },
                )
            })
            .collect())
    }

    pub(super) async fn dead_letters_impl(&self, limit: i64) -> StoreResult<Vec<DeadLetterRow>> {
        let rows = sqlx::query("SELECT id, run_id, step_id, action, input, error, attempts, created_at, retried_at FROM dead_letters ORDER BY id DESC LIMIT ?")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| DeadLetterRow {
                id: r.get(0),
                run_id: r.get(1),
                step_id: r.get(2),
                action: r.get(3),
                input: json_of(&r.get::<String, _>(4)),
                error: r.get(5),
                attempts: r.get::<i64, _>(6) as u32,
                created_at: r.get(7),
                retried_at: r.get(8),
            })
            .collect())
    }

    pub(super) async fn retry_dead_letter_impl(
        &self,
        id: i64,
        at: Millis,
    ) -> StoreResult<Option<String>> {
        let mut tx = self.pool.begin().await?;
        let row =
            sqlx::query("SELECT run_id FROM dead_letters WHERE id = ? AND retried_at IS NULL")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let run_id: String = row.get(0);
        let done = sqlx::query("UPDATE runs SET status = 'active', ended_at = NULL, exit_reason = NULL, updated_at = ?, rev = rev + 1 WHERE id = ? AND status = 'failed'")
            .bind(at)
            .bind(&run_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        sqlx::query("UPDATE dead_letters SET retried_at = ? WHERE id = ?")
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        set_timer(&mut tx, &run_id, Some(&Timer::exec(at))).await?;
        let entry =
            TimelineEntry::run_level("retried", at, serde_json::json!({ "dead_letter": id }));
        add_timeline(&mut tx, &run_id, &entry).await?;
        tx.commit().await?;
        Ok(Some(run_id))
    }
}
