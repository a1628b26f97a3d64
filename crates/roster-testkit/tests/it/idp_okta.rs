//! Replays of Okta's SCIM 2.0 provisioning (requirements catalog Part C): the userName
//! lookup before create (percent-encoded, and raw in the request line), create with a
//! password and `groups: []`, GET then full PUT profile updates, deactivation and
//! reactivation by path-less PATCH and by PUT, import paging, Group Push, and the 11 checks
//! of Okta's SCIM 2.0 spec test. Requests carry Okta's headers and its token.

use roster_testkit::body::{GROUP, USER};
use roster_testkit::{Resp, ScimClient, TestApp, each_backend};
use serde_json::{Value, json};

use crate::idp_entra::{Wire, assert_no_nulls, assert_note, expect_empty_list, expect_scim_error, log_row, single};
use crate::support::{RawResponse, enc, expect_list, ids, member_ids, raw_http};

const USER_AGENT: &str = "Okta SCIM Client 1.0.0";

/// Okta's client: the test app's token is an Okta token.
fn okta(app: &TestApp) -> Wire {
    Wire::new(
        app.scim.clone(),
        &[("User-Agent", USER_AGENT), ("Accept", "application/scim+json")],
        "application/scim+json; charset=utf-8",
    )
}

/// A GET whose target goes on the request line exactly as given (spaces and quotes raw),
/// as Okta's spec test sends its filters.
async fn raw_get(app: &TestApp, target: &str) -> RawResponse {
    let request = format!(
        "GET /scim/v2/default{target} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nUser-Agent: {USER_AGENT}\r\nAccept: application/scim+json\r\nConnection: close\r\n\r\n",
        app.addr, app.token
    );
    raw_http(app.addr, request.as_bytes()).await
}

/// The lookup Okta makes before pushing a new user (C2.1).
fn user_lookup(user_name: &str) -> String {
    format!("/Users?filter={}&startIndex=1&count=100", enc(&format!("userName eq \"{user_name}\"")))
}

