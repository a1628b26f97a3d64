//! Criterion benchmarks of the pure SCIM core on the requests identity providers send most:
//! filter parse, check and evaluation; typical PATCHes; validation of a POST body; render
//! and projection of a user. Figures only, never asserted (`DESIGN.md` §4).
//!
//! `cargo bench -p roster-scim --bench scim_core -- --quick`

#![allow(clippy::expect_used, reason = "the fixtures are constants; a failure means the benchmark itself is broken")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use roster_scim::patch::PATCH_OP_SCHEMA;
use roster_scim::resource::{Derived, Meta, render, validate_resource};
use roster_scim::schema::ENTERPRISE_USER;
use roster_scim::{
    Filter, ParseLimits, PatchRequest, Policy, Projection, Registry, ResourceKind, UnknownFilterAttribute, apply_patch,
};
use serde_json::{Map, Value, json};

const USER_ID: &str = "2819c223-7f76-453a-919d-413861904646";
const GROUP_ID: &str = "e9e30dba-f08f-4109-8486-d5c6a331660a";

/// The filters Entra ID and Okta send on every provisioning cycle, and a compound one.
const FILTERS: [(&str, &str); 4] = [
    ("userName_eq", r#"userName eq "Test_User_ab6490ee@testuser.com""#),
    ("externalId_eq", r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#),
    ("emails_value_path_sub", r#"emails[type eq "work"].value eq "Test_User_fd0ea19b@testuser.com""#),
    (
        "compound",
        r#"userType eq "Employee" and (emails co "testuser.com" or emails.value co "example.org") and active eq true and not (title pr)"#,
    ),
];

/// An Entra ID user create (MS-SCIM "Create User"), with the enterprise extension.
fn entra_user_post() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee@testuser.com",
        "active": true,
        "displayName": "Test User",
        "userType": "Employee",
        "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "phoneNumbers": [{"type": "mobile", "value": "555-555-5555"}, {"type": "work", "value": "555-555-1234"}],
        "addresses": [{"type": "work", "streetAddress": "1 Microsoft Way", "locality": "Redmond", "region": "WA", "postalCode": "98052", "country": "US", "primary": true}],
        "roles": [{"primary": "True", "value": "Admin"}],
        ENTERPRISE_USER: {
            "employeeNumber": "701984",
            "department": "Engineering",
            "costCenter": "4130",
            "manager": "26118915-6090-4610-87e4-49d8ca9f808d"
        }
    })
}

/// An Okta user create (Okta SCIM 2.0 guide), password included.
fn okta_user_post() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "isaac.brock@example.com",
        "name": {"givenName": "Isaac", "familyName": "Brock"},
        "emails": [{"primary": true, "value": "isaac.brock@example.com", "type": "work"}],
        "displayName": "Isaac Brock",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

fn patch_body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
}

/// Entra's legacy (non-`aadOptscim062020`) user update: capitalised ops, string booleans,
/// value-path upserts and the manager as a plain string.
fn entra_user_update() -> Value {
    patch_body(json!([
        {"op": "Replace", "path": "displayName", "value": "Test User Renamed"},
        {"op": "Replace", "path": "name.givenName", "value": "Renamed"},
        {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "renamed@testuser.com"},
        {"op": "Add", "path": "phoneNumbers[type eq \"fax\"].value", "value": "555-555-0000"},
        {"op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Seattle"},
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": format!("{ENTERPRISE_USER}:department"), "value": "Sales"},
        {"op": "Add", "path": format!("{ENTERPRISE_USER}:manager"), "value": "2b4c8a9e-0000-4000-8000-000000000001"}
    ]))
}

fn okta_deactivate() -> Value {
    patch_body(json!([{"op": "replace", "value": {"active": false}}]))
}

fn member_add(n: usize) -> Value {
    let members: Vec<Value> = (0..n).map(|i| json!({"value": format!("6f1b2c3d-0000-4000-8000-{i:012}")})).collect();
    patch_body(json!([{"op": "Add", "path": "members", "value": members}]))
}

fn meta(kind: ResourceKind, id: &str) -> Meta {
    let t = time::macros::datetime!(2026-01-15 09:30:00 UTC);
    Meta {
        created: t,
        last_modified: t,
        version: 4,
        location: format!("https://roster.example.com/scim/v2/default{}/{id}", kind.endpoint()),
    }
}

fn stored_user(registry: &Registry) -> Map<String, Value> {
    validate_resource(registry, ResourceKind::User, &entra_user_post(), &Policy::default())
        .expect("the Entra user validates")
        .data
}

fn rendered_user(registry: &Registry, data: &Map<String, Value>) -> Map<String, Value> {
    let groups = vec![json!({"value": GROUP_ID, "display": "Engineering", "type": "direct",
               "$ref": format!("https://roster.example.com/scim/v2/default/Groups/{GROUP_ID}")})];
    render(
        registry,
        ResourceKind::User,
        USER_ID,
        data,
        &meta(ResourceKind::User, USER_ID),
        Derived { relations: Some(groups) },
    )
}

