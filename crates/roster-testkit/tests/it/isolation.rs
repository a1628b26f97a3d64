//! Authentication and isolation (issue 10, item 6), beyond `auth` and `admin_api`:
//! - every refused credential gets the same answer, so a guesser learns nothing (whether a
//!   token id exists, whether a tenant exists, whether a token was removed); a disabled or
//!   expired token is named as such only to a caller holding its secret;
//! - a property test: generated request sequences with tenant A's token never return or
//!   change anything of tenant B;
//! - the security headers on the portal, the admin API and SCIM.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use roster_core::audit::Actor;
use roster_core::tenants::Expiry;
use roster_core::{Idp, Store, TokenStatus};
use roster_testkit::body::{self, GROUP, USER};
use roster_testkit::{Backend, Resp, ScimClient, TestApp, backends, each_backend};
use serde_json::{Value, json};

const INVALID: &str = "The bearer token is not valid for this SCIM endpoint";

/// A text without the request ids error details end with (each request has its own).
fn without_request_id(text: &str) -> String {
    let mut out = text.to_string();
    while let Some(start) = out.find(" (request id ") {
        match out[start..].find(')') {
            Some(end) => out.replace_range(start..start + end + 1, ""),
            None => break,
        }
    }
    out
}

fn detail(r: &Resp) -> String {
    without_request_id(r.body["detail"].as_str().unwrap_or_default())
}

async fn with_authorization(scim: &ScimClient, path: &str, values: &[String]) -> Resp {
    let mut rb = scim.with_token(None).request(reqwest::Method::GET, path);
    for v in values {
        rb = rb.header("Authorization", v.as_str());
    }
    ScimClient::send(rb).await
}

#[tokio::test]
async fn every_refused_token_gets_the_same_answer() {
    each_backend(|app| async move {
        let (id, secret) = roster_core::tokens::parse(&app.token).unwrap();
        let other = app.tenant_client("other").await;
        let other_token = other.token.clone().unwrap();
        let removed = app
            .core
            .issue_token(&Actor::system(), "default", Idp::Entra, "gone", Expiry::DEFAULT, &app.public_url)
            .await
            .unwrap();
        let removed_id = roster_core::tokens::parse(&removed.token).unwrap().0.to_string();
        app.core.remove_token(&Actor::system(), "default", &removed_id).await.unwrap();
        let admin_key = app.admin().await.key.unwrap();
        let zeros = "0".repeat(64);
        let cases: Vec<(&str, String, Vec<String>)> = vec![
            ("not a Roster token", app.scim.base.clone(), vec!["Bearer abc".into()]),
            ("an unknown token id", app.scim.base.clone(), vec![format!("Bearer roster_{}_{secret}", "f".repeat(16))]),
            ("the right id, a wrong secret", app.scim.base.clone(), vec![format!("Bearer roster_{id}_{zeros}")]),
            ("another tenant's token", app.scim.base.clone(), vec![format!("Bearer {other_token}")]),
            ("a tenant that does not exist", app.base_url("nowhere"), vec![format!("Bearer {}", app.token)]),
            ("a removed token", app.scim.base.clone(), vec![format!("Bearer {}", removed.token)]),
            ("an admin API key on a write", app.scim.base.clone(), vec![format!("Bearer {admin_key}")]),
            (
                "two Authorization headers",
                app.scim.base.clone(),
                vec![format!("Bearer {}", app.token), "Bearer x".into()],
            ),
        ];
        let mut answers = Vec::new();
        for (name, base, values) in &cases {
            let scim = ScimClient::new(base, None);
            // A write, so read-only credentials (admin keys) are refused too.
            let mut rb = scim.request(reqwest::Method::POST, "/Users").header("Content-Type", "application/scim+json");
            for v in values {
                rb = rb.header("Authorization", v.as_str());
            }
            let r = ScimClient::send(rb.body(body::user("probe@x.io").to_string())).await;
            r.expect_error(401, None);
            assert_eq!(detail(&r), INVALID, "{name}: {}", r.text);
            for leak in [id, removed_id.as_str(), "other", "nowhere", "exist", "removed", "secret", "tenant "] {
                assert!(!r.text.contains(leak), "{name} says {leak:?}: {}", r.text);
            }
            answers.push((without_request_id(&r.text), r.header("www-authenticate").map(str::to_string)));
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "the refusals differ: {answers:#?}");
        // No credential at all, or an empty one: told how to authenticate, nothing more.
        for values in [vec![], vec!["Bearer".to_string()], vec!["Bearer ".to_string()], vec!["".to_string()]] {
            let r = with_authorization(&app.scim, "/Users", &values).await;
            r.expect_error(401, None);
            assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"roster\""), "{values:?}");
        }
        assert_eq!(app.scim.get("/Users").await.body["totalResults"], 0);
    })
    .await;
}

