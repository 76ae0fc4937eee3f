//! The customer merge rule, stated once: a JSON merge patch (RFC 7386, the `json-patch` crate).
//! An event's `customer` object is merged into the stored attributes: objects merge deeply,
//! `null` removes a key, anything else replaces. SQLite's `json_patch` implements the same RFC;
//! the store conformance suite checks both give the same result.

use serde_json::{Map, Value};

/// Merges `patch` into `target`.
pub fn merge_patch(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    let mut doc = Value::Object(std::mem::take(target));
    json_patch::merge(&mut doc, &Value::Object(patch.clone()));
    if let Value::Object(m) = doc {
        *target = m;
    }
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
    use super::merge_patch;
    use serde_json::json;

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
