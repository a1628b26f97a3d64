//! Wire messages: ListResponse (RFC 7644 §3.4.2), query parameters and SearchRequest
//! (§3.4.2, §3.4.3), and query-string decoding as IdPs really send it (F-16).

use serde_json::{Map, Value, json};

use crate::error::ScimError;
use crate::projection::split_attribute_list;

pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// `sortOrder` (RFC 7644 §3.4.2.3), matched case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Ascending,
    Descending,
}

/// The list parameters of a query or search request, validated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: SortOrder,
    /// 1-based; values below 1 were read as 1 (§3.4.2.4).
    pub start_index: u64,
    /// `None` when the client gave none; negative values were read as 0.
    pub count: Option<u64>,
    pub attributes: Vec<String>,
    pub excluded_attributes: Vec<String>,
    /// RFC 9865: `Some("")` asks for the first page of a cursor walk.
    pub cursor: Option<String>,
}

impl ListQuery {
    /// Reads decoded query parameters; names are matched case-insensitively and unknown
    /// ones (`aadOptscim062020`, empty keys) are ignored (F-16).
    pub fn from_params<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> Result<ListQuery, ScimError> {
        let mut q = ListQuery { start_index: 1, ..ListQuery::default() };
        for (k, v) in params {
            let (k, v) = (k.as_ref(), v.as_ref());
            match k.to_ascii_lowercase().as_str() {
                "filter" => q.filter = Some(v.to_string()).filter(|s| !s.trim().is_empty()),
                "sortby" => q.sort_by = Some(v.trim().to_string()).filter(|s| !s.is_empty()),
                "sortorder" => q.sort_order = parse_sort_order(v)?,
                "startindex" => q.start_index = parse_start_index(v)?,
                "count" => q.count = parse_count(v)?,
                "attributes" => q.attributes.extend(split_attribute_list(v)),
                "excludedattributes" => q.excluded_attributes.extend(split_attribute_list(v)),
                "cursor" => q.cursor = Some(v.to_string()),
                _ => {}
            }
        }
        Ok(q)
    }

    /// Reads a SearchRequest body (§3.4.3); members are matched case-insensitively and
    /// unknown ones (WSO2's `domain`) ignored.
    pub fn from_search_request(body: &Value) -> Result<ListQuery, ScimError> {
        let Value::Object(obj) = body else {
            return Err(ScimError::invalid_syntax("a SearchRequest must be a JSON object"));
        };
        let mut q = ListQuery { start_index: 1, ..ListQuery::default() };
        for (k, v) in obj {
            let text = |what: &str| -> Result<Option<String>, ScimError> {
                match v {
                    Value::Null => Ok(None),
                    Value::String(s) => Ok(Some(s.clone())),
                    Value::Number(n) => Ok(Some(n.to_string())),
                    other => Err(ScimError::invalid_value(format!("{what} must be a string, got {other}"))),
                }
            };
            match k.to_ascii_lowercase().as_str() {
                "filter" => q.filter = text("filter")?.filter(|s| !s.trim().is_empty()),
                "sortby" => q.sort_by = text("sortBy")?.filter(|s| !s.is_empty()),
                "sortorder" => {
                    if let Some(s) = text("sortOrder")? {
                        q.sort_order = parse_sort_order(&s)?;
                    }
                }
                "startindex" => {
                    if let Some(s) = text("startIndex")? {
                        q.start_index = parse_start_index(&s)?;
                    }
                }
                "count" => {
                    if let Some(s) = text("count")? {
                        q.count = parse_count(&s)?;
                    }
                }
                "attributes" => q.attributes = attribute_list(v, "attributes")?,
                "excludedattributes" => q.excluded_attributes = attribute_list(v, "excludedAttributes")?,
                "cursor" => q.cursor = text("cursor")?.or(Some(String::new())).filter(|_| !v.is_null()),
                _ => {}
            }
        }
        Ok(q)
    }
}

fn attribute_list(v: &Value, what: &str) -> Result<Vec<String>, ScimError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(split_attribute_list(s)),
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Value::String(s) => out.extend(split_attribute_list(s)),
                    other => {
                        return Err(ScimError::invalid_value(format!("{what} must hold strings, got {other}")));
                    }
                }
            }
            Ok(out)
        }
        other => Err(ScimError::invalid_value(format!("{what} must be an array of attribute names, got {other}"))),
    }
}

fn parse_sort_order(v: &str) -> Result<SortOrder, ScimError> {
    let v = v.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("ascending") {
        Ok(SortOrder::Ascending)
    } else if v.eq_ignore_ascii_case("descending") {
        Ok(SortOrder::Descending)
    } else {
        Err(ScimError::invalid_value(format!("sortOrder must be \"ascending\" or \"descending\", got {v:?}")))
    }
}

/// `startIndex`: 1-based; below 1 means 1; not a number is `400 invalidValue` (A14).
fn parse_start_index(v: &str) -> Result<u64, ScimError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(1);
    }
    let n: i64 = parse_integer(v, "startIndex")?;
    Ok(n.max(1) as u64)
}

