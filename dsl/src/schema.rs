//! The JSON Schema of the YAML form, generated from the types serde reads, so it cannot drift.

use crate::yaml::YamlWorkflow;

/// The JSON Schema of a YAML workflow file, pretty-printed.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(YamlWorkflow);
    serde_json::to_string_pretty(&schema).expect("a schema serialises")
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

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
        for step_field in ["until_event", "max_backoff", "for_each", "from_event"] {
            assert!(
                text.contains(step_field),
                "the schema should describe `{step_field}`"
            );
        }
    }
}
