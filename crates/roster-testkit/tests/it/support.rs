//! Small helpers shared by the test modules: query encoding, raw HTTP over a TCP socket
//! (for requests a well-behaved client library refuses to send), and list-response readers.

use std::net::SocketAddr;

use roster_testkit::{Resp, ScimClient};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Percent-encodes a query value completely (everything but RFC 3986 unreserved characters),
/// so tests say exactly what goes on the wire.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET {endpoint}?filter=...` with the filter fully encoded.
pub async fn filter(scim: &ScimClient, endpoint: &str, filter: &str) -> Resp {
    scim.get(&format!("{endpoint}?filter={}", enc(filter))).await
}

/// The `id`s of a ListResponse's resources, in order.
pub fn ids(resp: &Resp) -> Vec<String> {
    resources(resp).iter().map(|r| r["id"].as_str().expect("id").to_string()).collect()
}

/// The values of `attr` (a top-level string attribute) in a ListResponse, in order.
pub fn strings(resp: &Resp, attr: &str) -> Vec<String> {
    resources(resp).iter().map(|r| r[attr].as_str().unwrap_or_default().to_string()).collect()
}

pub fn resources(resp: &Resp) -> Vec<Value> {
    resp.body["Resources"].as_array().unwrap_or_else(|| panic!("not a ListResponse: {}", resp.text)).clone()
}

/// Asserts a ListResponse with these totals.
#[track_caller]
pub fn expect_list(resp: &Resp, total: u64, start: u64, items: u64) {
    resp.expect(200);
    assert_eq!(resp.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]), "{}", resp.text);
    assert_eq!(resp.body["totalResults"], json!(total), "{}", resp.text);
    assert_eq!(resp.body["startIndex"], json!(start), "{}", resp.text);
    assert_eq!(resp.body["itemsPerPage"], json!(items), "{}", resp.text);
    assert_eq!(resources(resp).len() as u64, items, "Resources length: {}", resp.text);
}

/// The ids in a group's `members`, sorted.
pub fn member_ids(group: &Value) -> Vec<String> {
    let mut out: Vec<String> = group["members"]
        .as_array()
        .map(|m| m.iter().map(|e| e["value"].as_str().expect("member value").to_string()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// A response read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub text: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Sends `request` (a complete HTTP/1.1 request; it should say `Connection: close`) as raw
/// bytes and reads the whole response.
pub async fn raw_http(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {status_line:?}"));
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let chunked =
        headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_string() };
    RawResponse { status, headers, body: serde_json::from_str(&body).unwrap_or(Value::Null), text: body }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
