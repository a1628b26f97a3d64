//! The provisioning log (issue 4): every SCIM request gets a row with its tenant, token, IdP,
//! method, path, resource, a one-line summary ("PATCH group Sales: +3 members, −1 member",
//! "user jdoe deactivated"), notes ("2 unknown member ids skipped"), status, scimType and
//! latency; the log filters by token, status class and resource; and it holds no secrets
//! and no attribute values beyond identifiers.

use roster_testkit::body::{ENTERPRISE, GROUP, PATCH_OP, USER};
use roster_testkit::{AdminClient, ScimClient, TestApp, each_backend};
use serde_json::{Value, json};

use crate::support::{enc, filter};

/// The tenant's provisioning log, newest first, after every queued row is written.
async fn rows(app: &TestApp, admin: &AdminClient, query: &str) -> Vec<Value> {
    app.core.log.flush().await;
    let r = admin.get(&format!("/tenants/default/provisioning-log?limit=1000{query}")).await;
    r.expect(200);
    r.body["requests"].as_array().unwrap_or_else(|| panic!("not a log page: {}", r.text)).clone()
}

/// The newest row.
async fn last(app: &TestApp, admin: &AdminClient) -> Value {
    rows(app, admin, "").await.into_iter().next().expect("a log row")
}

fn token_id(token: &str) -> String {
    roster_core::tokens::parse(token).unwrap().0.to_string()
}

#[tokio::test]
async fn every_write_gets_a_row_with_a_one_line_summary() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        let scim = &app.scim;

        let r = scim.post("/Users", &json!({"schemas": [USER], "userName": "jdoe", "active": true})).await;
        r.expect(201);
        let jdoe = r.id();
        let row = last(&app, &admin).await;
        assert_eq!(row["method"], "POST");
        // The path within the tenant's SCIM base, without the query.
        assert_eq!(row["path"], "/scim/v2/default/Users");
        assert_eq!(row["resource_type"], "User");
        assert_eq!(row["resource_id"], jdoe.as_str());
        assert_eq!(row["summary"], "user jdoe created");
        assert_eq!(row["status"], 201);
        assert!(row["scim_type"].is_null());
        assert_eq!(row["token_id"], token_id(&app.token));
        assert_eq!(row["idp"], "okta");
        assert!(row["latency_us"].as_i64().unwrap() >= 0);
        assert!(!row["request_id"].as_str().unwrap().is_empty());

        scim.patch_ops(&format!("/Users/{jdoe}"), json!([{"op": "replace", "path": "active", "value": false}]))
            .await
            .expect(200);
        let row = last(&app, &admin).await;
        assert_eq!(row["summary"], "user jdoe deactivated");
        assert_eq!(row["method"], "PATCH");
        assert_eq!(row["path"], format!("/scim/v2/default/Users/{jdoe}"));
        assert_eq!(row["status"], 200);

        // Entra's string boolean reactivates, and the rule it needed is noted.
        scim.patch_ops(&format!("/Users/{jdoe}"), json!([{"op": "Replace", "path": "active", "value": "True"}]))
            .await
            .expect(200);
        let row = last(&app, &admin).await;
        assert_eq!(row["summary"], "user jdoe reactivated");
        assert!(row["notes"].as_str().unwrap().contains("F-2"), "{row}");

        let a = scim.create_user("a", json!({})).await;
        let b = scim.create_user("b", json!({})).await;
        let c = scim.create_user("c", json!({})).await;
        let sales = scim.create_group("Sales", &[&jdoe]).await;
        let row = last(&app, &admin).await;
        assert_eq!(row["summary"], "group Sales created with 1 member");
        assert_eq!(row["resource_type"], "Group");
        assert_eq!(row["resource_id"], sales.as_str());

        scim.patch_ops(
            &format!("/Groups/{sales}"),
            json!([
                {"op": "add", "path": "members", "value": [{"value": a}, {"value": b}, {"value": c}]},
                {"op": "remove", "path": format!("members[value eq \"{jdoe}\"]")}
            ]),
        )
        .await
        .expect(200);
        let row = last(&app, &admin).await;
        assert_eq!(row["summary"], "PATCH group Sales: +3 members, −1 member");
        assert_eq!(row["resource_id"], sales.as_str());

        // Unknown member ids are skipped and reported (ids are identifiers, not values).
        let (ghost1, ghost2) = ("00000000-0000-0000-0000-00000000dead", "00000000-0000-0000-0000-00000000beef");
        scim.patch_ops(
            &format!("/Groups/{sales}"),
            json!([{"op": "add", "path": "members", "value": [{"value": ghost1}, {"value": ghost2}, {"value": jdoe}]}]),
        )
        .await
        .expect(200);
        let row = last(&app, &admin).await;
        let notes = row["notes"].as_str().unwrap();
        assert!(notes.contains("2 unknown member ids skipped"), "{row}");
        assert!(notes.contains(ghost1) && notes.contains(ghost2), "{row}");
        assert!(row["summary"].as_str().unwrap().contains("+1 member"), "{row}");

        scim.put(&format!("/Users/{a}"), &json!({"schemas": [USER], "userName": "a", "displayName": "Person A"}))
            .await
            .expect(200);
        let row = last(&app, &admin).await;
        assert_eq!(row["method"], "PUT");
        assert!(row["summary"].as_str().unwrap().starts_with("PUT user a: updated"), "{row}");
        assert!(row["summary"].as_str().unwrap().contains("displayName"), "{row}");

        scim.delete(&format!("/Users/{b}")).await.expect(204);
        let row = last(&app, &admin).await;
        assert_eq!(row["summary"], "user b deleted");
        assert_eq!(row["status"], 204);
        assert_eq!(row["resource_id"], b.as_str());

        // One row per request: 11 writes so far.
        let all = rows(&app, &admin, "").await;
        assert_eq!(all.len(), 11, "{all:#?}");
    })
    .await;
}

