//! Taking a split: the run's customer gets the variant the experiment's stable hash gives them
//! (the same on every entry), recorded in the timeline and, with the next commit, as an entry
//! of the experiment that a later event of the customer may convert.

use super::*;
use crate::store::ExperimentEntry;
use mikawaya_dsl::experiment::assign;

impl<'w> Machine<'w> {
    /// Moves the run into its variant of the split at step `index`.
    pub(super) fn take_split(&mut self, w: &'w RuntimeWorkflow, index: usize, now: Now) {
        let step = &w.ir.steps[index];
        let StepKind::Split {
            experiment,
            variants,
            convert,
        } = &step.kind
        else {
            unreachable!("take_split at a step that is no split")
        };
        // Runs without a customer are split by run: sticky only for customers.
        let unit = self
            .run
            .customer_id
            .clone()
            .unwrap_or_else(|| self.run.id.clone());
        let weights: Vec<u32> = variants.iter().map(|v| v.weight).collect();
        let chosen = &variants[assign(experiment, &unit, &weights)];
        let detail = json!({ "experiment": experiment, "variant": chosen.name });
        self.timeline.push(entry(step, "variant", 1, detail, now));
        if let Some(taken) = self
            .run
            .context
            .as_object_mut()
            .map(|c| c.entry("experiments").or_insert_with(|| json!({})))
            .and_then(Value::as_object_mut)
        {
            taken.insert(experiment.clone(), json!(chosen.name));
        }
        self.experiments.push(ExperimentEntry {
            workflow: self.run.workflow.clone(),
            experiment: experiment.clone(),
            variant: chosen.name.clone(),
            unit,
            convert: convert.as_ref().map(|c| (c.event.clone(), c.within_ms)),
        });
        self.step = target_index(chosen.start);
    }
}
