//! The audit trail (issue 4): every token transition leaves exactly one row with the name
//! people read ("SCIM Token Created" ...), DETAILS naming the IdP vendor, the actor and the
//! target; sign-in successes and failures are recorded; the trail filters by event and time
//! and pages with `next_before`.

use roster_core::Clock;
use roster_core::audit::Actor;
use roster_testkit::{AdminClient, Resp, each_backend};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::enc;

async fn events(admin: &AdminClient, path: &str) -> Vec<Value> {
    let r = admin.get(path).await;
    r.expect(200);
    r.body["events"].as_array().unwrap_or_else(|| panic!("not an audit page: {}", r.text)).clone()
}

/// The id of the admin API key the client uses (the actor name of its changes).
fn key_id(admin: &AdminClient) -> String {
    let key = admin.key.as_deref().unwrap();
    roster_core::tokens::parse_prefixed(key, roster_core::tokens::KEY_PREFIX).unwrap().0.to_string()
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

/// Asserts the newest row of `rows` and that exactly one row was added since `before`.
#[track_caller]
fn expect_one_new_row<'a>(rows: &'a [Value], before: usize, event: &str, name: &str) -> &'a Value {
    assert_eq!(rows.len(), before + 1, "expected exactly one new audit row: {rows:#?}");
    let newest = &rows[0];
    assert_eq!(newest["event"], event, "{newest}");
    assert_eq!(newest["event_name"], name, "{newest}");
    newest
}

#[tokio::test]
async fn each_token_transition_leaves_exactly_the_expected_audit_row() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        let actor = json!({"kind": "api_key", "name": key_id(&admin)});
        admin.post("/tenants", &json!({"slug": "acme"})).await.expect(201);
        let rows = events(&admin, "/tenants/acme/audit").await;
        // Creating the tenant is itself on its trail.
        let created = expect_one_new_row(&rows, 0, "tenant.created", "Tenant Created");
        assert_eq!(created["target"], "tenant acme");
        assert_eq!(created["actor"], actor);

        let r = admin.post("/tenants/acme/tokens", &json!({"idp": "okta", "name": "prod", "expires_in": "30d"})).await;
        r.expect(201);
        let id = r.body["id"].as_str().unwrap().to_string();
        let secret = r.body["token"].as_str().unwrap().rsplit('_').next().unwrap().to_string();
        let target = format!("token {id}");
        let mut count = 1;

        let steps: Vec<(&str, Value, &str, &str)> = vec![
            ("", Value::Null, "scim_token.created", "SCIM Token Created"),
            ("disable", json!({}), "scim_token.disabled", "SCIM Token Disabled"),
            ("enable", json!({}), "scim_token.enabled", "SCIM Token Enabled"),
            ("renew", json!({"expires_in": "never"}), "scim_token.renewed", "SCIM Token Renewed"),
            ("DELETE", Value::Null, "scim_token.deleted", "SCIM Token Deleted"),
        ];
        for (action, body, event, name) in steps {
            match action {
                "" => {}
                "DELETE" => {
                    admin.delete(&format!("/tenants/acme/tokens/{id}")).await.expect(204);
                }
                _ => {
                    admin.post(&format!("/tenants/acme/tokens/{id}/{action}"), &body).await.expect(200);
                }
            }
            let rows = events(&admin, "/tenants/acme/audit").await;
            let row = expect_one_new_row(&rows, count, event, name);
            count += 1;
            assert_eq!(row["tenant"], "acme", "{row}");
            assert_eq!(row["actor"], actor, "{row}");
            assert_eq!(row["target"], target.as_str(), "{row}");
            let details = row["details"].as_str().unwrap();
            assert!(details.contains("IdP: Okta"), "{name}: {details}");
            assert!(details.contains("name: prod"), "{name}: {details}");
            match event {
                "scim_token.created" => assert!(details.contains("expires "), "{details}"),
                "scim_token.renewed" => assert!(details.contains("never expires"), "{details}"),
                _ => {}
            }
            assert!(!row.to_string().contains(&secret), "{row}");
            assert_eq!(OffsetDateTime::parse(row["at"].as_str().unwrap(), &Rfc3339).unwrap(), app.clock.now());
        }

        // Refused transitions leave no row.
        admin.post(&format!("/tenants/acme/tokens/{id}/enable"), &json!({})).await.expect(404);
        admin.post("/tenants/acme/tokens", &json!({"idp": "nope"})).await.expect(400);
        assert_eq!(events(&admin, "/tenants/acme/audit").await.len(), count);
    })
    .await;
}

