//! Fixtures shared by the fuzz targets: one registry, a realistic user and group, and the
//! rendered forms filters are evaluated against. Built once per process.

#![allow(dead_code)]

use std::sync::LazyLock;

use roster_scim::notes::{Policy, UnknownAttributes, UserNameChanges};
use roster_scim::resource::{Derived, Meta, render, validate_resource};
use roster_scim::{ParseLimits, Registry, ResourceKind};
use serde_json::{Map, Value, json};

pub const USER_ID: &str = "2819c223-7f76-453a-919d-413861904646";
pub const GROUP_ID: &str = "e9e30dba-f08f-4109-8486-d5c6a331660a";

/// Limits for re-parsing a printed filter: printing may add escapes (longer) and the
/// parentheses an F-13 rewrite needs (one level deeper), so the budgets do not apply.
pub const RELAXED: ParseLimits = ParseLimits { max_len: usize::MAX, max_depth: usize::MAX, max_terms: usize::MAX };

pub struct Fixtures {
    pub registry: Registry,
    pub user: Map<String, Value>,
    pub group: Map<String, Value>,
    pub members: Vec<Value>,
    pub rendered_user: Map<String, Value>,
    pub rendered_group: Map<String, Value>,
}

pub static FIXTURES: LazyLock<Fixtures> = LazyLock::new(|| {
    let registry = Registry::standard();
    let user_body = json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "externalId": "00ueb4pnq3",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen III"},
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
        "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "primary": true}],
        "roles": [{"value": "admin", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    });
    let group_body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Tour Guides",
        "externalId": "grp-1"
    });
    let policy = Policy::default();
    let user =
        validate_resource(&registry, ResourceKind::User, &user_body, &policy).map(|v| v.data).unwrap_or_default();
    let group =
        validate_resource(&registry, ResourceKind::Group, &group_body, &policy).map(|v| v.data).unwrap_or_default();
    let members = vec![
        json!({"value": USER_ID, "type": "User"}),
        json!({"value": "902c246b-6245-4190-8e05-00816be7344a", "type": "User"}),
    ];
    let rendered_user =
        render(&registry, ResourceKind::User, USER_ID, &user, &meta(ResourceKind::User), Derived::default());
    let rendered_group = render(
        &registry,
        ResourceKind::Group,
        GROUP_ID,
        &group,
        &meta(ResourceKind::Group),
        Derived { relations: Some(members.clone()) },
    );
    Fixtures { registry, user, group, members, rendered_user, rendered_group }
});

pub fn meta(kind: ResourceKind) -> Meta {
    let t = time::OffsetDateTime::from_unix_timestamp(1_305_261_754).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Meta {
        created: t,
        last_modified: t,
        version: 3,
        location: format!("https://example.com/scim/v2/default{}/x", kind.endpoint()),
    }
}

/// Both tenant policies: the lenient default and the strictest settings.
pub fn policies() -> [Policy; 2] {
    [
        Policy::default(),
        Policy { unknown_attributes: UnknownAttributes::Reject, username_changes: UserNameChanges::Allow },
    ]
}
