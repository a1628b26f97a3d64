//! Named test vectors for the SCIM protocol core: every RFC 7644 filter example, the
//! PATCH vectors of the requirements catalog (A18.5), validation, projection, discovery,
//! wire messages, and one test per Part F compatibility rule that lives in this layer.
//!
//! One integration-test binary; each module covers one area of `roster-scim`.

// Test helpers outside `#[test]` functions unwrap too: a failed expectation is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod compat;
mod filter;
mod messages;
mod patch;
mod projection;
mod query;
mod resource;
mod schema;

use roster_scim::notes::Rule;
use roster_scim::resource::Derived;
use roster_scim::schema::{CustomAttribute, CustomAttributeType};
use roster_scim::{
    Meta, PatchOutcome, PatchRequest, Policy, Registry, ResourceKind, ScimError, ScimType, UnknownAttributes,
    UserNameChanges, ValidFilter, apply_patch, render, validate_resource,
};
use serde_json::{Map, Value, json};
use time::macros::datetime;

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const IVANTI: &str = "urn:ietf:params:scim:schemas:extension:ivanti:2.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const BASE: &str = "https://roster.example/scim/v2/default";
/// The id every rendered test resource gets.
pub const ID: &str = "2819c223-7f76-453a-919d-413861904646";

/// The default tenant: vendor `roster`, no custom attributes.
pub fn reg() -> Registry {
    Registry::standard()
}

fn custom(name: &str, ty: CustomAttributeType, multi_valued: bool) -> CustomAttribute {
    CustomAttribute { name: name.into(), ty, multi_valued, description: format!("custom {name}") }
}

/// A tenant with vendor `ivanti` and one custom attribute of each type.
pub fn ivanti() -> Registry {
    Registry::new(
        "ivanti",
        &[
            custom("badgeNumber", CustomAttributeType::Integer, false),
            custom("hourlyRate", CustomAttributeType::Decimal, false),
            custom("onCall", CustomAttributeType::Boolean, false),
            custom("hiredAt", CustomAttributeType::DateTime, false),
            custom("skills", CustomAttributeType::String, true),
            custom("homepage", CustomAttributeType::Reference, false),
        ],
    )
}

/// Lenient policies: unknown attributes ignored, userName changes refused (the defaults).
pub fn lenient() -> Policy {
    Policy::default()
}

/// The per-tenant strict mode for unknown attributes and schemas.
pub fn strict() -> Policy {
    Policy { unknown_attributes: UnknownAttributes::Reject, ..Policy::default() }
}

/// A tenant that lets userName change.
pub fn renames_allowed() -> Policy {
    Policy { username_changes: UserNameChanges::Allow, ..Policy::default() }
}

/// A JSON object as a map.
pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(o) => o,
        other => panic!("expected a JSON object, got {other}"),
    }
}

/// Fixed server metadata: created 2010-01-23T04:56:22Z, last modified 2011-05-13T04:42:34Z.
pub fn meta(kind: ResourceKind) -> Meta {
    Meta {
        created: datetime!(2010-01-23 04:56:22 UTC),
        last_modified: datetime!(2011-05-13 04:42:34 UTC),
        version: 3,
        location: format!("{BASE}{}/{ID}", kind.endpoint()),
    }
}

/// Validates a body for `kind` under the lenient policy and returns the stored data.
pub fn data_of(registry: &Registry, kind: ResourceKind, body: Value) -> Map<String, Value> {
    validate_resource(registry, kind, &body, &lenient()).unwrap_or_else(|e| panic!("body should validate: {e}")).data
}

/// A user as the API would render it (before projection).
pub fn rendered_user(registry: &Registry, body: Value) -> Map<String, Value> {
    let data = data_of(registry, ResourceKind::User, body);
    render(registry, ResourceKind::User, ID, &data, &meta(ResourceKind::User), Derived::default())
}

/// A user rendered with derived `groups` (ids of the groups it is a direct member of).
pub fn rendered_user_in_groups(registry: &Registry, body: Value, groups: &[&str]) -> Map<String, Value> {
    let data = data_of(registry, ResourceKind::User, body);
    let relations =
        groups.iter().map(|g| json!({"value": g, "$ref": format!("{BASE}/Groups/{g}"), "type": "direct"})).collect();
    render(registry, ResourceKind::User, ID, &data, &meta(ResourceKind::User), Derived { relations: Some(relations) })
}

