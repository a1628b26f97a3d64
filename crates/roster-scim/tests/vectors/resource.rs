//! Validation and coercion of POST/PUT bodies (`validate_resource`, RFC 7644 §3.3, §3.5.1)
//! and rendering of stored data (`render`).

use pretty_assertions::assert_eq;
use roster_scim::notes::Rule;
use roster_scim::resource::{Derived, check_replace, etag_matches};
use roster_scim::{
    MemberRef, MemberType, Policy, Registry, ResourceKind, ScimError, ScimType, Validated, render, validate_resource,
};
use serde_json::{Value, json};

use crate::{
    BASE, ENTERPRISE, GROUP, ID, IVANTI, USER, assert_scim, data_of, ivanti, lenient, meta, noted, reg,
    renames_allowed, strict,
};

fn validate(body: Value) -> Result<Validated, ScimError> {
    validate_resource(&reg(), ResourceKind::User, &body, &lenient())
}

fn valid(body: Value) -> Validated {
    validate(body).unwrap_or_else(|e| panic!("should validate: {e}"))
}

fn validate_group(body: Value, policy: &Policy) -> Result<Validated, ScimError> {
    validate_resource(&reg(), ResourceKind::Group, &body, policy)
}

fn validate_ivanti(body: Value) -> Result<Validated, ScimError> {
    validate_resource(&ivanti(), ResourceKind::User, &body, &lenient())
}

#[test]
fn missing_username_is_invalid_value() {
    let detail = assert_scim(validate(json!({"schemas": [USER]})), ScimType::InvalidValue);
    assert!(detail.contains("userName"), "{detail}");
    for empty in [json!(""), json!(null), json!([])] {
        assert_scim(validate(json!({"schemas": [USER], "userName": empty})), ScimType::InvalidValue);
    }
}

#[test]
fn missing_group_display_name_is_invalid_value() {
    let detail = assert_scim(validate_group(json!({"schemas": [GROUP]}), &lenient()), ScimType::InvalidValue);
    assert!(detail.contains("displayName"), "{detail}");
    assert_scim(validate_group(json!({"displayName": ""}), &lenient()), ScimType::InvalidValue);
}

#[test]
fn body_must_be_a_json_object() {
    for body in [json!([]), json!("x"), json!(null)] {
        assert_scim(validate(body), ScimType::InvalidSyntax);
    }
}

#[test]
fn rfc_create_example_validates_to_canonical_data() {
    let v = valid(json!({
        "schemas": [USER],
        "userName": "bjensen",
        "externalId": "bjensen",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"}
    }));
    assert_eq!(
        Value::Object(v.data),
        json!({
            "externalId": "bjensen",
            "userName": "bjensen",
            "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"}
        })
    );
    assert!(v.notes.is_empty(), "{:?}", v.notes);
    assert_eq!(v.members, None);
}

#[test]
fn custom_integer_given_text_is_invalid_value_naming_the_attribute() {
    let detail =
        assert_scim(validate_ivanti(json!({"userName": "u", IVANTI: {"badgeNumber": "abc"}})), ScimType::InvalidValue);
    assert!(detail.contains("badgeNumber"), "{detail}");
    assert!(detail.contains("integer"), "{detail}");
    // Flat URN-qualified keys name the attribute too.
    let detail = assert_scim(
        validate_ivanti(json!({"userName": "u", format!("{IVANTI}:badgeNumber"): 1.5})),
        ScimType::InvalidValue,
    );
    assert!(detail.contains("badgeNumber"), "{detail}");
}

#[test]
fn custom_attributes_are_coerced_to_their_types() {
    let v = validate_ivanti(json!({
        "userName": "u",
        IVANTI: {
            "badgeNumber": "42",
            "hourlyRate": "12.5",
            "onCall": "TRUE",
            "hiredAt": "2020-01-01T10:00:00+01:00",
            "skills": "rust",
            "homepage": "https://example.com/~u"
        }
    }))
    .unwrap();
    assert_eq!(
        v.data[IVANTI],
        json!({
            "badgeNumber": 42,
            "hourlyRate": 12.5,
            "onCall": true,
            "hiredAt": "2020-01-01T09:00:00Z",
            "skills": ["rust"],
            "homepage": "https://example.com/~u"
        })
    );
    assert!(noted(&v.notes, Rule::NumericString));
    assert!(noted(&v.notes, Rule::StringBoolean));
    assert!(noted(&v.notes, Rule::SingleValueWrapped));
    for bad in [
        json!({"hiredAt": "yesterday"}),
        json!({"hiredAt": 5}),
        json!({"onCall": "yes"}),
        json!({"hourlyRate": "cheap"}),
        json!({"badgeNumber": 1e20}),
        json!({"skills": [{"a": 1}]}),
    ] {
        let result = validate_ivanti(json!({"userName": "u", IVANTI: bad.clone()}));
        assert_scim(result, ScimType::InvalidValue);
    }
}

