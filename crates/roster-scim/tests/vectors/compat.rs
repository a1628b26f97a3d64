//! One test per compatibility rule of Part F that lives in the protocol core, named after
//! the rule and the identity provider (or validator) that needs it. Rules that live at the
//! HTTP or storage layer (F-3, F-20, F-21, F-23, F-25) are tested there.

use pretty_assertions::assert_eq;
use roster_scim::notes::Rule;
use roster_scim::resource::Derived;
use roster_scim::{MemberOp, MemberRef, Projection, ResourceKind, ScimType, render};
use serde_json::{Map, Value, json};

use crate::{
    ENTERPRISE, GROUP, ID, USER, assert_scim, data_of, filter, lenient, matches, members_after, meta, noted, obj,
    patch_group, patch_request, patch_user, patch_with, reg, rendered_group, rendered_user,
};
use roster_scim::messages::{ListQuery, decode_query};
use roster_scim::validate_resource;

const ADSCIM: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

fn user(body: Value) -> Map<String, Value> {
    let mut body = obj(body);
    body.entry("userName").or_insert_with(|| Value::String("alice@contoso.com".into()));
    data_of(&reg(), ResourceKind::User, Value::Object(body))
}

fn group(name: &str) -> Map<String, Value> {
    data_of(&reg(), ResourceKind::Group, json!({"displayName": name}))
}

fn render_user(data: &Map<String, Value>) -> Map<String, Value> {
    render(&reg(), ResourceKind::User, ID, data, &meta(ResourceKind::User), Derived::default())
}

#[test]
fn f01_entra_legacy_capitalised_ops_are_accepted() {
    let out = patch_user(
        &user(json!({"displayName": "old"})),
        json!([
            {"op": "Add", "path": "nickName", "value": "Babs"},
            {"op": "Replace", "path": "displayName", "value": "new"},
            {"op": "Remove", "path": "nickName"},
            {"op": "REPLACE", "path": "title", "value": "T"}
        ]),
    );
    assert_eq!(out.data["displayName"], "new");
    assert_eq!(out.data["title"], "T");
    assert!(!out.data.contains_key("nickName"));
}

#[test]
fn f02_entra_legacy_string_booleans_are_read_as_booleans() {
    // PATCH with a path.
    let out =
        patch_user(&user(json!({"active": true})), json!([{"op": "Replace", "path": "active", "value": "False"}]));
    assert_eq!(out.data["active"], json!(false));
    assert!(noted(&out.notes, Rule::StringBoolean));
    // A path-less PATCH value and a value-path filter literal.
    let out = patch_user(
        &user(json!({"roles": [{"value": "Admin", "primary": true}]})),
        json!([
            {"op": "replace", "value": {"active": "TRUE"}},
            {"op": "replace", "path": "roles[primary eq \"True\"].value", "value": "Owner"}
        ]),
    );
    assert_eq!(out.data["active"], json!(true));
    assert_eq!(out.data["roles"], json!([{"value": "Owner", "primary": true}]));
    // POST bodies (the MS validator's role payload).
    let data = user(json!({
        "active": "true",
        "roles": [{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]
    }));
    assert_eq!(data["active"], json!(true));
    assert_eq!(data["roles"][0]["primary"], json!(true));
    // Filters.
    let rendered = render_user(&data);
    assert!(matches(&reg(), ResourceKind::User, r#"active eq "True""#, &rendered));
    assert!(matches(&reg(), ResourceKind::User, r#"roles[primary eq "True"].value eq "Admin""#, &rendered));
    // Any other string is refused.
    let err = patch_with(
        &reg(),
        ResourceKind::User,
        &data,
        json!([{"op": "Replace", "path": "active", "value": "Nope"}]),
        &lenient(),
    );
    assert_scim(err, ScimType::InvalidValue);
}

#[test]
fn f04_entra_legacy_member_removal_removes_only_listed() {
    let out = patch_group(
        &group("Sales"),
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "u1"}]}]),
    );
    assert_eq!(members_after(&out, &["u1", "u2", "u3"]), vec!["u2", "u3"]);
    assert!(noted(&out.notes, Rule::ValueListRemoval));
    // Without a value, the RFC meaning stands: every member goes.
    let out = patch_group(&group("Sales"), json!([{"op": "remove", "path": "members"}]));
    assert!(members_after(&out, &["u1", "u2", "u3"]).is_empty());
}

