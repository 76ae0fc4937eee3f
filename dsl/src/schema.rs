//! The JSON Schema of the YAML form, generated from the types serde reads, so it cannot drift.

use crate::yaml::YamlWorkflow;

/// The JSON Schema of a YAML workflow file, pretty-printed.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(YamlWorkflow);
    serde_json::to_string_pretty(&schema).expect("a schema serialises")
}
