//! The PATCH engine (RFC 7644 §3.5.2): every vector of catalog A18.5 (rows 1–30) as its
//! own test, then the rules P1–P14, mutability, the userName policy, the unknown-attribute
//! policy, and the notes each leniency records.

use pretty_assertions::assert_eq;
use roster_scim::notes::Rule;
use roster_scim::patch::PatchRequest;
use roster_scim::resource::Derived;
use roster_scim::{MemberOp, MemberRef, OpKind, ResourceKind, ScimType, apply_patch, render};
use serde_json::{Map, Value, json};

use crate::{
    ENTERPRISE, GROUP, ID, IVANTI, USER, assert_scim, data_of, ivanti, lenient, member_elements, member_ids,
    members_after, meta, noted, obj, patch_group, patch_request, patch_user, patch_with, reg, renames_allowed, strict,
};

/// Stored user data for a body (userName `bjensen` unless given).
fn user(body: Value) -> Map<String, Value> {
    let mut body = obj(body);
    body.entry("userName").or_insert_with(|| Value::String("bjensen".into()));
    data_of(&reg(), ResourceKind::User, Value::Object(body))
}

/// Stored group data (members never live in data).
fn group(display_name: &str) -> Map<String, Value> {
    data_of(&reg(), ResourceKind::Group, json!({"schemas": [GROUP], "displayName": display_name}))
}

fn user_error(data: &Map<String, Value>, ops: Value, expected: ScimType) -> String {
    assert_scim(patch_with(&reg(), ResourceKind::User, data, ops, &lenient()), expected)
}

fn group_error(data: &Map<String, Value>, ops: Value, expected: ScimType) -> String {
    assert_scim(patch_with(&reg(), ResourceKind::Group, data, ops, &lenient()), expected)
}

fn schemas_of(data: &Map<String, Value>) -> Vec<String> {
    let rendered = render(&reg(), ResourceKind::User, ID, data, &meta(ResourceKind::User), Derived::default());
    rendered["schemas"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

// ---- A18.5 vectors ------------------------------------------------------------------------

#[test]
fn a18_01_add_primary_email_clears_the_other_primary() {
    let before = user(json!({"emails": [{"value": "a@x.io", "type": "work", "primary": true}]}));
    let out = patch_user(
        &before,
        json!([{"op": "add", "path": "emails", "value": [{"value": "b@x.io", "type": "home", "primary": true}]}]),
    );
    assert_eq!(
        out.data["emails"],
        json!([
            {"value": "a@x.io", "type": "work", "primary": false},
            {"value": "b@x.io", "type": "home", "primary": true}
        ])
    );
}

#[test]
fn a18_02_replace_single_valued_attribute_replaces_it() {
    let out = patch_user(&user(json!({"nickName": "x"})), json!([{"op": "replace", "path": "nickName", "value": "y"}]));
    assert_eq!(out.data["nickName"], "y");
    assert_eq!(out.changed, vec!["nickName"]);
}

#[test]
fn a18_03_replace_of_an_absent_attribute_adds_it() {
    let before = user(json!({}));
    assert!(!before.contains_key("nickName"));
    let out = patch_user(&before, json!([{"op": "replace", "path": "nickName", "value": "y"}]));
    assert_eq!(out.data["nickName"], "y");
}

#[test]
fn a18_04_replace_complex_attribute_merges_sub_attributes() {
    let out = patch_user(
        &user(json!({"name": {"givenName": "A", "familyName": "B"}})),
        json!([{"op": "replace", "path": "name", "value": {"givenName": "C"}}]),
    );
    assert_eq!(out.data["name"], json!({"familyName": "B", "givenName": "C"}));
}

#[test]
fn a18_05_add_sub_attribute_keeps_the_other_sub_attributes() {
    let out = patch_user(
        &user(json!({"name": {"givenName": "A"}})),
        json!([{"op": "add", "path": "name.familyName", "value": "B"}]),
    );
    assert_eq!(out.data["name"], json!({"familyName": "B", "givenName": "A"}));
}

#[test]
fn a18_06_remove_member_by_filter_keeps_other_members() {
    let out = patch_group(&group("G"), json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]));
    assert_eq!(out.member_ops, vec![MemberOp::Remove(vec!["u1".into()])]);
    assert_eq!(members_after(&out, &["u1", "u2"]), vec!["u2"]);
    assert!(!out.data.contains_key("members"));
}

#[test]
fn a18_07_remove_members_without_filter_removes_all() {
    let out = patch_group(&group("G"), json!([{"op": "remove", "path": "members"}]));
    assert_eq!(out.member_ops, vec![MemberOp::Replace(vec![])]);
    assert!(members_after(&out, &["u1", "u2"]).is_empty());
}