#[test]
fn f05_okta_resent_member_add_is_a_no_op() {
    let once = json!([{"op": "add", "path": "members", "value": [{"value": "u1", "display": "alice@x"}]}]);
    let out = patch_group(&group("Sales"), once);
    assert_eq!(members_after(&out, &["u1"]), vec!["u1"]);
    assert!(out.data_unchanged());
    // The same id twice in one request is one member.
    let out = patch_group(
        &group("Sales"),
        json!([{"op": "add", "path": "members", "value": [{"value": "u2"}, {"value": "u2"}]}]),
    );
    assert_eq!(out.member_ops, vec![MemberOp::Add(vec![MemberRef::new("u2")])]);
    assert_eq!(members_after(&out, &["u1"]), vec!["u1", "u2"]);
    // Multi-valued attributes other than members dedupe the same way.
    let before = user(json!({"emails": [{"value": "a@x.io", "type": "work"}]}));
    let out =
        patch_user(&before, json!([{"op": "add", "path": "emails", "value": [{"value": "a@x.io", "type": "work"}]}]));
    assert!(out.data_unchanged());
}

#[test]
fn f06_entra_typed_element_upsert_fills_one_element_per_filter() {
    let out = patch_user(
        &user(json!({"phoneNumbers": [{"value": "555", "type": "work"}]})),
        json!([
            {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main"},
            {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Redmond"},
            {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "777"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "a@x.io"}
        ]),
    );
    assert_eq!(out.data["addresses"], json!([{"streetAddress": "1 Main", "locality": "Redmond", "type": "work"}]));
    assert_eq!(out.data["phoneNumbers"], json!([{"value": "555", "type": "work"}, {"value": "777", "type": "mobile"}]));
    assert_eq!(out.data["emails"], json!([{"value": "a@x.io", "type": "work"}]));
    assert!(noted(&out.notes, Rule::ValuePathUpsert));
}

#[test]
fn f06_entra_primary_role_upsert_sets_primary_and_clears_the_others() {
    let out = patch_user(
        &user(json!({"roles": [{"value": "Reader", "primary": true, "type": "old"}]})),
        json!([
            {"op": "Replace", "path": "roles[primary eq true].value", "value": "Admin"}
        ]),
    );
    // The primary role exists, so it is updated in place.
    assert_eq!(out.data["roles"], json!([{"value": "Admin", "type": "old", "primary": true}]));
    let out = patch_user(
        &user(json!({"roles": [{"value": "Reader", "primary": false}]})),
        json!([
            {"op": "Add", "path": "roles[primary eq \"True\"].value", "value": "Admin"},
            {"op": "Add", "path": "roles[primary eq \"True\"].display", "value": "Administrator"}
        ]),
    );
    assert_eq!(
        out.data["roles"],
        json!([
            {"value": "Reader", "primary": false},
            {"value": "Admin", "display": "Administrator", "primary": true}
        ])
    );
    // A created primary element takes primary from the previous holder.
    let out = patch_user(
        &user(json!({"roles": [{"value": "Reader", "type": "X", "primary": true}]})),
        json!([{"op": "Add", "path": "roles[primary eq true and type eq \"Y\"].value", "value": "Admin"}]),
    );
    assert_eq!(
        out.data["roles"],
        json!([
            {"value": "Reader", "type": "X", "primary": false},
            {"value": "Admin", "type": "Y", "primary": true}
        ])
    );
    // Not an `eq` conjunction: nothing to create, 400 noTarget.
    let err = patch_with(
        &reg(),
        ResourceKind::User,
        &user(json!({})),
        json!([{"op": "replace", "path": "emails[type eq \"work\" or type eq \"home\"].value", "value": "x"}]),
        &lenient(),
    );
    assert_scim(err, ScimType::NoTarget);
}

#[test]
fn f07_entra_flag_mode_pathless_replace_with_dotted_and_urn_keys() {
    let out = patch_user(
        &user(json!({"name": {"familyName": "Old"}})),
        json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w@x.io"},
            {"op": "replace", "value": {
                "displayName": "Pvlo",
                "name.givenName": "Ysmwilliam",
                "name.familyName": "Hwdaniel",
                format!("{ENTERPRISE}:employeeNumber"): "Eqpj"
            }}
        ]),
    );
    assert_eq!(out.data["displayName"], "Pvlo");
    assert_eq!(out.data["name"], json!({"familyName": "Hwdaniel", "givenName": "Ysmwilliam"}));
    assert_eq!(out.data[ENTERPRISE], json!({"employeeNumber": "Eqpj"}));
    assert!(noted(&out.notes, Rule::PathlessQualifiedKey));
}

