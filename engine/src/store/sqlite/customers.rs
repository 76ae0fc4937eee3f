//! Customer attribute merges of a matched batch: the patches of each customer are folded into
//! one ([`compose_patches`]), so SQLite's `json_patch` (RFC 7386, the same rule as
//! [`crate::store::merge`]) parses and rewrites each customer once per batch. A customer whose
//! patches do not fold into one has them applied one by one, in order.

use super::statements::merge_customer;
use crate::clock::Millis;
use crate::store::merge::compose_patches;
use crate::store::StoreResult;
use rusqlite::Transaction;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Applies `patches` (customer, patch, when) in order.
pub(super) fn merge_all(
    tx: &Transaction<'_>,
    patches: &[(String, Map<String, Value>, Millis)],
) -> StoreResult<()> {
    let (folded, in_turn) = fold(patches);
    for (id, patch, at) in folded {
        merge_customer(tx, id, &Value::Object(patch).to_string(), at)?;
    }
    for (id, patch, at) in in_turn {
        merge_customer(tx, id, &Value::Object(patch.clone()).to_string(), *at)?;
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
