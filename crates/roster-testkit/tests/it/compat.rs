//! The request-handling leniencies of Part F, end to end: content types, string booleans,
//! query-string quirks (unknown parameters, `+`, raw `"` in the request line), case-insensitive
//! names, unknown schemas and attributes, and the IdP request shapes that depend on them.

use roster_core::TenantSettings;
use roster_core::model::StrictOrLenient;
use roster_testkit::body::{self, ENTERPRISE, GROUP, USER};
use roster_testkit::{Resp, ScimClient, each_backend, each_backend_with};
use serde_json::{Value, json};

use crate::support::{enc, filter, raw_http};

async fn post_with(scim: &ScimClient, path: &str, content_type: Option<&str>, body: &Value) -> Resp {
    let mut rb = scim.request(reqwest::Method::POST, path).body(body.to_string());
    if let Some(ct) = content_type {
        rb = rb.header("Content-Type", ct);
    }
    ScimClient::send(rb).await
}

#[tokio::test]
async fn json_bodies_are_accepted_under_any_json_content_type_or_none() {
    each_backend(|app| async move {
        let scim = &app.scim;
        for (i, ct) in [
            Some("application/json"),
            Some("application/scim+json; charset=utf-8"),
            Some("application/json; charset=UTF-8"),
            Some("APPLICATION/SCIM+JSON"),
            None,
        ]
        .into_iter()
        .enumerate()
        {
            let r = post_with(scim, "/Users", ct, &body::user(&format!("ct{i}@x.io"))).await;
            assert_eq!(r.status, 201, "{ct:?}: {}", r.text);
            assert_eq!(r.header("content-type"), Some("application/scim+json"));
        }
        // GET and DELETE need no Content-Type (Entra's Test Connection sends none).
        let id = scim.create_user("nocontent@x.io", json!({})).await;
        let r = ScimClient::send(scim.request(reqwest::Method::GET, &format!("/Users/{id}"))).await;
        r.expect(200);
        let r = ScimClient::send(scim.request(reqwest::Method::DELETE, &format!("/Users/{id}"))).await;
        r.expect(204);
    })
    .await;
}

#[tokio::test]
async fn every_response_is_scim_json_whatever_the_accept_header() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("accept@x.io", json!({})).await;
        for accept in [None, Some("*/*"), Some("application/json"), Some("application/scim+json")] {
            for (path, token, status) in [
                (format!("/Users/{id}"), true, 200),
                ("/Users?filter=userName%20eq%20%22accept%40x.io%22".to_string(), true, 200),
                ("/Users/nope".to_string(), true, 404),
                ("/Users".to_string(), false, 401),
                ("/Nope/x/y".to_string(), true, 404),
                ("/ServiceProviderConfig".to_string(), false, 200),
                ("/Me".to_string(), true, 501),
            ] {
                let client = if token { scim.clone() } else { scim.with_token(None) };
                let mut rb = client.request(reqwest::Method::GET, &path);
                if let Some(a) = accept {
                    rb = rb.header("Accept", a);
                }
                let r = ScimClient::send(rb).await;
                assert_eq!(r.status, status, "{accept:?} {path}: {}", r.text);
                assert_eq!(r.header("content-type"), Some("application/scim+json"), "{accept:?} {path}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn string_booleans_are_read_as_booleans_and_emitted_as_json_booleans() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let r = scim
            .post(
                "/Users",
                &json!({
                    "schemas": [USER], "userName": "sb@x.io", "active": "False",
                    "roles": [{"value": "admin", "primary": "True"}],
                    "emails": [{"value": "sb@x.io", "primary": "true"}]
                }),
            )
            .await;
        r.expect(201);
        assert_eq!(r.body["active"], json!(false));
        assert_eq!(r.body["roles"][0]["primary"], json!(true));
        assert_eq!(r.body["emails"][0]["primary"], json!(true));
        let id = r.id();
        let path = format!("/Users/{id}");
        // Entra legacy: {"op":"Replace","path":"active","value":"True"}.
        let r = scim.patch_ops(&path, json!([{"op": "Replace", "path": "active", "value": "True"}])).await;
        r.expect(200);
        assert_eq!(r.body["active"], json!(true));
        // Path-less value objects too.
        let r = scim.patch_ops(&path, json!([{"op": "replace", "value": {"active": "FALSE"}}])).await;
        r.expect(200);
        assert_eq!(r.body["active"], json!(false));
        let r = scim.put(&path, &json!({"schemas": [USER], "userName": "sb@x.io", "active": "true"})).await;
        r.expect(200);
        assert_eq!(r.body["active"], json!(true));
        // Stored as a boolean: a boolean filter finds it.
        let found = filter(scim, "/Users", "active eq true").await;
        assert_eq!(found.body["totalResults"], 1);
        // Anything else is not a boolean.
        scim.patch_ops(&path, json!([{"op": "replace", "path": "active", "value": "yes"}]))
            .await
            .expect_error(400, Some("invalidValue"));
        scim.patch_ops(&path, json!([{"op": "replace", "path": "active", "value": 1}]))
            .await
            .expect_error(400, Some("invalidValue"));
        assert_eq!(scim.get(&path).await.body["active"], json!(true));
    })
    .await;
}

