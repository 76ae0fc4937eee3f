//! Score changes on PostgreSQL ([`crate::store::score_rows`]): appended with the matched
//! batch, read per customer.

use crate::store::score_rows::{self, EVENTS_READ};
use crate::store::{ScoreChange, StoreResult};
use sqlx::{PgConnection, PgPool};

/// Appends `changes` in one statement, one row per customer and event (an event already stored
/// is kept once).
pub(super) async fn append(tx: &mut PgConnection, changes: &[ScoreChange]) -> StoreResult<()> {
    let rows = score_rows::rows(changes);
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO score_changes (customer_id, at, event_id, changes)
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[])
         ON CONFLICT DO NOTHING",
    )
    .bind(rows.iter().map(|r| r.customer).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.event).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.changes.as_str()).collect::<Vec<_>>())
    .execute(tx)
    .await?;
    Ok(())
}

/// The latest `per_score` changes of each of `customer`'s scores, by score, oldest first.
pub(super) async fn latest(
    pool: &PgPool,
    customer: &str,
    per_score: i64,
) -> StoreResult<Vec<ScoreChange>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT at, event_id, changes FROM score_changes WHERE customer_id = $1
         ORDER BY at DESC, event_id COLLATE \"C\" DESC LIMIT $2",
    )
    .bind(customer)
    .bind(EVENTS_READ)
    .fetch_all(pool)
    .await?;
    Ok(score_rows::latest(customer, rows, per_score))
}
