//! Replays of the other identity providers' documented request shapes (requirements
//! catalog Part D): OneLogin (a trailing `&` or `?`, `+` for spaces, template bodies with
//! empty strings and SCIM-1.1-style URNs), PingOne / PingFederate (`emails eq` lookups,
//! PUT-only updates, disable or delete), JumpCloud (a Test Connection that creates and
//! deletes a test user and group; legacy member removal) and Google Workspace (the
//! `count=1` probe, suspend, delete). Each runs with a token of that IdP.
//!
//! Public material on these clients is thinner than on Entra and Okta (the catalog says so);
//! the shapes here are the ones the catalog cites.

use roster_core::Idp;
use roster_testkit::body::{ENTERPRISE, GROUP, USER};
use roster_testkit::{TestApp, each_backend};
use serde_json::{Value, json};

use crate::idp_entra::{
    Wire, assert_no_nulls, assert_note, expect_empty_list, expect_scim_error, form, log_row, single,
};
use crate::support::{enc, expect_list, member_ids};

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

// --- OneLogin (D1) ----------------------------------------------------------------------

async fn onelogin(app: &TestApp) -> Wire {
    Wire::new(Wire::issue(app, Idp::OneLogin).await, &[], "application/scim+json")
}

/// OneLogin's lookup: `+` for spaces and a trailing `&`.
fn onelogin_lookup(user_name: &str) -> String {
    format!("/Users?filter={}&", form(&format!("userName eq \"{user_name}\"")))
}

#[tokio::test]
async fn onelogin_provisions_from_its_json_template_and_updates_with_put() {
    each_backend(|app| async move {
        let onelogin = onelogin(&app).await;
        let name = "jdoe@example.com";
        expect_empty_list(&onelogin.get(&onelogin_lookup(name)).await);
        // The "Enterprise Schema" template: empty placeholders become empty strings.
        let r = onelogin
            .post(
                "/Users",
                &json!({
                    "schemas": [USER, ENTERPRISE],
                    "userName": name,
                    "name": {"givenName": "John", "familyName": "Doe", "middleName": ""},
                    "emails": [{"value": name, "type": "work", "primary": true}],
                    "title": "",
                    "phoneNumbers": [{"value": "", "type": "work"}],
                    ENTERPRISE: {"department": "", "employeeNumber": "1042", "manager": {"value": ""}}
                }),
            )
            .await;
        r.expect(201);
        let id = r.id();
        assert_eq!(r.body["schemas"], json!([USER, ENTERPRISE]));
        assert_eq!(r.body["name"], json!({"givenName": "John", "familyName": "Doe"}));
        assert!(r.body.get("title").is_none(), "\"\" is unassigned: {}", r.text);
        assert!(r.body.get("phoneNumbers").is_none(), "an element with only a type and \"\" is unassigned: {}", r.text);
        assert_eq!(r.body[ENTERPRISE], json!({"employeeNumber": "1042"}));
        assert_no_nulls(&r.body);
        assert_eq!(log_row(&app, &r).await.idp.as_deref(), Some("onelogin"));
        assert_eq!(single(&onelogin.get(&onelogin_lookup(name)).await)["id"], id.as_str());

        // Updates are PUTs to `/Users/{id}?` (a trailing `?`).
        let path = format!("/Users/{id}?");
        let r = onelogin
            .put(
                &path,
                &json!({
                    "schemas": [USER, ENTERPRISE],
                    "userName": name,
                    "name": {"givenName": "Johnny", "familyName": "Doe"},
                    "emails": [{"value": name, "type": "work", "primary": true}],
                    "title": "Manager",
                    ENTERPRISE: {"department": "Sales", "employeeNumber": ""}
                }),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["name"], json!({"givenName": "Johnny", "familyName": "Doe"}));
        assert_eq!(r.body["title"], "Manager");
        assert_eq!(r.body[ENTERPRISE], json!({"department": "Sales"}));
        // Deprovisioning action "suspend": a PUT with active false.
        let mut body = r.body.clone();
        body["active"] = json!(false);
        let r = onelogin.put(&path, &body).await;
        r.expect(200);
        assert_eq!(r.body["active"], false);
        assert!(log_row(&app, &r).await.summary.contains("deactivated"));
        assert_eq!(single(&onelogin.get(&onelogin_lookup(name)).await)["active"], false);
        // Deprovisioning action "delete": DELETE, after which reactivating needs a new create
        // (a PUT to the old id is 404; PagerDuty's docs describe the same).
        onelogin.delete(&format!("/Users/{id}")).await.expect(204);
        expect_scim_error(&onelogin.put(&path, &body).await, 404);
        expect_empty_list(&onelogin.get(&onelogin_lookup(name)).await);
        body.as_object_mut().unwrap().remove("id");
        body["active"] = json!(true);
        let r = onelogin.post("/Users", &body).await;
        r.expect(201);
        assert_ne!(r.id(), id);
    })
    .await;
}