#[tokio::test]
async fn unknown_and_empty_query_parameters_are_ignored_and_names_match_in_any_case() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("a@x.io", json!({"title": "T"})).await;
        scim.create_user("b@x.io", json!({})).await;
        // Entra's flag, a trailing &, `+` for spaces (OneLogin).
        let r = scim.get("/Users?aadOptscim062020&filter=userName+eq+%22a%40x.io%22&").await;
        r.expect(200);
        assert_eq!(r.body["totalResults"], 1, "{}", r.text);
        assert_eq!(r.body["Resources"][0]["id"], id.as_str());
        let r = scim.get("/Users?&&domain=PRIMARY&=x&count=1&").await;
        r.expect(200);
        assert_eq!(r.body["totalResults"], 2);
        assert_eq!(r.body["itemsPerPage"], 1);
        let r = scim
            .get(&format!("/Users?FILTER={}&Count=5&STARTINDEX=1&ATTRIBUTES=title", enc("USERNAME eq \"A@X.IO\"")))
            .await;
        r.expect(200);
        assert_eq!(r.body["totalResults"], 1);
        assert_eq!(r.body["Resources"][0]["title"], "T");
        assert!(r.body["Resources"][0].get("userName").is_none());
        let r = scim.get(&format!("/Users/{id}?excludedattributes=title&x=1")).await;
        r.expect(200);
        assert!(r.body.get("title").is_none());
        assert_eq!(r.body["userName"], "a@x.io");
        // %20 and + both mean space; a literal + travels as %2B.
        let plus = scim.create_user("c+d@x.io", json!({})).await;
        let r = scim.get("/Users?filter=userName%20eq%20%22c%2Bd%40x.io%22").await;
        assert_eq!(r.body["Resources"][0]["id"], plus.as_str(), "{}", r.text);
    })
    .await;
}

#[tokio::test]
async fn raw_quotes_and_plus_signs_in_the_request_line_are_accepted() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("raw@x.io", json!({})).await;
        let host = app.addr;
        for target in [
            "/scim/v2/default/Users?filter=userName%20eq%20\"raw@x.io\"",
            "/scim/v2/default/Users?filter=userName+eq+\"raw@x.io\"",
            "/scim/v2/default/Users?filter=userName+eq+\"RAW@x.io\"&startIndex=1&count=100",
        ] {
            let request = format!(
                "GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nAccept: application/scim+json\r\nConnection: close\r\n\r\n",
                app.token
            );
            let r = raw_http(app.addr, request.as_bytes()).await;
            assert_eq!(r.status, 200, "{target}: {}", r.text);
            assert_eq!(r.header("content-type"), Some("application/scim+json"));
            assert_eq!(r.body["totalResults"], 1, "{target}: {}", r.text);
            assert_eq!(r.body["Resources"][0]["id"], id.as_str());
        }
        // A raw request without a token gets a SCIM 401 too.
        let request = format!(
            "GET /scim/v2/default/Users?filter=userName+eq+\"raw@x.io\" HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        );
        let r = raw_http(app.addr, request.as_bytes()).await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        assert_eq!(r.body["status"], "401");
    })
    .await;
}

