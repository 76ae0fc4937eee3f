//! Frequency caps: how many marketing messages a customer may get, as several rules at once
//! (`--frequency-cap "3/7d, marketing 5/7d, sms 1/1d calendar, tag newsletter 2/30d"`).
//!
//! A rule counts a customer's earlier marketing messages in its scope: `3/7d` each channel on
//! its own (the default), `marketing 5/7d` all channels together, `sms 1/1d` one channel,
//! `tag newsletter 2/30d` the messages whose step carries that `tag`. The window is rolling, or
//! with `calendar` whole days in the customer's time zone (`sms 1/1d calendar`: one a local day,
//! the next from local midnight). A workflow below the highest priority in use leaves the last
//! slot of every rule of more than one to the workflows above it.
//!
//! The rules are pure: the store hands them the customer's earlier messages inside the claim's
//! transaction ([`crate::store::RestraintStore::claim_message`]) and they say which rule refuses
//! and when it opens again.

use crate::clock::Millis;
use crate::store::{CapRefusal, PastMessage};
use chrono::Duration;
use chrono_tz::Tz;
use mikawaya_dsl::calendar::{instant, local_date, local_instant};
use mikawaya_dsl::expr::format_duration;
use mikawaya_dsl::ir::{Priority, Throttle};
use std::fmt;
use std::str::FromStr;

const DAY_MS: i64 = 86_400_000;

/// Which earlier messages a rule counts, and which new ones it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapScope {
    /// Each channel on its own (a rule without a scope).
    EachChannel,
    /// All marketing messages, whatever the channel.
    Marketing,
    /// Messages of one channel (`sms`).
    Channel(String),
    /// Messages whose step carries this tag.
    Tag(String),
}

/// How far back a rule counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapSpan {
    /// The last this many milliseconds.
    Rolling(i64),
    /// Today and the days before it, this many in all, in the customer's time zone.
    Days(u32),
}

/// One rule: at most `max` messages of `scope` within `span`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapRule {
    /// What it counts.
    pub scope: CapScope,
    /// Messages allowed.
    pub max: u32,
    /// The window.
    pub span: CapSpan,
}

/// All rules in force (none: no cap).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caps {
    rules: Vec<CapRule>,
}

/// A message about to be claimed, as the caps see it.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// Its channel.
    pub channel: &'a str,
    /// Its tags.
    pub tags: &'a [String],
    /// The customer's time zone (calendar days).
    pub zone: Tz,
    /// Its workflow's priority.
    pub priority: Priority,
    /// Whether a workflow of a higher priority is loaded (this one leaves it the last slot).
    pub yields_last_slot: bool,
    /// Now.
    pub now: Millis,
}

impl Caps {
    /// The rules, in the order written.
    pub fn rules(&self) -> &[CapRule] {
        &self.rules
    }

    /// One rule.
    pub fn one(rule: CapRule) -> Caps {
        Caps { rules: vec![rule] }
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The start of the earliest window of the rules that apply to `m`; `None` when none does.
    pub fn since(&self, m: &Outgoing<'_>) -> Option<Millis> {
        self.applying(m).map(|r| r.window_start(m)).min()
    }

    /// Whether `m` may go, given the customer's earlier messages `past` (since
    /// [`Caps::since`], the latest send of each step): `None`, or the rule that refuses with
    /// the sentence that explains it and when it opens again (of several, the latest).
    pub fn judge(&self, m: &Outgoing<'_>, past: &[PastMessage]) -> Option<CapRefusal> {
        self.applying(m)
            .filter_map(|rule| rule.refusal(m, past))
            .max_by_key(|r| r.opens_at.unwrap_or(Millis::MAX))
    }

    fn applying<'s>(&'s self, m: &'s Outgoing<'_>) -> impl Iterator<Item = &'s CapRule> {
        self.rules.iter().filter(|r| r.applies_to(m))
    }
}

impl CapRule {
    fn applies_to(&self, m: &Outgoing<'_>) -> bool {
        match &self.scope {
            CapScope::EachChannel | CapScope::Marketing => true,
            CapScope::Channel(c) => c == m.channel,
            CapScope::Tag(t) => m.tags.contains(t),
        }
    }

    fn counts(&self, m: &Outgoing<'_>, past: &PastMessage) -> bool {
        match &self.scope {
            CapScope::EachChannel | CapScope::Channel(_) => past.channel == m.channel,
            CapScope::Marketing => true,
            CapScope::Tag(t) => past.tags.contains(t),
        }
    }

    /// The first instant the rule counts at `m.now`.
    fn window_start(&self, m: &Outgoing<'_>) -> Millis {
        match self.span {
            // A message counts while `now < sent_at + window`, so a deferred step is allowed
            // exactly at the time it was deferred to.
            CapSpan::Rolling(ms) => m.now - ms + 1,
            CapSpan::Days(days) => {
                let today = local_date(instant(m.now), m.zone);
                midnight(m.zone, today, 1 - i64::from(days))
            }
        }
    }

