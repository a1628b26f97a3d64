//! The SCIM token lifecycle through the admin API (issue 4): create (secret shown once, the
//! target URL, the expiry), the per-tenant limit (also under concurrent creates), disable and
//! enable, renew (the old secret stops at once), remove (the slot is free), expiry,
//! `last_used_at`, a list that never shows a secret, and bad input that writes nothing.

use futures_util::future::join_all;
use roster_core::Clock;
use roster_testkit::{AdminClient, Resp, ScimClient, TestApp, each_backend};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Creates the tenant `slug` through the admin API (it starts with no tokens).
async fn new_tenant(admin: &AdminClient, slug: &str) {
    admin.post("/tenants", &json!({"slug": slug})).await.expect(201);
}

async fn create(admin: &AdminClient, tenant: &str, body: Value) -> Resp {
    admin.post(&format!("/tenants/{tenant}/tokens"), &body).await
}

/// Creates a token and returns (id, secret text).
async fn issue(admin: &AdminClient, tenant: &str, idp: &str) -> (String, String) {
    let r = create(admin, tenant, json!({"idp": idp})).await;
    r.expect(201);
    (r.body["id"].as_str().unwrap().to_string(), r.body["token"].as_str().unwrap().to_string())
}

async fn list(admin: &AdminClient, tenant: &str) -> Vec<Value> {
    let r = admin.get(&format!("/tenants/{tenant}/tokens")).await;
    r.expect(200);
    r.body.as_array().unwrap_or_else(|| panic!("not a list: {}", r.text)).clone()
}

fn listed<'a>(tokens: &'a [Value], id: &str) -> &'a Value {
    tokens.iter().find(|t| t["id"] == id).unwrap_or_else(|| panic!("token {id} not listed in {tokens:?}"))
}

async fn audit(admin: &AdminClient, tenant: &str) -> Vec<Value> {
    let r = admin.get(&format!("/tenants/{tenant}/audit?limit=1000")).await;
    r.expect(200);
    r.body["events"].as_array().unwrap().clone()
}

fn client(app: &TestApp, tenant: &str, token: &str) -> ScimClient {
    ScimClient::new(&app.base_url(tenant), Some(token))
}

fn time_of(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")), &Rfc3339).unwrap()
}

#[track_caller]
fn expect_401_saying(r: &Resp, word: &str) {
    r.expect_error(401, None);
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(word), "detail should say {word:?}: {}", r.text);
}

