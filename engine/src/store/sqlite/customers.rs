//! Customer attribute merges of a matched batch in a few statements: the patches of each
//! customer are folded into one ([`compose_patches`]), customers not stored yet are created
//! empty in one statement, and one `UPDATE … FROM (VALUES …)` applies every folded patch with
//! SQLite's `json_patch` (RFC 7386, the same rule as [`crate::store::merge`]). A customer whose
//! patches do not fold into one keeps one statement per patch, in order.

use super::rows::merge_customer;
use crate::clock::Millis;
use crate::store::merge::compose_patches;
use crate::store::StoreResult;
use serde_json::{Map, Value};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::HashMap;

/// Applies `patches` (customer, patch, when) in order.
pub(super) async fn merge_all(
    tx: &mut SqliteConnection,
    patches: &[(String, Map<String, Value>, Millis)],
) -> StoreResult<()> {
    let (folded, in_turn) = fold(patches);
    for chunk in super::shapes::chunks(&folded) {
        let mut create =
            QueryBuilder::<Sqlite>::new("INSERT OR IGNORE INTO customers (id, data, updated_at) ");
        create.push_values(chunk, |mut row, (id, _, at)| {
            row.push_bind(*id).push_bind("{}").push_bind(*at);
        });
        create.build().execute(&mut *tx).await?;
        let mut update = QueryBuilder::<Sqlite>::new(
            "UPDATE customers SET data = json_patch(customers.data, v.column2), updated_at = v.column3 FROM (",
        );
        update.push_values(chunk, |mut row, (id, patch, at)| {
            row.push_bind(*id)
                .push_bind(Value::Object(patch.clone()).to_string())
                .push_bind(*at);
        });
        update.push(") AS v WHERE customers.id = v.column1");
        update.build().execute(&mut *tx).await?;
    }
    for (id, patch, at) in in_turn {
        merge_customer(&mut *tx, id, &Value::Object(patch.clone()), *at).await?;
    }
    Ok(())
}

/// One folded patch (with the latest time) per customer whose patches fold, in first-seen
/// order; the patches of the other customers, in order.
#[allow(clippy::type_complexity)]
fn fold(
    patches: &[(String, Map<String, Value>, Millis)],
) -> (
    Vec<(&str, Map<String, Value>, Millis)>,
    Vec<&(String, Map<String, Value>, Millis)>,
) {
    let mut by_customer: Vec<(&str, Vec<&(String, Map<String, Value>, Millis)>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for p in patches {
        let i = *index.entry(p.0.as_str()).or_insert_with(|| {
            by_customer.push((p.0.as_str(), Vec::new()));
            by_customer.len() - 1
        });
        by_customer[i].1.push(p);
    }
    let (mut folded, mut in_turn) = (Vec::new(), Vec::new());
    for (id, list) in by_customer {
        let mut patch = list[0].1.clone();
        if list[1..].iter().all(|p| compose_patches(&mut patch, &p.1)) {
            folded.push((id, patch, list[list.len() - 1].2));
        } else {
            in_turn.extend(list);
        }
    }
    (folded, in_turn)
}

#[cfg(test)]
mod tests {
    use super::fold;
    use serde_json::json;

    #[test]
    fn patches_fold_per_customer_unless_they_cannot() {
        let obj = |v: serde_json::Value| v.as_object().unwrap().clone();
        let patches = vec![
            ("a".to_string(), obj(json!({"tier": "gold"})), 1),
            ("b".to_string(), obj(json!({"tier": 1})), 2),
            ("a".to_string(), obj(json!({"name": "A"})), 3),
            ("b".to_string(), obj(json!({"tier": {"level": 2}})), 4),
        ];
        let (folded, in_turn) = fold(&patches);
        assert_eq!(folded.len(), 1);
        assert_eq!(folded[0].0, "a");
        assert_eq!(
            serde_json::Value::Object(folded[0].1.clone()),
            json!({"tier": "gold", "name": "A"})
        );
        assert_eq!(folded[0].2, 3);
        let b: Vec<i64> = in_turn.iter().map(|p| p.2).collect();
        assert_eq!(b, [2, 4], "b's patches stay separate, in order");
    }
}
