//! Expression text to a spanned syntax tree (pest + a Pratt parser for precedence).

use crate::diag::Problem;
use crate::grammar::{syntax_problem, Rule, RuleParser};
use crate::span::Span;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser;
use std::sync::OnceLock;

/// Deepest nesting accepted; deeper input is rejected instead of overflowing the stack.
pub const MAX_DEPTH: usize = 64;

/// A syntax node with its span in the file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ast {
    pub kind: AstKind,
    pub span: Span,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnOp {
    Not,
    Neg,
}

/// Binary operators as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Contains,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// Syntax tree shapes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AstKind {
    Num(f64),
    Dur(i64),
    Str(String),
    Bool(bool),
    Null,
    Path(Vec<String>),
    List(Vec<Ast>),
    Call(String, Vec<Ast>),
    Unary(UnOp, Box<Ast>),
    Binary(BinOp, Box<Ast>, Box<Ast>),
    Index(Box<Ast>, Box<Ast>),
}

fn pratt() -> &'static PrattParser<Rule> {
    static P: OnceLock<PrattParser<Rule>> = OnceLock::new();
    P.get_or_init(|| {
        PrattParser::new()
            .op(Op::infix(Rule::op_or, Assoc::Left))
            .op(Op::infix(Rule::op_and, Assoc::Left))
            .op(Op::prefix(Rule::op_not))
            .op(Op::infix(Rule::op_eq, Assoc::Left)
                | Op::infix(Rule::op_ne, Assoc::Left)
                | Op::infix(Rule::op_lt, Assoc::Left)
                | Op::infix(Rule::op_le, Assoc::Left)
                | Op::infix(Rule::op_gt, Assoc::Left)
                | Op::infix(Rule::op_ge, Assoc::Left)
                | Op::infix(Rule::op_in, Assoc::Left)
                | Op::infix(Rule::op_not_in, Assoc::Left)
                | Op::infix(Rule::op_contains, Assoc::Left))
            .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
            .op(Op::infix(Rule::op_mul, Assoc::Left)
                | Op::infix(Rule::op_div, Assoc::Left)
                | Op::infix(Rule::op_rem, Assoc::Left))
            .op(Op::prefix(Rule::op_neg))
            .op(Op::postfix(Rule::index))
    })
}

/// Parses a standalone expression; `offset` is where `text` starts in its file.
pub(crate) fn parse_expression(text: &str, offset: usize) -> Result<Ast, Problem> {
    check_nesting(text, offset)?;
    let mut pairs =
        RuleParser::parse(Rule::expression, text).map_err(|e| syntax_problem(e, offset))?;
    let expr = pairs
        .next()
        .and_then(|p| p.into_inner().next())
        .expect("grammar: expression holds expr");
    Ok(build(expr, offset))
}

/// Rejects nesting deeper than [`MAX_DEPTH`] before the recursive parser sees it.
pub(crate) fn check_nesting(text: &str, offset: usize) -> Result<(), Problem> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Problem::new(
                        "too-deep",
                        Span::new(i, i + 1).shift(offset),
                        format!("nesting deeper than {MAX_DEPTH} levels"),
                    )
                    .hint("split the expression or the steps into smaller parts"));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let mut run = 0usize;
    let mut longest = 0usize;
    for word in text.split_whitespace() {
        if word == "not" || word.chars().all(|c| c == '-' || c == '(') {
            run += word.len().max(1);
        } else {
            run = 0;
        }
        longest = longest.max(run);
    }
    if longest > MAX_DEPTH * 3 {
        return Err(Problem::new(
            "too-deep",
            Span::new(offset, offset + text.len()),
            "too many nested operators",
        )
        .hint("simplify the expression"));
    }
    Ok(())
}

/// Builds the syntax tree of an `expr` pair.
pub(crate) fn build(pair: Pair<'_, Rule>, offset: usize) -> Ast {
    build_pairs(pair.into_inner(), offset)
}

fn build_pairs(pairs: Pairs<'_, Rule>, offset: usize) -> Ast {
    pratt()
        .map_primary(|p| primary(p, offset))
        .map_prefix(|op, rhs| {
            let span = Span::new(op.as_span().start() + offset, rhs.span.end);
            let op = if op.as_rule() == Rule::op_not {
                UnOp::Not
            } else {
                UnOp::Neg
            };
            Ast {
                kind: AstKind::Unary(op, Box::new(rhs)),
                span,
            }
        })
        .map_postfix(|lhs, op| {
            let span = Span::new(lhs.span.start, op.as_span().end() + offset);
            let inner = build(op.into_inner().next().expect("index holds expr"), offset);
            Ast {
                kind: AstKind::Index(Box::new(lhs), Box::new(inner)),
                span,
            }
        })
        .map_infix(|lhs, op, rhs| {
            let span = Span::new(lhs.span.start, rhs.span.end);
            Ast {
                kind: AstKind::Binary(bin_op(op.as_rule()), Box::new(lhs), Box::new(rhs)),
                span,
            }
        })
        .parse(pairs)
}

