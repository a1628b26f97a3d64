//! Access to the admin JSON API under `/admin/api` (issue 4): sign-in with a session cookie
//! (HttpOnly, SameSite=Strict) and an `X-CSRF-Token` header on changes, sign-out, the per-IP
//! sign-in rate limit, admin API keys (read-only and tenant-scoped ones), the separation of
//! SCIM tokens and admin credentials, and the OpenAPI document.

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use roster_core::audit::Actor;
use roster_core::store::KeyScope;
use roster_testkit::body;
use roster_testkit::{AdminClient, Resp, ScimClient, TestApp, each_backend};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

fn url(app: &TestApp, path: &str) -> String {
    format!("{}/admin/api{path}", app.public_url)
}

async fn send(rb: reqwest::RequestBuilder) -> Resp {
    ScimClient::send(rb).await
}

async fn sign_in(app: &TestApp, username: &str, password: &str) -> Resp {
    send(reqwest::Client::new().post(url(app, "/session")).json(&json!({"username": username, "password": password})))
        .await
}

/// A signed-in administrator: the `name=value` cookie pair and the CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn signed_in(app: &TestApp, username: &str) -> Session {
    let r = sign_in(app, username, PASSWORD).await;
    r.expect(200);
    let set_cookie = r.header("set-cookie").expect("Set-Cookie");
    Session {
        cookie: set_cookie.split(';').next().unwrap().trim().to_string(),
        csrf: r.body["csrf"].as_str().unwrap().to_string(),
    }
}

impl Session {
    fn request(&self, app: &TestApp, method: reqwest::Method, path: &str, csrf: bool) -> reqwest::RequestBuilder {
        let rb = reqwest::Client::new().request(method, url(app, path)).header("Cookie", &self.cookie);
        if csrf { rb.header("X-CSRF-Token", &self.csrf) } else { rb }
    }
}

/// An admin API client with a key of this scope, limited to `tenant` if given.
async fn key_client(app: &TestApp, tenant: Option<&str>, scope: KeyScope) -> AdminClient {
    let key = app.core.create_api_key(&Actor::system(), "scoped", tenant, scope).await.unwrap();
    let mut admin = app.admin().await;
    admin.key = Some(key.key);
    admin
}

