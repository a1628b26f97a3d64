//! Attribute mapping (issue 5): every core, enterprise and custom User attribute through
//! POST, GET, PUT, PATCH (with a path, with a URN path, path-less with URN keys), filters and
//! projection; `/Schemas` following the tenant's definitions; type checks that store nothing;
//! the userName rule (`reject` and `allow`); tenants with different custom schemas; vendor
//! changes; removed definitions; and the unknown-attribute policy.

use roster_core::TenantSettings;
use roster_core::model::{RejectOrAllow, StrictOrLenient};
use roster_testkit::body::{ENTERPRISE, USER};
use roster_testkit::{AdminClient, Resp, ScimClient, each_backend, each_backend_with};
use serde_json::{Map, Value, json};

use crate::support::{enc, filter, ids};

const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:roster:2.0:User";
const IVANTI: &str = "urn:ietf:params:scim:schemas:extension:ivanti:2.0:User";
const CORE_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// Every core User attribute an IdP writes, with values that survive canonicalisation.
fn full_core_user(user_name: &str, n: u32) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "externalId": format!("ext-{n}"),
        "name": {
            "formatted": format!("Ms. Barbara J Jensen {n}"),
            "familyName": format!("Jensen{n}"),
            "givenName": format!("Barbara{n}"),
            "middleName": "Jane",
            "honorificPrefix": "Ms.",
            "honorificSuffix": "III"
        },
        "displayName": format!("Babs Jensen {n}"),
        "nickName": format!("Babs{n}"),
        "profileUrl": format!("https://login.example.com/bjensen{n}"),
        "title": format!("Tour Guide {n}"),
        "userType": "Employee",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "emails": [
            {"value": format!("bjensen{n}@example.com"), "type": "work", "primary": true},
            {"value": format!("babs{n}@jensen.org"), "type": "home"}
        ],
        "phoneNumbers": [{"value": format!("555-555-{n:04}"), "type": "work"}],
        "ims": [{"value": format!("someaimhandle{n}"), "type": "aim"}],
        "photos": [{"value": format!("https://photos.example.com/profilephoto/{n}"), "type": "photo"}],
        "addresses": [{
            "type": "work",
            "streetAddress": format!("{n} Hollywood Blvd"),
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": format!("9{n:04}"),
            "country": "US",
            "formatted": format!("{n} Hollywood Blvd\nHollywood, CA 9{n:04} US"),
            "primary": true
        }],
        "entitlements": [{"value": format!("entitlement-{n}")}],
        "roles": [{"value": format!("role-{n}")}],
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw"}]
    })
}

/// Asserts that every attribute of `sent` (except `password` and `schemas`) is in `got`
/// exactly as sent.
#[track_caller]
fn expect_round_trip(sent: &Value, got: &Value) {
    for (k, v) in sent.as_object().unwrap() {
        if k == "password" || k == "schemas" {
            continue;
        }
        assert_eq!(&got[k], v, "{k} did not round-trip: sent {v}, got {}", got[k]);
    }
}

async fn define(admin: &AdminClient, tenant: &str, name: &str, ty: &str, multi: bool) {
    let r = admin
        .post(&format!("/tenants/{tenant}/attributes"), &json!({"name": name, "type": ty, "multi_valued": multi}))
        .await;
    r.expect(201);
}

/// The attribute names a schema document lists.
async fn schema_attributes(scim: &ScimClient, urn: &str) -> Option<Vec<Value>> {
    let r = scim.get("/Schemas").await;
    r.expect(200);
    let schema = r.body["Resources"].as_array().unwrap().iter().find(|s| s["id"] == urn).cloned()?;
    Some(schema["attributes"].as_array().unwrap().clone())
}

fn names(attrs: &[Value]) -> Vec<String> {
    attrs.iter().map(|a| a["name"].as_str().unwrap().to_string()).collect()
}

async fn user_count(scim: &ScimClient) -> u64 {
    scim.get("/Users").await.body["totalResults"].as_u64().unwrap()
}

#[track_caller]
fn expect_detail_names(r: &Resp, status: u16, scim_type: &str, name: &str) {
    r.expect_error(status, Some(scim_type));
    assert!(r.body["detail"].as_str().unwrap_or_default().contains(name), "detail should name {name}: {}", r.text);
}

#[tokio::test]
async fn core_attributes_round_trip_through_post_get_and_put() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let mut sent = full_core_user("bjensen", 1);
        sent["password"] = json!("t1meMa$heen");
        let r = scim.post("/Users", &sent).await;
        r.expect(201);
        let id = r.id();
        expect_round_trip(&sent, &r.body);
        assert!(r.body.get("password").is_none(), "{}", r.text);
        assert_eq!(r.body["id"], id.as_str());
        let got = scim.get(&format!("/Users/{id}")).await;
        got.expect(200);
        assert_eq!(got.body, r.body);

        // PUT replaces every attribute.
        let replacement = full_core_user("bjensen", 2);
        let r = scim.put(&format!("/Users/{id}"), &replacement).await;
        r.expect(200);
        expect_round_trip(&replacement, &r.body);
        let got = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(got.body, r.body);
        assert_eq!(got.header("etag"), Some("W/\"2\""));

        // PUT without an optional attribute clears it; id and meta are not writable.
        let r = scim
            .put(
                &format!("/Users/{id}"),
                &json!({"schemas": [USER], "userName": "bjensen", "id": "hijacked", "meta": {"version": "W/\"99\""}}),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["id"], id.as_str());
        assert_eq!(r.body["meta"]["version"], "W/\"3\"");
        for k in ["name", "emails", "displayName", "addresses", "externalId", "x509Certificates"] {
            assert!(r.body.get(k).is_none(), "{k} should be cleared: {}", r.text);
        }
        scim.get("/Users/hijacked").await.expect_error(404, None);
    })
    .await;
}

