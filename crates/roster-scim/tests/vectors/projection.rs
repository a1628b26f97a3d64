//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9; catalog A15) and the
//! `returned` characteristic.

use pretty_assertions::assert_eq;
use roster_scim::projection::split_attribute_list;
use roster_scim::{Projection, Registry, ResourceKind, ScimType};
use serde_json::{Map, Value, json};

use crate::{ENTERPRISE, ID, IVANTI, USER, assert_scim, ivanti, reg, rendered_group, rendered_user};

fn babs(registry: &Registry) -> Map<String, Value> {
    rendered_user(
        registry,
        json!({
            "schemas": [USER, ENTERPRISE],
            "userName": "bjensen",
            "externalId": "e1",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs",
            "emails": [
                {"value": "b@example.com", "type": "work", "primary": true},
                {"type": "home", "display": "no value here"}
            ],
            ENTERPRISE: {"employeeNumber": "7", "department": "Tours"}
        }),
    )
}

fn project(
    registry: &Registry,
    kind: ResourceKind,
    resource: &Map<String, Value>,
    attributes: &str,
    excluded: &str,
) -> Value {
    let projection =
        Projection::parse(registry, kind, &split_attribute_list(attributes), &split_attribute_list(excluded)).unwrap();
    Value::Object(projection.apply(registry, kind, resource))
}

fn user_attrs(attributes: &str) -> Value {
    let registry = reg();
    project(&registry, ResourceKind::User, &babs(&registry), attributes, "")
}

