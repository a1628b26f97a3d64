//! Small pure helpers for the portal's pages: times as people read them, URL encoding, the
//! fixed confirmation messages, reading one form field, and flattening a SCIM resource into
//! rows of attribute and value for the read-only detail pages.

use serde_json::{Map, Value};
use time::OffsetDateTime;

/// `2026-11-30 13:28:05 UTC`.
pub fn when(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `2026-11-30`.
pub fn day(t: OffsetDateTime) -> String {
    when(t).get(..10).unwrap_or_default().to_string()
}

/// [`when`], or `never` for `None`.
pub fn when_or(t: Option<OffsetDateTime>, none: &str) -> String {
    t.map(when).unwrap_or_else(|| none.to_string())
}

/// `in 3 days`, `5 minutes ago`: the rough distance from `now`.
pub fn relative(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let d = t - now;
    let future = d.is_positive();
    let secs = d.whole_seconds().unsigned_abs();
    let (n, unit) = match secs {
        0..60 => return if future { "in under a minute".into() } else { "just now".into() },
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if future { format!("in {n} {unit}{plural}") } else { format!("{n} {unit}{plural} ago") }
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters and `/`).
pub fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes one path segment.
pub fn path_segment(s: &str) -> String {
    query_value(s).replace('/', "%2F")
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes an `application/x-www-form-urlencoded` component.
pub fn form_decode(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let mut ahead = bytes.clone();
                match (ahead.next().and_then(hex), ahead.next().and_then(hex)) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        bytes = ahead;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first value of `name` in a urlencoded form body.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(k) == name).then(|| form_decode(v))
    })
}

/// The confirmation shown after a redirect: only these fixed texts, never request text.
pub fn flash_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "activated" => "The token is active again: the identity provider can provision with it.",
        "deactivated" => "The token is inactive: SCIM requests with it are refused until you set it active again.",
        "removed" => "The token was removed. Its slot is free.",
        "defined" => "The attribute was defined. It appears in /Schemas now; map it in your identity provider.",
        "attribute-removed" => "The attribute was removed, with every stored value of it.",
        "settings" => "The settings were saved.",
        "choose" => "Choose an action in the Select menu first.",
        _ => return None,
    })
}

/// One row of a resource's detail page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrRow {
    /// `name.givenName`, `emails`.
    pub name: String,
    pub value: String,
    /// For an element of a multi-valued attribute: its other sub-attributes (`type: work`).
    pub note: String,
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// Flattens attributes into rows: complex attributes by dotted path, each element of a
/// multi-valued attribute on its own row (its `value` or `display`, with the rest as a note).
pub fn flatten(attrs: &Map<String, Value>, prefix: &str, out: &mut Vec<AttrRow>) {
    for (k, v) in attrs {
        let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            Value::Object(o) => flatten(o, &name, out),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Object(o) => {
                            let main_key = ["value", "display"].into_iter().find(|k| o.contains_key(*k));
                            let main = main_key.and_then(|k| o.get(k));
                            let note: Vec<String> = o
                                .iter()
                                .filter(|(sk, _)| Some(sk.as_str()) != main_key)
                                .map(|(sk, sv)| format!("{sk}: {}", scalar(sv)))
                                .collect();
                            out.push(AttrRow {
                                name: name.clone(),
                                value: main.map(scalar).unwrap_or_default(),
                                note: note.join(" · "),
                            });
                        }
                        other => out.push(AttrRow { name: name.clone(), value: scalar(other), note: String::new() }),
                    }
                }
            }
            other => out.push(AttrRow { name, value: scalar(other), note: String::new() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forms_decode_plus_and_percent() {
        assert_eq!(form_decode("a+b%3Cc%3E"), "a b<c>");
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_field(b"x=1&csrf=ab12&y=2", "csrf").as_deref(), Some("ab12"));
        assert_eq!(form_field(b"x=1", "csrf"), None);
    }

    #[test]
    fn resources_flatten_into_rows() {
        let v = json!({"name": {"givenName": "B"}, "emails": [{"value": "b@x", "type": "work", "primary": true}], "active": true});
        let mut rows = Vec::new();
        flatten(v.as_object().unwrap(), "", &mut rows);
        assert_eq!(rows[0], AttrRow { name: "name.givenName".into(), value: "B".into(), note: String::new() });
        assert_eq!(rows[1].name, "emails");
        assert_eq!(rows[1].value, "b@x");
        assert_eq!(rows[1].note, "type: work · primary: true");
        assert_eq!(rows[2].value, "true");
    }

    #[test]
    fn times_read_relative() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1000);
        assert_eq!(relative(now + time::Duration::days(3), now), "in 3 days");
        assert_eq!(relative(now - time::Duration::minutes(5), now), "5 minutes ago");
        assert_eq!(relative(now, now), "just now");
    }
}