#[tokio::test]
async fn core_attributes_patch_with_paths_urn_paths_and_path_less_urn_keys() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.post("/Users", &full_core_user("bjensen", 1)).await.id();
        let path = format!("/Users/{id}");

        // Plain paths, for every kind of attribute.
        let r = scim
            .patch_ops(
                &path,
                json!([
                    {"op": "replace", "path": "displayName", "value": "Patched Name"},
                    {"op": "replace", "path": "name.givenName", "value": "Barb"},
                    {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "work@example.com"},
                    {"op": "add", "path": "phoneNumbers", "value": [{"value": "555-0199", "type": "mobile"}]},
                    {"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "Burbank"},
                    {"op": "remove", "path": "ims"},
                    {"op": "replace", "path": "active", "value": false},
                    {"op": "replace", "path": "externalId", "value": "ext-new"},
                    {"op": "add", "path": "roles", "value": [{"value": "role-2"}]},
                    {"op": "replace", "path": "timezone", "value": "Europe/Paris"}
                ]),
            )
            .await;
        r.expect(200);
        let b = &r.body;
        assert_eq!(b["displayName"], "Patched Name");
        assert_eq!(b["name"]["givenName"], "Barb");
        assert_eq!(b["name"]["familyName"], "Jensen1");
        assert_eq!(b["emails"][0], json!({"value": "work@example.com", "type": "work", "primary": true}));
        assert_eq!(b["emails"][1]["value"], "babs1@jensen.org");
        assert_eq!(b["phoneNumbers"].as_array().unwrap().len(), 2);
        assert_eq!(b["addresses"][0]["locality"], "Burbank");
        assert_eq!(b["addresses"][0]["region"], "CA");
        assert!(b.get("ims").is_none(), "{}", r.text);
        assert_eq!(b["active"], false);
        assert_eq!(b["externalId"], "ext-new");
        assert_eq!(b["roles"], json!([{"value": "role-1"}, {"value": "role-2"}]));
        assert_eq!(b["timezone"], "Europe/Paris");

        // Paths qualified with the core schema URN.
        let r = scim
            .patch_ops(
                &path,
                json!([
                    {"op": "replace", "path": format!("{CORE_PREFIX}:displayName"), "value": "By URN"},
                    {"op": "replace", "path": format!("{CORE_PREFIX}:name.familyName"), "value": "Urnson"},
                    {"op": "replace", "path": format!("{CORE_PREFIX}:nickName"), "value": "U"}
                ]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["displayName"], "By URN");
        assert_eq!(r.body["name"]["familyName"], "Urnson");
        assert_eq!(r.body["nickName"], "U");

        // Path-less, with plain, dotted and URN-qualified keys.
        let r = scim
            .patch_ops(
                &path,
                json!([{"op": "replace", "value": {
                    "title": "Pathless Title",
                    "name.middleName": "Dotted",
                    format!("{CORE_PREFIX}:userType"): "Contractor",
                    "active": true
                }}]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["title"], "Pathless Title");
        assert_eq!(r.body["name"]["middleName"], "Dotted");
        assert_eq!(r.body["userType"], "Contractor");
        assert_eq!(r.body["active"], true);
        let got = scim.get(&path).await;
        assert_eq!(got.body, r.body);
    })
    .await;
}