#[test]
fn wrong_types_for_core_attributes_are_invalid_value() {
    for (body, attr) in [
        (json!({"userName": "u", "active": "yes"}), "active"),
        (json!({"userName": "u", "active": 1}), "active"),
        (json!({"userName": "u", "name": "Barbara"}), "name"),
        (json!({"userName": "u", "emails": [["nested"]]}), "emails"),
        (json!({"userName": "u", "displayName": {"a": "b"}}), "displayName"),
        (json!({"userName": ["a", "b"]}), "userName"),
        (json!({"userName": "u", ENTERPRISE: "x"}), ENTERPRISE),
    ] {
        let detail = assert_scim(validate(body.clone()), ScimType::InvalidValue);
        assert!(detail.contains(attr), "{body}: {detail}");
    }
}

#[test]
fn string_booleans_are_stored_as_booleans() {
    let v = valid(json!({
        "userName": "u",
        "active": "False",
        "roles": [{"value": "Admin", "primary": "True"}],
        "emails": [{"value": "a@x.io", "primary": "true"}]
    }));
    assert_eq!(v.data["active"], json!(false));
    assert_eq!(v.data["roles"], json!([{"value": "Admin", "primary": true}]));
    assert_eq!(v.data["emails"], json!([{"value": "a@x.io", "primary": true}]));
    assert!(noted(&v.notes, Rule::StringBoolean));
}

#[test]
fn read_only_input_is_ignored() {
    let v = valid(json!({
        "schemas": [USER, ENTERPRISE],
        "id": "client-chosen",
        "meta": {"resourceType": "User", "created": "2000-01-01T00:00:00Z"},
        "userName": "u",
        "groups": [{"value": "g1"}],
        ENTERPRISE: {"manager": {"value": "m", "displayName": "Boss", "$ref": "https://x/Users/m"}}
    }));
    assert_eq!(Value::Object(v.data), json!({"userName": "u", ENTERPRISE: {"manager": {"value": "m"}}}));
    // id, meta and groups are ignored silently: IdPs send them on every PUT.
    assert!(v.notes.is_empty(), "{:?}", v.notes);
    // Other read-only input is ignored and noted.
    let v = valid(json!({
        "userName": "u",
        format!("{ENTERPRISE}:manager.displayName"): "Boss"
    }));
    assert!(!v.data.contains_key(ENTERPRISE));
    assert!(
        v.notes.iter().any(|n| n.rule == Rule::ReadOnlyIgnored && n.subject.ends_with("manager.displayName")),
        "{:?}",
        v.notes
    );
}

#[test]
fn null_empty_string_empty_list_and_empty_object_are_unassigned() {
    let v = valid(json!({
        "userName": "u",
        "addresses": null,
        "nickName": "",
        "roles": [],
        "name": {"middleName": "", "givenName": null},
        "emails": [{}, {"value": null}, {"value": "a@x.io", "display": ""}],
        "phoneNumbers": [null],
        ENTERPRISE: {"department": null, "manager": null},
        "title": null
    }));
    assert_eq!(Value::Object(v.data), json!({"userName": "u", "emails": [{"value": "a@x.io"}]}));
    let v = valid(json!({"userName": "u", ENTERPRISE: {}}));
    assert!(!v.data.contains_key(ENTERPRISE));
    let v = valid(json!({"userName": "u", ENTERPRISE: null}));
    assert!(!v.data.contains_key(ENTERPRISE));
}

