//! One test per compatibility rule of Part F (F-1 … F-30), named after the rule, each
//! pushing at the edges the IdP replays do not reach: odd casing, mixed shapes in one
//! request, retries, values that look like other types, and the strict settings.

use futures_util::future::join_all;
use roster_core::audit::Actor;
use roster_core::model::{GroupPatchResponse, RejectOrAllow, StrictOrLenient};
use roster_core::tenants::DEFAULT_TENANT;
use roster_core::{Idp, TenantSettings};
use roster_testkit::body::{self, ENTERPRISE, GROUP, PATCH_OP, USER};
use roster_testkit::{Resp, ScimClient, TestApp, each_backend};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::idp_entra::{Wire, assert_no_nulls, assert_note, expect_empty_list, expect_scim_error, log_row, single};
use crate::support::{enc, filter, ids, member_ids, raw_http};

const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:roster:2.0:User";

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn set(app: &TestApp, change: impl FnOnce(&mut TenantSettings)) {
    let mut settings = app.core.tenant(DEFAULT_TENANT).await.unwrap().settings;
    change(&mut settings);
    app.core.update_tenant_settings(DEFAULT_TENANT, settings).await.unwrap();
}

async fn define(app: &TestApp, name: &str, ty: &str) {
    app.core.define_attribute(&Actor::system(), DEFAULT_TENANT, name, ty, false, "").await.unwrap();
}

async fn version(scim: &ScimClient, path: &str) -> Value {
    scim.get(path).await.body["meta"]["version"].clone()
}

#[tokio::test]
async fn f01_patch_op_names_match_in_any_case() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("f01@x.io", json!({})).await;
        let path = format!("/Users/{id}");
        let r = scim
            .patch_ops(
                &path,
                json!([
                    {"op": "ADD", "path": "title", "value": "t1"},
                    {"op": "rEpLaCe", "path": "title", "value": "t2"},
                    {"op": "Add", "path": "nickName", "value": "n"},
                    {"op": "REMOVE", "path": "nickName"}
                ]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["title"], "t2");
        assert!(r.body.get("nickName").is_none());
        let gid = scim.create_group("F01", &[]).await;
        let r = scim
            .patch_ops(&format!("/Groups/{gid}"), json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]))
            .await;
        r.expect(200);
        assert_eq!(member_ids(&r.body), vec![id.clone()]);
        // Case-insensitive does not mean anything goes.
        scim.patch_ops(&path, json!([{"op": "merge", "path": "title", "value": "x"}])).await.expect(400);
        scim.patch_ops(&path, json!([{"op": "Replace ", "path": "title", "value": "x"}])).await.expect(400);
        assert_eq!(scim.get(&path).await.body["title"], "t2");
    })
    .await;
}

#[tokio::test]
async fn f02_string_booleans_are_coerced_everywhere_and_other_strings_refused() {
    each_backend(|app| async move {
        define(&app, "badge", "boolean").await;
        let scim = &app.scim;
        let r = scim
            .post(
                "/Users",
                &json!({
                    "schemas": [USER, CUSTOM], "userName": "f02@x.io", "active": "TRUE",
                    "emails": [{"value": "w@x.io", "type": "work", "primary": "False"}, {"value": "h@x.io", "type": "home", "primary": "tRuE"}],
                    CUSTOM: {"badge": "false"}
                }),
            )
            .await;
        r.expect(201);
        assert_eq!(r.body["active"], json!(true));
        assert_eq!(r.body["emails"][0]["primary"], json!(false));
        assert_eq!(r.body["emails"][1]["primary"], json!(true));
        assert_eq!(r.body[CUSTOM]["badge"], json!(false));
        assert_note(&log_row(&app, &r).await, "string boolean coerced (F-2)");
        let id = r.id();
        let path = format!("/Users/{id}");
        // Filter literals: `[primary eq "True"]` and `active eq "true"`.
        let r = filter(scim, "/Users", "emails[primary eq \"True\"].value eq \"h@x.io\"").await;
        assert_eq!(single(&r)["id"], id.as_str());
        assert_eq!(single(&filter(scim, "/Users", "active eq \"true\"").await)["id"], id.as_str());
        assert_eq!(single(&filter(scim, "/Users", &format!("{CUSTOM}:badge eq \"False\"")).await)["id"], id.as_str());
        // PATCH values: by path, path-less, and inside a value path.
        let r = scim
            .patch_ops(
                &path,
                json!([
                    {"op": "replace", "value": {"active": "False", format!("{CUSTOM}:badge"): "True"}},
                    {"op": "replace", "path": "emails[type eq \"work\"].primary", "value": "True"}
                ]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["active"], json!(false));
        assert_eq!(r.body[CUSTOM]["badge"], json!(true));
        assert_eq!(r.body["emails"][0]["primary"], json!(true));
        assert_ne!(r.body["emails"][1]["primary"], json!(true), "one primary at most: {}", r.text);
        // Anything that is not true/false is refused and nothing changes.
        for bad in [json!("yes"), json!("1"), json!(0), json!("truee"), json!(["true"])] {
            scim.patch_ops(&path, json!([{"op": "replace", "path": "active", "value": bad}]))
                .await
                .expect_error(400, Some("invalidValue"));
        }
        scim.post("/Users", &json!({"schemas": [USER], "userName": "f02b@x.io", "active": "no"}))
            .await
            .expect_error(400, Some("invalidValue"));
        assert_eq!(scim.get(&path).await.body["active"], json!(false));
    })
    .await;
}

#[tokio::test]
async fn f03_any_json_content_type_is_read_and_every_answer_is_scim_json() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let send = |method: reqwest::Method, path: &str, ct: Option<&str>, body: String| {
            let mut rb = scim.request(method, path).body(body);
            if let Some(ct) = ct {
                rb = rb.header("Content-Type", ct);
            }
            ScimClient::send(rb)
        };
        let r = send(
            reqwest::Method::POST,
            "/Users",
            Some("application/scim+json;charset=UTF-8"),
            body::user("f03@x.io").to_string(),
        )
        .await;
        r.expect(201);
        let path = format!("/Users/{}", r.id());
        let patch =
            json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "title", "value": "T"}]}).to_string();
        for ct in [Some("application/json"), Some("application/scim+json; charset=utf-8"), None] {
            let r = send(reqwest::Method::PATCH, &path, ct, patch.clone()).await;
            assert_eq!(r.status, 200, "{ct:?}: {}", r.text);
            assert_eq!(r.header("content-type"), Some("application/scim+json"));
        }
        // A body that is not JSON, whatever it claims to be.
        for (ct, body) in [
            (Some("application/x-www-form-urlencoded"), "userName=f03b%40x.io".to_string()),
            (Some("application/scim+json"), "{\"userName\": ".to_string()),
            (Some("application/json"), String::new()),
        ] {
            let r = send(reqwest::Method::POST, "/Users", ct, body).await;
            r.expect_error(400, Some("invalidSyntax"));
        }
        // Accept headers IdPs send never change the answer's type.
        for accept in ["application/json", "*/*", "application/scim+json, application/json;q=0.9", "text/html"] {
            let r = ScimClient::send(scim.request(reqwest::Method::GET, &path).header("Accept", accept)).await;
            r.expect(200);
            assert_eq!(r.header("content-type"), Some("application/scim+json"), "{accept}");
        }
        // Clients that ask before sending a body (`Expect: 100-continue`, as .NET clients may).
        let user = json!({"schemas": [USER], "userName": "expect@x.io"}).to_string();
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let head = format!(
            "POST /scim/v2/default/Users HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json; charset=utf-8\r\nExpect: 100-continue\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            app.token,
            user.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut interim = [0u8; 25];
        stream.read_exact(&mut interim).await.unwrap();
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        stream.write_all(user.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 201 Created"), "{answer}");
        // DELETE without a Content-Type or body.
        ScimClient::send(scim.request(reqwest::Method::DELETE, &path)).await.expect(204);
    })
    .await;
}