#[tokio::test]
async fn reads_and_failures_are_logged_with_status_and_scim_type() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        let scim = &app.scim;
        let id = scim.create_user("jdoe", json!({})).await;

        scim.get("/Users").await.expect(200);
        let row = last(&app, &admin).await;
        assert_eq!((row["method"].as_str(), row["status"].as_i64()), (Some("GET"), Some(200)));
        assert_eq!(row["summary"], "list users: 1 of 1 results");
        assert_eq!(row["token_id"], token_id(&app.token));

        scim.get(&format!("/Users/{id}")).await.expect(200);
        let row = last(&app, &admin).await;
        assert_eq!(row["resource_type"], "User");
        assert_eq!(row["resource_id"], id.as_str());
        assert_eq!(row["status"], 200);

        let missing = "00000000-0000-0000-0000-000000000000";
        scim.get(&format!("/Users/{missing}")).await.expect_error(404, None);
        let row = last(&app, &admin).await;
        assert_eq!(row["status"], 404);
        assert!(row["scim_type"].is_null());
        assert!(row["summary"].as_str().unwrap().contains("not found"), "{row}");

        scim.post("/Users", &json!({"schemas": [USER], "userName": "JDOE"}))
            .await
            .expect_error(409, Some("uniqueness"));
        let row = last(&app, &admin).await;
        assert_eq!(row["status"], 409);
        assert_eq!(row["scim_type"], "uniqueness");
        assert_eq!(row["method"], "POST");

        filter(scim, "/Users", "userName eq").await.expect_error(400, Some("invalidFilter"));
        let row = last(&app, &admin).await;
        assert_eq!(row["status"], 400);
        assert_eq!(row["scim_type"], "invalidFilter");
        assert_eq!(row["path"], "/scim/v2/default/Users");

        scim.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": "userName", "value": "other"}]))
            .await
            .expect_error(400, Some("mutability"));
        let row = last(&app, &admin).await;
        assert_eq!((row["status"].as_i64(), row["scim_type"].as_str()), (Some(400), Some("mutability")));

        // A refused token is logged under the tenant, with the token's id but no IdP.
        let forged = format!("roster_{}_{}", "0".repeat(16), "1".repeat(64));
        scim.with_token(Some(&forged)).get("/Users").await.expect_error(401, None);
        let row = last(&app, &admin).await;
        assert_eq!(row["status"], 401);
        assert_eq!(row["token_id"], "0".repeat(16));
        assert!(row["idp"].is_null());
        scim.with_token(None).post("/Users", &json!({"userName": "x"})).await.expect_error(401, None);
        let row = last(&app, &admin).await;
        assert_eq!((row["status"].as_i64(), row["method"].as_str()), (Some(401), Some("POST")));
        assert!(row["token_id"].is_null());

        // A client's request id is kept, to correlate with the IdP's own logs.
        let r = ScimClient::send(scim.request(reqwest::Method::GET, "/Groups").header("X-Request-Id", "entra-abc-123"))
            .await;
        r.expect(200);
        let row = last(&app, &admin).await;
        assert_eq!(row["request_id"], "entra-abc-123");
        assert_eq!(row["summary"], "list groups: 0 of 0 results");

        // Nothing but this tenant's requests.
        let other = app.tenant_client("other").await;
        other.create_user("theirs", json!({})).await;
        other.get("/Users").await.expect(200);
        let all = rows(&app, &admin, "").await;
        assert_eq!(all.len(), 10, "{all:#?}");
        assert!(all.iter().all(|r| r["summary"].as_str().is_none_or(|s| !s.contains("theirs"))));
    })
    .await;
}