#[test]
fn a18_08_add_existing_member_is_a_no_op() {
    let before = group("G");
    let out = patch_group(&before, json!([{"op": "add", "path": "members", "value": [{"value": "u1"}]}]));
    assert_eq!(members_after(&out, &["u1"]), vec!["u1"]);
    // The data is untouched, so storage keeps meta.lastModified and the version (P13).
    assert!(out.data_unchanged());
    assert_eq!(out.data, before);
}

#[test]
fn a18_09_remove_without_path_is_no_target() {
    let err = patch_request(&reg(), json!([{"op": "remove"}])).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::NoTarget));
    assert_eq!(err.status, 400);
    let err = patch_request(&reg(), json!([{"op": "remove", "path": ""}])).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::NoTarget));
}

#[test]
fn a18_10_replace_sub_attribute_of_unmatched_eq_filter_creates_the_element() {
    let out = patch_user(
        &user(json!({"emails": [{"value": "a@x.io", "type": "work"}]})),
        json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "h@x.io"}]),
    );
    assert_eq!(out.data["emails"], json!([{"value": "a@x.io", "type": "work"}, {"value": "h@x.io", "type": "home"}]));
    assert!(noted(&out.notes, Rule::ValuePathUpsert));
}

#[test]
fn a18_11_two_upserts_with_the_same_filter_fill_one_element() {
    let out = patch_user(
        &user(json!({})),
        json!([
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "w@x.io"},
            {"op": "Add", "path": "emails[type eq \"work\"].primary", "value": true}
        ]),
    );
    assert_eq!(out.data["emails"], json!([{"value": "w@x.io", "type": "work", "primary": true}]));
}

#[test]
fn a18_12_replace_sub_attribute_by_filter_leaves_other_elements_alone() {
    let out = patch_user(
        &user(json!({"addresses": [
            {"type": "work", "streetAddress": "S"},
            {"type": "home", "streetAddress": "H", "locality": "Home Town"}
        ]})),
        json!([{"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "L"}]),
    );
    assert_eq!(
        out.data["addresses"],
        json!([
            {"streetAddress": "S", "locality": "L", "type": "work"},
            {"streetAddress": "H", "locality": "Home Town", "type": "home"}
        ])
    );
}

#[test]
fn a18_13_changing_username_is_refused_but_a_case_change_is_a_no_op() {
    let before = user(json!({"userName": "bjensen"}));
    let detail =
        user_error(&before, json!([{"op": "replace", "path": "userName", "value": "babs"}]), ScimType::Mutability);
    assert!(detail.contains("userName cannot be changed once provisioned"), "{detail}");
    let out = patch_user(&before, json!([{"op": "replace", "path": "userName", "value": "BJensen"}]));
    assert_eq!(out.data["userName"], "bjensen");
    assert!(out.data_unchanged());
    assert!(noted(&out.notes, Rule::UserNameCaseKept));
}

#[test]
fn a18_14_replacing_id_is_a_mutability_error() {
    user_error(&user(json!({})), json!([{"op": "replace", "path": "id", "value": "x"}]), ScimType::Mutability);
}

#[test]
fn a18_15_replacing_groups_is_a_mutability_error() {
    let detail = user_error(
        &user(json!({})),
        json!([{"op": "replace", "path": "groups", "value": [{"value": "g1"}]}]),
        ScimType::Mutability,
    );
    assert!(detail.contains("groups"), "{detail}");
}

#[test]
fn a18_16_add_extension_attribute_creates_the_extension_and_lists_its_schema() {
    let before = user(json!({}));
    assert_eq!(schemas_of(&before), vec![USER]);
    let out = patch_user(&before, json!([{"op": "add", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "7"}]));
    assert_eq!(out.data[ENTERPRISE], json!({"employeeNumber": "7"}));
    assert_eq!(out.changed, vec![format!("{ENTERPRISE}:employeeNumber")]);
    assert_eq!(schemas_of(&out.data), vec![USER, ENTERPRISE]);
}

#[test]
fn a18_17_pathless_replace_with_urn_and_dotted_keys_sets_both() {
    let out = patch_user(
        &user(json!({"name": {"familyName": "F"}})),
        json!([{"op": "replace", "value": {
            format!("{ENTERPRISE}:department"): "X",
            "name.givenName": "G"
        }}]),
    );
    assert_eq!(out.data[ENTERPRISE]["department"], "X");
    assert_eq!(out.data["name"], json!({"familyName": "F", "givenName": "G"}));
    assert!(noted(&out.notes, Rule::PathlessQualifiedKey));
}

#[test]
fn a18_18_pathless_replace_with_extension_object_merges_into_the_extension() {
    let out = patch_user(
        &user(json!({ENTERPRISE: {"employeeNumber": "7"}})),
        json!([{"op": "replace", "value": {ENTERPRISE: {"department": "X"}}}]),
    );
    assert_eq!(out.data[ENTERPRISE], json!({"employeeNumber": "7", "department": "X"}));
}

#[test]
fn a18_19_string_false_deactivates_the_user() {
    let out =
        patch_user(&user(json!({"active": true})), json!([{"op": "Replace", "path": "active", "value": "False"}]));
    assert_eq!(out.data["active"], json!(false));
    assert!(noted(&out.notes, Rule::StringBoolean));
}

#[test]
fn a18_20_a_failing_operation_fails_the_whole_request() {
    let before = user(json!({"nickName": "old"}));
    let detail = user_error(
        &before,
        json!([
            {"op": "replace", "path": "nickName", "value": "new"},
            {"op": "replace", "path": "id", "value": "x"}
        ]),
        ScimType::Mutability,
    );
    assert!(detail.starts_with("operation 2"), "{detail}");
    // The same first operation alone does change the data: the failure is what stopped it.
    let alone = patch_user(&before, json!([{"op": "replace", "path": "nickName", "value": "new"}]));
    assert_eq!(alone.data["nickName"], "new");
    // Member operations are not handed out when a later operation fails.
    group_error(
        &group("G"),
        json!([
            {"op": "add", "path": "members", "value": [{"value": "u1"}]},
            {"op": "remove", "path": "displayName"}
        ]),
        ScimType::Mutability,
    );
}

#[test]
fn a18_21_manager_given_as_a_string_is_stored_as_an_object() {
    let out =
        patch_user(&user(json!({})), json!([{"op": "add", "path": format!("{ENTERPRISE}:manager"), "value": "mgrId"}]));
    assert_eq!(out.data[ENTERPRISE]["manager"], json!({"value": "mgrId"}));
    assert!(noted(&out.notes, Rule::ManagerShape));
}

#[test]
fn a18_22_manager_is_unassigned_by_empty_value_null_or_remove() {
    let before = user(json!({ENTERPRISE: {"manager": {"value": "m"}}}));
    assert_eq!(schemas_of(&before), vec![USER, ENTERPRISE]);
    let manager = format!("{ENTERPRISE}:manager");
    for op in [
        json!({"op": "replace", "path": manager, "value": {"value": ""}}),
        json!({"op": "remove", "path": manager}),
        json!({"op": "replace", "path": manager, "value": null}),
        json!({"op": "replace", "path": manager, "value": ""}),
        json!({"op": "replace", "path": "manager", "value": {"value": ""}}),
    ] {
        let out = patch_user(&before, json!([op.clone()]));
        assert!(!out.data.contains_key(ENTERPRISE), "{op}: the empty extension should be dropped, got {:?}", out.data);
        assert_eq!(schemas_of(&out.data), vec![USER], "{op}");
        assert_eq!(out.changed, vec![manager.clone()], "{op}");
    }
}

#[test]
fn a18_23_legacy_remove_with_member_value_list_removes_only_those() {
    let out = patch_group(&group("G"), json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}]}]));
    assert_eq!(out.member_ops, vec![MemberOp::Remove(vec!["u1".into()])]);
    assert_eq!(members_after(&out, &["u1", "u2", "u3"]), vec!["u2", "u3"]);
    assert!(noted(&out.notes, Rule::ValueListRemoval));
}

