//! Holiday calendars: `holidays/<NAME>.yaml` files in the workflows folder, each a mapping of
//! dates to the holiday's name, that close send windows on those days.
//!
//! ```yaml
//! # workflows/holidays/JP.yaml
//! 2026-01-01: New Year's Day
//! 2026-01-12: Coming of Age Day
//! ```

use crate::diag::{Diagnostics, Problem};
use crate::locate::{Locator, Seg};
use chrono::NaiveDate;
use serde_yaml::Value as Yaml;
use std::collections::BTreeMap;
use std::path::Path;

/// The folder of holiday calendars inside a workflows folder.
pub const HOLIDAYS_DIR: &str = "holidays";

/// Holiday calendars by name (the file name without extension, compared without case).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Holidays {
    calendars: BTreeMap<String, BTreeMap<NaiveDate, String>>,
}

impl Holidays {
    /// Reads calendar files, given as (file name, text); every bad file is reported, each with
    /// every problem (line:column of the bad date).
    pub fn from_files(files: &[(String, String)]) -> Result<Holidays, Vec<Diagnostics>> {
        let mut holidays = Holidays::default();
        let mut failed = Vec::new();
        for (file, text) in files {
            match parse_file(file, text) {
                Ok(days) => {
                    holidays.calendars.insert(calendar_name(file), days);
                }
                Err(d) => failed.push(d),
            }
        }
        if failed.is_empty() {
            Ok(holidays)
        } else {
            Err(failed)
        }
    }

    /// Whether `day` is a holiday in the calendar `name` (none: no holidays).
    pub fn is_holiday(&self, name: Option<&str>, day: NaiveDate) -> bool {
        self.holiday(name, day).is_some()
    }

    /// The name of the holiday on `day` in the calendar `name`, if it is one.
    pub fn holiday(&self, name: Option<&str>, day: NaiveDate) -> Option<&str> {
        let calendar = self.calendars.get(&name?.to_uppercase())?;
        calendar.get(&day).map(String::as_str)
    }

    /// The calendars' names, upper-cased.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.calendars.keys().map(String::as_str)
    }

    /// Whether a calendar of this name exists.
    pub fn has(&self, name: &str) -> bool {
        self.calendars.contains_key(&name.to_uppercase())
    }

    /// How many calendars there are.
    pub fn len(&self) -> usize {
        self.calendars.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.calendars.is_empty()
    }
}

/// A calendar's name from its file: `holidays/jp.yaml` → `JP`.
fn calendar_name(file: &str) -> String {
    Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().to_uppercase())
        .unwrap_or_default()
}

fn parse_file(file: &str, text: &str) -> Result<BTreeMap<NaiveDate, String>, Diagnostics> {
    let mut diags = Diagnostics::new(file, text);
    let hint = "write one line per holiday: `2026-01-01: New Year's Day`";
    let doc: Yaml = match serde_yaml::from_str(text) {
        Ok(doc) => doc,
        Err(e) => {
            let at = e.location().map(|l| l.index()).unwrap_or(0);
            let span = crate::span::Span::new(at, at + 1);
            diags.push(Problem::new("holidays", span, format!("not valid YAML: {e}")).hint(hint));
            return Err(diags.finish());
        }
    };
    let loc = Locator::new(text);
    let entries = match doc {
        Yaml::Null => Default::default(),
        Yaml::Mapping(m) => m,
        _ => {
            let message = "a holiday calendar is a mapping of dates to holiday names";
            diags.push(Problem::new("holidays", loc.span(&[]), message).hint(hint));
            return Err(diags.finish());
        }
    };
    let mut days = BTreeMap::new();
    for (key, value) in entries {
        let key_text = match &key {
            Yaml::String(s) => s.clone(),
            other => serde_yaml::to_string(other)
                .unwrap_or_default()
                .trim()
                .to_string(),
        };
        let Ok(day) = NaiveDate::parse_from_str(&key_text, "%Y-%m-%d") else {
            diags.push(
                Problem::new(
                    "holidays",
                    loc.key_span(&[], &key_text),
                    format!("`{key_text}` is not a date"),
                )
                .hint("dates are written YYYY-MM-DD, e.g. `2026-05-05: Children's Day`"),
            );
            continue;
        };
        let name = match value {
            Yaml::String(s) => s,
            Yaml::Null => "holiday".to_string(),
            _ => {
                diags.push(
                    Problem::new(
                        "holidays",
                        loc.span(&[Seg::Key(&key_text)]),
                        format!("the holiday on {key_text} needs a name"),
                    )
                    .hint(hint),
                );
                continue;
            }
        };
        days.insert(day, name);
    }
    if diags.is_empty() {
        Ok(days)
    } else {
        Err(diags.finish())
    }
}