#[tokio::test]
async fn onelogin_legacy_template_urns_are_ignored() {
    each_backend(|app| async move {
        let onelogin = onelogin(&app).await;
        // Templates from SCIM 1.1 days (scim.dev guide): the URNs and the extension key are
        // not SCIM 2.0 ones; the core attributes still land.
        for (i, schemas) in [
            json!(["urn:scim:schemas:core:2.0", "urn:scim:schemas:extension:enterprise:2.0"]),
            json!(["urn:scim:schemas:core:1.0"]),
        ]
        .into_iter()
        .enumerate()
        {
            let name = format!("legacy{i}@example.com");
            let r = onelogin
                .post(
                    "/Users",
                    &json!({
                        "schemas": schemas,
                        "userName": name,
                        "name": {"givenName": "Leg", "familyName": "Acy"},
                        "emails": [{"value": name, "type": "work", "primary": true}],
                        "urn:scim:schemas:extension:enterprise:2.0": {"department": "Sales"}
                    }),
                )
                .await;
            r.expect(201);
            assert_eq!(r.body["schemas"], json!([USER]));
            assert_eq!(r.body["name"], json!({"givenName": "Leg", "familyName": "Acy"}));
            assert_eq!(r.body["emails"][0]["value"], name.as_str());
            let row = log_row(&app, &r).await;
            assert_note(&row, "unknown schema URN ignored (F-10)");
            assert_note(&row, "unknown attribute ignored (F-10)");
        }
    })
    .await;
}