#[tokio::test]
async fn create_returns_201_with_the_secret_once_the_target_url_and_the_expiry() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        new_tenant(&admin, "acme").await;
        let r = create(&admin, "acme", json!({"idp": "okta", "name": "Okta production"})).await;
        r.expect(201);
        let keys: Vec<&str> = r.body.as_object().unwrap().keys().map(String::as_str).collect();
        for k in ["id", "token", "target_url", "idp", "status", "expires_at"] {
            assert!(keys.contains(&k), "{k} missing: {}", r.text);
        }
        let id = r.body["id"].as_str().unwrap();
        let token = r.body["token"].as_str().unwrap();
        assert!(token.starts_with(&format!("roster_{id}_")), "{token}");
        assert_eq!(r.body["target_url"], app.base_url("acme"));
        assert_eq!(r.body["idp"], "okta");
        assert_eq!(r.body["status"], "active");
        // The default expiry is one year.
        assert_eq!(time_of(&r.body["expires_at"]), app.clock.now() + time::Duration::days(365));

        // The pair works as an IdP would use it: the target URL plus the bearer token.
        let scim = ScimClient::new(r.body["target_url"].as_str().unwrap(), Some(token));
        scim.get("/Users").await.expect(200);
        // ... only on its own tenant.
        client(&app, "default", token).get("/Users").await.expect_error(401, None);

        // Listed with its IdP, name and status, without the secret.
        let tokens = list(&admin, "acme").await;
        assert_eq!(tokens.len(), 1);
        let t = listed(&tokens, id);
        assert_eq!(t["idp"], "okta");
        assert_eq!(t["idp_name"], "Okta");
        assert_eq!(t["name"], "Okta production");
        assert_eq!(t["status"], "active");
        assert_eq!(time_of(&t["created_at"]), app.clock.now());
        let secret = token.rsplit('_').next().unwrap();
        assert!(!serde_json::to_string(&tokens).unwrap().contains(secret));

        // Every IdP name is accepted (aliases too), in any case.
        new_tenant(&admin, "idps").await;
        let patched = admin.patch("/tenants/idps/settings", &json!({"max_tokens": 10})).await;
        patched.expect(200);
        for (idp, canonical) in [
            ("entra", "entra"),
            ("OneLogin", "onelogin"),
            ("pingone", "pingone"),
            ("jumpcloud", "jumpcloud"),
            ("google", "google"),
            ("other", "other"),
            ("azuread", "entra"),
        ] {
            let r = create(&admin, "idps", json!({"idp": idp})).await;
            r.expect(201);
            assert_eq!(r.body["idp"], canonical, "{idp}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_third_token_is_refused_with_a_message_that_says_how_to_free_a_slot() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        new_tenant(&admin, "acme").await;
        let (first, _) = issue(&admin, "acme", "okta").await;
        issue(&admin, "acme", "entra").await;
        // Inactive tokens count too.
        admin.post(&format!("/tenants/acme/tokens/{first}/disable"), &json!({})).await.expect(200);
        let before = audit(&admin, "acme").await.len();

        let r = create(&admin, "acme", json!({"idp": "okta"})).await;
        r.expect(409);
        let message = r.body["error"].as_str().unwrap();
        assert!(message.contains('2'), "{message}");
        assert!(message.contains("remove"), "{message}");
        assert!(message.contains("slot"), "{message}");
        assert_eq!(r.body["status"], 409);
        // Nothing was written: no token, no audit row.
        assert_eq!(list(&admin, "acme").await.len(), 2);
        assert_eq!(audit(&admin, "acme").await.len(), before);

        // The default tenant (which has the test's own token) has a slot of its own.
        issue(&admin, "default", "google").await;
        create(&admin, "default", json!({"idp": "google"})).await.expect(409);

        // The limit is a setting.
        admin.patch("/tenants/acme/settings", &json!({"max_tokens": 3})).await.expect(200);
        issue(&admin, "acme", "okta").await;
        create(&admin, "acme", json!({"idp": "okta"})).await.expect(409);
        assert_eq!(list(&admin, "acme").await.len(), 3);
    })
    .await;
}

#[tokio::test]
async fn ten_concurrent_creates_leave_exactly_two_tokens() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        new_tenant(&admin, "acme").await;
        let requests = (0..10).map(|i| {
            let admin = admin.clone();
            async move { create(&admin, "acme", json!({"idp": "okta", "name": format!("racer {i}")})).await }
        });
        let responses = join_all(requests).await;
        let created = responses.iter().filter(|r| r.status == 201).count();
        let refused = responses.iter().filter(|r| r.status == 409).count();
        assert_eq!((created, refused), (2, 8), "{:?}", responses.iter().map(|r| &r.text).collect::<Vec<_>>());
        assert_eq!(list(&admin, "acme").await.len(), 2);
        let created_rows = audit(&admin, "acme").await.iter().filter(|e| e["event"] == "scim_token.created").count();
        assert_eq!(created_rows, 2);
        // Both winners work.
        for r in responses.iter().filter(|r| r.status == 201) {
            client(&app, "acme", r.body["token"].as_str().unwrap()).get("/Users").await.expect(200);
        }
    })
    .await;
}