#[tokio::test]
async fn the_log_filters_by_token_status_class_and_resource() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        let r = admin.post("/tenants/default/tokens", &json!({"idp": "entra", "name": "second"})).await;
        r.expect(201);
        let second_id = r.body["id"].as_str().unwrap().to_string();
        let second = app.scim.with_token(Some(r.body["token"].as_str().unwrap()));
        let first = &app.scim;
        let first_id = token_id(&app.token);

        let user = first.create_user("u1", json!({})).await;
        first.get(&format!("/Users/{user}")).await.expect(200);
        let group = second.create_group("G1", &[&user]).await;
        second.get("/Groups/00000000-0000-0000-0000-000000000000").await.expect_error(404, None);
        second
            .post("/Users", &json!({"schemas": [USER], "userName": "u1"}))
            .await
            .expect_error(409, Some("uniqueness"));
        first.get("/Users").await.expect(200);

        let by_first = rows(&app, &admin, &format!("&token={first_id}")).await;
        assert_eq!(by_first.len(), 3, "{by_first:#?}");
        assert!(by_first.iter().all(|r| r["token_id"] == first_id.as_str() && r["idp"] == "okta"));
        let by_second = rows(&app, &admin, &format!("&token={second_id}")).await;
        assert_eq!(by_second.len(), 3, "{by_second:#?}");
        assert!(by_second.iter().all(|r| r["token_id"] == second_id.as_str() && r["idp"] == "entra"));

        let failures = rows(&app, &admin, "&status=4xx").await;
        let statuses: Vec<i64> = failures.iter().map(|r| r["status"].as_i64().unwrap()).collect();
        assert_eq!(statuses, [409, 404]);
        let successes = rows(&app, &admin, "&status=2xx").await;
        assert_eq!(successes.len(), 4);
        assert!(rows(&app, &admin, "&status=5xx").await.is_empty());
        // Both filters at once.
        let r = rows(&app, &admin, &format!("&status=4xx&token={second_id}")).await;
        assert_eq!(r.len(), 2);

        let groups = rows(&app, &admin, "&resource_type=Group").await;
        assert_eq!(groups.len(), 2, "{groups:#?}");
        assert!(groups.iter().all(|r| r["resource_type"] == "Group"));
        let about_user = rows(&app, &admin, &format!("&resource_id={user}")).await;
        assert_eq!(about_user.len(), 2, "{about_user:#?}");
        let about_group = rows(&app, &admin, &format!("&resource_type=Group&resource_id={group}")).await;
        assert_eq!(about_group.len(), 1);
        assert_eq!(about_group[0]["summary"], "group G1 created with 1 member");

        // Paging.
        let page = admin.get("/tenants/default/provisioning-log?limit=4").await;
        page.expect(200);
        assert_eq!(page.body["requests"].as_array().unwrap().len(), 4);
        let next = page.body["next_before"].as_i64().expect("next_before");
        let rest = admin.get(&format!("/tenants/default/provisioning-log?limit=4&before={next}")).await;
        assert_eq!(rest.body["requests"].as_array().unwrap().len(), 2);
        assert!(rest.body.get("next_before").is_none(), "{}", rest.text);

        // A bad status class is a clear 400.
        let r = admin.get("/tenants/default/provisioning-log?status=teapot").await;
        r.expect(400);
        assert!(r.body["error"].as_str().unwrap().contains("2xx"), "{}", r.text);
    })
    .await;
}

