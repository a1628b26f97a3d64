//! The bad-input catalog (issue 10, item 3): well over a hundred malformed or hostile
//! requests — invalid JSON, wrong types, deep nesting, huge strings and 10 MB bodies,
//! invalid UTF-8, filter injection (`%`, `_`, quotes, SQL fragments), path traversal in ids,
//! unknown operations, Bulk loops and bulkId cycles, oversize Bulk, header abuse, tokens
//! outside the Authorization header. Each must get the right 4xx with a SCIM error body,
//! never a 5xx, and never change anything: a fingerprint of both tenants' resources,
//! tokens, attributes and settings is compared after every request.
//!
//! Requests go over a raw socket, written while the response is read, so even a body the
//! server refuses halfway (a 10 MB one) gets its answer read. A few requests are refused by
//! the HTTP parser itself, before any Roster code runs (a `Content-Length` of -1, more than
//! 100 headers): those get hyper's bare 4xx or a closed connection, and the catalog says so.

use std::net::SocketAddr;
use std::time::Duration;

use roster_testkit::body::{GROUP, PATCH_OP, USER};
use roster_testkit::{ScimClient, TestApp, each_backend};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::enc;

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const MB: usize = 1024 * 1024;

/// What a case must get back.
#[derive(Debug, Clone)]
enum Expect {
    /// A SCIM error with this status and `scimType` (`Some("*")`: any type, or none).
    Error(u16, Option<&'static str>),
    /// A hostile but valid filter: a ListResponse with nothing in it.
    EmptyList,
    /// A BulkResponse in which every operation failed with these statuses.
    BulkFailed(&'static [&'static str]),
    /// The admin API's JSON error with this status.
    AdminError(u16),
    /// Refused by the HTTP parser before routing: any 4xx, or the connection closed.
    Parser,
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    method: String,
    /// Under the tenant's SCIM base unless it starts with `/scim/` or `/admin/`.
    path: String,
    /// Extra headers; `Authorization` is the tenant's token unless one is given here (an
    /// empty value: no Authorization at all).
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Send `Content-Length` (off for chunked bodies and hand-written framing).
    content_length: bool,
    expect: Expect,
}

fn case(
    name: impl Into<String>,
    method: &str,
    path: impl Into<String>,
    body: impl Into<Vec<u8>>,
    expect: Expect,
) -> Case {
    Case {
        name: name.into(),
        method: method.into(),
        path: path.into(),
        headers: vec![("Content-Type".into(), "application/scim+json".into())],
        body: body.into(),
        content_length: true,
        expect,
    }
}

