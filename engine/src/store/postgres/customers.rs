//! Customer attribute merges on PostgreSQL: the rows of the customers concerned are locked
//! (created empty first, so two nodes creating one customer at once cannot lose a merge), the
//! patches applied in order by [`crate::store::merge::merge_patch`] (the rule stated once), and
//! each customer written back once.

use crate::clock::Millis;
use crate::store::merge::merge_patch;
use crate::store::StoreResult;
use serde_json::{Map, Value};
use sqlx::PgConnection;
use std::collections::BTreeMap;

/// Applies `patches` (customer, patch, when) in order.
pub(super) async fn merge_all(
    tx: &mut PgConnection,
    patches: &[(String, Map<String, Value>, Millis)],
) -> StoreResult<()> {
    if patches.is_empty() {
        return Ok(());
    }
    // Sorted ids: every transaction locks customers in the same order, so none deadlock.
    let mut merged: BTreeMap<&str, (Map<String, Value>, Millis)> = patches
        .iter()
        .map(|(id, _, _)| (id.as_str(), (Map::new(), 0)))
        .collect();
    let ids: Vec<&str> = merged.keys().copied().collect();
    sqlx::query(
        "INSERT INTO customers (id, data, updated_at) SELECT id, '{}', 0 FROM UNNEST($1::text[]) AS t(id) ORDER BY id
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    let stored: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, data::text FROM customers WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    for (id, data) in stored {
        if let (Some(entry), Ok(Value::Object(m))) =
            (merged.get_mut(id.as_str()), serde_json::from_str(&data))
        {
            entry.0 = m;
        }
    }
    for (id, patch, at) in patches {
        let entry = merged.get_mut(id.as_str()).expect("every id was collected");
        merge_patch(&mut entry.0, patch);
        entry.1 = entry.1.max(*at);
    }
    sqlx::query(
        "UPDATE customers c SET data = t.data::jsonb, updated_at = t.at
         FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS t(id, data, at) WHERE c.id = t.id",
    )
    .bind(&ids)
    .bind(
        merged
            .values()
            .map(|(m, _)| Value::Object(m.clone()).to_string())
            .collect::<Vec<_>>(),
    )
    .bind(merged.values().map(|(_, at)| *at).collect::<Vec<_>>())
    .execute(tx)
    .await?;
    Ok(())
}