#[tokio::test]
async fn no_secrets_or_attribute_values_are_logged() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        let scim = &app.scim;
        let secrets = [
            "Sup3r-Secret-Passw0rd!",
            "private.person@example.org",
            "Zebulon",
            "Quintessential",
            "+1-555-0100",
            "Clandestine Dept",
            "E-99812",
        ];
        let r = scim
            .post(
                "/Users",
                &json!({
                    "schemas": [USER, ENTERPRISE],
                    "userName": "jdoe",
                    "password": secrets[0],
                    "emails": [{"value": secrets[1], "type": "work", "primary": true}],
                    "name": {"givenName": secrets[2], "familyName": secrets[3]},
                    "phoneNumbers": [{"value": secrets[4], "type": "work"}],
                    ENTERPRISE: {"department": secrets[5], "employeeNumber": secrets[6]}
                }),
            )
            .await;
        r.expect(201);
        let id = r.id();
        scim.patch_ops(
            &format!("/Users/{id}"),
            json!([
                {"op": "replace", "path": "password", "value": secrets[0]},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": secrets[1]},
                {"op": "replace", "value": {"name.givenName": secrets[2]}}
            ]),
        )
        .await
        .expect(200);
        scim.put(
            &format!("/Users/{id}"),
            &json!({"schemas": [USER], "userName": "jdoe", "password": secrets[0], "name": {"familyName": secrets[3]}}),
        )
        .await
        .expect(200);
        // Values in queries and search bodies.
        filter(scim, "/Users", &format!("emails.value eq \"{}\"", secrets[1])).await.expect(200);
        filter(scim, "/Users", &format!("name.givenName eq \"{}\" and", secrets[2])).await.expect_error(400, Some("invalidFilter"));
        filter(scim, "/Users", &format!("userName eq \"jdoe\" \"{}\"", secrets[3])).await.expect_error(400, Some("invalidFilter"));
        filter(scim, "/Users", "userName eq \"jdoe\" 8675309").await.expect_error(400, Some("invalidFilter"));
        scim.post("/Users/.search", &json!({"filter": format!("phoneNumbers.value eq \"{}\"", secrets[4])}))
            .await
            .expect(200);
        scim.get(&format!("/Users?filter={}&attributes=emails", enc(&format!("title eq \"{}\"", secrets[3]))))
            .await
            .expect(200);
        // Values that fail validation.
        scim.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": "active", "value": secrets[5]}]))
            .await;
        scim.post("/Groups", &json!({"schemas": [GROUP], "displayName": "Staff", "members": [{"value": id, "display": secrets[2]}]}))
            .await
            .expect(201);
        scim.post(
            "/Bulk",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "b1",
                 "data": {"schemas": [USER], "userName": "bulky", "password": secrets[0], "emails": [{"value": secrets[1]}]}},
                {"method": "PATCH", "path": format!("/Users/{id}"), "data": {"schemas": [PATCH_OP],
                 "Operations": [{"op": "replace", "path": "active", "value": "Bulk-Secret-Value"}]}}
            ]}),
        )
        .await
        .expect(200);
        // A refused request carrying a password.
        scim.with_token(None).post("/Users", &json!({"userName": "x", "password": secrets[0]})).await;

        let all = rows(&app, &admin, "").await;
        assert!(all.len() >= 10, "{all:#?}");
        let text = serde_json::to_string(&all).unwrap();
        for s in secrets.iter().chain(&["8675309", "Bulk-Secret-Value"]) {
            assert!(!text.contains(s), "{s:?} leaked into the provisioning log: {text}");
        }
        let (_, token_secret) = roster_core::tokens::parse(&app.token).unwrap();
        assert!(!text.contains(token_secret), "the token secret leaked: {text}");
        // Identifiers are there.
        assert!(text.contains("jdoe") && text.contains(&id), "{text}");
    })
    .await;
}
