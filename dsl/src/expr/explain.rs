//! Why a condition held or not: each part of an `and`/`or`/`not` tree with the values it saw,
//! e.g. `event.cart.total >= 50` was `32.5 >= 50`.

use super::node::Node;
use super::scope::Scope;
use super::value::Val;
use serde::{Deserialize, Serialize};

/// The verdict on one part of a condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The part, as expression text.
    pub expr: String,
    /// Whether it held.
    pub result: bool,
    /// What it saw, e.g. `32.5 >= 50`, or the error.
    pub saw: String,
    /// Its parts, for `and`, `or` and `not`.
    pub parts: Vec<Explanation>,
}

fn shown(v: &Val<'_>) -> String {
    match v {
        Val::Null => "null".into(),
        Val::Str(s) => serde_json::Value::String(s.to_string()).to_string(),
        other => other.to_json().to_string().trim_matches('"').to_string(),
    }
}

fn value_of(node: &Node, scope: &Scope<'_>) -> String {
    match node.eval(scope) {
        Ok(v) => shown(&v),
        Err(e) => format!("error: {}", e.message),
    }
}

/// Explains `node` evaluated as a condition against `scope`.
pub fn explain(node: &Node, scope: &Scope<'_>) -> Explanation {
    let truth = |n: &Node| n.eval(scope).map(|v| v.truthy()).unwrap_or(false);
    let (saw, parts) = match node {
        Node::And(a, b) | Node::Or(a, b) => {
            let (ea, eb) = (explain(a, scope), explain(b, scope));
            let saw = format!(
                "{} {} {}",
                ea.result,
                if matches!(node, Node::And(..)) {
                    "and"
                } else {
                    "or"
                },
                eb.result
            );
            (saw, vec![ea, eb])
        }
        Node::Not(e) => {
            let inner = explain(e, scope);
            (format!("not {}", inner.result), vec![inner])
        }
        Node::Cmp(_, a, b) | Node::Arith(_, a, b) => {
            let text = node.to_string();
            let (left, right) = (value_of(a, scope), value_of(b, scope));
            let op = text
                .strip_prefix(&a.to_string())
                .and_then(|rest| rest.strip_suffix(&b.to_string()))
                .unwrap_or(" ? ")
                .trim()
                .to_string();
            (format!("{left} {op} {right}"), vec![])
        }
        Node::In(negated, needle, hay) => {
            let op = if *negated { "not in" } else { "in" };
            (
                format!("{} {op} {}", value_of(needle, scope), value_of(hay, scope)),
                vec![],
            )
        }
        other => (value_of(other, scope), vec![]),
    };
    Explanation {
        expr: node.to_string(),
        result: truth(node),
        saw,
        parts,
    }
}

impl Explanation {
    /// The parts that made a false condition false (the leaves to look at first).
    pub fn failing_leaves(&self) -> Vec<&Explanation> {
        if self.result {
            return vec![];
        }
        if self.parts.is_empty() || self.saw.starts_with("not ") {
            return vec![self];
        }
        self.parts.iter().flat_map(|p| p.failing_leaves()).collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::expr::{Env, Expr, Scope};
    use serde_json::json;

    #[test]
    fn names_the_false_part_with_its_values() {
        let e = Expr::parse(
            "event.cart.total >= 50 and (customer.consent.email or \"vip\" in customer.tags)",
            &Env::default(),
        )
        .unwrap();
        let ev = json!({"cart": {"total": 32.5}});
        let customer = json!({"consent": {"email": true}, "tags": []});
        let mut scope = Scope::with_event(&ev, chrono::Utc::now());
        scope.customer = &customer;
        let x = e.explain(&scope);
        assert!(!x.result);
        assert_eq!(
            x.expr,
            "event.cart.total >= 50 and (customer.consent.email or \"vip\" in customer.tags)"
        );
        let leaves = x.failing_leaves();
        assert_eq!(leaves.len(), 1);
        assert_eq!(leaves[0].expr, "event.cart.total >= 50");
        assert_eq!(leaves[0].saw, "32.5 >= 50");
        assert_eq!(x.parts[1].parts[1].saw, "\"vip\" in []");
    }

    #[test]
    fn printing_keeps_meaning() {
        for text in [
            "(a.b + 1) * 2 > 3",
            "not (event.a or event.b)",
            "event.x - 30d == today()",
            "-(event.a) in [1, 2]",
            "len(event.items[0]) != 0",
        ] {
            let text = text.replace("a.b", "event.b");
            let e = Expr::parse(&text, &Env::default()).unwrap();
            let again = Expr::parse(&e.node.to_string(), &Env::default()).unwrap();
            assert_eq!(e, again, "{text} printed as {}", e.node);
        }
    }
}