#[test]
fn f07_okta_pathless_deactivation_is_applied() {
    let out = patch_user(&user(json!({"active": true})), json!([{"op": "replace", "value": {"active": false}}]));
    assert_eq!(out.data["active"], json!(false));
    assert_eq!(out.changed, vec!["active"]);
    // Keys are case-insensitive too.
    let out = patch_user(
        &user(json!({"active": true})),
        json!([{"op": "replace", "value": {"Active": false, "NAME.GIVENNAME": "G"}}]),
    );
    assert_eq!(out.data["active"], json!(false));
    assert_eq!(out.data["name"], json!({"givenName": "G"}));
}

#[test]
fn f08_entra_manager_string_value_is_stored_and_rendered_as_an_object() {
    let path = format!("{ENTERPRISE}:manager");
    let out = patch_user(&user(json!({})), json!([{"op": "Add", "path": path, "value": "2c2f5a4e"}]));
    assert_eq!(out.data[ENTERPRISE]["manager"], json!({"value": "2c2f5a4e"}));
    let rendered = render_user(&out.data);
    assert_eq!(rendered[ENTERPRISE]["manager"], json!({"value": "2c2f5a4e"}));
    assert_eq!(rendered["schemas"], json!([USER, ENTERPRISE]));
    // Older docs: an array with $ref, and no URN.
    let out = patch_user(
        &user(json!({})),
        json!([{"op": "Add", "path": "manager", "value": [{"$ref": "http://x/Users/m2", "value": "m2"}]}]),
    );
    assert_eq!(out.data[ENTERPRISE]["manager"], json!({"value": "m2"}));
    assert!(noted(&out.notes, Rule::ManagerShape));
    // An unknown manager id is not refused (the validator sends arbitrary ids).
    let out = patch_user(
        &user(json!({})),
        json!([{"op": "replace", "path": format!("{ENTERPRISE}:manager.value"), "value": "no-such-user"}]),
    );
    assert_eq!(out.data[ENTERPRISE]["manager"], json!({"value": "no-such-user"}));
    // Removal by "" (MS-LOGICAPP) and by filter (scim-patch#453).
    let before = user(json!({ENTERPRISE: {"manager": "m"}}));
    let out = patch_user(&before, json!([{"op": "replace", "path": path, "value": ""}]));
    assert!(!out.data.contains_key(ENTERPRISE));
    let out = patch_user(&before, json!([{"op": "remove", "path": "manager[value eq \"m\"]"}]));
    assert!(!out.data.contains_key(ENTERPRISE));
}

#[test]
fn f09_okta_put_with_id_and_meta_and_group_rename_with_id_are_accepted() {
    let v = validate_resource(
        &reg(),
        ResourceKind::User,
        &json!({
            "schemas": [USER],
            "id": ID,
            "userName": "alice@contoso.com",
            "groups": [],
            "meta": {"resourceType": "User", "created": "2020-01-01T00:00:00Z", "location": "x"}
        }),
        &lenient(),
    )
    .unwrap();
    assert_eq!(Value::Object(v.data), json!({"userName": "alice@contoso.com"}));
    let out = patch_group(
        &group("Old"),
        json!([{"op": "replace", "value": {"id": ID, "displayName": "New", "schemas": [GROUP], "meta": {}}}]),
    );
    assert_eq!(out.data["displayName"], "New");
    // By path, a read-only target is still an error.
    let err = patch_with(
        &reg(),
        ResourceKind::Group,
        &group("Old"),
        json!([{"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"}]),
        &lenient(),
    );
    assert_scim(err, ScimType::Mutability);
}

