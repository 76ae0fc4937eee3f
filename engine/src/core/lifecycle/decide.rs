//! Taking a decision table: the inputs are evaluated once, each row's cells tested against
//! them, and the first matching row's values (or every matching row's, with `collect`) become
//! the step's output, which later steps read as `steps.<id>.output`.

use super::*;
use mikawaya_dsl::decide::HitPolicy;
use mikawaya_dsl::expr::Val;

impl<'w> Machine<'w> {
    /// Decides the table at step `index` and moves on to its next step.
    pub(super) fn take_decision(&mut self, w: &'w RuntimeWorkflow, index: usize, now: Now) {
        let step = &w.ir.steps[index];
        let StepKind::Decide {
            inputs,
            hit,
            rows,
            next,
            ..
        } = &step.kind
        else {
            unreachable!("take_decision at a step that is no decision table")
        };
        let data = RunScope {
            run: &self.run,
            customer: &self.customer,
            run_value: &self.run_value,
        };
        let scope = data.scope(to_time(now.ms), w.tz);
        let values: Vec<Val<'_>> = inputs
            .iter()
            .map(|e| e.eval(&scope).unwrap_or(Val::Null))
            .collect();
        let mut matched = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.cells.iter().zip(&values).all(|(cell, v)| cell.matches(v)));
        let chosen: Vec<usize> = match hit {
            HitPolicy::First => matched.next().map(|(i, _)| i).into_iter().collect(),
            HitPolicy::Collect => matched.map(|(i, _)| i).collect(),
        };
        let mut errors = Vec::new();
        let mut outputs: Vec<Value> = chosen
            .iter()
            .map(|&i| {
                eval_args(&rows[i].output, &scope).unwrap_or_else(|e| {
                    errors.push(format!("row {}: {e}", i + 1));
                    Value::Null
                })
            })
            .collect();
        let output = match hit {
            HitPolicy::First => outputs.pop().unwrap_or(Value::Null),
            HitPolicy::Collect => Value::Array(outputs),
        };
        let inputs: Vec<Value> = values.iter().map(Val::to_json).collect();
        let rows_hit: Vec<usize> = chosen.iter().map(|i| i + 1).collect();
        let detail =
            json!({ "inputs": inputs, "rows": rows_hit, "output": output, "errors": errors });
        if let Some(steps) = self
            .run
            .context
            .get_mut("steps")
            .and_then(Value::as_object_mut)
        {
            steps.insert(step.id.clone(), json!({ "output": output }));
        }
        self.timeline.push(entry(step, "decided", 1, detail, now));
        self.step = target_index(*next);
    }
}
