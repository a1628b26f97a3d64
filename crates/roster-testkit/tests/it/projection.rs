//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) on every response that
//! carries a resource: GET by id, lists, /.search, and the responses of POST, PUT and PATCH.

use roster_testkit::body::{self, ENTERPRISE, GROUP, USER};
use roster_testkit::each_backend;
use serde_json::{Map, Value, json};

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().map(Map::keys).into_iter().flatten().cloned().collect();
    k.sort();
    k
}

fn rich_user() -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": "bjensen",
        "displayName": "Babs",
        "title": "Guide",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "b@x.io", "type": "work", "primary": true}],
        ENTERPRISE: {"employeeNumber": "701984", "department": "Tours"}
    })
}

#[tokio::test]
async fn attributes_keep_only_the_named_attributes_plus_id_and_schemas() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.post("/Users", &rich_user()).await.id();
        let r = scim.get(&format!("/Users/{id}?attributes=userName,name.givenName")).await;
        r.expect(200);
        assert_eq!(keys(&r.body), vec!["id", "name", "schemas", "userName"]);
        assert_eq!(r.body["name"], json!({"givenName": "Barbara"}));

        // Case-insensitive names, whole complex attributes, sub-attributes of multi-valued ones.
        let r = scim.get(&format!("/Users/{id}?attributes=NAME,emails.value")).await;
        assert_eq!(keys(&r.body), vec!["emails", "id", "name", "schemas"]);
        assert_eq!(r.body["name"]["familyName"], "Jensen");
        assert_eq!(r.body["emails"], json!([{"value": "b@x.io"}]));

        // Extension attributes by URN-qualified name, or the whole extension by its URN.
        let r = scim.get(&format!("/Users/{id}?attributes={ENTERPRISE}:employeeNumber")).await;
        assert_eq!(keys(&r.body), {
            let mut k = vec!["id".to_string(), "schemas".into(), ENTERPRISE.into()];
            k.sort();
            k
        });
        assert_eq!(r.body[ENTERPRISE], json!({"employeeNumber": "701984"}));
        let r = scim.get(&format!("/Users/{id}?attributes={ENTERPRISE}")).await;
        assert_eq!(r.body[ENTERPRISE], json!({"employeeNumber": "701984", "department": "Tours"}));

        // Unknown names select nothing.
        let r = scim.get(&format!("/Users/{id}?attributes=noSuchThing")).await;
        r.expect(200);
        assert_eq!(keys(&r.body), vec!["id", "schemas"]);
    })
    .await;
}

#[tokio::test]
async fn excluded_attributes_drop_attributes_but_never_id() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.post("/Users", &rich_user()).await.id();
        let r = scim
            .get(&format!("/Users/{id}?excludedAttributes=emails,name.familyName,id,{ENTERPRISE}:department"))
            .await;
        r.expect(200);
        assert_eq!(r.body["id"], id.as_str());
        assert!(r.body.get("emails").is_none());
        assert_eq!(r.body["name"], json!({"givenName": "Barbara"}));
        assert_eq!(r.body[ENTERPRISE], json!({"employeeNumber": "701984"}));
        assert_eq!(r.body["userName"], "bjensen");
        assert_eq!(r.body["title"], "Guide");
    })
    .await;
}

#[tokio::test]
async fn attributes_and_excluded_attributes_together_are_400_invalid_value() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("a", json!({})).await;
        scim.get(&format!("/Users/{id}?attributes=userName&excludedAttributes=emails"))
            .await
            .expect_error(400, Some("invalidValue"));
        scim.get("/Users?attributes=userName&excludedAttributes=emails").await.expect_error(400, Some("invalidValue"));
        scim.post("/Users/.search", &json!({"attributes": ["userName"], "excludedAttributes": ["emails"]}))
            .await
            .expect_error(400, Some("invalidValue"));
        // Nothing is created when the projection of a POST is refused.
        scim.post("/Users?attributes=userName&excludedAttributes=emails", &body::user("b"))
            .await
            .expect_error(400, Some("invalidValue"));
        assert_eq!(scim.get("/Users").await.body["totalResults"], 1);
    })
    .await;
}