#[test]
fn a18_24_replace_members_with_empty_list_clears_the_group() {
    let out = patch_group(&group("G"), json!([{"op": "replace", "path": "members", "value": []}]));
    assert_eq!(out.member_ops, vec![MemberOp::Replace(vec![])]);
    assert!(members_after(&out, &["u1"]).is_empty());
}

#[test]
fn a18_25_pathless_group_rename_ignores_its_own_id_but_refuses_another() {
    let out = patch_group(&group("Old"), json!([{"op": "replace", "value": {"id": ID, "displayName": "New"}}]));
    assert_eq!(out.data["displayName"], "New");
    assert_eq!(out.changed, vec!["displayName"]);
    group_error(
        &group("Old"),
        json!([{"op": "replace", "value": {"id": "another-id", "displayName": "New"}}]),
        ScimType::Mutability,
    );
}

#[test]
fn a18_26_replace_of_unmatched_eq_filter_with_an_object_upserts_it() {
    let out = patch_user(
        &user(json!({"emails": [{"value": "h@x.io", "type": "home"}]})),
        json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": {"value": "w@x.io", "primary": true}}]),
    );
    assert_eq!(
        out.data["emails"],
        json!([
            {"value": "h@x.io", "type": "home"},
            {"value": "w@x.io", "type": "work", "primary": true}
        ])
    );
    assert!(noted(&out.notes, Rule::ValuePathUpsert));
    // A filter that does not describe an element has nothing to create: 400 noTarget.
    user_error(
        &user(json!({})),
        json!([{"op": "replace", "path": "emails[value co \"@x.io\"]", "value": {"value": "w@x.io"}}]),
        ScimType::NoTarget,
    );
}

