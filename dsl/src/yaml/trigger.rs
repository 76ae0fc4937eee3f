//! The YAML `trigger:`: exactly one of an event type, a cron schedule, a date in an event, or a
//! segment's entries or exits.

use super::{with, PathSeg, Reader, YamlTrigger};
use crate::ast::{Spanned, TriggerAst};

impl Reader<'_> {
    /// Reads `trigger:` (`None` after reporting its problem).
    pub(super) fn trigger(&mut self, t: YamlTrigger) -> Option<Spanned<TriggerAst>> {
        let path = vec![PathSeg::Key("trigger")];
        let at = |k: &'static str| with(&path, PathSeg::Key(k));
        let span = self.span(&path);
        let kinds = [
            t.event.is_some(),
            t.schedule.is_some(),
            t.date.is_some(),
            t.segment.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if kinds != 1 {
            self.problem(
                "trigger",
                &path,
                "a trigger needs exactly one of `event`, `schedule`, `date` or `segment`".into(),
                "e.g. `trigger: { event: cart.abandoned }`",
            );
            return None;
        }
        if t.on.is_some() && t.segment.is_none() {
            self.problem(
                "trigger",
                &at("on"),
                "`on` belongs to a segment trigger".into(),
                "write `trigger: { segment: at-risk, on: enter }`, or remove `on`",
            );
        }
        let tz = t.timezone.map(|z| self.spanned(z, &at("timezone")));
        let trigger = if let Some(event) = t.event {
            TriggerAst::Event {
                event: self.spanned(event, &at("event")),
                segment: None,
            }
        } else if let Some(segment) = t.segment {
            let on = t.on.unwrap_or_else(|| "enter".into());
            let Some(event) = crate::segments::edge_event(&on) else {
                self.problem(
                    "trigger",
                    &at("on"),
                    format!("`on: {on}` is not a segment change"),
                    "write `on: enter` or `on: leave`",
                );
                return None;
            };
            TriggerAst::Event {
                event: self.spanned(event.to_string(), &at("on")),
                segment: Some(self.spanned(segment, &at("segment"))),
            }
        } else if let Some(cron) = t.schedule {
            TriggerAst::Schedule {
                cron: self.spanned(cron, &at("schedule")),
                tz,
                for_each: t.for_each.map(|f| self.spanned(f, &at("for_each"))),
            }
        } else {
            let offset_ms = match (t.before, t.after) {
                (Some(b), None) => -self.duration(&b, &at("before")).unwrap_or(0),
                (None, Some(a)) => self.duration(&a, &at("after")).unwrap_or(0),
                (None, None) => 0,
                (Some(_), Some(_)) => {
                    self.problem(
                        "trigger",
                        &at("after"),
                        "use `before` or `after`, not both".into(),
                        "remove one of them",
                    );
                    0
                }
            };
            let Some(from_event) = t.from_event else {
                self.problem(
                    "trigger",
                    &path,
                    "a date trigger needs `from_event`".into(),
                    "name the event that carries the date, e.g. `from_event: contract.updated`",
                );
                return None;
            };
            TriggerAst::Date {
                date: self.expr(t.date.unwrap_or_default(), &at("date")),
                offset_ms,
                at: t.at.map(|a| self.spanned(a, &at("at"))),
                tz,
                from_event: self.spanned(from_event, &at("from_event")),
            }
        };
        Some(Spanned::new(trigger, span))
    }
}
