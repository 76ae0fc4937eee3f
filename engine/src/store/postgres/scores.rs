//! Score changes on PostgreSQL: appended with the matched batch, read per customer.

use crate::store::{ChangeRow, ScoreChange, StoreResult};
use sqlx::{PgConnection, PgPool};

/// Appends `changes` in one statement (a change already stored is kept once).
pub(super) async fn append(tx: &mut PgConnection, changes: &[ScoreChange]) -> StoreResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&ScoreChange) -> &str| changes.iter().map(f).collect::<Vec<&str>>();
    let numbers = |f: fn(&ScoreChange) -> f64| changes.iter().map(f).collect::<Vec<f64>>();
    sqlx::query(
        "INSERT INTO score_changes (customer_id, score, event_id, rule, points, value, at)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::bigint[])
         ON CONFLICT DO NOTHING",
    )
    .bind(column(|c| &c.customer))
    .bind(column(|c| &c.score))
    .bind(column(|c| &c.event))
    .bind(column(|c| &c.rule))
    .bind(numbers(|c| c.points))
    .bind(numbers(|c| c.value))
    .bind(changes.iter().map(|c| c.at).collect::<Vec<i64>>())
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
    let rows: Vec<ChangeRow> = sqlx::query_as(
        "SELECT score, event_id, rule, points, value, at FROM (
             SELECT *, ROW_NUMBER() OVER (PARTITION BY score ORDER BY at DESC, event_id COLLATE \"C\" DESC, rule COLLATE \"C\" DESC) AS n
             FROM score_changes WHERE customer_id = $1) AS latest
         WHERE n <= $2 ORDER BY score COLLATE \"C\", at, event_id COLLATE \"C\", rule COLLATE \"C\"",
    )
    .bind(customer)
    .bind(per_score)
    .fetch_all(pool)
    .await?;
    Ok(super::super::score_change_rows(customer, rows))
}