#[tokio::test]
async fn details_name_each_idp_vendor_and_actors_are_named() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        admin.post("/tenants", &json!({"slug": "acme"})).await.expect(201);
        admin.patch("/tenants/acme/settings", &json!({"max_tokens": 10})).await.expect(200);
        for (idp, vendor) in [
            ("entra", "IdP: Microsoft Entra ID"),
            ("okta", "IdP: Okta"),
            ("onelogin", "IdP: OneLogin"),
            ("pingone", "IdP: PingOne"),
            ("jumpcloud", "IdP: JumpCloud"),
            ("google", "IdP: Google Workspace"),
            ("other", "IdP: Other"),
        ] {
            admin.post("/tenants/acme/tokens", &json!({"idp": idp})).await.expect(201);
            let row = &events(&admin, "/tenants/acme/audit?event=scim_token.created&limit=1").await[0];
            assert!(row["details"].as_str().unwrap().starts_with(vendor), "{idp}: {row}");
        }

        // The same service called by a signed-in admin and by Roster itself names them.
        app.core.create_admin(&Actor::system(), "alice", "correct horse battery").await.unwrap();
        let r = reqwest::Client::new()
            .post(format!("{}/admin/api/session", app.public_url))
            .json(&json!({"username": "alice", "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        let csrf = r.json::<Value>().await.unwrap()["csrf"].as_str().unwrap().to_string();
        let r = reqwest::Client::new()
            .post(format!("{}/admin/api/tenants/acme/tokens", app.public_url))
            .header("Cookie", &cookie)
            .header("X-CSRF-Token", &csrf)
            .json(&json!({"idp": "okta", "name": "by alice"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let row = &events(&admin, "/tenants/acme/audit?limit=1").await[0];
        assert_eq!(row["actor"], json!({"kind": "admin", "name": "alice"}));
        assert_eq!(row["event_name"], "SCIM Token Created");

        let issued = app
            .core
            .issue_token(
                &Actor::system(),
                "acme",
                roster_core::Idp::PingOne,
                "",
                roster_core::tenants::Expiry::Never,
                &app.public_url,
            )
            .await
            .unwrap();
        let row = &events(&admin, "/tenants/acme/audit?limit=1").await[0];
        assert_eq!(row["actor"]["kind"], "system");
        assert_eq!(row["target"], format!("token {}", issued.id));
        assert_eq!(row["details"], "IdP: PingOne; never expires");
    })
    .await;
}

async fn sign_in(app: &roster_testkit::TestApp, username: &str, password: &str) -> Resp {
    roster_testkit::ScimClient::send(
        reqwest::Client::new()
            .post(format!("{}/admin/api/session", app.public_url))
            .json(&json!({"username": username, "password": password})),
    )
    .await
}

#[tokio::test]
async fn sign_in_successes_and_failures_are_on_the_installation_trail() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        app.core.create_admin(&Actor::system(), "alice", "correct horse battery").await.unwrap();
        let created = &events(&admin, "/audit?event=admin.created").await;
        assert_eq!(created.len(), 1);
        assert_eq!(created[0]["target"], "admin alice");
        assert!(created[0]["tenant"].is_null());

        sign_in(&app, "alice", "correct horse battery").await.expect(200);
        let rows = events(&admin, "/audit?event=admin.signed_in").await;
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row["event_name"], "Admin Signed In");
        assert_eq!(row["actor"], json!({"kind": "admin", "name": "alice"}));
        assert_eq!(row["target"], "admin alice");
        assert!(row["tenant"].is_null(), "{row}");
        assert!(row["details"].as_str().unwrap().contains("127.0.0.1"), "{row}");

        sign_in(&app, "alice", "wrong password here").await.expect(401);
        sign_in(&app, "mallory", "some password 123").await.expect(401);
        let rows = events(&admin, "/audit?event=admin.sign_in_failed").await;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["event_name"], "Admin Sign-in Failed");
        assert_eq!(rows[0]["target"], "admin mallory");
        assert_eq!(rows[1]["target"], "admin alice");
        for row in &rows {
            let text = row.to_string();
            assert!(!text.contains("wrong password") && !text.contains("some password"), "{text}");
            assert!(row["details"].as_str().unwrap().contains("127.0.0.1"), "{row}");
        }
        // Installation-wide events are not on any tenant's trail.
        let default = events(&admin, "/tenants/default/audit").await;
        assert!(default.iter().all(|e| !e["event"].as_str().unwrap().starts_with("admin.")), "{default:?}");
    })
    .await;
}