fn user_excluding(excluded: &str) -> Value {
    let registry = reg();
    project(&registry, ResourceKind::User, &babs(&registry), "", excluded)
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn attributes_returns_only_the_named_ones_plus_id_and_schemas() {
    assert_eq!(
        user_attrs("userName,name.givenName"),
        json!({
            "schemas": [USER, ENTERPRISE],
            "id": ID,
            "userName": "bjensen",
            "name": {"givenName": "Barbara"}
        })
    );
}

#[test]
fn attribute_names_in_projections_are_case_insensitive() {
    assert_eq!(user_attrs("USERNAME, Name.GivenName"), user_attrs("userName,name.givenName"));
}

#[test]
fn a_complex_attribute_name_returns_the_whole_attribute() {
    assert_eq!(user_attrs("name")["name"], json!({"givenName": "Barbara", "familyName": "Jensen"}));
}

#[test]
fn a_sub_attribute_of_a_multi_valued_attribute_narrows_each_element() {
    // The home email has no value: it has nothing left to show and disappears.
    assert_eq!(user_attrs("emails.value")["emails"], json!([{"value": "b@example.com"}]));
    assert_eq!(
        user_attrs("emails.value,emails.type")["emails"],
        json!([{"value": "b@example.com", "type": "work"}, {"type": "home"}])
    );
}

#[test]
fn excluded_attributes_removes_them_and_keeps_the_rest() {
    let v = user_excluding("emails,name.givenName");
    assert!(v.get("emails").is_none());
    assert_eq!(v["name"], json!({"familyName": "Jensen"}));
    assert_eq!(v["userName"], "bjensen");
    assert!(v.get("meta").is_some());
}

#[test]
fn returned_always_attributes_survive_exclusion() {
    let v = user_excluding("id,schemas,userName");
    assert_eq!(v["id"], ID);
    assert_eq!(v["schemas"], json!([USER, ENTERPRISE]));
    assert!(v.get("userName").is_none());
    // And they are present when not asked for.
    let v = user_attrs("displayName");
    assert_eq!(keys(&v), vec!["schemas", "id", "displayName"]);
}

#[test]
fn returned_never_attributes_are_never_shown() {
    let registry = reg();
    let mut resource = babs(&registry);
    resource.insert("password".into(), json!("leaked"));
    for (attributes, excluded) in [("", ""), ("password", ""), ("password,userName", ""), ("", "userName")] {
        let v = project(&registry, ResourceKind::User, &resource, attributes, excluded);
        assert!(v.get("password").is_none(), "{attributes:?} {excluded:?}");
    }
}

#[test]
fn a_bare_extension_urn_selects_the_whole_extension() {
    let v = user_attrs(ENTERPRISE);
    assert_eq!(v[ENTERPRISE], json!({"employeeNumber": "7", "department": "Tours"}));
    assert_eq!(keys(&v), vec!["schemas", "id", ENTERPRISE]);
    let v = user_excluding(ENTERPRISE);
    assert!(v.get(ENTERPRISE).is_none());
    assert_eq!(v["userName"], "bjensen");
}

#[test]
fn urn_qualified_extension_attributes_select_within_the_extension() {
    let v = user_attrs(&format!("userName,{ENTERPRISE}:employeeNumber"));
    assert_eq!(v[ENTERPRISE], json!({"employeeNumber": "7"}));
    let v = user_excluding(&format!("{ENTERPRISE}:employeeNumber"));
    assert_eq!(v[ENTERPRISE], json!({"department": "Tours"}));
    // Unqualified extension names resolve like filters do.
    let v = user_attrs("department");
    assert_eq!(v[ENTERPRISE], json!({"department": "Tours"}));
}

#[test]
fn custom_extension_attributes_are_projected_like_standard_ones() {
    let registry = ivanti();
    let user = rendered_user(&registry, json!({"userName": "u", IVANTI: {"badgeNumber": 7, "onCall": true}}));
    let v = project(&registry, ResourceKind::User, &user, &format!("{IVANTI}:badgeNumber"), "");
    assert_eq!(v[IVANTI], json!({"badgeNumber": 7}));
    let v = project(&registry, ResourceKind::User, &user, "", IVANTI);
    assert!(v.get(IVANTI).is_none());
}

#[test]
fn excluding_members_leaves_the_key_out_entirely() {
    let registry = reg();
    let group = rendered_group(&registry, "Tour Guides", &["u1", "u2"]);
    assert!(group.contains_key("members"));
    let v = project(&registry, ResourceKind::Group, &group, "", "members");
    assert_eq!(keys(&v), vec!["schemas", "id", "displayName", "meta"]);
    let projection = Projection::parse(&registry, ResourceKind::Group, &[], &["members".to_string()]).unwrap();
    assert!(!projection.includes(&registry, ResourceKind::Group, "members"));
    assert!(projection.includes(&registry, ResourceKind::Group, "displayName"));
    let only_name = Projection::parse(&registry, ResourceKind::Group, &["displayName".to_string()], &[]).unwrap();
    assert!(!only_name.includes(&registry, ResourceKind::Group, "members"));
    assert!(Projection::all().includes(&registry, ResourceKind::Group, "members"));
}

#[test]
fn attributes_and_excluded_attributes_together_are_invalid_value() {
    assert_scim(
        Projection::parse(&reg(), ResourceKind::User, &["userName".to_string()], &["emails".to_string()]),
        ScimType::InvalidValue,
    );
}

#[test]
fn unknown_attribute_names_select_nothing() {
    let v = user_attrs("favouriteColour");
    assert_eq!(keys(&v), vec!["schemas", "id"]);
    let all = user_excluding("");
    assert_eq!(user_excluding("favouriteColour,emails[type eq \"work\"]"), all);
}

#[test]
fn the_full_projection_keeps_every_default_attribute() {
    let registry = reg();
    let user = babs(&registry);
    assert_eq!(Value::Object(Projection::all().apply(&registry, ResourceKind::User, &user)), Value::Object(user));
}

#[test]
fn meta_sub_attributes_can_be_selected() {
    let v = user_attrs("meta.lastModified");
    assert_eq!(v["meta"], json!({"lastModified": "2011-05-13T04:42:34Z"}));
}

#[test]
fn attribute_lists_split_on_commas_and_drop_empty_items() {
    assert_eq!(split_attribute_list(" userName , name.givenName,,"), vec!["userName", "name.givenName"]);
    assert!(split_attribute_list("").is_empty());
}