impl Case {
    fn header(mut self, name: &str, value: impl Into<String>) -> Case {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn raw_framing(mut self) -> Case {
        self.content_length = false;
        self
    }
}

fn err(status: u16, scim_type: &'static str) -> Expect {
    Expect::Error(status, Some(scim_type))
}

fn plain(status: u16) -> Expect {
    Expect::Error(status, None)
}

fn any(status: u16) -> Expect {
    Expect::Error(status, Some("*"))
}

fn filter_get(endpoint: &str, filter: &str) -> String {
    format!("{endpoint}?filter={}", enc(filter))
}

fn patch(ops: Value) -> Vec<u8> {
    json!({"schemas": [PATCH_OP], "Operations": ops}).to_string().into_bytes()
}

fn bulk(ops: Value) -> Vec<u8> {
    json!({"schemas": [BULK], "Operations": ops}).to_string().into_bytes()
}

/// Ids and names the catalog refers to.
struct Fixture {
    user: String,
    group: String,
    their_user: String,
    their_group: String,
    token: String,
    their_token: String,
    admin_key: String,
}

fn nested(open: &str, close: &str, depth: usize, inner: &str) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

fn catalog(f: &Fixture) -> Vec<Case> {
    let u = &f.user;
    let g = &f.group;
    let mut cases = Vec::new();

    // 1. Invalid JSON on every endpoint that takes a body.
    let writes: [(&str, String); 6] = [
        ("POST", "/Users".into()),
        ("POST", "/Groups".into()),
        ("PUT", format!("/Users/{u}")),
        ("PATCH", format!("/Groups/{g}")),
        ("POST", "/Users/.search".into()),
        ("POST", "/.search".into()),
    ];
    let bad_json: [&str; 6] = [
        r#"{"userName": "#,
        r#"{'userName': 'single quotes'}"#,
        r#"{"userName": "trailing", }"#,
        r#"{"userName": "x"} {"second": "document"}"#,
        "[",
        "NaN",
    ];
    for (method, path) in &writes {
        for (i, body) in bad_json.iter().enumerate() {
            cases.push(case(
                format!("bad JSON #{i} on {method} {path}"),
                method,
                path.clone(),
                *body,
                err(400, "invalidSyntax"),
            ));
        }
    }
    cases.push(case(
        "a byte-order mark before the JSON",
        "POST",
        "/Users",
        b"\xef\xbb\xbf{\"userName\":\"bom\"}".to_vec(),
        err(400, "invalidSyntax"),
    ));
    cases.push(case("an empty body on create", "POST", "/Users", "", err(400, "invalidSyntax")));
    cases.push(case("a JSON comment", "POST", "/Users", r#"/* hi */ {"userName": "c"}"#, err(400, "invalidSyntax")));
    cases.push(
        case(
            "a form body with a form content type",
            "POST",
            "/Users",
            "userName=form%40x.io",
            err(400, "invalidSyntax"),
        )
        .header("Content-Type", "application/x-www-form-urlencoded"),
    );

    // 2. Wrong types. (A number where a string goes is read as its text, `"userName": 5` as
    // "5", and a `members` that is not a list is ignored: leniencies, not in this catalog.)
    for (name, body) in [
        ("userName null", json!({"schemas": [USER], "userName": null})),
        ("userName an array", json!({"schemas": [USER], "userName": ["a", "b"]})),
        ("userName an object", json!({"schemas": [USER], "userName": {"x": 1}})),
        ("userName empty", json!({"schemas": [USER], "userName": ""})),
        ("no userName", json!({"schemas": [USER], "displayName": "nameless"})),
        ("active a word", json!({"schemas": [USER], "userName": "t1@x.io", "active": "maybe"})),
        ("name a string", json!({"schemas": [USER], "userName": "t3@x.io", "name": 42})),
        ("a top-level array", json!([{"userName": "t4@x.io"}])),
        ("a top-level string", json!("userName")),
    ] {
        cases.push(case(format!("create user: {name}"), "POST", "/Users", body.to_string(), any(400)));
    }
    for (name, body) in [
        ("no displayName", json!({"schemas": [GROUP], "members": []})),
        ("member value a number", json!({"schemas": [GROUP], "displayName": "t6", "members": [{"value": 5}]})),
    ] {
        cases.push(case(format!("create group: {name}"), "POST", "/Groups", body.to_string(), any(400)));
    }
    cases.push(case(
        "PUT with userName a number",
        "PUT",
        format!("/Users/{u}"),
        json!({"schemas": [USER], "userName": 12}).to_string(),
        any(400),
    ));
    cases.push(case(
        "PATCH Operations a string",
        "PATCH",
        format!("/Users/{u}"),
        json!({"schemas": [PATCH_OP], "Operations": "replace"}).to_string(),
        any(400),
    ));
    cases.push(case(
        "PATCH active a word",
        "PATCH",
        format!("/Users/{u}"),
        patch(json!([{"op": "replace", "path": "active", "value": "perhaps"}])),
        any(400),
    ));
    cases.push(case(
        "PATCH op a number",
        "PATCH",
        format!("/Users/{u}"),
        patch(json!([{"op": 5, "path": "nickName", "value": "x"}])),
        any(400),
    ));
    cases.push(case(".search filter a number", "POST", "/Users/.search", json!({"filter": 5}).to_string(), any(400)));
    cases.push(case(".search count a word", "POST", "/Users/.search", json!({"count": "many"}).to_string(), any(400)));
    cases.push(case(
        ".search startIndex an object",
        "POST",
        "/.search",
        json!({"startIndex": {"a": 1}}).to_string(),
        any(400),
    ));
    cases.push(case("count a word", "GET", "/Users?count=many", "", any(400)));
    cases.push(case("startIndex a word", "GET", "/Users?startIndex=first", "", any(400)));

    // 3. Deep nesting.
    let deep_array =
        format!(r#"{{"schemas":["{USER}"],"userName":"deep@x.io","nickName":{}}}"#, nested("[", "]", 10_000, "1"));
    cases.push(case("10,000 nested arrays", "POST", "/Users", deep_array, err(400, "invalidSyntax")));
    let deep_object = format!(
        r#"{{"schemas":["{USER}"],"userName":"deep2@x.io","nickName":{}}}"#,
        nested(r#"{"a":"#, "}", 10_000, "1")
    );
    cases.push(case("10,000 nested objects", "POST", "/Users", deep_object, err(400, "invalidSyntax")));
    let deep_patch = format!(
        r#"{{"schemas":["{PATCH_OP}"],"Operations":[{{"op":"add","path":"nickName","value":{}}}]}}"#,
        nested("[", "]", 500, "\"x\"")
    );
    cases.push(case(
        "a PATCH value 500 arrays deep",
        "PATCH",
        format!("/Users/{u}"),
        deep_patch,
        err(400, "invalidSyntax"),
    ));
    let deep_bulk = format!(r#"{{"schemas":["{BULK}"],"Operations":{}}}"#, nested("[", "]", 5_000, ""));
    cases.push(case("a Bulk body 5,000 arrays deep", "POST", "/Bulk", deep_bulk, err(400, "invalidSyntax")));
    cases.push(case(
        "a filter 40 parentheses deep",
        "GET",
        filter_get("/Users", &nested("(", ")", 40, "userName eq \"x\"")),
        "",
        err(400, "invalidFilter"),
    ));
    cases.push(case(
        "a filter 5,000 parentheses deep",
        "GET",
        filter_get("/Users", &nested("(", ")", 5_000, "userName eq \"x\"")),
        "",
        err(400, "invalidFilter"),
    ));
    cases.push(case(
        "a filter 40 nots deep",
        "GET",
        filter_get("/Users", &format!("{}userName eq \"x\"{}", "not (".repeat(40), ")".repeat(40))),
        "",
        err(400, "invalidFilter"),
    ));
    let many_terms = (0..600).map(|i| format!("userName eq \"u{i}\"")).collect::<Vec<_>>().join(" or ");
    cases.push(case("a filter of 600 terms", "GET", filter_get("/Users", &many_terms), "", err(400, "invalidFilter")));
    cases.push(case(
        "a PATCH path with nested brackets",
        "PATCH",
        format!("/Users/{u}"),
        patch(json!([{"op": "replace", "path": "emails[value eq \"a\"].x[value eq \"b\"]", "value": "c"}])),
        any(400),
    ));

    // 4. Huge strings and bodies.
    let huge_user = format!(r#"{{"schemas":["{USER}"],"userName":"{}"}}"#, "x".repeat(10 * MB));
    for (method, path) in [
        ("POST", "/Users".to_string()),
        ("PUT", format!("/Users/{u}")),
        ("PATCH", format!("/Users/{u}")),
        ("POST", "/Groups".to_string()),
        ("POST", "/Users/.search".to_string()),
        ("POST", "/.search".to_string()),
        ("POST", "/Bulk".to_string()),
    ] {
        cases.push(case(format!("a 10 MB body on {method} {path}"), method, path, huge_user.clone(), plain(413)));
    }
    cases.push(
        case("a declared 10 GB body that never comes", "POST", "/Users", "", plain(413))
            .header("Content-Length", "10737418240")
            .raw_framing(),
    );
    cases.push(
        case("a 2 MB chunked body", "POST", "/Users", chunked(huge_user.as_bytes()[..2 * MB].to_vec()), plain(413))
            .header("Transfer-Encoding", "chunked")
            .raw_framing(),
    );
    cases.push(case(
        "a 20 KB filter",
        "GET",
        filter_get("/Users", &format!("userName eq \"{}\"", "y".repeat(20_000))),
        "",
        err(400, "invalidFilter"),
    ));
    let big_bulk: Vec<Value> = (0..1001)
        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"), "data": {"schemas": [USER], "userName": format!("bulk{i}@x.io")}}))
        .collect();
    cases.push(case("1,001 Bulk operations", "POST", "/Bulk", bulk(Value::Array(big_bulk)), plain(413)));
    let padded = json!([{"method": "POST", "path": "/Users", "bulkId": "p", "data": {"schemas": [USER], "userName": "pad@x.io", "nickName": "p".repeat(MB)}}]);
    cases.push(case("a Bulk just over maxPayloadSize", "POST", "/Bulk", bulk(padded), plain(413)));

    // 5. Invalid UTF-8.
    cases.push(case(
        "invalid UTF-8 in a JSON string",
        "POST",
        "/Users",
        b"{\"userName\":\"\xff\xfe@x.io\"}".to_vec(),
        err(400, "invalidSyntax"),
    ));
    cases.push(case(
        "invalid UTF-8 in a PATCH value",
        "PATCH",
        format!("/Users/{u}"),
        [
            b"{\"schemas\":[\"".as_slice(),
            PATCH_OP.as_bytes(),
            b"\"],\"Operations\":[{\"op\":\"replace\",\"path\":\"nickName\",\"value\":\"\xc3\x28\"}]}",
        ]
        .concat(),
        err(400, "invalidSyntax"),
    ));
    cases.push(case(
        "a lone surrogate escape",
        "POST",
        "/Users",
        r#"{"userName": "\ud800@x.io"}"#,
        err(400, "invalidSyntax"),
    ));
    cases.push(case("percent-encoded invalid UTF-8 in an id", "GET", "/Users/%FF%FE", "", any(400)));
    cases.push(case(
        "percent-encoded invalid UTF-8 in a filter",
        "GET",
        "/Users?filter=userName%20eq%20%22%FF%22",
        "",
        any(400),
    ));
    cases.push(case("percent-encoded invalid UTF-8 as the resource type", "GET", "/%C3%28", "", any(400)));
    cases.push(
        case("invalid UTF-8 in the Authorization header", "GET", "/Users", "", plain(401))
            .header("Authorization", "Bearer \u{ff}\u{fe}"),
    );

    // 6. Filter injection: valid filters find nothing; the rest are refused as filters.
    for filter in [
        r#"userName eq "%""#,
        r#"userName sw "%""#,
        r#"userName co "_""#,
        r#"userName ew "%""#,
        r#"userName co "%_%""#,
        r#"userName co "[a-z]""#,
        r#"userName eq "alice@x.io' OR '1'='1""#,
        r#"userName eq "x\" or \"1\"=\"1""#,
        r#"userName eq "'; DROP TABLE resources; --""#,
        r#"displayName co "\\""#,
        r#"externalId eq "1 UNION SELECT secret_hash FROM scim_tokens""#,
        r#"userName sw "a" and userName ew "%""#,
        r#"emails[value co "%"]"#,
        r#"name.familyName eq "*""#,
        // Bare words are strings (F-12), quotes and all.
        "userName eq x",
        "userName eq 'single'",
    ] {
        cases.push(case(
            format!("injection finds nothing: {filter}"),
            "GET",
            filter_get("/Users", filter),
            "",
            Expect::EmptyList,
        ));
    }
    cases.push(case(
        "group filter: displayName co \"%\"",
        "GET",
        filter_get("/Groups", r#"displayName co "%""#),
        "",
        Expect::EmptyList,
    ));
    cases.push(case(
        "group filter: members.value injection",
        "GET",
        filter_get("/Groups", r#"members.value eq "' OR 1=1 --""#),
        "",
        Expect::EmptyList,
    ));
    cases.push(case(
        ".search injection",
        "POST",
        "/.search",
        json!({"filter": "userName sw \"%\""}).to_string(),
        Expect::EmptyList,
    ));
    for filter in [
        r#"userName eq "x"; DROP TABLE resources; --"#,
        r#"userName eq "x" or 1=1"#,
        ") or (1=1",
        r#"userName eq "unterminated"#,
        r#"userName eq "x" --"#,
        r#"userName like "%""#,
        r#"userName eq "a" and"#,
        r#"name[givenName eq "x""#,
        r#"userName eq "x" /* comment */"#,
        "1=1",
        r#"userName eq "x" union select * from scim_tokens"#,
    ] {
        cases.push(case(
            format!("injection refused: {filter}"),
            "GET",
            filter_get("/Users", filter),
            "",
            err(400, "invalidFilter"),
        ));
    }

    // 7. Path traversal in ids and tenants.
    for path in [
        "/Users/..%2F..%2Fetc%2Fpasswd".to_string(),
        "/Users/%2e%2e".to_string(),
        format!("/Users/..%2FGroups%2F{g}"),
        format!("/Users/%2e%2e%2f{u}"),
        "/Users/..%5c..%5cwindows".to_string(),
        "/Users/%252e%252e".to_string(),
        format!("/Groups/..%2F..%2Fother%2FGroups%2F{}", f.their_group),
        format!("/Users/{}", f.their_user),
        format!("/Groups/{}", f.their_group),
    ] {
        cases.push(case(format!("traversal GET {path}"), "GET", path.clone(), "", plain(404)));
    }
    // U+0000: PostgreSQL text cannot hold it, so it is refused everywhere, on every backend.
    cases.push(case("a NUL as the id", "GET", "/Users/%00", "", err(400, "invalidValue")));
    cases.push(case("a NUL after an id", "DELETE", format!("/Users/{u}%00"), "", err(400, "invalidValue")));
    cases.push(case("a NUL as the tenant", "GET", "/scim/v2/%00/Users", "", err(400, "invalidValue")));
    cases.push(case(
        "a NUL in a filter escape",
        "GET",
        filter_get("/Users", r#"userName eq "alice@x.io\u0000""#),
        "",
        err(400, "invalidFilter"),
    ));
    cases.push(case(
        "a NUL in a userName",
        "POST",
        "/Users",
        r#"{"userName": "nul\u0000@x.io"}"#,
        err(400, "invalidValue"),
    ));
    cases.push(case(
        "a NUL in a member name",
        "PATCH",
        format!("/Groups/{g}"),
        patch(json!([{"op": "add", "path": "members", "value": [{"value": "a\u{0}b"}]}])),
        err(400, "invalidValue"),
    ));
    cases.push(case(
        "a NUL in a .search filter",
        "POST",
        "/.search",
        json!({"filter": "userName eq \"a\u{0}\""}).to_string(),
        err(400, "invalidValue"),
    ));
    cases.push(case(
        "traversal DELETE of their user via ../",
        "DELETE",
        format!("/Users/..%2F..%2Fother%2FUsers%2F{}", f.their_user),
        "",
        plain(404),
    ));
    cases.push(case("DELETE of their group by id", "DELETE", format!("/Groups/{}", f.their_group), "", plain(404)));
    cases.push(case(
        "PATCH of their user by id",
        "PATCH",
        format!("/Users/{}", f.their_user),
        patch(json!([{"op": "replace", "path": "active", "value": false}])),
        plain(404),
    ));
    cases.push(case(
        "raw dot segments into another tenant",
        "GET",
        format!("/scim/v2/default/../other/Users/{}", f.their_user),
        "",
        plain(404),
    ));
    cases.push(case("an encoded slash in the tenant", "GET", "/scim/v2/default%2F..%2Fother/Users", "", plain(401)));
    cases.push(case("our token on their URL", "GET", format!("/scim/v2/other/Users/{}", f.their_user), "", plain(401)));

    // 8. Unknown operations and methods.
    for (name, ops) in [
        ("op explode", json!([{"op": "explode", "path": "nickName", "value": "x"}])),
        ("op move (JSON Patch)", json!([{"op": "move", "from": "nickName", "path": "title"}])),
        ("no op", json!([{"path": "nickName", "value": "x"}])),
        ("remove without a path", json!([{"op": "remove"}])),
        ("replace the id", json!([{"op": "replace", "path": "id", "value": "mine"}])),
        ("a path filter left open", json!([{"op": "replace", "path": "emails[value eq", "value": "x"}])),
        ("a path of punctuation", json!([{"op": "add", "path": "..", "value": "x"}])),
    ] {
        cases.push(case(format!("PATCH {name}"), "PATCH", format!("/Users/{u}"), patch(ops), any(400)));
    }
    cases.push(case(
        "PATCH with no Operations",
        "PATCH",
        format!("/Users/{u}"),
        json!({"schemas": [PATCH_OP]}).to_string(),
        any(400),
    ));
    cases.push(case("PATCH with an empty Operations list", "PATCH", format!("/Users/{u}"), patch(json!([])), any(400)));
    for (method, path) in [
        ("DELETE", "/Users".to_string()),
        ("PUT", "/Groups".to_string()),
        ("PATCH", "/ServiceProviderConfig".to_string()),
        ("TRACE", "/Users".to_string()),
        ("FROBNICATE", "/Users".to_string()),
        ("POST", format!("/Users/{u}")),
        ("GET", "/Bulk".to_string()),
        ("DELETE", "/Schemas".to_string()),
    ] {
        cases.push(case(format!("method {method} on {path}"), method, path, "", plain(405)));
    }

    // 9. Bulk loops, bulkId cycles and other bad operations (each fails on its own).
    let group_with = |id: &str, member: &str| json!({"method": "POST", "path": "/Groups", "bulkId": id, "data": {"schemas": [GROUP], "displayName": format!("cycle-{id}"), "members": [{"value": format!("bulkId:{member}")}]}});
    cases.push(case(
        "a two-group bulkId cycle",
        "POST",
        "/Bulk",
        bulk(json!([group_with("a", "b"), group_with("b", "a")])),
        Expect::BulkFailed(&["409", "409"]),
    ));
    cases.push(case(
        "a three-group bulkId cycle",
        "POST",
        "/Bulk",
        bulk(json!([group_with("a", "b"), group_with("b", "c"), group_with("c", "a")])),
        Expect::BulkFailed(&["409", "409", "409"]),
    ));
    cases.push(case(
        "a group that contains itself",
        "POST",
        "/Bulk",
        bulk(json!([group_with("self", "self")])),
        Expect::BulkFailed(&["409"]),
    ));
    cases.push(case(
        "a reference to an undefined bulkId",
        "POST",
        "/Bulk",
        bulk(json!([group_with("lonely", "nobody")])),
        Expect::BulkFailed(&["409"]),
    ));
    cases.push(case("a Bulk inside a Bulk", "POST", "/Bulk",
        bulk(json!([{"method": "POST", "path": "/Bulk", "bulkId": "inner", "data": {"schemas": [BULK], "Operations": [{"method": "POST", "path": "/Users", "bulkId": "x", "data": {"schemas": [USER], "userName": "nested@x.io"}}]}}])),
        Expect::BulkFailed(&["400"])));
    cases.push(case(
        "a Bulk operation that is a GET",
        "POST",
        "/Bulk",
        bulk(json!([{"method": "GET", "path": format!("/Users/{u}")}])),
        Expect::BulkFailed(&["400"]),
    ));
    cases.push(case(
        "a Bulk operation on a traversal path",
        "POST",
        "/Bulk",
        bulk(json!([{"method": "DELETE", "path": format!("/Users/../Groups/{g}")}])),
        Expect::BulkFailed(&["400"]),
    ));
    cases.push(case(
        "a Bulk DELETE of their user",
        "POST",
        "/Bulk",
        bulk(json!([{"method": "DELETE", "path": format!("/Users/{}", f.their_user)}])),
        Expect::BulkFailed(&["404"]),
    ));
    cases.push(case(
        "a Bulk with Operations an object",
        "POST",
        "/Bulk",
        json!({"schemas": [BULK], "Operations": {"a": 1}}).to_string(),
        err(400, "invalidSyntax"),
    ));
    cases.push(case(
        "a Bulk with failOnErrors a word",
        "POST",
        "/Bulk",
        json!({"schemas": [BULK], "failOnErrors": "x", "Operations": []}).to_string(),
        err(400, "invalidValue"),
    ));
    cases.push(case(
        "a Bulk POST without a bulkId",
        "POST",
        "/Bulk",
        bulk(json!([{"method": "POST", "path": "/Users", "data": {"schemas": [USER], "userName": "nobulkid@x.io"}}])),
        Expect::BulkFailed(&["400"]),
    ));

    // 10. Header abuse.
    let token = &f.token;
    cases.push(
        case("two Authorization headers, the valid one first", "GET", "/Users", "", plain(401))
            .header("Authorization", format!("Bearer {token}"))
            .header("Authorization", "Bearer junk"),
    );
    cases.push(
        case(
            "two Authorization headers, the valid one last",
            "POST",
            "/Users",
            json!({"schemas": [USER], "userName": "dup@x.io"}).to_string(),
            plain(401),
        )
        .header("Authorization", "Bearer junk")
        .header("Authorization", format!("Bearer {token}")),
    );
    cases.push(
        case("a 60 KB Authorization header", "GET", "/Users", "", plain(401))
            .header("Authorization", format!("Bearer {}", "a".repeat(60_000))),
    );
    cases.push(
        case("a tab after Bearer", "GET", "/Users", "", plain(401)).header("Authorization", format!("Bearer\t{token}")),
    );
    cases.push(
        case("the token as Basic credentials", "GET", "/Users", "", plain(401))
            .header("Authorization", format!("Basic {token}")),
    );
    cases.push(
        case("another tenant's token", "DELETE", format!("/Users/{u}"), "", plain(401))
            .header("Authorization", format!("Bearer {}", f.their_token)),
    );
    cases.push(
        case(
            "a forged session cookie",
            "POST",
            "/Users",
            json!({"schemas": [USER], "userName": "cookie@x.io"}).to_string(),
            plain(401),
        )
        .header("Authorization", "")
        .header("Cookie", "roster_session=0000"),
    );
    cases.push(
        case(
            "If-Match of another version on PATCH",
            "PATCH",
            format!("/Users/{u}"),
            patch(json!([{"op": "replace", "path": "nickName", "value": "late"}])),
            plain(412),
        )
        .header("If-Match", "W/\"999\""),
    );
    cases.push(
        case("If-Match of another version on DELETE", "DELETE", format!("/Groups/{g}"), "", plain(412))
            .header("If-Match", "W/\"999\""),
    );
    cases.push(
        case(
            "If-Match garbage on PUT",
            "PUT",
            format!("/Users/{u}"),
            json!({"schemas": [USER], "userName": "alice@x.io"}).to_string(),
            plain(412),
        )
        .header("If-Match", "\"><script>"),
    );
    cases.push(
        case(
            "a gzip Content-Encoding on a plain body",
            "POST",
            "/Users",
            json!({"schemas": [USER], "userName": "gzip@x.io"}).to_string(),
            plain(415),
        )
        .header("Content-Encoding", "gzip"),
    );
    cases.push(
        case("a broken chunked body", "POST", "/Users", b"5\r\n{\"use\r\nzz\r\n".to_vec(), err(400, "invalidSyntax"))
            .header("Transfer-Encoding", "chunked")
            .raw_framing(),
    );
    cases.push(
        case("a negative Content-Length", "POST", "/Users", "", Expect::Parser)
            .header("Content-Length", "-1")
            .raw_framing(),
    );
    cases.push(
        case("two different Content-Lengths", "POST", "/Users", "{}", Expect::Parser)
            .header("Content-Length", "2")
            .header("Content-Length", "5")
            .raw_framing(),
    );
    cases.push(
        case("150 headers", "GET", "/Users", "", Expect::Parser)
            .with_headers((0..150).map(|i| (format!("X-Pad-{i}"), "x".to_string()))),
    );
    cases.push(case("a 1 MB header", "GET", "/Users", "", Expect::Parser).header("X-Big", "b".repeat(MB)));

    // 11. Tokens anywhere but the Authorization header.
    for path in [
        format!("/Users?access_token={token}"),
        format!("/Users?token={token}"),
        format!("/Users?Authorization={}", enc(&format!("Bearer {token}"))),
    ] {
        cases.push(
            case(format!("token in the query: {}", &path[..path.find('=').unwrap_or(0)]), "GET", path, "", plain(401))
                .header("Authorization", ""),
        );
    }
    cases.push(
        case(
            "token in the body",
            "POST",
            "/Users",
            json!({"schemas": [USER], "userName": "body@x.io", "access_token": token}).to_string(),
            plain(401),
        )
        .header("Authorization", ""),
    );
    cases.push(
        case("token in a cookie", "GET", "/Users", "", plain(401))
            .header("Authorization", "")
            .header("Cookie", format!("access_token={token}")),
    );
    cases.push(case("token without a scheme", "GET", "/Users", "", plain(401)).header("Authorization", token.clone()));
    cases.push(
        case("token in X-Api-Key", "GET", "/Users", "", plain(401))
            .header("Authorization", "")
            .header("X-Api-Key", token.clone()),
    );

    // 12. The admin API.
    let key = format!("Bearer {}", f.admin_key);
    cases.push(
        case(
            "admin API: a 10 MB body",
            "POST",
            "/admin/api/tenants",
            format!(r#"{{"slug":"{}"}}"#, "s".repeat(10 * MB)),
            Expect::AdminError(413),
        )
        .header("Content-Type", "application/json")
        .header("Authorization", key.clone()),
    );
    cases.push(
        case("admin API: bad JSON", "POST", "/admin/api/tenants", r#"{"slug": "#, Expect::AdminError(400))
            .header("Content-Type", "application/json")
            .header("Authorization", key.clone()),
    );
    cases.push(
        case("admin API: slug a number", "POST", "/admin/api/tenants", r#"{"slug": 5}"#, Expect::AdminError(400))
            .header("Content-Type", "application/json")
            .header("Authorization", key.clone()),
    );
    cases.push(case("admin API: a SCIM token", "GET", "/admin/api/tenants", "", Expect::AdminError(403)));
    cases
}

impl Case {
    fn with_headers(mut self, headers: impl Iterator<Item = (String, String)>) -> Case {
        self.headers.extend(headers);
        self
    }
}

fn chunked(body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 1024);
    for chunk in body.chunks(64 * 1024) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// The request as bytes.
fn wire(c: &Case, default_token: &str) -> Vec<u8> {
    let target = if c.path.starts_with("/scim/") || c.path.starts_with("/admin/") {
        c.path.clone()
    } else {
        format!("/scim/v2/default{}", c.path)
    };
    let mut head = format!("{} {target} HTTP/1.1\r\nHost: roster.test\r\nConnection: close\r\n", c.method);
    let names: Vec<String> = c.headers.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
    if !names.iter().any(|n| n == "authorization") {
        head.push_str(&format!("Authorization: Bearer {default_token}\r\n"));
    }
    // The last Content-Type given wins (a case may override the default one).
    let content_type = c.headers.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    for (k, v) in &c.headers {
        if k.eq_ignore_ascii_case("content-type") {
            continue;
        }
        if k.eq_ignore_ascii_case("authorization") && v.is_empty() {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some((k, v)) = content_type {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if c.content_length {
        head.push_str(&format!("Content-Length: {}\r\n", c.body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&c.body);
    bytes
}

/// What came back.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    body: Value,
    text: String,
}

/// Writes `request` while reading the response, so a refusal that comes before the body
/// is fully sent is still read; a reset after the response is fine.
async fn exchange(addr: SocketAddr, request: Vec<u8>) -> Answer {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&request).await;
        wr
    });
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, rd.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => panic!("no answer within 30 s; got so far: {}", String::from_utf8_lossy(&buf)),
        }
    }
    writer.abort();
    parse(&buf)
}

fn parse(buf: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(buf).to_string();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Answer { status: 0, content_type: None, body: Value::Null, text };
    };
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let get = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let body = if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            out.push_str(&tail[..n]);
            rest = tail[n..].trim_start_matches("\r\n");
        }
        out
    } else {
        body.to_string()
    };
    Answer {
        status,
        content_type: get("content-type"),
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        text: body,
    }
}

/// Everything a request could change, for both tenants.
async fn fingerprint(app: &TestApp, theirs: &ScimClient) -> String {
    let mut parts = Vec::new();
    for scim in [&app.scim, theirs] {
        for endpoint in ["/Users?count=1000", "/Groups?count=1000"] {
            let r = scim.get(endpoint).await;
            r.expect(200);
            parts.push(r.body["Resources"].clone());
        }
    }
    for tenant in ["default", "other"] {
        let tokens = app.core.list_tokens(tenant).await.unwrap();
        parts.push(Value::String(format!("{tokens:?}").replace(char::is_whitespace, "")));
        let t = app.core.tenant(tenant).await.unwrap();
        parts.push(Value::String(format!("{:?} {:?}", t.settings, t.schema_version)));
    }
    parts.push(Value::String(format!("{:?}", app.core.tenants().await.unwrap().len())));
    serde_json::to_string(&parts).unwrap()
}

#[track_caller]
fn check(c: &Case, a: &Answer) {
    let what = format!(
        "{} ({} {}): got {} {}",
        c.name,
        c.method,
        c.path.chars().take(120).collect::<String>(),
        a.status,
        a.text.chars().take(400).collect::<String>()
    );
    assert!(a.status < 500, "a 5xx: {what}");
    let scim_error = |status: u16, scim_type: Option<&str>| {
        assert_eq!(a.status, status, "{what}");
        assert_eq!(a.content_type.as_deref(), Some("application/scim+json"), "{what}");
        assert_eq!(a.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{what}");
        assert_eq!(a.body["status"], Value::String(status.to_string()), "{what}");
        assert!(a.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{what}");
        match scim_type {
            Some("*") => {}
            t => assert_eq!(a.body.get("scimType").and_then(Value::as_str), t, "{what}"),
        }
    };
    match &c.expect {
        Expect::Error(status, scim_type) => scim_error(*status, *scim_type),
        Expect::EmptyList => {
            assert_eq!(a.status, 200, "{what}");
            assert_eq!(a.body["totalResults"], 0, "{what}");
            assert_eq!(a.body["Resources"], json!([]), "{what}");
        }
        Expect::BulkFailed(statuses) => {
            assert_eq!(a.status, 200, "{what}");
            let got: Vec<&str> = a.body["Operations"]
                .as_array()
                .unwrap_or_else(|| panic!("not a BulkResponse: {what}"))
                .iter()
                .map(|o| o["status"].as_str().unwrap_or_default())
                .collect();
            assert_eq!(&got, statuses, "{what}");
            for op in a.body["Operations"].as_array().unwrap() {
                assert_eq!(op["response"]["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{what}");
            }
        }
        Expect::AdminError(status) => {
            assert_eq!(a.status, *status, "{what}");
            assert_eq!(a.body["status"], *status, "{what}");
            assert!(a.body["error"].as_str().is_some_and(|e| !e.is_empty()), "{what}");
        }
        Expect::Parser => assert!(a.status == 0 || (400..500).contains(&a.status), "{what}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_and_more_hostile_requests_get_a_scim_4xx_and_change_nothing() {
    each_backend(|app| async move {
        let theirs = app.tenant_client("other").await;
        let their_user = theirs.create_user("carol@other.example", json!({"externalId": "c-1"})).await;
        let their_group = theirs.create_group("Theirs", &[&their_user]).await;
        let user = app
            .scim
            .create_user(
                "alice@x.io",
                json!({"name": {"givenName": "Alice", "familyName": "Doe"},
                "emails": [{"value": "alice@x.io", "primary": true}], "externalId": "a-1"}),
            )
            .await;
        let bob = app.scim.create_user("bob@x.io", json!({})).await;
        let group = app.scim.create_group("Engineering", &[&user, &bob]).await;
        let fixture = Fixture {
            user,
            group,
            their_user,
            their_group,
            token: app.token.clone(),
            their_token: theirs.token.clone().unwrap(),
            admin_key: app.admin().await.key.unwrap(),
        };
        let cases = catalog(&fixture);
        assert!(cases.len() >= 100, "only {} cases", cases.len());
        let before = fingerprint(&app, &theirs).await;
        let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
        for c in &cases {
            let answer = exchange(app.addr, wire(c, &app.token)).await;
            check(c, &answer);
            *by_status.entry(answer.status).or_default() += 1;
            let after = fingerprint(&app, &theirs).await;
            assert!(after == before, "{} changed the state", c.name);
        }
        println!("{:?}: {} hostile requests, answers by status {by_status:?}", app.backend, cases.len());
        // The server is still well after all that.
        app.scim.get("/Users").await.expect(200);
    })
    .await;
}
