//! SQLite [`EventLog`]: events, customer and entity snapshots, and applying a matched batch.

use super::rows::{add_timeline, clear_wait, json_of, set_timer, statuses_for, Tx};
use super::SqliteStore;
use crate::clock::Millis;
use crate::event::Event;
use crate::store::model::*;
use crate::store::status::Cause;
use crate::store::{EventLog, StoreError, StoreResult};
use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::SqlitePool;

#[derive(sqlx::FromRow)]
struct EventRecord {
    seq: i64,
    body: String,
}

impl EventRecord {
    fn event(&self) -> StoreResult<Event> {
        Event::from_stored(&self.body)
            .ok_or_else(|| StoreError::Corrupt(format!("event {}", self.seq)))
    }
}

#[async_trait]
impl EventLog for SqliteStore {
    async fn insert_events(&self, events: &[Event], at: Millis) -> StoreResult<Vec<bool>> {
        // Rows are serialized here, on the caller's thread; the writer thread only writes them.
        let rows: Vec<EventInsert> = events.iter().map(EventInsert::of).collect();
        let write = self.write.clone();
        self.writer
            .run(async move { insert_event_rows(&write, &rows, at).await })
            .await
    }

    async fn pending_events(&self, limit: i64) -> StoreResult<Vec<StoredEvent>> {
        let rows: Vec<EventRecord> =
            sqlx::query_as("SELECT seq, body FROM events WHERE processed = 0 ORDER BY seq LIMIT ?")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|r| StoredEvent {
                seq: r.seq,
                event: r.event().map_err(|e| e.to_string()),
            })
            .collect())
    }

    async fn event(&self, id: &str) -> StoreResult<Option<Event>> {
        let row: Option<EventRecord> = sqlx::query_as("SELECT seq, body FROM events WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.event()).transpose()
    }

    async fn events_between(
        &self,
        from: Millis,
        to: Millis,
        limit: i64,
    ) -> StoreResult<Vec<Event>> {
        let rows: Vec<EventRecord> = sqlx::query_as("SELECT seq, body FROM events WHERE occurred_at >= ? AND occurred_at < ? ORDER BY occurred_at, seq LIMIT ?")
            .bind(from)
            .bind(to)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(EventRecord::event).collect()
    }

    async fn customer(&self, id: &str) -> StoreResult<Option<Map<String, Value>>> {
        let row: Option<String> = sqlx::query_scalar("SELECT data FROM customers WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|data| match json_of(&data) {
            Value::Object(m) => Some(m),
            _ => None,
        }))
    }

    async fn customers(
        &self,
        ids: &[String],
    ) -> StoreResult<std::collections::HashMap<String, Map<String, Value>>> {
        let mut found = std::collections::HashMap::new();
        for chunk in super::shapes::chunks(ids) {
            let rows: Vec<(String, String)> =
                super::commit::in_list("SELECT id, data FROM customers WHERE id", chunk)
                    .build_query_as()
                    .fetch_all(&self.pool)
                    .await?;
            for (id, data) in rows {
                if let Value::Object(m) = json_of(&data) {
                    found.insert(id, m);
                }
            }
        }
        Ok(found)
    }

    async fn entities(&self, kind: &str) -> StoreResult<Vec<Value>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT data FROM entities WHERE kind = ? ORDER BY id")
                .bind(kind)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(|d| json_of(d)).collect())
    }

    async fn pending_count(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE processed = 0")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    async fn apply_match(&self, batch: MatchBatch) -> StoreResult<Vec<bool>> {
        let write = self.write.clone();
        self.writer
            .run(async move { apply_batch(&write, &batch).await })
            .await
    }
}

/// One event as its row is written.
struct EventInsert {
    id: String,
    event_type: String,
    customer_id: Option<String>,
    occurred_at: Millis,
    body: String,
}

impl EventInsert {
    fn of(e: &Event) -> Self {
        EventInsert {
            id: e.id.clone(),
            event_type: e.event_type.clone(),
            customer_id: e.customer_id.clone(),
            occurred_at: e.occurred_at,
            body: e.to_json().to_string(),
        }
    }
}

