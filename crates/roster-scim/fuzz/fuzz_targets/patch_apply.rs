//! PATCH: arbitrary JSON read as a PatchOp and applied to a fixed user and group under
//! both tenant policies never panics; a successful result renders, and its member
//! operations apply in memory.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use roster_scim::projection::Projection;
use roster_scim::resource::{Derived, render, validate_resource};
use roster_scim::{PatchRequest, ResourceKind, apply_patch};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let fx = &*common::FIXTURES;
    let Ok(request) = PatchRequest::from_json(&body, fx.registry.known_urns()) else {
        return;
    };
    for policy in common::policies() {
        for (kind, id, data) in
            [(ResourceKind::User, common::USER_ID, &fx.user), (ResourceKind::Group, common::GROUP_ID, &fx.group)]
        {
            let Ok(outcome) = apply_patch(&fx.registry, kind, id, data, &request, &policy) else {
                continue;
            };
            let mut members = fx.members.clone();
            for op in &outcome.member_ops {
                op.apply_in_memory(&mut members);
            }
            let rendered = render(
                &fx.registry,
                kind,
                id,
                &outcome.data,
                &common::meta(kind),
                Derived { relations: Some(members) },
            );
            let _ = Projection::all().apply(&fx.registry, kind, &rendered);
            // What PATCH stores is canonical: validating it as a PUT body keeps it as is.
            match validate_resource(&fx.registry, kind, &Value::Object(rendered), &policy) {
                Ok(again) => assert_eq!(again.data, outcome.data, "PATCH {body} stored data that validation changes"),
                Err(e) => panic!("PATCH {body} stored data that does not validate: {e}"),
            }
        }
    }
});
