//! Fuzzing the HTTP request decoding (issue 10, item 3): a property test that sends the
//! router generated requests — methods, paths with percent-encoded junk, query strings,
//! headers and bodies built from SCIM-shaped fragments and raw bytes — straight through
//! `tower::ServiceExt::oneshot` (no sockets, so thousands of cases run in seconds). Whatever
//! arrives, the answer is never a 5xx, and every error under `/scim/` is a SCIM error body.
//! The router is wrapped as `roster_http::serve` wraps it (trailing slashes trimmed).
//! The parsers behind it (filters, paths, PATCH, resources) have their own cargo-fuzz
//! targets in `crates/roster-scim/fuzz`.

use axum::body::Body;
use http::Request;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use roster_http::{AppState, HttpConfig};
use roster_testkit::{Backend, TestApp, backends};
use serde_json::Value;
use tower::ServiceExt;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

type App = tower_http::normalize_path::NormalizePath<axum::Router>;

/// One generated request.
#[derive(Debug, Clone)]
struct Fuzzed {
    method: String,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

fn pct(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(b) {
                (*b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Users".to_string()),
        Just("Groups".to_string()),
        Just("Bulk".to_string()),
        Just(".search".to_string()),
        Just("Schemas".to_string()),
        Just("ResourceTypes".to_string()),
        Just("ServiceProviderConfig".to_string()),
        Just("Me".to_string()),
        Just("..".to_string()),
        Just("%2e%2e".to_string()),
        Just("%00".to_string()),
        Just("{ID}".to_string()),
        Just("urn:ietf:params:scim:schemas:core:2.0:User".to_string()),
        "[a-zA-Z0-9_.-]{0,12}",
        prop::collection::vec(any::<u8>(), 0..12).prop_map(|b| pct(&b)),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("filter"),
        Just("count"),
        Just("startIndex"),
        Just("attributes"),
        Just("excludedAttributes"),
        Just("sortBy"),
        Just("sortOrder"),
        Just("cursor"),
        Just("access_token"),
        Just("x"),
    ];
    let value = prop_oneof![
        Just("userName eq \"a\"".to_string()),
        Just("members[value eq \"x\"]".to_string()),
        Just("((((".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("emails.value".to_string()),
        "[ -~]{0,40}",
        prop::collection::vec(any::<u8>(), 0..24).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ];
    prop::collection::vec((key, value, any::<bool>()), 0..4).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(
                |(k, v, raw)| {
                    if raw {
                        format!("{k}={}", v.replace(['#', ' '], "+"))
                    } else {
                        format!("{k}={}", pct(v.as_bytes()))
                    }
                },
            )
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn json_fragment() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[ -~]{0,16}".prop_map(Value::String),
        Just(Value::String("urn:ietf:params:scim:schemas:core:2.0:User".into())),
        Just(Value::String("{ID}".into())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        let key = prop_oneof![
            Just("schemas".to_string()),
            Just("userName".to_string()),
            Just("displayName".to_string()),
            Just("members".to_string()),
            Just("Operations".to_string()),
            Just("op".to_string()),
            Just("path".to_string()),
            Just("value".to_string()),
            Just("emails".to_string()),
            Just("active".to_string()),
            Just("method".to_string()),
            Just("bulkId".to_string()),
            Just("data".to_string()),
            Just("filter".to_string()),
            Just("id".to_string()),
            "[a-zA-Z:.]{1,10}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..5).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        json_fragment().prop_map(|v| v.to_string().into_bytes()),
        json_fragment().prop_map(|v| {
            serde_json::json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": v}]})
                .to_string()
                .into_bytes()
        }),
        prop::collection::vec(any::<u8>(), 0..64),
        (json_fragment(), 0usize..16).prop_map(|(v, cut)| {
            let mut b = v.to_string().into_bytes();
            b.truncate(b.len().saturating_sub(cut));
            b
        }),
    ]
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[ -~]{0,40}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..24)
            .prop_map(|b| b.into_iter().filter(|c| *c != b'\r' && *c != b'\n' && *c != 0 && *c != 0x7f).collect()),
    ]
}

fn request(tenant_token: String) -> impl Strategy<Value = Fuzzed> {
    let method = prop_oneof![
        Just("GET"),
        Just("POST"),
        Just("PUT"),
        Just("PATCH"),
        Just("DELETE"),
        Just("HEAD"),
        Just("OPTIONS"),
        Just("TRACE"),
        Just("FOO")
    ];
    let tenant = prop_oneof![Just("default".to_string()), Just("other".to_string()), segment()];
    let prefix = prop_oneof![
        8 => Just("/scim/v2/"),
        1 => Just("/admin/api/"),
        1 => Just("/"),
    ];
    let auth = prop_oneof![
        4 => Just(Some(format!("Bearer {tenant_token}").into_bytes())),
        1 => Just(None),
        1 => header_value().prop_map(Some),
        1 => header_value().prop_map(|v| Some([b"Bearer ".as_slice(), &v].concat())),
    ];
    let content_type = prop_oneof![
        Just(Some("application/scim+json".to_string())),
        Just(Some("application/json; charset=utf-8".to_string())),
        Just(Some("text/plain".to_string())),
        Just(Some("application/x-www-form-urlencoded".to_string())),
        Just(None),
    ];
    let extra = prop::collection::vec(
        (
            prop_oneof![Just("If-Match"), Just("If-None-Match"), Just("Accept"), Just("X-Request-Id"), Just("Cookie")],
            header_value(),
        ),
        0..3,
    );
    (method, prefix, tenant, prop::collection::vec(segment(), 0..4), query(), auth, content_type, extra, body())
        .prop_map(|(method, prefix, tenant, segments, query, auth, content_type, extra, body)| {
            let mut path = if prefix == "/scim/v2/" {
                format!("{prefix}{tenant}")
            } else {
                prefix.trim_end_matches('/').to_string()
            };
            for s in segments {
                path.push('/');
                path.push_str(&s);
            }
            if !query.is_empty() {
                path.push('?');
                path.push_str(&query);
            }
            let mut headers: Vec<(String, Vec<u8>)> = extra.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            if let Some(a) = auth {
                headers.push(("Authorization".into(), a));
            }
            if let Some(ct) = content_type {
                headers.push(("Content-Type".into(), ct.into_bytes()));
            }
            Fuzzed { method: method.to_string(), path, headers, body }
        })
}

/// Sends one request through the router and checks the answer.
async fn one(router: App, ids: &[String], f: Fuzzed) -> Result<(), TestCaseError> {
    let id = ids.first().cloned().unwrap_or_default();
    let path = f.path.replace("{ID}", &id);
    let mut builder = Request::builder().method(f.method.as_str()).uri(path.as_str());
    for (k, v) in &f.headers {
        if let Ok(v) = http::HeaderValue::from_bytes(v) {
            builder = builder.header(k.as_str(), v);
        }
    }
    let body = String::from_utf8_lossy(&f.body).replace("{ID}", &id).into_bytes();
    let body = if String::from_utf8(f.body.clone()).is_ok() { body } else { f.body.clone() };
    let Ok(req) = builder.body(Body::from(body)) else {
        // Not a request hyper would hand over (an invalid method or URI): nothing to test.
        return Ok(());
    };
    let response = router.oneshot(req).await.map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
        .await
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    // `/Me` is 501 Not Implemented on purpose (RFC 7644 §3.11); nothing else may be a 5xx.
    let me = status == 501 && path.split(['?', '/']).any(|s| s == "Me");
    prop_assert!(status < 500 || me, "{} {path} → {status}: {}", f.method, String::from_utf8_lossy(&bytes));
    // A HEAD answer has no body by definition.
    if path.starts_with("/scim/") && status >= 400 && f.method != "HEAD" {
        prop_assert_eq!(content_type.as_str(), "application/scim+json", "{} {} → {}", f.method, path, status);
        let body: Value = serde_json::from_slice(&bytes)
            .map_err(|e| TestCaseError::fail(format!("{} {path} → {status}: not JSON ({e})", f.method)))?;
        prop_assert_eq!(&body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
        prop_assert_eq!(&body["status"], &Value::String(status.to_string()));
    }
    Ok(())
}

fn fuzz_router(backend: Backend, cases: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (app, router, ids) = rt.block_on(async {
        let app = TestApp::spawn(backend).await;
        let other = app.tenant_client("other").await;
        let u = app.scim.create_user("fuzz@x.io", serde_json::json!({})).await;
        let g = app.scim.create_group("Fuzzers", &[&u]).await;
        other.create_user("other@x.io", serde_json::json!({})).await;
        let state = AppState::new(
            app.core.clone(),
            HttpConfig {
                public_url: app.public_url.clone(),
                rate_limits: roster_http::ratelimit::RateLimits::UNLIMITED,
                ..Default::default()
            },
        );
        (app, roster_http::app(state), vec![u, g])
    });
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let strategy = request(app.token.clone());
    let result = runner.run(&strategy, |f| rt.block_on(one(router.clone(), &ids, f)));
    if let Err(e) = result {
        panic!("{backend:?}: {e}");
    }
    println!("{backend:?}: {cases} generated requests through the router, no 5xx, SCIM errors throughout");
    rt.block_on(app.stop());
}

#[test]
fn generated_requests_never_get_a_5xx_and_scim_errors_are_scim_json() {
    for backend in backends() {
        // ROSTER_FUZZ_CASES runs longer (e.g. 50000) by hand.
        let scale = std::env::var("ROSTER_FUZZ_CASES").ok().and_then(|s| s.parse().ok());
        let cases = scale.unwrap_or(if backend == Backend::Sqlite { 2000 } else { 800 });
        fuzz_router(backend, cases);
    }
}