#[tokio::test]
async fn sign_in_sets_an_http_only_strict_cookie_and_changes_need_the_csrf_header() {
    each_backend(|app| async move {
        app.core.create_admin(&Actor::system(), "alice", PASSWORD).await.unwrap();
        let r = sign_in(&app, "alice", PASSWORD).await;
        r.expect(200);
        assert_eq!(r.body["username"], "alice");
        let csrf = r.body["csrf"].as_str().unwrap().to_string();
        assert!(csrf.len() >= 16, "{}", r.text);
        assert!(r.body["expires_at"].is_string(), "{}", r.text);
        let set_cookie = r.header("set-cookie").expect("Set-Cookie").to_string();
        let attributes: Vec<String> = set_cookie.split(';').map(|a| a.trim().to_ascii_lowercase()).collect();
        assert!(attributes[0].starts_with("roster_session="), "{set_cookie}");
        assert!(attributes.iter().any(|a| a == "httponly"), "{set_cookie}");
        assert!(attributes.iter().any(|a| a == "samesite=strict"), "{set_cookie}");
        assert!(attributes.iter().any(|a| a == "path=/admin"), "{set_cookie}");
        assert!(attributes.iter().any(|a| a.starts_with("max-age=")), "{set_cookie}");
        // The cookie value is not in the body (scripts never see it).
        let value = set_cookie.split(';').next().unwrap().split_once('=').unwrap().1;
        assert!(!r.text.contains(value));
        let session = Session { cookie: set_cookie.split(';').next().unwrap().to_string(), csrf };

        // Reads need only the cookie.
        let me = send(session.request(&app, reqwest::Method::GET, "/me", false)).await;
        me.expect(200);
        assert_eq!(me.body["kind"], "admin");
        assert_eq!(me.body["name"], "alice");
        assert_eq!(me.body["csrf"], session.csrf.as_str());
        send(session.request(&app, reqwest::Method::GET, "/tenants", false)).await.expect(200);

        // Changes without the CSRF header, or with a wrong one, are 403 and change nothing.
        let create =
            |csrf: bool| session.request(&app, reqwest::Method::POST, "/tenants", csrf).json(&json!({"slug": "acme"}));
        let r = send(create(false)).await;
        r.expect(403);
        assert!(r.body["error"].as_str().unwrap().contains("X-CSRF-Token"), "{}", r.text);
        let r = send(create(false).header("X-CSRF-Token", "0".repeat(32))).await;
        r.expect(403);
        let r = send(
            session
                .request(&app, reqwest::Method::POST, "/tenants/default/tokens", false)
                .json(&json!({"idp": "okta"})),
        )
        .await;
        r.expect(403);
        app.core.tenant("acme").await.expect_err("no tenant was created");
        assert_eq!(app.core.list_tokens("default").await.unwrap().len(), 1);

        // With it, the change goes through.
        let r = send(create(true)).await;
        r.expect(201);
        assert_eq!(r.body["slug"], "acme");
        assert_eq!(r.body["target_url"], app.base_url("acme"));
        // A bad or missing cookie is 401.
        let r = send(reqwest::Client::new().get(url(&app, "/me")).header("Cookie", "roster_session=abc")).await;
        r.expect(401);
        let r = send(reqwest::Client::new().get(url(&app, "/me"))).await;
        r.expect(401);
        assert!(r.body["error"].as_str().unwrap().contains("API key"), "{}", r.text);
    })
    .await;
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    each_backend(|app| async move {
        app.core.create_admin(&Actor::system(), "alice", PASSWORD).await.unwrap();
        let session = signed_in(&app, "alice").await;
        let other = signed_in(&app, "alice").await;
        // Signing out is a change: it needs the CSRF header too.
        send(session.request(&app, reqwest::Method::DELETE, "/session", false)).await.expect(403);
        send(session.request(&app, reqwest::Method::GET, "/me", false)).await.expect(200);

        let r = send(session.request(&app, reqwest::Method::DELETE, "/session", true)).await;
        r.expect(204);
        let cleared = r.header("set-cookie").expect("Set-Cookie clears the cookie").to_ascii_lowercase();
        assert!(cleared.contains("roster_session=;") && cleared.contains("max-age=0"), "{cleared}");
        send(session.request(&app, reqwest::Method::GET, "/me", false)).await.expect(401);
        // Other sessions are separate.
        send(other.request(&app, reqwest::Method::GET, "/me", false)).await.expect(200);

        let admin = app.admin().await;
        let r = admin.get("/audit?event=admin.signed_out").await;
        r.expect(200);
        assert_eq!(r.body["events"].as_array().unwrap().len(), 1);
        assert_eq!(r.body["events"][0]["actor"], json!({"kind": "admin", "name": "alice"}));

        // A new password ends every session.
        app.core.set_admin_password(&Actor::system(), "alice", "another long password").await.unwrap();
        send(other.request(&app, reqwest::Method::GET, "/me", false)).await.expect(401);
        sign_in(&app, "alice", PASSWORD).await.expect(401);
        let fresh = sign_in(&app, "alice", "another long password").await;
        fresh.expect(200);
        assert!(fresh.header("set-cookie").unwrap().contains("Max-Age=43200"), "{:?}", fresh.header("set-cookie"));
        let fresh = Session {
            cookie: fresh.header("set-cookie").unwrap().split(';').next().unwrap().to_string(),
            csrf: fresh.body["csrf"].as_str().unwrap().to_string(),
        };
        // Sessions last 12 hours.
        app.clock.advance(time::Duration::hours(11));
        send(fresh.request(&app, reqwest::Method::GET, "/me", false)).await.expect(200);
        app.clock.advance(time::Duration::hours(1));
        send(fresh.request(&app, reqwest::Method::GET, "/me", false)).await.expect(401);
    })
    .await;
}

