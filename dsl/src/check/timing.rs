//! Checking the constructs about time: a workflow's send window and waits until a moment.

use super::Checker;
use crate::ast::*;
use crate::calendar::{HolidaySource, Moment, Outside, SendWindow, WindowSetting, Zone};
use crate::diag::Problem;
use crate::expr::{closest, Expr, Ty};
use crate::ir::*;

impl Checker<'_> {
    /// The IR of a workflow's `send_window`.
    pub(super) fn send_window(&mut self, w: &Spanned<SendWindowAst>) -> Option<WindowSetting> {
        let SendWindowAst::On {
            window,
            tz,
            holidays,
            outside,
        } = &w.value
        else {
            return Some(WindowSetting::Off);
        };
        let outside = match outside.as_ref().map(|o| (o.value.trim(), o.span)) {
            None | Some(("wait", _)) => Outside::Wait,
            Some(("skip", _)) => Outside::Skip,
            Some((other, span)) => {
                self.problems.push(
                    Problem::new(
                        "send-window",
                        span,
                        format!("`{other}` is not what a message outside its window does"),
                    )
                    .hint("write `wait` (for the next opening) or `skip`"),
                );
                Outside::Wait
            }
        };
        Some(WindowSetting::On(SendWindow {
            days: window.days,
            from_minute: window.from,
            to_minute: window.to,
            timezone: self.timezone(tz.as_ref()),
            holidays: holidays.as_ref().map(|h| self.holiday_source(h)),
            outside,
        }))
    }

    /// `JP` (a calendar) or `customer.country` (the customer's own), checked against the
    /// calendars known when there are any.
    fn holiday_source(&mut self, h: &Spanned<String>) -> HolidaySource {
        let text = h.value.trim();
        if let Some(path) = text.strip_prefix("customer.") {
            return HolidaySource::Customer(path.to_string());
        }
        if let Some(known) = self.catalog.holidays.as_deref() {
            if !known.has(text) {
                let names: Vec<&str> = known.names().collect();
                let hint = match closest(&text.to_uppercase(), names.iter().copied()) {
                    Some(c) => format!("did you mean `{c}`? calendars: {}", names.join(", ")),
                    None if names.is_empty() => {
                        "add a file holidays/<NAME>.yaml to the workflows folder, one `2026-01-01: New Year's Day` per line".into()
                    }
                    None => format!("calendars: {} (files in holidays/)", names.join(", ")),
                };
                self.problems.push(
                    Problem::new(
                        "holidays",
                        h.span,
                        format!("unknown holiday calendar `{text}`"),
                    )
                    .hint(hint),
                );
            }
        }
        HolidaySource::Calendar(text.to_string())
    }

    /// The IR of `debounce 5m [per <key>]`, for event triggers only.
    pub(super) fn debounce(
        &mut self,
        d: &DebounceAst,
        event_trigger: bool,
        one_at_a_time: bool,
    ) -> Option<Debounce> {
        if one_at_a_time {
            self.problems.push(
                Problem::new("debounce", d.quiet.span, "debounce does not go with one run at a time (`when finished`, `replace`) yet")
                    .hint("use `re-enroll always` or `after <duration>`: the quiet time already starts one run per burst"),
            );
        }
        if !event_trigger {
            self.problems.push(
                Problem::new("debounce", d.quiet.span, "debounce needs an event trigger").hint(
                    "a burst of events starts one run; schedules and dates fire once already",
                ),
            );
        }
        self.too_long(d.quiet.value, d.quiet.span, "a debounce");
        if d.quiet.value <= 0 {
            self.problems.push(
                Problem::new(
                    "debounce",
                    d.quiet.span,
                    "a debounce must last longer than zero",
                )
                .hint("e.g. `5m`"),
            );
        }
        let per = match &d.per {
            Some(src) => Some(self.expr(src)?),
            None => None,
        };
        Some(Debounce {
            quiet_ms: d.quiet.value,
            per,
        })
    }

    /// The IR of an action's `throttle`.
    pub(super) fn throttle(&mut self, t: &ThrottleAst) -> Option<Box<Throttle>> {
        let Some((max, window_ms)) = Throttle::rate(&t.rate.value) else {
            self.problems.push(
                Problem::new(
                    "throttle",
                    t.rate.span,
                    format!("`{}` is not a rate", t.rate.value),
                )
                .hint("write calls per time, e.g. `10/1s` or `100/1m`, at least 1"),
            );
            return None;
        };
        self.too_long(window_ms, t.rate.span, "a throttle window");
        let per = match &t.per {
            Some(src) => Some(self.expr(src)?),
            None => None,
        };
        Some(Box::new(Throttle {
            max,
            window_ms,
            per,
        }))
    }

    /// The IR of `wait until <moment>`.
    pub(super) fn wait_moment(
        &mut self,
        moment: &Result<MomentAst, Problem>,
        next: Target,
    ) -> StepKind {
        let invalid = StepKind::Exit {
            reason: "invalid wait".into(),
        };
        let m = match moment {
            Ok(m) => m,
            Err(p) => {
                self.problems.push(p.clone());
                return invalid;
            }
        };
        let at = match &m.at {
            None => None,
            Some(src) => {
                let Some(e) = self.expr(src) else {
                    return invalid;
                };
                if !matches!(e.ty(), Ty::Any | Ty::Str | Ty::Date | Ty::Time) {
                    self.problems.push(
                        Problem::new(
                            "moment",
                            src.span(),
                            format!(
                                "a moment must be a date or a time, but this is {}",
                                e.ty().article()
                            ),
                        )
                        .hint("e.g. `event.contract.renewal_date - 7d` or `customer-local 09:00`"),
                    );
                }
                Some(e)
            }
        };
        let zone = match &m.zone {
            None => Zone::Customer { fallback: None },
            Some(z) => {
                let name = match &z.value {
                    Zone::Fixed { name } => Some(name),
                    Zone::Customer { fallback } => fallback.as_ref(),
                };
                if let Some(name) = name {
                    self.timezone(Some(&Spanned::new(name.clone(), z.span)));
                }
                z.value.clone()
            }
        };
        StepKind::Wait {
            duration_ms: 0,
            until: None,
            next,
            on_event: next,
            at: Some(Box::new(Moment {
                at,
                minute: m.minute,
                days: m.days,
                zone,
            })),
        }
    }

    /// The IR of a wait for a time or for an event.
    pub(super) fn wait(
        &mut self,
        step: &StepAst,
        duration: Option<&Spanned<i64>>,
        until: Option<&WaitUntilAst>,
        next: Target,
        id: &str,
    ) -> StepKind {
        let Some(duration) = duration else {
            let message = if until.is_some() {
                "waiting for an event needs a timeout"
            } else {
                "a wait needs a duration"
            };
            self.problems.push(
                Problem::new("wait", step.span, message)
                    .hint("add `for: 3d` (YAML) or `wait 3d ...` (DSL)"),
            );
            return StepKind::Exit {
                reason: "invalid wait".into(),
            };
        };
        self.too_long(duration.value, duration.span, "a wait");
        if duration.value <= 0 {
            self.problems.push(
                Problem::new("wait", duration.span, "a wait must last longer than zero")
                    .hint("e.g. `1h`"),
            );
        }
        let Some(u) = until else {
            return StepKind::Wait {
                duration_ms: duration.value,
                until: None,
                next,
                on_event: next,
                at: None,
            };
        };
        self.event_type(&u.event);
        let match_key = match &u.match_key {
            Some(src) => self.expr(src),
            None if self.has_customer => Expr::parse("customer.id", &self.env).ok(),
            None => {
                self.problems.push(Problem::new("correlation", u.event.span, "waiting for an event needs a correlation key here")
                    .hint("schedule-triggered runs have no customer; add `match: <key>` (YAML) or `match <key>` (DSL), e.g. `contract.id`"));
                None
            }
        };
        let mut outcome = |o: &OutcomeAst, default: &str, suffix: &str| match o {
            OutcomeAst::Continue => next,
            OutcomeAst::Exit(reason) => self.exit_node(
                reason.as_ref(),
                default,
                format!("{id}.{suffix}"),
                u.event.span,
            ),
        };
        let on_event = outcome(
            &u.on_event,
            &format!("{} received", u.event.value),
            "on_event",
        );
        let on_timeout = outcome(&u.on_timeout, "timed out", "on_timeout");
        // `event` is the awaited event in the condition, not the trigger's: its paths are not
        // checked against the trigger's catalog entry.
        let event_shape = self.env.event.take();
        let condition = u.condition.as_ref().and_then(|c| self.condition(c));
        self.env.event = event_shape;
        if let Some(l) = &u.lookback {
            self.too_long(l.value, l.span, "a lookback");
            if l.value <= 0 {
                self.problems.push(
                    Problem::new("wait", l.span, "a lookback must last longer than zero")
                        .hint("e.g. `10m`, or leave it out"),
                );
            }
        }
        StepKind::Wait {
            duration_ms: duration.value,
            until: match_key.map(|match_key| WaitUntil {
                event: u.event.value.clone(),
                match_key,
                condition,
                lookback_ms: u.lookback.as_ref().map(|l| l.value),
            }),
            next: on_timeout,
            on_event,
            at: None,
        }
    }
}
