//! The text DSL (`.mkw`): pest parse tree to the same AST as YAML.

use crate::ast::*;
use crate::diag::{Diagnostics, Problem};
use crate::expr::{parse_duration, unescape};
use crate::grammar::{syntax_problem, Rule, RuleParser};
use crate::span::Span;
use pest::iterators::Pair;
use pest::Parser;

/// Parses DSL text into the AST, pushing problems into `diags`.
pub fn parse(text: &str, diags: &mut Diagnostics) -> Option<WorkflowAst> {
    if let Err(p) = crate::expr::check_nesting(text, 0) {
        diags.push(p);
        return None;
    }
    let file = match RuleParser::parse(Rule::file, text) {
        Ok(mut pairs) => pairs.next().expect("grammar: file"),
        Err(e) => {
            let problem = syntax_problem(e, 0);
            diags.push(unclosed_paren(text, problem.span.start).unwrap_or(problem));
            return None;
        }
    };
    let mut b = AstBuilder {
        diags,
        trigger: None,
        when: None,
        goal: None,
        re_enroll: None,
        re_enroll_per: None,
        debounce: None,
        over_cap: None,
        priority: None,
        send_window: None,
        name: None,
        version: None,
    };
    let mut steps = Vec::new();
    for pair in file.into_inner() {
        match pair.as_rule() {
            Rule::header => b.header(pair),
            Rule::EOI => {}
            Rule::action_step
            | Rule::wait_step
            | Rule::wait_moment
            | Rule::if_step
            | Rule::split_step
            | Rule::decide_step
            | Rule::exit_step => steps.push(step(pair)),
            _ => b.clause(pair),
        }
    }
    let Some(trigger) = b.trigger else {
        b.diags.push(Problem::new("trigger", Span::new(0, 1), "the workflow has no trigger")
            .hint("add `on event <type>`, `on schedule \"<cron>\"` or `on date <path> ... from event <type>` after the header"));
        return None;
    };
    Some(WorkflowAst {
        name: b.name?,
        version: b.version?,
        description: None,
        trigger,
        when: b.when,
        goal: b.goal,
        re_enroll: b.re_enroll,
        re_enroll_per: b.re_enroll_per,
        over_cap: b.over_cap,
        priority: b.priority,
        send_window: b.send_window,
        debounce: b.debounce,
        steps,
    })
}

struct AstBuilder<'d> {
    diags: &'d mut Diagnostics,
    name: Option<Spanned<String>>,
    version: Option<Spanned<u32>>,
    trigger: Option<Spanned<TriggerAst>>,
    when: Option<ExprSrc>,
    goal: Option<Spanned<String>>,
    re_enroll: Option<Spanned<ReEnrollAst>>,
    re_enroll_per: Option<ExprSrc>,
    debounce: Option<DebounceAst>,
    over_cap: Option<Spanned<String>>,
    priority: Option<Spanned<String>>,
    send_window: Option<Spanned<SendWindowAst>>,
}

fn spanned(pair: &Pair<'_, Rule>) -> Spanned<String> {
    Spanned::new(pair.as_str().to_string(), pair.as_span().into())
}

fn string_of(pair: &Pair<'_, Rule>) -> Spanned<String> {
    let inner = pair
        .clone()
        .into_inner()
        .next()
        .map(|p| p.as_str())
        .unwrap_or("");
    Spanned::new(unescape(inner).into_owned(), pair.as_span().into())
}

