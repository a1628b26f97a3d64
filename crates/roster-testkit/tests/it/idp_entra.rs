//! Replays of Microsoft Entra ID's provisioning conversations (requirements catalog Part B):
//! Test Connection, matching lookups, create, the legacy PATCH dialect and the
//! `aadOptscim062020` one, deprovisioning, groups and their members, in the request shapes
//! Entra sends (no Content-Type on GETs, `application/scim+json; charset=utf-8` on writes,
//! `+` or `%20` in filters). Every conversation runs with an Entra token, so the
//! provisioning log records the IdP and the compatibility rules each request needed.
//!
//! The helpers at the top ([`Wire`], [`log_row`], [`form`]) are shared by the other `idp_*`
//! replay modules.

use roster_core::Idp;
use roster_core::audit::{Actor, ProvisioningQuery, ProvisioningRecord};
use roster_core::tenants::{DEFAULT_TENANT, Expiry};
use roster_testkit::body::{ENTERPRISE, GROUP, PATCH_OP, USER};
use roster_testkit::{Resp, ScimClient, TestApp, each_backend};
use serde_json::{Value, json};

use crate::support::{enc, expect_list, member_ids};

// ---------------------------------------------------------------------------------------
// Shared by the idp_* modules.

/// One identity provider's SCIM client: its own token (so the provisioning log records
/// which IdP called), the headers it sends on every request, the Content-Type it puts on
/// bodies, and an optional query parameter it appends to every URL (Entra's feature flag).
#[derive(Debug, Clone)]
pub(crate) struct Wire {
    pub client: ScimClient,
    headers: Vec<(&'static str, &'static str)>,
    body_type: &'static str,
    flag: Option<&'static str>,
}

impl Wire {
    /// A client with a new token for `idp` on the `default` tenant (the tenant allows two
    /// tokens: the test app's Okta token and this one).
    pub async fn issue(app: &TestApp, idp: Idp) -> ScimClient {
        let issued = app
            .core
            .issue_token(&Actor::system(), DEFAULT_TENANT, idp, idp.as_str(), Expiry::DEFAULT, &app.public_url)
            .await
            .expect("token");
        ScimClient::new(&issued.target_url, Some(&issued.token))
    }

    pub fn new(client: ScimClient, headers: &[(&'static str, &'static str)], body_type: &'static str) -> Wire {
        Wire { client, headers: headers.to_vec(), body_type, flag: None }
    }

    /// Appends `flag` (e.g. `aadOptscim062020`) to every URL, as Entra does with a Tenant
    /// URL that ends in `?aadOptscim062020`.
    pub fn with_flag(mut self, flag: Option<&'static str>) -> Wire {
        self.flag = flag;
        self
    }

