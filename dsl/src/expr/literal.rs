//! Literal text of the expression language: durations and quoted strings.

use std::borrow::Cow;

/// The longest duration the language accepts: 100 years. Longer ones are refused where they are
/// written, so adding a duration to a time can never overflow.
pub const MAX_DURATION_MS: i64 = 100 * 36_525 * 86_400_000 / 100;

/// Parses `30s`, `15m`, `1h`, `30d`, `2w`, `500ms`; `None` for anything else or anything longer
/// than [`MAX_DURATION_MS`].
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = text.split_at(split);
    let n: i64 = num.parse().ok()?;
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms).filter(|ms| *ms <= MAX_DURATION_MS)
}

/// Resolves backslash escapes of a quoted string's inside; borrows when there are none.
pub(crate) fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_cover_every_unit() {
        assert_eq!(parse_duration("500ms"), Some(500));
        assert_eq!(parse_duration("2w"), Some(14 * 86_400_000));
        assert_eq!(parse_duration("1y"), None);
    }

    #[test]
    fn escapes_are_resolved_and_plain_text_is_borrowed() {
        assert!(matches!(unescape("plain"), Cow::Borrowed("plain")));
        assert_eq!(unescape(r#"a\"b\nc\\"#), "a\"b\nc\\");
    }
}
