//! Frequency cap rules: parsing, scopes, calendar days, priority, the refusing rule.

use super::*;
use chrono::{TimeZone, Utc};

fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Millis {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .unwrap()
        .timestamp_millis()
}

fn past(channel: &str, tags: &[&str], sent_at: Millis) -> PastMessage {
    PastMessage {
        channel: channel.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        sent_at,
    }
}

fn outgoing<'a>(channel: &'a str, tags: &'a [String], now: Millis) -> Outgoing<'a> {
    Outgoing {
        channel,
        tags,
        zone: chrono_tz::UTC,
        priority: Priority::Normal,
        yields_last_slot: false,
        now,
    }
}

const DAY: i64 = 86_400_000;

#[test]
fn rules_parse_print_and_refuse_nonsense() {
    let text = "3/7d, marketing 5/7d, sms 1/1d calendar, tag newsletter 2/30d";
    let caps: Caps = text.parse().unwrap();
    assert_eq!(caps.to_string(), text);
    assert_eq!(caps.rules()[2].span, CapSpan::Days(1));
    assert_eq!(
        caps.rules()[3].scope,
        CapScope::Tag("newsletter".to_string())
    );
    assert!("off".parse::<Caps>().unwrap().is_empty());
    for bad in [
        "3 per week",
        "3/0s",
        "a b 3/7d",
        "sms 1/12h calendar",
        "tag 2/7d x",
    ] {
        let e = bad.parse::<Caps>().unwrap_err();
        assert!(e.contains(&format!("`{bad}`")), "{bad}: {e}");
    }
    let zero = "0/7d".parse::<Caps>().unwrap_err();
    assert!(zero.contains("at least 1"), "{zero}");
    assert!("sms 1/12h calendar"
        .parse::<Caps>()
        .unwrap_err()
        .contains("whole days"));
}

#[test]
fn each_channel_counts_its_own_channel_and_opens_when_the_oldest_leaves() {
    let caps: Caps = "2/7d".parse().unwrap();
    let now = 10 * DAY;
    let sent = [past("email", &[], 4 * DAY), past("sms", &[], 5 * DAY)];
    assert_eq!(caps.judge(&outgoing("email", &[], now), &sent), None);
    let sent = [
        sent[0].clone(),
        sent[1].clone(),
        past("email", &[], 6 * DAY),
    ];
    let refusal = caps.judge(&outgoing("email", &[], now), &sent).unwrap();
    assert_eq!(refusal.rule, "2/7d");
    assert_eq!(refusal.opens_at, Some(11 * DAY));
    assert_eq!(
        refusal.reason,
        "frequency cap 2/7d: 2 email message(s) in 7d already"
    );
    // The sms of day 5 does not count for email, and one sms is under the cap for sms.
    assert_eq!(caps.judge(&outgoing("sms", &[], now), &sent), None);
    // A message leaves the window exactly at sent_at + 7d.
    assert_eq!(caps.since(&outgoing("email", &[], now)), Some(3 * DAY + 1));
}

#[test]
fn marketing_counts_every_channel_and_channel_rules_only_theirs() {
    let caps: Caps = "marketing 2/7d, sms 1/7d".parse().unwrap();
    let sent = [past("email", &[], DAY), past("push", &[], 2 * DAY)];
    let refusal = caps.judge(&outgoing("email", &[], 3 * DAY), &sent).unwrap();
    assert_eq!(refusal.rule, "marketing 2/7d");
    assert!(
        refusal.reason.contains("2 marketing message(s)"),
        "{}",
        refusal.reason
    );
    let one = [past("sms", &[], DAY)];
    let sms = caps.judge(&outgoing("sms", &[], 3 * DAY), &one).unwrap();
    assert_eq!(sms.rule, "sms 1/7d");
    // The sms rule does not apply to email.
    assert_eq!(caps.judge(&outgoing("email", &[], 3 * DAY), &one), None);
}

