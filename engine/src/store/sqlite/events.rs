//! SQLite [`EventLog`]: events, customer and entity snapshots, and applying a matched batch.

use super::SqliteStore;
use crate::clock::Millis;
use crate::event::Event;
use crate::store::model::*;
use crate::store::rows::{json_of, EventRecord, PendingRecord};
use crate::store::views::RejectedMessage;
use crate::store::{EventLog, StoreResult};
use async_trait::async_trait;
use serde_json::{Map, Value};

#[async_trait]
impl EventLog for SqliteStore {
    async fn insert_events(&self, events: &[Event], at: Millis) -> StoreResult<Vec<bool>> {
        // Rows are serialized here, on the caller's thread; the writer thread only writes them.
        let rows: Vec<EventInsert> = events.iter().map(EventInsert::of).collect();
        self.write_tx(move |tx| insert_event_rows(tx, &rows, at))
            .await
    }

    async fn pending_events(&self, taken: &[i64], limit: i64) -> StoreResult<Vec<StoredEvent>> {
        // One writer commits sequence numbers in order and a batch is always the next events,
        // so the events taken are all those up to the last one.
        let after = taken.iter().max().copied().unwrap_or(0);
        let rows: Vec<PendingRecord> = sqlx::query_as(
            "SELECT seq, body, received_at FROM events WHERE seq > MAX(?, (SELECT seq FROM match_cursor)) ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(StoredEvent::from).collect())
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

    async fn received_events(
        &self,
        event_type: &str,
        from: Millis,
        to: Millis,
        limit: i64,
    ) -> StoreResult<Vec<Event>> {
        let rows: Vec<EventRecord> = sqlx::query_as(
            "SELECT seq, body FROM events WHERE type = ? AND received_at >= ? AND received_at <= ? ORDER BY received_at DESC, seq DESC LIMIT ?",
        )
        .bind(event_type)
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
                super::shapes::in_list("SELECT id, data FROM customers WHERE id", chunk)
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

    async fn customer_page(
        &self,
        after: &str,
        limit: i64,
    ) -> StoreResult<Vec<(String, Map<String, Value>)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, data FROM customers WHERE id > ? ORDER BY id LIMIT ?")
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        Ok(super::super::customer_rows(rows))
    }

    async fn score_changes(&self, customer: &str, per_score: i64) -> StoreResult<Vec<ScoreChange>> {
        super::scores::latest(&self.pool, customer, per_score).await
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
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE seq > (SELECT seq FROM match_cursor)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(n as u64)
    }

    async fn reject_message(&self, m: &RejectedMessage) -> StoreResult<()> {
        sqlx::query("INSERT INTO rejected_messages (at, source, reason, body) VALUES (?, ?, ?, ?)")
            .bind(m.at)
            .bind(&m.source)
            .bind(&m.reason)
            .bind(&m.body)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn rejected_messages(&self, limit: i64) -> StoreResult<Vec<RejectedMessage>> {
        Ok(sqlx::query_as(
            "SELECT id, at, source, reason, body FROM rejected_messages ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn apply_match(&self, batch: MatchBatch) -> StoreResult<Vec<bool>> {
        self.write_tx(move |tx| super::matched::apply(tx, &batch))
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

/// Inserts events; per event whether it was new (a duplicate id, also within `events`, is not).
fn insert_event_rows(
    tx: &rusqlite::Transaction<'_>,
    events: &[EventInsert],
    at: Millis,
) -> StoreResult<Vec<bool>> {
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO events (id, type, customer_id, occurred_at, received_at, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    events
        .iter()
        .map(|e| {
            let changed = insert.execute(rusqlite::params![
                e.id,
                e.event_type,
                e.customer_id,
                e.occurred_at,
                at,
                e.body
            ])?;
            Ok(changed == 1)
        })
        .collect()
}