#[tokio::test]
async fn core_attributes_filter_and_project() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let one = scim.post("/Users", &full_core_user("bjensen", 1)).await.id();
        let mut other = full_core_user("other", 2);
        other["active"] = json!(false);
        let two = scim.post("/Users", &other).await.id();

        for (f, expected) in [
            ("userName eq \"BJENSEN\"", &one),
            ("externalId eq \"ext-1\"", &one),
            ("displayName eq \"Babs Jensen 1\"", &one),
            ("name.givenName eq \"Barbara1\"", &one),
            ("name.familyName sw \"jensen1\"", &one),
            ("name.formatted co \"J Jensen 1\"", &one),
            ("nickName eq \"Babs1\"", &one),
            ("title eq \"Tour Guide 1\"", &one),
            ("profileUrl eq \"https://login.example.com/bjensen1\"", &one),
            ("active eq true", &one),
            ("active eq false", &two),
            ("emails.value eq \"bjensen1@example.com\"", &one),
            ("emails eq \"babs2@jensen.org\"", &two),
            ("emails[type eq \"work\" and value co \"bjensen1\"]", &one),
            ("phoneNumbers.value eq \"555-555-0002\"", &two),
            ("ims.value eq \"someaimhandle1\"", &one),
            ("photos.value eq \"https://photos.example.com/profilephoto/2\"", &two),
            ("addresses.postalCode eq \"90001\"", &one),
            ("addresses[type eq \"work\"].streetAddress sw \"2 \"", &two),
            ("entitlements.value eq \"entitlement-1\"", &one),
            ("roles.value eq \"role-2\"", &two),
            (&format!("{CORE_PREFIX}:userName eq \"other\""), &two),
            ("userType eq \"Employee\" and locale eq \"en-US\" and active eq true", &one),
        ] {
            let r = filter(scim, "/Users", f).await;
            r.expect(200);
            assert_eq!(ids(&r), vec![expected.clone()], "{f}: {}", r.text);
        }
        let r = filter(scim, "/Users", "preferredLanguage eq \"en-US\" and timezone pr").await;
        assert_eq!(r.body["totalResults"], 2, "{}", r.text);
        // Sorting on core attributes.
        let r = scim.get("/Users?sortBy=name.givenName&sortOrder=descending").await;
        assert_eq!(ids(&r), vec![two.clone(), one.clone()]);

        // Projection: only what was asked for (plus id and schemas).
        let r = scim.get(&format!("/Users/{one}?attributes=name.givenName,emails")).await;
        r.expect(200);
        assert_eq!(r.body["id"], one.as_str());
        assert_eq!(r.body["name"], json!({"givenName": "Barbara1"}));
        assert_eq!(r.body["emails"].as_array().unwrap().len(), 2);
        for absent in ["displayName", "addresses", "phoneNumbers", "active", "title"] {
            assert!(r.body.get(absent).is_none(), "{absent}: {}", r.text);
        }
        let r = scim.get(&format!("/Users/{one}?excludedAttributes=emails,name,addresses")).await;
        assert!(r.body.get("emails").is_none() && r.body.get("name").is_none() && r.body.get("addresses").is_none());
        assert_eq!(r.body["displayName"], "Babs Jensen 1");
        assert_eq!(r.body["userName"], "bjensen");
        let r = scim.get(&format!("/Users?filter={}&attributes=userName", enc("userName eq \"other\""))).await;
        assert_eq!(r.body["Resources"][0]["userName"], "other");
        assert!(r.body["Resources"][0].get("emails").is_none(), "{}", r.text);
    })
    .await;
}

#[tokio::test]
async fn enterprise_attributes_round_trip_patch_filter_sort_and_project() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let boss = scim.create_user("boss", json!({"displayName": "The Boss"})).await;
        let enterprise = json!({
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {"value": boss}
        });
        let r = scim
            .post("/Users", &json!({"schemas": [USER, ENTERPRISE], "userName": "bjensen", ENTERPRISE: enterprise}))
            .await;
        r.expect(201);
        let id = r.id();
        let e = &r.body[ENTERPRISE];
        for k in ["employeeNumber", "costCenter", "organization", "division", "department"] {
            assert_eq!(e[k], enterprise[k], "{k}: {}", r.text);
        }
        assert_eq!(e["manager"]["value"], boss.as_str());
        assert_eq!(e["manager"]["displayName"], "The Boss");
        assert_eq!(e["manager"]["$ref"], format!("{}/Users/{boss}", scim.base));
        assert!(r.body["schemas"].as_array().unwrap().contains(&json!(ENTERPRISE)), "{}", r.text);
        assert_eq!(scim.get(&format!("/Users/{id}")).await.body, r.body);

        // PUT replaces the extension.
        let r = scim
            .put(
                &format!("/Users/{id}"),
                &json!({"schemas": [USER, ENTERPRISE], "userName": "bjensen",
                        ENTERPRISE: {"department": "Sales", "costCenter": "1", "manager": {"value": "nobody-by-this-id"}}}),
            )
            .await;
        r.expect(200);
        let e = &r.body[ENTERPRISE];
        assert_eq!(e["department"], "Sales");
        assert!(e.get("employeeNumber").is_none(), "{}", r.text);
        // A manager that does not resolve has no displayName.
        assert_eq!(e["manager"]["value"], "nobody-by-this-id");
        assert!(e["manager"].get("displayName").is_none(), "{}", r.text);

        // PATCH with the URN path, the sub-attribute path and path-less URN keys (both forms).
        let r = scim
            .patch_ops(
                &format!("/Users/{id}"),
                json!([
                    {"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Marketing"},
                    {"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": boss}},
                    {"op": "add", "value": {format!("{ENTERPRISE}:employeeNumber"): "E-2"}},
                    {"op": "add", "value": {ENTERPRISE: {"division": "Online"}}},
                    {"op": "remove", "path": format!("{ENTERPRISE}:costCenter")}
                ]),
            )
            .await;
        r.expect(200);
        let e = &r.body[ENTERPRISE];
        assert_eq!(e["department"], "Marketing");
        assert_eq!(e["employeeNumber"], "E-2");
        assert_eq!(e["division"], "Online");
        assert!(e.get("costCenter").is_none(), "{}", r.text);
        assert_eq!(e["manager"]["displayName"], "The Boss");
        // Entra removes a manager with an empty value.
        let r = scim
            .patch_ops(
                &format!("/Users/{id}"),
                json!([{"op": "Replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": ""}}]),
            )
            .await;
        r.expect(200);
        assert!(r.body[ENTERPRISE].get("manager").is_none(), "{}", r.text);
        scim.patch_ops(&format!("/Users/{id}"), json!([{"op": "add", "path": format!("{ENTERPRISE}:manager"), "value": boss}]))
            .await
            .expect(200);

        // Filter and sort with the full path.
        let other = scim
            .post("/Users", &json!({"schemas": [USER, ENTERPRISE], "userName": "other", ENTERPRISE: {"department": "Sales"}}))
            .await
            .id();
        let r = filter(scim, "/Users", &format!("{ENTERPRISE}:department eq \"Sales\"")).await;
        assert_eq!(ids(&r), vec![other.clone()]);
        let r = filter(scim, "/Users", &format!("{ENTERPRISE}:department eq \"marketing\"")).await;
        assert_eq!(ids(&r), vec![id.clone()]);
        let r = filter(scim, "/Users", &format!("{ENTERPRISE}:manager.value eq \"{boss}\"")).await;
        assert_eq!(ids(&r), vec![id.clone()]);
        let r = filter(scim, "/Users", &format!("{ENTERPRISE}:employeeNumber pr")).await;
        assert_eq!(ids(&r), vec![id.clone()]);
        let r = scim
            .get(&format!(
                "/Users?filter={}&sortBy={}",
                enc(&format!("{ENTERPRISE}:department pr")),
                enc(&format!("{ENTERPRISE}:department"))
            ))
            .await;
        assert_eq!(ids(&r), vec![id.clone(), other.clone()], "Marketing before Sales: {}", r.text);

        // Projection of one enterprise attribute.
        let r = scim.get(&format!("/Users/{id}?attributes={}", enc(&format!("{ENTERPRISE}:department")))).await;
        r.expect(200);
        assert_eq!(r.body[ENTERPRISE], json!({"department": "Marketing"}));
        assert!(r.body.get("userName").is_none() || r.body["userName"] == "bjensen");
        let r = scim.get(&format!("/Users/{id}?excludedAttributes={ENTERPRISE}")).await;
        assert!(r.body.get(ENTERPRISE).is_none(), "{}", r.text);
    })
    .await;
}