fn filters(c: &mut Criterion) {
    let registry = Registry::standard();
    let user = rendered_user(&registry, &stored_user(&registry));
    let mut group = c.benchmark_group("filter");
    for (name, text) in FILTERS {
        group.bench_function(format!("parse/{name}"), |b| {
            b.iter(|| Filter::parse_with(black_box(text), registry.known_urns(), ParseLimits::default()))
        });
        let parsed =
            Filter::parse_with(text, registry.known_urns(), ParseLimits::default()).expect("the filter parses");
        group.bench_function(format!("check/{name}"), |b| {
            b.iter(|| registry.check_filter(ResourceKind::User, black_box(&parsed), UnknownFilterAttribute::Reject))
        });
        let valid = registry
            .check_filter(ResourceKind::User, &parsed, UnknownFilterAttribute::Reject)
            .expect("the filter checks");
        group.bench_function(format!("evaluate/{name}"), |b| b.iter(|| black_box(&valid).matches(black_box(&user))));
        group.bench_function(format!("parse_check_evaluate/{name}"), |b| {
            b.iter(|| registry.parse_filter(ResourceKind::User, black_box(text)).map(|f| f.matches(&user)))
        });
    }
    group.finish();
}

fn patches(c: &mut Criterion) {
    let registry = Registry::standard();
    let user = stored_user(&registry);
    let group_data = validate_resource(
        &registry,
        ResourceKind::Group,
        &json!({"displayName": "Engineering", "externalId": "grp-1"}),
        &Policy::default(),
    )
    .expect("the group validates")
    .data;
    let policy = Policy::default();
    let cases = [
        ("entra_user_update", ResourceKind::User, USER_ID, &user, entra_user_update()),
        ("okta_deactivate", ResourceKind::User, USER_ID, &user, okta_deactivate()),
        ("group_member_add_1", ResourceKind::Group, GROUP_ID, &group_data, member_add(1)),
        ("group_member_add_100", ResourceKind::Group, GROUP_ID, &group_data, member_add(100)),
    ];
    let mut group = c.benchmark_group("patch");
    for (name, kind, id, data, body) in cases {
        group.bench_function(format!("decode_apply/{name}"), |b| {
            b.iter(|| {
                let request =
                    PatchRequest::from_json(black_box(&body), registry.known_urns()).expect("the PatchOp decodes");
                apply_patch(&registry, kind, id, data, &request, &policy)
            })
        });
        let request = PatchRequest::from_json(&body, registry.known_urns()).expect("the PatchOp decodes");
        apply_patch(&registry, kind, id, data, &request, &policy).expect("the PATCH applies");
        group.bench_function(format!("apply/{name}"), |b| {
            b.iter(|| apply_patch(&registry, kind, id, data, black_box(&request), &policy))
        });
    }
    group.finish();
}

fn validation(c: &mut Criterion) {
    let registry = Registry::standard();
    let policy = Policy::default();
    let mut group = c.benchmark_group("validate");
    for (name, body) in [("entra_user_post", entra_user_post()), ("okta_user_post", okta_user_post())] {
        validate_resource(&registry, ResourceKind::User, &body, &policy).expect("the body validates");
        group.bench_function(name, |b| {
            b.iter(|| validate_resource(&registry, ResourceKind::User, black_box(&body), &policy))
        });
    }
    group.finish();
}

fn rendering(c: &mut Criterion) {
    let registry = Registry::standard();
    let data = stored_user(&registry);
    let user = rendered_user(&registry, &data);
    let attributes = Projection::parse(
        &registry,
        ResourceKind::User,
        &["userName".into(), "emails.value".into(), "active".into()],
        &[],
    )
    .expect("the projection parses");
    let excluded =
        Projection::parse(&registry, ResourceKind::User, &[], &["groups".into(), format!("{ENTERPRISE_USER}:manager")])
            .expect("the projection parses");
    let mut group = c.benchmark_group("render");
    group.bench_function("render_user", |b| b.iter(|| rendered_user(&registry, black_box(&data))));
    group.bench_function("project_all", |b| {
        b.iter(|| Projection::all().apply(&registry, ResourceKind::User, black_box(&user)))
    });
    group.bench_function("project_attributes", |b| {
        b.iter(|| attributes.apply(&registry, ResourceKind::User, black_box(&user)))
    });
    group.bench_function("project_excluded", |b| {
        b.iter(|| excluded.apply(&registry, ResourceKind::User, black_box(&user)))
    });
    group.bench_function("render_and_project_to_json", |b| {
        b.iter(|| {
            let full = rendered_user(&registry, black_box(&data));
            serde_json::to_string(&attributes.apply(&registry, ResourceKind::User, &full))
        })
    });
    group.finish();
}

criterion_group!(benches, filters, patches, validation, rendering);
criterion_main!(benches);