#[test]
fn attribute_names_are_case_insensitive_and_stored_canonically() {
    let v = valid(json!({
        "Schemas": [USER],
        "USERNAME": "u",
        "Name": {"GIVENNAME": "g", "familyname": "f"},
        "EMAILS": [{"Value": "a@x.io", "TYPE": "work", "Primary": true}],
        ENTERPRISE.to_uppercase(): {"EmployeeNumber": "7"},
        format!("{ENTERPRISE}:COSTCENTER"): "CC",
        "name.MiddleName": "m"
    }));
    assert_eq!(
        Value::Object(v.data.clone()),
        json!({
            "userName": "u",
            "name": {"familyName": "f", "givenName": "g", "middleName": "m"},
            "emails": [{"value": "a@x.io", "type": "work", "primary": true}],
            ENTERPRISE: {"employeeNumber": "7", "costCenter": "CC"}
        })
    );
    // Output order is canonical: core attributes in schema order, then extensions.
    let keys: Vec<&str> = v.data.keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["userName", "name", "emails", ENTERPRISE]);
    let name_keys: Vec<&str> = v.data["name"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(name_keys, vec!["familyName", "givenName", "middleName"]);
}

#[test]
fn the_same_attribute_twice_in_different_case_is_invalid_syntax() {
    assert_scim(validate(json!({"userName": "a", "USERNAME": "b"})), ScimType::InvalidSyntax);
}

#[test]
fn unknown_schemas_are_ignored_and_noted_by_default() {
    let v = validate_group(
        json!({
            "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "displayName": "Sales"
        }),
        &lenient(),
    )
    .unwrap();
    assert!(noted(&v.notes, Rule::UnknownSchemaIgnored));
    assert_eq!(Value::Object(v.data), json!({"displayName": "Sales"}));
}

#[test]
fn unknown_schemas_are_invalid_syntax_in_strict_mode() {
    let detail = assert_scim(
        validate_group(
            json!({
                "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "displayName": "Sales"
            }),
            &strict(),
        ),
        ScimType::InvalidSyntax,
    );
    assert!(detail.contains("ADSCIM"), "{detail}");
    // The User schema in a Group body is not a Group schema either.
    assert_scim(validate_group(json!({"schemas": [USER], "displayName": "Sales"}), &strict()), ScimType::InvalidSyntax);
    assert_scim(
        validate_group(json!({"schemas": {"a": 1}, "displayName": "Sales"}), &lenient()),
        ScimType::InvalidSyntax,
    );
}

#[test]
fn unknown_attributes_are_ignored_by_default_and_invalid_syntax_when_strict() {
    let body = json!({
        "userName": "u",
        "favouriteColour": "blue",
        "name": {"givenName": "g", "nickname": "n"},
        "emails": [{"value": "a@x.io", "label": "x"}],
        ENTERPRISE: {"shoeSize": 44},
        "urn:example:vendor:2.0:User:thing": 1
    });
    let v = valid(body.clone());
    assert_eq!(
        Value::Object(v.data),
        json!({"userName": "u", "name": {"givenName": "g"}, "emails": [{"value": "a@x.io"}]})
    );
    let ignored: Vec<&str> =
        v.notes.iter().filter(|n| n.rule == Rule::UnknownAttributeIgnored).map(|n| n.subject.as_str()).collect();
    assert_eq!(ignored.len(), 5, "{ignored:?}");
    assert!(ignored.contains(&"favouriteColour"), "{ignored:?}");
    let detail = assert_scim(validate_resource(&reg(), ResourceKind::User, &body, &strict()), ScimType::InvalidSyntax);
    assert!(detail.contains("favouriteColour"), "{detail}");
}

#[test]
fn at_most_one_primary_is_kept() {
    let v = valid(json!({
        "userName": "u",
        "emails": [
            {"value": "a@x.io", "primary": true},
            {"value": "b@x.io", "primary": true},
            {"value": "c@x.io", "primary": false}
        ]
    }));
    assert_eq!(
        v.data["emails"],
        json!([
            {"value": "a@x.io", "primary": true},
            {"value": "b@x.io", "primary": false},
            {"value": "c@x.io", "primary": false}
        ])
    );
    assert!(noted(&v.notes, Rule::PrimaryDeduplicated));
}

#[test]
fn duplicate_values_of_a_multi_valued_attribute_are_stored_once() {
    let v = valid(json!({
        "userName": "u",
        "emails": [{"value": "a@x.io", "type": "work"}, {"type": "work", "value": "a@x.io"}]
    }));
    assert_eq!(v.data["emails"], json!([{"value": "a@x.io", "type": "work"}]));
}