/// The custom attributes the tests define, with a value and a second value of each.
fn custom_definitions() -> Vec<(&'static str, &'static str, bool, Value, Value)> {
    vec![
        ("badgeNumber", "integer", false, json!(42), json!(43)),
        ("costCode", "string", false, json!("CC-1"), json!("CC-2")),
        ("remote", "boolean", false, json!(true), json!(false)),
        ("ratio", "decimal", false, json!(0.75), json!(1.5)),
        ("hireDate", "dateTime", false, json!("2024-01-15T09:00:00Z"), json!("2025-02-01T00:00:00Z")),
        ("homepage", "reference", false, json!("https://people.example.com/b"), json!("https://people.example.com/c")),
        ("deviceGroups", "string", true, json!(["laptops", "phones"]), json!(["tablets"])),
    ]
}

#[tokio::test]
async fn a_custom_attribute_is_in_schemas_at_once_and_round_trips_everywhere() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        let scim = &app.scim;
        // Before: the extension exists but has no attributes.
        assert_eq!(schema_attributes(scim, CUSTOM).await, Some(vec![]));
        let rt = scim.get("/ResourceTypes/User").await;
        assert!(rt.text.contains(CUSTOM), "{}", rt.text);

        for (name, ty, multi, _, _) in custom_definitions() {
            define(&admin, "default", name, ty, multi).await;
        }
        // After: every definition, with its type, at once.
        let attrs = schema_attributes(scim, CUSTOM).await.unwrap();
        let mut expected: Vec<String> = custom_definitions().iter().map(|d| d.0.to_string()).collect();
        let mut listed_names = names(&attrs);
        expected.sort();
        listed_names.sort();
        assert_eq!(listed_names, expected);
        for (name, ty, multi, _, _) in custom_definitions() {
            let a = attrs.iter().find(|a| a["name"] == name).unwrap();
            assert_eq!(a["type"], ty, "{a}");
            assert_eq!(a["multiValued"], multi, "{a}");
            assert_eq!(a["mutability"], "readWrite", "{a}");
        }
        let one = scim.get(&format!("/Schemas/{CUSTOM}")).await;
        one.expect(200);
        assert_eq!(one.body["attributes"].as_array().unwrap().len(), 7);
        // The admin API lists them with the path IdPs map to.
        let listed = admin.get("/tenants/default/attributes").await;
        assert_eq!(listed.body["urn"], CUSTOM);
        assert_eq!(listed.body["attributes"][0]["path"], format!("{CUSTOM}:badgeNumber"));

        // POST and GET.
        let first: Map<String, Value> = custom_definitions().into_iter().map(|d| (d.0.to_string(), d.3)).collect();
        let r = scim.post("/Users", &json!({"schemas": [USER, CUSTOM], "userName": "bjensen", CUSTOM: first})).await;
        r.expect(201);
        let id = r.id();
        assert_eq!(r.body[CUSTOM], Value::Object(first.clone()), "{}", r.text);
        assert!(r.body["schemas"].as_array().unwrap().contains(&json!(CUSTOM)), "{}", r.text);
        assert_eq!(scim.get(&format!("/Users/{id}")).await.body, r.body);

        // PUT.
        let second: Map<String, Value> = custom_definitions().into_iter().map(|d| (d.0.to_string(), d.4)).collect();
        let r = scim
            .put(&format!("/Users/{id}"), &json!({"schemas": [USER, CUSTOM], "userName": "bjensen", CUSTOM: second}))
            .await;
        r.expect(200);
        assert_eq!(r.body[CUSTOM], Value::Object(second.clone()), "{}", r.text);

        // PATCH: the URN path, path-less with a URN-qualified key, path-less with the URN object.
        let r = scim
            .patch_ops(
                &format!("/Users/{id}"),
                json!([
                    {"op": "replace", "path": format!("{CUSTOM}:badgeNumber"), "value": 7},
                    {"op": "add", "path": format!("{CUSTOM}:deviceGroups"), "value": ["desktops"]},
                    {"op": "replace", "value": {format!("{CUSTOM}:costCode"): "CC-9"}},
                    {"op": "add", "value": {CUSTOM: {"remote": true}}},
                    {"op": "remove", "path": format!("{CUSTOM}:ratio")},
                    {"op": "replace", "path": format!("{CUSTOM}:hireDate"), "value": "2023-06-30T12:00:00Z"}
                ]),
            )
            .await;
        r.expect(200);
        let c = &r.body[CUSTOM];
        assert_eq!(c["badgeNumber"], 7);
        assert_eq!(c["deviceGroups"], json!(["tablets", "desktops"]));
        assert_eq!(c["costCode"], "CC-9");
        assert_eq!(c["remote"], true);
        assert!(c.get("ratio").is_none(), "{}", r.text);
        assert_eq!(c["hireDate"], "2023-06-30T12:00:00Z");
        assert_eq!(c["homepage"], "https://people.example.com/c");
        assert_eq!(scim.get(&format!("/Users/{id}")).await.body, r.body);
        let r = scim
            .patch_ops(
                &format!("/Users/{id}"),
                json!([{"op": "replace", "path": format!("{CUSTOM}:badgeNumber"), "value": "8"}]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body[CUSTOM]["badgeNumber"], 8, "a numeric string is read as the number: {}", r.text);
        // Names are case-insensitive, and stored under the defined spelling.
        let r = scim
            .patch_ops(
                &format!("/Users/{id}"),
                json!([{"op": "replace", "path": format!("{CUSTOM}:COSTCODE"), "value": "CC-10"}]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body[CUSTOM]["costCode"], "CC-10", "{}", r.text);
        assert!(r.body[CUSTOM].get("COSTCODE").is_none(), "{}", r.text);

        // Filter, sort and projection with the full path.
        let other = scim
            .post(
                "/Users",
                &json!({"schemas": [USER, CUSTOM], "userName": "other",
                        CUSTOM: {"badgeNumber": 100, "remote": false, "costCode": "XX", "deviceGroups": ["phones"]}}),
            )
            .await
            .id();
        for (f, expected) in [
            (format!("{CUSTOM}:badgeNumber eq 8"), vec![id.clone()]),
            (format!("{CUSTOM}:badgeNumber gt 50"), vec![other.clone()]),
            (format!("{CUSTOM}:remote eq true"), vec![id.clone()]),
            (format!("{CUSTOM}:costCode sw \"cc\""), vec![id.clone()]),
            (format!("{CUSTOM}:deviceGroups eq \"phones\""), vec![other.clone()]),
            (format!("{CUSTOM}:hireDate lt \"2024-01-01T00:00:00Z\""), vec![id.clone()]),
            (format!("{CUSTOM}:homepage pr"), vec![id.clone()]),
        ] {
            let r = filter(scim, "/Users", &f).await;
            r.expect(200);
            assert_eq!(ids(&r), expected, "{f}: {}", r.text);
        }
        let r =
            scim.get(&format!("/Users?sortBy={}&sortOrder=descending", enc(&format!("{CUSTOM}:badgeNumber")))).await;
        assert_eq!(ids(&r), vec![other.clone(), id.clone()]);
        let r = scim.get(&format!("/Users/{id}?attributes={}", enc(&format!("{CUSTOM}:badgeNumber")))).await;
        assert_eq!(r.body[CUSTOM], json!({"badgeNumber": 8}), "{}", r.text);
        assert!(r.body.get("userName").is_none() || r.body["userName"] == "bjensen");
        let r = scim.get(&format!("/Users/{id}?excludedAttributes={}", enc(&format!("{CUSTOM}:costCode")))).await;
        assert!(r.body[CUSTOM].get("costCode").is_none(), "{}", r.text);
        assert_eq!(r.body[CUSTOM]["badgeNumber"], 8);
    })
    .await;
}

