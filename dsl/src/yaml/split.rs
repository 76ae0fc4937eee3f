//! The YAML `split` step: an experiment's variants, each with a weight and its own steps.

use super::{with, Path, PathSeg, Reader};
use crate::ast::{ConvertAst, Spanned, StepKindAst, VariantAst};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_yaml::Value;

/// One variant of a split.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct YamlVariant {
    /// Its name, e.g. `coupon` or `holdout`.
    pub name: String,
    /// Its weight: its share of customers is weight / the sum of the weights.
    pub weight: u32,
    /// Its steps (none: straight on after the split).
    #[serde(default)]
    #[schemars(with = "Vec<super::YamlStep>")]
    pub steps: Vec<Value>,
}

impl Reader<'_> {
    /// `- split: name` with `convert:` and `variants:`.
    pub(super) fn split(
        &mut self,
        name: String,
        convert: Option<String>,
        variants: Vec<Value>,
        path: &Path,
    ) -> StepKindAst {
        let experiment = self.spanned(name, &with(path, PathSeg::Key("split")));
        let convert = convert.and_then(|c| self.convert(&c, &with(path, PathSeg::Key("convert"))));
        let list = with(path, PathSeg::Key("variants"));
        let variants = variants
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| self.variant(v, &with(&list, PathSeg::Index(i))))
            .collect();
        StepKindAst::Split {
            experiment,
            convert,
            variants,
        }
    }

    fn variant(&mut self, value: Value, path: &Path) -> Option<VariantAst> {
        let v: YamlVariant = match serde_yaml::from_value(value) {
            Ok(v) => v,
            Err(e) => {
                self.problem(
                    "split",
                    path,
                    format!("a variant is not right: {e}"),
                    "write `- { name: coupon, weight: 50, steps: [...] }`",
                );
                return None;
            }
        };
        Some(VariantAst {
            name: self.spanned(v.name, &with(path, PathSeg::Key("name"))),
            weight: Spanned::new(v.weight, self.span(&with(path, PathSeg::Key("weight")))),
            steps: self.steps(v.steps, &with(path, PathSeg::Key("steps"))),
        })
    }

    /// `order.placed within 7d`.
    fn convert(&mut self, text: &str, path: &Path) -> Option<ConvertAst> {
        let Some((event, within)) = text.split_once(" within ") else {
            self.problem(
                "split",
                path,
                format!("`{text}` does not say what converts within how long"),
                "write `<event type> within <duration>`, e.g. `order.placed within 7d`",
            );
            return None;
        };
        let ms = self.duration(within.trim(), path)?;
        Some(ConvertAst {
            event: self.spanned(event.trim().to_string(), path),
            within: Spanned::new(ms, self.span(path)),
        })
    }
}