#[tokio::test]
async fn a_failed_sign_in_does_not_say_whether_the_username_exists() {
    each_backend(|app| async move {
        app.core.create_admin(&Actor::system(), "alice", PASSWORD).await.unwrap();
        let wrong_password = sign_in(&app, "alice", "not the password").await;
        let no_such_user = sign_in(&app, "nobody", "not the password").await;
        wrong_password.expect(401);
        no_such_user.expect(401);
        // Identical but for the request id every error body carries.
        assert_eq!(without_request_id(&wrong_password.body), without_request_id(&no_such_user.body));
        assert!(wrong_password.header("set-cookie").is_none());
    })
    .await;
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_address_with_retry_after() {
    each_backend(|app| async move {
        app.core.create_admin(&Actor::system(), "alice", PASSWORD).await.unwrap();
        // A burst of guesses at once: the limit (10 a minute) is checked before any password is,
        // so refusals come back while the checked guesses are still hashing.
        let mut pending: FuturesUnordered<_> = (0..20).map(|_| sign_in(&app, "alice", "guessing passwords")).collect();
        let mut responses = Vec::new();
        let mut right = None;
        while let Some(r) = pending.next().await {
            if r.status == 429 && right.is_none() {
                // The quota is used up: even the right password is refused now.
                right = Some(sign_in(&app, "alice", PASSWORD).await);
            }
            responses.push(r);
        }
        let right = right.expect("some guesses were refused");
        right.expect(429);
        assert!(right.header("retry-after").is_some());
        assert!(right.header("set-cookie").is_none());
        let refused: Vec<&Resp> = responses.iter().filter(|r| r.status == 429).collect();
        let failed = responses.iter().filter(|r| r.status == 401).count();
        assert_eq!(refused.len() + failed, 20, "{:?}", responses.iter().map(|r| r.status).collect::<Vec<_>>());
        assert!(failed >= 10 && !refused.is_empty(), "{failed} checked, {} refused", refused.len());
        for r in &refused {
            let wait: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
            assert_eq!(r.body["status"], 429);
            assert!(r.body["error"].as_str().unwrap().contains("too many"), "{}", r.text);
            assert!(r.header("set-cookie").is_none());
        }
        // Refused attempts never reach the password check, so only checked ones are audited.
        let admin = app.admin().await;
        let r = admin.get("/audit?event=admin.sign_in_failed&limit=1000").await;
        assert_eq!(r.body["events"].as_array().unwrap().len(), failed);
        assert_eq!(admin.get("/audit?event=admin.signed_in").await.body["events"], json!([]));
        // API keys are not affected by the sign-in limit.
        admin.get("/tenants").await.expect(200);
    })
    .await;
}

#[tokio::test]
async fn scim_tokens_are_refused_on_the_admin_api() {
    each_backend(|app| async move {
        let scim_token = AdminClient { key: Some(app.token.clone()), ..app.admin().await };
        for r in [
            scim_token.get("/tenants").await,
            scim_token.get("/tenants/default/tokens").await,
            scim_token.post("/tenants/default/tokens", &json!({"idp": "okta"})).await,
            scim_token.get("/me").await,
        ] {
            assert!(r.status == 401 || r.status == 403, "{}: {}", r.status, r.text);
            assert!(r.body["error"].as_str().unwrap().contains("API key"), "{}", r.text);
        }
        assert_eq!(app.core.list_tokens("default").await.unwrap().len(), 1);
        // A forged key (right shape, unknown id) is 401.
        let forged =
            AdminClient { key: Some(format!("rosterkey_{}_{}", "0".repeat(16), "1".repeat(64))), ..app.admin().await };
        forged.get("/tenants").await.expect(401);
    })
    .await;
}

#[tokio::test]
async fn admin_credentials_are_not_scim_tokens() {
    each_backend(|app| async move {
        let user = app.scim.create_user("existing@x.io", json!({})).await;
        let full = app.admin().await;
        let read = key_client(&app, None, KeyScope::Read).await;
        let scoped = key_client(&app, Some("default"), KeyScope::Admin).await;
        app.core.create_admin(&Actor::system(), "alice", PASSWORD).await.unwrap();
        let session = signed_in(&app, "alice").await;

        // Admin-scope keys are no SCIM credential (401); a read-scope key reads SCIM (issue 12)
        // but lacks the scope to write (403, RFC 6750 §3.1).
        let keys =
            [(full.key.clone().unwrap(), 401), (read.key.clone().unwrap(), 403), (scoped.key.clone().unwrap(), 401)];
        for (key, status) in keys {
            let scim = app.scim.with_token(Some(&key));
            scim.post("/Users", &body::user("intruder@x.io")).await.expect_error(status, None);
            scim.put(&format!("/Users/{user}"), &body::user("existing@x.io")).await.expect_error(status, None);
            scim.patch_ops(&format!("/Users/{user}"), json!([{"op": "replace", "path": "active", "value": false}]))
                .await
                .expect_error(status, None);
            scim.delete(&format!("/Users/{user}")).await.expect_error(status, None);
            scim.post("/Bulk", &json!({"Operations": [{"method": "DELETE", "path": format!("/Users/{user}")}]}))
                .await
                .expect_error(status, None);
        }
        // An installation-wide admin key does not read SCIM data either.
        app.scim.with_token(full.key.as_deref()).get("/Users").await.expect_error(401, None);
        // Nor does the session cookie.
        let r = send(
            reqwest::Client::new()
                .post(format!("{}/Users", app.scim.base))
                .header("Cookie", &session.cookie)
                .header("X-CSRF-Token", &session.csrf)
                .header("Content-Type", "application/scim+json")
                .body(body::user("cookie@x.io").to_string()),
        )
        .await;
        r.expect_error(401, None);

        let u = app.scim.get(&format!("/Users/{user}")).await;
        u.expect(200);
        assert_eq!(u.header("etag"), Some("W/\"1\""));
        assert_eq!(app.scim.get("/Users").await.body["totalResults"], 1);
    })
    .await;
}

#[tokio::test]
async fn read_only_keys_read_but_get_403_on_changes() {
    each_backend(|app| async move {
        let read = key_client(&app, None, KeyScope::Read).await;
        read.get("/tenants").await.expect(200);
        read.get("/tenants/default/tokens").await.expect(200);
        read.get("/tenants/default/audit").await.expect(200);
        read.get("/tenants/default/provisioning-log").await.expect(200);
        read.get("/tenants/default/attributes").await.expect(200);
        let me = read.get("/me").await;
        me.expect(200);
        assert_eq!(me.body["kind"], "api_key");

        let token_id = app.core.list_tokens("default").await.unwrap()[0].id.clone();
        for r in [
            read.post("/tenants", &json!({"slug": "acme"})).await,
            read.post("/tenants/default/tokens", &json!({"idp": "okta"})).await,
            read.post(&format!("/tenants/default/tokens/{token_id}/disable"), &json!({})).await,
            read.post(&format!("/tenants/default/tokens/{token_id}/renew"), &json!({})).await,
            read.delete(&format!("/tenants/default/tokens/{token_id}")).await,
            read.patch("/tenants/default/settings", &json!({"max_tokens": 5})).await,
            read.post("/tenants/default/attributes", &json!({"name": "badge", "type": "string"})).await,
        ] {
            r.expect(403);
            assert!(r.body["error"].as_str().unwrap().contains("read-only"), "{}", r.text);
        }
        // Nothing changed.
        let tokens = app.core.list_tokens("default").await.unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].status, "active");
        app.scim.get("/Users").await.expect(200);
        assert!(app.core.tenant("acme").await.is_err());
        assert_eq!(app.core.tenant("default").await.unwrap().settings.max_tokens, 2);
        assert!(app.core.custom_schema("default").await.unwrap().attributes.is_empty());
    })
    .await;
}