#[tokio::test]
async fn a_type_mismatch_is_400_invalid_value_naming_the_attribute_and_nothing_is_stored() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        let scim = &app.scim;
        define(&admin, "default", "badgeNumber", "integer", false).await;
        define(&admin, "default", "remote", "boolean", false).await;
        define(&admin, "default", "hireDate", "dateTime", false).await;

        for (name, bad) in [("badgeNumber", json!("abc")), ("remote", json!("maybe")), ("hireDate", json!("next tuesday"))] {
            let r = scim
                .post("/Users", &json!({"schemas": [USER, CUSTOM], "userName": format!("u-{name}"), CUSTOM: {name: bad}}))
                .await;
            expect_detail_names(&r, 400, "invalidValue", name);
        }
        assert_eq!(user_count(scim).await, 0);

        let id = scim
            .post("/Users", &json!({"schemas": [USER, CUSTOM], "userName": "jdoe", "displayName": "J", CUSTOM: {"badgeNumber": 1}}))
            .await
            .id();
        let before = scim.get(&format!("/Users/{id}")).await;
        let r = scim
            .patch_ops(
                &format!("/Users/{id}"),
                json!([
                    {"op": "replace", "path": "displayName", "value": "Changed"},
                    {"op": "replace", "path": format!("{CUSTOM}:badgeNumber"), "value": "abc"}
                ]),
            )
            .await;
        expect_detail_names(&r, 400, "invalidValue", "badgeNumber");
        let r = scim
            .patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "value": {format!("{CUSTOM}:badgeNumber"): "abc"}}]))
            .await;
        expect_detail_names(&r, 400, "invalidValue", "badgeNumber");
        let r = scim
            .put(
                &format!("/Users/{id}"),
                &json!({"schemas": [USER, CUSTOM], "userName": "jdoe", "displayName": "Changed", CUSTOM: {"badgeNumber": "abc"}}),
            )
            .await;
        expect_detail_names(&r, 400, "invalidValue", "badgeNumber");
        // A core attribute's type is checked the same way.
        let r = scim.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": "active", "value": "sometimes"}])).await;
        expect_detail_names(&r, 400, "invalidValue", "active");

        let after = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(after.body, before.body, "nothing was stored");
        assert_eq!(after.header("etag"), Some("W/\"1\""));
        assert_eq!(user_count(scim).await, 1);
    })
    .await;
}

