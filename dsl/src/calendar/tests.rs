use super::*;
use crate::expr::{Env, Expr, Scope};
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::json;

const TOKYO: Tz = chrono_tz::Asia::Tokyo;

fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Millis {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .unwrap()
        .timestamp_millis()
}

fn window(text: &str) -> SendWindow {
    let w = window_of(text, 0).unwrap();
    SendWindow {
        days: w.days,
        from_minute: w.from,
        to_minute: w.to,
        timezone: "UTC".into(),
        holidays: Some(HolidaySource::Calendar("jp".into())),
        outside: Outside::Wait,
    }
}

fn jp_holidays() -> Holidays {
    let text = "# Japan\n2026-01-12: Coming of Age Day\n2026-02-11: National Foundation Day\n";
    Holidays::from_files(&[("workflows/holidays/JP.yaml".into(), text.into())]).unwrap()
}

#[test]
fn day_sets_read_and_print_the_usual_spellings() {
    for (text, printed) in [
        ("weekdays", "weekdays"),
        ("Mon-Fri", "weekdays"),
        ("sat,sun", "weekends"),
        ("every day", "every day"),
        ("mon,wed-fri", "mon,wed-fri"),
        ("friday-monday", "mon,fri-sun"),
        ("tue", "tue"),
    ] {
        let days: DaySet = text.parse().unwrap();
        assert_eq!(days.to_string(), printed, "{text}");
        assert_eq!(printed.parse::<DaySet>().unwrap(), days, "{printed}");
    }
    let err = "mon-funday".parse::<DaySet>().unwrap_err();
    assert!(err.contains("syntax error"), "{err}");
}

#[test]
fn a_window_is_open_inside_its_hours_and_otherwise_names_the_next_opening() {
    let w = window("weekdays 09:00-20:00");
    let none = Holidays::default();
    // Friday 2026-01-09 19:59 Tokyo (10:59 UTC) is inside; 20:00 is not.
    assert_eq!(
        w.opening(ms(2026, 1, 9, 10, 59), TOKYO, &none, None),
        Opening::Open
    );
    let monday_9_tokyo = ms(2026, 1, 12, 0, 0);
    assert_eq!(
        w.opening(ms(2026, 1, 9, 11, 0), TOKYO, &none, None),
        Opening::Opens(monday_9_tokyo),
        "across the weekend"
    );
    // Early Monday morning Tokyo: opens at 09:00 that day.
    assert_eq!(
        w.opening(ms(2026, 1, 11, 20, 0), TOKYO, &none, None),
        Opening::Opens(monday_9_tokyo)
    );
    // Monday 2026-01-12 is Coming of Age Day: the window opens on Tuesday.
    let holidays = jp_holidays();
    let nobody = json!({});
    let calendar = w.calendar(&nobody);
    assert_eq!(calendar, Some("jp"));
    assert_eq!(
        w.opening(ms(2026, 1, 9, 11, 0), TOKYO, &holidays, calendar),
        Opening::Opens(ms(2026, 1, 13, 0, 0))
    );
    assert_eq!(
        holidays.holiday(Some("JP"), NaiveDate::from_ymd_opt(2026, 1, 12).unwrap()),
        Some("Coming of Age Day")
    );
}

#[test]
fn the_window_reads_the_customer_zone_and_calendar_falling_back_to_its_own() {
    let mut w = window("09:00-17:00");
    w.timezone = "Europe/Paris".into();
    w.holidays = Some(HolidaySource::Customer("address.country".into()));
    let ada = json!({ "timezone": "America/New_York", "address": { "country": "US" } });
    assert_eq!(w.zone(&ada), chrono_tz::America::New_York);
    assert_eq!(w.calendar(&ada), Some("US"));
    let odd = json!({ "timezone": "Mars/Olympus" });
    assert_eq!(w.zone(&odd), chrono_tz::Europe::Paris);
    assert_eq!(w.calendar(&odd), None);
}

#[test]
fn a_window_that_never_opens_says_so() {
    let mut text = String::new();
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    for d in 0..800 {
        text.push_str(&format!("{}: closed\n", start + chrono::Duration::days(d)));
    }
    let all = Holidays::from_files(&[("x/JP.yml".into(), text)]).unwrap();
    let w = window("09:00-10:00");
    assert_eq!(
        w.opening(ms(2026, 1, 1, 0, 0), TOKYO, &all, Some("JP")),
        Opening::Never
    );
}

#[test]
fn a_local_time_skipped_by_daylight_saving_moves_past_the_gap() {
    let ny = chrono_tz::America::New_York;
    // 2026-03-08 02:30 does not exist in New York: clocks go from 02:00 to 03:00 (07:00 UTC).
    let day = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
    assert_eq!(
        local_instant(ny, day, 150).timestamp_millis(),
        ms(2026, 3, 8, 7, 0)
    );
    assert_eq!(
        local_instant(ny, day, 9 * 60).timestamp_millis(),
        ms(2026, 3, 8, 13, 0)
    );
}

