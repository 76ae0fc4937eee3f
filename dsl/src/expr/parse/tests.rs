//! The parser's precedence, spans and errors, and its agreement with the pest grammar.

use super::reference::parse_with_pest;
use super::*;
use proptest::prelude::*;

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
fn long_prefix_chains_are_refused_without_overflow() {
    let dashes = "-".repeat(100_000) + "x";
    assert_eq!(parse_expression(&dashes, 0).unwrap_err().code, "too-deep");
    let nested = "-(".repeat(60) + "x" + &")".repeat(60);
    assert!(parse_expression(&nested, 0).is_ok());
}

#[test]
fn errors_name_what_was_expected_and_where() {
    let err = parse_expression("len(a,)", 0).unwrap_err();
    assert_eq!((err.span.start, err.code), (6, "syntax"));
    assert!(err.message.contains("an expression"), "{}", err.message);
    let err = parse_expression("(a and b", 0).unwrap_err();
    assert!(err.message.contains("`)`"), "{}", err.message);
    let err = parse_expression("a == \"open", 0).unwrap_err();
    assert!(err.message.contains("not closed"), "{}", err.message);
    let err = parse_expression("wait > 1", 0).unwrap_err();
    assert!(
        err.message.contains("`wait` is a reserved word"),
        "{}",
        err.message
    );
}

/// Pieces of expressions, chosen for the corners of the grammar: words that start like keywords,
/// durations and numbers run into names, `not in` across lines, comments, unclosed strings.
const PIECES: &[&str] = &[
    "a",
    "a.b",
    "event.cart.total",
    "x.0",
    "x.and",
    "len",
    "today",
    "order",
    "android",
    "notin",
    "in_x",
    "_",
    "(",
    ")",
    "[",
    "]",
    ",",
    "not",
    "in",
    "not in",
    "and",
    "or",
    "contains",
    "true",
    "false",
    "null",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "!",
    "+",
    "-",
    "*",
    "/",
    "%",
    "1",
    "2.5",
    "30d",
    "500ms",
    "3mx",
    "1.",
    ".",
    "\"s\"",
    "'q\\'x'",
    "\"un",
    "wait",
    "é",
    "#",
    "1or",
    "true.x",
];
const GAPS: &[&str] = &["", "", " ", "\n", "\t", " # note\n"];

const BINARY: &[&str] = &[
    "and", "or", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "not\nin", "contains", "+", "-",
    "*", "/", "%",
];
const ATOMS: &[&str] = &[
    "a", "a.b", "x.0", "order", "1", "2.5", "30d", "500ms", "\"s\"", "'q\\'x'", "true", "null",
    "today()",
];

/// Mostly well-formed expressions with random spacing, so that both parsers build trees to compare.
fn expression() -> impl Strategy<Value = String> {
    let gap = || prop::sample::select(GAPS);
    prop::sample::select(ATOMS)
        .prop_map(String::from)
        .prop_recursive(5, 40, 3, move |inner| {
            prop_oneof![
                (
                    inner.clone(),
                    gap(),
                    prop::sample::select(BINARY),
                    gap(),
                    inner.clone()
                )
                    .prop_map(|(l, g, op, h, r)| format!("{l}{g}{op}{h}{r}")),
                (
                    prop::sample::select(&["not ", "not", "-", "- "][..]),
                    inner.clone()
                )
                    .prop_map(|(op, e)| format!("{op}{e}")),
                (inner.clone(), gap()).prop_map(|(e, g)| format!("({g}{e})")),
                prop::collection::vec(inner.clone(), 0..3)
                    .prop_map(|v| format!("[{}]", v.join(", "))),
                (inner.clone(), inner.clone()).prop_map(|(l, i)| format!("{l}[{i}]")),
                prop::collection::vec(inner, 0..3).prop_map(|v| format!("len ({})", v.join(","))),
            ]
        })
}

/// An expression, sometimes with a piece spliced in somewhere to break it.
fn expression_or_near_miss() -> impl Strategy<Value = String> {
    (
        expression(),
        prop::option::weighted(
            0.3,
            (any::<prop::sample::Index>(), prop::sample::select(PIECES)),
        ),
    )
        .prop_map(|(mut text, splice)| {
            if let Some((at, piece)) = splice {
                let mut at = at.index(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.insert_str(at, piece);
            }
            text
        })
}

fn same_as_pest(text: &str) -> Result<bool, TestCaseError> {
    let ours = parse_expression(text, 3);
    let pest = parse_with_pest(text, 3);
    match (&ours, &pest) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{:?}", text),
        (Err(e), Err(_)) => prop_assert!(e.span.start >= 3 && e.span.start <= text.len() + 3),
        _ => prop_assert!(
            false,
            "{:?}: ours {:?}, pest {:?}",
            text,
            ours,
            pest.is_ok()
        ),
    }
    Ok(ours.is_ok())
}

#[test]
fn the_generated_expressions_are_mostly_valid() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let valid = (0..500)
        .filter(|_| {
            let text = expression().new_tree(&mut runner).unwrap().current();
            same_as_pest(&text).unwrap()
        })
        .count();
    assert!(
        valid > 300,
        "only {valid} of 500 generated expressions parse"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn the_hand_written_parser_agrees_with_the_grammar_on_expressions(text in expression_or_near_miss()) {
        same_as_pest(&text)?;
    }

    #[test]
    fn the_hand_written_parser_agrees_with_the_grammar_on_token_soup(
        parts in prop::collection::vec((prop::sample::select(PIECES), prop::sample::select(GAPS)), 1..10)
    ) {
        let text: String = parts.iter().flat_map(|(p, g)| [*p, *g]).collect();
        same_as_pest(&text)?;
    }
}