#[tokio::test]
async fn changing_a_username_is_400_mutability_under_reject() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("jdoe@x.io", json!({"displayName": "J"})).await;
        let path = format!("/Users/{id}");
        let checks = [
            scim.put(&path, &json!({"schemas": [USER], "userName": "john@x.io"})).await,
            scim.patch_ops(&path, json!([{"op": "replace", "path": "userName", "value": "john@x.io"}])).await,
            scim.patch_ops(&path, json!([{"op": "replace", "value": {"userName": "john@x.io", "displayName": "X"}}]))
                .await,
            scim.patch_ops(
                &path,
                json!([{"op": "replace", "path": format!("{CORE_PREFIX}:userName"), "value": "john@x.io"}]),
            )
            .await,
        ];
        for r in &checks {
            expect_detail_names(r, 400, "mutability", "userName");
            let detail = r.body["detail"].as_str().unwrap();
            assert!(detail.contains("deprovision"), "the detail tells the IdP admin what to do: {detail}");
        }
        let got = scim.get(&path).await;
        assert_eq!(got.body["userName"], "jdoe@x.io");
        assert_eq!(got.body["displayName"], "J");
        assert_eq!(got.header("etag"), Some("W/\"1\""));

        // The same value, in another case, is fine and keeps the stored spelling.
        let r = scim.put(&path, &json!({"schemas": [USER], "userName": "JDOE@X.IO", "displayName": "Jay"})).await;
        r.expect(200);
        assert_eq!(r.body["userName"], "jdoe@x.io");
        assert_eq!(r.body["displayName"], "Jay");
        let r = scim.patch_ops(&path, json!([{"op": "replace", "path": "userName", "value": "JDoe@x.io"}])).await;
        r.expect(200);
        assert_eq!(r.body["userName"], "jdoe@x.io");
        // externalId stays writable.
        let r = scim.patch_ops(&path, json!([{"op": "replace", "path": "externalId", "value": "e-2"}])).await;
        r.expect(200);
        assert_eq!(r.body["externalId"], "e-2");
    })
    .await;
}

#[tokio::test]
async fn changing_a_username_is_applied_under_allow() {
    let settings = TenantSettings { username_changes: RejectOrAllow::Allow, ..Default::default() };
    each_backend_with(settings, |app| async move {
        let scim = &app.scim;
        let id = scim.create_user("jdoe@x.io", json!({})).await;
        let path = format!("/Users/{id}");
        let r = scim.put(&path, &json!({"schemas": [USER], "userName": "john@x.io"})).await;
        r.expect(200);
        assert_eq!(r.body["userName"], "john@x.io");
        let r = scim.patch_ops(&path, json!([{"op": "replace", "path": "userName", "value": "johnny@x.io"}])).await;
        r.expect(200);
        assert_eq!(r.body["userName"], "johnny@x.io");
        let r = filter(scim, "/Users", "userName eq \"johnny@x.io\"").await;
        assert_eq!(ids(&r), vec![id.clone()]);
        assert_eq!(filter(scim, "/Users", "userName eq \"jdoe@x.io\"").await.body["totalResults"], 0);
        // The old name is free; a taken one is still unique.
        let other = scim.create_user("jdoe@x.io", json!({})).await;
        let r = scim
            .patch_ops(
                &format!("/Users/{other}"),
                json!([{"op": "replace", "path": "userName", "value": "JOHNNY@x.io"}]),
            )
            .await;
        r.expect_error(409, Some("uniqueness"));
    })
    .await;
}