#[tokio::test]
async fn f04_remove_with_a_value_list_removes_only_the_listed_values() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let mut u = Vec::new();
        for i in 0..3 {
            u.push(scim.create_user(&format!("f04-{i}@x.io"), json!({})).await);
        }
        let gid = scim.create_group("F04", &[&u[0], &u[1], &u[2]]).await;
        let gpath = format!("/Groups/{gid}");
        let r = scim
            .patch_ops(&gpath, json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": u[0]}]}]))
            .await;
        r.expect(200);
        assert_eq!(member_ids(&r.body), sorted(vec![u[1].clone(), u[2].clone()]));
        assert_note(&log_row(&app, &r).await, "remove with value list: only listed values removed (F-4)");
        // An empty list removes nothing.
        let before = version(scim, &gpath).await;
        let r = scim.patch_ops(&gpath, json!([{"op": "remove", "path": "members", "value": []}])).await;
        r.expect(200);
        assert_eq!(member_ids(&r.body).len(), 2);
        assert_eq!(r.body["meta"]["version"], before);
        // On a user's emails: whole-element equality when the elements are compared as given.
        let id = scim
            .create_user(
                "f04@x.io",
                json!({"emails": [{"value": "a@x.io", "type": "work"}, {"value": "b@x.io", "type": "home"}, {"value": "c@x.io", "type": "other"}]}),
            )
            .await;
        let r = scim
            .patch_ops(
                &format!("/Users/{id}"),
                json!([{"op": "remove", "path": "emails", "value": [{"value": "b@x.io", "type": "home"}]}]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["emails"], json!([{"value": "a@x.io", "type": "work"}, {"value": "c@x.io", "type": "other"}]));
        // Without a value, the RFC meaning: all members go.
        let r = scim.patch_ops(&gpath, json!([{"op": "remove", "path": "members"}])).await;
        r.expect(200);
        assert_eq!(member_ids(&r.body), Vec::<String>::new());
    })
    .await;
}

#[tokio::test]
async fn f05_adding_what_exists_is_a_no_op_and_members_are_deduplicated() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let a = scim.create_user("f05a@x.io", json!({"emails": [{"value": "a@x.io", "type": "work"}]})).await;
        let b = scim.create_user("f05b@x.io", json!({})).await;
        // Duplicates inside one create and inside one PATCH.
        let r = scim
            .post(
                "/Groups",
                &json!({"schemas": [GROUP], "displayName": "F05", "members": [{"value": a}, {"value": a}]}),
            )
            .await;
        r.expect(201);
        assert_eq!(member_ids(&r.body), vec![a.clone()]);
        let gpath = format!("/Groups/{}", r.id());
        let r = scim
            .patch_ops(
                &gpath,
                json!([{"op": "add", "path": "members", "value": [{"value": b}, {"value": b}, {"value": a}]}]),
            )
            .await;
        r.expect(200);
        assert_eq!(member_ids(&r.body), sorted(vec![a.clone(), b.clone()]));
        // A resend: no change, same version and lastModified.
        let before = scim.get(&gpath).await.body["meta"].clone();
        let r = scim
            .patch_ops(&gpath, json!([{"op": "Add", "path": "members", "value": [{"value": a}, {"value": b}]}]))
            .await;
        r.expect(200);
        assert_eq!(r.body["meta"]["version"], before["version"]);
        assert_eq!(r.body["meta"]["lastModified"], before["lastModified"]);
        assert!(log_row(&app, &r).await.summary.contains("no change"));
        // The same for a user's multi-valued attribute.
        let upath = format!("/Users/{a}");
        let before = version(scim, &upath).await;
        let r = scim
            .patch_ops(&upath, json!([{"op": "add", "path": "emails", "value": [{"value": "a@x.io", "type": "work"}]}]))
            .await;
        r.expect(200);
        assert_eq!(r.body["emails"], json!([{"value": "a@x.io", "type": "work"}]));
        assert_eq!(r.body["meta"]["version"], before);
    })
    .await;
}

#[tokio::test]
async fn f06_a_value_path_that_matches_nothing_creates_the_element() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("f06@x.io", json!({"emails": [{"value": "old@x.io", "type": "home", "primary": false}]})).await;
        let path = format!("/Users/{id}");
        let r = scim
            .patch_ops(
                &path,
                json!([
                    // A conjunction of eq clauses: both pairs land on the new element.
                    {"op": "Add", "path": "addresses[type eq \"work\" and country eq \"US\"].locality", "value": "Redmond"},
                    {"op": "Replace", "path": "addresses[type eq \"work\" and country eq \"US\"].postalCode", "value": "98052"},
                    // `primary eq true`: the new element becomes the only primary.
                    {"op": "Add", "path": "emails[primary eq true].value", "value": "new@x.io"}
                ]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["addresses"], json!([{"type": "work", "country": "US", "locality": "Redmond", "postalCode": "98052"}]));
        let emails = r.body["emails"].as_array().unwrap();
        assert_eq!(emails.len(), 2, "{}", r.text);
        let primaries: Vec<&Value> = emails.iter().filter(|e| e["primary"] == json!(true)).collect();
        assert_eq!(primaries.len(), 1, "{}", r.text);
        assert_eq!(primaries[0]["value"], "new@x.io");
        assert_eq!(emails[0]["value"], "old@x.io");
        assert_note(&log_row(&app, &r).await, "value path matched nothing: element created (F-6)");
        // Whole-element values too.
        let r = scim
            .patch_ops(&path, json!([{"op": "add", "path": "phoneNumbers[type eq \"mobile\"]", "value": {"value": "555"}}]))
            .await;
        r.expect(200);
        assert_eq!(r.body["phoneNumbers"], json!([{"type": "mobile", "value": "555"}]));
        // Other filter shapes cannot say what to create: 400 noTarget, nothing changes.
        let before = version(scim, &path).await;
        for p in ["ims[value co \"x\"].type", "ims[type eq \"a\" or type eq \"b\"].value", "ims[not (type eq \"a\")].value"] {
            let r = scim.patch_ops(&path, json!([{"op": "replace", "path": p, "value": "v"}])).await;
            r.expect_error(400, Some("noTarget"));
        }
        assert_eq!(version(scim, &path).await, before);
    })
    .await;
}

