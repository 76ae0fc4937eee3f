//! Score changes on SQLite ([`crate::store::score_rows`]): appended with the matched batch (on
//! the writer connection), read per customer.

use crate::store::score_rows::{self, EVENTS_READ};
use crate::store::{ScoreChange, StoreResult};
use rusqlite::{params, Transaction};
use sqlx::SqlitePool;

/// Appends `changes`, one row per customer and event (an event already stored is kept once).
pub(super) fn append(tx: &Transaction<'_>, changes: &[ScoreChange]) -> StoreResult<()> {
    for row in score_rows::rows(changes) {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO score_changes (customer_id, at, event_id, changes)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![row.customer, row.at, row.event, row.changes])?;
    }
    Ok(())
}

/// The latest `per_score` changes of each of `customer`'s scores, by score, oldest first.
pub(super) async fn latest(
    pool: &SqlitePool,
    customer: &str,
    per_score: i64,
) -> StoreResult<Vec<ScoreChange>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT at, event_id, changes FROM score_changes WHERE customer_id = ?1
         ORDER BY at DESC, event_id DESC LIMIT ?2",
    )
    .bind(customer)
    .bind(EVENTS_READ)
    .fetch_all(pool)
    .await?;
    Ok(score_rows::latest(customer, rows, per_score))
}
