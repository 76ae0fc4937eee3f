//! Score changes on SQLite: appended with the matched batch (on the writer connection), read
//! per customer.

use crate::store::{ChangeRow, ScoreChange, StoreResult};
use rusqlite::{params, Transaction};
use sqlx::SqlitePool;

/// Appends `changes` (a change already stored is kept once).
pub(super) fn append(tx: &Transaction<'_>, changes: &[ScoreChange]) -> StoreResult<()> {
    for c in changes {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO score_changes (customer_id, score, event_id, rule, points, value, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![&*c.customer, &*c.score, &*c.event, &*c.rule, c.points, c.value, c.at])?;
    }
    Ok(())
}

/// The latest `per_score` changes of each of `customer`'s scores, by score, oldest first.
pub(super) async fn latest(
    pool: &SqlitePool,
    customer: &str,
    per_score: i64,
) -> StoreResult<Vec<ScoreChange>> {
    let rows: Vec<ChangeRow> = sqlx::query_as(
        "SELECT score, event_id, rule, points, value, at FROM (
             SELECT *, ROW_NUMBER() OVER (PARTITION BY score ORDER BY at DESC, event_id DESC, rule DESC) AS n
             FROM score_changes WHERE customer_id = ?1) AS latest
         WHERE n <= ?2 ORDER BY score, at, event_id, rule",
    )
    .bind(customer)
    .bind(per_score)
    .fetch_all(pool)
    .await?;
    Ok(super::super::score_change_rows(customer, rows))
}