/// Inserts events in one transaction, multi-row inserts (RETURNING the ids that were new); per
/// event whether it was new.
async fn insert_event_rows(
    write: &SqlitePool,
    events: &[EventInsert],
    at: Millis,
) -> StoreResult<Vec<bool>> {
    let mut tx = write.begin().await?;
    let mut inserted = std::collections::HashSet::new();
    for chunk in super::shapes::chunks(events) {
        let mut q = sqlx::QueryBuilder::new(
            "INSERT OR IGNORE INTO events (id, type, customer_id, occurred_at, received_at, body) ",
        );
        q.push_values(chunk, |mut row, e| {
            row.push_bind(&e.id)
                .push_bind(&e.event_type)
                .push_bind(&e.customer_id)
                .push_bind(e.occurred_at)
                .push_bind(at)
                .push_bind(&e.body);
        });
        q.push(" RETURNING id");
        let ids: Vec<String> = q.build_query_scalar().fetch_all(&mut *tx).await?;
        inserted.extend(ids);
    }
    tx.commit().await?;
    Ok(events.iter().map(|e| inserted.remove(&e.id)).collect())
}

/// Everything one match batch changes, in one transaction.
async fn apply_batch(write: &SqlitePool, batch: &MatchBatch) -> StoreResult<Vec<bool>> {
    let mut tx = write.begin().await?;
    super::customers::merge_all(&mut tx, &batch.customers).await?;
    for (kind, id, data, at) in &batch.entities {
        sqlx::query("INSERT INTO entities (kind, id, data, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at")
            .bind(kind)
            .bind(id)
            .bind(data.to_string())
            .bind(at)
            .execute(&mut *tx)
            .await?;
    }
    // New runs first: a goal later in the batch may end one of them.
    let inserted = super::commit::insert_runs(&mut tx, &batch.new_runs).await?;
    for exit in &batch.exits {
        end_run(&mut tx, exit).await?;
    }
    for r in &batch.resumes {
        resume(&mut tx, r).await?;
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
        super::restraint::record_consent(
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
    super::commit::mark_processed(&mut tx, &batch.seqs).await?;
    tx.commit().await?;
    Ok(inserted)
}

/// Ends an unfinished run because its goal was reached.
async fn end_run(tx: &mut Tx<'_>, exit: &EarlyExit) -> StoreResult<()> {
    let sql = format!(
        "UPDATE runs SET status = 'exited', exit_reason = ?, ended_at = ?, updated_at = ?, rev = rev + 1 WHERE id = ? AND status IN {}",
        statuses_for(Cause::Goal)
    );
    let done = sqlx::query(&sql)
        .bind(&exit.reason)
        .bind(exit.at)
        .bind(exit.at)
        .bind(&exit.run_id)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 1 {
        set_timer(tx, &exit.run_id, None).await?;
        clear_wait(tx, &exit.run_id).await?;
        add_timeline(tx, &exit.run_id, &exit.entry()).await?;
    }
    Ok(())
}

/// Moves a waiting run on because its event arrived (only if it still waits at that step).
async fn resume(tx: &mut Tx<'_>, r: &Resume) -> StoreResult<()> {
    let status = r.status();
    let sql = format!(
        "UPDATE runs SET status = ?, step = ?, ended_at = ?, updated_at = ?, rev = rev + 1 WHERE id = ? AND status IN {} AND step = ?",
        statuses_for(Cause::EventArrived)
    );
    let done = sqlx::query(&sql)
        .bind(status.as_str())
        .bind(r.target.map(|s| s as i64))
        .bind(status.is_final().then_some(r.entry.at))
        .bind(r.entry.at)
        .bind(&r.run_id)
        .bind(r.wait_step as i64)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 1 {
        clear_wait(tx, &r.run_id).await?;
        let timer = r.target.map(|_| Timer::exec(r.entry.at));
        set_timer(tx, &r.run_id, timer.as_ref()).await?;
        add_timeline(tx, &r.run_id, &r.entry).await?;
    }
    Ok(())
}