#[tokio::test]
async fn a_disabled_token_is_refused_until_it_is_enabled_again() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        new_tenant(&admin, "acme").await;
        let (id, token) = issue(&admin, "acme", "entra").await;
        let scim = client(&app, "acme", &token);
        scim.get("/Users").await.expect(200);

        let r = admin.post(&format!("/tenants/acme/tokens/{id}/disable"), &json!({})).await;
        r.expect(200);
        assert_eq!(r.body["status"], "inactive");
        assert_eq!(r.body["id"], id.as_str());
        assert!(r.body.get("token").is_none(), "{}", r.text);
        expect_401_saying(&scim.get("/Users").await, "disabled");
        expect_401_saying(&scim.post("/Users", &roster_testkit::body::user("a@x.io")).await, "disabled");
        assert_eq!(listed(&list(&admin, "acme").await, &id)["status"], "inactive");
        // Disabling twice is harmless.
        admin.post(&format!("/tenants/acme/tokens/{id}/disable"), &json!({})).await.expect(200);

        let r = admin.post(&format!("/tenants/acme/tokens/{id}/enable"), &json!({})).await;
        r.expect(200);
        assert_eq!(r.body["status"], "active");
        scim.get("/Users").await.expect(200);
        // Nothing the disabled token sent was stored.
        assert_eq!(scim.get("/Users").await.body["totalResults"], 0);
        assert_eq!(listed(&list(&admin, "acme").await, &id)["status"], "active");
    })
    .await;
}

#[tokio::test]
async fn renew_gives_a_new_secret_and_expiry_and_the_old_secret_stops_at_once() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        new_tenant(&admin, "acme").await;
        let (id, old) = issue(&admin, "acme", "okta").await;
        client(&app, "acme", &old).get("/Users").await.expect(200);
        let print_before = listed(&list(&admin, "acme").await, &id)["fingerprint"].clone();

        app.clock.advance(time::Duration::days(10));
        let r = admin.post(&format!("/tenants/acme/tokens/{id}/renew"), &json!({"expires_in": "30d"})).await;
        r.expect(200);
        assert_eq!(r.body["id"], id.as_str());
        assert_eq!(r.body["target_url"], app.base_url("acme"));
        assert_eq!(r.body["idp"], "okta");
        assert_eq!(time_of(&r.body["expires_at"]), app.clock.now() + time::Duration::days(30));
        let new = r.body["token"].as_str().unwrap().to_string();
        assert_ne!(new, old);
        assert!(new.starts_with(&format!("roster_{id}_")), "{new}");

        expect_401_saying(&client(&app, "acme", &old).get("/Users").await, "not valid");
        client(&app, "acme", &new).get("/Users").await.expect(200);

        // Same record: still one token, a new fingerprint, the new expiry.
        let tokens = list(&admin, "acme").await;
        assert_eq!(tokens.len(), 1);
        let t = listed(&tokens, &id);
        assert_ne!(t["fingerprint"], print_before);
        assert_eq!(time_of(&t["expires_at"]), app.clock.now() + time::Duration::days(30));

        // Renewing without a body uses the default (a year); `never` is allowed.
        let r = admin.request(reqwest::Method::POST, &format!("/tenants/acme/tokens/{id}/renew")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(time_of(&body["expires_at"]), app.clock.now() + time::Duration::days(365));
        let r = admin.post(&format!("/tenants/acme/tokens/{id}/renew"), &json!({"expires_in": "never"})).await;
        r.expect(200);
        assert!(r.body["expires_at"].is_null(), "{}", r.text);
        // Only the newest secret works.
        client(&app, "acme", &new).get("/Users").await.expect_error(401, None);
        client(&app, "acme", body["token"].as_str().unwrap()).get("/Users").await.expect_error(401, None);
        client(&app, "acme", r.body["token"].as_str().unwrap()).get("/Users").await.expect(200);
    })
    .await;
}

#[tokio::test]
async fn a_removed_token_is_refused_and_its_slot_is_free() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        new_tenant(&admin, "acme").await;
        let (first, first_token) = issue(&admin, "acme", "okta").await;
        let (_, second_token) = issue(&admin, "acme", "okta").await;
        create(&admin, "acme", json!({"idp": "okta"})).await.expect(409);

        let r = admin.delete(&format!("/tenants/acme/tokens/{first}")).await;
        r.expect(204);
        client(&app, "acme", &first_token).get("/Users").await.expect_error(401, None);
        client(&app, "acme", &second_token).get("/Users").await.expect(200);
        let tokens = list(&admin, "acme").await;
        assert_eq!(tokens.len(), 1);
        assert!(tokens.iter().all(|t| t["id"] != first.as_str()));
        // Gone: a second remove (or any change) is 404.
        admin.delete(&format!("/tenants/acme/tokens/{first}")).await.expect(404);
        admin.post(&format!("/tenants/acme/tokens/{first}/enable"), &json!({})).await.expect(404);

        // The slot is free again.
        let (_, third_token) = issue(&admin, "acme", "entra").await;
        client(&app, "acme", &third_token).get("/Users").await.expect(200);
        assert_eq!(list(&admin, "acme").await.len(), 2);
    })
    .await;
}

