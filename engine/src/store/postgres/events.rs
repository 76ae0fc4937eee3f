//! PostgreSQL [`EventLog`]: events and their queue, customer and entity snapshots.

use super::PostgresStore;
use crate::clock::Millis;
use crate::event::Event;
use crate::store::model::*;
use crate::store::rows::{json_of, EventRecord, PendingRecord};
use crate::store::views::RejectedMessage;
use crate::store::{EventLog, StoreResult};
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::collections::HashMap;

#[async_trait]
impl EventLog for PostgresStore {
    async fn insert_events(&self, events: &[Event], at: Millis) -> StoreResult<Vec<bool>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let column = |f: fn(&Event) -> String| events.iter().map(f).collect::<Vec<_>>();
        // One statement stores the new events and queues them for matching; `ON CONFLICT`
        // leaves out ids stored before and repeats within the list (the first one is kept).
        let fresh: Vec<String> = sqlx::query_scalar(&format!(
            "WITH stored AS (
                 INSERT INTO events (id, type, customer_id, occurred_at, received_at, body)
                 SELECT id, type, customer_id, occurred_at, $5, body
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $6::text[]) WITH ORDINALITY
                      AS t(id, type, customer_id, occurred_at, body, n)
                 ORDER BY n
                 ON CONFLICT (id) DO NOTHING
                 RETURNING seq, id),
             queued AS (INSERT INTO event_queue (seq) SELECT seq FROM stored)
             SELECT id FROM stored, pg_notify('{}', '') AS hint",
            self.channel
        ))
        .bind(column(|e| e.id.clone()))
        .bind(column(|e| e.event_type.clone()))
        .bind(events.iter().map(|e| e.customer_id.clone()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.occurred_at).collect::<Vec<_>>())
        .bind(at)
        .bind(column(|e| e.to_json().to_string()))
        .fetch_all(&self.pool)
        .await?;
        let mut fresh: std::collections::HashSet<String> = fresh.into_iter().collect();
        // The first occurrence of an id is the new one.
        Ok(events.iter().map(|e| fresh.remove(&e.id)).collect())
    }

    async fn pending_events(&self, taken: &[i64], limit: i64) -> StoreResult<Vec<StoredEvent>> {
        let Some(fence) = self.hold_matcher().await? else {
            return Ok(Vec::new());
        };
        let rows: Vec<PendingRecord> = sqlx::query_as(
            "SELECT e.seq, e.body, e.received_at FROM event_queue q JOIN events e ON e.seq = q.seq
             WHERE q.seq <> ALL($1) ORDER BY q.seq LIMIT $2",
        )
        .bind(taken)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let events: Vec<StoredEvent> = rows.into_iter().map(StoredEvent::from).collect();
        self.read_under(events.iter().map(|e| e.seq), fence);
        Ok(events)
    }

    async fn event(&self, id: &str) -> StoreResult<Option<Event>> {
        let row: Option<EventRecord> = sqlx::query_as("SELECT seq, body FROM events WHERE id = $1")
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
        let rows: Vec<EventRecord> = sqlx::query_as(
            "SELECT seq, body FROM events WHERE occurred_at >= $1 AND occurred_at < $2 ORDER BY occurred_at, seq LIMIT $3",
        )
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
            "SELECT seq, body FROM events WHERE type = $1 AND received_at >= $2 AND received_at <= $3 ORDER BY received_at DESC, seq DESC LIMIT $4",
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
        Ok(self.customers(&[id.to_string()]).await?.remove(id))
    }

    async fn customers(&self, ids: &[String]) -> StoreResult<HashMap<String, Map<String, Value>>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, data::text FROM customers WHERE id = ANY($1)")
                .bind(ids)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, data)| match json_of(&data) {
                Value::Object(m) => Some((id, m)),
                _ => None,
            })
            .collect())
    }

    async fn customer_page(
        &self,
        after: &str,
        limit: i64,
    ) -> StoreResult<Vec<(String, Map<String, Value>)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, data::text FROM customers WHERE id COLLATE \"C\" > $1 ORDER BY id COLLATE \"C\" LIMIT $2",
        )
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
            sqlx::query_scalar("SELECT data::text FROM entities WHERE kind = $1 ORDER BY id")
                .bind(kind)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(|d| json_of(d)).collect())
    }

    async fn reject_message(&self, m: &RejectedMessage) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO rejected_messages (at, source, reason, body) VALUES ($1, $2, $3, $4)",
        )
        .bind(m.at)
        .bind(&m.source)
        .bind(&m.reason)
        .bind(&m.body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn rejected_messages(&self, limit: i64) -> StoreResult<Vec<RejectedMessage>> {
        Ok(sqlx::query_as(
            "SELECT id, at, source, reason, body FROM rejected_messages ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    fn on_remote_work(&self, wake: std::sync::Arc<dyn Fn() + Send + Sync>) {
        *self.wake.lock().expect("the wake-up lock") = Some(wake);
    }

    async fn apply_match(&self, batch: MatchBatch) -> StoreResult<Vec<bool>> {
        let mut tx = self.pool.begin().await?;
        self.check_matcher(&mut tx, &batch.seqs).await?;
        let peers = self.peers.read().expect("peers lock").clone();
        let inserted = super::matched::apply(&mut tx, &batch, &self.node, &peers).await?;
        if !batch.new_runs.is_empty() || !batch.resumes.is_empty() {
            // Runs are due: the other nodes' executors may claim them at once.
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(&*self.channel)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    async fn pending_count(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM event_queue")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }
}