fn bin_op(rule: Rule) -> BinOp {
    match rule {
        Rule::op_or => BinOp::Or,
        Rule::op_and => BinOp::And,
        Rule::op_eq => BinOp::Eq,
        Rule::op_ne => BinOp::Ne,
        Rule::op_lt => BinOp::Lt,
        Rule::op_le => BinOp::Le,
        Rule::op_gt => BinOp::Gt,
        Rule::op_ge => BinOp::Ge,
        Rule::op_in => BinOp::In,
        Rule::op_not_in => BinOp::NotIn,
        Rule::op_contains => BinOp::Contains,
        Rule::op_add => BinOp::Add,
        Rule::op_sub => BinOp::Sub,
        Rule::op_mul => BinOp::Mul,
        Rule::op_div => BinOp::Div,
        Rule::op_rem => BinOp::Rem,
        other => unreachable!("not an infix rule: {other:?}"),
    }
}

fn primary(pair: Pair<'_, Rule>, offset: usize) -> Ast {
    let span = Span::from(pair.as_span()).shift(offset);
    let kind = match pair.as_rule() {
        Rule::group => return build(pair.into_inner().next().expect("group holds expr"), offset),
        Rule::number => AstKind::Num(pair.as_str().parse().unwrap_or(f64::NAN)),
        Rule::duration => AstKind::Dur(parse_duration(pair.as_str()).unwrap_or(0)),
        Rule::string => AstKind::Str(unescape(
            pair.into_inner().next().map(|p| p.as_str()).unwrap_or(""),
        )),
        Rule::boolean => AstKind::Bool(pair.as_str() == "true"),
        Rule::null => AstKind::Null,
        Rule::path => AstKind::Path(pair.as_str().split('.').map(String::from).collect()),
        Rule::list => AstKind::List(pair.into_inner().map(|p| build(p, offset)).collect()),
        Rule::call => {
            let mut inner = pair.into_inner();
            let name = inner.next().expect("call has a name").as_str().to_string();
            AstKind::Call(name, inner.map(|p| build(p, offset)).collect())
        }
        other => unreachable!("not a primary rule: {other:?}"),
    };
    Ast { kind, span }
}

/// Parses `30d`, `1h`, `15m`, `10s`, `500ms`, `2w` into milliseconds.
/// The longest duration the language accepts: 100 years. Longer ones are refused where they are
/// written, so adding a duration to a time can never overflow.
pub const MAX_DURATION_MS: i64 = 100 * 36_525 * 86_400_000 / 100;

/// Parses `30s`, `15m`, `1h`, `30d`, `2w`, `500ms`; `None` for anything else or anything longer
/// than [`MAX_DURATION_MS`].
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = text.split_at(split);
    let n: i64 = num.parse().ok()?;
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms).filter(|ms| *ms <= MAX_DURATION_MS)
}

/// Resolves backslash escapes of a quoted string's inside.
pub(crate) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(text: &str) -> String {
        fn show(a: &Ast) -> String {
            match &a.kind {
                AstKind::Binary(op, l, r) => format!("({} {:?} {})", show(l), op, show(r)),
                AstKind::Unary(op, e) => format!("({:?} {})", op, show(e)),
                AstKind::Path(p) => p.join("."),
                AstKind::Num(n) => n.to_string(),
                AstKind::Dur(d) => format!("{d}ms"),
                AstKind::Str(s) => format!("{s:?}"),
                AstKind::Call(n, args) => format!(
                    "{n}({})",
                    args.iter().map(show).collect::<Vec<_>>().join(",")
                ),
                AstKind::Index(l, i) => format!("{}[{}]", show(l), show(i)),
                other => format!("{other:?}"),
            }
        }
        show(&parse_expression(text, 0).unwrap())
    }

    #[test]
    fn precedence_binds_comparison_tighter_than_and() {
        assert_eq!(
            shape("a.b >= 50 and not c or d"),
            "(((a.b Ge 50) And (Not c)) Or d)"
        );
        assert_eq!(
            shape("x - 30d == today()"),
            "((x Sub 2592000000ms) Eq today())"
        );
        assert_eq!(shape("1 + 2 * 3"), "(1 Add (2 Mul 3))");
        assert_eq!(
            shape("\"vip\" not in customer.tags"),
            "(\"vip\" NotIn customer.tags)"
        );
        assert_eq!(shape("a[0]"), "a[0]");
    }

    #[test]
    fn spans_point_into_the_file() {
        let ast = parse_expression("a  >= 5", 10).unwrap();
        assert_eq!(ast.span, Span::new(10, 17));
    }

    #[test]
    fn syntax_errors_are_positioned() {
        let err = parse_expression("a >= ", 4).unwrap_err();
        assert_eq!(err.span.start, 9);
        assert!(err.message.contains("expected"), "{}", err.message);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflow() {
        let text = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(parse_expression(&text, 0).unwrap_err().code, "too-deep");
        let nots = "not ".repeat(5000) + "x";
        assert_eq!(parse_expression(&nots, 0).unwrap_err().code, "too-deep");
    }

    #[test]
    fn durations_cover_every_unit() {
        assert_eq!(parse_duration("500ms"), Some(500));
        assert_eq!(parse_duration("2w"), Some(14 * 86_400_000));
        assert_eq!(parse_duration("1y"), None);
    }
}