#[test]
fn f10_entra_adscim_group_urn_is_ignored_and_schemas_recomputed() {
    let v = validate_resource(
        &reg(),
        ResourceKind::Group,
        &json!({
            "schemas": [GROUP, ADSCIM],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"}
        }),
        &lenient(),
    )
    .unwrap();
    assert!(noted(&v.notes, Rule::UnknownSchemaIgnored));
    let rendered = render(&reg(), ResourceKind::Group, ID, &v.data, &meta(ResourceKind::Group), Derived::default());
    assert_eq!(rendered["schemas"], json!([GROUP]));
}

#[test]
fn f10_onelogin_and_misspelled_urns_and_wso2_missing_schemas_are_accepted() {
    for schemas in [
        json!(["urn:scim:schemas:core:2.0"]),
        json!([USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"]),
    ] {
        let v =
            validate_resource(&reg(), ResourceKind::User, &json!({"schemas": schemas, "userName": "u"}), &lenient())
                .unwrap();
        assert!(noted(&v.notes, Rule::UnknownSchemaIgnored), "{schemas}");
    }
    // Entra lists the enterprise URN with no extension object: nothing to store.
    let data = user(json!({"schemas": [USER, ENTERPRISE]}));
    assert_eq!(render_user(&data)["schemas"], json!([USER]));
    validate_resource(&reg(), ResourceKind::User, &json!({"userName": "u"}), &lenient()).unwrap();
}

#[test]
fn f11_entra_nulls_and_empty_values_unassign() {
    // Entra's older create payload.
    let data = user(json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": "0a21f0f2",
        "active": true,
        "addresses": null,
        "department": null,
        "manager": null,
        "name": {"formatted": "givenName familyName", "middleName": ""},
        "roles": []
    }));
    assert_eq!(
        Value::Object(data.clone()),
        json!({
            "externalId": "0a21f0f2",
            "userName": "alice@contoso.com",
            "name": {"formatted": "givenName familyName"},
            "active": true
        })
    );
    // PATCH: "" and null clear, at any depth.
    let before = user(json!({"title": "T", "name": {"givenName": "G", "middleName": "M"}}));
    let out = patch_user(
        &before,
        json!([
            {"op": "replace", "path": "title", "value": ""},
            {"op": "replace", "path": "name", "value": {"middleName": null}}
        ]),
    );
    assert!(!out.data.contains_key("title"));
    assert_eq!(out.data["name"], json!({"givenName": "G"}));
    // But an empty required attribute is an error.
    assert_scim(
        validate_resource(&reg(), ResourceKind::User, &json!({"userName": ""}), &lenient()),
        ScimType::InvalidValue,
    );
}

