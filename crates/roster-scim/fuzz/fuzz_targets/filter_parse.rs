//! Filter parsing: never panics; whatever parses is in normalised form, prints, and
//! parses back to the same tree; resolution and evaluation never panic, and `not (f)`
//! evaluates to the opposite of `f`.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use roster_scim::{Filter, ParseLimits, ResourceKind, UnknownFilterAttribute};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let fx = &*common::FIXTURES;
    let urns = fx.registry.known_urns();
    let Ok(filter) = Filter::parse_with(input, urns, ParseLimits::default()) else {
        return;
    };
    assert_eq!(filter.clone().normalized(), filter, "parse of {input:?} is not normalised");
    let printed = filter.to_string();
    match Filter::parse_with(&printed, urns, common::RELAXED) {
        Ok(again) => assert_eq!(again, filter, "{input:?} printed as {printed:?} reparses differently"),
        Err(e) => panic!("{input:?} printed as {printed:?} does not parse: {e}"),
    }
    for (kind, resource) in [(ResourceKind::User, &fx.rendered_user), (ResourceKind::Group, &fx.rendered_group)] {
        for unknown in [UnknownFilterAttribute::Reject, UnknownFilterAttribute::Absent] {
            let Ok(valid) = fx.registry.check_filter(kind, &filter, unknown) else {
                continue;
            };
            let matched = valid.matches(resource);
            let negated = Filter::Not(Box::new(filter.clone()));
            match fx.registry.check_filter(kind, &negated, unknown) {
                Ok(not) => assert_eq!(not.matches(resource), !matched, "not ({printed})"),
                Err(e) => panic!("{printed} checks but not ({printed}) does not: {e}"),
            }
        }
    }
});
