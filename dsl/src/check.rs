//! The checker: turns the AST into the IR, collecting every problem of the file at once.

mod args;
mod decide;
mod split;
mod timing;

use crate::ast::*;
use crate::diag::{Diagnostics, Problem};
use crate::expr::{closest, Env, Expr, Node, Ty, MAX_DURATION_MS};
use crate::ir::*;
use crate::span::{LineIndex, Span};
use std::collections::HashMap;

pub use crate::clash::{clashes, Clash};
use std::str::FromStr;

/// Deepest nesting of `if` blocks accepted.
pub const MAX_STEP_DEPTH: usize = 32;

/// What the checker knows about the world outside the file.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Known action names; `None` skips the unknown-action check.
    pub actions: Option<Vec<String>>,
    /// Declared event types: `event.*` paths of workflows they trigger are checked against them.
    pub events: Option<std::sync::Arc<crate::catalog::EventCatalog>>,
    /// Holiday calendars: send windows naming another are refused.
    pub holidays: Option<std::sync::Arc<crate::calendar::Holidays>>,
}

/// Compiles an AST into the IR; problems go to `diags`.
pub fn compile(ast: &WorkflowAst, file: &str, diags: &mut Diagnostics) -> Option<Workflow> {
    compile_with(ast, file, diags, &Catalog::default())
}

/// Compiles an AST into the IR, checking action names against `catalog`.
pub fn compile_with(
    ast: &WorkflowAst,
    file: &str,
    diags: &mut Diagnostics,
    catalog: &Catalog,
) -> Option<Workflow> {
    let trigger_event = match &ast.trigger.value {
        TriggerAst::Event { event, .. } => Some(&event.value),
        TriggerAst::Date { from_event, .. } => Some(&from_event.value),
        TriggerAst::Schedule { .. } => None,
    };
    let env = Env {
        entity: match &ast.trigger.value {
            TriggerAst::Schedule { for_each, .. } => for_each.as_ref().map(|f| f.value.clone()),
            _ => None,
        },
        event: trigger_event
            .zip(catalog.events.as_deref())
            .and_then(|(t, events)| events.event_shape(t)),
    };
    let text = diags.source.clone();
    let mut c = Checker {
        env,
        catalog,
        problems: Vec::new(),
        steps: Vec::new(),
        ids: HashMap::new(),
        lines: LineIndex::new(&text),
        has_customer: true,
        aggregates: Vec::new(),
    };
    let trigger = c.trigger(&ast.trigger);
    c.has_customer = !matches!(trigger, Some(Trigger::Schedule { .. }));
    let when = ast.when.as_ref().and_then(|w| c.condition(w));
    if ast.name.value.trim().is_empty() {
        c.problems.push(
            Problem::new("name", ast.name.span, "the workflow name is empty")
                .hint("name it, e.g. `cart-abandon`"),
        );
    }
    let start = c.lower(&ast.steps, "", Target::End, 0);
    if ast.steps.is_empty() {
        c.problems.push(
            Problem::new("steps", ast.name.span, "the workflow has no steps")
                .hint("add at least one step, e.g. an action"),
        );
    }
    let re_enroll = match ast.re_enroll.as_ref().map(|r| r.value) {
        None | Some(ReEnrollAst::Never) => ReEnroll::Never,
        Some(ReEnrollAst::Always) => ReEnroll::Always,
        Some(ReEnrollAst::After(ms)) => ReEnroll::After(ms),
        Some(ReEnrollAst::WhenFinished) => ReEnroll::WhenFinished,
        Some(ReEnrollAst::Replace) => ReEnroll::Replace,
    };
    let one_at_a_time = matches!(re_enroll, ReEnroll::WhenFinished | ReEnroll::Replace);
    let event_trigger = matches!(ast.trigger.value, TriggerAst::Event { .. });
    if let (Some(r), true, false) = (&ast.re_enroll, one_at_a_time, event_trigger) {
        c.problems.push(
            Problem::new(
                "re-enroll",
                r.span,
                "one run at a time (`when finished`, `replace`) is kept per customer or `per` key of an event, so it needs an event trigger",
            )
            .hint("use `never`, `always` or `after 30d` with a schedule or a date trigger"),
        );
    }
    let enroll_per = ast.re_enroll_per.as_ref().and_then(|per| {
        if !event_trigger {
            c.problems.push(
                Problem::new("re-enroll", per.span(), "`per` needs an event trigger")
                    .hint("schedules count per `for each` entity and date triggers per dated object already"),
            );
        }
        c.expr(per)
    });
    if let (Some(r), ReEnroll::After(ms)) = (&ast.re_enroll, re_enroll) {
        c.too_long(ms, r.span, "re-enrollment");
    }
    let over_cap = match ast.over_cap.as_ref().map(|o| (o.value.as_str(), o.span)) {
        None | Some(("skip", _)) => OverCap::Skip,
        Some(("defer", _)) => OverCap::Defer,
        Some((other, span)) => {
            c.problems.push(
                Problem::new(
                    "over-cap",
                    span,
                    format!("`{other}` is not an over-cap choice"),
                )
                .hint("write `skip` or `defer`"),
            );
            OverCap::Skip
        }
    };
    let priority = match ast.priority.as_ref().map(|p| (p.value.as_str(), p.span)) {
        None | Some(("normal", _)) => Priority::Normal,
        Some(("low", _)) => Priority::Low,
        Some(("high", _)) => Priority::High,
        Some((other, span)) => {
            c.problems.push(
                Problem::new("priority", span, format!("`{other}` is not a priority"))
                    .hint("write `low`, `normal` or `high`"),
            );
            Priority::Normal
        }
    };
    if let Some(g) = &ast.goal {
        c.event_type(g);
    }
    let send_window = ast.send_window.as_ref().and_then(|w| c.send_window(w));
    let debounce = ast
        .debounce
        .as_ref()
        .and_then(|d| c.debounce(d, event_trigger, one_at_a_time));
    let Checker {
        problems,
        steps,
        aggregates,
        ..
    } = c;
    let ok = problems.is_empty();
    problems.into_iter().for_each(|p| diags.push(p));
    Some(Workflow {
        name: ast.name.value.clone(),
        version: ast.version.value,
        description: ast.description.clone(),
        file: file.to_string(),
        trigger: trigger?,
        when,
        goal: ast.goal.as_ref().map(|g| g.value.clone()),
        re_enroll,
        enroll_per,
        debounce,
        over_cap,
        priority,
        send_window,
        steps,
        start,
        aggregates,
    })
    .filter(|_| ok)
}

