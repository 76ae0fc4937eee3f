//! Gaps of a decision table: an input combination no row takes. Each input's cells split its
//! values into regions that every cell treats alike (below, at, between and above the numbers
//! they name; each string they name and any other string; each other value they name), so
//! trying one value of each region, in every combination, finds a gap whenever there is one
//! among values of the types the cells name (a missing input is only taken by `-`, and is not
//! counted as a gap). Tables with more combinations than [`GAP_SEARCH_LIMIT`] are not searched.

use crate::decide::Cell;
use crate::expr::{num_json, Val};
use serde_json::Value;

/// Most input combinations a search tries.
pub const GAP_SEARCH_LIMIT: usize = 20_000;

/// One value from each region the cells of one input tell apart.
fn representatives(cells: &[&Cell]) -> Vec<Value> {
    let (mut numbers, mut strings, mut others) = (Vec::new(), Vec::new(), Vec::new());
    let mut note = |v: &Value| match v {
        Value::Number(n) => numbers.extend(n.as_f64()),
        Value::String(s) => strings.push(s.clone()),
        Value::Bool(b) => others.extend([Value::Bool(*b), Value::Bool(!*b)]),
        other => others.push(other.clone()),
    };
    for cell in cells {
        match cell {
            Cell::Any => {}
            Cell::Is(v) | Cell::Not(v) | Cell::Lt(v) | Cell::Le(v) | Cell::Gt(v) | Cell::Ge(v) => {
                note(v)
            }
            Cell::In(vs) => vs.iter().for_each(&mut note),
        }
    }
    let mut out = Vec::new();
    numbers.sort_by(f64::total_cmp);
    numbers.dedup();
    if let (Some(low), Some(high)) = (numbers.first(), numbers.last()) {
        out.push(num_json(low - 1.0));
        for pair in numbers.windows(2) {
            out.push(num_json(pair[0]));
            out.push(num_json((pair[0] + pair[1]) / 2.0));
        }
        out.push(num_json(*high));
        out.push(num_json(high + 1.0));
    }
    if !strings.is_empty() {
        let other = (0..)
            .map(|n| {
                if n == 0 {
                    "other".to_string()
                } else {
                    format!("other-{n}")
                }
            })
            .find(|s| !strings.contains(s))
            .expect("a free name");
        strings.sort();
        strings.dedup();
        out.extend(strings.into_iter().map(Value::String));
        out.push(Value::String(other));
    }
    for v in others {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    if out.is_empty() {
        out.push(Value::Null); // only `-` cells: every value is alike
    }
    out
}

/// An input combination (one value per input) that no row of `rows` takes, if there is one
/// and the table is small enough to search.
pub fn gap(rows: &[Vec<Cell>], inputs: usize) -> Option<Vec<Value>> {
    if inputs == 0 {
        return None;
    }
    let columns: Vec<Vec<Value>> = (0..inputs)
        .map(|i| representatives(&rows.iter().filter_map(|r| r.get(i)).collect::<Vec<_>>()))
        .collect();
    let total = columns
        .iter()
        .try_fold(1usize, |n, c| n.checked_mul(c.len()))?;
    if total > GAP_SEARCH_LIMIT {
        return None;
    }
    let mut at = vec![0usize; inputs];
    loop {
        let values: Vec<&Value> = at.iter().zip(&columns).map(|(i, c)| &c[*i]).collect();
        let taken = rows.iter().any(|row| {
            row.len() == inputs
                && row
                    .iter()
                    .zip(&values)
                    .all(|(cell, v)| cell.matches(&Val::from_json(v)))
        });
        if !taken {
            return Some(values.into_iter().cloned().collect());
        }
        // The next combination, the first input turning fastest.
        let mut k = 0;
        loop {
            if k == inputs {
                return None;
            }
            at[k] += 1;
            if at[k] < columns[k].len() {
                break;
            }
            at[k] = 0;
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table(rows: &[&[Cell]]) -> Vec<Vec<Cell>> {
        rows.iter().map(|r| r.to_vec()).collect()
    }

    #[test]
    fn a_score_range_left_out_is_found() {
        let rows = table(&[&[Cell::Ge(json!(80))], &[Cell::Ge(json!(50))]]);
        assert_eq!(gap(&rows, 1), Some(vec![json!(49)]));
        let closed = table(&[&[Cell::Ge(json!(50))], &[Cell::Lt(json!(50))]]);
        assert_eq!(gap(&closed, 1), None);
        let between = table(&[&[Cell::Gt(json!(50))], &[Cell::Lt(json!(50))]]);
        assert_eq!(
            gap(&between, 1),
            Some(vec![json!(50)]),
            "exactly 50 is left out"
        );
    }

    #[test]
    fn strings_always_leave_any_other_string_unless_a_row_takes_it() {
        let apac = Cell::Is(json!("APAC"));
        let rows = table(&[
            &[apac.clone(), Cell::Ge(json!(80))],
            &[Cell::Any, Cell::Lt(json!(80))],
        ]);
        assert_eq!(gap(&rows, 2), Some(vec![json!("other"), json!(80)]));
        let full = table(&[
            &[apac, Cell::Ge(json!(80))],
            &[Cell::Not(json!("APAC")), Cell::Ge(json!(80))],
            &[Cell::Any, Cell::Lt(json!(80))],
        ]);
        assert_eq!(gap(&full, 2), None);
    }

    #[test]
    fn a_catch_all_row_closes_every_gap_and_big_tables_are_not_searched() {
        let rows = table(&[&[Cell::In(vec![json!("a"), json!("b")])], &[Cell::Any]]);
        assert_eq!(gap(&rows, 1), None);
        let wide: Vec<Vec<Cell>> = (0..30)
            .map(|i| (0..4).map(|_| Cell::Is(json!(i))).collect())
            .collect();
        assert_eq!(gap(&wide, 4), None, "over the search limit");
    }
}