#[test]
fn a18_27_op_names_are_case_insensitive() {
    let request = patch_request(
        &reg(),
        json!([
            {"op": "ADD", "path": "nickName", "value": "a"},
            {"op": "Remove", "path": "title"},
            {"op": "rePlace", "path": "displayName", "value": "d"}
        ]),
    )
    .unwrap();
    let kinds: Vec<OpKind> = request.operations.iter().map(|o| o.op).collect();
    assert_eq!(kinds, vec![OpKind::Add, OpKind::Remove, OpKind::Replace]);
    let out = apply_patch(&reg(), ResourceKind::User, ID, &user(json!({"title": "t"})), &request, &lenient()).unwrap();
    assert_eq!(out.data["nickName"], "a");
    assert_eq!(out.data["displayName"], "d");
    assert!(!out.data.contains_key("title"));
}

#[test]
fn a18_28_add_or_replace_without_value_is_invalid_value() {
    for op in ["add", "replace"] {
        let err = patch_request(&reg(), json!([{"op": op, "path": "nickName"}])).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidValue), "{op}");
        assert!(err.detail.contains("needs a value"), "{}", err.detail);
    }
}

#[test]
fn a18_29_removing_an_absent_member_is_a_no_op() {
    let out = patch_group(&group("G"), json!([{"op": "remove", "path": "members[value eq \"nonexistent\"]"}]));
    assert_eq!(members_after(&out, &["u1", "u2"]), vec!["u1", "u2"]);
    assert!(out.data_unchanged());
}

#[test]
fn a18_30_filter_on_single_valued_manager_applies_only_when_it_matches() {
    let before = user(json!({ENTERPRISE: {"manager": {"value": "x"}, "department": "D"}}));
    let remove_value = json!([{"op": "replace", "path": "manager[value eq \"x\"].value", "value": ""}]);
    let out = patch_user(&before, remove_value);
    assert_eq!(out.data[ENTERPRISE], json!({"department": "D"}));
    let out = patch_user(&before, json!([{"op": "remove", "path": "manager[value eq \"x\"]"}]));
    assert_eq!(out.data[ENTERPRISE], json!({"department": "D"}));
    // No match: nothing happens, and it is not an error.
    for ops in [
        json!([{"op": "replace", "path": "manager[value eq \"y\"].value", "value": ""}]),
        json!([{"op": "remove", "path": "manager[value eq \"y\"]"}]),
    ] {
        let out = patch_user(&before, ops);
        assert_eq!(out.data, before);
        assert!(out.data_unchanged());
    }
}

#[test]
fn value_path_add_merges_into_and_replace_null_removes_matching_elements() {
    let before = user(json!({"emails": [
        {"value": "a@x.io", "type": "work"},
        {"value": "b@x.io", "type": "home"}
    ]}));
    let out =
        patch_user(&before, json!([{"op": "add", "path": "emails[type eq \"work\"]", "value": {"display": "W"}}]));
    assert_eq!(
        out.data["emails"],
        json!([
            {"value": "a@x.io", "display": "W", "type": "work"},
            {"value": "b@x.io", "type": "home"}
        ])
    );
    let out = patch_user(&before, json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": null}]));
    assert_eq!(out.data["emails"], json!([{"value": "b@x.io", "type": "home"}]));
    let out = patch_user(&before, json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"x.io\"]"}]));
    assert_eq!(out.data["emails"], json!([{"value": "b@x.io", "type": "home"}]));
    let out = patch_user(&before, json!([{"op": "remove", "path": "emails[value ew \"x.io\"]"}]));
    assert!(!out.data.contains_key("emails"));
}

// ---- P1–P14 ------------------------------------------------------------------------------

#[test]
fn p1_patchop_without_schemas_is_accepted() {
    let request = PatchRequest::from_json(
        &json!({"Operations": [{"op": "replace", "path": "active", "value": false}]}),
        reg().known_urns(),
    )
    .unwrap();
    assert_eq!(request.operations.len(), 1);
}

#[test]
fn p2_missing_empty_or_non_array_operations_is_invalid_syntax() {
    let known = reg().known_urns().to_vec();
    for body in [
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}),
        json!({"Operations": []}),
        json!({"Operations": {"op": "add"}}),
        json!({"Operations": ["add"]}),
        json!([{"op": "add"}]),
    ] {
        let err = PatchRequest::from_json(&body, &known).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax), "{body}");
    }
    let lower =
        PatchRequest::from_json(&json!({"operations": [{"OP": "add", "PATH": "nickName", "VALUE": "n"}]}), &known)
            .unwrap();
    assert_eq!(lower.operations[0].op, OpKind::Add);
    assert_eq!(lower.operations[0].value, Some(json!("n")));
}

#[test]
fn p3_missing_or_unknown_op_is_invalid_syntax_naming_it() {
    let err = patch_request(&reg(), json!([{"op": "merge", "path": "x", "value": 1}])).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax));
    assert!(err.detail.contains("merge"), "{}", err.detail);
    let err = patch_request(&reg(), json!([{"path": "x", "value": 1}])).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax));
    let err = patch_request(&reg(), json!([{"op": 1, "path": "x"}])).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax));
}

