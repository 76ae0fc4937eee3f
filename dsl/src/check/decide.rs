//! Checking a decision table: a cell per input in every row, a known hit policy, and rows that
//! an earlier row always takes first (with the `first` policy they can never match).

use super::Checker;
use crate::ast::*;
use crate::decide::{hit_policy, shadowed_by, DecisionRow, HitPolicy};
use crate::decide_gaps::gap;
use crate::diag::Problem;
use crate::expr::Expr;
use crate::ir::*;

impl Checker<'_> {
    /// The IR of a `decide` step that continues to `next`.
    pub(super) fn decide(
        &mut self,
        step: &StepAst,
        (inputs, hit, complete, rows): (&[ExprSrc], Option<&Spanned<String>>, bool, &[RowAst]),
        next: Target,
    ) -> StepKind {
        let hit = hit_policy(hit).unwrap_or_else(|p| {
            self.problems.push(p);
            HitPolicy::First
        });
        if inputs.is_empty() || rows.is_empty() {
            self.problems.push(
                Problem::new("decide", step.span, "a decision table needs inputs and rows")
                    .hint("e.g. `inputs: [event.lead.region]` and rows `- { when: [APAC], then: { queue: apac } }`"),
            );
        }
        let compiled: Vec<Expr> = inputs.iter().filter_map(|i| self.expr(i)).collect();
        let cells: Vec<Vec<crate::decide::Cell>> = rows.iter().map(|r| r.cells.clone()).collect();
        for (j, row) in rows.iter().enumerate() {
            if row.cells.len() != inputs.len() {
                self.problems.push(
                    Problem::new(
                        "decide",
                        row.span,
                        format!(
                            "row {} has {} cell(s) for {} input(s)",
                            j + 1,
                            row.cells.len(),
                            inputs.len()
                        ),
                    )
                    .hint("write one cell per input, `-` where any value will do"),
                );
                continue;
            }
            if hit == HitPolicy::First {
                if let Some(i) = shadowed_by(&cells, j) {
                    self.problems.push(
                        Problem::new(
                            "decide",
                            row.span,
                            format!(
                                "row {} can never match: row {} takes every case it covers",
                                j + 1,
                                i + 1
                            ),
                        )
                        .hint("move the narrower row above the wider one, or remove it"),
                    );
                }
            }
        }
        let well_formed = rows.iter().all(|r| r.cells.len() == inputs.len());
        if complete && well_formed {
            if let Some(values) = gap(&cells, inputs.len()) {
                let missed: Vec<String> = inputs
                    .iter()
                    .zip(&values)
                    .map(|(i, v)| format!("{} = {v}", i.text.trim()))
                    .collect();
                self.problems.push(
                    Problem::new(
                        "decide",
                        step.span,
                        format!(
                            "the table is declared complete, but no row takes {}",
                            missed.join(", ")
                        ),
                    )
                    .hint("add a row for it, or end with a row of `-` cells for everything else"),
                );
            }
        }
        let rows = rows
            .iter()
            .map(|r| DecisionRow {
                cells: r.cells.clone(),
                output: r
                    .output
                    .iter()
                    .map(|(k, a)| (k.value.clone(), self.arg(a)))
                    .collect(),
            })
            .collect();
        StepKind::Decide {
            inputs: compiled,
            hit,
            complete,
            rows,
            next,
        }
    }
}
