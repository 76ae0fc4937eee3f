//! Send windows: the days and hours, in the customer's time zone, when marketing messages may
//! go out, closed on the holidays of a calendar.

use super::{
    clock_text, instant, local_date, local_instant, DaySet, Holidays, Millis, SEARCH_DAYS,
};
use chrono::{Datelike, Duration};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A workflow's own window setting: `off` (no window even when the server has a default), or a
/// window. Workflows without a setting follow the server's default window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WindowSetting {
    /// Messages go out at any hour.
    Off,
    /// Messages go out inside this window.
    On(SendWindow),
}

/// When marketing messages may go out: `days` from `from_minute` to `to_minute` (local time),
/// except on holidays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendWindow {
    /// Days the window opens.
    pub days: DaySet,
    /// Opening, in minutes after local midnight.
    pub from_minute: u32,
    /// Closing (exclusive), in minutes after local midnight; later than `from_minute`.
    pub to_minute: u32,
    /// The zone of customers without a valid `timezone` attribute.
    pub timezone: String,
    /// The holiday calendar that closes the window, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holidays: Option<HolidaySource>,
    /// What a message outside the window does.
    #[serde(default)]
    pub outside: Outside,
}

/// Which holiday calendar applies to a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum HolidaySource {
    /// This calendar (`JP`), for every customer.
    Calendar(String),
    /// The calendar named by this customer attribute (`country`): each customer's own.
    Customer(String),
}

/// What a message outside its window does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Outside {
    /// Wait (durably) for the next opening, then send.
    #[default]
    Wait,
    /// Skip the message (recorded with the reason) and go on.
    Skip,
}

/// Whether a window is open at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    /// Open now.
    Open,
    /// Closed; opens next at this instant.
    Opens(Millis),
    /// Closed for the next two years (every day a holiday, say).
    Never,
}

impl SendWindow {
    /// The zone the window is read in for `customer`: theirs, else the window's.
    pub fn zone(&self, customer: &serde_json::Value) -> Tz {
        super::customer_zone(customer)
            .or_else(|| self.timezone.parse().ok())
            .unwrap_or(chrono_tz::UTC)
    }

    /// The name of the holiday calendar that applies to `customer`, if any.
    pub fn calendar<'c>(&'c self, customer: &'c serde_json::Value) -> Option<&'c str> {
        match self.holidays.as_ref()? {
            HolidaySource::Calendar(name) => Some(name),
            HolidaySource::Customer(path) => path
                .split('.')
                .try_fold(customer, |v, key| v.get(key))?
                .as_str(),
        }
    }

    /// Whether the window is open at `now` in `tz`, and if not when it opens, with the days of
    /// `calendar` in `holidays` closed.
    pub fn opening(
        &self,
        now: Millis,
        tz: Tz,
        holidays: &Holidays,
        calendar: Option<&str>,
    ) -> Opening {
        let at = instant(now);
        let today = local_date(at, tz);
        for offset in 0..SEARCH_DAYS {
            let day = today + Duration::days(offset);
            if !self.days.contains(day.weekday()) || holidays.is_holiday(calendar, day) {
                continue;
            }
            let open = local_instant(tz, day, self.from_minute);
            let close = local_instant(tz, day, self.to_minute);
            if at < open {
                return Opening::Opens(open.timestamp_millis());
            }
            if at < close {
                return Opening::Open;
            }
        }
        Opening::Never
    }
}

impl fmt::Display for SendWindow {
    /// `weekdays 09:00-20:00 (Asia/Tokyo, holidays JP)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}-{}",
            self.days,
            clock_text(self.from_minute),
            clock_text(self.to_minute)
        )?;
        match &self.holidays {
            Some(HolidaySource::Calendar(name)) => write!(f, ", closed on {name} holidays"),
            Some(HolidaySource::Customer(path)) => {
                write!(f, ", closed on the holidays of customer.{path}")
            }
            None => Ok(()),
        }
    }
}
