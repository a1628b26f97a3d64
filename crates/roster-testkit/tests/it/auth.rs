//! Authentication (RFC 7644 §2, RFC 6750) and tenant isolation: every SCIM request needs a
//! bearer token of the tenant in its URL; a token of tenant A gets 401 on tenant B's URL and
//! can never read or change B's data.

use roster_core::{Store, TokenStatus};
use roster_testkit::body::{self, GROUP};
use roster_testkit::{Resp, ScimClient, each_backend};
use serde_json::json;

use crate::support::{filter, member_ids};

#[track_caller]
fn expect_401(r: &Resp) {
    r.expect_error(401, None);
    let challenge = r.header("www-authenticate").expect("WWW-Authenticate");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
}

async fn with_authorization(scim: &ScimClient, path: &str, value: &str) -> Resp {
    ScimClient::send(scim.with_token(None).request(reqwest::Method::GET, path).header("Authorization", value)).await
}

#[tokio::test]
async fn requests_without_a_valid_bearer_token_are_401_with_a_scim_body() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let anonymous = scim.with_token(None);
        expect_401(&anonymous.get("/Users").await);
        expect_401(&anonymous.get("/Groups/some-id").await);
        expect_401(&anonymous.post("/Users", &body::user("a@x.io")).await);
        expect_401(&anonymous.post("/.search", &json!({})).await);
        expect_401(&anonymous.get("/").await);
        expect_401(&anonymous.get("/Nope").await);
        for bad in [
            format!("Basic {}", app.token),
            "Bearer".to_string(),
            "Bearer ".to_string(),
            "Bearer not-a-roster-token".to_string(),
            format!("Bearer {}x", app.token),
            format!("Token {}", app.token),
            "non-token".to_string(),
        ] {
            let r = with_authorization(scim, "/Users", &bad).await;
            assert_eq!(r.status, 401, "{bad:?}: {}", r.text);
            expect_401(&r);
        }
        // The token is accepted only in the header.
        let r =
            ScimClient::send(anonymous.request(reqwest::Method::GET, &format!("/Users?access_token={}", app.token)))
                .await;
        expect_401(&r);
        // The scheme is case-insensitive (RFC 6750 §2.1 via RFC 7235).
        with_authorization(scim, "/Users", &format!("bearer {}", app.token)).await.expect(200);
        with_authorization(scim, "/Users", &format!("BEARER  {} ", app.token)).await.expect(200);
        // Nothing was created by the refused POST.
        assert_eq!(scim.get("/Users").await.body["totalResults"], 0);
    })
    .await;
}

#[tokio::test]
async fn a_token_of_one_tenant_gets_401_on_another_tenants_url() {
    each_backend(|app| async move {
        let other = app.tenant_client("other").await;
        let theirs = other.create_user("theirs@x.io", json!({})).await;
        let their_group = other.create_group("Theirs", &[&theirs]).await;
        // Our token, their URL.
        let crossing = ScimClient::new(&app.base_url("other"), Some(&app.token));
        expect_401(&crossing.get("/Users").await);
        expect_401(&crossing.get(&format!("/Users/{theirs}")).await);
        expect_401(&crossing.get(&format!("/Groups/{their_group}")).await);
        expect_401(&crossing.post("/Users", &body::user("intruder@x.io")).await);
        expect_401(
            &crossing
                .patch_ops(&format!("/Users/{theirs}"), json!([{"op": "replace", "path": "active", "value": false}]))
                .await,
        );
        expect_401(&crossing.put(&format!("/Users/{theirs}"), &body::user("theirs@x.io")).await);
        expect_401(&crossing.delete(&format!("/Users/{theirs}")).await);
        expect_401(&crossing.post("/Bulk", &json!({"Operations": []})).await);
        expect_401(&crossing.get("/Schemas").await);
        // Their token on our URL, and any token on a tenant that does not exist.
        let reverse = ScimClient::new(&app.scim.base, other.token.as_deref());
        expect_401(&reverse.get("/Users").await);
        let nowhere = ScimClient::new(&app.base_url("nowhere"), Some(&app.token));
        expect_401(&nowhere.get("/Users").await);

        let still = other.get(&format!("/Users/{theirs}")).await;
        still.expect(200);
        assert_eq!(still.header("etag"), Some("W/\"1\""));
        assert_eq!(other.get("/Users").await.body["totalResults"], 1);
    })
    .await;
}