#[tokio::test]
async fn post_put_and_patch_responses_honour_the_projection() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let r = scim
            .post("/Users?attributes=userName", &rich_user())
            .await;
        r.expect(201);
        assert_eq!(keys(&r.body), vec!["id", "schemas", "userName"]);
        assert!(r.header("location").is_some());
        assert!(r.header("etag").is_some());
        let id = r.id();
        // The projection shaped only the response: the stored user is whole.
        let got = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(got.body["title"], "Guide");

        let mut replacement = rich_user();
        replacement["title"] = json!("Senior Guide");
        let r = scim
            .put(&format!("/Users/{id}?excludedAttributes=emails,name"), &replacement)
            .await;
        r.expect(200);
        assert!(r.body.get("emails").is_none());
        assert!(r.body.get("name").is_none());
        assert_eq!(r.body["title"], "Senior Guide");

        let r = scim
            .patch(
                &format!("/Users/{id}?attributes=nickName"),
                &json!({"schemas": [body::PATCH_OP], "Operations": [{"op": "add", "path": "nickName", "value": "Babs"}]}),
            )
            .await;
        r.expect(200);
        assert_eq!(keys(&r.body), vec!["id", "nickName", "schemas"]);
    })
    .await;
}

#[tokio::test]
async fn lists_and_searches_project_every_resource() {
    each_backend(|app| async move {
        let scim = &app.scim;
        scim.post("/Users", &rich_user()).await.expect(201);
        scim.post("/Users", &body::user("second@x.io")).await.expect(201);
        let r = scim.get("/Users?attributes=userName").await;
        r.expect(200);
        for res in r.body["Resources"].as_array().unwrap() {
            assert_eq!(keys(res), vec!["id", "schemas", "userName"]);
        }
        let r = scim.post("/Users/.search", &json!({"excludedAttributes": ["emails", "meta"]})).await;
        for res in r.body["Resources"].as_array().unwrap() {
            assert!(res.get("emails").is_none());
            assert!(res.get("meta").is_none());
            assert!(res.get("userName").is_some());
        }
    })
    .await;
}

#[tokio::test]
async fn excluded_members_leave_the_members_key_out_entirely() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let u = scim.create_user("m@x.io", json!({})).await;
        let r = scim
            .post(
                "/Groups?excludedAttributes=members",
                &json!({"schemas": [GROUP], "displayName": "Big", "members": [{"value": u}]}),
            )
            .await;
        r.expect(201);
        assert!(r.body.get("members").is_none(), "{}", r.text);
        let gid = r.id();
        let got = scim
            .get(&format!("/Groups/{gid}?excludedAttributes=members"))
            .await;
        assert!(got.body.get("members").is_none(), "{}", got.text);
        assert_eq!(got.body["displayName"], "Big");
        let list = scim.get("/Groups?excludedAttributes=members").await;
        assert!(list.body["Resources"][0].get("members").is_none());
        let patched = scim
            .patch(
                &format!("/Groups/{gid}?excludedAttributes=members"),
                &json!({"schemas": [body::PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Bigger"}]}),
            )
            .await;
        patched.expect(200);
        assert!(patched.body.get("members").is_none());
        // Without the exclusion the members are there.
        let got = scim.get(&format!("/Groups/{gid}")).await;
        assert_eq!(got.body["members"][0]["value"], u.as_str());
        // And a user's derived groups can be excluded too.
        let user = scim
            .get(&format!("/Users/{u}?excludedAttributes=groups"))
            .await;
        assert!(user.body.get("groups").is_none());
        let user = scim.get(&format!("/Users/{u}?attributes=groups")).await;
        assert_eq!(user.body["groups"][0]["value"], gid.as_str());
    })
    .await;
}