/// When a syntax error comes on a later line than a `(` that is still open there, the open
/// paren is the mistake: a problem at the paren that names it (strings and comments skipped).
fn unclosed_paren(text: &str, error_at: usize) -> Option<Problem> {
    let mut open = Vec::new();
    let mut chars = text[..error_at.min(text.len())].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '(' => open.push(i),
            ')' => {
                open.pop();
            }
            '"' => {
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '#' => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    let at = *open.last()?;
    if !text[at..error_at.min(text.len())].contains('\n') {
        return None;
    }
    let pos = crate::span::position(text, at);
    Some(
        Problem::new(
            "syntax",
            Span::new(at, at + 1),
            format!(
                "this `(` is never closed (opened at {}:{})",
                pos.line, pos.column
            ),
        )
        .hint("add the matching `)` before the end of the line"),
    )
}

fn expr_src(pair: &Pair<'_, Rule>) -> ExprSrc {
    ExprSrc {
        text: pair.as_str().to_string(),
        offset: pair.as_span().start(),
    }
}

/// The expression of an optional `per_key` pair (`per event.kpi.id`).
fn per_key(pair: Option<Pair<'_, Rule>>) -> Option<ExprSrc> {
    pair?.into_inner().next().map(|e| expr_src(&e))
}

/// A duration the grammar has checked the shape of; one too long for [`parse_duration`] becomes
/// `i64::MAX`, which the checker refuses with its position (never a silent 0).
fn duration(pair: &Pair<'_, Rule>) -> i64 {
    parse_duration(pair.as_str()).unwrap_or(i64::MAX)
}

impl AstBuilder<'_> {
    fn header(&mut self, pair: Pair<'_, Rule>) {
        let mut inner = pair.into_inner();
        self.name = inner.next().map(|p| string_of(&p));
        self.version = inner.next().map(|p| {
            let value = p.as_str().parse().unwrap_or(u32::MAX);
            Spanned::new(value, p.as_span().into())
        });
    }

    fn set_trigger(&mut self, trigger: TriggerAst, span: Span) {
        if self.trigger.is_some() {
            self.diags.push(
                Problem::new("trigger", span, "a workflow has exactly one trigger")
                    .hint("remove one of the `on ...` lines"),
            );
        }
        self.trigger = Some(Spanned::new(trigger, span));
    }

    fn clause(&mut self, pair: Pair<'_, Rule>) {
        let span: Span = pair.as_span().into();
        let rule = pair.as_rule();
        let mut inner = pair.into_inner();
        match rule {
            Rule::trigger_event => {
                let event = spanned(&inner.next().expect("event type"));
                self.set_trigger(
                    TriggerAst::Event {
                        event,
                        segment: None,
                    },
                    span,
                );
            }
            Rule::trigger_segment => {
                let segment = spanned(&inner.next().expect("segment"));
                let edge = inner.next().expect("edge");
                let event = Spanned::new(
                    crate::segments::edge_event(edge.as_str())
                        .unwrap_or_default()
                        .to_string(),
                    edge.as_span().into(),
                );
                self.set_trigger(
                    TriggerAst::Event {
                        event,
                        segment: Some(segment),
                    },
                    span,
                );
            }
            Rule::trigger_schedule => {
                let cron = string_of(&inner.next().expect("cron"));
                let (mut tz, mut for_each) = (None, None);
                for p in inner {
                    match p.as_rule() {
                        Rule::tz => tz = p.into_inner().next().map(|s| string_of(&s)),
                        _ => {
                            let mut fe = p.into_inner();
                            for_each = fe.next().map(|n| spanned(&n));
                            if let Some(cond) = fe.next() {
                                self.set_when(expr_src(&cond));
                            }
                        }
                    }
                }
                self.set_trigger(TriggerAst::Schedule { cron, tz, for_each }, span);
            }
            Rule::trigger_date => {
                let date = expr_src(&inner.next().expect("date path"));
                let (mut offset_ms, mut at, mut tz, mut from_event) = (0, None, None, None);
                for p in inner {
                    match p.as_rule() {
                        Rule::date_offset => {
                            let mut o = p.into_inner();
                            let sign = if o.next().map(|d| d.as_rule()) == Some(Rule::before) {
                                -1
                            } else {
                                1
                            };
                            offset_ms = sign * o.next().map(|d| duration(&d)).unwrap_or(0);
                        }
                        Rule::string => at = Some(string_of(&p)),
                        Rule::tz => tz = p.into_inner().next().map(|s| string_of(&s)),
                        _ => from_event = Some(spanned(&p)),
                    }
                }
                let from_event = from_event.expect("grammar: from event");
                self.set_trigger(
                    TriggerAst::Date {
                        date,
                        offset_ms,
                        at,
                        tz,
                        from_event,
                    },
                    span,
                );
            }
            Rule::when_clause => self.set_when(expr_src(&inner.next().expect("when expr"))),
            Rule::goal_clause => self.goal = inner.next().map(|p| spanned(&p)),
            Rule::over_cap_clause => self.over_cap = inner.next().map(|p| spanned(&p)),
            Rule::priority_clause => self.priority = inner.next().map(|p| spanned(&p)),
            Rule::reenroll_clause => {
                let p = inner.next().expect("re-enroll policy");
                self.re_enroll_per = per_key(inner.next());
                let policy = match p.as_rule() {
                    Rule::reenroll_never => ReEnrollAst::Never,
                    Rule::reenroll_always => ReEnrollAst::Always,
                    Rule::reenroll_finished => ReEnrollAst::WhenFinished,
                    Rule::reenroll_replace => ReEnrollAst::Replace,
                    _ => ReEnrollAst::After(duration(&p)),
                };
                self.re_enroll = Some(Spanned::new(policy, span));
            }
            Rule::send_window_clause => self.send_window(inner, span),
            Rule::debounce_clause => {
                let d = inner.next().expect("grammar: debounce duration");
                let quiet = Spanned::new(duration(&d), d.as_span().into());
                let per = per_key(inner.next());
                self.debounce = Some(DebounceAst { quiet, per });
            }
            other => unreachable!("not a clause: {other:?}"),
        }
    }

    /// `send-window off` or `send-window weekdays 09:00-20:00 tz "..." holidays ... outside ...`.
    fn send_window(&mut self, mut inner: pest::iterators::Pairs<'_, Rule>, span: Span) {
        let first = inner.next().expect("grammar: send-window");
        if first.as_rule() == Rule::window_off {
            self.send_window = Some(Spanned::new(SendWindowAst::Off, span));
            return;
        }
        let window = match crate::calendar::window_from(first, 0) {
            Ok(w) => w,
            Err(p) => return self.diags.push(p),
        };
        let (mut tz, mut holidays, mut outside) = (None, None, None);
        for option in inner {
            let rule = option.as_rule();
            let value = option.into_inner().next().expect("grammar: option value");
            let text = match value.as_rule() {
                Rule::string => string_of(&value),
                _ => spanned(&value),
            };
            match rule {
                Rule::window_tz => tz = Some(text),
                Rule::window_holidays => holidays = Some(text),
                _ => outside = Some(text),
            }
        }
        let ast = SendWindowAst::On {
            window,
            tz,
            holidays,
            outside,
        };
        self.send_window = Some(Spanned::new(ast, span));
    }

    fn set_when(&mut self, e: ExprSrc) {
        if self.when.is_some() {
            self.diags.push(
                Problem::new("when", e.span(), "the entry condition is given twice")
                    .hint("join both with `and` in one `when` (or `where`)"),
            );
        }
        self.when = Some(e);
    }
}

