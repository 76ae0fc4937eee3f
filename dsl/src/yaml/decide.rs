//! The YAML `decide` step: a decision table of `inputs` and `rows` (`when:` a cell per input,
//! `then:` the output values).

use super::{segs, with, Path, PathSeg, Reader};
use crate::ast::{RowAst, StepKindAst};
use crate::decide::yaml_cell;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_yaml::{Mapping, Value};

/// A decision table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct YamlDecide {
    /// The inputs, one per column, e.g. `[event.lead.region, event.lead.score]`.
    pub inputs: Vec<String>,
    /// `first` (default: the first matching row) or `collect` (every matching row).
    #[schemars(extend("enum" = ["first", "collect"]))]
    pub hit: Option<String>,
    /// `true`: every input combination must be taken by a row; the checker names one that
    /// is not (among values of the types the cells name).
    #[serde(default)]
    pub complete: bool,
    /// The rows, tested in order.
    pub rows: Vec<YamlRow>,
}

/// One row of a decision table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct YamlRow {
    /// A cell per input: `-` (any), a value (`APAC`, `3`), a test (`>= 80`, `!= "x"`,
    /// `in ["a", "b"]`).
    #[schemars(with = "Vec<serde_json::Value>")]
    pub when: Vec<Value>,
    /// The values the row outputs, e.g. `{ queue: sales-apac }`.
    #[schemars(with = "std::collections::BTreeMap<String, serde_json::Value>")]
    pub then: Mapping,
}

impl Reader<'_> {
    /// `- decide: { inputs, hit, rows }`.
    pub(super) fn decide(&mut self, d: YamlDecide, path: &Path) -> StepKindAst {
        let inputs = d
            .inputs
            .into_iter()
            .enumerate()
            .map(|(i, text)| {
                self.expr(
                    text,
                    &with(&with(path, PathSeg::Key("inputs")), PathSeg::Index(i)),
                )
            })
            .collect();
        let hit = d
            .hit
            .map(|h| self.spanned(h, &with(path, PathSeg::Key("hit"))));
        let rows_path = with(path, PathSeg::Key("rows"));
        let rows = d
            .rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| self.row(row, &with(&rows_path, PathSeg::Index(i))))
            .collect();
        StepKindAst::Decide {
            inputs,
            hit,
            complete: d.complete,
            rows,
        }
    }

    fn row(&mut self, row: YamlRow, path: &Path) -> RowAst {
        let when = with(path, PathSeg::Key("when"));
        let mut cells = Vec::new();
        for (i, value) in row.when.iter().enumerate() {
            let at = with(&when, PathSeg::Index(i));
            match yaml_cell(value, self.loc.text_offset(&segs(&at))) {
                Ok(cell) => cells.push(cell),
                Err(p) => {
                    // The problem is reported; a stand-in keeps the row's cells counted right.
                    self.diags.push(p);
                    cells.push(crate::decide::Cell::Any);
                }
            }
        }
        let then = with(path, PathSeg::Key("then"));
        let output = row
            .then
            .iter()
            .filter_map(|(k, v)| {
                let key = k.as_str()?.to_string();
                let p = with(&then, PathSeg::Name(key.clone()));
                Some((self.spanned(key, &p), self.arg(v, &p)))
            })
            .collect();
        RowAst {
            cells,
            output,
            span: self.span(path),
        }
    }
}