#[test]
fn password_is_accepted_and_never_kept() {
    let v = valid(json!({"userName": "u", "password": "t1meMa$heen"}));
    assert!(!v.data.contains_key("password"));
    assert!(noted(&v.notes, Rule::PasswordDropped));
    let v = valid(json!({"userName": "u", "PASSWORD": ""}));
    assert!(!noted(&v.notes, Rule::PasswordDropped));
}

#[test]
fn group_members_are_parsed_out_of_the_data() {
    let v = validate_group(
        json!({
            "schemas": [GROUP],
            "displayName": "Tour Guides",
            "members": [
                {"value": "u1", "$ref": "https://example.com/v2/Users/u1", "display": "Babs Jensen"},
                {"value": "g1", "type": "Group"},
                {"value": "u1", "type": "User"},
                {"$ref": null, "value": "u2"},
                {"value": null, "$ref": null}
            ]
        }),
        &lenient(),
    )
    .unwrap();
    assert_eq!(Value::Object(v.data), json!({"displayName": "Tour Guides"}));
    assert_eq!(
        v.members,
        Some(vec![
            MemberRef::new("u1"),
            MemberRef { value: "g1".into(), member_type: Some(MemberType::Group) },
            MemberRef::new("u2"),
        ])
    );
    let v = validate_group(json!({"displayName": "G", "members": []}), &lenient()).unwrap();
    assert_eq!(v.members, Some(vec![]));
    let v = validate_group(json!({"displayName": "G"}), &lenient()).unwrap();
    assert_eq!(v.members, None);
    for bad in [json!([{"value": "u1", "type": "Device"}]), json!([{"display": "x"}]), json!([{"value": 7}]), json!(42)]
    {
        assert_scim(validate_group(json!({"displayName": "G", "members": bad}), &lenient()), ScimType::InvalidValue);
    }
}

#[test]
fn manager_as_string_object_or_array_is_stored_as_an_object() {
    for (manager, shape_noted) in [
        (json!("m1"), true),
        (json!({"value": "m1"}), false),
        (json!([{"value": "m1", "$ref": "https://x/Users/m1"}]), true),
        (json!({"Value": "m1", "displayName": "ignored"}), false),
    ] {
        let v = valid(json!({"userName": "u", ENTERPRISE: {"manager": manager.clone()}}));
        assert_eq!(v.data[ENTERPRISE], json!({"manager": {"value": "m1"}}), "{manager}");
        assert_eq!(noted(&v.notes, Rule::ManagerShape), shape_noted, "{manager}");
    }
    // The bare attribute name finds the enterprise extension too.
    let v = valid(json!({"userName": "u", "manager": "m1"}));
    assert_eq!(v.data[ENTERPRISE], json!({"manager": {"value": "m1"}}));
    for empty in [json!(""), json!({"value": ""}), json!(null), json!([])] {
        let v = valid(json!({"userName": "u", ENTERPRISE: {"manager": empty.clone()}}));
        assert!(!v.data.contains_key(ENTERPRISE), "{empty}");
    }
}

#[test]
fn values_are_stored_exactly_as_sent() {
    let v = valid(json!({
        "userName": "BJensen@Example.COM",
        "name": {"formatted": "  Ms. Barbara J Jensen III  "},
        "phoneNumbers": [{"value": "55555555555", "type": "work"}],
        "emails": [{"value": "BJensen@Example.COM", "type": "Work"}],
        "addresses": [{"country": "usa", "postalCode": "01234"}]
    }));
    assert_eq!(v.data["userName"], "BJensen@Example.COM");
    assert_eq!(v.data["name"]["formatted"], "  Ms. Barbara J Jensen III  ");
    assert_eq!(v.data["phoneNumbers"][0]["value"], "55555555555");
    assert_eq!(v.data["emails"][0], json!({"value": "BJensen@Example.COM", "type": "Work"}));
    assert_eq!(v.data["addresses"][0]["postalCode"], "01234");
}

#[test]
fn free_text_attributes_are_not_format_checked() {
    let v = valid(json!({
        "userName": "u",
        "timezone": "Foo/Bar",
        "locale": "not-a-locale",
        "preferredLanguage": "klingon;q=2",
        "profileUrl": "not a url",
        "addresses": [{"country": "Narnia"}],
        "photos": [{"value": "::"}]
    }));
    assert_eq!(v.data["timezone"], "Foo/Bar");
    assert_eq!(v.data["locale"], "not-a-locale");
    assert_eq!(v.data["preferredLanguage"], "klingon;q=2");
    assert_eq!(v.data["profileUrl"], "not a url");
    assert_eq!(v.data["addresses"][0]["country"], "Narnia");
}

