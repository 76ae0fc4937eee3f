//! The YAML fields about time: a workflow's `send_window` and a wait's `until` moment, read
//! with the grammar's own rules (see [`crate::calendar`]) so they accept what the DSL accepts.

use super::{segs, serde_problem, with, Path, PathSeg, Reader, YamlWait};
use crate::ast::{
    DebounceAst, ExprSrc, OutcomeAst, SendWindowAst, Spanned, StepKindAst, ThrottleAst,
    WaitUntilAst,
};
use crate::calendar::{moment_of, window_of};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_yaml::Value;

/// A send window in full (or write only the hours: `send_window: weekdays 09:00-20:00`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct YamlSendWindow {
    /// Days and hours, e.g. `weekdays 09:00-20:00`, `mon-sat 10:00-18:00`, `09:00-21:00`.
    pub hours: String,
    /// The time zone of customers without a valid `timezone` attribute (default UTC).
    pub timezone: Option<String>,
    /// The holiday calendar that closes the window: a file name in `holidays/` (`JP`) or a
    /// customer attribute naming one (`customer.country`).
    pub holidays: Option<String>,
    /// Outside the window: `wait` for the next opening (default) or `skip` the message.
    pub outside: Option<String>,
}

impl Reader<'_> {
    /// `send_window:` as a string (`off` or the hours) or a mapping.
    pub(super) fn send_window(&mut self, value: Value) -> Option<Spanned<SendWindowAst>> {
        let path: Path = vec![PathSeg::Key("send_window")];
        let span = self.span(&path);
        let at = |k: &'static str| with(&path, PathSeg::Key(k));
        let (full, hours_path) = match value {
            Value::String(s) if s.trim() == "off" => {
                return Some(Spanned::new(SendWindowAst::Off, span))
            }
            Value::Bool(false) => return Some(Spanned::new(SendWindowAst::Off, span)),
            Value::String(hours) => {
                let only_hours = YamlSendWindow {
                    hours,
                    timezone: None,
                    holidays: None,
                    outside: None,
                };
                (only_hours, path.clone())
            }
            other => match serde_yaml::from_value::<YamlSendWindow>(other) {
                Ok(w) => (w, at("hours")),
                Err(e) => {
                    let msg = e.to_string();
                    let field = msg.split('`').nth(1).unwrap_or("");
                    let at = if msg.contains("unknown field") {
                        self.loc.key_span(&segs(&path), field)
                    } else {
                        span
                    };
                    self.diags.push(serde_problem(&msg, at).hint(
                        "write `send_window: weekdays 09:00-20:00`, or a mapping with `hours`, `timezone`, `holidays`, `outside`",
                    ));
                    return None;
                }
            },
        };
        let offset = self.loc.text_offset(&segs(&hours_path));
        let window = match window_of(&full.hours, offset) {
            Ok(w) => w,
            Err(p) => {
                self.diags.push(p);
                return None;
            }
        };
        let ast = SendWindowAst::On {
            window,
            tz: full.timezone.map(|z| self.spanned(z, &at("timezone"))),
            holidays: full.holidays.map(|h| self.spanned(h, &at("holidays"))),
            outside: full.outside.map(|o| self.spanned(o, &at("outside"))),
        };
        Some(Spanned::new(ast, span))
    }

    /// `<value> per <expression>` in the field at `path` (`after 1d per event.kpi.id`,
    /// `10/1s per event.account_id`): the value, trimmed, and the expression at its place in
    /// the file.
    pub(super) fn split_per<'t>(&self, text: &'t str, path: &Path) -> (&'t str, Option<ExprSrc>) {
        const PER: &str = " per ";
        let Some(at) = text.find(PER) else {
            return (text.trim(), None);
        };
        let start = at + PER.len();
        let src = self.expr(text[start..].to_string(), path);
        let per = ExprSrc {
            offset: src.offset + start,
            ..src
        };
        (text[..at].trim(), Some(per))
    }

    /// `throttle: 10/1s` or `throttle: 10/1s per event.account_id`.
    pub(super) fn throttle(&mut self, text: &str, path: &Path) -> ThrottleAst {
        let (rate, per) = self.split_per(text, path);
        ThrottleAst {
            rate: self.spanned(rate.trim().to_string(), path),
            per,
        }
    }

    /// `debounce: 5m` or `debounce: 5m per event.account_id`.
    pub(super) fn debounce(&mut self, text: &str) -> Option<DebounceAst> {
        let path: Path = vec![PathSeg::Key("debounce")];
        let (quiet, per) = self.split_per(text, &path);
        let quiet = self.duration(quiet, &path)?;
        Some(DebounceAst {
            quiet: Spanned::new(quiet, self.span(&path)),
            per,
        })
    }

    /// `wait: { until: <moment> }`, which takes no other setting.
    pub(super) fn wait_moment(&mut self, text: &str, w: &YamlWait, path: &Path) -> StepKindAst {
        let until = with(path, PathSeg::Key("until"));
        let others = [
            (w.duration.is_some(), "for"),
            (w.until_event.is_some(), "until_event"),
            (w.match_key.is_some(), "match"),
            (w.condition.is_some(), "where"),
            (w.lookback.is_some(), "lookback"),
            (w.on_event.is_some(), "on_event"),
            (w.on_timeout.is_some(), "on_timeout"),
        ];
        if let Some((_, key)) = others.iter().find(|(set, _)| *set) {
            self.problem(
                "wait",
                &with(path, PathSeg::Key(key)),
                format!("`until` waits for a moment; `{key}` does not go with it"),
                "wait for a moment (`until: customer-local 09:00`) or for a time or an event (`for:`, `until_event:`), in separate steps",
            );
        }
        let offset = self.loc.text_offset(&segs(&until));
        StepKindAst::WaitMoment(moment_of(text, offset))
    }

    /// A wait for a time, for an event, or until a moment.
    pub(super) fn wait(&mut self, w: YamlWait, path: &Path) -> StepKindAst {
        if let Some(text) = &w.until {
            return self.wait_moment(text, &w, path);
        }
        let dur_path = with(path, PathSeg::Key("for"));
        let duration = w.duration.and_then(|d| {
            self.duration(&d, &dur_path)
                .map(|ms| Spanned::new(ms, self.span(&dur_path)))
        });
        let until = w.until_event.map(|event| WaitUntilAst {
            event: self.spanned(event, &with(path, PathSeg::Key("until_event"))),
            match_key: w
                .match_key
                .map(|m| self.expr(m, &with(path, PathSeg::Key("match")))),
            condition: w
                .condition
                .map(|c| self.expr(c, &with(path, PathSeg::Key("where")))),
            lookback: w.lookback.and_then(|l| {
                let at = with(path, PathSeg::Key("lookback"));
                self.duration(&l, &at)
                    .map(|ms| Spanned::new(ms, self.span(&at)))
            }),
            on_event: self.outcome(w.on_event.as_deref(), &with(path, PathSeg::Key("on_event"))),
            on_timeout: self.outcome(
                w.on_timeout.as_deref(),
                &with(path, PathSeg::Key("on_timeout")),
            ),
        });
        StepKindAst::Wait { duration, until }
    }

    /// `continue`, `exit` or `exit "reason"`.
    fn outcome(&mut self, text: Option<&str>, path: &Path) -> OutcomeAst {
        match text.map(str::trim) {
            None | Some("continue") => OutcomeAst::Continue,
            Some("exit") => OutcomeAst::Exit(None),
            Some(other) => match other.strip_prefix("exit ") {
                Some(reason) => OutcomeAst::Exit(Some(reason.trim().trim_matches('"').to_string())),
                None => {
                    self.problem(
                        "outcome",
                        path,
                        format!("`{other}` is not a wait outcome"),
                        "write `continue` or `exit` (optionally `exit \"reason\"`)",
                    );
                    OutcomeAst::Continue
                }
            },
        }
    }
}