#[tokio::test]
async fn two_tenants_with_different_custom_schemas_stay_apart() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        let ours = &app.scim;
        let theirs = app.tenant_client("other").await;
        admin.patch("/tenants/other/settings", &json!({"vendor": "ivanti"})).await.expect(200);
        define(&admin, "default", "badgeNumber", "integer", false).await;
        define(&admin, "other", "badgeNumber", "string", false).await;
        define(&admin, "other", "site", "string", false).await;

        // Each tenant's /Schemas shows its own extension only.
        assert_eq!(names(&schema_attributes(ours, CUSTOM).await.unwrap()), ["badgeNumber"]);
        assert_eq!(schema_attributes(ours, IVANTI).await, None);
        let their_attrs = schema_attributes(&theirs, IVANTI).await.unwrap();
        assert_eq!(names(&their_attrs), ["badgeNumber", "site"]);
        assert_eq!(their_attrs[0]["type"], "string");
        assert_eq!(schema_attributes(&theirs, CUSTOM).await, None);
        assert!(theirs.get("/ResourceTypes/User").await.text.contains(IVANTI));
        assert!(!ours.get("/ResourceTypes/User").await.text.contains(IVANTI));

        // The same name has each tenant's type.
        ours.post("/Users", &json!({"userName": "u", CUSTOM: {"badgeNumber": "A-1"}}))
            .await
            .expect_error(400, Some("invalidValue"));
        let mine = ours.post("/Users", &json!({"userName": "u", CUSTOM: {"badgeNumber": 7}})).await;
        mine.expect(201);
        let r = theirs.post("/Users", &json!({"userName": "u", IVANTI: {"badgeNumber": "A-1", "site": "Leeds"}})).await;
        r.expect(201);
        assert_eq!(r.body[IVANTI], json!({"badgeNumber": "A-1", "site": "Leeds"}));
        assert!(r.body.get(CUSTOM).is_none());
        // The other tenant's URN means nothing here (lenient: ignored), and the reverse.
        let r = ours.post("/Users", &json!({"userName": "v", IVANTI: {"site": "Leeds"}})).await;
        r.expect(201);
        assert!(r.body.get(IVANTI).is_none(), "{}", r.text);
        let r = theirs.post("/Users", &json!({"userName": "v", CUSTOM: {"badgeNumber": 9}})).await;
        r.expect(201);
        assert!(r.body.get(CUSTOM).is_none(), "{}", r.text);

        // Filters see only the tenant's own data.
        assert_eq!(filter(ours, "/Users", &format!("{CUSTOM}:badgeNumber eq 7")).await.body["totalResults"], 1);
        assert_eq!(filter(&theirs, "/Users", &format!("{IVANTI}:site eq \"Leeds\"")).await.body["totalResults"], 1);
        // A filter on the other tenant's extension is refused: that schema is not this tenant's.
        for (client, f) in
            [(ours, format!("{IVANTI}:site eq \"Leeds\"")), (&theirs, format!("{CUSTOM}:badgeNumber eq 9"))]
        {
            filter(client, "/Users", &f).await.expect_error(400, Some("invalidFilter"));
        }
        // Removing a definition in one tenant leaves the other's alone.
        admin.delete("/tenants/other/attributes/badgeNumber").await.expect(204);
        let mine_now = ours.get(&format!("/Users/{}", mine.id())).await;
        assert_eq!(mine_now.body[CUSTOM]["badgeNumber"], 7);
    })
    .await;
}

#[tokio::test]
async fn a_vendor_change_keeps_the_data_under_the_new_urn() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        let scim = &app.scim;
        define(&admin, "default", "badgeNumber", "integer", false).await;
        let id = scim.post("/Users", &json!({"userName": "u", CUSTOM: {"badgeNumber": 7}})).await.id();

        let r = admin.patch("/tenants/default/settings", &json!({"vendor": "ivanti"})).await;
        r.expect(200);
        assert_eq!(r.body["settings"]["vendor"], "ivanti");
        let got = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(got.body[IVANTI], json!({"badgeNumber": 7}), "{}", got.text);
        assert!(got.body.get(CUSTOM).is_none(), "{}", got.text);
        assert!(got.body["schemas"].as_array().unwrap().contains(&json!(IVANTI)), "{}", got.text);
        assert!(!got.text.contains(CUSTOM), "{}", got.text);
        assert_eq!(names(&schema_attributes(scim, IVANTI).await.unwrap()), ["badgeNumber"]);
        assert_eq!(schema_attributes(scim, CUSTOM).await, None);
        let rt = scim.get("/ResourceTypes/User").await;
        assert!(rt.text.contains(IVANTI) && !rt.text.contains(CUSTOM), "{}", rt.text);
        assert_eq!(filter(scim, "/Users", &format!("{IVANTI}:badgeNumber eq 7")).await.body["totalResults"], 1);
        // The new URN is the one PATCH paths use now.
        let r = scim
            .patch_ops(
                &format!("/Users/{id}"),
                json!([{"op": "replace", "path": format!("{IVANTI}:badgeNumber"), "value": 8}]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body[IVANTI]["badgeNumber"], 8);
        // The change is audited with the old and new values.
        let audit = admin.get("/tenants/default/audit?event=tenant.settings_changed&limit=1").await;
        let details = audit.body["events"][0]["details"].as_str().unwrap();
        assert!(details.contains("roster") && details.contains("ivanti"), "{details}");
        // Bad vendors are refused.
        for bad in ["enterprise", "has space", "1abc", ""] {
            admin.patch("/tenants/default/settings", &json!({"vendor": bad})).await.expect(400);
        }
        assert_eq!(app.core.tenant("default").await.unwrap().settings.vendor, "ivanti");
    })
    .await;
}