struct Checker<'a> {
    /// The history aggregates the workflow's expressions read.
    aggregates: Vec<crate::expr::Aggregate>,
    env: Env,
    catalog: &'a Catalog,
    problems: Vec<Problem>,
    steps: Vec<Step>,
    ids: HashMap<String, Span>,
    lines: LineIndex<'a>,
    has_customer: bool,
}

impl Checker<'_> {
    fn expr(&mut self, src: &ExprSrc) -> Option<Expr> {
        let e = Expr::compile_at(&src.text, src.offset, &self.env, &mut self.problems)?;
        let mut found = Vec::new();
        e.node.aggregates(&mut found);
        for a in found {
            if !self.aggregates.contains(a) {
                self.aggregates.push(a.clone());
            }
        }
        Some(e)
    }

    fn condition(&mut self, src: &ExprSrc) -> Option<Expr> {
        let e = self.expr(src)?;
        let ty = e.ty();
        if !matches!(ty, Ty::Any | Ty::Bool) {
            self.problems.push(
                Problem::new(
                    "type",
                    src.span(),
                    format!(
                        "a condition must be true or false, but this is {}",
                        ty.article()
                    ),
                )
                .hint("compare it with something, e.g. `event.cart.total >= 50`"),
            );
        }
        Some(e)
    }

    fn event_type(&mut self, ev: &Spanned<String>) {
        let ok = !ev.value.is_empty()
            && ev
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !ok {
            self.problems.push(
                Problem::new(
                    "event-type",
                    ev.span,
                    format!("`{}` is not an event type", ev.value),
                )
                .hint("event types are dotted words such as `cart.abandoned`"),
            );
        }
    }

    fn timezone(&mut self, tz: Option<&Spanned<String>>) -> String {
        let Some(tz) = tz else { return "UTC".into() };
        if chrono_tz::Tz::from_str(&tz.value).is_err() {
            self.problems.push(
                Problem::new(
                    "timezone",
                    tz.span,
                    format!("unknown time zone `{}`", tz.value),
                )
                .hint("use an IANA name such as `Asia/Tokyo`, `Europe/Paris` or `UTC`"),
            );
        }
        tz.value.clone()
    }

    fn trigger(&mut self, t: &Spanned<TriggerAst>) -> Option<Trigger> {
        Some(match &t.value {
            TriggerAst::Event { event, segment } => {
                self.event_type(event);
                if let Some(s) = segment
                    .as_ref()
                    .filter(|s| !crate::segments::valid_segment_name(&s.value))
                {
                    self.problems.push(
                        Problem::new(
                            "trigger",
                            s.span,
                            format!("`{}` cannot name a segment", s.value),
                        )
                        .hint(
                            "segment names are lowercase letters, digits, `-` and `_` (`at-risk`)",
                        ),
                    );
                }
                Trigger::Event {
                    event: event.value.clone(),
                    segment: segment.as_ref().map(|s| s.value.clone()),
                }
            }
            TriggerAst::Schedule { cron, tz, for_each } => {
                let normalized = normalize_cron(&cron.value);
                if let Err(e) = cron::Schedule::from_str(&normalized) {
                    self.problems.push(Problem::new("cron", cron.span, format!("invalid cron expression `{}`: {}", cron.value, e.to_string().lines().last().unwrap_or_default().trim()))
                        .hint("five fields: minute hour day-of-month month day-of-week, e.g. `0 9 * * MON-FRI`"));
                }
                Trigger::Schedule {
                    cron: normalized,
                    timezone: self.timezone(tz.as_ref()),
                    for_each: for_each.as_ref().map(|f| f.value.clone()),
                }
            }
            TriggerAst::Date {
                date,
                offset_ms,
                at,
                tz,
                from_event,
            } => {
                self.event_type(from_event);
                self.too_long(offset_ms.saturating_abs(), date.span(), "the date offset");
                let expr = self.expr(date)?;
                if !matches!(&expr.node, Node::Path(..)) {
                    self.problems.push(Problem::new("trigger", date.span(), "a date trigger needs a path to a date")
                        .hint("e.g. `event.contract.renewal_date`; put the offset in `before:`/`after:`"));
                }
                let at_minute = match at {
                    None => 9 * 60,
                    Some(a) => parse_hhmm(&a.value).unwrap_or_else(|| {
                        self.problems.push(
                            Problem::new(
                                "trigger",
                                a.span,
                                format!("`{}` is not a time of day", a.value),
                            )
                            .hint("write `HH:MM`, e.g. `09:30`"),
                        );
                        0
                    }),
                };
                Trigger::Date {
                    date: expr,
                    offset_ms: *offset_ms,
                    at_minute,
                    timezone: self.timezone(tz.as_ref()),
                    from_event: from_event.value.clone(),
                }
            }
        })
    }

    fn push_placeholder(&mut self, id: String, span: Span) -> usize {
        let pos = self.lines.position(span.start);
        self.steps.push(Step {
            id,
            pos,
            kind: StepKind::Exit {
                reason: String::new(),
            },
        });
        self.steps.len() - 1
    }

    fn step_id(&mut self, step: &StepAst, auto: String) -> String {
        let Some(id) = &step.id else { return auto };
        if let Some(first) = self.ids.get(&id.value) {
            let at = self.lines.position(first.start);
            self.problems.push(
                Problem::new(
                    "duplicate-id",
                    id.span,
                    format!("step id `{}` is used twice", id.value),
                )
                .hint(format!(
                    "it was first used at {at}; give each step its own id"
                )),
            );
        }
        self.ids.insert(id.value.clone(), id.span);
        id.value.clone()
    }

    /// Lowers a list of steps whose last step continues to `after`; returns the list's entry.
    fn lower(&mut self, list: &[StepAst], prefix: &str, after: Target, depth: usize) -> Target {
        if depth > MAX_STEP_DEPTH {
            if let Some(s) = list.first() {
                self.problems.push(
                    Problem::new(
                        "too-deep",
                        s.span,
                        format!("steps nested deeper than {MAX_STEP_DEPTH} levels"),
                    )
                    .hint("flatten the branches or split the workflow"),
                );
            }
            return after;
        }
        let indices: Vec<usize> = list
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let id = self.step_id(s, format!("{prefix}{}", i + 1));
                self.push_placeholder(id, s.span)
            })
            .collect();
        let mut unreachable_reported = false;
        for (i, step) in list.iter().enumerate() {
            let next = indices
                .get(i + 1)
                .map(|n| Target::Step(*n))
                .unwrap_or(after);
            let id = self.steps[indices[i]].id.clone();
            let kind = self.step_kind(step, next, &id, depth);
            self.steps[indices[i]].kind = kind;
            if !unreachable_reported && i + 1 < list.len() && always_exits(step) {
                unreachable_reported = true;
                self.problems.push(Problem::new("unreachable", list[i + 1].span, "this step can never run")
                    .hint("the step before it always ends the run; remove this step or change that exit"));
            }
        }
        indices.first().map(|i| Target::Step(*i)).unwrap_or(after)
    }

    fn exit_node(
        &mut self,
        reason: Option<&String>,
        default: &str,
        id: String,
        span: Span,
    ) -> Target {
        let idx = self.push_placeholder(id, span);
        self.steps[idx].kind = StepKind::Exit {
            reason: reason.cloned().unwrap_or_else(|| default.to_string()),
        };
        Target::Step(idx)
    }

    fn step_kind(&mut self, step: &StepAst, next: Target, id: &str, depth: usize) -> StepKind {
        match &step.kind {
            StepKindAst::Action {
                name,
                args,
                retry,
                throttle,
            } => {
                self.action_name(name);
                let args = args
                    .iter()
                    .map(|(k, a)| (k.value.clone(), self.arg(a)))
                    .collect();
                StepKind::Action {
                    action: name.value.clone(),
                    args,
                    retry: self.retry(retry.as_ref()),
                    throttle: throttle.as_ref().and_then(|t| self.throttle(t)),
                    next,
                }
            }
            StepKindAst::Wait { duration, until } => {
                self.wait(step, duration.as_ref(), until.as_ref(), next, id)
            }
            StepKindAst::WaitMoment(moment) => self.wait_moment(moment, next),
            StepKindAst::If {
                cond,
                then,
                otherwise,
            } => {
                let condition = self.condition(cond);
                let then = self.lower(then, &format!("{id}.then."), next, depth + 1);
                let otherwise = self.lower(otherwise, &format!("{id}.else."), next, depth + 1);
                match condition {
                    Some(condition) => StepKind::Branch {
                        condition,
                        then,
                        otherwise,
                    },
                    None => StepKind::Exit {
                        reason: "invalid condition".into(),
                    },
                }
            }
            StepKindAst::Split {
                experiment,
                convert,
                variants,
            } => self.split(
                step,
                (experiment, convert.as_ref(), variants),
                next,
                id,
                depth,
            ),
            StepKindAst::Decide {
                inputs,
                hit,
                complete,
                rows,
            } => self.decide(step, (inputs, hit.as_ref(), *complete, rows), next),
            StepKindAst::Exit { reason } => StepKind::Exit {
                reason: reason.clone().unwrap_or_else(|| "exit".into()),
            },
        }
    }

    fn action_name(&mut self, name: &Spanned<String>) {
        let Some(known) = &self.catalog.actions else {
            return;
        };
        if known.iter().any(|a| a == &name.value) {
            return;
        }
        let hint = match closest(&name.value, known.iter().map(String::as_str)) {
            Some(c) => format!("did you mean `{c}`? known actions: {}", known.join(", ")),
            None => format!("known actions: {}; plugins add more", known.join(", ")),
        };
        self.problems.push(
            Problem::new(
                "unknown-action",
                name.span,
                format!("unknown action `{}`", name.value),
            )
            .hint(hint),
        );
    }

    /// Refuses a duration longer than the language allows, at `span`.
    fn too_long(&mut self, ms: i64, span: Span, what: &str) {
        if ms > MAX_DURATION_MS {
            self.problems.push(
                Problem::new("duration", span, format!("{what} is longer than 100 years"))
                    .hint("durations go up to 100 years"),
            );
        }
    }

    fn retry(&mut self, retry: Option<&RetryAst>) -> RetryPolicy {
        let mut policy = RetryPolicy::default();
        if let Some(r) = retry {
            if r.attempts.value == 0 || r.attempts.value > 100 {
                self.problems.push(
                    Problem::new(
                        "retry",
                        r.attempts.span,
                        "attempts must be between 1 and 100",
                    )
                    .hint("1 means no retry"),
                );
            }
            policy.attempts = r.attempts.value.clamp(1, 100);
            for ms in [r.backoff_ms, r.max_backoff_ms].into_iter().flatten() {
                self.too_long(ms, r.attempts.span, "the retry backoff");
            }
            policy.backoff_ms = r.backoff_ms.unwrap_or(policy.backoff_ms);
            policy.max_backoff_ms = r
                .max_backoff_ms
                .unwrap_or(policy.max_backoff_ms)
                .max(policy.backoff_ms);
        }
        policy
    }
}

/// True when a step ends the run on every path through it.
fn always_exits(step: &StepAst) -> bool {
    match &step.kind {
        StepKindAst::Exit { .. } => true,
        StepKindAst::If {
            then, otherwise, ..
        } => then.last().is_some_and(always_exits) && otherwise.last().is_some_and(always_exits),
        StepKindAst::Split { variants, .. } => variants
            .iter()
            .all(|v| v.steps.last().is_some_and(always_exits)),
        StepKindAst::Wait { until: Some(u), .. } => {
            matches!(u.on_event, OutcomeAst::Exit(_)) && matches!(u.on_timeout, OutcomeAst::Exit(_))
        }
        _ => false,
    }
}

/// Adds a seconds field to 5-field cron expressions (the cron crate wants 6 or 7).
pub fn normalize_cron(text: &str) -> String {
    let fields = text.split_whitespace().count();
    if fields == 5 {
        format!("0 {}", text.trim())
    } else {
        text.trim().to_string()
    }
}

fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}
