//! The pest parser generated from `grammar.pest`, shared by expressions and the text DSL.

/// The generated parser; its rules are the grammar's.
#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
pub(crate) struct RuleParser;

use crate::diag::Problem;
use crate::span::Span;

/// Turns a pest error into a problem shifted by `offset` bytes, with a readable message.
pub(crate) fn syntax_problem(err: pest::error::Error<Rule>, offset: usize) -> Problem {
    use pest::error::{ErrorVariant, InputLocation};
    let (start, end) = match err.location {
        InputLocation::Pos(p) => (p, p + 1),
        InputLocation::Span((s, e)) => (s, e),
    };
    let expected = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<String> = positives
                .iter()
                .filter_map(|r| rule_name(*r))
                .map(String::from)
                .collect();
            names.sort();
            names.dedup();
            names
        }
        ErrorVariant::CustomError { message } => vec![message.clone()],
    };
    syntax_error(Span::new(start, end).shift(offset), &expected.join(", "))
}

/// A syntax problem at `span`: "expected …" naming what would have been accepted there.
pub(crate) fn syntax_error(span: Span, expected: &str) -> Problem {
    let message = if expected.is_empty() {
        "unexpected input".to_string()
    } else {
        format!("syntax error: expected {expected}")
    };
    Problem::new("syntax", span, message)
        .hint("check the spelling near this point; see the language reference in dsl/README.md")
}

/// A human name for grammar rules that users can act on.
fn rule_name(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::expr | Rule::expression => "an expression",
        Rule::ident | Rule::path => "a name such as `event.cart.total`",
        Rule::segment => "a field name",
        Rule::number => "a number",
        Rule::duration => "a duration such as `30m`, `1h` or `30d`",
        Rule::string => "a quoted string",
        Rule::event_type => "an event type such as `cart.abandoned`",
        Rule::action_name => "an action name such as `email.send`",
        Rule::version_no => "a whole number",
        Rule::header => "`workflow \"name\" version N`",
        Rule::trigger_event | Rule::trigger_schedule | Rule::trigger_date => {
            "`on event|schedule|date ...`"
        }
        Rule::when_clause => "`when <condition>`",
        Rule::action_step => "`do action(...)`",
        Rule::wait_step => "`wait <duration>`",
        Rule::if_step => "`if <condition> { ... }`",
        Rule::exit_step => "`exit`",
        Rule::arg => "an argument `name: value`",
        Rule::outcome => "`exit` or `continue`",
        Rule::EOI => "end of input",
        Rule::op_or | Rule::op_and => "`and`/`or`",
        Rule::op_eq | Rule::op_ne | Rule::op_le | Rule::op_ge | Rule::op_lt | Rule::op_gt => {
            "a comparison"
        }
        Rule::op_add | Rule::op_sub | Rule::op_mul | Rule::op_div | Rule::op_rem => "an operator",
        Rule::step_id => "`as <id>`",
        Rule::clock => "a time of day such as `09:00`",
        Rule::cell_literal | Rule::signed_number => "a value such as `\"APAC\"`, `80` or `true`",
        Rule::cell => "a cell: `-`, a value, a test such as `>= 80`, or `in [...]`",
        Rule::split_convert => "`convert <event type> within <duration>`",
        Rule::variant => "`variant \"name\" <weight> { ... }`",
        Rule::day_name | Rule::days | Rule::day_range => {
            "days such as `weekdays`, `mon-fri` or `sat,sun`"
        }
        Rule::zone => "`customer-local` or `tz \"<zone>\"`",
        Rule::moment => "a moment such as `customer-local 09:00 on weekdays`",
        Rule::window => "hours such as `weekdays 09:00-20:00`",
        Rule::block => "`{`",
        _ => return None,
    })
}