#[test]
fn f12_wso2_bare_word_filter_values_are_strings() {
    let rendered = render_user(&user(json!({"userName": "bjensen", "externalId": "jyoung"})));
    assert!(matches(&reg(), ResourceKind::User, "userName eq bjensen", &rendered));
    assert!(matches(&reg(), ResourceKind::User, "externalId eq jyoung", &rendered));
    assert_eq!(
        filter(&reg(), ResourceKind::User, "userName eq bjensen"),
        filter(&reg(), ResourceKind::User, r#"userName eq "bjensen""#)
    );
}

#[test]
fn f13_entra_uniqueness_query_on_the_work_email() {
    let rendered = render_user(&user(json!({
        "emails": [
            {"value": "home@contoso.com", "type": "home"},
            {"value": "user@contoso.com", "type": "work"}
        ]
    })));
    assert!(matches(&reg(), ResourceKind::User, r#"emails[type eq "work"].value eq "user@contoso.com""#, &rendered));
    assert!(!matches(&reg(), ResourceKind::User, r#"emails[type eq "work"].value eq "home@contoso.com""#, &rendered));
}

#[test]
fn f14_pingfederate_emails_eq_compares_the_value() {
    let rendered = render_user(&user(json!({"emails": [{"value": "a@x.io", "type": "work"}]})));
    assert!(matches(&reg(), ResourceKind::User, r#"emails eq "a@x.io""#, &rendered));
    assert!(matches(&reg(), ResourceKind::User, r#"emails co "x.io""#, &rendered));
    let group = rendered_group(&reg(), "G", &["uid"]);
    assert!(matches(&reg(), ResourceKind::Group, r#"members eq "uid""#, &group));
}

#[test]
fn f15_entra_phone_numbers_and_names_are_stored_as_sent() {
    let data = user(json!({
        "phoneNumbers": [{"value": "55555555555", "type": "work"}],
        "emails": [{"value": "Alice.Smith@Contoso.COM"}],
        "name": {"givenName": "aLiCe"}
    }));
    let rendered = render_user(&data);
    assert_eq!(rendered["phoneNumbers"][0]["value"], "55555555555");
    assert_eq!(rendered["emails"][0]["value"], "Alice.Smith@Contoso.COM");
    assert_eq!(rendered["name"]["givenName"], "aLiCe");
}

#[test]
fn f16_entra_and_onelogin_query_strings_are_decoded() {
    let params = decode_query("aadOptscim062020&filter=userName+eq+%22a%40x.io%22&").unwrap();
    let q = ListQuery::from_params(&params).unwrap();
    assert_eq!(q.filter.as_deref(), Some(r#"userName eq "a@x.io""#));
    let q = ListQuery::from_params(&decode_query("Filter=userName%20eq%20%22x%22&COUNT=2").unwrap()).unwrap();
    assert_eq!(q.filter.as_deref(), Some(r#"userName eq "x""#));
    assert_eq!(q.count, Some(2));
}

#[test]
fn f17_rfc_case_insensitive_member_names_are_emitted_canonically() {
    let data = data_of(
        &reg(),
        ResourceKind::User,
        json!({"UserName": "x", "DISPLAYNAME": "X", "Emails": [{"VALUE": "a@x.io"}]}),
    );
    let rendered = render_user(&data);
    assert_eq!(rendered["userName"], "x");
    assert_eq!(rendered["displayName"], "X");
    assert_eq!(rendered["emails"], json!([{"value": "a@x.io"}]));
    assert!(!rendered.contains_key("UserName"));
    let request = patch_request(&reg(), json!([{"Op": "replace", "Path": "DisplayName", "Value": "Y"}])).unwrap();
    assert_eq!(request.operations.len(), 1);
}

#[test]
fn f18_output_is_typed_canonical_and_free_of_nulls() {
    let registry = reg();
    let data = data_of(
        &registry,
        ResourceKind::User,
        json!({
            "userName": "u", "active": "True", "password": "p", "title": null,
            "emails": [{"value": "a@x.io", "primary": "false", "display": null}]
        }),
    );
    let rendered = render_user(&data);
    assert_eq!(rendered["active"], json!(true));
    assert_eq!(rendered["emails"], json!([{"value": "a@x.io", "primary": false}]));
    assert!(!rendered.contains_key("password"));
    assert!(!rendered.contains_key("title"));
    assert_eq!(rendered["meta"]["created"], "2010-01-23T04:56:22Z");
    let mut nulls = Vec::new();
    crate::null_paths(&Value::Object(rendered), "", &mut nulls);
    assert!(nulls.is_empty(), "{nulls:?}");
    // `members` is absent, not empty, when excluded.
    let group = rendered_group(&registry, "G", &["u1"]);
    let projection = Projection::parse(&registry, ResourceKind::Group, &[], &["members".into()]).unwrap();
    assert!(!projection.apply(&registry, ResourceKind::Group, &group).contains_key("members"));
}

#[test]
fn f19_entra_inactive_users_stay_visible_to_filters() {
    let rendered = rendered_user(&reg(), json!({"userName": "gone@contoso.com", "active": false}));
    assert!(matches(&reg(), ResourceKind::User, r#"userName eq "gone@contoso.com""#, &rendered));
    assert!(matches(&reg(), ResourceKind::User, "active eq false", &rendered));
}

#[test]
fn f22_entra_upn_rename_is_refused_with_mutability() {
    let err = patch_with(
        &reg(),
        ResourceKind::User,
        &user(json!({})),
        json!([{"op": "Replace", "path": "userName", "value": "5b50642d@testuser.com"}]),
        &lenient(),
    );
    let detail = assert_scim(err, ScimType::Mutability);
    assert!(detail.contains("userName cannot be changed once provisioned"), "{detail}");
    let out =
        patch_user(&user(json!({})), json!([{"op": "Replace", "path": "userName", "value": "ALICE@CONTOSO.COM"}]));
    assert!(out.data_unchanged());
}

#[test]
fn f24_okta_and_entra_retries_are_idempotent() {
    let inactive = user(json!({"active": false}));
    let out = patch_user(&inactive, json!([{"op": "replace", "path": "active", "value": false}]));
    assert!(out.data_unchanged());
    let out = patch_user(&inactive, json!([{"op": "remove", "path": "title"}]));
    assert!(out.data_unchanged());
    let out = patch_group(&group("G"), json!([{"op": "remove", "path": "members[value eq \"gone\"]"}]));
    assert_eq!(members_after(&out, &["u1"]), vec!["u1"]);
    let out = patch_user(
        &user(json!({"emails": [{"value": "w@x.io", "type": "work"}]})),
        json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
    );
    assert!(out.data_unchanged());
}

#[test]
fn f26_entra_batched_member_adds_touch_only_the_changed_members() {
    let out = patch_group(
        &group("Big"),
        json!([{"op": "Add", "path": "members", "value": [{"value": "u9001"}, {"value": "u9002"}]}]),
    );
    assert_eq!(out.member_ops, vec![MemberOp::Add(vec![MemberRef::new("u9001"), MemberRef::new("u9002")])]);
    assert!(out.data_unchanged());
    assert!(!out.data.contains_key("members"));
}

#[test]
fn f27_ms_validator_random_timezone_and_locale_are_accepted() {
    let data = user(json!({
        "timezone": "Foo/Bar", "locale": "qq-ZZ", "preferredLanguage": "xx",
        "profileUrl": "http://", "addresses": [{"country": "Atlantis"}]
    }));
    assert_eq!(data["timezone"], "Foo/Bar");
    assert_eq!(data["addresses"][0]["country"], "Atlantis");
    let out = patch_user(&data, json!([{"op": "replace", "path": "timezone", "value": "Mars/Olympus_Mons"}]));
    assert_eq!(out.data["timezone"], "Mars/Olympus_Mons");
}

#[test]
fn f28_entra_legacy_json_encoded_role_values_are_stored_as_sent() {
    let encoded = r#"{"id":"8d2a","value":"Admin","displayName":"Admin"}"#;
    let out = patch_user(
        &user(json!({})),
        json!([{"op": "Add", "path": "roles", "value": [{"value": encoded, "primary": "True"}]}]),
    );
    assert_eq!(out.data["roles"], json!([{"value": encoded, "primary": true}]));
    let data = user(json!({"roles": [{"value": encoded}]}));
    assert_eq!(data["roles"][0]["value"], encoded);
}

#[test]
fn f29_duplicate_types_are_kept_and_value_paths_hit_every_match() {
    let before = user(json!({"emails": [
        {"value": "a@x.io", "type": "work"},
        {"value": "b@x.io", "type": "work"}
    ]}));
    assert_eq!(before["emails"].as_array().unwrap().len(), 2);
    let out =
        patch_user(&before, json!([{"op": "replace", "path": "emails[type eq \"work\"].display", "value": "Work"}]));
    assert_eq!(
        out.data["emails"],
        json!([
            {"value": "a@x.io", "display": "Work", "type": "work"},
            {"value": "b@x.io", "display": "Work", "type": "work"}
        ])
    );
}

#[test]
fn f30_okta_password_is_accepted_and_never_kept() {
    let v =
        validate_resource(&reg(), ResourceKind::User, &json!({"userName": "u", "password": "t1meMa$heen"}), &lenient())
            .unwrap();
    assert!(!v.data.contains_key("password"));
    assert!(noted(&v.notes, Rule::PasswordDropped));
    let out = patch_user(&user(json!({})), json!([{"op": "replace", "value": {"password": "new", "active": true}}]));
    assert!(!out.data.contains_key("password"));
    assert_eq!(out.changed, vec!["active"]);
}
