//! /Users: create, read, replace, modify and delete (RFC 7644 §3.3–§3.6), with the
//! product rules on userName (unique per tenant case-insensitively, immutable once set).

use roster_testkit::body::{self, ENTERPRISE, USER};
use roster_testkit::each_backend;
use serde_json::{Value, json};

use crate::support::filter;

#[tokio::test]
async fn create_user_returns_201_with_location_etag_and_the_full_resource() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let r = scim
            .post(
                "/Users",
                &json!({
                    "schemas": [USER],
                    "userName": "bjensen",
                    "externalId": "ext-1",
                    "name": {"givenName": "Barbara", "familyName": "Jensen"},
                    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
                    "active": true
                }),
            )
            .await;
        r.expect(201);
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        let id = r.id();
        let location = format!("{}/Users/{id}", scim.base);
        assert_eq!(r.header("location"), Some(location.as_str()));
        assert_eq!(r.body["schemas"], json!([USER]));
        assert_eq!(r.body["userName"], "bjensen");
        assert_eq!(r.body["externalId"], "ext-1");
        assert_eq!(r.body["name"]["givenName"], "Barbara");
        assert_eq!(r.body["emails"][0]["value"], "bjensen@example.com");
        assert_eq!(r.body["emails"][0]["primary"], true);
        assert_eq!(r.body["active"], true);
        let meta = &r.body["meta"];
        assert_eq!(meta["resourceType"], "User");
        assert_eq!(meta["location"], location.as_str());
        assert_eq!(meta["created"], meta["lastModified"]);
        assert!(meta["created"].as_str().unwrap().ends_with('Z'), "{}", r.text);
        assert_eq!(meta["version"].as_str(), r.header("etag"));

        let got = scim.get(&format!("/Users/{id}")).await;
        got.expect(200);
        assert_eq!(got.body, r.body);
        assert_eq!(got.header("etag"), r.header("etag"));
        assert!(got.header("location").is_none());
    })
    .await;
}

#[tokio::test]
async fn create_ignores_client_supplied_id_meta_and_groups() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let r = scim
            .post(
                "/Users",
                &json!({
                    "schemas": [USER],
                    "userName": "r1",
                    "id": "chosen-by-client",
                    "meta": {"resourceType": "Group", "version": "W/\"99\""},
                    "groups": [{"value": "g"}]
                }),
            )
            .await;
        r.expect(201);
        assert_ne!(r.id(), "chosen-by-client");
        assert_eq!(r.body["meta"]["resourceType"], "User");
        assert_eq!(r.header("etag"), Some("W/\"1\""));
        assert!(r.body.get("groups").is_none(), "{}", r.text);
        scim.get("/Users/chosen-by-client").await.expect_error(404, None);
    })
    .await;
}

#[tokio::test]
async fn create_without_user_name_or_with_an_empty_one_is_400_invalid_value() {
    each_backend(|app| async move {
        let scim = &app.scim;
        scim.post("/Users", &json!({"schemas": [USER]})).await.expect_error(400, Some("invalidValue"));
        scim.post("/Users", &json!({"schemas": [USER], "userName": ""})).await.expect_error(400, Some("invalidValue"));
        scim.post("/Users", &json!({"schemas": [USER], "userName": "x", "active": "yes"}))
            .await
            .expect_error(400, Some("invalidValue"));
        let list = scim.get("/Users").await;
        assert_eq!(list.body["totalResults"], 0, "{}", list.text);
    })
    .await;
}

#[tokio::test]
async fn duplicate_user_name_in_any_case_is_409_uniqueness() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("a@x.io", json!({})).await;
        for dup in ["a@x.io", "A@X.IO", "A@x.io"] {
            scim.post("/Users", &body::user(dup)).await.expect_error(409, Some("uniqueness"));
        }
        let list = scim.get("/Users").await;
        assert_eq!(list.body["totalResults"], 1);
        assert_eq!(list.body["Resources"][0]["id"], id.as_str());
        assert_eq!(list.body["Resources"][0]["userName"], "a@x.io");
    })
    .await;
}

#[tokio::test]
async fn user_name_uniqueness_folds_unicode_case() {
    each_backend(|app| async move {
        let scim = &app.scim;
        scim.create_user("ÉLODIE@x.io", json!({})).await;
        scim.post("/Users", &body::user("élodie@x.io")).await.expect_error(409, Some("uniqueness"));
        let found = filter(scim, "/Users", "userName eq \"élodie@X.IO\"").await;
        assert_eq!(found.body["totalResults"], 1, "{}", found.text);
    })
    .await;
}

