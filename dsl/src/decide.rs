//! Decision tables: a `decide` step tests its inputs against rows of cells (`-` any, a value,
//! `>= 80`, `in ["a", "b"]`) and outputs the first matching row's values (or every matching
//! row's, with the `collect` hit policy). Rows an earlier row always wins over are found here.

use crate::ast::Spanned;
use crate::diag::Problem;
use crate::expr::{equal, num_json, order, unescape, Val};
use crate::grammar::{syntax_problem, Rule, RuleParser};
use crate::ir::Arg;
use pest::iterators::Pair;
use pest::Parser;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Which rows a decision table outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HitPolicy {
    /// The first matching row's output (null when none matches).
    #[default]
    First,
    /// A list of every matching row's output.
    Collect,
}

/// One row: a test per input and the values it outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRow {
    /// A test per input.
    pub cells: Vec<Cell>,
    /// What it outputs.
    pub output: BTreeMap<String, Arg>,
}

/// A test of one input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "test", content = "value", rename_all = "snake_case")]
pub enum Cell {
    /// `-`: anything.
    Any,
    /// Equal to this value.
    Is(Value),
    /// Not equal to it (`!= "x"`).
    Not(Value),
    /// Below it (`< 10`).
    Lt(Value),
    /// At most it (`<= 10`).
    Le(Value),
    /// Above it (`> 10`).
    Gt(Value),
    /// At least it (`>= 10`).
    Ge(Value),
    /// One of these (`in ["a", "b"]`).
    In(Vec<Value>),
}

impl Cell {
    /// Whether `input` passes the test (comparisons of mismatched types fail).
    pub fn matches(&self, input: &Val<'_>) -> bool {
        let cmp = |v: &Value| order(input, &Val::from_json(v)).ok();
        match self {
            Cell::Any => true,
            Cell::Is(v) => equal(input, &Val::from_json(v)),
            Cell::Not(v) => !equal(input, &Val::from_json(v)),
            Cell::Lt(v) => cmp(v) == Some(Ordering::Less),
            Cell::Le(v) => matches!(cmp(v), Some(Ordering::Less | Ordering::Equal)),
            Cell::Gt(v) => cmp(v) == Some(Ordering::Greater),
            Cell::Ge(v) => matches!(cmp(v), Some(Ordering::Greater | Ordering::Equal)),
            Cell::In(vs) => vs.iter().any(|v| equal(input, &Val::from_json(v))),
        }
    }

    /// Whether every input `other` passes passes this test too, where that is knowable (false
    /// when it cannot be told).
    pub fn covers(&self, other: &Cell) -> bool {
        let num = |v: &Value| v.as_f64();
        match (self, other) {
            (Cell::Any, _) => true,
            (a, b) if a == b => true,
            (_, Cell::Any) => false,
            (Cell::In(vs), Cell::Is(v)) => vs.contains(v),
            (Cell::In(vs), Cell::In(ws)) => ws.iter().all(|w| vs.contains(w)),
            (a, Cell::Is(v)) => a.matches(&Val::from_json(v)),
            (a, Cell::In(ws)) => ws.iter().all(|w| a.matches(&Val::from_json(w))),
            (Cell::Ge(a), Cell::Ge(b) | Cell::Gt(b)) | (Cell::Gt(a), Cell::Gt(b)) => {
                matches!((num(a), num(b)), (Some(a), Some(b)) if b >= a)
            }
            (Cell::Gt(a), Cell::Ge(b)) => matches!((num(a), num(b)), (Some(a), Some(b)) if b > a),
            (Cell::Le(a), Cell::Le(b) | Cell::Lt(b)) | (Cell::Lt(a), Cell::Lt(b)) => {
                matches!((num(a), num(b)), (Some(a), Some(b)) if b <= a)
            }
            (Cell::Lt(a), Cell::Le(b)) => matches!((num(a), num(b)), (Some(a), Some(b)) if b < a),
            _ => false,
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Any => f.write_str("-"),
            Cell::Is(v) => write!(f, "{v}"),
            Cell::Not(v) => write!(f, "!= {v}"),
            Cell::Lt(v) => write!(f, "< {v}"),
            Cell::Le(v) => write!(f, "<= {v}"),
            Cell::Gt(v) => write!(f, "> {v}"),
            Cell::Ge(v) => write!(f, ">= {v}"),
            Cell::In(vs) => {
                let items: Vec<String> = vs.iter().map(Value::to_string).collect();
                write!(f, "in [{}]", items.join(", "))
            }
        }
    }
}

/// The index of the first earlier row that takes every case row `j` covers (first hit).
pub fn shadowed_by(rows: &[Vec<Cell>], j: usize) -> Option<usize> {
    (0..j).find(|&i| {
        rows[i].len() == rows[j].len() && rows[i].iter().zip(&rows[j]).all(|(a, b)| a.covers(b))
    })
}

