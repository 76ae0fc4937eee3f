//! What a token without `customers:read` sees of runs: their shape (ids, workflow, status,
//! steps, times, errors) but not the data that may be personal (the event and step outputs in a
//! run's context, timeline details with action inputs such as an email address, task data,
//! dead-letter inputs), each replaced by a note naming the scope.

use crate::core::access::{Identity, Scope};
use serde_json::{json, Value};

/// What stands in for hidden data.
pub fn hidden() -> Value {
    json!({ "hidden": "needs the customers:read scope" })
}

/// Replaces the data (`field`) of each of `rows` with [`hidden`] unless `who` may read
/// customers' personal data; e.g. `hide(&who, &mut runs, |r| &mut r.context)`.
pub fn hide<T>(who: &Identity, rows: &mut [T], field: impl Fn(&mut T) -> &mut Value) {
    if !who.may(Scope::CustomersRead) {
        for row in rows {
            *field(row) = hidden();
        }
    }
}