#[tokio::test]
async fn an_expired_token_is_refused_with_a_detail_that_says_so() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        new_tenant(&admin, "acme").await;
        let r = create(&admin, "acme", json!({"idp": "okta", "expires_in": "1h"})).await;
        r.expect(201);
        assert_eq!(time_of(&r.body["expires_at"]), app.clock.now() + time::Duration::hours(1));
        let (id, token) = (r.body["id"].as_str().unwrap().to_string(), r.body["token"].as_str().unwrap().to_string());
        let scim = client(&app, "acme", &token);

        app.clock.advance(time::Duration::minutes(59));
        scim.get("/Users").await.expect(200);
        assert_eq!(listed(&list(&admin, "acme").await, &id)["status"], "active");
        app.clock.advance(time::Duration::minutes(1));
        expect_401_saying(&scim.get("/Users").await, "expired");
        expect_401_saying(&scim.post("/Users", &roster_testkit::body::user("late@x.io")).await, "expired");
        assert_eq!(listed(&list(&admin, "acme").await, &id)["status"], "expired");

        // Renewing brings it back.
        let r = admin.post(&format!("/tenants/acme/tokens/{id}/renew"), &json!({"expires_in": "2w"})).await;
        r.expect(200);
        client(&app, "acme", r.body["token"].as_str().unwrap()).get("/Users").await.expect(200);
        assert_eq!(listed(&list(&admin, "acme").await, &id)["status"], "active");
    })
    .await;
}

#[tokio::test]
async fn a_token_that_never_expires_works_decades_later() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        new_tenant(&admin, "acme").await;
        let r = create(&admin, "acme", json!({"idp": "jumpcloud", "expires_in": "never"})).await;
        r.expect(201);
        assert!(r.body["expires_at"].is_null(), "{}", r.text);
        let id = r.body["id"].as_str().unwrap().to_string();
        let scim = client(&app, "acme", r.body["token"].as_str().unwrap());
        app.clock.advance(time::Duration::days(365 * 40));
        scim.get("/Users").await.expect(200);
        let t = listed(&list(&admin, "acme").await, &id).clone();
        assert_eq!(t["status"], "active");
        assert!(t["expires_at"].is_null());
        // The spelling is case-insensitive, and other units work.
        admin.delete(&format!("/tenants/acme/tokens/{id}")).await.expect(204);
        for (expiry, duration) in [
            ("NEVER", None),
            ("90m", Some(time::Duration::minutes(90))),
            ("12h", Some(time::Duration::hours(12))),
            ("2w", Some(time::Duration::weeks(2))),
            ("1y", Some(time::Duration::days(365))),
        ] {
            let r = create(&admin, "acme", json!({"idp": "other", "expires_in": expiry})).await;
            r.expect(201);
            match duration {
                None => assert!(r.body["expires_at"].is_null(), "{expiry}: {}", r.text),
                Some(d) => assert_eq!(time_of(&r.body["expires_at"]), app.clock.now() + d, "{expiry}"),
            }
            admin.delete(&format!("/tenants/acme/tokens/{}", r.body["id"].as_str().unwrap())).await.expect(204);
        }
    })
    .await;
}