#[tokio::test]
async fn f07_pathless_values_take_dotted_urn_and_extension_keys_in_any_case() {
    each_backend(|app| async move {
        define(&app, "costCode", "integer").await;
        let scim = &app.scim;
        let id = scim.create_user("f07@x.io", json!({})).await;
        let r = scim
            .patch_ops(
                &format!("/Users/{id}"),
                json!([{"op": "replace", "value": {
                    "NAME.GIVENNAME": "Given",
                    "name.familyName": "Family",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:EmployeeNumber": "E7",
                    ENTERPRISE: {"department": "Ops", "manager": {"value": "m-1"}},
                    format!("{CUSTOM}:costcode"): 42,
                    "Title": "T"
                }}]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["name"], json!({"givenName": "Given", "familyName": "Family"}));
        assert_eq!(r.body[ENTERPRISE]["employeeNumber"], "E7");
        assert_eq!(r.body[ENTERPRISE]["department"], "Ops");
        assert_eq!(r.body[ENTERPRISE]["manager"]["value"], "m-1");
        assert_eq!(r.body[CUSTOM]["costCode"], 42);
        assert_eq!(r.body["title"], "T");
        assert_eq!(r.body["schemas"], json!([USER, ENTERPRISE, CUSTOM]));
        assert_note(&log_row(&app, &r).await, "path-less value with dotted/URN keys (F-7)");
        // add behaves the same way.
        let r =
            scim.patch_ops(&format!("/Users/{id}"), json!([{"op": "add", "value": {"name.middleName": "M"}}])).await;
        r.expect(200);
        assert_eq!(r.body["name"]["middleName"], "M");
    })
    .await;
}

#[tokio::test]
async fn f08_manager_takes_every_shape_and_is_always_emitted_as_an_object() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let m1 = scim.create_user("m1@x.io", json!({"displayName": "Manager One"})).await;
        let m2 = scim.create_user("m2@x.io", json!({})).await;
        let id = scim.create_user("f08@x.io", json!({})).await;
        let path = format!("/Users/{id}");
        let manager = |r: &Resp| r.body[ENTERPRISE].get("manager").cloned();
        let mpath = format!("{ENTERPRISE}:manager");
        // A string.
        let r = scim.patch_ops(&path, json!([{"op": "Add", "path": mpath, "value": m1}])).await;
        r.expect(200);
        let m = manager(&r).unwrap();
        assert_eq!(m["value"], m1.as_str());
        assert_eq!(m["displayName"], "Manager One");
        assert!(m["$ref"].as_str().unwrap().ends_with(&format!("/Users/{m1}")));
        assert_note(&log_row(&app, &r).await, "manager given as string or array (F-8)");
        // The older docs' array under the bare name `manager`.
        let r = scim
            .patch_ops(
                &path,
                json!([{"op": "Add", "path": "manager", "value": [{"$ref": "http://elsewhere/Users/x", "value": m2}]}]),
            )
            .await;
        r.expect(200);
        assert_eq!(manager(&r).unwrap()["value"], m2.as_str());
        assert!(
            manager(&r).unwrap()["$ref"].as_str().unwrap().ends_with(&format!("/Users/{m2}")),
            "$ref is Roster's own"
        );
        // `manager[value eq "x"]` on the single-valued complex attribute.
        let r = scim.patch_ops(&path, json!([{"op": "remove", "path": format!("manager[value eq \"{m2}\"]")}])).await;
        r.expect(200);
        assert_eq!(manager(&r), None);
        // An id Roster does not know is kept (the validator uses arbitrary ids), undecorated.
        let r =
            scim.patch_ops(&path, json!([{"op": "replace", "path": mpath, "value": {"value": "not-a-user"}}])).await;
        r.expect(200);
        assert_eq!(manager(&r), Some(json!({"value": "not-a-user"})));
        // Every unassigning shape.
        for clear in [json!(""), json!({"value": ""}), Value::Null] {
            scim.patch_ops(&path, json!([{"op": "replace", "path": mpath, "value": m1}])).await.expect(200);
            let r = scim.patch_ops(&path, json!([{"op": "replace", "path": mpath, "value": clear}])).await;
            r.expect(200);
            assert_eq!(manager(&r), None, "{clear}: {}", r.text);
        }
        scim.patch_ops(&path, json!([{"op": "replace", "path": mpath, "value": m1}])).await.expect(200);
        let r = scim.patch_ops(&path, json!([{"op": "Remove", "path": mpath}])).await;
        r.expect(200);
        assert!(r.body.get(ENTERPRISE).is_none(), "{}", r.text);
        // On POST, a string manager too.
        let r = scim
            .post(
                "/Users",
                &json!({"schemas": [USER, ENTERPRISE], "userName": "f08b@x.io", ENTERPRISE: {"manager": m1}}),
            )
            .await;
        r.expect(201);
        assert_eq!(manager(&r).unwrap()["value"], m1.as_str());
    })
    .await;
}

#[tokio::test]
async fn f09_read_only_input_is_ignored_but_read_only_paths_are_refused() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let m = scim.create_user("f09m@x.io", json!({"displayName": "Real Name"})).await;
        let r = scim
            .post(
                "/Users",
                &json!({
                    "schemas": [USER, ENTERPRISE], "userName": "f09@x.io", "id": "chosen-id",
                    "meta": {"created": "2001-01-01T00:00:00Z", "version": "W/\"99\"", "resourceType": "Group"},
                    "groups": [{"value": "g-1"}],
                    ENTERPRISE: {"manager": {"value": m, "displayName": "Fake Name", "$ref": "http://evil/Users/x"}}
                }),
            )
            .await;
        r.expect(201);
        let id = r.id();
        assert_ne!(id, "chosen-id");
        assert_eq!(r.body["meta"]["version"], "W/\"1\"");
        assert_eq!(r.body["meta"]["resourceType"], "User");
        assert!(r.body.get("groups").is_none());
        assert_eq!(r.body[ENTERPRISE]["manager"]["displayName"], "Real Name");
        assert!(r.body[ENTERPRISE]["manager"]["$ref"].as_str().unwrap().starts_with(&app.public_url));
        // Group members' display and $ref are Roster's.
        let r = scim
            .post(
                "/Groups",
                &json!({"schemas": [GROUP], "displayName": "F09", "members": [{"value": id, "display": "Someone Else", "$ref": "http://evil/x"}]}),
            )
            .await;
        r.expect(201);
        assert_eq!(r.body["members"][0]["display"], "f09@x.io");
        assert!(r.body["members"][0]["$ref"].as_str().unwrap().starts_with(&app.public_url));
        let gid = r.id();
        // Okta's rename carries the group's own id (and PATCH values may carry schemas/meta).
        let r = scim
            .patch_ops(
                &format!("/Groups/{gid}"),
                json!([{"op": "replace", "value": {"id": gid, "displayName": "F09 Renamed", "schemas": [GROUP], "meta": {"version": "x"}}}]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["displayName"], "F09 Renamed");
        // Targeting a read-only attribute on purpose is a mistake to report.
        let path = format!("/Users/{id}");
        for (p, v) in [("id", json!("x")), ("meta.created", json!("2001-01-01T00:00:00Z")), ("groups", json!([{"value": gid}]))] {
            let r = scim.patch_ops(&path, json!([{"op": "replace", "path": p, "value": v}])).await;
            r.expect_error(400, Some("mutability"));
        }
        // So is a different id in a path-less value.
        let r = scim.patch_ops(&format!("/Groups/{gid}"), json!([{"op": "replace", "value": {"id": "another", "displayName": "X"}}])).await;
        r.expect_error(400, Some("mutability"));
        assert_eq!(scim.get(&format!("/Groups/{gid}")).await.body["displayName"], "F09 Renamed");
    })
    .await;
}

#[tokio::test]
async fn f10_unknown_schemas_and_attributes_are_ignored_unless_the_tenant_is_strict() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let r = scim
            .post(
                "/Users",
                &json!({
                    "schemas": ["urn:ietf:params:scim:schemas:extension:enterprise:2.0User", "urn:ietf:params:scim:schemas:extension:other:2.0:User", "x"],
                    "userName": "f10@x.io",
                    "favouriteColour": "blue",
                    "urn:ietf:params:scim:schemas:extension:other:2.0:User": {"thing": 1},
                    "name": {"givenName": "G", "nickname-ish": "?"}
                }),
            )
            .await;
        r.expect(201);
        assert_eq!(r.body["schemas"], json!([USER]), "schemas are recomputed: {}", r.text);
        assert_eq!(r.body["name"], json!({"givenName": "G"}));
        assert!(r.body.get("favouriteColour").is_none());
        let row = log_row(&app, &r).await;
        assert_note(&row, "unknown schema URN ignored (F-10)");
        assert_note(&row, "unknown attribute ignored (F-10)");
        let id = r.id();
        let r = scim
            .patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:other:2.0:User:thing", "value": 2}]))
            .await;
        r.expect(200);
        assert_eq!(r.body["meta"]["version"], "W/\"1\"");
        // A strict tenant says what it refused.
        set(&app, |s| s.unknown_attributes = StrictOrLenient::Strict).await;
        scim.post("/Users", &json!({"schemas": [USER], "userName": "f10b@x.io", "favouriteColour": "x"}))
            .await
            .expect_error(400, Some("invalidSyntax"));
        scim.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": "nickname-ish", "value": "x"}]))
            .await
            .expect_error(400, Some("invalidPath"));
        // Entra's ADSCIM group URN is the one unknown schema a strict tenant still meets daily;
        // the strict setting is the admin's choice, and it refuses it too.
        let r = scim
            .post(
                "/Groups",
                &json!({"schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"], "displayName": "Strict"}),
            )
            .await;
        r.expect_error(400, Some("invalidSyntax"));
    })
    .await;
}