fn moment(text: &str) -> Moment {
    let m = moment_of(text, 0).unwrap();
    Moment {
        at: m
            .at
            .map(|src| Expr::parse(&src.text, &Env::default()).unwrap()),
        minute: m.minute,
        days: m.days,
        zone: m
            .zone
            .map(|z| z.value)
            .unwrap_or(Zone::Customer { fallback: None }),
    }
}

fn due(m: &Moment, now: Millis, tz: Tz, event: &serde_json::Value) -> Result<Millis, MomentError> {
    let customer = json!({});
    let scope = Scope {
        customer: &customer,
        ..Scope::with_event(event, instant(now))
    };
    m.due(now, tz, &scope)
}

#[test]
fn a_wait_until_a_time_of_day_ends_at_its_next_occurrence_on_an_allowed_day() {
    let m = moment("customer-local 09:00 on weekdays");
    assert_eq!(m.zone, Zone::Customer { fallback: None });
    let none = json!({});
    // Saturday 2026-01-10 10:00 Tokyo → Monday 09:00 Tokyo.
    assert_eq!(
        due(&m, ms(2026, 1, 10, 1, 0), TOKYO, &none),
        Ok(ms(2026, 1, 12, 0, 0))
    );
    // Tuesday 08:00 Tokyo → the same day at 09:00; exactly 09:00 → now.
    assert_eq!(
        due(&m, ms(2026, 1, 12, 23, 0), TOKYO, &none),
        Ok(ms(2026, 1, 13, 0, 0))
    );
    assert_eq!(
        due(&m, ms(2026, 1, 13, 0, 0), TOKYO, &none),
        Ok(ms(2026, 1, 13, 0, 0))
    );
    assert_eq!(m.to_string(), "09:00 on weekdays customer-local");
}

#[test]
fn a_wait_until_a_computed_date_ends_on_it_at_the_time_of_day_or_at_once_when_past() {
    let m = moment("event.contract.renewal_date - 7d at 10:30 tz \"Asia/Tokyo\"");
    assert_eq!(
        m.zone,
        Zone::Fixed {
            name: "Asia/Tokyo".into()
        }
    );
    let event = json!({ "contract": { "renewal_date": "2026-03-01" } });
    // 2026-02-22 10:30 Tokyo = 01:30 UTC.
    let now = ms(2026, 1, 5, 0, 0);
    assert_eq!(due(&m, now, TOKYO, &event), Ok(ms(2026, 2, 22, 1, 30)));
    let later = ms(2026, 2, 25, 0, 0);
    assert_eq!(
        due(&m, later, TOKYO, &event),
        Ok(later),
        "already past: at once"
    );
    // A date on a weekend moves to the next allowed day; dates default to 09:00.
    let m = moment("event.contract.renewal_date on weekdays");
    assert_eq!(
        due(&m, now, TOKYO, &event),
        Ok(ms(2026, 3, 2, 0, 0)),
        "Sunday → Monday"
    );
    // An instant is kept to the minute.
    let m = moment("event.at");
    let event = json!({ "at": "2026-02-01T12:34:56Z" });
    assert_eq!(
        due(&m, now, TOKYO, &event),
        Ok(ms(2026, 2, 1, 12, 34) + 56_000)
    );
    let err = due(&m, now, TOKYO, &json!({ "at": 5 })).unwrap_err();
    assert_eq!(err.0, "`event.at` is a number, not a date or a time");
}

#[test]
fn moments_and_windows_refuse_impossible_times_where_written() {
    let p = moment_of("customer-local 24:00", 10).unwrap_err();
    assert_eq!((p.code, p.span.start), ("time-of-day", 25));
    let p = window_of("weekdays 20:00-09:00", 0).unwrap_err();
    assert!(p.message.contains("close later"), "{}", p.message);
    let p = moment_of("customer-local 09:00 tz \"UTC\"", 0).unwrap_err();
    assert_eq!(p.message, "the time zone is given twice");
}

#[test]
fn a_holiday_file_with_a_bad_date_is_refused_at_its_line() {
    let text = "2026-01-01: New Year\n2026-13-01: Nope\n";
    let errs = Holidays::from_files(&[("h/JP.yaml".into(), text.into())]).unwrap_err();
    let p = &errs[0].problems[0];
    assert_eq!(p.message, "`2026-13-01` is not a date");
    assert_eq!(crate::span::position(text, p.span.start).line, 2);
}

#[test]
fn the_server_default_window_reads_like_the_dsl_clause() {
    let w = parse_send_window("weekdays 09:00-20:00 tz \"Asia/Tokyo\" outside skip")
        .unwrap()
        .unwrap();
    assert_eq!(
        (w.days, w.from_minute, w.to_minute),
        (DaySet::WEEKDAYS, 540, 1200)
    );
    assert_eq!(
        (w.timezone.as_str(), w.outside),
        ("Asia/Tokyo", Outside::Skip)
    );
    assert_eq!(parse_send_window("off"), Ok(None));
    let err = parse_send_window("weekdays 09:00-20:00 tz \"Asia/Tokio\"").unwrap_err();
    assert!(
        err.starts_with("unknown time zone `Asia/Tokio` (use an IANA name"),
        "{err}"
    );
    assert!(parse_send_window("09:00-20:00\ndo x()").is_err());
}