#[tokio::test]
async fn a_disabled_or_expired_token_is_named_only_to_the_holder_of_its_secret() {
    each_backend(|app| async move {
        let (id, _) = roster_core::tokens::parse(&app.token).unwrap();
        let tenant = app.core.tenant("default").await.unwrap();
        app.store.set_token_status(tenant.id, id, TokenStatus::Inactive).await.unwrap();
        let guess = format!("Bearer roster_{id}_{}", "1".repeat(64));
        let r = with_authorization(&app.scim, "/Users", std::slice::from_ref(&guess)).await;
        assert_eq!(detail(&r), INVALID, "{}", r.text);
        let r = app.scim.get("/Users").await;
        assert!(r.body["detail"].as_str().unwrap().contains("disabled"), "{}", r.text);
        app.store.set_token_status(tenant.id, id, TokenStatus::Active).await.unwrap();
        app.clock.advance(time::Duration::days(400));
        let r = with_authorization(&app.scim, "/Users", &[guess]).await;
        assert_eq!(detail(&r), INVALID, "{}", r.text);
        let r = app.scim.get("/Users").await;
        assert!(r.body["detail"].as_str().unwrap().contains("expired"), "{}", r.text);
    })
    .await;
}

#[tokio::test]
async fn admin_api_refusals_say_nothing_specific() {
    each_backend(|app| async move {
        let key = app.admin().await.key.unwrap();
        let (key_id, _) = roster_core::tokens::parse_prefixed(&key, roster_core::tokens::KEY_PREFIX).unwrap();
        let url = format!("{}/admin/api/tenants", app.public_url);
        let mut details = Vec::new();
        for value in [
            None,
            Some("Bearer ".to_string()),
            Some("Bearer nonsense".to_string()),
            Some(format!("Bearer rosterkey_{key_id}_{}", "0".repeat(64))),
            Some(format!("Bearer rosterkey_{}_{}", "a".repeat(16), "0".repeat(64))),
            Some(format!("Basic {key}")),
        ] {
            let mut rb = reqwest::Client::new().get(&url);
            if let Some(v) = &value {
                rb = rb.header("Authorization", v);
            }
            let r = ScimClient::send(rb).await;
            assert_eq!(r.status, 401, "{value:?}: {}", r.text);
            assert!(!r.text.contains(key_id), "{}", r.text);
            details.push(without_request_id(r.body["error"].as_str().unwrap_or_default()));
        }
        assert!(details.windows(2).all(|w| w[0] == w[1]), "{details:#?}");
        // A forged session cookie is refused the same way.
        let r = ScimClient::send(reqwest::Client::new().get(&url).header("Cookie", "roster_session=forged")).await;
        assert_eq!(r.status, 401, "{}", r.text);
    })
    .await;
}