/// `count`: negative means 0 (§3.4.2.4); empty means "not given".
fn parse_count(v: &str) -> Result<Option<u64>, ScimError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let n: i64 = parse_integer(v, "count")?;
    Ok(Some(n.max(0) as u64))
}

fn parse_integer(v: &str, what: &str) -> Result<i64, ScimError> {
    // One optional sign, then at least one digit: `--5` and `--` are not numbers.
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    match v.parse::<i64>() {
        Ok(n) => Ok(n),
        // Digits beyond i64 are still a number: saturate rather than refuse.
        Err(_) if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) => {
            Ok(if v.starts_with('-') { i64::MIN } else { i64::MAX })
        }
        Err(_) => Err(ScimError::invalid_value(format!("{what} must be an integer, got {v:?}"))),
    }
}

/// A ListResponse (RFC 7644 §3.4.2): `Resources` is always present, the numbers are JSON
/// integers, and `itemsPerPage` is the number of resources in this page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListResponse {
    pub total_results: u64,
    /// `None` for cursor pages (RFC 9865 §2.2), which do not carry one.
    pub start_index: Option<u64>,
    pub resources: Vec<Value>,
    pub next_cursor: Option<String>,
    pub previous_cursor: Option<String>,
}

impl ListResponse {
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("schemas".into(), json!([LIST_RESPONSE_SCHEMA]));
        o.insert("totalResults".into(), json!(self.total_results));
        if let Some(start) = self.start_index {
            o.insert("startIndex".into(), json!(start));
        }
        o.insert("itemsPerPage".into(), json!(self.resources.len()));
        if let Some(c) = &self.next_cursor {
            o.insert("nextCursor".into(), json!(c));
        }
        if let Some(c) = &self.previous_cursor {
            o.insert("previousCursor".into(), json!(c));
        }
        o.insert("Resources".into(), Value::Array(self.resources.clone()));
        Value::Object(o)
    }
}

/// Decodes a raw query string the way IdPs send it (F-16, A12.3): `+` and `%20` are
/// spaces, raw spaces and `"` are kept, empty pairs (a trailing `&` or `?`) are skipped,
/// and malformed `%` escapes are kept literally.
pub fn decode_query(raw: &str) -> Result<Vec<(String, String)>, ScimError> {
    let mut out = Vec::new();
    for pair in raw.split('&') {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k)?;
        if k.is_empty() {
            continue;
        }
        out.push((k, percent_decode(v)?));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Result<String, ScimError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ScimError::invalid_value("the query string does not decode to UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_percent_and_raw_quotes_and_skips_empty_pairs() {
        let q = decode_query("aadOptscim062020&filter=userName+eq+%22a%40x.io%22&").unwrap();
        assert_eq!(q, vec![("aadOptscim062020".into(), "".into()), ("filter".into(), "userName eq \"a@x.io\"".into())]);
        let raw = decode_query("filter=userName eq \"x\"&count=2").unwrap();
        assert_eq!(raw[0].1, "userName eq \"x\"");
        assert_eq!(decode_query("a=%zz").unwrap()[0].1, "%zz");
        assert!(decode_query("a=%ff").is_err());
    }

    #[test]
    fn list_params_are_case_insensitive_and_clamped() {
        let q = ListQuery::from_params(&[("StartIndex", "-2"), ("COUNT", "-5"), ("sortorder", "DESCENDING")]).unwrap();
        assert_eq!(q.start_index, 1);
        assert_eq!(q.count, Some(0));
        assert_eq!(q.sort_order, SortOrder::Descending);
        let err = ListQuery::from_params(&[("startIndex", "abc")]).unwrap_err();
        assert_eq!(err.scim_type, Some(crate::ScimType::InvalidValue));
        assert!(ListQuery::from_params(&[("sortOrder", "sideways")]).is_err());
        let huge = ListQuery::from_params(&[("count", "99999999999999999999999")]).unwrap();
        assert_eq!(huge.count, Some(i64::MAX as u64));
    }

    #[test]
    fn search_request_reads_arrays_and_ignores_unknown_members() {
        let q = ListQuery::from_search_request(&json!({
            "schemas": [SEARCH_REQUEST_SCHEMA],
            "attributes": ["displayName", "userName"],
            "filter": "displayName sw \"smith\"",
            "startIndex": 1, "count": 10, "domain": "PRIMARY"
        }))
        .unwrap();
        assert_eq!(q.attributes, vec!["displayName", "userName"]);
        assert_eq!(q.count, Some(10));
        assert_eq!(q.filter.as_deref(), Some("displayName sw \"smith\""));
    }

    #[test]
    fn list_response_always_has_resources_and_integer_counts() {
        let body = ListResponse { total_results: 0, start_index: Some(1), ..Default::default() }.to_json();
        assert_eq!(body["Resources"], json!([]));
        assert_eq!(body["itemsPerPage"], json!(0));
        assert!(body["totalResults"].is_u64());
    }
}