fn step(pair: Pair<'_, Rule>) -> StepAst {
    let span: Span = pair.as_span().into();
    let rule = pair.as_rule();
    let mut id = None;
    let mut parts = Vec::new();
    for p in pair.into_inner() {
        if p.as_rule() == Rule::step_id {
            id = p.into_inner().next().map(|n| spanned(&n));
        } else {
            parts.push(p);
        }
    }
    let mut parts = parts.into_iter();
    let kind = match rule {
        Rule::action_step => {
            let name = spanned(&parts.next().expect("action name"));
            let mut args = Vec::new();
            let (mut retry, mut throttle) = (None, None);
            for p in parts {
                if p.as_rule() == Rule::throttle {
                    let mut t = p.into_inner();
                    let rate = spanned(&t.next().expect("grammar: rate"));
                    let per = per_key(t.next());
                    throttle = Some(ThrottleAst { rate, per });
                } else if p.as_rule() == Rule::arg {
                    let mut a = p.into_inner();
                    let key = spanned(&a.next().expect("arg name"));
                    args.push((key, ArgAst::Expr(expr_src(&a.next().expect("arg value")))));
                } else {
                    let mut r = p.into_inner();
                    let n = r.next().expect("attempts");
                    retry = Some(RetryAst {
                        attempts: Spanned::new(
                            n.as_str().parse().unwrap_or(u32::MAX),
                            n.as_span().into(),
                        ),
                        backoff_ms: r.next().map(|d| duration(&d)),
                        max_backoff_ms: None,
                    });
                }
            }
            StepKindAst::Action {
                name,
                args,
                retry,
                throttle,
            }
        }
        Rule::wait_step => {
            let d = parts.next().expect("wait duration");
            let duration = Some(Spanned::new(duration(&d), d.as_span().into()));
            let until = parts.next().map(wait_until);
            StepKindAst::Wait { duration, until }
        }
        Rule::wait_moment => StepKindAst::WaitMoment(crate::calendar::moment_from(
            parts.next().expect("grammar: moment"),
            0,
        )),
        Rule::split_step => split(parts),
        Rule::decide_step => decide(parts),
        Rule::if_step => {
            let cond = expr_src(&parts.next().expect("if condition"));
            let then = parts.next().map(block).unwrap_or_default();
            let otherwise = parts.next().map(block).unwrap_or_default();
            StepKindAst::If {
                cond,
                then,
                otherwise,
            }
        }
        _ => StepKindAst::Exit {
            reason: parts.next().map(|s| string_of(&s).value),
        },
    };
    StepAst { id, kind, span }
}