#[tokio::test]
async fn patch_op_names_and_json_member_names_match_in_any_case() {
    each_backend(|app| async move {
        let scim = &app.scim;
        // POST with odd casing of member names (F-17): output is canonical.
        let r = scim
            .post(
                "/Users",
                &json!({"Schemas": [USER], "UserName": "case@x.io", "NAME": {"GIVENNAME": "G"}, "Active": true}),
            )
            .await;
        r.expect(201);
        assert_eq!(r.body["userName"], "case@x.io");
        assert_eq!(r.body["name"]["givenName"], "G");
        assert_eq!(r.body["active"], true);
        assert!(r.body.get("UserName").is_none());
        let path = format!("/Users/{}", r.id());
        for (op, path_attr, value) in [
            ("Add", "nickName", json!("n1")),
            ("REPLACE", "nickName", json!("n2")),
            ("rePlace", "title", json!("t")),
            ("ADD", "displayName", json!("d")),
        ] {
            let r = scim.patch_ops(&path, json!([{"op": op, "path": path_attr, "value": value}])).await;
            assert_eq!(r.status, 200, "{op}: {}", r.text);
        }
        let r = scim
            .patch(&path, &json!({"schemas": [body::PATCH_OP], "operations": [{"OP": "Remove", "PATH": "title"}]}))
            .await;
        r.expect(200);
        assert!(r.body.get("title").is_none());
        assert_eq!(r.body["nickName"], "n2");
        assert_eq!(r.body["displayName"], "d");
        // The PatchOp schema may be missing.
        let r = scim.patch(&path, &json!({"Operations": [{"op": "remove", "path": "nickName"}]})).await;
        r.expect(200);
        assert!(r.body.get("nickName").is_none());
    })
    .await;
}

#[tokio::test]
async fn unknown_schemas_are_ignored_and_missing_schemas_accepted() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let r = scim
            .post(
                "/Groups",
                &json!({"schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"], "displayName": "Sales"}),
            )
            .await;
        r.expect(201);
        assert_eq!(r.body["schemas"], json!([GROUP]));
        let r = scim
            .post(
                "/Users",
                &json!({"schemas": ["urn:scim:schemas:core:2.0", "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"], "userName": "onelogin@x.io"}),
            )
            .await;
        r.expect(201);
        assert_eq!(r.body["schemas"], json!([USER]));
        let r = scim.post("/Users", &json!({"userName": "wso2@x.io"})).await;
        r.expect(201);
        assert_eq!(r.body["schemas"], json!([USER]));
        // Okta sends `groups: []` and a password on create.
        let r = scim
            .post(
                "/Users",
                &json!({"schemas": [USER], "userName": "okta@x.io", "groups": [], "password": "p"}),
            )
            .await;
        r.expect(201);
        assert!(r.body.get("groups").is_none());
    })
    .await;
}

#[tokio::test]
async fn unknown_attributes_are_ignored_by_default() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let r = scim
            .post(
                "/Users",
                &json!({"schemas": [USER], "userName": "u@x.io", "favouriteColour": "blue"}),
            )
            .await;
        r.expect(201);
        assert!(r.body.get("favouriteColour").is_none());
        let id = r.id();
        let r = scim
            .patch_ops(
                &format!("/Users/{id}"),
                json!([{"op": "replace", "path": "favouriteColour", "value": "red"}, {"op": "replace", "path": "title", "value": "T"}]),
            )
            .await;
        r.expect(200);
        assert!(r.body.get("favouriteColour").is_none());
        assert_eq!(r.body["title"], "T");
    })
    .await;
}