    fn refusal(&self, m: &Outgoing<'_>, past: &[PastMessage]) -> Option<CapRefusal> {
        let start = self.window_start(m);
        let mut times: Vec<Millis> = past
            .iter()
            .filter(|p| p.sent_at >= start && self.counts(m, p))
            .map(|p| p.sent_at)
            .collect();
        let kept = u32::from(m.yields_last_slot && self.max > 1);
        let allowed = (self.max - kept.min(self.max)) as usize;
        if times.len() < allowed {
            return None;
        }
        times.sort_unstable();
        let opens_at = (allowed > 0).then(|| {
            let oldest = times[times.len() - allowed];
            match self.span {
                CapSpan::Rolling(ms) => oldest + ms,
                CapSpan::Days(days) => {
                    midnight(m.zone, local_date(instant(oldest), m.zone), i64::from(days))
                }
            }
        });
        let counted = match self.span {
            CapSpan::Rolling(ms) => format!("in {}", format_duration(ms)),
            CapSpan::Days(1) => format!("today ({})", m.zone),
            CapSpan::Days(days) => format!("in the last {days} days ({})", m.zone),
        };
        let what = match &self.scope {
            CapScope::EachChannel | CapScope::Channel(_) => format!("{} message(s)", m.channel),
            CapScope::Marketing => "marketing message(s)".to_string(),
            CapScope::Tag(t) => format!("message(s) tagged {t}"),
        };
        let mut reason = format!(
            "frequency cap {self}: {} {what} {counted} already",
            times.len()
        );
        if kept > 0 {
            reason.push_str(&format!(
                "; its last slot is kept for higher-priority workflows (this one is {})",
                m.priority.as_str()
            ));
        }
        Some(CapRefusal {
            rule: self.to_string(),
            reason,
            opens_at,
        })
    }
}

/// Local midnight of `date` shifted by `days`, in `zone`.
fn midnight(zone: Tz, date: chrono::NaiveDate, days: i64) -> Millis {
    local_instant(zone, date + Duration::days(days), 0).timestamp_millis()
}

impl fmt::Display for CapRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            CapScope::EachChannel => {}
            CapScope::Marketing => write!(f, "marketing ")?,
            CapScope::Channel(c) => write!(f, "{c} ")?,
            CapScope::Tag(t) => write!(f, "tag {t} ")?,
        }
        match self.span {
            CapSpan::Rolling(ms) => write!(f, "{}/{}", self.max, format_duration(ms)),
            CapSpan::Days(d) => write!(f, "{}/{d}d calendar", self.max),
        }
    }
}

impl fmt::Display for Caps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rules.is_empty() {
            return write!(f, "off");
        }
        let rules: Vec<String> = self.rules.iter().map(CapRule::to_string).collect();
        write!(f, "{}", rules.join(", "))
    }
}

impl FromStr for CapRule {
    type Err = String;

    /// Parses `3/7d`, `marketing 5/7d`, `sms 1/1d calendar`, `tag newsletter 2/30d`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "`{s}` is not a frequency cap; write e.g. `3/7d`, `marketing 5/7d`, \
                 `sms 1/1d calendar` or `tag newsletter 2/30d` (or `off`)"
            )
        };
        let mut words: Vec<&str> = s.split_whitespace().collect();
        let calendar = words.last() == Some(&"calendar");
        if calendar {
            words.pop();
        }
        let (limit, scope) = words.split_last().ok_or_else(bad)?;
        let scope = match scope {
            [] => CapScope::EachChannel,
            ["marketing"] => CapScope::Marketing,
            ["tag", tag] => CapScope::Tag(tag.to_string()),
            [channel] if !channel.contains('/') => CapScope::Channel(channel.to_string()),
            _ => return Err(bad()),
        };
        if limit.split('/').next().and_then(|m| m.parse::<u32>().ok()) == Some(0) {
            return Err(format!(
                "`{s}` would block every marketing message; allow at least 1, or turn the cap `off`"
            ));
        }
        // A rate as a throttle reads it: `3/7d`.
        let (max, window_ms) = Throttle::rate(limit).ok_or_else(bad)?;
        let span = if calendar {
            if window_ms % DAY_MS != 0 {
                return Err(format!(
                    "`{s}`: a calendar cap counts whole days; write e.g. `1d` or `7d`"
                ));
            }
            CapSpan::Days(u32::try_from(window_ms / DAY_MS).map_err(|_| bad())?)
        } else {
            CapSpan::Rolling(window_ms)
        };
        Ok(CapRule { scope, max, span })
    }
}

impl FromStr for Caps {
    type Err = String;

    /// Parses rules separated by commas; `off` (or nothing) is no cap.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim() == "off" || s.trim().is_empty() {
            return Ok(Caps::default());
        }
        let rules = s
            .split(',')
            .map(|r| r.trim().parse())
            .collect::<Result<Vec<CapRule>, String>>()?;
        Ok(Caps { rules })
    }
}

#[cfg(test)]
mod tests;