/// A group rendered with the given member ids (all Users).
pub fn rendered_group(registry: &Registry, display_name: &str, members: &[&str]) -> Map<String, Value> {
    let data = data_of(registry, ResourceKind::Group, json!({"schemas": [GROUP], "displayName": display_name}));
    render(
        registry,
        ResourceKind::Group,
        ID,
        &data,
        &meta(ResourceKind::Group),
        Derived { relations: Some(member_elements(members)) },
    )
}

/// Rendered `members` elements for these user ids.
pub fn member_elements(ids: &[&str]) -> Vec<Value> {
    ids.iter().map(|id| json!({"value": id, "type": "User"})).collect()
}

/// The member ids of an in-memory member list, in order.
pub fn member_ids(members: &[Value]) -> Vec<String> {
    members.iter().map(|m| m["value"].as_str().unwrap().to_string()).collect()
}

/// Parses and checks a filter for `kind` (the `/Users` or `/Groups` rules).
pub fn filter(registry: &Registry, kind: ResourceKind, input: &str) -> ValidFilter {
    registry.parse_filter(kind, input).unwrap_or_else(|e| panic!("filter {input:?} should be valid: {e}"))
}

/// Whether `input` matches the rendered resource.
pub fn matches(registry: &Registry, kind: ResourceKind, input: &str, resource: &Map<String, Value>) -> bool {
    filter(registry, kind, input).matches(resource)
}

/// The error of an invalid filter.
pub fn filter_error(registry: &Registry, kind: ResourceKind, input: &str) -> ScimError {
    match registry.parse_filter(kind, input) {
        Ok(f) => panic!("filter {input:?} should be rejected, got {f:?}"),
        Err(e) => e,
    }
}

/// Parses a PatchOp body with these operations.
pub fn patch_request(registry: &Registry, operations: Value) -> Result<PatchRequest, ScimError> {
    PatchRequest::from_json(&json!({"schemas": [PATCH_OP], "Operations": operations}), registry.known_urns())
}

/// Parses and applies a PatchOp to `data` of resource [`ID`].
pub fn patch_with(
    registry: &Registry,
    kind: ResourceKind,
    data: &Map<String, Value>,
    operations: Value,
    policy: &Policy,
) -> Result<PatchOutcome, ScimError> {
    let request = patch_request(registry, operations)?;
    apply_patch(registry, kind, ID, data, &request, policy)
}

/// [`patch_with`] for a user under the lenient policy, expecting success.
pub fn patch_user(data: &Map<String, Value>, operations: Value) -> PatchOutcome {
    patch_with(&reg(), ResourceKind::User, data, operations, &lenient())
        .unwrap_or_else(|e| panic!("patch should apply: {e}"))
}

/// [`patch_with`] for a group under the lenient policy, expecting success.
pub fn patch_group(data: &Map<String, Value>, operations: Value) -> PatchOutcome {
    patch_with(&reg(), ResourceKind::Group, data, operations, &lenient())
        .unwrap_or_else(|e| panic!("patch should apply: {e}"))
}

/// Applies a patch's member operations to an in-memory member list of these ids.
pub fn members_after(outcome: &PatchOutcome, before: &[&str]) -> Vec<String> {
    let mut members = member_elements(before);
    for op in &outcome.member_ops {
        op.apply_in_memory(&mut members);
    }
    member_ids(&members)
}

/// Asserts an error's `scimType` (and so its status), returning the detail.
#[track_caller]
pub fn assert_scim(result: Result<impl std::fmt::Debug, ScimError>, expected: ScimType) -> String {
    match result {
        Ok(v) => panic!("expected {expected} error, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.scim_type, Some(expected), "wrong scimType: {e}");
            assert_eq!(e.status, expected.status(), "wrong status: {e}");
            e.detail
        }
    }
}

/// Whether the notes record a rule.
pub fn noted(notes: &roster_scim::Notes, rule: Rule) -> bool {
    notes.has(rule)
}

/// Every `null` anywhere in a JSON document, as JSON pointers.
pub fn null_paths(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Null => out.push(at.to_string()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                null_paths(item, &format!("{at}/{i}"), out);
            }
        }
        Value::Object(o) => {
            for (k, item) in o {
                null_paths(item, &format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}