#[tokio::test]
async fn tenant_scoped_keys_cannot_see_other_tenants() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        admin.post("/tenants", &json!({"slug": "acme"})).await.expect(201);
        let r = admin.post("/tenants/acme/tokens", &json!({"idp": "okta"})).await;
        r.expect(201);
        let acme_token = r.body["id"].as_str().unwrap().to_string();
        let default_token = app.core.list_tokens("default").await.unwrap()[0].id.clone();

        let scoped = key_client(&app, Some("acme"), KeyScope::Admin).await;
        // Its own tenant: full access.
        let tenants = scoped.get("/tenants").await;
        tenants.expect(200);
        let slugs: Vec<&str> = tenants.body.as_array().unwrap().iter().map(|t| t["slug"].as_str().unwrap()).collect();
        assert_eq!(slugs, ["acme"]);
        scoped.get("/tenants/acme/tokens").await.expect(200);
        scoped.post(&format!("/tenants/acme/tokens/{acme_token}/disable"), &json!({})).await.expect(200);

        // Another tenant looks like it does not exist.
        for r in [
            scoped.get("/tenants/default").await,
            scoped.get("/tenants/default/tokens").await,
            scoped.get("/tenants/default/audit").await,
            scoped.get("/tenants/default/provisioning-log").await,
            scoped.get("/tenants/default/attributes").await,
            scoped.post("/tenants/default/tokens", &json!({"idp": "okta"})).await,
            scoped.post(&format!("/tenants/default/tokens/{default_token}/disable"), &json!({})).await,
            scoped.delete(&format!("/tenants/default/tokens/{default_token}")).await,
            scoped.patch("/tenants/default/settings", &json!({"max_tokens": 5})).await,
        ] {
            r.expect(404);
            assert_eq!(without_request_id(&r.body), json!({"error": "no tenant \"default\"", "status": 404}));
        }
        // ... exactly as a tenant that does not exist.
        let unknown = scoped.get("/tenants/no-such-tenant").await;
        unknown.expect(404);
        assert_eq!(without_request_id(&unknown.body), json!({"error": "no tenant \"no-such-tenant\"", "status": 404}));
        // Installation-wide things are refused.
        scoped.get("/audit").await.expect(403);
        scoped.post("/tenants", &json!({"slug": "mine"})).await.expect(403);
        app.scim.get("/Users").await.expect(200);
        assert_eq!(app.core.list_tokens("default").await.unwrap()[0].status, "active");
    })
    .await;
}

