//! Send windows at run time: whether a marketing message may go out now in the customer's time
//! zone, and if not, until when it waits or why it is skipped. The workflow's own window wins
//! over the server's default (`--send-window`); holiday calendars close a window on their days.

use crate::clock::Millis;
use crate::core::restraint::{Decision, SkipReason};
use mikawaya_dsl::calendar::{
    instant, local_date, Holidays, Opening, Outside, SendWindow, WindowSetting,
};
use serde_json::Value;
use std::sync::{Arc, RwLock};

/// The server's default window and the holiday calendars in force.
#[derive(Default)]
pub struct WindowRules {
    default: Option<SendWindow>,
    holidays: RwLock<Arc<Holidays>>,
}

impl WindowRules {
    /// Rules with the server's `default` window (`None`: messages go out at any hour unless a
    /// workflow has its own window).
    pub fn new(default: Option<SendWindow>) -> Self {
        WindowRules {
            default,
            holidays: RwLock::default(),
        }
    }

    /// Replaces the holiday calendars (after a reload of the workflows folder).
    pub fn set_holidays(&self, holidays: Holidays) {
        *self.holidays.write().expect("holidays lock") = Arc::new(holidays);
    }

    /// The holiday calendars in force.
    pub fn holidays(&self) -> Arc<Holidays> {
        self.holidays.read().expect("holidays lock").clone()
    }

    /// The window that applies to a workflow with setting `own`.
    pub fn window<'a>(&'a self, own: Option<&'a WindowSetting>) -> Option<&'a SendWindow> {
        match own {
            Some(WindowSetting::Off) => None,
            Some(WindowSetting::On(w)) => Some(w),
            None => self.default.as_ref(),
        }
    }

    /// The customer's time zone: their `timezone` attribute, else the zone of the window that
    /// applies under `own`, else UTC (calendar-day caps count in it).
    pub fn zone(&self, own: Option<&WindowSetting>, customer: &Value) -> chrono_tz::Tz {
        match self.window(own) {
            Some(window) => window.zone(customer),
            None => mikawaya_dsl::calendar::customer_zone(customer).unwrap_or(chrono_tz::UTC),
        }
    }

    /// `None` when a marketing message to `customer` may go out at `now` under `own` (or the
    /// default); else the decision: wait for the opening, or skip, with the reason.
    pub fn check(
        &self,
        own: Option<&WindowSetting>,
        customer: &Value,
        now: Millis,
    ) -> Option<Decision> {
        let window = self.window(own)?;
        let tz = window.zone(customer);
        let calendar = window.calendar(customer);
        let holidays = self.holidays();
        let reason = match window.opening(now, tz, &holidays, calendar) {
            Opening::Open => return None,
            Opening::Never => {
                let reason = format!(
                    "outside the send window ({window}): it does not open in the next two years"
                );
                return Some(Decision::Skip(SkipReason::OutsideWindow, reason));
            }
            Opening::Opens(at) => {
                // Only a closed window says why (every message inside one passes here).
                let today = local_date(instant(now), tz);
                let closed_because = match holidays.holiday(calendar, today) {
                    Some(name) => {
                        format!("today is {name} in the {} calendar", calendar.unwrap_or(""))
                    }
                    None => format!(
                        "it is {} in {tz}",
                        instant(now).with_timezone(&tz).format("%a %H:%M")
                    ),
                };
                (
                    at,
                    format!(
                        "outside the send window ({window}): {closed_because}; it opens {} {tz}",
                        instant(at).with_timezone(&tz).format("%a %Y-%m-%d %H:%M"),
                    ),
                )
            }
        };
        Some(match window.outside {
            Outside::Wait => Decision::Defer {
                until: reason.0,
                reason: reason.1,
            },
            Outside::Skip => Decision::Skip(SkipReason::OutsideWindow, reason.1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Millis {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .timestamp_millis()
    }

    fn window(outside: Outside) -> SendWindow {
        SendWindow {
            days: mikawaya_dsl::calendar::DaySet::WEEKDAYS,
            from_minute: 9 * 60,
            to_minute: 20 * 60,
            timezone: "Asia/Tokyo".into(),
            holidays: Some(mikawaya_dsl::calendar::HolidaySource::Customer(
                "country".into(),
            )),
            outside,
        }
    }

    #[test]
    fn the_workflow_window_wins_over_the_default_and_off_turns_both_off() {
        let rules = WindowRules::new(Some(window(Outside::Skip)));
        let own = WindowSetting::On(window(Outside::Wait));
        assert_eq!(rules.window(None).unwrap().outside, Outside::Skip);
        assert_eq!(rules.window(Some(&own)).unwrap().outside, Outside::Wait);
        assert!(rules.window(Some(&WindowSetting::Off)).is_none());
        assert!(WindowRules::new(None).window(None).is_none());
    }

    #[test]
    fn a_message_outside_the_window_waits_for_the_opening_or_is_skipped_saying_why() {
        let rules = WindowRules::new(None);
        let holidays = "2026-01-12: Coming of Age Day\n";
        rules.set_holidays(
            Holidays::from_files(&[("holidays/jp.yaml".into(), holidays.into())]).unwrap(),
        );
        let own = WindowSetting::On(window(Outside::Wait));
        let tokyo = json!({ "timezone": "Asia/Tokyo", "country": "JP" });
        // Friday 2026-01-09 21:00 Tokyo: Monday is a holiday, so Tuesday 09:00 Tokyo.
        let friday_night = ms(2026, 1, 9, 12, 0);
        match rules.check(Some(&own), &tokyo, friday_night) {
            Some(Decision::Defer { until, reason }) => {
                assert_eq!(until, ms(2026, 1, 13, 0, 0));
                assert_eq!(reason, "outside the send window (weekdays 09:00-20:00, closed on the holidays of customer.country): it is Fri 21:00 in Asia/Tokyo; it opens Tue 2026-01-13 09:00 Asia/Tokyo");
            }
            other => panic!("{other:?}"),
        }
        // On the holiday itself the reason names it.
        let holiday_noon = ms(2026, 1, 12, 3, 0);
        match rules.check(Some(&own), &tokyo, holiday_noon) {
            Some(Decision::Defer { reason, .. }) => {
                assert!(
                    reason.contains("today is Coming of Age Day in the JP calendar"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
        // The same instant is Friday 13:00 in Paris: inside a Paris customer's window.
        let paris = json!({ "timezone": "Europe/Paris", "country": "FR" });
        assert_eq!(rules.check(Some(&own), &paris, friday_night), None);
        let skip = WindowSetting::On(window(Outside::Skip));
        assert!(matches!(
            rules.check(Some(&skip), &tokyo, friday_night),
            Some(Decision::Skip(SkipReason::OutsideWindow, _))
        ));
    }
}