#[test]
fn p5_malformed_path_is_invalid_path() {
    for path in [json!("emails[type eq"), json!("emails[type eq \"work\"]value"), json!("name..givenName"), json!(42)] {
        let err = patch_request(&reg(), json!([{"op": "remove", "path": path}])).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidPath), "{path}");
    }
    // A value filter on a simple attribute is malformed too.
    user_error(&user(json!({})), json!([{"op": "remove", "path": "userName[value eq \"x\"]"}]), ScimType::InvalidPath);
}

#[test]
fn p5_unknown_attribute_paths_are_ignored_and_noted_by_default() {
    let before = user(json!({"nickName": "n"}));
    for path in [
        "favouriteColour".to_string(),
        "name.nickname".to_string(),
        format!("{ENTERPRISE}:shoeSize"),
        "urn:example:unknown:2.0:User:x".to_string(),
    ] {
        let out = patch_user(
            &before,
            json!([{"op": "replace", "path": path, "value": "v"}, {"op": "replace", "path": "nickName", "value": "m"}]),
        );
        assert_eq!(out.data["nickName"], "m", "{path}");
        assert_eq!(out.changed, vec!["nickName"], "{path}");
        assert!(noted(&out.notes, Rule::UnknownAttributeIgnored), "{path}");
    }
}

#[test]
fn p5_unknown_attribute_paths_are_invalid_path_in_strict_mode() {
    for path in ["favouriteColour".to_string(), "name.nickname".to_string(), format!("{ENTERPRISE}:shoeSize")] {
        assert_scim(
            patch_with(
                &reg(),
                ResourceKind::User,
                &user(json!({})),
                json!([{"op": "replace", "path": path, "value": "v"}]),
                &strict(),
            ),
            ScimType::InvalidPath,
        );
    }
    assert_scim(
        patch_with(
            &reg(),
            ResourceKind::User,
            &user(json!({})),
            json!([{"op": "replace", "value": {"favouriteColour": "blue"}}]),
            &strict(),
        ),
        ScimType::InvalidPath,
    );
}

#[test]
fn p5_unknown_sub_attribute_after_a_value_filter_follows_the_policy() {
    let before = user(json!({"emails": [{"value": "w@x.io", "type": "work"}]}));
    let ops = json!([{"op": "replace", "path": "emails[type eq \"work\"].shade", "value": "blue"}]);
    let out = patch_user(&before, ops.clone());
    assert_eq!(out.data, before);
    assert!(noted(&out.notes, Rule::UnknownAttributeIgnored));
    assert_scim(patch_with(&reg(), ResourceKind::User, &before, ops, &strict()), ScimType::InvalidPath);
}

#[test]
fn p6_operations_apply_in_order_each_seeing_the_last() {
    let out = patch_user(
        &user(json!({})),
        json!([
            {"op": "add", "path": "nickName", "value": "a"},
            {"op": "replace", "path": "nickName", "value": "b"},
            {"op": "add", "path": "title", "value": "t"},
            {"op": "remove", "path": "title"}
        ]),
    );
    assert_eq!(out.data["nickName"], "b");
    assert!(!out.data.contains_key("title"));
    let out = patch_user(
        &user(json!({"emails": [{"value": "old@x.io"}]})),
        json!([
            {"op": "remove", "path": "emails"},
            {"op": "add", "path": "emails", "value": [{"value": "new@x.io", "type": "work"}]}
        ]),
    );
    assert_eq!(out.data["emails"], json!([{"value": "new@x.io", "type": "work"}]));
    // RFC 7644 §3.5.2.2: remove every member, then add the new ones.
    let out = patch_group(
        &group("G"),
        json!([
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [
                {"value": "u3", "display": "Babs Jensen"},
                {"value": "u4", "display": "James Smith"}
            ]}
        ]),
    );
    assert_eq!(members_after(&out, &["u1", "u2"]), vec!["u3", "u4"]);
}

#[test]
fn p8_read_only_attributes_cannot_be_patched_by_path() {
    let before = user(json!({ENTERPRISE: {"manager": {"value": "m"}}}));
    for (op, path) in [
        ("replace", "meta.created"),
        ("add", "meta"),
        ("remove", "id"),
        ("add", "groups"),
        ("replace", "groups[value eq \"g\"].display"),
        ("replace", "manager.displayName"),
        ("replace", "schemas"),
    ] {
        let detail = user_error(&before, json!([{"op": op, "path": path, "value": "x"}]), ScimType::Mutability);
        assert!(detail.contains("read-only"), "{op} {path}: {detail}");
    }
}

