//! Reading days, windows and moments from the grammar, for the text DSL (parse tree pairs) and
//! for YAML fields (their text, parsed with the same rules), so both syntaxes accept exactly the
//! same spellings.

use super::{DaySet, Zone};
use crate::ast::{ExprSrc, Spanned};
use crate::diag::Problem;
use crate::expr::unescape;
use crate::grammar::{syntax_problem, Rule, RuleParser};
use crate::span::Span;
use chrono::Weekday;
use pest::iterators::Pair;
use pest::Parser;

/// A moment as written: `customer-local 09:00 on weekdays`, `event.renewal_date - 7d at 10:00`.
#[derive(Debug, Clone, PartialEq)]
pub struct MomentAst {
    /// The date or instant expression, if the moment is computed.
    pub at: Option<ExprSrc>,
    /// The time of day in minutes after midnight.
    pub minute: Option<u32>,
    /// The days allowed (every day when not written).
    pub days: DaySet,
    /// The zone as written (the workflow's zone when not written).
    pub zone: Option<Spanned<Zone>>,
    /// Where the moment was written.
    pub span: Span,
}

/// A window's days and hours as written: `weekdays 09:00-20:00`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowAst {
    /// Days it opens.
    pub days: DaySet,
    /// Opening minute.
    pub from: u32,
    /// Closing minute.
    pub to: u32,
    /// Where it was written.
    pub span: Span,
}

/// Parses a whole field of `rule` (one of the `*_text` rules); spans are shifted by `offset`.
fn field(rule: Rule, text: &str, offset: usize) -> Result<Pair<'_, Rule>, Problem> {
    let mut pairs = RuleParser::parse(rule, text).map_err(|e| syntax_problem(e, offset))?;
    let whole = pairs.next().expect("grammar: a *_text rule");
    Ok(whole.into_inner().next().expect("grammar: its content"))
}

/// Reads a moment written in a YAML field at `offset`.
pub(crate) fn moment_of(text: &str, offset: usize) -> Result<MomentAst, Problem> {
    moment_from(field(Rule::moment_text, text, offset)?, offset)
}

/// Reads a window written in a YAML field at `offset`.
pub(crate) fn window_of(text: &str, offset: usize) -> Result<WindowAst, Problem> {
    window_from(field(Rule::window_text, text, offset)?, offset)
}

/// Reads a set of days written at `offset`.
pub(crate) fn days_of(text: &str, offset: usize) -> Result<(DaySet, Span), Problem> {
    let pair = field(Rule::days_text, text, offset)?;
    Ok((days_from(pair.clone()), span_of(&pair, offset)))
}

fn span_of(pair: &Pair<'_, Rule>, offset: usize) -> Span {
    Span::from(pair.as_span()).shift(offset)
}

/// A `moment` pair; its spans are shifted by `offset`.
pub(crate) fn moment_from(pair: Pair<'_, Rule>, offset: usize) -> Result<MomentAst, Problem> {
    let span = span_of(&pair, offset);
    let form = pair.into_inner().next().expect("grammar: moment form");
    let mut m = MomentAst {
        at: None,
        minute: None,
        days: DaySet::EVERY_DAY,
        zone: None,
        span,
    };
    for part in form.into_inner() {
        match part.as_rule() {
            Rule::expr => {
                m.at = Some(ExprSrc {
                    text: part.as_str().to_string(),
                    offset: offset + part.as_span().start(),
                })
            }
            Rule::clock => m.minute = Some(clock_from(&part, offset)?),
            Rule::moment_at => {
                let clock = part.into_inner().next().expect("grammar: at clock");
                m.minute = Some(clock_from(&clock, offset)?);
            }
            Rule::moment_days => {
                m.days = days_from(part.into_inner().next().expect("grammar: days"));
            }
            Rule::zone => {
                let zone = zone_from(part.clone());
                let at = span_of(&part, offset);
                if m.zone.is_some() {
                    return Err(Problem::new("moment", at, "the time zone is given twice")
                        .hint("write it once, e.g. `customer-local 09:00 on weekdays`"));
                }
                m.zone = Some(Spanned::new(zone, at));
            }
            _ => {}
        }
    }
    Ok(m)
}

/// A `window` pair; its spans are shifted by `offset`.
pub(crate) fn window_from(pair: Pair<'_, Rule>, offset: usize) -> Result<WindowAst, Problem> {
    let span = span_of(&pair, offset);
    let mut days = DaySet::EVERY_DAY;
    let mut clocks = Vec::new();
    for part in pair.into_inner() {
        match part.as_rule() {
            Rule::days => days = days_from(part),
            Rule::clock => clocks.push(clock_from(&part, offset)?),
            _ => {}
        }
    }
    let (from, to) = (clocks[0], clocks[1]);
    if to <= from {
        return Err(Problem::new(
            "send-window",
            span,
            "a send window must close later the same day than it opens",
        )
        .hint("e.g. `09:00-20:00`; for quiet hours from 21:00 to 08:00, write the window `08:00-21:00`"));
    }
    Ok(WindowAst {
        days,
        from,
        to,
        span,
    })
}

/// Minutes after midnight of a `clock` pair (`09:30`), refusing `25:00` and `09:75`.
fn clock_from(pair: &Pair<'_, Rule>, offset: usize) -> Result<u32, Problem> {
    let (h, m) = pair.as_str().split_once(':').expect("grammar: HH:MM");
    let (h, m): (u32, u32) = (h.parse().unwrap_or(99), m.parse().unwrap_or(99));
    if h < 24 && m < 60 {
        Ok(h * 60 + m)
    } else {
        Err(Problem::new(
            "time-of-day",
            span_of(pair, offset),
            format!("`{}` is not a time of day", pair.as_str()),
        )
        .hint("write `HH:MM` from 00:00 to 23:59, e.g. `09:30`"))
    }
}

/// The set a `days` pair names.
pub(crate) fn days_from(pair: Pair<'_, Rule>) -> DaySet {
    let mut set = DaySet(0);
    for part in pair.into_inner() {
        let days = match part.as_rule() {
            Rule::days_weekdays => DaySet::WEEKDAYS,
            Rule::days_weekends => DaySet::WEEKENDS,
            Rule::days_every => DaySet::EVERY_DAY,
            Rule::day_range => {
                let mut names = part.into_inner().map(|d| weekday(d.as_str()));
                let first = names.next().expect("grammar: a day");
                DaySet::range(first, names.next().unwrap_or(first))
            }
            _ => continue,
        };
        set = set.union(days);
    }
    set
}

fn weekday(name: &str) -> Weekday {
    match &name.to_ascii_lowercase()[..3] {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        _ => Weekday::Sun,
    }
}

/// The zone a `zone` pair names (time zone names are checked by the checker).
pub(crate) fn zone_from(pair: Pair<'_, Rule>) -> Zone {
    let inner = pair.into_inner().next().expect("grammar: zone form");
    let name = inner.clone().into_inner().next().map(|s| string_text(&s));
    match inner.as_rule() {
        Rule::zone_fixed => Zone::Fixed {
            name: name.unwrap_or_default(),
        },
        _ => Zone::Customer { fallback: name },
    }
}

/// The text inside a `string` pair, unescaped.
fn string_text(pair: &Pair<'_, Rule>) -> String {
    let inner = pair.clone().into_inner().next().map(|p| p.as_str());
    unescape(inner.unwrap_or("")).into_owned()
}