#[tokio::test]
async fn a_tenant_never_sees_or_touches_another_tenants_resources() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let other = app.tenant_client("other").await;
        let theirs = other.create_user("shared@x.io", json!({"externalId": "ext-1"})).await;
        let their_group = other.create_group("Shared", &[&theirs]).await;

        // The same userName and group name are free in our tenant.
        let ours = scim.create_user("shared@x.io", json!({"externalId": "ext-1"})).await;
        let our_group = scim.create_group("Shared", &[]).await;

        // Their ids are unknown here.
        for path in [format!("/Users/{theirs}"), format!("/Groups/{their_group}")] {
            scim.get(&path).await.expect_error(404, None);
            scim.patch_ops(&path, json!([{"op": "replace", "path": "externalId", "value": "hijack"}]))
                .await
                .expect_error(404, None);
            scim.delete(&path).await.expect_error(404, None);
        }
        scim.put(&format!("/Users/{theirs}"), &body::user("shared@x.io"))
            .await
            .expect_error(404, None);
        scim.put(&format!("/Groups/{their_group}"), &body::group("Shared"))
            .await
            .expect_error(404, None);

        // Lists, filters, searches and the root query show only our resources.
        let users = scim.get("/Users").await;
        assert_eq!(users.body["totalResults"], 1);
        assert_eq!(users.body["Resources"][0]["id"], ours.as_str());
        let by_ext = filter(scim, "/Users", "externalId eq \"ext-1\"").await;
        assert_eq!(by_ext.body["totalResults"], 1);
        assert_eq!(by_ext.body["Resources"][0]["id"], ours.as_str());
        assert_eq!(filter(scim, "/Users", &format!("id eq \"{theirs}\"")).await.body["totalResults"], 0);
        assert_eq!(scim.get("/").await.body["totalResults"], 2);
        assert_eq!(
            scim.post("/.search", &json!({"filter": "displayName eq \"Shared\""})).await.body["totalResults"],
            1
        );

        // Their user cannot become a member of our group, by POST, PATCH, PUT or Bulk.
        let r = scim
            .post(
                "/Groups",
                &json!({"schemas": [GROUP], "displayName": "Mixed", "members": [{"value": theirs}, {"value": ours}]}),
            )
            .await;
        r.expect(201);
        assert_eq!(member_ids(&r.body), vec![ours.clone()]);
        let r = scim
            .patch_ops(
                &format!("/Groups/{our_group}"),
                json!([{"op": "add", "path": "members", "value": [{"value": theirs}]}]),
            )
            .await;
        r.expect(200);
        assert!(r.body.get("members").is_none(), "{}", r.text);
        let r = scim
            .post(
                "/Bulk",
                &json!({"Operations": [{"method": "DELETE", "path": format!("/Users/{theirs}")}]}),
            )
            .await;
        assert_eq!(r.body["Operations"][0]["status"], "404", "{}", r.text);
        // Our manager reference to their user is not decorated with their name.
        let r = scim
            .patch_ops(
                &format!("/Users/{ours}"),
                json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": theirs}]),
            )
            .await;
        r.expect(200);
        let manager = &r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"];
        assert!(manager.get("displayName").is_none(), "{}", r.text);

        // Their side is untouched, and sees none of ours.
        let t = other.get(&format!("/Users/{theirs}")).await;
        assert_eq!(t.header("etag"), Some("W/\"1\""));
        assert_eq!(t.body["externalId"], "ext-1");
        assert_eq!(t.body["groups"].as_array().unwrap().len(), 1);
        let g = other.get(&format!("/Groups/{their_group}")).await;
        assert_eq!(member_ids(&g.body), vec![theirs.clone()]);
        assert_eq!(other.get("/Users").await.body["totalResults"], 1);
        assert_eq!(other.get("/Groups").await.body["totalResults"], 1);
        other.get(&format!("/Users/{ours}")).await.expect_error(404, None);

        // Deleting our user with the same name leaves theirs alone.
        scim.delete(&format!("/Users/{ours}")).await.expect(204);
        other.get(&format!("/Users/{theirs}")).await.expect(200);
    })
    .await;
}

#[tokio::test]
async fn disabled_and_expired_tokens_are_401() {
    each_backend(|app| async move {
        let scim = &app.scim;
        scim.get("/Users").await.expect(200);
        let (token_id, _) = roster_core::tokens::parse(&app.token).expect("a Roster token");
        let tenant = app.core.tenant("default").await.unwrap();
        app.store.set_token_status(tenant.id, token_id, TokenStatus::Inactive).await.unwrap();
        let r = scim.get("/Users").await;
        expect_401(&r);
        assert!(r.body["detail"].as_str().unwrap().contains("disabled"), "{}", r.text);
        app.store.set_token_status(tenant.id, token_id, TokenStatus::Active).await.unwrap();
        scim.get("/Users").await.expect(200);

        // The default expiry is a year.
        app.clock.advance(time::Duration::days(366));
        let r = scim.get("/Users").await;
        expect_401(&r);
        assert!(r.body["detail"].as_str().unwrap().contains("expired"), "{}", r.text);
        // Discovery of the public configuration still works.
        scim.get("/ServiceProviderConfig").await.expect(200);
    })
    .await;
}