#[test]
fn p8_member_sub_attributes_are_immutable() {
    for ops in [
        json!([{"op": "replace", "path": "members[value eq \"u1\"].value", "value": "u2"}]),
        json!([{"op": "add", "path": "members[value eq \"u1\"].type", "value": "Group"}]),
        json!([{"op": "replace", "path": "members[value eq \"u1\"]", "value": {"value": "u2"}}]),
        json!([{"op": "replace", "path": "members.value", "value": "u2"}]),
    ] {
        group_error(&group("G"), ops, ScimType::Mutability);
    }
    // Adding through a filter makes no sense for members: the value is the list.
    group_error(
        &group("G"),
        json!([{"op": "add", "path": "members[value eq \"u1\"]", "value": [{"value": "u1"}]}]),
        ScimType::InvalidPath,
    );
}

#[test]
fn p8_required_attributes_cannot_be_removed_or_emptied() {
    user_error(&user(json!({})), json!([{"op": "remove", "path": "userName"}]), ScimType::Mutability);
    group_error(&group("G"), json!([{"op": "remove", "path": "displayName"}]), ScimType::Mutability);
    for empty in [json!(""), json!(null)] {
        user_error(
            &user(json!({})),
            json!([{"op": "replace", "path": "userName", "value": empty}]),
            ScimType::InvalidValue,
        );
        group_error(
            &group("G"),
            json!([{"op": "replace", "path": "displayName", "value": empty}]),
            ScimType::InvalidValue,
        );
    }
}

#[test]
fn p8_read_only_attributes_in_pathless_values_are_ignored_and_noted() {
    let out = patch_user(
        &user(json!({})),
        json!([{"op": "replace", "value": {
            "schemas": [USER], "meta": {"created": "2000-01-01T00:00:00Z"},
            "groups": [{"value": "g1"}], "nickName": "n"
        }}]),
    );
    assert_eq!(out.changed, vec!["nickName"]);
    assert!(noted(&out.notes, Rule::ReadOnlyIgnored));
    assert!(!out.data.contains_key("groups"));
    assert!(!out.data.contains_key("meta"));
}

#[test]
fn p9_setting_primary_on_one_value_clears_it_on_the_others() {
    let before = user(json!({"emails": [
        {"value": "w@x.io", "type": "work", "primary": true},
        {"value": "h@x.io", "type": "home"}
    ]}));
    let out =
        patch_user(&before, json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]));
    assert_eq!(
        out.data["emails"],
        json!([
            {"value": "w@x.io", "type": "work", "primary": false},
            {"value": "h@x.io", "type": "home", "primary": true}
        ])
    );
    // Two primaries in one added list: the first wins, and the old primary is cleared.
    let out = patch_user(
        &before,
        json!([{"op": "add", "path": "emails", "value": [
            {"value": "a@x.io", "primary": true},
            {"value": "b@x.io", "primary": true}
        ]}]),
    );
    let primaries: Vec<&str> = out.data["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["primary"] == json!(true))
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(primaries, vec!["a@x.io"]);
    assert!(noted(&out.notes, Rule::PrimaryDeduplicated));
}

#[test]
fn p9_primary_set_on_every_element_stays_on_the_first_only() {
    let out = patch_user(
        &user(json!({"emails": [{"value": "a@x.io"}, {"value": "b@x.io"}]})),
        json!([{"op": "replace", "path": "emails.primary", "value": true}]),
    );
    assert_eq!(
        out.data["emails"],
        json!([
            {"value": "a@x.io", "primary": true},
            {"value": "b@x.io", "primary": false}
        ])
    );
}

#[test]
fn p10_later_operations_see_the_extension_an_earlier_one_created() {
    let out = patch_user(
        &user(json!({})),
        json!([
            {"op": "add", "path": format!("{ENTERPRISE}:department"), "value": "X"},
            {"op": "add", "path": ENTERPRISE, "value": {"costCenter": "C"}},
            {"op": "remove", "path": format!("{ENTERPRISE}:department")}
        ]),
    );
    assert_eq!(out.data[ENTERPRISE], json!({"costCenter": "C"}));
    assert_eq!(schemas_of(&out.data), vec![USER, ENTERPRISE]);
    // Removing the whole extension drops it and its schema.
    let out = patch_user(&out.data, json!([{"op": "remove", "path": ENTERPRISE}]));
    assert!(!out.data.contains_key(ENTERPRISE));
    assert_eq!(schemas_of(&out.data), vec![USER]);
}

#[test]
fn p13_operations_that_change_nothing_report_no_change() {
    let before = user(json!({
        "nickName": "n",
        "emails": [{"value": "w@x.io", "type": "work"}],
        "name": {"givenName": "G"}
    }));
    for ops in [
        json!([{"op": "add", "path": "nickName", "value": "n"}]),
        json!([{"op": "replace", "path": "nickName", "value": "n"}]),
        json!([{"op": "remove", "path": "title"}]),
        json!([{"op": "add", "path": "emails", "value": [{"value": "w@x.io", "type": "work"}]}]),
        json!([{"op": "replace", "path": "name", "value": {"givenName": "G"}}]),
        json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
        json!([{"op": "replace", "value": {"nickName": "n"}}]),
    ] {
        let out = patch_user(&before, ops.clone());
        assert!(out.data_unchanged(), "{ops}: changed {:?}", out.changed);
        assert_eq!(out.data, before, "{ops}");
    }
}