#[tokio::test]
async fn get_unknown_or_differently_cased_id_is_404() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("u1", json!({})).await;
        let r = scim.get("/Users/00919288221112222").await;
        r.expect_error(404, None);
        assert!(!r.body["detail"].as_str().unwrap_or_default().is_empty());
        scim.get(&format!("/Users/{}", id.to_uppercase())).await.expect_error(404, None);
        // A user id is not a group id.
        scim.get(&format!("/Groups/{id}")).await.expect_error(404, None);
    })
    .await;
}

#[tokio::test]
async fn put_replaces_the_user_and_clears_omitted_attributes() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let created = scim.post("/Users", &body::user("put@x.io")).await;
        created.expect(201);
        let id = created.id();
        let r = scim
            .put(
                &format!("/Users/{id}"),
                &json!({
                    "schemas": [USER],
                    "id": id,
                    "userName": "put@x.io",
                    "nickName": "P",
                    "active": false
                }),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["nickName"], "P");
        assert_eq!(r.body["active"], false);
        assert!(r.body.get("emails").is_none(), "{}", r.text);
        assert!(r.body.get("name").is_none(), "{}", r.text);
        assert!(r.body.get("displayName").is_none(), "{}", r.text);
        assert_eq!(r.header("etag"), Some("W/\"2\""));
        assert!(r.header("location").is_none());
        assert_eq!(r.body["meta"]["created"], created.body["meta"]["created"], "created never changes");
        let got = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(got.body, r.body);
    })
    .await;
}

#[tokio::test]
async fn put_never_creates_a_user() {
    each_backend(|app| async move {
        let scim = &app.scim;
        scim.put("/Users/does-not-exist", &body::user("ghost@x.io")).await.expect_error(404, None);
        let list = scim.get("/Users").await;
        assert_eq!(list.body["totalResults"], 0);
        // The userName is still free.
        scim.create_user("ghost@x.io", json!({})).await;
    })
    .await;
}

#[tokio::test]
async fn put_or_patch_changing_user_name_is_400_mutability_and_changes_nothing() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("keep@x.io", json!({"title": "T"})).await;
        let path = format!("/Users/{id}");
        let r = scim.put(&path, &json!({"schemas": [USER], "userName": "other@x.io", "title": "U"})).await;
        r.expect_error(400, Some("mutability"));
        scim.patch_ops(&path, json!([{"op": "replace", "path": "userName", "value": "new@x.io"}]))
            .await
            .expect_error(400, Some("mutability"));
        let got = scim.get(&path).await;
        assert_eq!(got.body["userName"], "keep@x.io");
        assert_eq!(got.body["title"], "T");
        assert_eq!(got.header("etag"), Some("W/\"1\""));

        // The same userName in another case is accepted and kept as stored.
        let same = scim.put(&path, &json!({"schemas": [USER], "userName": "KEEP@x.io", "title": "U"})).await;
        same.expect(200);
        assert_eq!(same.body["userName"], "keep@x.io");
        assert_eq!(same.body["title"], "U");
    })
    .await;
}

#[tokio::test]
async fn put_with_required_attribute_missing_is_400_and_changes_nothing() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("req@x.io", json!({"title": "T"})).await;
        let path = format!("/Users/{id}");
        scim.put(&path, &json!({"schemas": [USER], "title": "U"})).await.expect_error(400, Some("invalidValue"));
        let got = scim.get(&path).await;
        assert_eq!(got.body["title"], "T");
        assert_eq!(got.header("etag"), Some("W/\"1\""));
    })
    .await;
}

#[tokio::test]
async fn patch_answers_200_with_the_modified_user() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let created = scim.post("/Users", &body::user("p@x.io")).await;
        let id = created.id();
        let path = format!("/Users/{id}");
        let r = scim
            .patch_ops(
                &path,
                json!([
                    {"op": "add", "path": "emails", "value": [{"value": "home@x.io", "type": "home"}]},
                    {"op": "replace", "path": "name.familyName", "value": "Jensen-Smith"},
                    {"op": "add", "path": "nickName", "value": "Babs"},
                    {"op": "remove", "path": "displayName"}
                ]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        assert_eq!(r.header("etag"), Some("W/\"2\""));
        assert_eq!(r.body["name"]["familyName"], "Jensen-Smith");
        assert_eq!(r.body["name"]["givenName"], "Test");
        assert_eq!(r.body["nickName"], "Babs");
        assert!(r.body.get("displayName").is_none());
        assert_eq!(r.body["emails"].as_array().unwrap().len(), 2);
        assert_eq!(r.body["meta"]["created"], created.body["meta"]["created"]);
        let got = scim.get(&path).await;
        assert_eq!(got.body, r.body);
    })
    .await;
}