#[tokio::test]
async fn f11_null_empty_string_and_empty_array_mean_unassigned() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let r = scim
            .post(
                "/Users",
                &json!({
                    "schemas": [USER], "userName": "f11@x.io",
                    "name": {"givenName": "G", "middleName": "", "familyName": null},
                    "addresses": null, "phoneNumbers": [], "title": "", "ims": [{}], "photos": [{"value": "", "type": "photo"}],
                    "x509Certificates": {}, "nickName": null, "emails": [{"value": "a@x.io", "display": null, "type": ""}]
                }),
            )
            .await;
        r.expect(201);
        assert_eq!(r.body["name"], json!({"givenName": "G"}));
        assert_eq!(r.body["emails"], json!([{"value": "a@x.io"}]));
        for gone in ["addresses", "phoneNumbers", "title", "ims", "photos", "x509Certificates", "nickName"] {
            assert!(r.body.get(gone).is_none(), "{gone}: {}", r.text);
        }
        assert_no_nulls(&r.body);
        let path = format!("/Users/{}", r.id());
        // The Logic-App null-update test: "" then null, each leaving the attribute absent.
        scim.patch_ops(&path, json!([{"op": "add", "path": "title", "value": "T"}])).await.expect(200);
        for empty in [json!(""), Value::Null] {
            scim.patch_ops(&path, json!([{"op": "add", "path": "title", "value": "T"}])).await.expect(200);
            let r = scim.patch_ops(&path, json!([{"op": "replace", "path": "title", "value": empty}])).await;
            r.expect(200);
            assert!(r.body.get("title").is_none(), "{empty}: {}", r.text);
            assert!(scim.get(&path).await.body.get("title").is_none());
        }
        // `[]` empties a multi-valued attribute, `{}` a complex one.
        let r = scim
            .patch_ops(
                &path,
                json!([
                    {"op": "add", "path": "emails", "value": [{"value": "b@x.io"}]},
                    {"op": "replace", "path": "emails", "value": []},
                    {"op": "replace", "path": "addresses", "value": {}}
                ]),
            )
            .await;
        r.expect(200);
        assert!(r.body.get("emails").is_none() && r.body.get("addresses").is_none(), "{}", r.text);
        let r = scim.patch_ops(&path, json!([{"op": "replace", "value": {"name": {"givenName": ""}, "nickName": null}}])).await;
        r.expect(200);
        assert!(r.body.get("name").is_none(), "{}", r.text);
        // `$ref: null` on members.
        let uid = r.id();
        let r = scim.post("/Groups", &json!({"schemas": [GROUP], "displayName": "F11", "members": [{"value": uid, "$ref": null, "display": ""}]})).await;
        r.expect(201);
        assert_eq!(member_ids(&r.body), vec![uid]);
        // Required attributes cannot be emptied.
        scim.post("/Users", &json!({"schemas": [USER], "userName": ""})).await.expect_error(400, Some("invalidValue"));
        scim.post("/Users", &json!({"schemas": [USER], "userName": null})).await.expect_error(400, Some("invalidValue"));
        scim.post("/Groups", &json!({"schemas": [GROUP], "displayName": ""})).await.expect_error(400, Some("invalidValue"));
    })
    .await;
}

#[tokio::test]
async fn f12_bare_word_filter_values_are_strings() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("bjensen", json!({"externalId": "jyoung", "title": "true"})).await;
        scim.create_user("other", json!({"externalId": "x"})).await;
        for f in ["userName eq bjensen", "externalId eq jyoung", "userName eq BJENSEN", "userName eq \"bjensen\""] {
            assert_eq!(ids(&filter(scim, "/Users", f).await), vec![id.clone()], "{f}");
        }
        // true/false/null stay literals: a bare `true` compared with a string is a mismatch.
        expect_empty_list(&filter(scim, "/Users", "title eq \"false\"").await);
        assert_eq!(ids(&filter(scim, "/Users", "title eq \"true\"").await), vec![id.clone()]);
        assert_eq!(filter(scim, "/Users", "nickName eq null").await.body["totalResults"], 2);
        // Unquoted through the raw request line too.
        let request = format!(
            "GET /scim/v2/default/Users?filter=externalId eq jyoung HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            app.addr, app.token
        );
        let r = raw_http(app.addr, request.as_bytes()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["Resources"][0]["id"], id.as_str());
    })
    .await;
}

#[tokio::test]
async fn f13_value_path_with_a_sub_attribute_comparison_matches_within_one_element() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let a = scim.create_user("f13a", json!({"emails": [{"value": "a@x.io", "type": "work"}]})).await;
        // b has a@x.io, but as a home address, and a different work address.
        scim.create_user(
            "f13b",
            json!({"emails": [{"value": "a@x.io", "type": "home"}, {"value": "b@x.io", "type": "work"}]}),
        )
        .await;
        assert_eq!(ids(&filter(scim, "/Users", "emails[type eq \"work\"].value eq \"a@x.io\"").await), vec![a.clone()]);
        assert_eq!(ids(&filter(scim, "/Users", "emails[type eq \"work\"].value eq \"A@X.IO\"").await), vec![a.clone()]);
        assert_eq!(
            filter(scim, "/Users", "emails[type eq \"home\"].value eq \"a@x.io\"").await.body["totalResults"],
            1
        );
        expect_empty_list(&filter(scim, "/Users", "emails[type eq \"other\"].value eq \"a@x.io\"").await);
        assert_eq!(
            ids(&filter(scim, "/Users", "emails[type eq \"work\"].value sw \"a@\" and userName eq \"f13a\"").await),
            vec![a]
        );
    })
    .await;
}

#[tokio::test]
async fn f14_complex_attributes_compared_without_sub_attribute_compare_value() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let a = scim
            .create_user(
                "f14a",
                json!({"emails": [{"value": "kim@x.io", "type": "work"}], "phoneNumbers": [{"value": "555-1"}]}),
            )
            .await;
        let b = scim.create_user("f14b", json!({"emails": [{"value": "lee@y.io", "type": "work"}]})).await;
        assert_eq!(ids(&filter(scim, "/Users", "emails eq \"kim@x.io\"").await), vec![a.clone()]);
        assert_eq!(ids(&filter(scim, "/Users", "emails co \"@y.\"").await), vec![b.clone()]);
        assert_eq!(ids(&filter(scim, "/Users", "emails ew \".io\"").await), vec![a.clone(), b.clone()]);
        assert_eq!(ids(&filter(scim, "/Users", "phoneNumbers sw \"555\"").await), vec![a.clone()]);
        let g = scim.create_group("F14", &[&a]).await;
        scim.create_group("F14 other", &[&b]).await;
        assert_eq!(ids(&filter(scim, "/Groups", &format!("members eq \"{a}\"")).await), vec![g.clone()]);
        assert_eq!(
            ids(&filter(scim, "/Groups", &format!("displayName eq \"F14\" and members eq \"{b}\"")).await),
            Vec::<String>::new()
        );
    })
    .await;
}