#[tokio::test]
async fn last_used_at_is_recorded_and_written_at_most_once_a_minute() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        new_tenant(&admin, "acme").await;
        let (id, token) = issue(&admin, "acme", "okta").await;
        assert!(listed(&list(&admin, "acme").await, &id)["last_used_at"].is_null());

        let scim = client(&app, "acme", &token);
        scim.get("/Users").await.expect(200);
        let first_use = app.clock.now();
        assert_eq!(time_of(&listed(&list(&admin, "acme").await, &id)["last_used_at"]), first_use);

        // Within the minute the recorded time does not move.
        app.clock.advance(time::Duration::seconds(30));
        scim.get("/Users").await.expect(200);
        assert_eq!(time_of(&listed(&list(&admin, "acme").await, &id)["last_used_at"]), first_use);

        // After it, the next use is recorded.
        app.clock.advance(time::Duration::seconds(31));
        scim.get("/Users").await.expect(200);
        assert_eq!(time_of(&listed(&list(&admin, "acme").await, &id)["last_used_at"]), app.clock.now());

        // A refused request is not a use.
        admin.post(&format!("/tenants/acme/tokens/{id}/disable"), &json!({})).await.expect(200);
        let recorded = app.clock.now();
        app.clock.advance(time::Duration::minutes(5));
        scim.get("/Users").await.expect_error(401, None);
        assert_eq!(time_of(&listed(&list(&admin, "acme").await, &id)["last_used_at"]), recorded);
    })
    .await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn the_token_list_shows_a_fingerprint_and_never_the_secret_or_its_hash() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        new_tenant(&admin, "acme").await;
        let (a, a_token) = issue(&admin, "acme", "okta").await;
        app.clock.advance(time::Duration::seconds(1));
        let (b, b_token) = issue(&admin, "acme", "entra").await;
        let r = admin.get("/tenants/acme/tokens").await;
        r.expect(200);
        let tokens = r.body.as_array().unwrap();
        assert_eq!(tokens.len(), 2);
        // Oldest first.
        assert_eq!(tokens[0]["id"], a.as_str());
        assert_eq!(tokens[1]["id"], b.as_str());
        for (t, text) in [(&tokens[0], &a_token), (&tokens[1], &b_token)] {
            let mut keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(
                keys,
                ["created_at", "expires_at", "fingerprint", "id", "idp", "idp_name", "last_used_at", "name", "status"],
                "{t}"
            );
            let (_, secret) = roster_core::tokens::parse(text).unwrap();
            let hash = roster_core::tokens::hash_secret(secret);
            let fingerprint = t["fingerprint"].as_str().unwrap();
            assert_eq!(fingerprint.len(), 8);
            assert_eq!(fingerprint, &hex(&hash)[..8]);
            assert!(!r.text.contains(secret), "the secret is listed: {}", r.text);
            assert!(!r.text.contains(&hex(&hash)), "the hash is listed: {}", r.text);
            assert!(!r.text.contains(text.as_str()));
        }
        assert_ne!(tokens[0]["fingerprint"], tokens[1]["fingerprint"]);
        assert_eq!(tokens[1]["idp_name"], "Microsoft Entra ID");
        // The secret is in no other admin answer either.
        for path in ["/tenants/acme", "/tenants/acme/audit", "/audit"] {
            let r = admin.get(path).await;
            r.expect(200);
            for text in [&a_token, &b_token] {
                let (_, secret) = roster_core::tokens::parse(text).unwrap();
                assert!(!r.text.contains(secret), "{path} shows a secret: {}", r.text);
            }
        }
    })
    .await;
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx_and_writes_nothing() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        new_tenant(&admin, "acme").await;
        new_tenant(&admin, "beta").await;
        let (id, token) = issue(&admin, "acme", "okta").await;
        let (beta_id, _) = issue(&admin, "beta", "okta").await;
        let tokens_before = list(&admin, "acme").await;
        let audit_before = audit(&admin, "acme").await;
        let beta_audit_before = audit(&admin, "beta").await;

        // Unknown IdP: 400 naming it and the valid ones.
        let r = create(&admin, "acme", json!({"idp": "keycloak"})).await;
        r.expect(400);
        let message = r.body["error"].as_str().unwrap();
        assert!(message.contains("keycloak") && message.contains("okta") && message.contains("entra"), "{message}");
        // Malformed expiries: 400 saying what an expiry looks like.
        for bad in ["tomorrow", "0d", "-5d", "10x", "", "1.5d", "d"] {
            let r = create(&admin, "acme", json!({"idp": "okta", "expires_in": bad})).await;
            r.expect(400);
            assert!(r.body["error"].as_str().unwrap().contains("expiry"), "{bad:?}: {}", r.text);
            let r = admin.post(&format!("/tenants/acme/tokens/{id}/renew"), &json!({"expires_in": bad})).await;
            r.expect(400);
            assert!(r.body["error"].as_str().unwrap().contains("expiry"), "{bad:?}: {}", r.text);
        }
        // A name that is too long.
        create(&admin, "acme", json!({"idp": "okta", "name": "n".repeat(101)})).await.expect(400);
        // A body that is not a token request.
        let r = create(&admin, "acme", json!({"name": "no idp"})).await;
        assert!((400..500).contains(&r.status), "{}: {}", r.status, r.text);
        // Unknown tenant.
        let r = create(&admin, "nowhere", json!({"idp": "okta"})).await;
        r.expect(404);
        assert!(r.body["error"].as_str().unwrap().contains("nowhere"), "{}", r.text);
        admin.get("/tenants/nowhere/tokens").await.expect(404);
        // Unknown token ids, on every transition.
        for missing in ["0000000000000000", "not-a-token-id"] {
            for action in ["enable", "disable", "renew"] {
                let r = admin.post(&format!("/tenants/acme/tokens/{missing}/{action}"), &json!({})).await;
                r.expect(404);
                assert!(r.body["error"].as_str().unwrap().contains(missing), "{action}: {}", r.text);
            }
            admin.delete(&format!("/tenants/acme/tokens/{missing}")).await.expect(404);
        }
        // Wrong tenant: beta's token under acme's path is unknown there, and untouched.
        for action in ["enable", "disable", "renew"] {
            admin.post(&format!("/tenants/acme/tokens/{beta_id}/{action}"), &json!({})).await.expect(404);
        }
        admin.delete(&format!("/tenants/acme/tokens/{beta_id}")).await.expect(404);
        admin.post(&format!("/tenants/beta/tokens/{id}/disable"), &json!({})).await.expect(404);

        // Nothing changed anywhere.
        assert_eq!(list(&admin, "acme").await, tokens_before);
        assert_eq!(audit(&admin, "acme").await, audit_before);
        assert_eq!(audit(&admin, "beta").await, beta_audit_before);
        let beta = list(&admin, "beta").await;
        assert_eq!(beta.len(), 1);
        assert_eq!(beta[0]["status"], "active");
        client(&app, "acme", &token).get("/Users").await.expect(200);
    })
    .await;
}