#[test]
fn p14_deactivation_is_a_soft_change_only() {
    let before = user(json!({"active": true, "displayName": "Babs"}));
    let out = patch_user(&before, json!([{"op": "replace", "path": "active", "value": false}]));
    assert_eq!(out.changed, vec!["active"]);
    assert_eq!(out.data["userName"], "bjensen");
    assert_eq!(out.data["displayName"], "Babs");
}

// ---- policies ---------------------------------------------------------------------------

#[test]
fn username_change_is_applied_when_the_tenant_allows_it() {
    let out = patch_with(
        &reg(),
        ResourceKind::User,
        &user(json!({})),
        json!([{"op": "replace", "path": "userName", "value": "babs"}]),
        &renames_allowed(),
    )
    .unwrap();
    assert_eq!(out.data["userName"], "babs");
    assert_eq!(out.changed, vec!["userName"]);
}

#[test]
fn username_case_change_is_applied_when_the_tenant_allows_renames() {
    let out = patch_with(
        &reg(),
        ResourceKind::User,
        &user(json!({"userName": "john.smith@contoso.com"})),
        json!([{"op": "replace", "path": "userName", "value": "John.Smith@contoso.com"}]),
        &renames_allowed(),
    )
    .unwrap();
    assert_eq!(out.data["userName"], "John.Smith@contoso.com");
    assert_eq!(out.changed, vec!["userName"]);
    assert!(!noted(&out.notes, Rule::UserNameCaseKept));
}

#[test]
fn username_change_in_a_pathless_value_is_refused_too() {
    user_error(
        &user(json!({})),
        json!([{"op": "replace", "value": {"userName": "babs", "active": false}}]),
        ScimType::Mutability,
    );
    // The same name in another case, with another change: the change applies.
    let out =
        patch_user(&user(json!({})), json!([{"op": "replace", "value": {"userName": "BJENSEN", "active": false}}]));
    assert_eq!(out.data["userName"], "bjensen");
    assert_eq!(out.changed, vec!["active"]);
}

#[test]
fn username_rule_compares_after_unicode_case_folding() {
    let before = user(json!({"userName": "straße@x.io"}));
    let out = patch_user(&before, json!([{"op": "replace", "path": "userName", "value": "STRASSE@X.IO"}]));
    assert_eq!(out.data["userName"], "straße@x.io");
    assert!(out.data_unchanged());
}

#[test]
fn unknown_keys_in_pathless_values_are_ignored_and_noted() {
    let out =
        patch_user(&user(json!({})), json!([{"op": "add", "value": {"favouriteColour": "blue", "nickName": "n"}}]));
    assert_eq!(out.changed, vec!["nickName"]);
    assert!(noted(&out.notes, Rule::UnknownAttributeIgnored));
    assert!(out.notes.iter().any(|n| n.rule == Rule::UnknownAttributeIgnored && n.subject == "favouriteColour"));
}

// ---- the notes each leniency records ------------------------------------------------------

#[test]
fn password_patches_are_accepted_and_dropped() {
    let out = patch_user(&user(json!({})), json!([{"op": "replace", "path": "password", "value": "hunter2"}]));
    assert!(!out.data.contains_key("password"));
    assert!(out.data_unchanged());
    assert!(noted(&out.notes, Rule::PasswordDropped));
    let out = patch_user(&user(json!({})), json!([{"op": "replace", "value": {"password": "hunter2"}}]));
    assert!(!out.data.contains_key("password"));
}

#[test]
fn numbers_for_strings_and_numeric_strings_for_numbers_are_coerced_and_noted() {
    let out = patch_user(&user(json!({})), json!([{"op": "replace", "path": "title", "value": 5}]));
    assert_eq!(out.data["title"], "5");
    assert!(noted(&out.notes, Rule::ScalarAsString));
    let registry = ivanti();
    let data = data_of(&registry, ResourceKind::User, json!({"userName": "n"}));
    let out = patch_with(
        &registry,
        ResourceKind::User,
        &data,
        json!([{"op": "replace", "path": format!("{IVANTI}:badgeNumber"), "value": "42"}]),
        &lenient(),
    )
    .unwrap();
    assert_eq!(out.data[IVANTI]["badgeNumber"], json!(42));
    assert!(noted(&out.notes, Rule::NumericString));
}

