//! Checking a `split` step: its variants, their weights, and its conversion.

use super::Checker;
use crate::ast::*;
use crate::diag::Problem;
use crate::ir::*;

/// The largest sum of the weights of a split's variants.
pub const MAX_TOTAL_WEIGHT: u64 = 1_000_000;

impl Checker<'_> {
    /// The IR of a split whose variants continue to `next`.
    pub(super) fn split(
        &mut self,
        step: &StepAst,
        (experiment, convert, variants): (&Spanned<String>, Option<&ConvertAst>, &[VariantAst]),
        next: Target,
        id: &str,
        depth: usize,
    ) -> StepKind {
        if experiment.value.trim().is_empty() {
            self.problems.push(
                Problem::new("split", experiment.span, "the experiment has no name")
                    .hint("name it, e.g. `reminder-coupon`: its statistics are kept under it"),
            );
        }
        if variants.len() < 2 {
            self.problems.push(
                Problem::new("split", step.span, "a split needs at least two variants")
                    .hint("add a control, e.g. a variant `holdout` with weight 10 and no steps"),
            );
        }
        let mut seen: Vec<&str> = Vec::new();
        let mut total = 0u64;
        for v in variants {
            if seen.contains(&v.name.value.as_str()) {
                self.problems.push(
                    Problem::new(
                        "split",
                        v.name.span,
                        format!("variant `{}` is named twice", v.name.value),
                    )
                    .hint("give each variant its own name"),
                );
            }
            seen.push(&v.name.value);
            if v.weight.value == 0 {
                self.problems.push(
                    Problem::new(
                        "split",
                        v.weight.span,
                        "a variant's weight must be above zero",
                    )
                    .hint("remove the variant, or give it a weight such as 10"),
                );
            }
            total += u64::from(v.weight.value);
        }
        if total > MAX_TOTAL_WEIGHT {
            self.problems.push(
                Problem::new(
                    "split",
                    step.span,
                    format!("the weights add up to {total}, more than {MAX_TOTAL_WEIGHT}"),
                )
                .hint("weights are shares: percentages such as 45, 45, 10 are usual"),
            );
        }
        let convert = convert.map(|c| {
            self.event_type(&c.event);
            self.too_long(c.within.value, c.within.span, "a conversion window");
            if c.within.value <= 0 {
                self.problems.push(
                    Problem::new(
                        "split",
                        c.within.span,
                        "a conversion window must be longer than zero",
                    )
                    .hint("e.g. `order.placed within 7d`"),
                );
            }
            Conversion {
                event: c.event.value.clone(),
                within_ms: c.within.value,
            }
        });
        let variants = variants
            .iter()
            .map(|v| Variant {
                name: v.name.value.clone(),
                weight: v.weight.value,
                start: self.lower(
                    &v.steps,
                    &format!("{id}.{}.", v.name.value),
                    next,
                    depth + 1,
                ),
            })
            .collect();
        StepKind::Split {
            experiment: experiment.value.clone(),
            variants,
            convert,
        }
    }
}