#[tokio::test]
async fn a_token_of_one_tenant_never_appears_in_another_tenants_list_or_audit() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        new_tenant(&admin, "acme").await;
        new_tenant(&admin, "beta").await;
        let (acme_id, _) = issue(&admin, "acme", "okta").await;
        admin.post(&format!("/tenants/acme/tokens/{acme_id}/disable"), &json!({})).await.expect(200);
        let (beta_id, _) = issue(&admin, "beta", "entra").await;

        let acme = list(&admin, "acme").await;
        let beta = list(&admin, "beta").await;
        assert_eq!(acme.iter().map(|t| t["id"].clone()).collect::<Vec<_>>(), vec![json!(acme_id)]);
        assert_eq!(beta.iter().map(|t| t["id"].clone()).collect::<Vec<_>>(), vec![json!(beta_id)]);
        let default = list(&admin, "default").await;
        assert!(default.iter().all(|t| t["id"] != acme_id.as_str() && t["id"] != beta_id.as_str()));

        let acme_audit = serde_json::to_string(&audit(&admin, "acme").await).unwrap();
        let beta_audit = serde_json::to_string(&audit(&admin, "beta").await).unwrap();
        assert!(acme_audit.contains(&acme_id) && !acme_audit.contains(&beta_id), "{acme_audit}");
        assert!(beta_audit.contains(&beta_id) && !beta_audit.contains(&acme_id), "{beta_audit}");
        for e in audit(&admin, "beta").await {
            assert_eq!(e["tenant"], "beta", "{e}");
        }
    })
    .await;
}
