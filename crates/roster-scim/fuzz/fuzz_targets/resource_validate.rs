//! POST/PUT bodies: arbitrary JSON validated as a User and as a Group under both tenant
//! policies never panics, and a validated resource, rendered, validates again to the same
//! stored data (validation is idempotent on its own output).

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use roster_scim::ResourceKind;
use roster_scim::projection::Projection;
use roster_scim::resource::{Derived, render, validate_resource};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let fx = &*common::FIXTURES;
    for policy in common::policies() {
        for kind in [ResourceKind::User, ResourceKind::Group] {
            let Ok(valid) = validate_resource(&fx.registry, kind, &body, &policy) else {
                continue;
            };
            let rendered = render(&fx.registry, kind, "id-1", &valid.data, &common::meta(kind), Derived::default());
            let _ = Projection::all().apply(&fx.registry, kind, &rendered);
            match validate_resource(&fx.registry, kind, &Value::Object(rendered.clone()), &policy) {
                Ok(again) => {
                    assert_eq!(again.data, valid.data, "re-validating the rendered resource changed it: {rendered:?}")
                }
                Err(e) => panic!("the rendered resource does not validate: {e}: {rendered:?}"),
            }
        }
    }
});
