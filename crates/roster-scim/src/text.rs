//! Text comparison rules shared by filters, uniqueness checks and storage: NFC
//! normalisation plus Unicode default case folding for `caseExact: false` attributes
//! (RFC 7644 §7.8 points at PRECIS; we take its case-insensitive core), and the
//! xsd:dateTime form Roster stores and emits.

use std::borrow::Cow;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use unicode_normalization::{UnicodeNormalization, is_nfc_quick};

/// NFC-normalises `s`, borrowing when it already is NFC (the common case).
pub fn nfc(s: &str) -> Cow<'_, str> {
    match is_nfc_quick(s.chars()) {
        unicode_normalization::IsNormalized::Yes => Cow::Borrowed(s),
        _ => Cow::Owned(s.nfc().collect()),
    }
}

/// The key two case-insensitive strings share when they are equal: NFC, then default case
/// folding, then NFC again (folding can denormalise). ASCII takes a fast path.
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let folded = caseless::default_case_fold_str(&nfc(s));
    nfc(&folded).into_owned()
}

/// The comparison key of a string under an attribute's `caseExact` characteristic.
pub fn compare_key(s: &str, case_exact: bool) -> Cow<'_, str> {
    if case_exact { nfc(s) } else { Cow::Owned(fold(s)) }
}

/// Whether two strings are equal under `caseExact`.
pub fn text_eq(a: &str, b: &str, case_exact: bool) -> bool {
    if case_exact { a == b || nfc(a) == nfc(b) } else { fold(a) == fold(b) }
}

/// Parses an xsd:dateTime (RFC 7643 §2.3.5). Accepts RFC 3339 with `Z` or an offset, a
/// lowercase `t`/`z`, and a missing offset (read as UTC, since xsd allows it).
pub fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let upper = s.to_ascii_uppercase();
    if let Ok(t) = OffsetDateTime::parse(&upper, &Rfc3339) {
        return Some(t);
    }
    // No offset at all: xsd:dateTime permits it; treat as UTC.
    let tail = upper.get(19..).unwrap_or("+");
    if upper.is_ascii() && !upper.ends_with('Z') && !tail.contains(['+', '-']) {
        return OffsetDateTime::parse(&format!("{upper}Z"), &Rfc3339).ok();
    }
    None
}

/// Formats a dateTime the way Roster emits and stores every dateTime: UTC, `Z`, and
/// fractional seconds only when non-zero (trailing zeros trimmed). Lexicographic order of
/// these strings is NOT chronological (fraction lengths differ); use [`sortable_datetime`].
pub fn format_datetime(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// A fixed-width UTC form (`YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ`) whose byte order is
/// chronological: what storage indexes so `gt`/`lt` on dateTimes work as string compares.
pub fn sortable_datetime(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_is_case_insensitive_for_ascii_and_unicode() {
        assert_eq!(fold("BJensen@Example.COM"), "bjensen@example.com");
        assert_eq!(fold("STRASSE"), fold("straße"));
        assert_eq!(fold("ÉCOLE"), fold("école"));
        // Decomposed é (e + U+0301) equals precomposed é.
        assert_eq!(fold("e\u{301}cole"), fold("\u{e9}cole"));
    }

    #[test]
    fn text_eq_follows_case_exact() {
        assert!(text_eq("ABC", "abc", false));
        assert!(!text_eq("ABC", "abc", true));
        assert!(text_eq("e\u{301}", "\u{e9}", true));
    }

    #[test]
    fn datetimes_parse_in_every_accepted_form_and_format_in_utc() {
        let a = parse_datetime("2011-05-13T04:42:34Z").unwrap();
        let b = parse_datetime("2011-05-13T06:42:34+02:00").unwrap();
        let c = parse_datetime("2011-05-13t04:42:34z").unwrap();
        let d = parse_datetime("2011-05-13T04:42:34").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a, d);
        assert_eq!(format_datetime(b), "2011-05-13T04:42:34Z");
        let frac = parse_datetime("2011-08-01T21:32:44.882Z").unwrap();
        assert_eq!(format_datetime(frac), "2011-08-01T21:32:44.882Z");
        assert!(parse_datetime("04-12-2018 00:00:00").is_none());
        assert!(parse_datetime("yesterday").is_none());
    }

    #[test]
    fn sortable_datetimes_order_chronologically() {
        let early = parse_datetime("2011-05-13T04:42:34.5Z").unwrap();
        let late = parse_datetime("2011-05-13T04:42:34.25+00:00").unwrap() + time::Duration::SECOND;
        assert!(sortable_datetime(early) < sortable_datetime(late));
    }
}