/// `decide <input>, <input> [first|collect] [complete] { <cell>, <cell> -> (name: value, ...)
/// ... }`.
fn decide<'a>(parts: impl Iterator<Item = Pair<'a, Rule>>) -> StepKindAst {
    let (mut inputs, mut hit, mut rows) = (Vec::new(), None, Vec::new());
    let mut complete = false;
    for p in parts {
        match p.as_rule() {
            Rule::expr => inputs.push(expr_src(&p)),
            Rule::hit_policy => hit = Some(spanned(&p)),
            Rule::complete => complete = true,
            _ => {
                let span: Span = p.as_span().into();
                let (mut cells, mut output) = (Vec::new(), Vec::new());
                for part in p.into_inner() {
                    if part.as_rule() == Rule::cell {
                        cells.push(crate::decide::cell_from(part));
                    } else {
                        let mut a = part.into_inner();
                        let key = spanned(&a.next().expect("grammar: output name"));
                        output.push((
                            key,
                            ArgAst::Expr(expr_src(&a.next().expect("grammar: output value"))),
                        ));
                    }
                }
                rows.push(RowAst {
                    cells,
                    output,
                    span,
                });
            }
        }
    }
    StepKindAst::Decide {
        inputs,
        hit,
        complete,
        rows,
    }
}

/// `split "name" convert <event> within <duration> { variant "a" 50 { ... } ... }`.
fn split<'a>(parts: impl Iterator<Item = Pair<'a, Rule>>) -> StepKindAst {
    let mut parts = parts.peekable();
    let experiment = string_of(&parts.next().expect("grammar: split name"));
    let convert = parts
        .next_if(|p| p.as_rule() == Rule::split_convert)
        .map(|c| {
            let mut c = c.into_inner();
            let event = spanned(&c.next().expect("grammar: convert event"));
            let d = c.next().expect("grammar: convert window");
            let within = Spanned::new(duration(&d), d.as_span().into());
            ConvertAst { event, within }
        });
    let variants = parts
        .map(|v| {
            let mut v = v.into_inner();
            let name = string_of(&v.next().expect("grammar: variant name"));
            let w = v.next().expect("grammar: variant weight");
            let weight = Spanned::new(w.as_str().parse().unwrap_or(u32::MAX), w.as_span().into());
            let steps = v.next().map(block).unwrap_or_default();
            VariantAst {
                name,
                weight,
                steps,
            }
        })
        .collect();
    StepKindAst::Split {
        experiment,
        convert,
        variants,
    }
}

fn block(pair: Pair<'_, Rule>) -> Vec<StepAst> {
    pair.into_inner().map(step).collect()
}

fn wait_until(pair: Pair<'_, Rule>) -> WaitUntilAst {
    let mut inner = pair.into_inner();
    let event = spanned(&inner.next().expect("event type"));
    let (mut match_key, mut condition, mut on_event, mut on_timeout) =
        (None, None, OutcomeAst::Continue, OutcomeAst::Continue);
    let mut lookback = None;
    for p in inner {
        match p.as_rule() {
            Rule::expr => match_key = Some(expr_src(&p)),
            Rule::wait_where => condition = p.into_inner().next().map(|e| expr_src(&e)),
            Rule::wait_lookback => {
                lookback = p
                    .into_inner()
                    .next()
                    .map(|d| Spanned::new(duration(&d), d.as_span().into()))
            }
            Rule::on_event => on_event = outcome(p),
            _ => on_timeout = outcome(p),
        }
    }
    WaitUntilAst {
        event,
        match_key,
        condition,
        lookback,
        on_event,
        on_timeout,
    }
}

fn outcome(pair: Pair<'_, Rule>) -> OutcomeAst {
    let o = pair
        .into_inner()
        .next()
        .and_then(|o| o.into_inner().next())
        .expect("grammar: outcome");
    match o.as_rule() {
        Rule::outcome_exit => OutcomeAst::Exit(o.into_inner().next().map(|s| string_of(&s).value)),
        _ => OutcomeAst::Continue,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_unclosed_paren_is_reported_where_it_opens() {
        let text =
            "workflow \"p\" version 1\non event a.b\nwhen (event.x > 1 and event.y\ndo log()\n";
        let d = crate::compile_file("p.mkw", text).unwrap_err();
        let p = &d.problems[0];
        assert_eq!(p.message, "this `(` is never closed (opened at 3:6)");
        assert_eq!(&d.source[p.span.start..p.span.end], "(");
        // A paren inside a string or a comment does not count.
        let text = "workflow \"p\" version 1\non event a.b\n# note (\nwhen event.x == \"(\" and\ndo log()\n";
        let d = crate::compile_file("p.mkw", text).unwrap_err();
        assert!(
            d.problems[0].message.starts_with("syntax error"),
            "{}",
            d.problems[0].message
        );
    }
}