#[tokio::test]
async fn the_openapi_document_is_json_with_the_admin_paths() {
    each_backend(|app| async move {
        let r = send(reqwest::Client::new().get(url(&app, "/openapi.json"))).await;
        r.expect(200);
        assert!(r.header("content-type").unwrap().starts_with("application/json"));
        let doc: Value = serde_json::from_str(&r.text).expect("valid JSON");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
        assert!(doc["info"]["title"].is_string());
        let paths = doc["paths"].as_object().unwrap();
        for (path, methods) in [
            ("/admin/api/session", &["post", "delete"][..]),
            ("/admin/api/me", &["get"]),
            ("/admin/api/tenants", &["get", "post"]),
            ("/admin/api/tenants/{tenant}", &["get"]),
            ("/admin/api/tenants/{tenant}/tokens", &["get", "post"]),
            ("/admin/api/tenants/{tenant}/tokens/{id}", &["delete"]),
            ("/admin/api/tenants/{tenant}/tokens/{id}/enable", &["post"]),
            ("/admin/api/tenants/{tenant}/tokens/{id}/disable", &["post"]),
            ("/admin/api/tenants/{tenant}/tokens/{id}/renew", &["post"]),
            ("/admin/api/tenants/{tenant}/settings", &["patch"]),
            ("/admin/api/tenants/{tenant}/attributes", &["get", "post"]),
            ("/admin/api/tenants/{tenant}/attributes/{name}", &["delete"]),
            ("/admin/api/tenants/{tenant}/audit", &["get"]),
            ("/admin/api/audit", &["get"]),
            ("/admin/api/tenants/{tenant}/provisioning-log", &["get"]),
        ] {
            let item = paths.get(path).unwrap_or_else(|| panic!("{path} missing from {:?}", paths.keys()));
            for m in methods {
                assert!(item.get(*m).is_some(), "{m} {path} missing");
            }
        }
        // Every `$ref` resolves to a component schema.
        let text = r.text.clone();
        let schemas = doc["components"]["schemas"].as_object().cloned().unwrap_or_default();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "dangling $ref to {name}");
        }
        for name in ["IssuedToken", "TokenView", "AuditRecord"] {
            assert!(schemas.contains_key(name), "{name} missing from components");
        }
        // Unknown admin API endpoints are a JSON 404, not a page.
        let admin = app.admin().await;
        let r = admin.get("/no-such-thing").await;
        r.expect(404);
        assert!(r.body["error"].is_string(), "{}", r.text);
    })
    .await;
}

/// An admin API error body without its `request_id` (which differs per request; see ops.rs).
fn without_request_id(body: &serde_json::Value) -> serde_json::Value {
    let mut body = body.clone();
    if let Some(o) = body.as_object_mut() {
        assert!(o.remove("request_id").is_some_and(|id| id.is_string()), "no request_id in {body:?}");
    }
    body
}