/// The C2.2 create body.
fn okta_user(user_name: &str, okta_id: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": okta_id,
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

/// Pushes a new user the way Okta does (lookup, then create) and returns its id.
async fn push_user(okta: &Wire, user_name: &str, okta_id: &str) -> String {
    expect_empty_list(&okta.get(&user_lookup(user_name)).await);
    let r = okta.post("/Users", &okta_user(user_name, okta_id)).await;
    r.expect(201);
    r.id()
}

#[tokio::test]
async fn okta_push_new_user_looks_up_by_user_name_then_creates() {
    each_backend(|app| async move {
        let okta = okta(&app);
        let name = "test.user@okta.local";
        // The lookup, percent-encoded (C2.1) and raw in the request line.
        expect_empty_list(&okta.get(&user_lookup(name)).await);
        let raw = raw_get(&app, &format!("/Users?filter=userName eq \"{name}\"&startIndex=1&count=100")).await;
        assert_eq!(raw.status, 200, "{}", raw.text);
        assert_eq!(raw.body["totalResults"], 0);
        assert_eq!(raw.body["Resources"], json!([]));

        // Create (C2.2): the password and `groups: []` are accepted and never returned.
        let r = okta.post("/Users", &okta_user(name, "00ujl29u0le5T6Aj10h7")).await;
        r.expect(201);
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        let id = r.id();
        assert_eq!(r.header("location"), r.body["meta"]["location"].as_str());
        assert_eq!(r.body["schemas"], json!([USER]));
        assert_eq!(r.body["userName"], name);
        assert_eq!(r.body["name"], json!({"givenName": "Test", "familyName": "User"}));
        assert_eq!(r.body["emails"], json!([{"primary": true, "value": name, "type": "work"}]));
        assert_eq!(r.body["displayName"], "Test User");
        assert_eq!(r.body["locale"], "en-US");
        assert_eq!(r.body["externalId"], "00ujl29u0le5T6Aj10h7");
        assert_eq!(r.body["active"], true);
        assert_eq!(r.body["meta"]["resourceType"], "User");
        assert!(r.body.get("password").is_none() && r.body.get("groups").is_none(), "{}", r.text);
        assert_no_nulls(&r.body);
        let row = log_row(&app, &r).await;
        assert_eq!(row.idp.as_deref(), Some("okta"));
        assert_note(&row, "password accepted and not stored (F-30)");

        // Found now, in both forms, and in any case: Okta links instead of creating again.
        assert_eq!(single(&okta.get(&user_lookup(name)).await)["id"], id.as_str());
        let raw =
            raw_get(&app, &format!("/Users?filter=userName eq \"{}\"&startIndex=1&count=100", name.to_uppercase()))
                .await;
        assert_eq!(raw.status, 200, "{}", raw.text);
        assert_eq!(raw.body["totalResults"], 1);
        assert_eq!(raw.body["Resources"][0]["id"], id.as_str());
        // A second create of the same userName is a conflict.
        okta.post("/Users", &okta_user(name, "00uOTHER")).await.expect_error(409, Some("uniqueness"));
        // Read (C2.3).
        let r = okta.get(&format!("/Users/{id}")).await;
        r.expect(200);
        assert!(r.body.get("password").is_none());
    })
    .await;
}

#[tokio::test]
async fn okta_profile_update_is_get_then_full_put() {
    each_backend(|app| async move {
        let okta = okta(&app);
        let name = "test.user@okta.local";
        let id = push_user(&okta, name, "00ujl29u0le5T6Aj10h7").await;
        let path = format!("/Users/{id}");
        // Something Okta does not map is set elsewhere; a full PUT clears it.
        app.scim.patch_ops(&path, json!([{"op": "add", "path": "title", "value": "Engineer"}])).await.expect(200);
        let current = okta.get(&path).await;
        current.expect(200);
        // C2.4: the GET's resource, edited, with Okta's non-RFC meta and an empty middleName.
        let r = okta
            .put(
                &path,
                &json!({
                    "schemas": [USER],
                    "id": id,
                    "userName": name,
                    "name": {"givenName": "Another", "middleName": "", "familyName": "User"},
                    "emails": [{"primary": true, "value": name, "type": "work"}],
                    "active": true,
                    "displayName": "Another User",
                    "locale": "en-US",
                    "externalId": "00ujl29u0le5T6Aj10h7",
                    "groups": [],
                    "password": "1mz050nq",
                    "meta": {"resourceType": "User", "created": "04-12-2018 00:00:00", "lastModified": "04-12-2018 00:00:00", "version": "v1.0"}
                }),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["id"], id.as_str());
        assert_eq!(r.body["name"], json!({"givenName": "Another", "familyName": "User"}));
        assert_eq!(r.body["displayName"], "Another User");
        assert!(r.body.get("title").is_none(), "PUT replaces: {}", r.text);
        assert!(r.body.get("password").is_none());
        assert_eq!(r.body["meta"]["created"], current.body["meta"]["created"]);
        assert_eq!(r.body["meta"]["version"], "W/\"3\"");
        assert_eq!(okta.get(&path).await.body, r.body);
        let row = log_row(&app, &r).await;
        assert_eq!((row.method.as_str(), row.status), ("PUT", 200));
        assert!(row.summary.contains("updated"), "{}", row.summary);
        assert_note(&row, "password accepted and not stored (F-30)");
        // The same PUT again changes nothing.
        let mut again = r.body.clone();
        again["password"] = json!("1mz050nq");
        let r2 = okta.put(&path, &again).await;
        r2.expect(200);
        assert_eq!(r2.body["meta"]["version"], "W/\"3\"");
        // A changed username format pushed by PUT is refused (Roster rule, F-22).
        let mut renamed = r.body.clone();
        renamed["userName"] = json!("test.user@okta.example");
        okta.put(&path, &renamed).await.expect_error(400, Some("mutability"));
        assert_eq!(okta.get(&path).await.body["userName"], name);
        // PUT on an id Roster does not have: 404, never a create.
        expect_scim_error(&okta.put("/Users/23a35c27-23d3-4c03-b4c5-6443c09e7173", &okta_user("x@okta.local", "00x")).await, 404);
    })
    .await;
}

#[tokio::test]
async fn okta_deactivates_and_reactivates_by_pathless_patch_and_by_put() {
    each_backend(|app| async move {
        let okta = okta(&app);
        let name = "deact@okta.local";
        let id = push_user(&okta, name, "00udeact").await;
        let path = format!("/Users/{id}");
        // C2.5: the only PATCH Okta sends for users.
        let deactivate = json!([{"op": "replace", "value": {"active": false}}]);
        let r = okta.patch(&path, deactivate.clone()).await;
        r.expect(200);
        assert_eq!(r.body["active"], false);
        assert_eq!(r.body["userName"], name);
        let version = r.body["meta"]["version"].clone();
        let last_modified = r.body["meta"]["lastModified"].clone();
        let row = log_row(&app, &r).await;
        assert!(row.summary.contains("deactivated"), "{}", row.summary);
        assert_eq!(row.idp.as_deref(), Some("okta"));
        // Deactivated users stay readable and findable; Okta never DELETEs users.
        assert_eq!(okta.get(&path).await.body["active"], false);
        assert_eq!(single(&okta.get(&user_lookup(name)).await)["active"], false);
        // A retry changes nothing (F-24).
        let r = okta.patch(&path, deactivate).await;
        r.expect(200);
        assert_eq!(r.body["meta"]["version"], version);
        assert_eq!(r.body["meta"]["lastModified"], last_modified);
        assert!(log_row(&app, &r).await.summary.contains("no change"));
        // Reactivate.
        let r = okta.patch(&path, json!([{"op": "replace", "value": {"active": true}}])).await;
        r.expect(200);
        assert_eq!(r.body["active"], true);
        assert!(log_row(&app, &r).await.summary.contains("reactivated"));
        // Password sync: accepted, never stored or returned, nothing changes.
        let r = okta.patch(&path, json!([{"op": "replace", "value": {"password": "newPass"}}])).await;
        r.expect(200);
        assert!(r.body.get("password").is_none());
        assert_eq!(r.body["meta"]["version"], "W/\"3\"");
        // AIW apps deactivate and reactivate with a full PUT.
        let mut body = okta.get(&path).await.body;
        body["active"] = json!(false);
        let r = okta.put(&path, &body).await;
        r.expect(200);
        assert_eq!(r.body["active"], false);
        assert!(log_row(&app, &r).await.summary.contains("deactivated"));
        body["active"] = json!(true);
        let r = okta.put(&path, &body).await;
        r.expect(200);
        assert_eq!(r.body["active"], true);
        assert_eq!(r.body["name"], json!({"givenName": "Test", "familyName": "User"}));
    })
    .await;
}

#[tokio::test]
async fn okta_import_pages_users_with_start_index_and_count_in_a_stable_order() {
    each_backend(|app| async move {
        let okta = okta(&app);
        let mut created = Vec::new();
        for i in 0..7 {
            created.push(app.scim.create_user(&format!("import{i}@okta.local"), json!({"active": i % 2 == 0})).await);
        }
        // Okta's SCIM 1.1-era test connection.
        let r = okta.get("/Users?startIndex=1&count=2").await;
        expect_list(&r, 7, 1, 2);
        // C2.6: page until startIndex > totalResults. A user changes between pages: the
        // order must not move.
        let mut seen = Vec::new();
        let mut start = 1;
        loop {
            let r = okta.get(&format!("/Users?startIndex={start}&count=3")).await;
            r.expect(200);
            for field in ["totalResults", "startIndex", "itemsPerPage"] {
                assert!(r.body[field].is_u64(), "{field} must be an integer: {}", r.text);
            }
            assert_eq!(r.body["startIndex"], start);
            let total = r.body["totalResults"].as_u64().unwrap();
            assert_eq!(total, 7);
            let page = ids(&r);
            assert_eq!(r.body["itemsPerPage"], page.len());
            seen.extend(page.clone());
            if start == 1 {
                app.scim
                    .patch_ops(
                        &format!("/Users/{}", created[0]),
                        json!([{"op": "replace", "path": "title", "value": "moved"}]),
                    )
                    .await
                    .expect(200);
            }
            start += page.len() as u64;
            if page.is_empty() || start > total {
                break;
            }
        }
        assert_eq!(seen, created, "every user once, in creation order");
        // Import groups.
        let gid = app.scim.create_group("Imported", &[&created[1]]).await;
        let r = okta.get("/Groups?startIndex=1&count=100").await;
        expect_list(&r, 1, 1, 1);
        assert_eq!(r.body["Resources"][0]["id"], gid.as_str());
        assert_eq!(member_ids(&r.body["Resources"][0]), vec![created[1].clone()]);
    })
    .await;
}

#[tokio::test]
async fn okta_group_push_creates_renames_and_syncs_members() {
    each_backend(|app| async move {
        let okta = okta(&app);
        let u1 = push_user(&okta, "u1@okta.local", "00u1").await;
        let u2 = push_user(&okta, "u2@okta.local", "00u2").await;
        let u3 = push_user(&okta, "u3@okta.local", "00u3").await;
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        // Find by name (to link an existing group), then create.
        let find = |name: &str| format!("/Groups?filter={}&startIndex=1&count=100", enc(&format!("displayName eq \"{name}\"")));
        expect_empty_list(&okta.get(&find("Test SCIMv2")).await);
        let r = okta.post("/Groups", &json!({"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []})).await;
        r.expect(201);
        let gid = r.id();
        assert_eq!(r.body["displayName"], "Test SCIMv2");
        assert_eq!(r.header("location"), r.body["meta"]["location"].as_str());
        assert_eq!(single(&okta.get(&find("Test SCIMv2")).await)["id"], gid.as_str());
        let gpath = format!("/Groups/{gid}");
        okta.get(&gpath).await.expect(200);
        // Newer Group Push creates with members, `display` included.
        let r = okta
            .post(
                "/Groups",
                &json!({"schemas": [GROUP], "displayName": "Pushed With Members", "members": [{"value": u1, "display": "u1@okta.local"}]}),
            )
            .await;
        r.expect(201);
        let pushed = r.id();
        assert_eq!(member_ids(&r.body), vec![u1.clone()]);

        // The rename op carries the group's id; Okta sends it with membership updates.
        let r = okta
            .patch(
                &gpath,
                json!([
                    {"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv2 Renamed"}},
                    {"op": "add", "path": "members", "value": [{"value": u1, "display": "u1@okta.local"}]}
                ]),
            )
            .await;
        assert!(r.status == 200 || r.status == 204, "{}", r.text);
        let g = okta.get(&gpath).await;
        assert_eq!(g.body["displayName"], "Test SCIMv2 Renamed");
        assert_eq!(member_ids(&g.body), vec![u1.clone()]);
        let row = log_row(&app, &r).await;
        assert!(row.summary.contains("+1 member"), "{}", row.summary);
        assert_eq!(row.idp.as_deref(), Some("okta"));

        // Membership delta: remove by filter, add with display.
        let r = okta
            .patch(
                &gpath,
                json!([
                    {"op": "remove", "path": format!("members[value eq \"{u1}\"]")},
                    {"op": "add", "path": "members", "value": [
                        {"value": u2, "display": "u2@okta.local"},
                        {"value": u3, "display": "u3@okta.local"}
                    ]}
                ]),
            )
            .await;
        assert!(r.status == 200 || r.status == 204, "{}", r.text);
        assert_eq!(member_ids(&okta.get(&gpath).await.body), sorted(vec![u2.clone(), u3.clone()]));
        let row = log_row(&app, &r).await;
        assert!(row.summary.contains("+2 members") && row.summary.contains("−1 member"), "{}", row.summary);
        // A resend of the same add changes nothing (F-5).
        let r = okta.patch(&gpath, json!([{"op": "add", "path": "members", "value": [{"value": u2, "display": "u2@okta.local"}]}])).await;
        assert!(r.status == 200 || r.status == 204, "{}", r.text);
        assert!(log_row(&app, &r).await.summary.contains("no change"));

        // Push now: the full member list replaces the current one.
        let r = okta
            .patch(
                &gpath,
                json!([{"op": "replace", "path": "members", "value": [
                    {"value": u1, "display": "u1@okta.local"},
                    {"value": u2, "display": "u2@okta.local"}
                ]}]),
            )
            .await;
        assert!(r.status == 200 || r.status == 204, "{}", r.text);
        assert_eq!(member_ids(&okta.get(&gpath).await.body), sorted(vec![u1.clone(), u2.clone()]));
        // A member Roster does not know (assigned in Okta, never pushed) must not lose the
        // whole push: it is skipped and reported (C-3).
        let r = okta
            .patch(
                &gpath,
                json!([{"op": "add", "path": "members", "value": [
                    {"value": "00u-never-pushed", "display": "ghost@okta.local"},
                    {"value": u3, "display": "u3@okta.local"}
                ]}]),
            )
            .await;
        assert!(r.status == 200 || r.status == 204, "{}", r.text);
        assert_eq!(member_ids(&okta.get(&gpath).await.body), sorted(vec![u1.clone(), u2.clone(), u3.clone()]));
        let row = log_row(&app, &r).await;
        assert!(row.notes.contains("00u-never-pushed") && row.summary.contains("skipped"), "{row:?}");
        // An emptied group in Okta: replace with [].
        let r = okta.patch(&gpath, json!([{"op": "replace", "path": "members", "value": []}])).await;
        assert!(r.status == 200 || r.status == 204, "{}", r.text);
        assert_eq!(member_ids(&okta.get(&gpath).await.body), Vec::<String>::new());
        assert!(log_row(&app, &r).await.summary.contains("−3 members"));
        // The user side follows: u1 is left in the other pushed group only.
        let groups = okta.get(&format!("/Users/{u1}")).await.body["groups"].clone();
        assert_eq!(member_ids(&json!({"members": groups})), vec![pushed.clone()]);

        // AIW apps replace the group with PUT.
        let r = okta
            .put(&gpath, &json!({"schemas": [GROUP], "id": gid, "displayName": "Test SCIMv2 Renamed", "members": [{"value": u3, "display": "u3@okta.local"}]}))
            .await;
        r.expect(200);
        assert_eq!(member_ids(&r.body), vec![u3.clone()]);
        assert_eq!(okta.get(&format!("/Users/{u3}")).await.body["groups"][0]["value"], gid.as_str());

        // Unlink with delete.
        let r = okta.delete(&gpath).await;
        r.expect(204);
        expect_scim_error(&okta.get(&gpath).await, 404);
        assert!(okta.get(&format!("/Users/{u3}")).await.body.get("groups").is_none());
    })
    .await;
}

#[tokio::test]
async fn okta_spec_test_passes_all_eleven_checks() {
    each_backend(|app| async move {
        let okta = okta(&app);
        // "The server must already have at least one user."
        push_user(&okta, "existing@okta.local", "00uexisting").await;
        let check_user = |u: &Value| {
            assert!(u["id"].is_string(), "{u}");
            assert!(u["name"]["familyName"].is_string(), "{u}");
            assert!(u["name"]["givenName"].is_string(), "{u}");
            assert!(u["userName"].is_string(), "{u}");
            assert!(u["active"].is_boolean(), "{u}");
            assert!(u["emails"][0]["value"].is_string(), "{u}");
        };

        // 1. Test Users endpoint.
        let r = okta.get("/Users?count=1&startIndex=1").await;
        r.expect(200);
        assert!(
            r.body["schemas"]
                .as_array()
                .unwrap()
                .contains(&json!("urn:ietf:params:scim:api:messages:2.0:ListResponse"))
        );
        for field in ["itemsPerPage", "startIndex", "totalResults"] {
            assert!(r.body[field].is_number(), "{field}: {}", r.text);
        }
        let first = r.body["Resources"][0].clone();
        check_user(&first);
        let id = first["id"].as_str().unwrap().to_string();

        // 2. Get Users/{{id}}.
        let r = okta.get(&format!("/Users/{id}")).await;
        r.expect(200);
        check_user(&r.body);
        assert_eq!(r.body["id"], id.as_str());

        // 3. Invalid user by username, unencoded in the request line.
        let r = raw_get(&app, "/Users?filter=userName eq \"invalid-user-3f2a@example.com\"").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.body["schemas"]
                .as_array()
                .unwrap()
                .contains(&json!("urn:ietf:params:scim:api:messages:2.0:ListResponse"))
        );
        assert_eq!(r.body["totalResults"], 0);

        // 4. Invalid user by id.
        let r = okta.get("/Users/010101001010101011001010101011").await;
        expect_scim_error(&r, 404);

        // 5. The random user does not exist yet.
        let random = format!("Okta{}@example.com", uuid::Uuid::new_v4().simple());
        let r = raw_get(&app, &format!("/Users?filter=userName eq \"{random}\"")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["totalResults"], 0);

        // 6. Create with realistic values, as application/json.
        let create = json!({
            "schemas": [USER],
            "userName": random,
            "name": {"givenName": "Randy", "familyName": "Random"},
            "emails": [{"primary": true, "value": random, "type": "work"}],
            "displayName": "Randy Random",
            "active": true
        });
        let send_json = || {
            okta.client
                .request(reqwest::Method::POST, "/Users")
                .header("User-Agent", USER_AGENT)
                .header("Content-Type", "application/json")
                .body(create.to_string())
        };
        let r: Resp = ScimClient::send(send_json()).await;
        r.expect(201);
        assert_eq!(r.body["active"], true);
        let new_id = r.id();
        assert_eq!(r.body["name"]["givenName"], "Randy");
        assert_eq!(r.body["name"]["familyName"], "Random");
        assert!(r.body["schemas"].as_array().unwrap().contains(&json!(USER)));
        assert_eq!(r.body["userName"], random.as_str());

        // 7. Verify that the user was created.
        let r = okta.get(&format!("/Users/{new_id}")).await;
        r.expect(200);
        assert_eq!(r.body["userName"], random.as_str());
        assert_eq!(r.body["name"]["givenName"], "Randy");
        assert_eq!(r.body["name"]["familyName"], "Random");

        // 8. Recreating the same user fails with 409.
        let r = ScimClient::send(send_json()).await;
        r.expect_error(409, Some("uniqueness"));

        // 9. Username case sensitivity: the upper-cased name finds the user.
        let r = raw_get(&app, &format!("/Users?filter=userName eq \"{}\"", random.to_uppercase())).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["totalResults"], 1);
        assert_eq!(r.body["Resources"][0]["id"], new_id.as_str());

        // 10. Authorization: non-token → 401 on Users and Groups.
        for path in ["/Users", "/Groups", "/Users?count=1&startIndex=1"] {
            let rb =
                okta.client.with_token(None).request(reqwest::Method::GET, path).header("Authorization", "non-token");
            let r = ScimClient::send(rb.header("User-Agent", USER_AGENT)).await;
            expect_scim_error(&r, 401);
            assert_eq!(r.body["status"], "401");
        }

        // 11. Check status 404.
        let r = okta.get("/Users/00919288221112222").await;
        expect_scim_error(&r, 404);
        assert_eq!(r.body["status"], "404");
    })
    .await;
}