#[tokio::test]
async fn unknown_attributes_are_refused_by_a_strict_tenant() {
    let settings = TenantSettings { unknown_attributes: StrictOrLenient::Strict, ..TenantSettings::default() };
    each_backend_with(settings, |app| async move {
        let scim = &app.scim;
        scim.post("/Users", &json!({"schemas": [USER], "userName": "u@x.io", "favouriteColour": "blue"}))
            .await
            .expect_error(400, Some("invalidSyntax"));
        assert_eq!(scim.get("/Users").await.body["totalResults"], 0);
        let id = scim.create_user("u@x.io", json!({})).await;
        scim.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": "favouriteColour", "value": "red"}]))
            .await
            .expect_error(400, Some("invalidPath"));
        assert_eq!(scim.get(&format!("/Users/{id}")).await.header("etag"), Some("W/\"1\""));
    })
    .await;
}

#[tokio::test]
async fn entra_patch_shapes_apply_as_intended() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let manager = scim.create_user("mgr@x.io", json!({"displayName": "Mgr"})).await;
        let id = scim.create_user("entra@x.io", json!({})).await;
        let path = format!("/Users/{id}");
        // Path-less replace with dotted and URN-qualified keys (F-7).
        let r = scim
            .patch_ops(
                &path,
                json!([{"op": "Replace", "value": {
                    "name.givenName": "G",
                    "name.familyName": "F",
                    format!("{ENTERPRISE}:department"): "Ops"
                }}]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["name"], json!({"givenName": "G", "familyName": "F"}));
        assert_eq!(r.body[ENTERPRISE]["department"], "Ops");
        assert_eq!(r.body["schemas"], json!([USER, ENTERPRISE]));
        // Value-path upserts (F-6): two ops on the same new element make one element.
        let r = scim
            .patch_ops(
                &path,
                json!([
                    {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "w@x.io"},
                    {"op": "Add", "path": "emails[type eq \"work\"].primary", "value": true},
                    {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main"},
                    {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 (555) 555-5555"}
                ]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["emails"], json!([{"type": "work", "value": "w@x.io", "primary": true}]));
        assert_eq!(r.body["addresses"][0]["streetAddress"], "1 Main");
        assert_eq!(r.body["addresses"][0]["type"], "work");
        // Stored exactly as sent (F-15).
        assert_eq!(r.body["phoneNumbers"][0]["value"], "+1 (555) 555-5555");
        // Manager as a bare string (F-8), then removed with an empty value.
        let r = scim
            .patch_ops(&path, json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": manager}]))
            .await;
        r.expect(200);
        assert_eq!(r.body[ENTERPRISE]["manager"]["value"], manager.as_str());
        assert_eq!(r.body[ENTERPRISE]["manager"]["displayName"], "Mgr");
        let r = scim
            .patch_ops(
                &path,
                json!([{"op": "Replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": ""}}]),
            )
            .await;
        r.expect(200);
        assert!(r.body[ENTERPRISE].get("manager").is_none(), "{}", r.text);
        // An empty string unassigns an optional attribute (F-11).
        let r = scim.patch_ops(&path, json!([{"op": "replace", "path": "name.givenName", "value": ""}])).await;
        r.expect(200);
        assert_eq!(r.body["name"], json!({"familyName": "F"}));
        // Free-form strings are not format-checked (F-27).
        let r = scim
            .patch_ops(
                &path,
                json!([{"op": "replace", "value": {"timezone": "Foo/Bar", "locale": "xx", "preferredLanguage": "??"}}]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["timezone"], "Foo/Bar");
        let got = scim.get(&path).await;
        assert_eq!(got.body, r.body);
    })
    .await;
}
