//! The schema registry, `/Schemas` and `/ResourceTypes` documents (RFC 7643 §6–7, catalog
//! A23 D-2…D-6), path resolution, and custom extension definitions.

use pretty_assertions::assert_eq;
use roster_scim::filter::AttrPath;
use roster_scim::schema::{
    CustomAttribute, CustomAttributeType, Mutability, Returned, Scope, custom_extension_urn, validate_vendor,
};
use roster_scim::{Registry, ResourceKind, ScimType};
use serde_json::{Value, json};

use crate::{BASE, ENTERPRISE, GROUP, IVANTI, USER, assert_scim, ivanti, null_paths, reg};

const SPC: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

fn schema_doc(registry: &Registry, urn: &str) -> Value {
    registry.schema_document(urn, BASE).unwrap_or_else(|| panic!("{urn} should be served"))
}

fn attribute<'v>(schema: &'v Value, name: &str) -> &'v Value {
    schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("{} has no attribute {name}", schema["id"]))
}

fn sub<'v>(attr: &'v Value, name: &str) -> &'v Value {
    attr["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("{} has no sub-attribute {name}", attr["name"]))
}

#[test]
fn schemas_lists_every_resource_and_discovery_schema() {
    let registry = ivanti();
    let ids: Vec<String> =
        registry.schema_documents(BASE).iter().map(|d| d["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, vec![USER, GROUP, ENTERPRISE, IVANTI, SPC, RESOURCE_TYPE, SCHEMA]);
}

#[test]
fn schema_documents_carry_schema_schema_and_meta() {
    for doc in reg().schema_documents(BASE) {
        assert_eq!(doc["schemas"], json!([SCHEMA]));
        let id = doc["id"].as_str().unwrap();
        assert_eq!(doc["meta"]["resourceType"], "Schema");
        assert_eq!(doc["meta"]["location"], format!("{BASE}/Schemas/{id}"));
        assert!(doc["name"].is_string() && doc["description"].is_string(), "{id}");
    }
}

#[test]
fn schema_documents_have_no_nulls() {
    let mut nulls = Vec::new();
    for doc in ivanti().schema_documents(BASE) {
        null_paths(&doc, doc["id"].as_str().unwrap(), &mut nulls);
    }
    for doc in ivanti().resource_type_documents(BASE) {
        null_paths(&doc, doc["id"].as_str().unwrap(), &mut nulls);
    }
    assert!(nulls.is_empty(), "{nulls:?}");
}

#[test]
fn every_attribute_definition_carries_the_characteristics_in_camel_case() {
    fn check(attr: &Value, at: &str) {
        let name = attr["name"].as_str().unwrap();
        let at = format!("{at}.{name}");
        for key in ["type", "multiValued", "description", "required", "mutability", "returned"] {
            assert!(attr.get(key).is_some(), "{at} lacks {key}");
        }
        assert!(
            ["readOnly", "readWrite", "immutable", "writeOnly"].contains(&attr["mutability"].as_str().unwrap()),
            "{at}"
        );
        assert!(["always", "never", "default", "request"].contains(&attr["returned"].as_str().unwrap()), "{at}");
        let ty = attr["type"].as_str().unwrap();
        if ty == "string" || ty == "reference" || ty == "binary" {
            assert!(attr["caseExact"].is_boolean(), "{at} lacks caseExact");
            assert!(attr["uniqueness"].is_string(), "{at} lacks uniqueness");
        }
        if ty == "reference" {
            assert!(!attr["referenceTypes"].as_array().unwrap().is_empty(), "{at} lacks referenceTypes");
        }
        if ty == "complex" {
            for s in attr["subAttributes"].as_array().unwrap() {
                check(s, &at);
            }
        } else {
            assert!(attr.get("subAttributes").is_none(), "{at}");
        }
        if let Some(values) = attr.get("canonicalValues") {
            assert!(!values.as_array().unwrap().is_empty(), "{at}: empty canonicalValues");
        }
    }
    for doc in ivanti().schema_documents(BASE) {
        for attr in doc["attributes"].as_array().unwrap() {
            check(attr, doc["id"].as_str().unwrap());
        }
    }
}

#[test]
fn type_sub_attributes_advertise_their_canonical_values() {
    let user = schema_doc(&reg(), USER);
    let expected = [
        ("emails", json!(["work", "home", "other"])),
        ("phoneNumbers", json!(["work", "home", "mobile", "fax", "pager", "other"])),
        ("ims", json!(["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"])),
        ("photos", json!(["photo", "thumbnail"])),
        ("addresses", json!(["work", "home", "other"])),
        ("groups", json!(["direct", "indirect"])),
    ];
    for (attr, values) in expected {
        assert_eq!(sub(attribute(&user, attr), "type")["canonicalValues"], values, "{attr}.type");
    }
    let group = schema_doc(&reg(), GROUP);
    assert_eq!(sub(attribute(&group, "members"), "type")["canonicalValues"], json!(["User", "Group"]));
    // Types without canonical values leave the key out rather than send [].
    assert!(sub(attribute(&user, "roles"), "type").get("canonicalValues").is_none());
}

#[test]
fn user_schema_characteristics_match_the_rfc_and_roster_rules() {
    let user = schema_doc(&reg(), USER);
    let user_name = attribute(&user, "userName");
    assert_eq!(user_name["required"], true);
    assert_eq!(user_name["caseExact"], false);
    assert_eq!(user_name["uniqueness"], "server");
    let password = attribute(&user, "password");
    assert_eq!(password["mutability"], "writeOnly");
    assert_eq!(password["returned"], "never");
    let groups = attribute(&user, "groups");
    assert_eq!(groups["mutability"], "readOnly");
    assert_eq!(groups["multiValued"], true);
    assert_eq!(sub(groups, "$ref")["referenceTypes"], json!(["User", "Group"]));
    assert_eq!(attribute(&user, "active")["type"], "boolean");
    assert!(attribute(&user, "active").get("caseExact").is_none());
    // addresses.primary: in the RFC text but missing from its §8.7.1 JSON (C-12).
    assert_eq!(sub(attribute(&user, "addresses"), "primary")["type"], "boolean");
    assert_eq!(attribute(&user, "profileUrl")["referenceTypes"], json!(["external"]));
    // Binary is always case-exact (RFC 7643 §2.3.6).
    let certificate = sub(attribute(&user, "x509Certificates"), "value");
    assert_eq!(certificate["type"], "binary");
    assert_eq!(certificate["caseExact"], true);
}

#[test]
fn group_and_enterprise_schema_characteristics_match_the_catalog() {
    let group = schema_doc(&reg(), GROUP);
    let display_name = attribute(&group, "displayName");
    assert_eq!(display_name["required"], true);
    assert_eq!(display_name["uniqueness"], "server");
    let members = attribute(&group, "members");
    assert_eq!(sub(members, "value")["mutability"], "immutable");
    assert_eq!(sub(members, "display")["mutability"], "readOnly");
    let enterprise = schema_doc(&reg(), ENTERPRISE);
    let manager = attribute(&enterprise, "manager");
    assert_eq!(manager["multiValued"], false);
    assert_eq!(sub(manager, "displayName")["mutability"], "readOnly");
    assert_eq!(sub(manager, "$ref")["referenceTypes"], json!(["User"]));
}

#[test]
fn the_custom_extension_follows_the_tenants_vendor_and_attributes() {
    let registry = ivanti();
    let custom = schema_doc(&registry, IVANTI);
    let names: Vec<&str> =
        custom["attributes"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["badgeNumber", "hourlyRate", "onCall", "hiredAt", "skills", "homepage"]);
    assert_eq!(attribute(&custom, "badgeNumber")["type"], "integer");
    assert_eq!(attribute(&custom, "hourlyRate")["type"], "decimal");
    assert_eq!(attribute(&custom, "onCall")["type"], "boolean");
    assert_eq!(attribute(&custom, "hiredAt")["type"], "dateTime");
    assert_eq!(attribute(&custom, "skills")["multiValued"], true);
    assert_eq!(attribute(&custom, "homepage")["referenceTypes"], json!(["external"]));
    assert_eq!(attribute(&custom, "badgeNumber")["description"], "custom badgeNumber");
    // The default tenant serves its own (empty) extension, not the ivanti one.
    assert!(reg().schema_document(IVANTI, BASE).is_none());
    let roster = schema_doc(&reg(), "urn:ietf:params:scim:schemas:extension:roster:2.0:User");
    assert_eq!(roster["attributes"], json!([]));
}

#[test]
fn schema_documents_are_found_by_case_insensitive_urn() {
    let doc = reg().schema_document(&USER.to_uppercase(), BASE).unwrap();
    assert_eq!(doc["id"], USER);
    assert!(reg().schema_document("urn:example:nope", BASE).is_none());
}

#[test]
fn resource_types_list_user_and_group_with_extensions() {
    let docs = ivanti().resource_type_documents(BASE);
    assert_eq!(
        docs,
        vec![
            json!({
                "schemas": [RESOURCE_TYPE],
                "id": "User",
                "name": "User",
                "endpoint": "/Users",
                "description": "User Account",
                "schema": USER,
                "schemaExtensions": [
                    {"schema": ENTERPRISE, "required": false},
                    {"schema": IVANTI, "required": false}
                ],
                "meta": {"resourceType": "ResourceType", "location": format!("{BASE}/ResourceTypes/User")}
            }),
            json!({
                "schemas": [RESOURCE_TYPE],
                "id": "Group",
                "name": "Group",
                "endpoint": "/Groups",
                "description": "Group",
                "schema": GROUP,
                "meta": {"resourceType": "ResourceType", "location": format!("{BASE}/ResourceTypes/Group")}
            }),
        ]
    );
}

#[test]
fn resource_types_are_found_by_case_insensitive_id() {
    let registry = reg();
    assert_eq!(registry.resource_type_document("user", BASE).unwrap()["endpoint"], "/Users");
    assert_eq!(registry.resource_type_document("Group", BASE).unwrap()["schema"], GROUP);
    assert!(registry.resource_type_document("Device", BASE).is_none());
    assert_eq!(ResourceKind::from_endpoint("/users"), Some(ResourceKind::User));
    assert_eq!(ResourceKind::from_endpoint("Groups"), Some(ResourceKind::Group));
    assert_eq!(ResourceKind::from_endpoint("Me"), None);
}

#[test]
fn unqualified_names_resolve_core_then_common_then_extensions() {
    let registry = ivanti();
    let resolved = registry.resolve(ResourceKind::User, &AttrPath::with_sub("MANAGER", "VALUE")).unwrap();
    assert_eq!(resolved.scope, Scope::Extension(registry.enterprise_extension()));
    assert_eq!(resolved.canonical_path(), format!("{ENTERPRISE}:manager.value"));
    let id = registry.resolve(ResourceKind::Group, &AttrPath::simple("id")).unwrap();
    assert_eq!(id.scope, Scope::Common);
    assert_eq!(id.attr.mutability, Mutability::ReadOnly);
    assert_eq!(id.attr.returned, Returned::Always);
    let badge = registry.resolve(ResourceKind::User, &AttrPath::simple("badgenumber")).unwrap();
    assert_eq!(badge.canonical_path(), format!("{IVANTI}:badgeNumber"));
    // A core-URN-qualified common attribute resolves too.
    let external = registry
        .resolve(ResourceKind::User, &AttrPath { urn: Some(USER.into()), name: "externalId".into(), sub: None })
        .unwrap();
    assert_eq!(external.scope, Scope::Common);
    for bad in [AttrPath::simple("nope"), AttrPath::with_sub("userName", "x"), AttrPath::with_sub("name", "nope")] {
        registry.resolve(ResourceKind::User, &bad).unwrap_err();
    }
    // Groups have no extensions: `manager` is not a Group attribute.
    registry.resolve(ResourceKind::Group, &AttrPath::simple("manager")).unwrap_err();
}

#[test]
fn vendor_segments_are_validated() {
    for ok in ["ivanti", "acme.corp", "a-b_c1"] {
        validate_vendor(ok).unwrap();
    }
    for bad in ["", "1acme", "acme:corp", "acme corp", "enterprise", "ENTERPRISE", &"a".repeat(65)] {
        assert_scim(validate_vendor(bad), ScimType::InvalidValue);
    }
    assert_eq!(custom_extension_urn("ivanti"), IVANTI);
}

#[test]
fn custom_attribute_names_and_types_are_validated() {
    for ok in ["badgeNumber", "cost_center", "x-1", "$ref"] {
        CustomAttribute::validate_name(ok).unwrap();
    }
    for bad in ["", "1st", "cost center", "a.b", "a:b", &"a".repeat(129)] {
        assert_scim(CustomAttribute::validate_name(bad), ScimType::InvalidValue);
    }
    assert_eq!(CustomAttributeType::parse("DateTime"), Some(CustomAttributeType::DateTime));
    assert_eq!(CustomAttributeType::parse("complex"), None);
    for ty in CustomAttributeType::ALL {
        assert_eq!(CustomAttributeType::parse(ty.as_str()), Some(ty));
    }
}