#[test]
fn schemas_may_be_missing_or_a_single_string() {
    valid(json!({"userName": "u"}));
    valid(json!({"userName": "u", "schemas": USER}));
    valid(json!({"userName": "u", "schemas": null}));
}

#[test]
fn replace_keeps_the_stored_username_spelling_and_refuses_a_new_name() {
    let existing = data_of(&reg(), ResourceKind::User, json!({"userName": "bjensen"}));
    let mut same = valid(json!({"userName": "BJENSEN", "title": "t"}));
    check_replace(&existing, &mut same, ResourceKind::User, &lenient()).unwrap();
    assert_eq!(same.data["userName"], "bjensen");
    assert!(noted(&same.notes, Rule::UserNameCaseKept));
    let mut other = valid(json!({"userName": "babs"}));
    let detail =
        assert_scim(check_replace(&existing, &mut other, ResourceKind::User, &lenient()), ScimType::Mutability);
    assert!(detail.contains("userName cannot be changed"), "{detail}");
    let mut other = valid(json!({"userName": "babs"}));
    check_replace(&existing, &mut other, ResourceKind::User, &renames_allowed()).unwrap();
    assert_eq!(other.data["userName"], "babs");
    // When renames are allowed, a case-only rename applies too.
    let mut recased = valid(json!({"userName": "BJensen"}));
    check_replace(&existing, &mut recased, ResourceKind::User, &renames_allowed()).unwrap();
    assert_eq!(recased.data["userName"], "BJensen");
}

#[test]
fn render_recomputes_schemas_and_fills_meta() {
    let registry = ivanti();
    let data = data_of(
        &registry,
        ResourceKind::User,
        json!({"schemas": [USER, "urn:scim:schemas:core:2.0"], "userName": "u", "externalId": "e", IVANTI: {"badgeNumber": 1}}),
    );
    let rendered = render(&registry, ResourceKind::User, ID, &data, &meta(ResourceKind::User), Derived::default());
    assert_eq!(
        Value::Object(rendered.clone()),
        json!({
            "schemas": [USER, IVANTI],
            "id": ID,
            "externalId": "e",
            "userName": "u",
            IVANTI: {"badgeNumber": 1},
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z",
                "location": format!("{BASE}/Users/{ID}"),
                "version": "W/\"3\""
            }
        })
    );
    let keys: Vec<&str> = rendered.keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["schemas", "id", "externalId", "userName", IVANTI, "meta"]);
}

#[test]
fn render_puts_derived_members_in_and_leaves_an_empty_list_out() {
    let registry = reg();
    let data = data_of(&registry, ResourceKind::Group, json!({"displayName": "G"}));
    let with = render(
        &registry,
        ResourceKind::Group,
        ID,
        &data,
        &meta(ResourceKind::Group),
        Derived { relations: Some(vec![json!({"value": "u1", "type": "User"})]) },
    );
    assert_eq!(with["members"], json!([{"value": "u1", "type": "User"}]));
    assert_eq!(with["schemas"], json!([GROUP]));
    for relations in [None, Some(vec![])] {
        let without =
            render(&registry, ResourceKind::Group, ID, &data, &meta(ResourceKind::Group), Derived { relations });
        assert!(!without.contains_key("members"));
    }
}

#[test]
fn etags_match_with_or_without_the_weak_prefix() {
    assert!(etag_matches("W/\"3\"", 3));
    assert!(etag_matches("\"3\"", 3));
    assert!(etag_matches("*", 3));
    assert!(etag_matches("W/\"1\", W/\"3\"", 3));
    assert!(!etag_matches("W/\"4\"", 3));
    assert!(!etag_matches("W/\"stale\"", 3));
    assert_eq!(meta(ResourceKind::User).etag(), "W/\"3\"");
}

#[test]
fn a_standard_registry_is_vendor_roster() {
    let registry = Registry::standard();
    assert_eq!(registry.custom_extension().id, "urn:ietf:params:scim:schemas:extension:roster:2.0:User");
}