#[test]
fn wrong_types_in_patch_values_are_invalid_value_naming_the_attribute() {
    let registry = ivanti();
    let data = data_of(&registry, ResourceKind::User, json!({"userName": "n"}));
    let detail = assert_scim(
        patch_with(
            &registry,
            ResourceKind::User,
            &data,
            json!([{"op": "replace", "path": "badgeNumber", "value": "abc"}]),
            &lenient(),
        ),
        ScimType::InvalidValue,
    );
    assert!(detail.contains("badgeNumber"), "{detail}");
    let detail = user_error(
        &user(json!({})),
        json!([{"op": "replace", "path": "active", "value": "yes"}]),
        ScimType::InvalidValue,
    );
    assert!(detail.contains("active"), "{detail}");
    user_error(&user(json!({})), json!([{"op": "replace", "value": "not an object"}]), ScimType::InvalidValue);
    user_error(&user(json!({})), json!([{"op": "add", "path": ENTERPRISE, "value": "x"}]), ScimType::InvalidValue);
}

#[test]
fn a_single_value_for_a_multi_valued_attribute_is_wrapped_and_noted() {
    let out = patch_user(
        &user(json!({})),
        json!([{"op": "add", "path": "emails", "value": {"value": "w@x.io", "type": "work"}}]),
    );
    assert_eq!(out.data["emails"], json!([{"value": "w@x.io", "type": "work"}]));
    assert!(noted(&out.notes, Rule::SingleValueWrapped));
}

#[test]
fn value_list_removal_works_on_any_multi_valued_attribute() {
    let out = patch_user(
        &user(json!({"emails": [
            {"value": "a@x.io", "type": "work"},
            {"value": "b@x.io", "type": "home"}
        ]})),
        json!([{"op": "remove", "path": "emails", "value": [{"value": "A@X.IO"}]}]),
    );
    assert_eq!(out.data["emails"], json!([{"value": "b@x.io", "type": "home"}]));
    assert!(noted(&out.notes, Rule::ValueListRemoval));
    // An empty list removes nothing.
    let out = patch_group(&group("G"), json!([{"op": "remove", "path": "members", "value": []}]));
    assert!(out.member_ops.is_empty());
}

// ---- member operations -------------------------------------------------------------------

#[test]
fn member_adds_parse_refs_types_and_null_refs() {
    let out = patch_group(
        &group("G"),
        json!([{"op": "add", "path": "members", "value": [
            {"$ref": null, "value": "u1"},
            {"value": "g2", "type": "group", "display": "ignored"},
            {"value": "u1"}
        ]}]),
    );
    assert_eq!(
        out.member_ops,
        vec![MemberOp::Add(vec![
            MemberRef::new("u1"),
            MemberRef { value: "g2".into(), member_type: Some(roster_scim::MemberType::Group) }
        ])]
    );
    let mut members = member_elements(&["u0"]);
    out.member_ops[0].apply_in_memory(&mut members);
    assert_eq!(
        members,
        vec![json!({"value": "u0", "type": "User"}), json!({"value": "u1"}), json!({"value": "g2", "type": "Group"})]
    );
}

#[test]
fn member_adds_with_bad_elements_are_invalid_value() {
    for value in [
        json!([{"display": "no id"}]),
        json!([{"value": 5}]),
        json!([{"value": "u1", "type": "Robot"}]),
        json!(["u1", 5]),
        json!(true),
    ] {
        group_error(&group("G"), json!([{"op": "add", "path": "members", "value": value}]), ScimType::InvalidValue);
    }
}

#[test]
fn member_removal_by_or_of_ids_removes_each_listed_member() {
    let out =
        patch_group(&group("G"), json!([{"op": "remove", "path": "members[value eq \"u1\" or value eq \"u3\"]"}]));
    assert_eq!(out.member_ops, vec![MemberOp::Remove(vec!["u1".into(), "u3".into()])]);
    assert_eq!(members_after(&out, &["u1", "u2", "u3"]), vec!["u2"]);
}

#[test]
fn member_removal_by_other_filters_removes_matching_elements() {
    let out = patch_group(&group("G"), json!([{"op": "remove", "path": "members[type eq \"Group\"]"}]));
    assert!(matches!(out.member_ops.as_slice(), [MemberOp::RemoveWhere(_)]));
    let mut members = vec![json!({"value": "u1", "type": "User"}), json!({"value": "g1", "type": "Group"})];
    out.member_ops[0].apply_in_memory(&mut members);
    assert_eq!(member_ids(&members), vec!["u1"]);
}

#[test]
fn group_patch_never_puts_members_in_data() {
    let before = group("G");
    let out = patch_group(
        &before,
        json!([
            {"op": "add", "path": "members", "value": [{"value": "u1"}]},
            {"op": "replace", "value": {"members": [{"value": "u2"}], "displayName": "H"}}
        ]),
    );
    assert!(!out.data.contains_key("members"));
    assert_eq!(out.changed, vec!["displayName"]);
    assert_eq!(members_after(&out, &["u0"]), vec!["u2"]);
}