#[tokio::test]
async fn patch_that_changes_nothing_keeps_version_and_last_modified() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let created = scim.post("/Users", &body::user("same@x.io")).await;
        let id = created.id();
        app.clock.advance(time::Duration::seconds(5));
        let r = scim
            .patch_ops(
                &format!("/Users/{id}"),
                json!([
                    {"op": "replace", "path": "active", "value": true},
                    {"op": "add", "path": "emails", "value": [{"value": "same@x.io", "type": "work", "primary": true}]},
                    {"op": "remove", "path": "nickName"}
                ]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.header("etag"), Some("W/\"1\""));
        assert_eq!(r.body["meta"]["lastModified"], created.body["meta"]["lastModified"]);
        assert_eq!(r.body["emails"].as_array().unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn patch_errors_carry_the_right_scim_type_and_change_nothing() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let created = scim.post("/Users", &body::user("err@x.io")).await;
        let id = created.id();
        let path = format!("/Users/{id}");
        let cases: Vec<(Value, u16, &str)> = vec![
            // Remove needs a path.
            (json!({"schemas": [body::PATCH_OP], "Operations": [{"op": "remove"}]}), 400, "noTarget"),
            // Malformed path.
            (json!({"schemas": [body::PATCH_OP], "Operations": [{"op": "replace", "path": "emails[type eq", "value": "x"}]}), 400, "invalidPath"),
            // Read-only attributes.
            (json!({"schemas": [body::PATCH_OP], "Operations": [{"op": "replace", "path": "id", "value": "x"}]}), 400, "mutability"),
            (json!({"schemas": [body::PATCH_OP], "Operations": [{"op": "add", "path": "groups", "value": [{"value": "g"}]}]}), 400, "mutability"),
            // Removing a required attribute.
            (json!({"schemas": [body::PATCH_OP], "Operations": [{"op": "remove", "path": "userName"}]}), 400, "mutability"),
            // A value is required for add and replace.
            (json!({"schemas": [body::PATCH_OP], "Operations": [{"op": "add", "path": "nickName"}]}), 400, "invalidValue"),
            // Wrong type.
            (json!({"schemas": [body::PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": "maybe"}]}), 400, "invalidValue"),
            // Unknown op, missing or empty Operations.
            (json!({"schemas": [body::PATCH_OP], "Operations": [{"op": "merge", "path": "nickName", "value": "x"}]}), 400, "invalidSyntax"),
            (json!({"schemas": [body::PATCH_OP]}), 400, "invalidSyntax"),
            (json!({"schemas": [body::PATCH_OP], "Operations": []}), 400, "invalidSyntax"),
            // A filter that is not a conjunction of eq clauses and matches nothing.
            (json!({"schemas": [body::PATCH_OP], "Operations": [{"op": "replace", "path": "emails[value co \"nomatch\"].type", "value": "home"}]}), 400, "noTarget"),
            // Atomicity: a valid op followed by an invalid one applies neither.
            (json!({"schemas": [body::PATCH_OP], "Operations": [
                {"op": "replace", "path": "nickName", "value": "changed"},
                {"op": "replace", "path": "id", "value": "x"}
            ]}), 400, "mutability"),
        ];
        for (request, status, scim_type) in cases {
            let r = scim.patch(&path, &request).await;
            assert_eq!(r.status, status, "{request}: {}", r.text);
            r.expect_error(status, Some(scim_type));
        }
        let got = scim.get(&path).await;
        assert_eq!(got.header("etag"), Some("W/\"1\""));
        assert_eq!(got.body, created.body);
    })
    .await;
}

#[tokio::test]
async fn patch_on_unknown_id_is_404() {
    each_backend(|app| async move {
        app.scim
            .patch_ops("/Users/nope", json!([{"op": "replace", "path": "nickName", "value": "x"}]))
            .await
            .expect_error(404, None);
    })
    .await;
}

#[tokio::test]
async fn deleted_user_is_gone_everywhere_and_its_user_name_is_reusable() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("gone@x.io", json!({"externalId": "e-gone"})).await;
        let path = format!("/Users/{id}");
        let r = scim.delete(&path).await;
        r.expect(204);
        assert!(r.text.is_empty(), "204 has no body: {}", r.text);
        scim.get(&path).await.expect_error(404, None);
        scim.put(&path, &body::user("gone@x.io")).await.expect_error(404, None);
        scim.patch_ops(&path, json!([{"op": "add", "path": "nickName", "value": "x"}])).await.expect_error(404, None);
        scim.delete(&path).await.expect_error(404, None);
        let found = filter(scim, "/Users", "externalId eq \"e-gone\"").await;
        assert_eq!(found.body["totalResults"], 0);

        let again = scim.post("/Users", &body::user("GONE@x.io")).await;
        again.expect(201);
        assert_ne!(again.id(), id);
    })
    .await;
}