#[tokio::test]
async fn removing_a_definition_never_leaves_stale_data_served() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        let scim = &app.scim;
        define(&admin, "default", "badgeNumber", "integer", false).await;
        define(&admin, "default", "site", "string", false).await;
        let id = scim.post("/Users", &json!({"userName": "u", CUSTOM: {"badgeNumber": 7, "site": "Leeds"}})).await.id();

        admin.delete("/tenants/default/attributes/badgeNumber").await.expect(204);
        let got = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(got.body[CUSTOM], json!({"site": "Leeds"}), "{}", got.text);
        assert_eq!(names(&schema_attributes(scim, CUSTOM).await.unwrap()), ["site"]);
        let r = filter(scim, "/Users", &format!("{CUSTOM}:badgeNumber eq 7")).await;
        assert!(r.status == 400 || r.body["totalResults"] == 0, "{}", r.text);
        // Defining the name again, with another type, does not bring the old value back.
        define(&admin, "default", "badgeNumber", "string", false).await;
        let got = scim.get(&format!("/Users/{id}")).await;
        assert!(got.body[CUSTOM].get("badgeNumber").is_none(), "stale value served: {}", got.text);
        assert_eq!(filter(scim, "/Users", &format!("{CUSTOM}:badgeNumber pr")).await.body["totalResults"], 0);
        // Removing the last one leaves no empty extension object behind.
        admin.delete("/tenants/default/attributes/site").await.expect(204);
        let got = scim.get(&format!("/Users/{id}")).await;
        assert!(got.body.get(CUSTOM).is_none() || got.body[CUSTOM] == json!({}), "{}", got.text);
        // Removal is audited; an unknown name is 404.
        let audit = admin.get("/tenants/default/audit?event=attribute.removed").await;
        assert_eq!(audit.body["events"].as_array().unwrap().len(), 2);
        assert_eq!(audit.body["events"][0]["event_name"], "Custom Attribute Removed");
        admin.delete("/tenants/default/attributes/nope").await.expect(404);
    })
    .await;
}

#[tokio::test]
async fn an_unknown_custom_attribute_is_ignored_and_noted_under_lenient() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        let scim = &app.scim;
        define(&admin, "default", "badgeNumber", "integer", false).await;
        let r = scim.post("/Users", &json!({"schemas": [USER, CUSTOM], "userName": "u", CUSTOM: {"badgeNumber": 1, "shoeSize": "Gigantic-Shoe"}})).await;
        r.expect(201);
        let id = r.id();
        assert_eq!(r.body[CUSTOM], json!({"badgeNumber": 1}), "{}", r.text);
        let r = scim
            .patch_ops(&format!("/Users/{id}"), json!([{"op": "add", "value": {format!("{CUSTOM}:hatSize"): 7}}]))
            .await;
        r.expect(200);
        assert!(!r.text.contains("hatSize"), "{}", r.text);

        app.core.log.flush().await;
        let log = admin.get("/tenants/default/provisioning-log").await;
        let rows = log.body["requests"].as_array().unwrap();
        let notes: Vec<&str> = rows.iter().map(|r| r["notes"].as_str().unwrap()).collect();
        assert!(notes[0].contains("unknown attribute ignored") && notes[0].contains("hatSize"), "{notes:?}");
        assert!(notes[1].contains("unknown attribute ignored") && notes[1].contains("shoeSize"), "{notes:?}");
        assert!(!log.text.contains("Gigantic-Shoe"), "the ignored value is not logged: {}", log.text);
    })
    .await;
}

#[tokio::test]
async fn an_unknown_custom_attribute_is_400_naming_it_under_strict() {
    let settings = TenantSettings { unknown_attributes: StrictOrLenient::Strict, ..Default::default() };
    each_backend_with(settings, |app| async move {
        let admin = app.admin().await;
        let scim = &app.scim;
        define(&admin, "default", "badgeNumber", "integer", false).await;
        let r = scim
            .post(
                "/Users",
                &json!({"schemas": [USER, CUSTOM], "userName": "u", CUSTOM: {"badgeNumber": 1, "shoeSize": 44}}),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.body["detail"].as_str().unwrap().contains("shoeSize"), "{}", r.text);
        assert_eq!(user_count(scim).await, 0);

        let id = scim
            .post("/Users", &json!({"schemas": [USER, CUSTOM], "userName": "u", CUSTOM: {"badgeNumber": 1}}))
            .await
            .id();
        let r = scim
            .patch_ops(&format!("/Users/{id}"), json!([{"op": "add", "path": format!("{CUSTOM}:hatSize"), "value": 7}]))
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.body["detail"].as_str().unwrap().contains("hatSize"), "{}", r.text);
        let r = scim
            .patch_ops(&format!("/Users/{id}"), json!([{"op": "add", "value": {format!("{CUSTOM}:hatSize"): 7}}]))
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.body["detail"].as_str().unwrap().contains("hatSize"), "{}", r.text);
        let r = scim
            .put(&format!("/Users/{id}"), &json!({"schemas": [USER, CUSTOM], "userName": "u", CUSTOM: {"hatSize": 7}}))
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.body["detail"].as_str().unwrap().contains("hatSize"), "{}", r.text);
        // Defining it makes the same request valid.
        define(&admin, "default", "hatSize", "integer", false).await;
        let r = scim
            .patch_ops(&format!("/Users/{id}"), json!([{"op": "add", "path": format!("{CUSTOM}:hatSize"), "value": 7}]))
            .await;
        r.expect(200);
        assert_eq!(r.body[CUSTOM]["hatSize"], 7);
    })
    .await;
}