#[tokio::test]
async fn f15_values_are_stored_exactly_as_sent() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let phones = json!([
            {"value": "55555555555", "type": "work"},
            {"value": "+1 (555) 555-5555", "type": "mobile"},
            {"value": "tel:+1-201-555-0123;ext=42", "type": "other"}
        ]);
        let r = scim
            .post(
                "/Users",
                &json!({
                    "schemas": [USER], "userName": "Mixed.Case@Example.COM",
                    "phoneNumbers": phones,
                    "emails": [{"value": "Mixed.Case@Example.COM", "type": "work"}],
                    "name": {"givenName": "José", "familyName": "O'Brien-Łukasz"},
                    "externalId": "AbC-123",
                    "profileUrl": "HTTPS://Example.com/%7Euser"
                }),
            )
            .await;
        r.expect(201);
        let got = scim.get(&format!("/Users/{}", r.id())).await.body;
        assert_eq!(got["userName"], "Mixed.Case@Example.COM");
        assert_eq!(got["phoneNumbers"], phones);
        assert_eq!(got["emails"][0]["value"], "Mixed.Case@Example.COM");
        assert_eq!(got["name"]["givenName"], "José");
        assert_eq!(got["name"]["familyName"], "O'Brien-Łukasz");
        assert_eq!(got["externalId"], "AbC-123");
        assert_eq!(got["profileUrl"], "HTTPS://Example.com/%7Euser");
        // Comparison follows caseExact; the stored text is untouched.
        assert_eq!(filter(scim, "/Users", "userName eq \"mixed.case@example.com\"").await.body["totalResults"], 1);
        expect_empty_list(&filter(scim, "/Users", "externalId eq \"abc-123\"").await);
    })
    .await;
}

#[tokio::test]
async fn f16_query_strings_are_read_however_an_idp_writes_them() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("a b+c@x.io", json!({"title": "T"})).await;
        scim.create_user("other@x.io", json!({})).await;
        for q in [
            format!("?filter={}", enc("userName eq \"a b+c@x.io\"")),
            "?filter=userName+eq+%22a+b%2Bc%40x.io%22".to_string(),
            "?aadOptscim062020&filter=userName%20eq%20%22a%20b%2Bc@x.io%22&".to_string(),
            "?&&filter=userName+eq+%22A+B%2BC%40X.IO%22&&domain=PRIMARY&".to_string(),
            "?Filter=userName+eq+%22a+b%2Bc%40x.io%22&COUNT=10&StartIndex=1&sortby=userName&SORTORDER=descending".to_string(),
        ] {
            let r = scim.get(&format!("/Users{q}")).await;
            assert_eq!(ids(&r), vec![id.clone()], "{q}: {}", r.text);
        }
        // Raw spaces and quotes in the request line, with Entra's flag and a trailing `&`.
        let request = format!(
            "GET /scim/v2/default/Users?aadOptscim062020&filter=userName eq \"a b%2Bc@x.io\"&attributes=title& HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            app.addr, app.token
        );
        let r = raw_http(app.addr, request.as_bytes()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["Resources"][0]["id"], id.as_str());
        assert_eq!(r.body["Resources"][0]["title"], "T");
        assert!(r.body["Resources"][0].get("userName").is_none());
        // IdP clients keep connections alive: raw targets, a body and a chunked body, one after
        // another on one connection, each answered in turn.
        let user = json!({"schemas": [USER], "userName": "kept@x.io"}).to_string();
        let pipelined = format!(
            "POST /scim/v2/default/Users HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {t}\r\nContent-Type: application/scim+json; charset=utf-8\r\nContent-Length: {n}\r\n\r\n{user}\
             GET /scim/v2/default/Users?filter=userName eq \"kept@x.io\"& HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {t}\r\n\r\n\
             PATCH /scim/v2/default/Users/{id}?aadOptscim062020 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {t}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{m:x}\r\n{patch}\r\n0\r\n\r\n\
             GET /scim/v2/default/Users?filter=title eq \"chunked\" HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {t}\r\nConnection: close\r\n\r\n",
            t = app.token,
            n = user.len(),
            m = patch_body("chunked").len(),
            patch = patch_body("chunked"),
        );
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        stream.write_all(pipelined.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        let statuses: Vec<&str> = answer.split("HTTP/1.1 ").skip(1).map(|r| &r[..3]).collect();
        assert_eq!(statuses, ["201", "200", "200", "200"], "{answer}");
        assert_eq!(answer.matches("\"totalResults\":1").count(), 2, "{answer}");
        // A trailing `?` or an unknown parameter on writes and single reads.
        let path = format!("/Users/{id}");
        scim.get(&format!("{path}?")).await.expect(200);
        scim.patch_ops(&format!("{path}?aadOptscim062020"), json!([{"op": "replace", "path": "title", "value": "U"}])).await.expect(200);
        scim.put(&format!("{path}?"), &json!({"schemas": [USER], "userName": "a b+c@x.io"})).await.expect(200);
        scim.delete(&format!("{path}?aadOptscim062020&")).await.expect(204);
    })
    .await;
}

fn patch_body(title: &str) -> String {
    json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "title", "value": title}]}).to_string()
}

#[tokio::test]
async fn f17_json_member_names_match_in_any_case_and_come_out_canonical() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let r = scim
            .post(
                "/Users",
                &json!({
                    "SCHEMAS": [USER, ENTERPRISE], "username": "f17@x.io", "EXTERNALID": "e",
                    "Emails": [{"Value": "f17@x.io", "TYPE": "work", "Primary": true}],
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "D", "MANAGER": {"VALUE": "m"}}
                }),
            )
            .await;
        r.expect(201);
        assert_eq!(r.body["userName"], "f17@x.io");
        assert_eq!(r.body["externalId"], "e");
        assert_eq!(r.body["emails"], json!([{"value": "f17@x.io", "type": "work", "primary": true}]));
        assert_eq!(r.body[ENTERPRISE], json!({"department": "D", "manager": {"value": "m"}}));
        assert!(r.text.find("Emails").is_none() && r.text.find("username").is_none(), "{}", r.text);
        let path = format!("/Users/{}", r.id());
        let r = scim
            .patch(&path, &json!({"Schemas": [PATCH_OP], "OPERATIONS": [{"Op": "add", "Path": "Title", "Value": "T"}]}))
            .await;
        r.expect(200);
        assert_eq!(r.body["title"], "T");
        let r = scim.patch(&path, &json!({"schemas": [PATCH_OP], "operations": [{"OP": "replace", "VALUE": {"TITLE": "U", "Name.GivenName": "G"}}]})).await;
        r.expect(200);
        assert_eq!(r.body["title"], "U");
        assert_eq!(r.body["name"], json!({"givenName": "G"}));
        // Paths in filters and in attributes= too.
        let r = scim.get(&format!("/Users?filter={}&attributes=NAME.givenname", enc("USERNAME eq \"f17@x.io\" and Name.GivenName eq \"G\""))).await;
        assert_eq!(single(&r)["name"], json!({"givenName": "G"}));
    })
    .await;
}