#[tokio::test]
async fn onelogin_group_provisioning_adds_and_removes_members() {
    each_backend(|app| async move {
        let onelogin = onelogin(&app).await;
        let a = app.scim.create_user("a@example.com", json!({})).await;
        let b = app.scim.create_user("b@example.com", json!({})).await;
        let r = onelogin.post("/Groups", &json!({"schemas": [GROUP], "displayName": "Engineering"})).await;
        r.expect(201);
        let gpath = format!("/Groups/{}", r.id());
        let r = onelogin
            .patch(&gpath, json!([{"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]}]))
            .await;
        r.expect(200);
        assert_eq!(member_ids(&r.body), sorted(vec![a.clone(), b.clone()]));
        let r = onelogin.patch(&gpath, json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}])).await;
        r.expect(200);
        assert_eq!(member_ids(&r.body), vec![b.clone()]);
        let r = onelogin.get(&format!("/Groups?filter={}&", form("displayName eq \"Engineering\""))).await;
        assert_eq!(member_ids(&single(&r)), vec![b]);
    })
    .await;
}

// --- PingOne / PingFederate (D2) --------------------------------------------------------

async fn ping(app: &TestApp) -> Wire {
    Wire::new(Wire::issue(app, Idp::PingOne).await, &[("Accept", "application/scim+json")], "application/scim+json")
}

#[tokio::test]
async fn pingfederate_finds_users_by_emails_eq_and_replaces_them_with_put() {
    each_backend(|app| async move {
        let ping = ping(&app).await;
        let email = "kim.lee@example.com";
        // The connector's alternative user filter compares the complex attribute directly.
        let by_email = format!("/Users?filter={}", enc(&format!("emails eq \"{email}\"")));
        expect_empty_list(&ping.get(&by_email).await);
        let r = ping
            .post(
                "/Users",
                &json!({
                    "schemas": [USER, ENTERPRISE],
                    "userName": "klee",
                    "name": {"givenName": "Kim", "familyName": "Lee"},
                    "emails": [{"value": email, "type": "work", "primary": true}],
                    "title": "Analyst",
                    "active": true,
                    ENTERPRISE: {"department": "Finance"}
                }),
            )
            .await;
        r.expect(201);
        let id = r.id();
        assert_eq!(log_row(&app, &r).await.idp.as_deref(), Some("pingone"));
        assert_eq!(single(&ping.get(&by_email).await)["id"], id.as_str());
        // emails.value is not case-exact (RFC 7643 §4.1.2).
        let shouted = format!("/Users?filter={}", enc(&format!("emails eq \"{}\"", email.to_uppercase())));
        assert_eq!(single(&ping.get(&shouted).await)["id"], id.as_str());
        // And the default filter.
        let by_name = format!("/Users?filter={}", enc("userName eq \"klee\""));
        assert_eq!(single(&ping.get(&by_name).await)["id"], id.as_str());

        // "SCIM SP Supports Patch Updates" unchecked: every update is a full PUT, and what
        // the PUT omits is cleared.
        let path = format!("/Users/{id}");
        let r = ping
            .put(
                &path,
                &json!({
                    "schemas": [USER],
                    "userName": "klee",
                    "name": {"givenName": "Kimberly", "familyName": "Lee"},
                    "emails": [{"value": email, "type": "work", "primary": true}],
                    "active": true
                }),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["name"]["givenName"], "Kimberly");
        assert!(r.body.get("title").is_none() && r.body.get(ENTERPRISE).is_none(), "{}", r.text);
        assert_eq!(r.body["schemas"], json!([USER]));
        // Checked: PATCH.
        let r = ping.patch(&path, json!([{"op": "replace", "path": "title", "value": "Lead"}])).await;
        r.expect(200);
        assert_eq!(r.body["title"], "Lead");
        // REMOVE_ACTION = Disable.
        let r = ping.patch(&path, json!([{"op": "replace", "path": "active", "value": false}])).await;
        r.expect(200);
        assert_eq!(r.body["active"], false);
        assert_eq!(single(&ping.get(&by_email).await)["active"], false);
        // REMOVE_ACTION = Delete.
        let r = ping.delete(&path).await;
        r.expect(204);
        assert!(log_row(&app, &r).await.summary.contains("deleted"));
        expect_scim_error(&ping.get(&path).await, 404);
        expect_empty_list(&ping.get(&by_email).await);
    })
    .await;
}

#[tokio::test]
async fn pingone_pushes_group_membership_with_patch() {
    each_backend(|app| async move {
        let ping = ping(&app).await;
        let a = app.scim.create_user("pa@example.com", json!({})).await;
        let b = app.scim.create_user("pb@example.com", json!({})).await;
        let find = format!("/Groups?filter={}", enc("displayName eq \"Ping Users\""));
        expect_empty_list(&ping.get(&find).await);
        let r = ping
            .post("/Groups", &json!({"schemas": [GROUP], "displayName": "Ping Users", "members": [{"value": a}]}))
            .await;
        r.expect(201);
        let gpath = format!("/Groups/{}", r.id());
        let r = ping
            .patch(
                &gpath,
                json!([
                    {"op": "add", "path": "members", "value": [{"value": b}]},
                    {"op": "remove", "path": format!("members[value eq \"{a}\"]")}
                ]),
            )
            .await;
        r.expect(200);
        assert_eq!(member_ids(&r.body), vec![b.clone()]);
        // GROUP_MEMBERSHIP_HANDLING with PUT: the member list is replaced.
        let r = ping
            .put(
                &gpath,
                &json!({"schemas": [GROUP], "displayName": "Ping Users", "members": [{"value": a}, {"value": b}]}),
            )
            .await;
        r.expect(200);
        assert_eq!(member_ids(&r.body), sorted(vec![a, b]));
        ping.delete(&gpath).await.expect(204);
        expect_empty_list(&ping.get(&find).await);
    })
    .await;
}

// --- JumpCloud (D3) ---------------------------------------------------------------------

async fn jumpcloud(app: &TestApp) -> Wire {
    Wire::new(Wire::issue(app, Idp::JumpCloud).await, &[], "application/json")
}

#[tokio::test]
async fn jumpcloud_test_connection_creates_and_deletes_a_test_user_and_group() {
    each_backend(|app| async move {
        let jc = jumpcloud(&app).await;
        let test_email = "scim-test@example.com";
        let lookup = format!("/Users?filter={}", enc(&format!("userName eq \"{test_email}\"")));
        // "Test Connection" runs the whole CRUD path; an admin may click it more than once,
        // so the same test user must be creatable again after each run.
        for _ in 0..2 {
            expect_empty_list(&jc.get(&lookup).await);
            let r = jc
                .post(
                    "/Users",
                    &json!({
                        "schemas": [USER],
                        "userName": test_email,
                        "name": {"givenName": "SCIM", "familyName": "Test"},
                        "emails": [{"value": test_email, "type": "work", "primary": true}],
                        "active": true
                    }),
                )
                .await;
            r.expect(201);
            let uid = r.id();
            assert_eq!(log_row(&app, &r).await.idp.as_deref(), Some("jumpcloud"));
            assert_eq!(single(&jc.get(&lookup).await)["id"], uid.as_str());
            let r = jc.post("/Groups", &json!({"schemas": [GROUP], "displayName": "JumpCloud Test Group"})).await;
            r.expect(201);
            let gpath = format!("/Groups/{}", r.id());
            let r = jc.patch(&gpath, json!([{"op": "add", "path": "members", "value": [{"value": uid}]}])).await;
            r.expect(200);
            assert_eq!(member_ids(&r.body), vec![uid.clone()]);
            let r = jc.patch(&gpath, json!([{"op": "remove", "path": "members", "value": [{"value": uid}]}])).await;
            r.expect(200);
            assert_eq!(member_ids(&r.body), Vec::<String>::new());
            let upath = format!("/Users/{uid}");
            let r = jc.patch(&upath, json!([{"op": "replace", "path": "active", "value": false}])).await;
            r.expect(200);
            assert_eq!(r.body["active"], false);
            jc.delete(&gpath).await.expect(204);
            jc.delete(&upath).await.expect(204);
            expect_scim_error(&jc.get(&gpath).await, 404);
            expect_scim_error(&jc.get(&upath).await, 404);
        }
    })
    .await;
}

#[tokio::test]
async fn jumpcloud_legacy_member_removal_removes_only_the_listed_members() {
    each_backend(|app| async move {
        let jc = jumpcloud(&app).await;
        let mut users = Vec::new();
        for i in 0..4 {
            users.push(app.scim.create_user(&format!("jc{i}@example.com"), json!({})).await);
        }
        let r = jc.post("/Groups", &json!({"schemas": [GROUP], "displayName": "JC Group"})).await;
        r.expect(201);
        let gpath = format!("/Groups/{}", r.id());
        let all: Vec<Value> = users.iter().map(|u| json!({"value": u})).collect();
        let r = jc.patch(&gpath, json!([{"op": "add", "path": "members", "value": all}])).await;
        r.expect(200);
        assert!(log_row(&app, &r).await.summary.contains("+4 members"));
        // The Entra-like removal JumpCloud's KBs show: path "members" and a value list.
        let r = jc
            .patch(
                &gpath,
                json!([{"op": "remove", "path": "members", "value": [{"value": users[0]}, {"value": users[2]}]}]),
            )
            .await;
        r.expect(200);
        assert_eq!(member_ids(&r.body), sorted(vec![users[1].clone(), users[3].clone()]));
        let row = log_row(&app, &r).await;
        assert!(row.summary.contains("−2 members"), "{}", row.summary);
        assert_note(&row, "remove with value list: only listed values removed (F-4)");
        assert_eq!(row.idp.as_deref(), Some("jumpcloud"));
        // Removing them again is a no-op (F-24).
        let r = jc.patch(&gpath, json!([{"op": "remove", "path": "members", "value": [{"value": users[0]}]}])).await;
        r.expect(200);
        assert_eq!(member_ids(&r.body), sorted(vec![users[1].clone(), users[3].clone()]));
        // Deprovisioning: deactivate, then delete when removed from the app.
        let upath = format!("/Users/{}", users[1]);
        jc.patch(&upath, json!([{"op": "replace", "path": "active", "value": false}])).await.expect(200);
        jc.delete(&upath).await.expect(204);
        assert_eq!(member_ids(&jc.get(&gpath).await.body), vec![users[3].clone()]);
    })
    .await;
}

// --- Google Workspace (D4) --------------------------------------------------------------

#[tokio::test]
async fn google_workspace_probes_with_count_1_then_suspends_and_deletes() {
    each_backend(|app| async move {
        let google = Wire::new(Wire::issue(&app, Idp::Google).await, &[], "application/json");
        // The probe on an empty tenant and on a populated one: `count` without `startIndex`.
        let r = google.get("/Users?count=1").await;
        expect_empty_list(&r);
        for name in ["first@example.com", "second@example.com"] {
            app.scim.create_user(name, json!({})).await;
        }
        let r = google.get("/Users?count=1").await;
        expect_list(&r, 2, 1, 1);
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        // Auto-provisioning: primary email → userName, first/last name.
        let r = google
            .post(
                "/Users",
                &json!({
                    "schemas": [USER],
                    "userName": "ada@example.com",
                    "name": {"givenName": "Ada", "familyName": "Lovelace"},
                    "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
                    "active": true
                }),
            )
            .await;
        r.expect(201);
        let path = format!("/Users/{}", r.id());
        assert_eq!(log_row(&app, &r).await.idp.as_deref(), Some("google"));
        // Suspended in Google.
        let r = google.patch(&path, json!([{"op": "replace", "path": "active", "value": false}])).await;
        r.expect(200);
        assert_eq!(r.body["active"], false);
        assert_eq!(google.get(&path).await.body["active"], false);
        // Deleted (possibly weeks later).
        google.delete(&path).await.expect(204);
        expect_scim_error(&google.get(&path).await, 404);
        expect_scim_error(&google.delete(&path).await, 404);
        expect_list(&google.get("/Users?count=1").await, 2, 1, 1);
    })
    .await;
}