#[tokio::test]
async fn security_headers_are_on_the_portal_the_admin_api_and_scim() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for path in ["/admin/sign-in", "/admin", "/admin/api/tenants"] {
        let r = http.get(format!("{}{path}", app.public_url)).send().await.unwrap();
        let h = r.headers();
        let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let csp = get("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp:?}");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp:?}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{path}: {csp:?}");
        assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(get("x-frame-options"), "DENY", "{path}");
        assert_eq!(get("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(get("cache-control"), "no-store", "{path}");
    }
    // SCIM answers are JSON for machines: no sniffing either.
    let r = app.scim.get("/Users").await;
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    // A token issued through the admin API is not cached by anything on the way.
    let r = app.admin().await.post("/tenants/default/tokens", &json!({"idp": "okta"})).await;
    r.expect(201);
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

/// Tenant B's data, which tenant A's requests must never reach.
#[derive(Debug, Clone)]
struct Victim {
    users: Vec<String>,
    user_names: Vec<String>,
    group: String,
}

/// The marker in B's data that A never sends: if it shows up in an answer to A, B leaked.
const MARKER: &str = "VICTIM-SECRET";

/// A generated request by A, in terms of B's and A's ids.
#[derive(Debug, Clone)]
enum Probe {
    Get { kind: &'static str, target: usize },
    Filter { endpoint: &'static str, filter: usize, target: usize },
    Search { filter: usize, target: usize },
    Patch { kind: &'static str, target: usize, op: usize },
    Put { kind: &'static str, target: usize },
    Delete { kind: &'static str, target: usize },
    CreateGroupWith { target: usize },
    CreateUserNamed { target: usize },
    Bulk { target: usize, op: usize },
    OnTheirUrl { target: usize },
}

fn probe() -> impl Strategy<Value = Probe> {
    let kind = prop_oneof![Just("Users"), Just("Groups")];
    let endpoint = prop_oneof![Just("/Users"), Just("/Groups"), Just("")];
    prop_oneof![
        (kind.clone(), 0..6usize).prop_map(|(kind, target)| Probe::Get { kind, target }),
        (endpoint, 0..8usize, 0..6usize).prop_map(|(endpoint, filter, target)| Probe::Filter {
            endpoint,
            filter,
            target
        }),
        (0..8usize, 0..6usize).prop_map(|(filter, target)| Probe::Search { filter, target }),
        (kind.clone(), 0..6usize, 0..5usize).prop_map(|(kind, target, op)| Probe::Patch { kind, target, op }),
        (kind.clone(), 0..6usize).prop_map(|(kind, target)| Probe::Put { kind, target }),
        (kind, 0..6usize).prop_map(|(kind, target)| Probe::Delete { kind, target }),
        (0..6usize).prop_map(|target| Probe::CreateGroupWith { target }),
        (0..6usize).prop_map(|target| Probe::CreateUserNamed { target }),
        (0..6usize, 0..4usize).prop_map(|(target, op)| Probe::Bulk { target, op }),
        (0..6usize).prop_map(|target| Probe::OnTheirUrl { target }),
    ]
}

/// The ids a probe may aim at: B's users and group, A's own user and group, junk.
fn target(v: &Victim, ours: &[String], i: usize) -> String {
    match i {
        0 | 1 => v.users[i].clone(),
        2 => v.group.clone(),
        3 => ours[0].clone(),
        4 => ours[1].clone(),
        _ => "00000000-0000-0000-0000-000000000000".into(),
    }
}

fn filter_for(v: &Victim, i: usize, id: &str) -> String {
    match i {
        0 => format!("id eq \"{id}\""),
        1 => format!("userName eq \"{}\"", v.user_names[0]),
        2 => "externalId sw \"victim\"".into(),
        3 => format!("members.value eq \"{id}\""),
        4 => format!("groups.value eq \"{}\"", v.group),
        5 => "displayName co \"Victim\"".into(),
        6 => format!("userName eq \"{}\" or id eq \"{id}\"", v.user_names[1]),
        _ => "title pr".into(),
    }
}

async fn run_probe(a: &ScimClient, their_url: &ScimClient, v: &Victim, ours: &[String], p: &Probe) -> Resp {
    match p {
        Probe::Get { kind, target: t } => a.get(&format!("/{kind}/{}", target(v, ours, *t))).await,
        Probe::Filter { endpoint, filter, target: t } => {
            let f = filter_for(v, *filter, &target(v, ours, *t));
            crate::support::filter(a, if endpoint.is_empty() { "/" } else { endpoint }, &f).await
        }
        Probe::Search { filter, target: t } => {
            a.post("/.search", &json!({"filter": filter_for(v, *filter, &target(v, ours, *t))})).await
        }
        Probe::Patch { kind, target: t, op } => {
            let id = target(v, ours, *t);
            let victim_id = &v.users[0];
            let ops = match op {
                0 => json!([{"op": "add", "path": "members", "value": [{"value": victim_id}]}]),
                1 => json!([{"op": "replace", "path": "members", "value": [{"value": victim_id}, {"value": ours[0]}]}]),
                2 => {
                    json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": victim_id}])
                }
                3 => json!([{"op": "replace", "path": "displayName", "value": "hijacked"}]),
                _ => json!([{"op": "remove", "path": format!("members[value eq \"{victim_id}\"]")}]),
            };
            a.patch_ops(&format!("/{kind}/{id}"), ops).await
        }
        Probe::Put { kind, target: t } => {
            let id = target(v, ours, *t);
            let body = if *kind == "Users" {
                json!({"schemas": [USER], "userName": v.user_names[0], "displayName": "hijacked"})
            } else {
                json!({"schemas": [GROUP], "displayName": "Ours", "members": [{"value": v.users[1]}]})
            };
            a.put(&format!("/{kind}/{id}"), &body).await
        }
        Probe::Delete { kind, target: t } => a.delete(&format!("/{kind}/{}", target(v, ours, *t))).await,
        Probe::CreateGroupWith { target: t } => {
            let id = target(v, ours, *t);
            a.post(
                "/Groups",
                &json!({"schemas": [GROUP], "displayName": format!("probe-{t}"), "members": [{"value": id}]}),
            )
            .await
        }
        Probe::CreateUserNamed { target: t } => {
            let name = &v.user_names[t % 2];
            let manager = target(v, ours, *t);
            a.post(
                "/Users",
                &json!({"schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                        "userName": format!("{t}-{name}"),
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": manager}}}),
            )
            .await
        }
        Probe::Bulk { target: t, op } => {
            let id = target(v, ours, *t);
            let operation = match op {
                0 => json!({"method": "DELETE", "path": format!("/Users/{id}")}),
                1 => json!({"method": "PATCH", "path": format!("/Groups/{id}"), "data": {"schemas": [body::PATCH_OP],
                        "Operations": [{"op": "add", "path": "members", "value": [{"value": v.users[0]}]}]}}),
                2 => {
                    json!({"method": "PUT", "path": format!("/Users/{id}"), "data": {"schemas": [USER], "userName": "bulk-hijack"}})
                }
                _ => json!({"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"schemas": [GROUP],
                        "displayName": format!("bulk-{t}"), "members": [{"value": id}]}}),
            };
            a.post(
                "/Bulk",
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [operation]}),
            )
            .await
        }
        Probe::OnTheirUrl { target: t } => their_url.get(&format!("/Users/{}", target(v, ours, *t))).await,
    }
}

/// B as B sees it.
async fn victim_state(b: &ScimClient) -> String {
    let users = b.get("/Users?count=1000").await;
    let groups = b.get("/Groups?count=1000").await;
    format!("{}{}", users.body["Resources"], groups.body["Resources"])
}

/// The ids in a resource's `members` and `groups`.
fn linked_ids(resource: &Value) -> Vec<String> {
    ["members", "groups"]
        .iter()
        .filter_map(|k| resource[k].as_array())
        .flatten()
        .filter_map(|m| m["value"].as_str().map(str::to_string))
        .collect()
}

fn check_answer(v: &Victim, p: &Probe, r: &Resp) -> Result<(), TestCaseError> {
    prop_assert!(r.status < 500, "{p:?} → {}: {}", r.status, r.text);
    // Nothing of B's that A never sends: its display names and titles, its externalIds,
    // its locations.
    prop_assert!(!r.text.contains(MARKER), "{p:?} returned B's data: {}", r.text);
    prop_assert!(!r.text.contains("victim-ext"), "{p:?} returned B's externalId: {}", r.text);
    prop_assert!(!r.text.contains("/scim/v2/victim"), "{p:?} returned a location in B: {}", r.text);
    if (200..300).contains(&r.status) {
        // No resource of B's is served, and no resource served links to one of B's (an id
        // A wrote into one of its own attributes, like a manager reference, is its own data).
        let b_ids: Vec<&String> = v.users.iter().chain([&v.group]).collect();
        let mut served: Vec<Value> = r.body["Resources"].as_array().cloned().unwrap_or_default();
        if r.body.get("id").is_some() {
            served.push(r.body.clone());
        }
        for resource in &served {
            let id = resource["id"].as_str().unwrap_or_default().to_string();
            prop_assert!(!b_ids.contains(&&id), "{p:?} served B's resource {id}: {}", r.text);
            for linked in linked_ids(resource) {
                prop_assert!(!b_ids.contains(&&linked), "{p:?} served a link to B's {linked}: {}", r.text);
            }
        }
        for op in r.body["Operations"].as_array().cloned().unwrap_or_default() {
            let ok = op["status"].as_str().is_some_and(|s| s.starts_with('2'));
            let location = op["location"].as_str().unwrap_or_default();
            prop_assert!(
                !(ok && b_ids.iter().any(|id| location.contains(id.as_str()))),
                "{p:?} bulk reached B: {}",
                r.text
            );
        }
    }
    if let Probe::OnTheirUrl { .. } = p {
        prop_assert_eq!(r.status, 401);
    }
    Ok(())
}

fn isolation_property(backend: Backend, cases: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (app, b, victim, ours) = rt.block_on(async {
        let app = TestApp::spawn(backend).await;
        let b = app.tenant_client("victim").await;
        let mut users = Vec::new();
        let mut user_names = Vec::new();
        for i in 0..2 {
            let name = format!("shared{i}@example.com");
            users.push(
                b.create_user(
                    &name,
                    json!({"externalId": format!("victim-ext-{i}"), "displayName": format!("Victim {MARKER}-{i}"),
                    "title": format!("{MARKER} title")}),
                )
                .await,
            );
            user_names.push(name);
        }
        let group = b.create_group(&format!("Victim group {MARKER}"), &[&users[0], &users[1]]).await;
        let our_user = app.scim.create_user("ours@example.com", json!({"title": "ours"})).await;
        let our_group = app.scim.create_group("Ours", &[&our_user]).await;
        (app, b, Victim { users, user_names, group }, vec![our_user, our_group])
    });
    let before = rt.block_on(victim_state(&b));
    let their_url = ScimClient::new(&app.base_url("victim"), Some(&app.token));
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let result = runner.run(&prop::collection::vec(probe(), 1..4), |probes| {
        rt.block_on(async {
            for p in &probes {
                let r = run_probe(&app.scim, &their_url, &victim, &ours, p).await;
                check_answer(&victim, p, &r)?;
            }
            let after = victim_state(&b).await;
            prop_assert!(after == before, "{probes:?} changed tenant B");
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{backend:?}: {e}");
    }
    // Whatever A did, none of A's groups holds one of B's users.
    rt.block_on(async {
        let groups = app.scim.get("/Groups?count=1000").await;
        for id in victim.users.iter().chain([&victim.group]) {
            assert!(!groups.text.contains(id.as_str()), "one of A's groups holds B's {id}: {}", groups.text);
        }
        println!("{backend:?}: {cases} generated probe sequences by tenant A; tenant B untouched and unseen");
        app.stop().await;
    });
}

#[test]
fn no_request_with_one_tenants_token_returns_or_changes_another_tenants_data() {
    for backend in backends() {
        // PROPTEST_CASES runs longer by hand.
        let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok());
        isolation_property(backend, cases.unwrap_or(if backend == Backend::Sqlite { 120 } else { 50 }));
    }
}