#[tokio::test]
async fn deactivated_user_stays_visible_to_get_and_filters() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("inactive@x.io", json!({})).await;
        scim.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "value": {"active": false}}]))
            .await
            .expect(200);
        let got = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(got.body["active"], false);
        let found = filter(scim, "/Users", "userName eq \"inactive@x.io\"").await;
        assert_eq!(found.body["totalResults"], 1);
        let inactive = filter(scim, "/Users", "active eq false").await;
        assert_eq!(inactive.body["Resources"][0]["id"], id.as_str());
    })
    .await;
}

#[tokio::test]
async fn password_is_accepted_and_never_returned() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let r = scim.post("/Users", &json!({"schemas": [USER], "userName": "pw", "password": "hunter2"})).await;
        r.expect(201);
        assert!(!r.text.contains("hunter2"));
        assert!(r.body.get("password").is_none());
        let id = r.id();
        let p = scim
            .patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": "password", "value": "hunter3"}]))
            .await;
        p.expect(200);
        assert!(!p.text.contains("hunter3"));
        let got = scim.get(&format!("/Users/{id}?attributes=password")).await;
        assert!(got.body.get("password").is_none(), "{}", got.text);
        filter(scim, "/Users", "password eq \"hunter2\"").await.expect_error(400, Some("invalidFilter"));
    })
    .await;
}

#[tokio::test]
async fn enterprise_manager_is_decorated_and_cleared_when_the_manager_is_deleted() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let boss = scim.create_user("boss@x.io", json!({"displayName": "The Boss"})).await;
        let report = scim.create_user("report@x.io", json!({})).await;
        let path = format!("/Users/{report}");
        // Entra sends the manager as a bare id (F-8).
        let r = scim
            .patch_ops(
                &path,
                json!([
                    {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": boss},
                    {"op": "Add", "path": format!("{ENTERPRISE}:department"), "value": "Ops"}
                ]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["schemas"], json!([USER, ENTERPRISE]));
        let manager = &r.body[ENTERPRISE]["manager"];
        assert_eq!(manager["value"], boss.as_str());
        assert_eq!(manager["displayName"], "The Boss");
        assert_eq!(manager["$ref"], format!("{}/Users/{boss}", scim.base).as_str());
        let by_manager = filter(scim, "/Users", &format!("{ENTERPRISE}:manager.value eq \"{boss}\"")).await;
        assert_eq!(by_manager.body["totalResults"], 1, "{}", by_manager.text);

        scim.delete(&format!("/Users/{boss}")).await.expect(204);
        let got = scim.get(&path).await;
        got.expect(200);
        assert!(got.body[ENTERPRISE].get("manager").is_none(), "{}", got.text);
        assert_eq!(got.body[ENTERPRISE]["department"], "Ops");
        assert_eq!(got.header("etag"), Some("W/\"3\""));
        let by_manager = filter(scim, "/Users", &format!("{ENTERPRISE}:manager.value eq \"{boss}\"")).await;
        assert_eq!(by_manager.body["totalResults"], 0, "{}", by_manager.text);
    })
    .await;
}

#[tokio::test]
async fn removing_the_last_extension_attribute_drops_the_extension_schema() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim
            .create_user("ext@x.io", json!({"schemas": [USER, ENTERPRISE], ENTERPRISE: {"employeeNumber": "7"}}))
            .await;
        let path = format!("/Users/{id}");
        let got = scim.get(&path).await;
        assert_eq!(got.body["schemas"], json!([USER, ENTERPRISE]));
        let r = scim.patch_ops(&path, json!([{"op": "remove", "path": format!("{ENTERPRISE}:employeeNumber")}])).await;
        r.expect(200);
        assert_eq!(r.body["schemas"], json!([USER]), "{}", r.text);
        assert!(r.body.get(ENTERPRISE).is_none());
    })
    .await;
}