    pub fn url(&self, path: &str) -> String {
        match (self.flag, path.split_once('?')) {
            (None, _) => path.to_string(),
            (Some(f), Some((p, q))) => format!("{p}?{f}&{q}"),
            (Some(f), None) => format!("{path}?{f}"),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self.client.request(method, &self.url(path));
        for (k, v) in &self.headers {
            rb = rb.header(*k, *v);
        }
        rb
    }

    /// A body-less GET: no Content-Type (Entra's Test Connection sends none).
    pub async fn get(&self, path: &str) -> Resp {
        ScimClient::send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        ScimClient::send(self.request(reqwest::Method::DELETE, path)).await
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> Resp {
        ScimClient::send(self.request(method, path).header("Content-Type", self.body_type).body(body.to_string())).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(reqwest::Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.send(reqwest::Method::PUT, path, body).await
    }

    pub async fn patch(&self, path: &str, operations: Value) -> Resp {
        self.send(reqwest::Method::PATCH, path, &json!({"schemas": [PATCH_OP], "Operations": operations})).await
    }
}

/// Form-style encoding of a query value: `+` for spaces, `%XX` for everything else that is
/// not unreserved (what Entra and OneLogin put on the wire).
pub(crate) fn form(s: &str) -> String {
    enc(s).replace("%20", "+")
}

/// The provisioning-log row of the request that got `resp` (found by its request id).
pub(crate) async fn log_row(app: &TestApp, resp: &Resp) -> ProvisioningRecord {
    let request_id = resp.header("x-request-id").expect("x-request-id on every response").to_string();
    app.core.log.flush().await;
    let tenant = app.core.tenant(DEFAULT_TENANT).await.expect("tenant");
    let rows = app
        .core
        .provisioning_log(&ProvisioningQuery { tenant: tenant.id, limit: 10_000, ..Default::default() })
        .await
        .expect("provisioning log");
    rows.into_iter().find(|r| r.request_id == request_id).unwrap_or_else(|| panic!("no log row for {request_id}"))
}

/// Asserts that a log row's notes mention `label` (a `Rule` label from roster-scim).
#[track_caller]
pub(crate) fn assert_note(row: &ProvisioningRecord, label: &str) {
    assert!(row.notes.contains(label), "notes {:?} should mention {label:?} ({})", row.notes, row.summary);
}

/// Asserts the empty ListResponse an IdP's probe expects: 200, SCIM JSON, no resources.
#[track_caller]
pub(crate) fn expect_empty_list(r: &Resp) {
    expect_list(r, 0, 1, 0);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
}

/// Asserts a SCIM error body as every IdP reads it (status as a string, Error schema).
#[track_caller]
pub(crate) fn expect_scim_error(r: &Resp, status: u16) {
    r.expect(status);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    assert_eq!(r.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{}", r.text);
    assert_eq!(r.body["status"], json!(status.to_string()), "{}", r.text);
    assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{}", r.text);
}

/// No `null` anywhere in an emitted body (F-18).
#[track_caller]
pub(crate) fn assert_no_nulls(v: &Value) {
    match v {
        Value::Null => panic!("a null in the output"),
        Value::Array(a) => a.iter().for_each(assert_no_nulls),
        Value::Object(o) => o.values().for_each(assert_no_nulls),
        _ => {}
    }
}

/// The single resource a one-hit lookup returns.
#[track_caller]
pub(crate) fn single(r: &Resp) -> Value {
    expect_list(r, 1, 1, 1);
    r.body["Resources"][0].clone()
}

// ---------------------------------------------------------------------------------------
// Entra.

const ADSCIM_GROUP: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
const FLAG: &str = "aadOptscim062020";

/// The two shapes of Entra's SCIM client (catalog B4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// Apps without the flag: `Replace`/`Add`/`Remove`, string booleans, `+` in filters,
    /// member removal as `path: members` plus a value list.
    Legacy,
    /// `?aadOptscim062020` on the Tenant URL: lower-case ops, JSON booleans, `%20`, member
    /// removal by a value filter.
    Flagged,
}

impl Dialect {
    fn op(self, op: &str) -> String {
        match self {
            Dialect::Legacy => {
                let mut c = op.chars();
                c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
            }
            Dialect::Flagged => op.to_string(),
        }
    }

    fn boolean(self, b: bool) -> Value {
        match (self, b) {
            (Dialect::Legacy, true) => json!("True"),
            (Dialect::Legacy, false) => json!("False"),
            (Dialect::Flagged, b) => json!(b),
        }
    }

    fn filter(self, f: &str) -> String {
        match self {
            Dialect::Legacy => form(f),
            Dialect::Flagged => enc(f),
        }
    }
}

async fn entra(app: &TestApp, dialect: Dialect) -> Wire {
    let client = Wire::issue(app, Idp::Entra).await;
    Wire::new(client, &[], "application/scim+json; charset=utf-8")
        .with_flag((dialect == Dialect::Flagged).then_some(FLAG))
}

/// The B3.1 create body: the enterprise URN in `schemas` with no extension object, `meta`
/// from the client, `roles: []`.
fn entra_user(user_name: &str, external_id: &str, given: &str, family: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": external_id,
        "userName": user_name,
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": format!("{given} {family}"), "familyName": family, "givenName": given},
        "roles": []
    })
}

#[tokio::test]
async fn entra_test_connection_gets_200_empty_list_responses_for_random_guids() {
    each_backend(|app| async move {
        for dialect in [Dialect::Legacy, Dialect::Flagged] {
            let entra = Wire::new(app.scim.clone(), &[], "application/scim+json; charset=utf-8")
                .with_flag((dialect == Dialect::Flagged).then_some(FLAG));
            // Something exists, so an empty answer means "no match", not "empty tenant".
            app.scim.create_user(&format!("present-{dialect:?}@contoso.com"), json!({})).await;
            app.scim.create_group(&format!("Present {dialect:?}"), &[]).await;
            let guid = uuid::Uuid::new_v4();
            for filter in
                [format!("userName eq \"{guid}\""), format!("externalId eq \"{guid}\""), format!("id eq \"{guid}\"")]
            {
                let r = entra.get(&format!("/Users?filter={}", dialect.filter(&filter))).await;
                expect_empty_list(&r);
            }
            let r = entra
                .get(&format!(
                    "/Groups?excludedAttributes=members&filter={}",
                    dialect.filter(&format!("displayName eq \"{}\"", uuid::Uuid::new_v4()))
                ))
                .await;
            expect_empty_list(&r);
            // A wrong secret shows up in Entra as "invalid credentials": 401 with a SCIM body.
            let wrong = Wire::new(app.scim.with_token(Some("roster_nope_nope")), &[], "application/scim+json");
            let r = wrong.get(&format!("/Users?filter={}", dialect.filter(&format!("userName eq \"{guid}\"")))).await;
            expect_scim_error(&r, 401);
        }
        // Saving the provisioning configuration reads /Schemas (B3.14): a ListResponse that
        // includes Group (the Logic-App suite fails without it) and has no nulls.
        let r = app.scim.get("/Schemas").await;
        r.expect(200);
        assert_eq!(r.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
        let ids: Vec<&str> = r.body["Resources"].as_array().unwrap().iter().filter_map(|s| s["id"].as_str()).collect();
        for urn in [USER, GROUP, ENTERPRISE] {
            assert!(ids.contains(&urn), "{urn} missing from /Schemas: {ids:?}");
        }
        assert_no_nulls(&r.body);
    })
    .await;
}

/// The whole Entra conversation for one dialect: matching lookups, create, updates,
/// manager, disable and restore, a group with members, deprovisioning and deletes.
async fn entra_conversation(app: TestApp, dialect: Dialect) {
    let entra = entra(&app, dialect).await;
    let op = |name: &str| dialect.op(name);
    let lookup =
        |attr: &str, value: &str| format!("/Users?filter={}", dialect.filter(&format!("{attr} eq \"{value}\"")));

    // --- Test Connection.
    let probe = uuid::Uuid::new_v4();
    expect_empty_list(&entra.get(&lookup("userName", &probe.to_string())).await);

    // --- The manager is provisioned first: lookup (no match), then create. This body is
    // the older shape with nulls and the misspelled enterprise URN (B3.1 notes).
    let mgr_upn = "Test_Manager_11bb11bb@contoso.com";
    expect_empty_list(&entra.get(&lookup("userName", mgr_upn)).await);
    let mut body = entra_user(mgr_upn, "1b2c3d4e-0000-4000-8000-000000000001", "Manny", "Ager");
    body["schemas"] = json!([USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"]);
    body["addresses"] = Value::Null;
    body["department"] = Value::Null;
    body["manager"] = Value::Null;
    let r = entra.post("/Users", &body).await;
    r.expect(201);
    let mgr = r.id();
    assert!(r.body.get("addresses").is_none() && r.body.get("manager").is_none(), "{}", r.text);
    assert_eq!(log_row(&app, &r).await.idp.as_deref(), Some("entra"));

    // --- The user: lookup by userName, then create (B3.1).
    let upn = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee@contoso.com";
    let object_id = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef";
    expect_empty_list(&entra.get(&lookup("userName", upn)).await);
    let r = entra.post("/Users", &entra_user(upn, object_id, "givenName", "familyName")).await;
    r.expect(201);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let id = r.id();
    assert!(!id.is_empty());
    assert_eq!(r.header("location"), r.body["meta"]["location"].as_str());
    // The enterprise URN with no extension data is not echoed: schemas are recomputed.
    assert_eq!(r.body["schemas"], json!([USER]));
    assert_eq!(r.body["externalId"], object_id);
    assert_eq!(r.body["userName"], upn);
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["emails"], json!([{"primary": true, "type": "work", "value": upn}]));
    assert_eq!(
        r.body["name"],
        json!({"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"})
    );
    assert_eq!(r.body["meta"]["resourceType"], "User");
    for ts in ["created", "lastModified"] {
        let t = r.body["meta"][ts].as_str().unwrap();
        assert!(t.ends_with('Z') && t.contains('T'), "{ts}: {t}");
    }
    assert!(r.body.get("roles").is_none(), "roles: [] is unassigned: {}", r.text);
    assert_no_nulls(&r.body);
    let row = log_row(&app, &r).await;
    assert_eq!((row.status, row.method.as_str(), row.idp.as_deref()), (201, "POST", Some("entra")));
    assert_eq!(row.resource_id.as_deref(), Some(id.as_str()));
    assert!(row.summary.contains("created"), "{}", row.summary);

    // --- Matching: by userName (any case), externalId, work email, id.
    for (attr, value) in [
        ("userName", upn.to_string()),
        ("userName", upn.to_uppercase()),
        ("externalId", object_id.to_string()),
        ("emails[type eq \"work\"].value", upn.to_string()),
        ("id", id.clone()),
    ] {
        let r = entra.get(&lookup(attr, &value)).await;
        assert_eq!(single(&r)["id"], id.as_str(), "{attr} eq {value}");
    }
    // externalId is case-exact.
    expect_empty_list(&entra.get(&lookup("externalId", &object_id.to_uppercase())).await);
    let r = entra.get(&format!("/Users/{id}")).await;
    r.expect(200);
    assert_eq!(r.body["id"], id.as_str());

    // --- Update a typed email and a name part (B3.4).
    let path = format!("/Users/{id}");
    let r = entra
        .patch(
            &path,
            json!([
                {"op": op("replace"), "path": "emails[type eq \"work\"].value", "value": "updatedEmail@contoso.com"},
                {"op": op("replace"), "path": "name.familyName", "value": "updatedFamilyName"}
            ]),
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["emails"], json!([{"primary": true, "type": "work", "value": "updatedEmail@contoso.com"}]));
    assert_eq!(r.body["name"]["familyName"], "updatedFamilyName");
    assert_eq!(r.body["name"]["givenName"], "givenName");

    // --- Several attributes at once: one op per attribute (legacy) plus a path-less
    // replace with dotted and URN-qualified keys (flag mode, and Entra's newer apps).
    let r = entra
        .patch(
            &path,
            json!([
                {"op": op("add"), "path": "nickName", "value": "Babs"},
                {"op": op("replace"), "path": "displayName", "value": "Pvlo"},
                {"op": op("replace"), "path": format!("{ENTERPRISE}:department"), "value": "Sales"},
                {"op": op("replace"), "value": {
                    "name.givenName": "Ysmwilliam",
                    "name.familyName": "Hwdaniel",
                    format!("{ENTERPRISE}:employeeNumber"): "Eqpj"
                }}
            ]),
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["nickName"], "Babs");
    assert_eq!(r.body["displayName"], "Pvlo");
    assert_eq!(r.body["name"]["givenName"], "Ysmwilliam");
    assert_eq!(r.body["name"]["familyName"], "Hwdaniel");
    assert_eq!(r.body[ENTERPRISE], json!({"department": "Sales", "employeeNumber": "Eqpj"}));
    assert_eq!(r.body["schemas"], json!([USER, ENTERPRISE]));
    assert_note(&log_row(&app, &r).await, "path-less value with dotted/URN keys (F-7)");

    // --- Typed elements that do not exist yet are created (F-6), one element per filter,
    // and Entra's single-role paths use a string "True" in the filter.
    let r = entra
        .patch(
            &path,
            json!([
                {"op": op("add"), "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Microsoft Way"},
                {"op": op("add"), "path": "addresses[type eq \"work\"].locality", "value": "Redmond"},
                {"op": op("add"), "path": "phoneNumbers[type eq \"mobile\"].value", "value": "55555555555"},
                {"op": op("add"), "path": "roles[primary eq \"True\"].value", "value": "Admin"},
                {"op": op("add"), "path": "roles[primary eq \"True\"].type", "value": "WindowsAzureActiveDirectoryRole"}
            ]),
        )
        .await;
    r.expect(200);
    assert_eq!(
        r.body["addresses"],
        json!([{"type": "work", "streetAddress": "1 Microsoft Way", "locality": "Redmond"}])
    );
    assert_eq!(r.body["phoneNumbers"], json!([{"type": "mobile", "value": "55555555555"}]));
    assert_eq!(
        r.body["roles"],
        json!([{"primary": true, "value": "Admin", "type": "WindowsAzureActiveDirectoryRole"}])
    );
    assert_note(&log_row(&app, &r).await, "value path matched nothing: element created (F-6)");

    // --- Manager, as a plain string (B5); the response carries an object (F-8).
    let r = entra.patch(&path, json!([{"op": op("add"), "path": format!("{ENTERPRISE}:manager"), "value": mgr}])).await;
    r.expect(200);
    let manager = &r.body[ENTERPRISE]["manager"];
    assert_eq!(manager["value"], mgr.as_str());
    assert_eq!(manager["displayName"], mgr_upn);
    assert!(manager["$ref"].as_str().unwrap().ends_with(&format!("/Users/{mgr}")));
    assert_note(&log_row(&app, &r).await, "manager given as string or array (F-8)");
    // The older reference check: "is this user's manager X?" (B2).
    let r = entra
        .get(&format!(
            "/Users?filter={}&attributes=id",
            dialect.filter(&format!("id eq \"{id}\" and manager eq \"{mgr}\""))
        ))
        .await;
    let hit = single(&r);
    assert_eq!(hit["id"], id.as_str());
    assert!(hit.get("userName").is_none(), "attributes=id: {hit}");

    // --- Disable: Entra's soft delete. The user stays retrievable (MS-7).
    let r = entra.patch(&path, json!([{"op": op("replace"), "path": "active", "value": dialect.boolean(false)}])).await;
    r.expect(200);
    assert_eq!(r.body["active"], json!(false));
    let row = log_row(&app, &r).await;
    assert!(row.summary.contains("deactivated"), "{}", row.summary);
    assert_eq!(row.idp.as_deref(), Some("entra"));
    if dialect == Dialect::Legacy {
        assert_note(&row, "string boolean coerced (F-2)");
    } else {
        assert!(!row.notes.contains("F-2"), "{}", row.notes);
    }
    let r = entra.get(&path).await;
    r.expect(200);
    assert_eq!(r.body["active"], json!(false));
    assert_eq!(single(&entra.get(&lookup("userName", upn)).await)["active"], json!(false));
    // Restore.
    let r = entra.patch(&path, json!([{"op": op("replace"), "path": "active", "value": dialect.boolean(true)}])).await;
    r.expect(200);
    assert_eq!(r.body["active"], json!(true));
    assert!(log_row(&app, &r).await.summary.contains("reactivated"));

    // --- A group in scope: lookup by displayName without members, create with the
    // ADSCIM URN and no members (B3.8), then add members in a batch (B3.11).
    let group_lookup = |name: &str| {
        format!("/Groups?excludedAttributes=members&filter={}", dialect.filter(&format!("displayName eq \"{name}\"")))
    };
    expect_empty_list(&entra.get(&group_lookup("Sales Team")).await);
    let group_object_id = "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159";
    let r = entra
        .post(
            "/Groups",
            &json!({
                "schemas": [GROUP, ADSCIM_GROUP],
                "externalId": group_object_id,
                "displayName": "Sales Team",
                "meta": {"resourceType": "Group"}
            }),
        )
        .await;
    r.expect(201);
    let gid = r.id();
    assert_eq!(r.body["schemas"], json!([GROUP]));
    assert_eq!(r.body["externalId"], group_object_id);
    assert_eq!(r.body["displayName"], "Sales Team");
    assert_eq!(r.body["meta"]["resourceType"], "Group");
    assert_eq!(member_ids(&r.body), Vec::<String>::new());
    assert_note(&log_row(&app, &r).await, "unknown schema URN ignored (F-10)");
    let hit = single(&entra.get(&group_lookup("sales team")).await);
    assert_eq!(hit["id"], gid.as_str());
    assert!(hit.get("members").is_none(), "excludedAttributes=members: {hit}");

    // A second member, created the way the rest of the cycle creates users.
    let other_upn = "Test_User_22cc22cc@contoso.com";
    expect_empty_list(&entra.get(&lookup("userName", other_upn)).await);
    let other = entra.post("/Users", &entra_user(other_upn, "2b2b2b2b-0000-4000-8000-000000000002", "Oth", "Er")).await;
    other.expect(201);
    let other = other.id();

    let gpath = format!("/Groups/{gid}");
    let r = entra
        .patch(
            &gpath,
            json!([{"op": op("add"), "path": "members", "value": [
                {"$ref": null, "value": id},
                {"$ref": null, "value": other},
                {"$ref": null, "value": mgr}
            ]}]),
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "{}", r.text);
    let row = log_row(&app, &r).await;
    assert!(row.summary.contains("+3 members"), "{}", row.summary);
    let mut want = vec![id.clone(), other.clone(), mgr.clone()];
    want.sort();
    assert_eq!(member_ids(&app.scim.get(&gpath).await.body), want);

    // --- Remove one member: the legacy shape (B3.12) removes only the listed ids (F-4);
    // the flagged shape filters by value.
    let remove = match dialect {
        Dialect::Legacy => json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": mgr}]}]),
        Dialect::Flagged => json!([{"op": "remove", "path": format!("members[value eq \"{mgr}\"]")}]),
    };
    let r = entra.patch(&gpath, remove).await;
    assert!(r.status == 200 || r.status == 204, "{}", r.text);
    let row = log_row(&app, &r).await;
    assert!(row.summary.contains("−1 member"), "{}", row.summary);
    if dialect == Dialect::Legacy {
        assert_note(&row, "remove with value list: only listed values removed (F-4)");
    }
    let mut want = vec![id.clone(), other.clone()];
    want.sort();
    assert_eq!(member_ids(&app.scim.get(&gpath).await.body), want);
    // The membership check of older Entra docs (B2).
    let r = entra
        .get(&format!(
            "/Groups?filter={}&attributes=id",
            dialect.filter(&format!("id eq \"{gid}\" and members eq \"{id}\""))
        ))
        .await;
    assert_eq!(single(&r)["id"], gid.as_str());
    expect_empty_list(
        &entra
            .get(&format!(
                "/Groups?filter={}&attributes=id",
                dialect.filter(&format!("id eq \"{gid}\" and members eq \"{mgr}\""))
            ))
            .await,
    );

    // --- Rename the group (B3.10), read it back without members (B3.9).
    let r =
        entra.patch(&gpath, json!([{"op": op("replace"), "path": "displayName", "value": "Sales Team EMEA"}])).await;
    assert!(r.status == 200 || r.status == 204, "{}", r.text);
    let r = entra.get(&format!("{gpath}?excludedAttributes=members")).await;
    r.expect(200);
    assert_eq!(r.body["displayName"], "Sales Team EMEA");
    assert!(r.body.get("members").is_none(), "{}", r.text);
    assert_eq!(single(&entra.get(&group_lookup("Sales Team EMEA")).await)["id"], gid.as_str());
    // The user's groups are derived from the membership.
    let r = entra.get(&path).await;
    assert_eq!(r.body["groups"][0]["value"], gid.as_str());
    assert_eq!(r.body["groups"][0]["display"], "Sales Team EMEA");

    // --- Unassigned from the app: active false, then the hard delete (B3.7).
    let r = entra.patch(&path, json!([{"op": op("replace"), "path": "active", "value": dialect.boolean(false)}])).await;
    r.expect(200);
    let r = entra.delete(&path).await;
    r.expect(204);
    assert!(r.text.is_empty());
    let row = log_row(&app, &r).await;
    assert_eq!((row.status, row.method.as_str()), (204, "DELETE"));
    assert!(row.summary.contains("deleted"), "{}", row.summary);
    expect_scim_error(&entra.get(&path).await, 404);
    expect_scim_error(&entra.delete(&path).await, 404);
    expect_empty_list(&entra.get(&lookup("userName", upn)).await);
    // The deleted user left the group; the group goes too (B3.13).
    assert_eq!(member_ids(&app.scim.get(&gpath).await.body), vec![other.clone()]);
    entra.delete(&gpath).await.expect(204);
    expect_scim_error(&entra.get(&gpath).await, 404);
    expect_empty_list(&entra.get(&group_lookup("Sales Team EMEA")).await);
    // The userName and externalId are free again (F-19): assigning the user again works.
    let r = entra.post("/Users", &entra_user(upn, object_id, "givenName", "familyName")).await;
    r.expect(201);
    assert_ne!(r.id(), id);
}

#[tokio::test]
async fn entra_legacy_conversation_provisions_updates_and_deprovisions() {
    each_backend(|app| entra_conversation(app, Dialect::Legacy)).await;
}

#[tokio::test]
async fn entra_conversation_with_aad_opt_scim062020_on_the_url() {
    each_backend(|app| entra_conversation(app, Dialect::Flagged)).await;
}

#[tokio::test]
async fn entra_user_name_rename_is_400_mutability_by_design() {
    each_backend(|app| async move {
        for dialect in [Dialect::Legacy, Dialect::Flagged] {
            let entra = Wire::new(app.scim.clone(), &[], "application/scim+json; charset=utf-8")
                .with_flag((dialect == Dialect::Flagged).then_some(FLAG));
            let upn = format!("rename-{dialect:?}@contoso.com");
            let r = entra.post("/Users", &entra_user(&upn, &format!("ext-{dialect:?}"), "Re", "Name")).await;
            r.expect(201);
            let path = format!("/Users/{}", r.id());
            // B3.5 as a path op, and the validator's path-less form.
            for ops in [
                json!([{"op": dialect.op("replace"), "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]),
                json!([{"op": dialect.op("replace"), "value": {"userName": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}}]),
            ] {
                let r = entra.patch(&path, ops).await;
                r.expect_error(400, Some("mutability"));
                assert!(
                    r.body["detail"].as_str().unwrap().contains("userName cannot be changed once provisioned"),
                    "{}",
                    r.text
                );
                let row = log_row(&app, &r).await;
                assert_eq!((row.status, row.scim_type.as_deref()), (400, Some("mutability")));
            }
            let r = entra.get(&path).await;
            assert_eq!(r.body["userName"], upn.as_str());
            assert_eq!(r.header("etag"), Some("W/\"1\""));
            // The same name in another case is accepted and changes nothing.
            let r = entra
                .patch(&path, json!([{"op": dialect.op("replace"), "path": "userName", "value": upn.to_uppercase()}]))
                .await;
            r.expect(200);
            assert_eq!(r.body["userName"], upn.as_str());
        }
    })
    .await;
}

#[tokio::test]
async fn entra_lookups_with_special_characters_in_values_match_exactly() {
    each_backend(|app| async move {
        let entra = entra(&app, Dialect::Legacy).await;
        // Entra percent-encodes quotes, `&`, `+` and `#` in filter values (B5).
        let tricky = [
            "o'brien+test#1&co@contoso.com",
            "quote\"d@contoso.com",
            "back\\slash@contoso.com",
            "ünï cödé@contoso.com",
        ];
        let mut created = Vec::new();
        for name in tricky {
            let r = entra.post("/Users", &entra_user(name, &format!("ext {name}"), "G", "F")).await;
            r.expect(201);
            assert_eq!(r.body["userName"], name);
            created.push(r.id());
        }
        for (name, id) in tricky.iter().zip(&created) {
            let literal = serde_json::to_string(name).unwrap();
            for f in [
                format!("userName eq {literal}"),
                format!("externalId eq {}", serde_json::to_string(&format!("ext {name}")).unwrap()),
            ] {
                for wire in [form(&f), enc(&f)] {
                    let r = entra.get(&format!("/Users?filter={wire}")).await;
                    assert_eq!(single(&r)["id"], id.as_str(), "{f}");
                }
            }
        }
        let r = entra
            .post("/Groups", &json!({"schemas": [GROUP, ADSCIM_GROUP], "displayName": "Sales \"EMEA\" & R+D #1"}))
            .await;
        r.expect(201);
        let gid = r.id();
        let f = form("displayName eq \"Sales \\\"EMEA\\\" & R+D #1\"");
        let hit = single(&entra.get(&format!("/Groups?excludedAttributes=members&filter={f}")).await);
        assert_eq!(hit["id"], gid.as_str());
    })
    .await;
}

/// The Microsoft SCIM Validator's checks (catalog B6), in its request shapes. Test 7
/// ("Update User userName") is the one that fails by design (F-22, C-1); it is asserted as
/// Roster's answer.
#[tokio::test]
async fn entra_scim_validator_checks_pass_except_the_user_name_update() {
    each_backend(|app| async move {
        let v = entra(&app, Dialect::Flagged).await;
        let lookup = |f: &str| format!("/Users?filter={}", enc(f));
        let manager_id = v.post("/Users", &entra_user("validator-mgr@contoso.com", "vm", "Val", "Mgr")).await.id();

        // 1. Create a new User, then read it back by filter with the same values.
        let create = json!({
            "schemas": [USER, ENTERPRISE],
            "userName": "Validator.User@contoso.com",
            "externalId": "v-ext-1",
            "active": true,
            "displayName": "Validator User",
            "timezone": "Xmzghqvspocn/Jtlqxqz",
            "name": {"givenName": "Val", "familyName": "User", "formatted": "Val User"},
            "emails": [{"type": "work", "value": "work@contoso.com", "primary": true}, {"type": "home", "value": "home@contoso.com"}],
            "addresses": [{"type": "work", "streetAddress": "1 Way", "locality": "Redmond", "country": "US", "primary": true}],
            "phoneNumbers": [{"type": "mobile", "value": "+1 555 0100"}, {"type": "work", "value": "555-0101"}],
            "roles": [{"primary": "True", "display": "Admin", "value": "Admin", "type": "WindowsAzureActiveDirectoryRole"}],
            ENTERPRISE: {"department": "Eng", "employeeNumber": "42", "manager": {"value": manager_id}}
        });
        let r = v.post("/Users", &create).await;
        r.expect(201);
        let id = r.id();
        let found = single(&v.get(&lookup("userName eq \"Validator.User@contoso.com\"")).await);
        assert_eq!(found, r.body);
        assert_eq!(found["roles"][0]["primary"], json!(true));
        assert_eq!(found["timezone"], "Xmzghqvspocn/Jtlqxqz");
        assert_eq!(found[ENTERPRISE]["manager"]["value"], manager_id.as_str());
        // 2. Duplicate → 409.
        v.post("/Users", &create).await.expect_error(409, Some("uniqueness"));
        // 3-5. Filters: existing, non-existing, different case.
        single(&v.get(&lookup("userName eq \"Validator.User@contoso.com\"")).await);
        expect_empty_list(&v.get(&lookup(&format!("userName eq \"{}\"", uuid::Uuid::new_v4()))).await);
        assert_eq!(single(&v.get(&lookup("userName eq \"VALIDATOR.USER@CONTOSO.COM\"")).await)["id"], id.as_str());

        // 6. Replace Attributes Verbose: many typed paths plus a path-less value.
        let path = format!("/Users/{id}");
        let r = v
            .patch(
                &path,
                json!([
                    {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "work2@contoso.com"},
                    {"op": "replace", "path": "emails[type eq \"home\"].value", "value": "home2@contoso.com"},
                    {"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "2 Way"},
                    {"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "Bellevue"},
                    {"op": "replace", "path": "addresses[type eq \"work\"].region", "value": "WA"},
                    {"op": "replace", "path": "addresses[type eq \"work\"].postalCode", "value": "98004"},
                    {"op": "replace", "path": "addresses[type eq \"work\"].country", "value": "USA"},
                    {"op": "replace", "path": "addresses[type eq \"work\"].formatted", "value": "2 Way, Bellevue"},
                    {"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0199"},
                    {"op": "replace", "path": "phoneNumbers[type eq \"fax\"].value", "value": "555-0102"},
                    {"op": "replace", "path": "name.givenName", "value": "Valerie"},
                    {"op": "replace", "path": "name.familyName", "value": "Usher"},
                    {"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Research"},
                    {"op": "replace", "path": format!("{ENTERPRISE}:costCenter"), "value": "CC1"},
                    {"op": "replace", "path": format!("{ENTERPRISE}:organization"), "value": "Org"},
                    {"op": "replace", "path": format!("{ENTERPRISE}:division"), "value": "Div"},
                    {"op": "replace", "path": "title", "value": "Staff"},
                    {"op": "replace", "path": "preferredLanguage", "value": "Qwerty"},
                    {"op": "replace", "path": "locale", "value": "Asdf"},
                    {"op": "replace", "path": "userType", "value": "Employee"},
                    {"op": "replace", "path": "nickName", "value": "Vally"},
                    {"op": "replace", "value": {"displayName": "Valerie Usher", "name.formatted": "Valerie Usher", "externalId": "v-ext-2"}}
                ]),
            )
            .await;
        r.expect(200);
        let got = v.get(&path).await.body;
        assert_eq!(got, r.body);
        assert_eq!(got["emails"], json!([{"type": "work", "value": "work2@contoso.com", "primary": true}, {"type": "home", "value": "home2@contoso.com"}]));
        assert_eq!(
            got["addresses"],
            json!([{"type": "work", "streetAddress": "2 Way", "locality": "Bellevue", "region": "WA", "postalCode": "98004", "country": "USA", "formatted": "2 Way, Bellevue", "primary": true}])
        );
        assert_eq!(got["phoneNumbers"], json!([{"type": "mobile", "value": "+1 555 0199"}, {"type": "work", "value": "555-0101"}, {"type": "fax", "value": "555-0102"}]));
        assert_eq!(got["name"], json!({"givenName": "Valerie", "familyName": "Usher", "formatted": "Valerie Usher"}));
        assert_eq!(got[ENTERPRISE]["department"], "Research");
        assert_eq!(got[ENTERPRISE]["employeeNumber"], "42");
        for (k, val) in [("title", "Staff"), ("preferredLanguage", "Qwerty"), ("locale", "Asdf"), ("userType", "Employee"), ("nickName", "Vally"), ("displayName", "Valerie Usher"), ("externalId", "v-ext-2")] {
            assert_eq!(got[k], val, "{k}");
        }

        // 7. Update User userName: 400 mutability by design (F-22).
        v.patch(&path, json!([{"op": "replace", "value": {"userName": "renamed@contoso.com"}}])).await.expect_error(400, Some("mutability"));

        // 8. Disable.
        let r = v.patch(&path, json!([{"op": "replace", "path": "active", "value": false}])).await;
        r.expect(200);
        assert_eq!(r.body["active"], false);

        // 9. Add Attributes Verbose: upserts, and one primary at most.
        let r = v
            .patch(
                &path,
                json!([
                    {"op": "add", "path": "emails[type eq \"other\"].value", "value": "other@contoso.com"},
                    {"op": "add", "path": "emails[type eq \"work\"].primary", "value": false},
                    {"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true},
                    {"op": "add", "path": "addresses[type eq \"home\"].streetAddress", "value": "3 Home St"},
                    {"op": "add", "path": "phoneNumbers[type eq \"pager\"].value", "value": "555-0103"}
                ]),
            )
            .await;
        r.expect(200);
        let emails = r.body["emails"].as_array().unwrap();
        assert_eq!(emails.len(), 3, "{}", r.text);
        let primaries: Vec<&Value> = emails.iter().filter(|e| e["primary"] == json!(true)).collect();
        assert_eq!(primaries.len(), 1, "{}", r.text);
        assert_eq!(primaries[0]["type"], "home");
        assert!(emails.iter().any(|e| e["type"] == "other" && e["value"] == "other@contoso.com"));
        assert_eq!(r.body["addresses"].as_array().unwrap().len(), 2);

        // 10-12. Add, replace and remove the manager as the validator does.
        let other_mgr = v.post("/Users", &entra_user("validator-mgr2@contoso.com", "vm2", "Val", "Mgr2")).await.id();
        let mpath = format!("{ENTERPRISE}:manager");
        let r = v.patch(&path, json!([{"op": "add", "path": mpath, "value": {"value": manager_id}}])).await;
        assert_eq!(r.body[ENTERPRISE]["manager"]["value"], manager_id.as_str());
        let r = v.patch(&path, json!([{"op": "replace", "path": mpath, "value": {"value": other_mgr}}])).await;
        assert_eq!(r.body[ENTERPRISE]["manager"]["value"], other_mgr.as_str());
        let r = v.patch(&path, json!([{"op": "replace", "path": mpath, "value": {"value": ""}}])).await;
        r.expect(200);
        assert!(r.body[ENTERPRISE].get("manager").is_none(), "{}", r.text);

        // P1. Several ops on different attributes; P2. several on one attribute (last wins).
        let r = v
            .patch(
                &path,
                json!([
                    {"op": "remove", "path": "nickName"},
                    {"op": "add", "value": {"externalId": "v-ext-3"}},
                    {"op": "replace", "value": {"displayName": "P1"}},
                    {"op": "replace", "path": "title", "value": "a"},
                    {"op": "replace", "path": "title", "value": "b"},
                    {"op": "replace", "path": "title", "value": "c"}
                ]),
            )
            .await;
        r.expect(200);
        assert!(r.body.get("nickName").is_none());
        assert_eq!((r.body["externalId"].as_str(), r.body["displayName"].as_str(), r.body["title"].as_str()), (Some("v-ext-3"), Some("P1"), Some("c")));

        // 19-20. Groups: create, duplicate.
        let group = json!({"schemas": [GROUP], "displayName": "Validator Group", "externalId": "vg"});
        let r = v.post("/Groups", &group).await;
        r.expect(201);
        let gid = r.id();
        let gpath = format!("/Groups/{gid}");
        v.post("/Groups", &group).await.expect_error(409, Some("uniqueness"));
        // 14-18. Reads and filters.
        let r = v.get(&format!("{gpath}?excludedAttributes=members")).await;
        assert!(r.body.get("members").is_none());
        let gl = |f: &str, ex: bool| {
            format!("/Groups?{}filter={}", if ex { "excludedAttributes=members&" } else { "" }, enc(f))
        };
        assert!(single(&v.get(&gl("displayName eq \"Validator Group\"", true)).await).get("members").is_none());
        single(&v.get(&gl("displayName eq \"Validator Group\"", false)).await);
        expect_empty_list(&v.get(&gl(&format!("displayName eq \"{}\"", uuid::Uuid::new_v4()), false)).await);
        single(&v.get(&gl("displayName eq \"VALIDATOR GROUP\"", false)).await);
        // 21-22. Path-less replaces of externalId and displayName.
        v.patch(&gpath, json!([{"op": "replace", "value": {"externalId": "vg2"}}])).await.expect(200);
        v.patch(&gpath, json!([{"op": "replace", "value": {"displayName": "Validator Group 2"}}])).await.expect(200);
        let g = v.get(&gpath).await.body;
        assert_eq!((g["externalId"].as_str(), g["displayName"].as_str()), (Some("vg2"), Some("Validator Group 2")));
        // 23-24. Members by replace, removal by filter.
        let r = v.patch(&gpath, json!([{"op": "replace", "path": "members", "value": [{"value": id}]}])).await;
        assert_eq!(member_ids(&r.body), vec![id.clone()]);
        let r = v.patch(&gpath, json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}])).await;
        assert_eq!(member_ids(&r.body), Vec::<String>::new());
        // P5. Add then remove the same member in one request.
        let r = v
            .patch(
                &gpath,
                json!([
                    {"op": "add", "path": "members", "value": [{"value": manager_id}]},
                    {"op": "remove", "path": format!("members[value eq \"{manager_id}\"]")}
                ]),
            )
            .await;
        r.expect(200);
        assert_eq!(member_ids(&v.get(&gpath).await.body), Vec::<String>::new());

        // 13, P3, P4, 25, P6. Deletes.
        v.delete(&path).await.expect(204);
        expect_scim_error(&v.get(&path).await, 404);
        expect_scim_error(&v.delete(&path).await, 404);
        expect_scim_error(&v.delete(&format!("/Users/{}", uuid::Uuid::new_v4())).await, 404);
        v.delete(&gpath).await.expect(204);
        expect_scim_error(&v.get(&gpath).await, 404);
        expect_scim_error(&v.delete(&gpath).await, 404);
        expect_scim_error(&v.delete(&format!("/Groups/{}", uuid::Uuid::new_v4())).await, 404);

        // Logic-App pagination: ≥ 11 users, pages of 5, startIndex echoed, next = start + len.
        for i in 0..10 {
            v.post("/Users", &entra_user(&format!("page{i}@contoso.com"), &format!("p{i}"), "P", "G")).await.expect(201);
        }
        let total = v.get("/Users?count=0").await.body["totalResults"].as_u64().unwrap();
        assert!(total >= 11);
        let mut start = 1;
        let mut seen = 0;
        while start <= total {
            let r = v.get(&format!("/Users?startIndex={start}&count=5")).await;
            assert_eq!(r.body["startIndex"], start);
            let n = r.body["Resources"].as_array().unwrap().len() as u64;
            assert!(n <= 5 && n > 0);
            seen += n;
            start += n;
        }
        assert_eq!(seen, total);
    })
    .await;
}