#[tokio::test]
async fn the_trail_filters_by_event_and_time() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        admin.post("/tenants", &json!({"slug": "acme"})).await.expect(201);
        let t0 = app.clock.now();
        let r = admin.post("/tenants/acme/tokens", &json!({"idp": "okta"})).await;
        r.expect(201);
        let id = r.body["id"].as_str().unwrap().to_string();
        app.clock.advance(time::Duration::hours(1));
        let t1 = app.clock.now();
        admin.post(&format!("/tenants/acme/tokens/{id}/disable"), &json!({})).await.expect(200);
        app.clock.advance(time::Duration::hours(1));
        admin.post(&format!("/tenants/acme/tokens/{id}/enable"), &json!({})).await.expect(200);

        let names = |rows: &[Value]| rows.iter().map(|e| e["event"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        // By code and by the name people read, any case.
        for event in ["scim_token.disabled", "SCIM Token Disabled", "scim token disabled"] {
            let rows = events(&admin, &format!("/tenants/acme/audit?event={}", enc(event))).await;
            assert_eq!(names(&rows), ["scim_token.disabled"], "{event}");
        }
        // By time: `since` is inclusive, `until` exclusive.
        let rows = events(&admin, &format!("/tenants/acme/audit?since={}", enc(&rfc3339(t1)))).await;
        assert_eq!(names(&rows), ["scim_token.enabled", "scim_token.disabled"]);
        let rows = events(&admin, &format!("/tenants/acme/audit?until={}", enc(&rfc3339(t1)))).await;
        assert_eq!(names(&rows), ["scim_token.created", "tenant.created"]);
        let window = format!(
            "/tenants/acme/audit?since={}&until={}",
            enc(&rfc3339(t0 + time::Duration::minutes(30))),
            enc(&rfc3339(t1 + time::Duration::minutes(30)))
        );
        assert_eq!(names(&events(&admin, &window).await), ["scim_token.disabled"]);
        // Both together.
        let rows =
            events(&admin, &format!("/tenants/acme/audit?event=scim_token.created&since={}", enc(&rfc3339(t1)))).await;
        assert!(rows.is_empty(), "{rows:?}");
        // The installation-wide trail sees the tenant's events too.
        let rows = events(&admin, "/audit?event=scim_token.enabled").await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["tenant"], "acme");

        // Bad filters are 400 with a message.
        for bad in ["event=scim_token.exploded", "since=yesterday", "until=2026-13-01"] {
            let r = admin.get(&format!("/tenants/acme/audit?{bad}")).await;
            r.expect(400);
            assert!(r.body["error"].as_str().is_some_and(|e| !e.is_empty()), "{bad}: {}", r.text);
        }
    })
    .await;
}

#[tokio::test]
async fn the_trail_pages_with_next_before() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        admin.post("/tenants", &json!({"slug": "acme"})).await.expect(201);
        let r = admin.post("/tenants/acme/tokens", &json!({"idp": "okta"})).await;
        let id = r.body["id"].as_str().unwrap().to_string();
        for _ in 0..3 {
            admin.post(&format!("/tenants/acme/tokens/{id}/disable"), &json!({})).await.expect(200);
            admin.post(&format!("/tenants/acme/tokens/{id}/enable"), &json!({})).await.expect(200);
        }
        // 1 tenant + 1 created + 6 status changes.
        let all = events(&admin, "/tenants/acme/audit").await;
        assert_eq!(all.len(), 8);
        let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

        let mut paged = Vec::new();
        let mut path = "/tenants/acme/audit?limit=3".to_string();
        let mut pages = 0;
        loop {
            let r = admin.get(&path).await;
            r.expect(200);
            let page = r.body["events"].as_array().unwrap();
            assert!(page.len() <= 3);
            paged.extend(page.iter().cloned());
            pages += 1;
            match r.body.get("next_before") {
                Some(next) => {
                    assert_eq!(next, &page.last().unwrap()["id"]);
                    path = format!("/tenants/acme/audit?limit=3&before={next}");
                }
                None => break,
            }
            assert!(pages < 10, "paging does not end");
        }
        assert_eq!(pages, 3);
        assert_eq!(paged, all);
        // A page size out of range is clamped, not an error.
        assert_eq!(events(&admin, "/tenants/acme/audit?limit=0").await.len(), 1);
        assert_eq!(events(&admin, "/tenants/acme/audit?limit=100000").await.len(), 8);
    })
    .await;
}
