//! The previous, pest-based expression parser, kept for tests only: the differential property in
//! `tests.rs` holds the hand-written parser to the language `grammar.pest` defines.

use super::{check_nesting, Ast, AstKind, BinOp, UnOp};
use crate::diag::Problem;
use crate::expr::literal::{parse_duration, unescape};
use crate::grammar::{syntax_problem, Rule, RuleParser};
use crate::span::Span;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser;
use std::sync::OnceLock;

/// Parses a standalone expression with the pest grammar.
pub(super) fn parse_with_pest(text: &str, offset: usize) -> Result<Ast<'_>, Problem> {
    check_nesting(text, offset)?;
    let mut pairs =
        RuleParser::parse(Rule::expression, text).map_err(|e| syntax_problem(e, offset))?;
    let expr = pairs
        .next()
        .and_then(|p| p.into_inner().next())
        .expect("grammar: expression holds expr");
    Ok(build(expr, offset))
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

/// Builds the syntax tree of an `expr` pair.
fn build(pair: Pair<'_, Rule>, offset: usize) -> Ast<'_> {
    build_pairs(pair.into_inner(), offset)
}

fn build_pairs(pairs: Pairs<'_, Rule>, offset: usize) -> Ast<'_> {
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

fn primary(pair: Pair<'_, Rule>, offset: usize) -> Ast<'_> {
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
        Rule::path => AstKind::Path(pair.as_str().split('.').collect()),
        Rule::list => AstKind::List(pair.into_inner().map(|p| build(p, offset)).collect()),
        Rule::call => {
            let mut inner = pair.into_inner();
            let name = inner.next().expect("call has a name").as_str();
            AstKind::Call(name, inner.map(|p| build(p, offset)).collect())
        }
        other => unreachable!("not a primary rule: {other:?}"),
    };
    Ast { kind, span }
}