#[tokio::test]
async fn f18_output_is_typed_canonical_and_never_null() {
    each_backend(|app| async move {
        define(&app, "hired", "dateTime").await;
        define(&app, "level", "integer").await;
        let scim = &app.scim;
        let r = scim
            .post(
                "/Users",
                &json!({
                    "schemas": [USER, CUSTOM], "userName": "f18@x.io", "active": "true", "password": "secret",
                    CUSTOM: {"hired": "2024-03-01T10:00:00+02:00", "level": "3"}
                }),
            )
            .await;
        r.expect(201);
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        assert!(r.header("location").is_some());
        assert_eq!(r.body["active"], json!(true));
        assert_eq!(r.body[CUSTOM]["level"], json!(3));
        assert_eq!(r.body[CUSTOM]["hired"], "2024-03-01T08:00:00Z", "dateTimes in UTC: {}", r.text);
        assert!(r.body.get("password").is_none());
        let is_utc = |s: &str| s.len() >= 20 && s.ends_with('Z') && &s[10..11] == "T" && !s.contains('+');
        assert!(is_utc(r.body["meta"]["created"].as_str().unwrap()), "{}", r.text);
        assert!(is_utc(r.body["meta"]["lastModified"].as_str().unwrap()), "{}", r.text);
        assert_no_nulls(&r.body);
        let id = r.id();
        let g = scim.post("/Groups", &body::group("F18")).await;
        g.expect(201);
        assert!(g.header("location").unwrap().ends_with(&format!("/Groups/{}", g.id())));
        // Empty lists still carry Resources; excluded members are absent, not [].
        let r = filter(scim, "/Users", "userName eq \"nobody\"").await;
        assert_eq!(r.body["Resources"], json!([]));
        assert!(r.body["totalResults"].is_u64() && r.body["itemsPerPage"].is_u64() && r.body["startIndex"].is_u64());
        let r = scim.get(&format!("/Groups/{}?excludedAttributes=members", g.id())).await;
        assert!(r.body.get("members").is_none());
        // Errors: status as a string, SCIM JSON, on every kind of failure.
        expect_scim_error(&scim.get("/Users/nope").await, 404);
        expect_scim_error(&scim.with_token(None).get("/Users").await, 401);
        expect_scim_error(&scim.post("/Users", &json!({"schemas": [USER], "userName": "F18@x.io"})).await, 409);
        expect_scim_error(&ScimClient::send(scim.request(reqwest::Method::DELETE, "/Users")).await, 405);
        // attributes=password never brings it back.
        let r = scim.get(&format!("/Users/{id}?attributes=password,userName")).await;
        r.expect(200);
        assert!(r.body.get("password").is_none());
    })
    .await;
}

#[tokio::test]
async fn f19_inactive_users_stay_visible_and_deleted_ones_free_their_names() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("f19@x.io", json!({"externalId": "ext-19", "active": false})).await;
        let gid = scim.create_group("F19", &[&id]).await;
        let path = format!("/Users/{id}");
        assert_eq!(scim.get(&path).await.body["active"], false);
        assert_eq!(ids(&filter(scim, "/Users", "active eq false").await), vec![id.clone()]);
        assert_eq!(ids(&filter(scim, "/Users", "userName eq \"f19@x.io\"").await), vec![id.clone()]);
        assert_eq!(scim.get("/Users").await.body["totalResults"], 1);
        assert_eq!(member_ids(&scim.get(&format!("/Groups/{gid}")).await.body), vec![id.clone()]);
        // Deleted: 404 for every method, gone from lists and groups.
        scim.delete(&path).await.expect(204);
        expect_scim_error(&scim.get(&path).await, 404);
        expect_scim_error(&scim.put(&path, &json!({"schemas": [USER], "userName": "f19@x.io"})).await, 404);
        expect_scim_error(
            &scim.patch_ops(&path, json!([{"op": "replace", "path": "active", "value": true}])).await,
            404,
        );
        expect_scim_error(&scim.delete(&path).await, 404);
        assert_eq!(scim.get("/Users").await.body["totalResults"], 0);
        assert_eq!(member_ids(&scim.get(&format!("/Groups/{gid}")).await.body), Vec::<String>::new());
        // The same userName (in another case) and externalId at once.
        let again = scim.create_user("F19@X.IO", json!({"externalId": "ext-19"})).await;
        assert_ne!(again, id);
        assert_eq!(ids(&filter(scim, "/Users", "externalId eq \"ext-19\"").await), vec![again]);
        // A deleted group's name is free too.
        scim.delete(&format!("/Groups/{gid}")).await.expect(204);
        scim.create_group("f19", &[]).await;
    })
    .await;
}

#[tokio::test]
async fn f20_default_order_keeps_paging_stable_while_resources_change() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let mut created = Vec::new();
        for i in 0..9 {
            // Names in reverse, so name order and creation order differ.
            created.push(scim.create_user(&format!("f20-{}@x.io", 9 - i), json!({})).await);
        }
        let page = |start: usize, count: usize| format!("/Users?startIndex={start}&count={count}");
        let first = scim.get(&page(1, 4)).await;
        // Updates (and lastModified changes) between pages do not reorder.
        for id in created.iter().rev() {
            scim.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": "title", "value": "touched"}]))
                .await
                .expect(200);
        }
        let second = scim.get(&page(5, 4)).await;
        let third = scim.get(&page(9, 4)).await;
        let mut all = ids(&first);
        all.extend(ids(&second));
        all.extend(ids(&third));
        assert_eq!(all, created);
        // Filtered paging follows the same order.
        let f = enc("title eq \"touched\"");
        let mut filtered = Vec::new();
        for start in [1, 4, 7] {
            filtered.extend(ids(&scim.get(&format!("/Users?filter={f}&startIndex={start}&count=3")).await));
        }
        assert_eq!(filtered, created);
        // Groups too.
        let mut groups = Vec::new();
        for i in 0..5 {
            groups.push(scim.create_group(&format!("G{}", 5 - i), &[]).await);
        }
        let mut listed = ids(&scim.get("/Groups?startIndex=1&count=2").await);
        listed.extend(ids(&scim.get("/Groups?startIndex=3&count=3").await));
        assert_eq!(listed, groups);
    })
    .await;
}

#[tokio::test]
async fn f21_patch_answers_200_with_the_resource_or_204_for_groups_when_asked() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let uid = scim.create_user("f21@x.io", json!({})).await;
        let gid = scim.create_group("F21", &[]).await;
        let gpath = format!("/Groups/{gid}");
        let r = scim.patch_ops(&gpath, json!([{"op": "add", "path": "members", "value": [{"value": uid}]}])).await;
        r.expect(200);
        assert_eq!(r.body["id"], gid.as_str());
        assert_eq!(member_ids(&r.body), vec![uid.clone()]);
        let r =
            scim.patch_ops(&format!("/Users/{uid}"), json!([{"op": "replace", "path": "title", "value": "T"}])).await;
        r.expect(200);
        assert_eq!(r.body["title"], "T");
        assert_eq!(r.body["groups"][0]["value"], gid.as_str());
        // A no-op PATCH still answers with the resource, never an empty 200.
        let r =
            scim.patch_ops(&format!("/Users/{uid}"), json!([{"op": "replace", "path": "title", "value": "T"}])).await;
        r.expect(200);
        assert_eq!(r.body["id"], uid.as_str());
        // Honouring attributes=.
        let r = scim
            .patch_ops(
                &format!("{gpath}?attributes=displayName"),
                json!([{"op": "replace", "path": "displayName", "value": "F21b"}]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["displayName"], "F21b");
        assert!(r.body.get("members").is_none());
        // The per-tenant 204 for group PATCH (very large groups).
        set(&app, |s| s.group_patch_response = GroupPatchResponse::NoContent).await;
        let r = scim.patch_ops(&gpath, json!([{"op": "remove", "path": "members"}])).await;
        r.expect(204);
        assert!(r.text.is_empty());
        assert_eq!(r.header("etag"), Some("W/\"4\""));
        assert_eq!(log_row(&app, &r).await.status, 204);
        // Users keep 200 + body; asking for attributes on a group gets a body again.
        scim.patch_ops(&format!("/Users/{uid}"), json!([{"op": "replace", "path": "title", "value": "U"}]))
            .await
            .expect(200);
        let r = scim
            .patch_ops(
                &format!("{gpath}?attributes=displayName"),
                json!([{"op": "replace", "path": "displayName", "value": "F21c"}]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["displayName"], "F21c");
    })
    .await;
}