/// Reads a `cell` pair of the grammar.
pub(crate) fn cell_from(pair: Pair<'_, Rule>) -> Cell {
    let inner = pair.into_inner().next().expect("grammar: cell form");
    match inner.as_rule() {
        Rule::cell_any => Cell::Any,
        Rule::cell_in => Cell::In(inner.into_inner().map(literal).collect()),
        Rule::cell_cmp => {
            let mut parts = inner.into_inner();
            let op = parts
                .next()
                .expect("grammar: operator")
                .as_str()
                .to_string();
            let value = literal(parts.next().expect("grammar: literal"));
            match op.as_str() {
                "==" => Cell::Is(value),
                "!=" => Cell::Not(value),
                "<" => Cell::Lt(value),
                "<=" => Cell::Le(value),
                ">" => Cell::Gt(value),
                _ => Cell::Ge(value),
            }
        }
        _ => Cell::Is(literal(inner)),
    }
}

fn literal(pair: Pair<'_, Rule>) -> Value {
    let inner = pair.into_inner().next().expect("grammar: literal form");
    match inner.as_rule() {
        Rule::string => {
            let text = inner.into_inner().next().map(|p| p.as_str()).unwrap_or("");
            Value::String(unescape(text).into_owned())
        }
        Rule::signed_number => inner
            .as_str()
            .parse::<f64>()
            .map(num_json)
            .unwrap_or(Value::Null),
        Rule::boolean => Value::Bool(inner.as_str() == "true"),
        _ => Value::Null,
    }
}

/// A YAML cell: `-`, a test written as in the DSL (`>= 80`, `in ["a", "b"]`), or a plain value
/// (strings need no quotes there: `APAC` is the string `APAC`).
pub(crate) fn yaml_cell(value: &serde_yaml::Value, offset: usize) -> Result<Cell, Problem> {
    let text = match value {
        serde_yaml::Value::String(s) => s.trim(),
        other => return Ok(Cell::Is(serde_json::to_value(other).unwrap_or(Value::Null))),
    };
    let is_test = text == "-"
        || ["==", "!=", "<", ">"].iter().any(|op| text.starts_with(op))
        || text.starts_with("in [");
    if !is_test {
        return Ok(Cell::Is(Value::String(text.to_string())));
    }
    let mut pairs =
        RuleParser::parse(Rule::cell_text, text).map_err(|e| syntax_problem(e, offset))?;
    let whole = pairs.next().expect("grammar: cell_text");
    Ok(cell_from(whole.into_inner().next().expect("grammar: cell")))
}

/// The `first`/`collect` word, or a problem at its place.
pub(crate) fn hit_policy(word: Option<&Spanned<String>>) -> Result<HitPolicy, Problem> {
    match word.map(|w| (w.value.trim(), w.span)) {
        None | Some(("first", _)) => Ok(HitPolicy::First),
        Some(("collect", _)) => Ok(HitPolicy::Collect),
        Some((other, span)) => Err(Problem::new(
            "decide",
            span,
            format!("`{other}` is not a hit policy"),
        )
        .hint("write `first` (the first matching row) or `collect` (every matching row)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cell(text: &str) -> Cell {
        yaml_cell(&serde_yaml::Value::String(text.into()), 0).unwrap()
    }

    #[test]
    fn cells_test_values_of_every_kind() {
        let n = |x: f64| Val::Num(x);
        assert!(cell(">= 80").matches(&n(80.0)) && !cell(">= 80").matches(&n(79.0)));
        assert!(cell("< 0").matches(&n(-1.0)));
        assert!(cell("APAC").matches(&Val::Str("APAC".into())));
        assert!(!cell("APAC").matches(&Val::Null));
        assert!(cell("in [\"EMEA\", \"NA\"]").matches(&Val::Str("NA".into())));
        assert!(cell("!= \"x\"").matches(&Val::Null), "null is not \"x\"");
        assert!(
            !cell(">= 80").matches(&Val::Str("high".into())),
            "a mismatch fails"
        );
        assert!(cell("-").matches(&Val::Null));
        assert_eq!(
            cell("-5"),
            Cell::Is(json!("-5")),
            "a plain YAML text is a string"
        );
        assert_eq!(
            yaml_cell(&serde_yaml::Value::Number(5.into()), 0).unwrap(),
            Cell::Is(json!(5))
        );
    }

    #[test]
    fn a_row_an_earlier_row_always_wins_over_is_found() {
        let rows = |r: &[&[&str]]| -> Vec<Vec<Cell>> {
            r.iter()
                .map(|row| row.iter().map(|c| cell(c)).collect())
                .collect()
        };
        let t = rows(&[&["-", ">= 50"], &["APAC", ">= 80"], &["-", "> 40"]]);
        assert_eq!(
            shadowed_by(&t, 1),
            Some(0),
            ">= 80 is inside >= 50, any region"
        );
        assert_eq!(
            shadowed_by(&t, 2),
            None,
            "> 40 takes 45, which >= 50 does not"
        );
        let t = rows(&[&["in [\"A\", \"B\"]"], &["B"], &["in [\"B\", \"C\"]"]]);
        assert_eq!(shadowed_by(&t, 1), Some(0));
        assert_eq!(shadowed_by(&t, 2), None);
        let t = rows(&[&["< 10"], &["<= 5"], &["> 3"]]);
        assert_eq!(shadowed_by(&t, 1), Some(0));
        assert_eq!(shadowed_by(&t, 2), None);
    }
}
