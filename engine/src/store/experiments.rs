//! What the store keeps of experiments: each run's entry into a split (which variant, by whom,
//! until when a conversion counts) and the conversions, for per-variant statistics.

use crate::clock::Millis;

/// A run entering a variant of a split (written with the transition that took the split).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentEntry {
    /// The workflow.
    pub workflow: String,
    /// The experiment.
    pub experiment: String,
    /// The variant taken.
    pub variant: String,
    /// Who entered: the customer id (the run id for runs without a customer).
    pub unit: String,
    /// The event type that converts, and how long after entering it counts.
    pub convert: Option<(String, i64)>,
}

/// A customer's event that converts every open entry of theirs waiting for its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionHit {
    /// The customer.
    pub unit: String,
    /// The event's type.
    pub event_type: String,
    /// The event's id.
    pub event_id: String,
    /// When it occurred.
    pub at: Millis,
}

/// How many entered one variant and how many of them converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantCount {
    /// The workflow.
    pub workflow: String,
    /// The experiment.
    pub experiment: String,
    /// The variant.
    pub variant: String,
    /// Entries.
    pub entered: u64,
    /// Entries converted within their window.
    pub converted: u64,
}

impl From<(String, String, String, i64, i64)> for VariantCount {
    /// A row of `workflow, experiment, variant, entered, converted`.
    fn from(
        (workflow, experiment, variant, entered, converted): (String, String, String, i64, i64),
    ) -> Self {
        VariantCount {
            workflow,
            experiment,
            variant,
            entered: entered.max(0) as u64,
            converted: converted.max(0) as u64,
        }
    }
}