#[tokio::test]
async fn f22_user_name_cannot_change_once_provisioned_unless_the_tenant_allows_it() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("José@x.io", json!({})).await;
        let path = format!("/Users/{id}");
        for attempt in [
            scim.patch_ops(&path, json!([{"op": "Replace", "path": "userName", "value": "new@x.io"}])).await,
            scim.patch_ops(&path, json!([{"op": "replace", "value": {"userName": "new@x.io"}}])).await,
            scim.patch_ops(&path, json!([{"op": "add", "path": "username", "value": "new@x.io"}])).await,
            scim.put(&path, &json!({"schemas": [USER], "userName": "new@x.io"})).await,
        ] {
            attempt.expect_error(400, Some("mutability"));
            assert!(
                attempt.body["detail"].as_str().unwrap().contains("userName cannot be changed once provisioned"),
                "{}",
                attempt.text
            );
        }
        // Removing it is not a way around the rule.
        scim.patch_ops(&path, json!([{"op": "remove", "path": "userName"}])).await.expect(400);
        // The same name in another case, or in another Unicode normal form, changes nothing.
        for same in ["JOSÉ@X.IO", "Jose\u{301}@x.io"] {
            let r = scim.patch_ops(&path, json!([{"op": "replace", "path": "userName", "value": same}])).await;
            r.expect(200);
            assert_eq!(r.body["userName"], "José@x.io");
            assert_eq!(r.body["meta"]["version"], "W/\"1\"");
        }
        let r = scim.put(&path, &json!({"schemas": [USER], "userName": "JOSÉ@x.io", "title": "T"})).await;
        r.expect(200);
        assert_eq!(r.body["userName"], "José@x.io");
        assert_note(&log_row(&app, &r).await, "userName differs only in case: stored value kept");
        // A tenant that allows renames.
        set(&app, |s| s.username_changes = RejectOrAllow::Allow).await;
        let r = scim.patch_ops(&path, json!([{"op": "Replace", "path": "userName", "value": "renamed@x.io"}])).await;
        r.expect(200);
        assert_eq!(r.body["userName"], "renamed@x.io");
        assert_eq!(ids(&filter(scim, "/Users", "userName eq \"renamed@x.io\"").await), vec![id]);
        expect_empty_list(&filter(scim, "/Users", "userName eq \"josé@x.io\"").await);
    })
    .await;
}

#[tokio::test]
async fn f23_group_display_names_are_unique_ignoring_case() {
    each_backend(|app| async move {
        let scim = &app.scim;
        scim.create_group("Équipe Sales", &[]).await;
        let other = scim.create_group("Other", &[]).await;
        scim.post("/Groups", &body::group("équipe sales")).await.expect_error(409, Some("uniqueness"));
        scim.post("/Groups", &body::group("ÉQUIPE SALES")).await.expect_error(409, Some("uniqueness"));
        let opath = format!("/Groups/{other}");
        scim.put(&opath, &body::group("équipe SALES")).await.expect_error(409, Some("uniqueness"));
        scim.patch_ops(&opath, json!([{"op": "Replace", "path": "displayName", "value": "Équipe sales"}]))
            .await
            .expect_error(409, Some("uniqueness"));
        scim.patch_ops(&opath, json!([{"op": "replace", "value": {"id": other, "displayName": "EQUIPE SALES "}}]))
            .await
            .expect(200);
        assert_eq!(scim.get(&opath).await.body["displayName"], "EQUIPE SALES ");
        // Renaming a group to its own name in another case is fine.
        scim.patch_ops(&opath, json!([{"op": "replace", "path": "displayName", "value": "equipe sales "}]))
            .await
            .expect(200);
    })
    .await;
}

#[tokio::test]
async fn f24_retries_are_idempotent() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let uid = scim.create_user("f24@x.io", json!({"active": false})).await;
        let other = scim.create_user("f24b@x.io", json!({})).await;
        let gid = scim.create_group("F24", &[&other]).await;
        let upath = format!("/Users/{uid}");
        let gpath = format!("/Groups/{gid}");
        let user_meta = scim.get(&upath).await.body["meta"].clone();
        let group_meta = scim.get(&gpath).await.body["meta"].clone();
        for _ in 0..2 {
            scim.patch_ops(&upath, json!([{"op": "Replace", "path": "active", "value": "False"}])).await.expect(200);
            scim.patch_ops(&upath, json!([{"op": "remove", "path": "title"}])).await.expect(200);
            scim.patch_ops(&upath, json!([{"op": "remove", "path": "emails[type eq \"work\"]"}])).await.expect(200);
            scim.patch_ops(&gpath, json!([{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]))
                .await
                .expect(200);
            scim.patch_ops(&gpath, json!([{"op": "Remove", "path": "members", "value": [{"value": uid}]}]))
                .await
                .expect(200);
            scim.patch_ops(&gpath, json!([{"op": "add", "path": "members", "value": [{"value": other}]}]))
                .await
                .expect(200);
        }
        assert_eq!(scim.get(&upath).await.body["meta"], user_meta);
        assert_eq!(scim.get(&gpath).await.body["meta"], group_meta);
        assert_eq!(member_ids(&scim.get(&gpath).await.body), vec![other]);
        // DELETE: 204, then 404 (RFC 7644 §3.6; the MS validator's P4 expects exactly this).
        scim.delete(&upath).await.expect(204);
        expect_scim_error(&scim.delete(&upath).await, 404);
        scim.delete(&gpath).await.expect(204);
        expect_scim_error(&scim.delete(&gpath).await, 404);
        expect_scim_error(&scim.delete("/Users/never-existed").await, 404);
    })
    .await;
}

#[tokio::test]
async fn f25_a_burst_is_answered_in_full_never_dropped() {
    each_backend(|app| async move {
        let okta = Wire::new(app.scim.clone(), &[("User-Agent", "Okta SCIM Client 1.0.0")], "application/scim+json");
        let id = app.scim.create_user("f25@x.io", json!({})).await;
        // Every request gets an answer: 200, or (once throttling is configured) 429 with
        // Retry-After and a SCIM body. Nothing times out or is cut off.
        let requests = (0..60).map(|i| {
            let okta = okta.clone();
            let id = id.clone();
            async move {
                if i % 3 == 0 {
                    okta.patch(
                        &format!("/Users/{id}"),
                        json!([{"op": "replace", "path": "title", "value": format!("t{i}")}]),
                    )
                    .await
                } else {
                    okta.get(&format!("/Users?filter={}", enc("userName eq \"f25@x.io\""))).await
                }
            }
        });
        let responses = join_all(requests).await;
        assert_eq!(responses.len(), 60);
        for r in responses {
            match r.status {
                200 => assert!(r.body.is_object(), "{}", r.text),
                429 | 503 => {
                    expect_scim_error(&r, r.status);
                    assert!(
                        r.header("retry-after").and_then(|v| v.parse::<u64>().ok()).is_some(),
                        "Retry-After seconds"
                    );
                }
                other => panic!("unexpected {other}: {}", r.text),
            }
        }
    })
    .await;
}

