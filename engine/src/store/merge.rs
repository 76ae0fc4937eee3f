//! The customer merge rule, stated once: a JSON merge patch (RFC 7386, the `json-patch` crate).
//! An event's `customer` object is merged into the stored attributes: objects merge deeply,
//! `null` removes a key, anything else replaces. SQLite's `json_patch` implements the same RFC;
//! the store conformance suite checks both give the same result.

use serde_json::{Map, Value};

/// Merges `patch` into `target`.
pub fn merge_patch(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    merge_value(target, &Value::Object(patch.clone()));
}

/// Merges `patch` (a JSON object) into `target`, without copying the patch first.
pub fn merge_value(target: &mut Map<String, Value>, patch: &Value) {
    let mut doc = Value::Object(std::mem::take(target));
    json_patch::merge(&mut doc, patch);
    if let Value::Object(m) = doc {
        *target = m;
    }
}

/// Folds `second` into `first` so that applying the result equals applying `first`, then
/// `second` (many events of one customer become one write). Returns `false`, leaving `first`
/// partly changed, when no single merge patch can say it: `first` sets a key to a non-object
/// (or removes it) and `second` then merges an object into it, which replaces the stored value
/// where a patch could only merge into it.
pub fn compose_patches(first: &mut Map<String, Value>, second: &Map<String, Value>) -> bool {
    for (key, later) in second {
        match (later, first.get_mut(key)) {
            (Value::Object(inner), Some(Value::Object(earlier))) => {
                if !compose_patches(earlier, inner) {
                    return false;
                }
            }
            (Value::Object(_), Some(_)) => return false,
            _ => {
                first.insert(key.clone(), later.clone());
            }
        }
    }
    true
}

/// The patch that records consent for a channel: `{"consent": {<channel>: <granted>}}`.
pub fn consent_patch(channel: &str, granted: bool) -> Map<String, Value> {
    let mut consent = Map::new();
    consent.insert(channel.to_string(), Value::Bool(granted));
    let mut patch = Map::new();
    patch.insert("consent".into(), Value::Object(consent));
    patch
}

#[cfg(test)]
mod tests {
    use super::{compose_patches, merge_patch};
    use proptest::prelude::*;
    use serde_json::{json, Map, Value};

    /// Small JSON objects over few keys, so patches often touch the same keys.
    fn object() -> impl Strategy<Value = Map<String, Value>> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (0..3i64).prop_map(|n| json!(n)),
        ];
        let value = leaf.prop_recursive(3, 16, 3, |inner| {
            prop::collection::btree_map(prop::sample::select(vec!["a", "b", "c"]), inner, 0..3)
                .prop_map(|m| {
                    Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                })
        });
        prop::collection::btree_map(prop::sample::select(vec!["a", "b", "c"]), value, 0..3)
            .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    proptest! {
        #[test]
        fn a_composed_patch_does_what_the_two_did_in_turn(doc in object(), p1 in object(), p2 in object()) {
            let mut in_turn = doc.clone();
            merge_patch(&mut in_turn, &p1);
            merge_patch(&mut in_turn, &p2);
            let mut composed = p1.clone();
            if compose_patches(&mut composed, &p2) {
                let mut at_once = doc.clone();
                merge_patch(&mut at_once, &composed);
                prop_assert_eq!(at_once, in_turn);
            }
        }
    }

    #[test]
    fn composing_refuses_an_object_merged_into_a_value_the_first_patch_set() {
        let mut first = json!({"tier": "gold", "consent": {"email": true}})
            .as_object()
            .unwrap()
            .clone();
        let second = json!({"consent": {"sms": false}, "tier": {"level": 2}});
        assert!(!compose_patches(&mut first, second.as_object().unwrap()));
        let mut first = json!({"consent": {"email": true}, "name": "A"})
            .as_object()
            .unwrap()
            .clone();
        let second = json!({"consent": {"email": null, "sms": true}, "name": null});
        assert!(compose_patches(&mut first, second.as_object().unwrap()));
        assert_eq!(
            Value::Object(first),
            json!({"consent": {"email": null, "sms": true}, "name": null})
        );
    }

    #[test]
    fn merge_patch_is_deep_and_null_removes() {
        let mut a = json!({"consent": {"email": true, "sms": false}, "tier": "gold"})
            .as_object()
            .unwrap()
            .clone();
        merge_patch(
            &mut a,
            json!({"consent": {"sms": true}, "tier": null})
                .as_object()
                .unwrap(),
        );
        assert_eq!(
            serde_json::Value::Object(a),
            json!({"consent": {"email": true, "sms": true}})
        );
    }
}