#[test]
fn tag_rules_apply_to_and_count_only_tagged_messages() {
    let caps: Caps = "tag newsletter 1/30d".parse().unwrap();
    let sent = [
        past("email", &["newsletter"], DAY),
        past("email", &[], 2 * DAY),
    ];
    let newsletter = vec!["newsletter".to_string()];
    let refusal = caps
        .judge(&outgoing("email", &newsletter, 3 * DAY), &sent)
        .unwrap();
    assert!(refusal.reason.contains("1 message(s) tagged newsletter"));
    assert_eq!(refusal.opens_at, Some(31 * DAY));
    assert_eq!(caps.judge(&outgoing("email", &[], 3 * DAY), &sent), None);
    assert_eq!(caps.since(&outgoing("email", &[], 3 * DAY)), None);
}

#[test]
fn calendar_days_reset_at_local_midnight_where_a_rolling_day_does_not() {
    let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
    let calendar: Caps = "sms 1/1d calendar".parse().unwrap();
    let rolling: Caps = "sms 1/1d".parse().unwrap();
    // 23:30 in Tokyo on Monday 5 January 2026 is 14:30 UTC.
    let sent = [past("sms", &[], ms(2026, 1, 5, 14, 30))];
    let at = |now| Outgoing {
        zone: tokyo,
        ..outgoing("sms", &[], now)
    };
    let late = calendar.judge(&at(ms(2026, 1, 5, 14, 50)), &sent).unwrap();
    assert_eq!(late.opens_at, Some(ms(2026, 1, 5, 15, 0)), "Tokyo midnight");
    assert_eq!(
        late.reason,
        "frequency cap sms 1/1d calendar: 1 sms message(s) today (Asia/Tokyo) already"
    );
    // Ten past midnight in Tokyo: a new local day, though not 24 hours later.
    let next_day = at(ms(2026, 1, 5, 15, 10));
    assert_eq!(calendar.judge(&next_day, &sent), None);
    assert!(rolling.judge(&next_day, &sent).is_some());
    // In UTC the same two instants are one day.
    let utc = outgoing("sms", &[], ms(2026, 1, 5, 15, 10));
    assert!(calendar.judge(&utc, &sent).is_some());
}

#[test]
fn a_lower_priority_leaves_the_last_slot_of_caps_above_one() {
    let caps: Caps = "marketing 3/7d, sms 1/1d".parse().unwrap();
    let sent = [past("email", &[], DAY), past("email", &[], 2 * DAY)];
    let newsletter = Outgoing {
        yields_last_slot: true,
        ..outgoing("email", &[], 3 * DAY)
    };
    let refusal = caps.judge(&newsletter, &sent).unwrap();
    assert!(
        refusal
            .reason
            .ends_with("its last slot is kept for higher-priority workflows (this one is normal)"),
        "{}",
        refusal.reason
    );
    // Two slots used of three, the last kept: it opens when the older leaves.
    assert_eq!(refusal.opens_at, Some(8 * DAY));
    let renewal = outgoing("email", &[], 3 * DAY);
    assert_eq!(caps.judge(&renewal, &sent), None);
    // A cap of one has no slot to spare: it is not kept back.
    let sms_cap: Caps = "sms 1/1d".parse().unwrap();
    let sms = Outgoing {
        yields_last_slot: true,
        ..outgoing("sms", &[], 3 * DAY)
    };
    assert_eq!(sms_cap.judge(&sms, &sent), None);
}

#[test]
fn of_several_refusing_rules_the_one_that_opens_last_is_named() {
    let caps: Caps = "2/1d, marketing 2/30d".parse().unwrap();
    let sent = [
        past("email", &[], 10 * DAY),
        past("email", &[], 10 * DAY + 5),
    ];
    let refusal = caps
        .judge(&outgoing("email", &[], 10 * DAY + 10), &sent)
        .unwrap();
    assert_eq!(refusal.rule, "marketing 2/30d");
    assert_eq!(refusal.opens_at, Some(40 * DAY));
}