#[tokio::test]
async fn f26_member_changes_touch_only_the_changed_members() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let mut users = Vec::new();
        for i in 0..60 {
            users.push(scim.create_user(&format!("f26-{i}@x.io"), json!({})).await);
        }
        let refs: Vec<&str> = users.iter().map(String::as_str).collect();
        let gid = scim.create_group("F26", &refs[..59]).await;
        let gpath = format!("/Groups/{gid}");
        set(&app, |s| s.group_patch_response = GroupPatchResponse::NoContent).await;
        // One add and one remove against a big group: the log counts exactly those.
        let r = scim
            .patch_ops(
                &gpath,
                json!([
                    {"op": "add", "path": "members", "value": [{"value": users[59]}]},
                    {"op": "remove", "path": format!("members[value eq \"{}\"]", users[0])}
                ]),
            )
            .await;
        r.expect(204);
        let row = log_row(&app, &r).await;
        assert!(row.summary.contains("+1 member") && row.summary.contains("−1 member"), "{}", row.summary);
        // Reads without members leave them out entirely.
        let r = scim.get(&format!("{gpath}?excludedAttributes=members")).await;
        assert!(r.body.get("members").is_none());
        let r = scim.get(&format!("/Groups?excludedAttributes=members&filter={}", enc("displayName eq \"F26\""))).await;
        assert!(single(&r).get("members").is_none());
        let all = member_ids(&scim.get(&gpath).await.body);
        assert_eq!(all.len(), 59);
        assert!(all.contains(&users[59]) && !all.contains(&users[0]));
    })
    .await;
}

#[tokio::test]
async fn f27_free_form_strings_are_not_format_checked_but_booleans_and_date_times_are() {
    each_backend(|app| async move {
        define(&app, "startDate", "dateTime").await;
        let scim = &app.scim;
        let r = scim
            .post(
                "/Users",
                &json!({
                    "schemas": [USER], "userName": "f27@x.io",
                    "timezone": "Foo/Bar", "locale": "xx_YY_zz", "preferredLanguage": "??",
                    "profileUrl": "not a url", "addresses": [{"country": "Atlantis", "type": "work"}]
                }),
            )
            .await;
        r.expect(201);
        assert_eq!(r.body["timezone"], "Foo/Bar");
        assert_eq!(r.body["locale"], "xx_YY_zz");
        assert_eq!(r.body["preferredLanguage"], "??");
        assert_eq!(r.body["profileUrl"], "not a url");
        assert_eq!(r.body["addresses"][0]["country"], "Atlantis");
        let path = format!("/Users/{}", r.id());
        scim.patch_ops(
            &path,
            json!([{"op": "replace", "path": format!("{CUSTOM}:startDate"), "value": "next tuesday"}]),
        )
        .await
        .expect_error(400, Some("invalidValue"));
        scim.patch_ops(&path, json!([{"op": "replace", "path": "active", "value": "maybe"}]))
            .await
            .expect_error(400, Some("invalidValue"));
        let r = scim
            .patch_ops(
                &path,
                json!([{"op": "replace", "path": format!("{CUSTOM}:startDate"), "value": "2025-01-31T09:00:00Z"}]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body[CUSTOM]["startDate"], "2025-01-31T09:00:00Z");
    })
    .await;
}

#[tokio::test]
async fn f28_roles_and_entitlements_are_stored_as_sent() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let legacy_value = "{\"id\":\"0ea5c2a1-3c4d-4e5f-8a9b-0c1d2e3f4a5b\",\"value\":\"Admin\",\"displayName\":\"Admin\"}";
        let r = scim
            .post(
                "/Users",
                &json!({
                    "schemas": [USER], "userName": "f28@x.io",
                    "roles": [{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}],
                    "entitlements": [{"value": "Ent-1", "display": "Entitlement One"}]
                }),
            )
            .await;
        r.expect(201);
        assert_eq!(r.body["roles"], json!([{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]));
        assert_eq!(r.body["entitlements"], json!([{"value": "Ent-1", "display": "Entitlement One"}]));
        let path = format!("/Users/{}", r.id());
        // The legacy PATCH form: the role as a JSON-encoded string, kept verbatim.
        let r = scim.patch_ops(&path, json!([{"op": "Add", "path": "roles", "value": [{"value": legacy_value, "primary": "False"}]}])).await;
        r.expect(200);
        let roles = r.body["roles"].as_array().unwrap();
        assert_eq!(roles.len(), 2, "{}", r.text);
        assert!(roles.contains(&json!({"value": legacy_value, "primary": false})), "{}", r.text);
        // AssertiveAppRoleAssignmentsComplex replaces the whole array, with display.
        let r = scim
            .patch_ops(&path, json!([{"op": "Replace", "path": "roles", "value": [{"value": "Reader", "display": "Reader", "primary": false}, {"value": "Writer", "display": "Writer"}]}]))
            .await;
        r.expect(200);
        assert_eq!(r.body["roles"], json!([{"value": "Reader", "display": "Reader", "primary": false}, {"value": "Writer", "display": "Writer"}]));
    })
    .await;
}

#[tokio::test]
async fn f29_duplicate_types_are_kept_and_value_paths_hit_every_match() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let emails = json!([
            {"value": "w1@x.io", "type": "work"},
            {"value": "w2@x.io", "type": "work"},
            {"value": "h@x.io", "type": "home"}
        ]);
        let r = scim.post("/Users", &json!({"schemas": [USER], "userName": "f29@x.io", "emails": emails})).await;
        r.expect(201);
        assert_eq!(r.body["emails"], emails);
        let path = format!("/Users/{}", r.id());
        let r = scim
            .patch_ops(&path, json!([{"op": "replace", "path": "emails[type eq \"work\"].display", "value": "Work"}]))
            .await;
        r.expect(200);
        assert_eq!(
            r.body["emails"],
            json!([
                {"value": "w1@x.io", "type": "work", "display": "Work"},
                {"value": "w2@x.io", "type": "work", "display": "Work"},
                {"value": "h@x.io", "type": "home"}
            ])
        );
        let r = scim.patch_ops(&path, json!([{"op": "remove", "path": "emails[type eq \"work\"]"}])).await;
        r.expect(200);
        assert_eq!(r.body["emails"], json!([{"value": "h@x.io", "type": "home"}]));
    })
    .await;
}

#[tokio::test]
async fn f30_me_is_501_and_passwords_are_accepted_but_never_kept() {
    each_backend(|app| async move {
        let scim = &app.scim;
        for method in [reqwest::Method::GET, reqwest::Method::POST, reqwest::Method::PATCH, reqwest::Method::DELETE] {
            let r = ScimClient::send(scim.request(method.clone(), "/Me").header("Content-Type", "application/scim+json").body("{}")).await;
            expect_scim_error(&r, 501);
        }
        let spc = scim.get("/ServiceProviderConfig").await.body;
        assert_eq!(spc["changePassword"]["supported"], false);
        assert_eq!(spc["bulk"]["supported"], true);
        // Okta sends a password on every create and PUT, and password-sync PATCHes.
        let okta = Wire::new(Wire::issue(&app, Idp::Okta).await, &[], "application/scim+json");
        let r = okta.post("/Users", &json!({"schemas": [USER], "userName": "f30@x.io", "password": "p@ss"})).await;
        r.expect(201);
        assert_note(&log_row(&app, &r).await, "password accepted and not stored (F-30)");
        let path = format!("/Users/{}", r.id());
        okta.put(&path, &json!({"schemas": [USER], "userName": "f30@x.io", "password": "p2"})).await.expect(200);
        let r = okta.patch(&path, json!([{"op": "replace", "path": "password", "value": "p3"}])).await;
        r.expect(200);
        assert!(r.body.get("password").is_none());
        assert!(!r.text.contains("p3") && !r.text.contains("p@ss"));
        scim.get("/Users?filter=password%20eq%20%22p3%22").await.expect_error(400, Some("invalidFilter"));
        // Bulk is advertised and works.
        let r = scim
            .post(
                "/Bulk",
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "b1", "data": {"schemas": [USER], "userName": "bulk@x.io", "password": "p"}}
                ]}),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["Operations"][0]["status"], "201");
        assert!(!r.text.contains("\"password\""));
    })
    .await;
}
