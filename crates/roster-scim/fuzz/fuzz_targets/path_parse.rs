//! PATCH-path parsing: never panics; whatever parses prints and parses back to the same
//! path. The other users of the path parser (`sortBy`, `attributes`) never panic either.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use roster_scim::projection::Projection;
use roster_scim::{ParseLimits, PatchPath, ResourceKind};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let fx = &*common::FIXTURES;
    let urns = fx.registry.known_urns();
    if let Ok(path) = PatchPath::parse_with(input, urns) {
        let printed = path.to_string();
        // Escapes can make the printed form longer than the length budget.
        if printed.len() <= ParseLimits::default().max_len {
            match PatchPath::parse_with(&printed, urns) {
                Ok(again) => assert_eq!(again, path, "{input:?} printed as {printed:?}"),
                Err(e) => panic!("{input:?} printed as {printed:?} does not parse: {e}"),
            }
        }
    }
    for (kind, resource) in [(ResourceKind::User, &fx.rendered_user), (ResourceKind::Group, &fx.rendered_group)] {
        if let Ok(sort) = fx.registry.check_sort(kind, input) {
            let _ = sort.sort_key(resource);
        }
        let list = roster_scim::projection::split_attribute_list(input);
        for (attrs, excluded) in [(&list[..], &[][..]), (&[][..], &list[..])] {
            if let Ok(projection) = Projection::parse(&fx.registry, kind, attrs, excluded) {
                let _ = projection.apply(&fx.registry, kind, resource);
                let _ = projection.includes(&fx.registry, kind, input);
            }
        }
    }
});
