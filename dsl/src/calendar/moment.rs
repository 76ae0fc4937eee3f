//! Waits until a moment: the next local time of day on given days (`customer-local 09:00 on
//! weekdays`), or a date or instant computed from the run (`event.contract.renewal_date - 7d`).

use super::{clock_text, instant, local_date, local_instant, DaySet, Millis, Zone, SEARCH_DAYS};
use crate::expr::{parse_date, Expr, Scope, Val};
use chrono::{Datelike, Duration, NaiveDate, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Time of day used when a moment's expression gives a date and no `at` is written (the date
/// trigger's default too).
pub const DEFAULT_MINUTE: u32 = 9 * 60;

/// A moment to wait for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moment {
    /// A date or instant to wait for; `None`: the next `minute` on one of `days`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Expr>,
    /// Time of day in minutes after local midnight (`at 09:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minute: Option<u32>,
    /// Days the moment may fall on; a date on another day moves to the next allowed one.
    pub days: DaySet,
    /// The zone the time of day is read in.
    pub zone: Zone,
}

/// Why a moment could not be computed (the wait then ends at once, saying so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MomentError(pub String);

impl Moment {
    /// When a wait that starts at `now` ends, in `tz` (see [`Zone::resolve`]), evaluating `at`
    /// on `scope`. A moment already past ends the wait at once (`now`).
    pub fn due(&self, now: Millis, tz: Tz, scope: &Scope<'_>) -> Result<Millis, MomentError> {
        let Some(expr) = &self.at else {
            let minute = self.minute.unwrap_or(DEFAULT_MINUTE);
            return self.next_clock(now, tz, minute);
        };
        let value = expr
            .eval(scope)
            .map_err(|e| MomentError(format!("`{}`: {}", expr.source, e.message)))?;
        let date_only = match &value {
            Val::Date(d) => Some(*d),
            Val::Str(s) => parse_date(s),
            _ => None,
        };
        let (date, minute) = match (date_only, value.as_time()) {
            (Some(date), _) => (date, self.minute.unwrap_or(DEFAULT_MINUTE)),
            (None, Some(t)) => {
                let local = t.with_timezone(&tz);
                if self.minute.is_none() && self.days.contains(local.weekday()) {
                    // An instant on an allowed day: exactly that instant.
                    return Ok(t.timestamp_millis().max(now));
                }
                let minute = self.minute.unwrap_or(local.hour() * 60 + local.minute());
                (local.date_naive(), minute)
            }
            (None, None) => return Err(not_a_moment(self, &value)),
        };
        Ok(self.on_or_after(date, minute, tz)?.max(now))
    }

    /// The first `minute` of an allowed local day that is not before `now`.
    fn next_clock(&self, now: Millis, tz: Tz, minute: u32) -> Result<Millis, MomentError> {
        let today = local_date(instant(now), tz);
        for offset in 0..SEARCH_DAYS {
            let day = today + Duration::days(offset);
            if !self.days.contains(day.weekday()) {
                continue;
            }
            let at = local_instant(tz, day, minute).timestamp_millis();
            if at >= now {
                return Ok(at);
            }
        }
        Err(self.never())
    }

    /// `minute` on `date`, or on the first allowed day after it.
    fn on_or_after(&self, date: NaiveDate, minute: u32, tz: Tz) -> Result<Millis, MomentError> {
        (0..SEARCH_DAYS)
            .map(|offset| date + Duration::days(offset))
            .find(|day| self.days.contains(day.weekday()))
            .map(|day| local_instant(tz, day, minute).timestamp_millis())
            .ok_or_else(|| self.never())
    }

    fn never(&self) -> MomentError {
        MomentError(format!("{self} never comes"))
    }
}

fn not_a_moment(m: &Moment, value: &Val<'_>) -> MomentError {
    let source = m.at.as_ref().map(|e| e.source.as_str()).unwrap_or_default();
    MomentError(format!(
        "`{source}` is {}, not a date or a time",
        value.ty().article()
    ))
}

impl fmt::Display for Moment {
    /// As written in the DSL: `customer-local 09:00 on weekdays`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            None => write!(f, "{}", clock_text(self.minute.unwrap_or(DEFAULT_MINUTE)))?,
            Some(expr) => {
                write!(f, "{}", expr.source)?;
                if let Some(m) = self.minute {
                    write!(f, " at {}", clock_text(m))?;
                }
            }
        }
        if self.days != DaySet::EVERY_DAY {
            write!(f, " on {}", self.days)?;
        }
        write!(f, " {}", self.zone)
    }
}
