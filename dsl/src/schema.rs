//! The JSON Schema of the YAML form, generated from the types serde reads, so it cannot drift.

use crate::yaml::YamlWorkflow;

/// The JSON Schema of a YAML workflow file, pretty-printed.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(YamlWorkflow);
    serde_json::to_string_pretty(&schema).expect("a schema serialises")
}

/// The fields of the YAML form that hold an expression over `event` and `customer`.
const EXPRESSION_FIELDS: [&str; 6] = ["when", "if", "where", "match", "date", "per"];

/// The JSON Schema with `paths` (from the event catalog: `event.cart.total`) as the
/// `examples` of every expression field, which editors using the schema (the YAML language
/// server of VS Code and others) offer as completions.
pub fn json_schema_with_paths(paths: &[String]) -> String {
    let mut schema = serde_json::to_value(schemars::schema_for!(YamlWorkflow)).expect("a schema");
    if !paths.is_empty() {
        add_examples(&mut schema, paths);
    }
    serde_json::to_string_pretty(&schema).expect("a schema serialises")
}

fn add_examples(node: &mut serde_json::Value, paths: &[String]) {
    match node {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Object(props)) = map.get_mut("properties") {
                for field in EXPRESSION_FIELDS {
                    if let Some(serde_json::Value::Object(p)) = props.get_mut(field) {
                        p.insert("examples".into(), serde_json::json!(paths));
                    }
                }
            }
            map.values_mut().for_each(|v| add_examples(v, paths));
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| add_examples(v, paths)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    #[test]
    fn catalog_paths_become_examples_of_expression_fields() {
        let paths = vec!["event.cart.total".to_string()];
        let schema: Value = serde_json::from_str(&super::json_schema_with_paths(&paths)).unwrap();
        assert_eq!(
            schema["properties"]["when"]["examples"],
            serde_json::json!(paths)
        );
        let text = schema.to_string();
        assert!(
            text.matches("event.cart.total").count() >= 3,
            "when, if and the wait's match at least: {text}"
        );
        let plain: Value = serde_json::from_str(&super::json_schema_with_paths(&[])).unwrap();
        assert!(!plain.to_string().contains("examples"));
    }

    #[test]
    fn schema_describes_the_yaml_form() {
        let schema: Value = serde_json::from_str(&super::json_schema()).unwrap();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(required, ["workflow", "version", "trigger", "steps"]);
        let props = schema["properties"].as_object().unwrap();
        for key in ["when", "goal", "re_enroll", "over_cap", "description"] {
            assert!(props.contains_key(key), "missing {key}");
        }
        let text = schema.to_string();
        // Settings with a fixed set of values are enums, which forms show as selects.
        assert_eq!(
            props["priority"]["enum"],
            serde_json::json!(["low", "normal", "high"])
        );
        assert_eq!(
            props["over_cap"]["enum"],
            serde_json::json!(["skip", "defer"])
        );
        for step_field in ["until_event", "max_backoff", "for_each", "from_event"] {
            assert!(
                text.contains(step_field),
                "the schema should describe `{step_field}`"
            );
        }
    }
}
