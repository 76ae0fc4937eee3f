//! Days, times of day and time zones: the pure arithmetic behind send windows
//! ([`SendWindow`]), waits until a moment ([`Moment`]) and holiday calendars ([`Holidays`]).
//!
//! Everything here works on local calendar days in a [`Tz`], so "09:00 on weekdays" means nine
//! o'clock on the customer's own Monday, across daylight-saving changes: a local time that does
//! not exist (the hour skipped in spring) moves to the first instant after the gap.

mod holidays;
mod moment;
mod parse;
#[cfg(test)]
mod tests;
mod window;

pub use holidays::{Holidays, HOLIDAYS_DIR};
pub use moment::{Moment, MomentError};
pub(crate) use parse::{days_of, moment_from, moment_of, window_from, window_of};
pub use parse::{MomentAst, WindowAst};
pub use window::{HolidaySource, Opening, Outside, SendWindow, WindowSetting};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Milliseconds since the Unix epoch (UTC).
pub type Millis = i64;

/// Days of the week, as a set: bit 0 is Monday, bit 6 Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct DaySet(u8);

impl DaySet {
    /// Every day of the week.
    pub const EVERY_DAY: DaySet = DaySet(0b111_1111);
    /// Monday to Friday.
    pub const WEEKDAYS: DaySet = DaySet(0b001_1111);
    /// Saturday and Sunday.
    pub const WEEKENDS: DaySet = DaySet(0b110_0000);

    /// The set of days from `first` to `last` inclusive, wrapping past Sunday (`fri-mon`).
    pub fn range(first: Weekday, last: Weekday) -> DaySet {
        let mut bits = 0u8;
        let mut day = first;
        loop {
            bits |= 1 << day.num_days_from_monday();
            if day == last {
                return DaySet(bits);
            }
            day = day.succ();
        }
    }

    /// Both sets' days.
    pub fn union(self, other: DaySet) -> DaySet {
        DaySet(self.0 | other.0)
    }

    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    /// Whether the set holds no day.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for DaySet {
    /// `weekdays`, `weekends`, `every day`, or runs of days such as `mon,wed-fri`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DaySet::EVERY_DAY => return f.write_str("every day"),
            DaySet::WEEKDAYS => return f.write_str("weekdays"),
            DaySet::WEEKENDS => return f.write_str("weekends"),
            _ => {}
        }
        const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let mut runs = Vec::new();
        let mut i = 0;
        while i < 7 {
            if self.0 & (1 << i) == 0 {
                i += 1;
                continue;
            }
            let start = i;
            while i + 1 < 7 && self.0 & (1 << (i + 1)) != 0 {
                i += 1;
            }
            runs.push(if start == i {
                NAMES[i].to_string()
            } else {
                format!("{}-{}", NAMES[start], NAMES[i])
            });
            i += 1;
        }
        f.write_str(&runs.join(","))
    }
}

impl From<DaySet> for String {
    fn from(days: DaySet) -> String {
        days.to_string()
    }
}

impl TryFrom<String> for DaySet {
    type Error = String;

    fn try_from(text: String) -> Result<DaySet, String> {
        text.parse()
    }
}

impl FromStr for DaySet {
    type Err = String;

    /// Parses `weekdays`, `weekends`, `every day`, `mon-fri`, `mon,wed,fri`, …
    fn from_str(text: &str) -> Result<DaySet, String> {
        days_of(text, 0)
            .map(|(days, _)| days)
            .map_err(|p| p.message)
    }
}

/// Which time zone a moment or a window is read in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Zone {
    /// The customer's own zone (their `timezone` attribute), else `fallback`, else the
    /// workflow's zone.
    Customer {
        /// The zone of customers without a valid `timezone`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback: Option<String>,
    },
    /// One fixed zone.
    Fixed {
        /// IANA name.
        name: String,
    },
}

impl Zone {
    /// The zone for `customer` (their attributes), with `default` when nothing else applies.
    pub fn resolve(&self, customer: &serde_json::Value, default: Tz) -> Tz {
        match self {
            Zone::Fixed { name } => name.parse().unwrap_or(default),
            Zone::Customer { fallback } => customer_zone(customer)
                .or_else(|| fallback.as_deref().and_then(|f| f.parse().ok()))
                .unwrap_or(default),
        }
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Customer { fallback: None } => f.write_str("customer-local"),
            Zone::Customer {
                fallback: Some(zone),
            } => write!(f, "customer-local or \"{zone}\""),
            Zone::Fixed { name } => write!(f, "tz \"{name}\""),
        }
    }
}

/// The customer's own time zone: their `timezone` attribute when it names an IANA zone.
pub fn customer_zone(customer: &serde_json::Value) -> Option<Tz> {
    customer.get("timezone")?.as_str()?.parse().ok()
}

/// `HH:MM` for minutes after midnight.
pub fn clock_text(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// The instant a local `date` at `minute` after midnight is in `tz`. A local time that does not
/// exist (skipped by a daylight-saving change) becomes the first instant after the gap; one that
/// exists twice (the hour repeated in autumn) is the earlier.
pub fn local_instant(tz: Tz, date: NaiveDate, minute: u32) -> DateTime<Utc> {
    let naive = date
        .and_hms_opt(minute / 60, minute % 60, 0)
        .unwrap_or_default();
    let mut probe = naive;
    // Gaps are at most a few hours (a zone's offset changes by at most a day, in practice
    // by an hour): step forward a minute at a time for at most a day.
    for _ in 0..=24 * 60 {
        if let Some(at) = tz.from_local_datetime(&probe).earliest() {
            return at.with_timezone(&Utc);
        }
        probe += Duration::minutes(1);
    }
    Utc.from_utc_datetime(&naive)
}

/// The local date of `at` in `tz`.
pub fn local_date(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// The instant of `ms`.
pub fn instant(ms: Millis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// How far ahead a window or a moment is looked for before giving up: two years of days.
pub const SEARCH_DAYS: i64 = 2 * 366;

/// Reads a send window written as in the text DSL after `send-window` (`weekdays 09:00-20:00 tz
/// "Asia/Tokyo" holidays customer.country outside wait`, or `off`), e.g. the server's default
/// (`--send-window`). `Ok(None)` for `off`; the error names every problem and how to fix it.
pub fn parse_send_window(text: &str) -> Result<Option<SendWindow>, String> {
    if text.contains('\n') {
        return Err("a send window is written on one line".into());
    }
    let source =
        format!("workflow \"send-window\" version 1\non event any\nsend-window {text}\ndo log()\n");
    match crate::compile_file("send-window.mkw", &source) {
        Ok(w) => Ok(match w.send_window {
            Some(WindowSetting::On(window)) => Some(window),
            _ => None,
        }),
        Err(d) => Err(d
            .problems
            .iter()
            .map(|p| match &p.hint {
                Some(hint) => format!("{} ({hint})", p.message),
                None => p.message.clone(),
            })
            .collect::<Vec<_>>()
            .join("; ")),
    }
}
