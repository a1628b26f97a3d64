//! In-memory filter evaluation (RFC 7644 §3.4.2.2, catalog A12.2 FS1–FS10) on resources
//! rendered with `roster_scim::render`, and sort keys (§3.4.2.3).

use std::cmp::Ordering;

use pretty_assertions::assert_eq;
use roster_scim::filter::{Filter, ParseLimits};
use roster_scim::query::compare_sort_keys;
use roster_scim::{Registry, ResourceKind, ScimType, UnknownFilterAttribute, ValidFilter};
use serde_json::{Map, Value, json};

use crate::{
    ENTERPRISE, ID, IVANTI, USER, filter, filter_error, ivanti, matches, obj, reg, rendered_group, rendered_user,
    rendered_user_in_groups,
};

const MANAGER_ID: &str = "26118915-6090-4610-87e4-49d8ca9f808d";

fn babs() -> Map<String, Value> {
    rendered_user(
        &reg(),
        json!({
            "schemas": [USER, ENTERPRISE],
            "userName": "bjensen",
            "externalId": "abc-EXT",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs Jensen",
            "userType": "Employee",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
            ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": MANAGER_ID}}
        }),
    )
}

fn plain(user_name: &str) -> Map<String, Value> {
    rendered_user(&reg(), json!({"userName": user_name}))
}

#[track_caller]
fn user_matches(input: &str, user: &Map<String, Value>) -> bool {
    matches(&reg(), ResourceKind::User, input, user)
}

#[track_caller]
fn rejected(input: &str) -> String {
    let err = filter_error(&reg(), ResourceKind::User, input);
    assert_eq!(err.scim_type, Some(ScimType::InvalidFilter), "{input}: {err}");
    assert_eq!(err.status, 400);
    err.detail
}

/// Checks a filter with the root-query rule for undefined attributes (FS7).
fn absent(registry: &Registry, kind: ResourceKind, input: &str) -> ValidFilter {
    let parsed = Filter::parse_with(input, registry.known_urns(), ParseLimits::default()).unwrap();
    registry
        .check_filter(kind, &parsed, UnknownFilterAttribute::Absent)
        .unwrap_or_else(|e| panic!("{input:?} should check: {e}"))
}

#[test]
fn every_rfc_example_evaluates_on_a_rendered_user() {
    let user = babs();
    let expected = [
        (r#"userName eq "bjensen""#, true),
        (r#"name.familyName co "O'Malley""#, false),
        (r#"userName sw "J""#, false),
        (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "B""#, true),
        ("title pr", false),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
        (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
        (r#"title pr and userType eq "Employee""#, false),
        (r#"title pr or userType eq "Intern""#, false),
        (r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#, true),
        (r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#, true),
        (r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#, false),
        (r#"userType eq "Employee" and (emails.type eq "work")"#, true),
        (r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#, true),
        (r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#, true),
    ];
    for (input, want) in expected {
        assert_eq!(user_matches(input, &user), want, "{input}");
    }
}

#[test]
fn username_comparisons_ignore_case() {
    let user = babs();
    assert!(user_matches(r#"userName eq "BJENSEN""#, &user));
    assert!(user_matches(r#"USERNAME EQ "BJensen""#, &user));
    assert!(user_matches(r#"userName sw "BJ""#, &user));
    assert!(user_matches(r#"userName co "JENS""#, &user));
    assert!(user_matches(r#"userName ew "SEN""#, &user));
    // Identical strings satisfy sw and ew.
    assert!(user_matches(r#"userName sw "bjensen""#, &user));
    assert!(user_matches(r#"userName ew "bjensen""#, &user));
    assert!(!user_matches(r#"userName eq "bjensen2""#, &user));
}

#[test]
fn username_comparisons_fold_unicode_case() {
    let user = plain("Straße");
    assert!(user_matches(r#"userName eq "STRASSE""#, &user));
    let user = plain("ÉCOLE");
    assert!(user_matches(r#"userName eq "école""#, &user));
    assert!(user_matches(r#"userName eq "e\u0301cole""#, &user));
}

#[test]
fn external_id_comparisons_are_case_exact() {
    let user = babs();
    assert!(user_matches(r#"externalId eq "abc-EXT""#, &user));
    assert!(!user_matches(r#"externalId eq "ABC-EXT""#, &user));
    assert!(!user_matches(r#"externalId eq "abc-ext""#, &user));
    assert!(!user_matches(r#"externalId sw "ABC""#, &user));
    // Case-exact still means canonically equivalent Unicode is equal.
    let decomposed = rendered_user(&reg(), json!({"userName": "u", "externalId": "cafe\u{301}"}));
    assert!(user_matches(r#"externalId eq "caf\u00e9""#, &decomposed));
}

#[test]
fn id_and_resource_type_comparisons_are_case_exact() {
    let user = babs();
    assert!(user_matches(&format!(r#"id eq "{ID}""#), &user));
    assert!(!user_matches(&format!(r#"id eq "{}""#, ID.to_uppercase()), &user));
    assert!(user_matches(r#"meta.resourceType eq "User""#, &user));
    assert!(!user_matches(r#"meta.resourceType eq "user""#, &user));
}

#[test]
fn multi_valued_attributes_match_when_any_value_matches() {
    let user = babs();
    assert!(user_matches(r#"emails.value ew ".org""#, &user));
    assert!(user_matches(r#"emails.value ew ".com""#, &user));
    assert!(user_matches(r#"emails.type eq "home""#, &user));
    assert!(!user_matches(r#"emails.value eq "nobody@example.com""#, &user));
}

#[test]
fn value_filter_requires_one_element_to_satisfy_every_condition() {
    let user = rendered_user(
        &reg(),
        json!({
            "userName": "split",
            "emails": [
                {"value": "split@other.com", "type": "work"},
                {"value": "split@example.com", "type": "home"}
            ]
        }),
    );
    assert!(!user_matches(r#"emails[type eq "work" and value co "@example.com"]"#, &user));
    assert!(user_matches(r#"emails.type eq "work" and emails.value co "@example.com""#, &user));
    assert!(user_matches(r#"emails[type eq "home" and value co "@example.com"]"#, &user));
    assert!(user_matches(r#"emails[type eq "work" or value co "@example.com"]"#, &user));
    assert!(!user_matches(r#"emails[not (type eq "work") and value co "@other.com"]"#, &user));
}

#[test]
fn value_filter_with_trailing_sub_attribute_matches_the_same_element() {
    let user = babs();
    assert!(user_matches(r#"emails[type eq "work"].value eq "bjensen@example.com""#, &user));
    assert!(!user_matches(r#"emails[type eq "home"].value eq "bjensen@example.com""#, &user));
    // Sub-attribute comparisons inside [...] follow the sub-attribute's caseExact.
    assert!(user_matches(r#"emails[type eq "WORK"].value eq "BJensen@Example.com""#, &user));
}

#[test]
fn complex_attributes_compared_without_sub_attribute_compare_value() {
    let user = babs();
    assert!(user_matches(r#"emails eq "BJENSEN@example.com""#, &user));
    assert!(user_matches(r#"emails co "jensen.org""#, &user));
    assert!(!user_matches(r#"emails eq "work""#, &user));
    assert_eq!(
        filter(&reg(), ResourceKind::User, r#"emails eq "x""#),
        filter(&reg(), ResourceKind::User, r#"emails.value eq "x""#)
    );
    // A complex attribute without a `value` sub-attribute needs one named.
    let detail = rejected(r#"name eq "Barbara""#);
    assert!(detail.contains("name"), "{detail}");
}

#[test]
fn members_eq_compares_member_ids_exactly() {
    let registry = reg();
    let group = rendered_group(&registry, "Tour Guides", &["u1", "u2"]);
    let is = |f: &str| matches(&registry, ResourceKind::Group, f, &group);
    assert!(is(r#"members eq "u2""#));
    assert!(!is(r#"members eq "U2""#));
    assert!(is(r#"members.value eq "u1""#));
    assert!(is(r#"members[value eq "u1"]"#));
    assert!(!is(r#"members[value eq "u9"]"#));
    assert!(is("members pr"));
    let empty = rendered_group(&registry, "Empty", &[]);
    assert!(!matches(&registry, ResourceKind::Group, "members pr", &empty));
    assert!(!empty.contains_key("members"));
}

#[test]
fn group_display_name_comparisons_ignore_case() {
    let registry = reg();
    let group = rendered_group(&registry, "Tour Guides", &[]);
    assert!(matches(&registry, ResourceKind::Group, r#"displayName eq "tour guides""#, &group));
    assert!(!matches(&registry, ResourceKind::Group, r#"displayName eq "Tour""#, &group));
}

#[test]
fn ne_matches_resources_without_the_attribute() {
    let user = babs();
    assert!(user_matches(r#"title ne "Boss""#, &user));
    let boss = rendered_user(&reg(), json!({"userName": "b", "title": "Boss"}));
    assert!(!user_matches(r#"title ne "Boss""#, &boss));
    assert!(!user_matches(r#"title ne "BOSS""#, &boss));
    assert!(user_matches(r#"title ne "Intern""#, &boss));
    // On a multi-valued attribute, `ne` is `not (eq)`: no value may equal it.
    assert!(!user_matches(r#"emails.type ne "work""#, &user));
    assert!(user_matches(r#"emails.type ne "other""#, &user));
    assert_eq!(
        filter(&reg(), ResourceKind::User, r#"title ne "x""#),
        filter(&reg(), ResourceKind::User, r#"not (title eq "x")"#)
    );
}

#[test]
fn eq_null_matches_unassigned_and_ne_null_is_present() {
    let user = babs();
    assert!(user_matches("title eq null", &user));
    assert!(!user_matches("title ne null", &user));
    assert!(!user_matches("displayName eq null", &user));
    assert!(user_matches("displayName ne null", &user));
    assert_eq!(filter(&reg(), ResourceKind::User, "title ne null"), filter(&reg(), ResourceKind::User, "title pr"));
    assert_eq!(
        filter(&reg(), ResourceKind::User, "title eq null"),
        filter(&reg(), ResourceKind::User, "not (title pr)")
    );
    rejected("title gt null");
    rejected("title co null");
}

#[test]
fn present_needs_a_non_empty_value() {
    let registry = reg();
    let pr = |f: &str, r: &Map<String, Value>| matches(&registry, ResourceKind::User, f, r);
    let user = babs();
    assert!(pr("name pr", &user));
    assert!(pr("name.givenName pr", &user));
    assert!(!pr("name.middleName pr", &user));
    assert!(pr("emails pr", &user));
    assert!(pr(&format!("{ENTERPRISE}:manager pr"), &user));
    // Empty strings, lists and objects are not present (RFC 7644 §3.4.2.2 `pr`).
    let hollow = obj(json!({
        "schemas": [USER], "id": ID, "userName": "h",
        "title": "", "emails": [], "name": {}, "addresses": [{}], "phoneNumbers": [{"value": ""}]
    }));
    assert!(pr("userName pr", &hollow));
    for attr in ["title", "emails", "name", "addresses", "phoneNumbers", "phoneNumbers.value"] {
        assert!(!pr(&format!("{attr} pr"), &hollow), "{attr} pr");
    }
}

#[test]
fn datetime_comparisons_are_chronological_across_offsets() {
    let user = babs(); // lastModified 2011-05-13T04:42:34Z, created 2010-01-23T04:56:22Z
    let cases = [
        (r#"meta.lastModified gt "2011-05-13T06:42:33+02:00""#, true),
        (r#"meta.lastModified gt "2011-05-13T06:42:34+02:00""#, false),
        (r#"meta.lastModified ge "2011-05-13T06:42:34+02:00""#, true),
        (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
        (r#"meta.lastModified eq "2011-05-12T23:42:34-05:00""#, true),
        (r#"meta.lastModified lt "2011-05-13T00:00:00-05:00""#, true),
        (r#"meta.lastModified lt "2011-05-13T04:42:34.001Z""#, true),
        (r#"meta.lastModified le "2011-05-13t04:42:34z""#, true),
        (r#"meta.lastModified gt "2011-05-13T04:42:34""#, false),
        (r#"meta.created lt "2011-01-01T00:00:00Z""#, true),
        (r#"meta.created gt "2010-01-23T04:56:22Z""#, false),
    ];
    for (input, want) in cases {
        assert_eq!(user_matches(input, &user), want, "{input}");
    }
}

#[test]
fn datetime_filters_with_non_datetime_literals_are_invalid() {
    rejected(r#"meta.lastModified gt "yesterday""#);
    rejected("meta.created gt 5");
    rejected("meta.created eq true");
    rejected(r#"meta.created co "2011""#);
}

#[test]
fn custom_extension_numbers_compare_numerically() {
    let registry = ivanti();
    let user = rendered_user(
        &registry,
        json!({
            "userName": "n",
            IVANTI: {"badgeNumber": 42, "hourlyRate": 12.5, "hiredAt": "2020-01-01T10:00:00+01:00"}
        }),
    );
    let is = |f: &str| matches(&registry, ResourceKind::User, f, &user);
    assert!(is(&format!("{IVANTI}:badgeNumber gt 41")));
    assert!(is(&format!("{IVANTI}:badgeNumber eq 42")));
    assert!(is("badgeNumber eq 42"));
    assert!(is(r#"badgeNumber ge "42""#));
    assert!(!is("badgeNumber gt 42"));
    assert!(is("badgeNumber lt 42.5"));
    assert!(is("badgeNumber lt 100"));
    assert!(is("hourlyRate gt 12"));
    assert!(is("hourlyRate eq 12.5"));
    assert!(!is("hourlyRate lt 12.5"));
    assert!(is(r#"hiredAt eq "2020-01-01T09:00:00Z""#));
    assert!(!is(r#"hiredAt lt "2020-01-01T09:30:00+00:30""#));
    assert!(is(r#"hiredAt le "2020-01-01T09:30:00+00:30""#));
    for bad in [r#"badgeNumber eq "abc""#, r#"badgeNumber co "4""#, "badgeNumber eq true"] {
        let err = filter_error(&registry, ResourceKind::User, bad);
        assert_eq!(err.scim_type, Some(ScimType::InvalidFilter), "{bad}");
    }
}

#[test]
fn string_booleans_in_filters_are_booleans() {
    let user = babs();
    assert!(user_matches(r#"active eq "True""#, &user));
    assert!(user_matches(r#"active eq "true""#, &user));
    assert!(!user_matches(r#"active eq "FALSE""#, &user));
    assert!(user_matches("active ne false", &user));
    assert_eq!(
        filter(&reg(), ResourceKind::User, r#"active eq "True""#),
        filter(&reg(), ResourceKind::User, "active eq true")
    );
    assert!(user_matches(r#"emails[primary eq "True"].value eq "bjensen@example.com""#, &user));
    assert!(!user_matches(r#"emails[primary eq "True"].value eq "babs@jensen.org""#, &user));
    rejected(r#"active eq "abc""#);
    rejected(r#"active eq "yes""#);
    rejected("active eq 1");
}

#[test]
fn ordering_a_boolean_is_invalid_filter() {
    for op in ["gt", "ge", "lt", "le"] {
        let detail = rejected(&format!("active {op} true"));
        assert!(detail.contains("boolean"), "{detail}");
    }
    rejected(r#"active co "t""#);
    rejected(r#"x509Certificates.value gt "AAAA""#);
}

#[test]
fn binary_values_compare_case_exactly() {
    let user = rendered_user(&reg(), json!({"userName": "c", "x509Certificates": [{"value": "QUJD"}]}));
    assert!(user_matches(r#"x509Certificates.value eq "QUJD""#, &user));
    assert!(!user_matches(r#"x509Certificates.value eq "qujd""#, &user));
    assert!(user_matches(r#"x509Certificates eq "QUJD""#, &user));
}

#[test]
fn filters_on_the_password_are_invalid_filter() {
    for f in [r#"password eq "x""#, "password pr", r#"password ne "x""#] {
        let detail = rejected(f);
        assert!(detail.contains("password"), "{detail}");
    }
    // Even where undefined attributes would be read as absent.
    let parsed = Filter::parse(r#"password eq "x""#).unwrap();
    let err = reg().check_filter(ResourceKind::User, &parsed, UnknownFilterAttribute::Absent).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::InvalidFilter));
}

#[test]
fn unknown_attributes_are_invalid_filter_on_typed_endpoints() {
    let detail = rejected(r#"favouriteColour eq "blue""#);
    assert!(detail.contains("favouriteColour"), "{detail}");
    rejected(r#"name.nickname eq "x""#);
    rejected(r#"emails[kind eq "work"]"#);
    rejected(r#"userName[value eq "x"]"#);
    rejected(r#"urn:example:unknown:2.0:User:x eq "y""#);
    let err = filter_error(&reg(), ResourceKind::Group, r#"userName eq "x""#);
    assert_eq!(err.scim_type, Some(ScimType::InvalidFilter));
}

#[test]
fn unknown_attributes_are_absent_in_root_queries() {
    let registry = reg();
    let user = babs();
    let cases = [
        (r#"favouriteColour eq "blue""#, false),
        (r#"favouriteColour ne "blue""#, true),
        ("favouriteColour pr", false),
        ("not (favouriteColour pr)", true),
        ("favouriteColour eq null", true),
        ("favouriteColour ne null", false),
        (r#"favouriteColour[type eq "x"]"#, false),
        (r#"userName eq "bjensen" and favouriteColour pr"#, false),
        (r#"userName eq "bjensen" or favouriteColour pr"#, true),
    ];
    for (input, want) in cases {
        assert_eq!(absent(&registry, ResourceKind::User, input).matches(&user), want, "{input}");
    }
    assert_eq!(absent(&registry, ResourceKind::User, r#"favouriteColour eq "blue""#), ValidFilter::Const(false));
    // A root query for userName over Groups: groups have none, so they do not match.
    let group = rendered_group(&registry, "Sales", &[]);
    assert!(!absent(&registry, ResourceKind::Group, r#"userName eq "bjensen""#).matches(&group));
    assert!(absent(&registry, ResourceKind::Group, r#"displayName eq "sales""#).matches(&group));
    // Known attributes still type-check.
    let parsed = Filter::parse("active gt true").unwrap();
    registry.check_filter(ResourceKind::User, &parsed, UnknownFilterAttribute::Absent).unwrap_err();
}

#[test]
fn schemas_eq_selects_resources_with_the_extension() {
    let user = babs();
    let plain = plain("p");
    let f = format!(r#"schemas eq "{ENTERPRISE}""#);
    assert!(user_matches(&f, &user));
    assert!(!user_matches(&f, &plain));
    assert!(user_matches(&format!(r#"schemas eq "{USER}""#), &plain));
}

#[test]
fn enterprise_attributes_match_qualified_and_unqualified() {
    let user = babs();
    assert!(user_matches(&format!(r#"{ENTERPRISE}:employeeNumber eq "701984""#), &user));
    assert!(user_matches(r#"employeeNumber eq "701984""#, &user));
    assert!(user_matches(&format!(r#"{ENTERPRISE}:manager.value eq "{MANAGER_ID}""#), &user));
    assert!(user_matches(&format!(r#"manager.value eq "{MANAGER_ID}""#), &user));
    // manager.value is caseExact.
    assert!(!user_matches(&format!(r#"manager.value eq "{}""#, MANAGER_ID.to_uppercase()), &user));
    assert!(user_matches(&format!(r#"manager eq "{MANAGER_ID}""#), &user));
    assert!(user_matches(&format!(r#"manager[value eq "{MANAGER_ID}"]"#), &user));
}

#[test]
fn groups_value_lists_a_groups_members_without_loading_the_group() {
    let user = rendered_user_in_groups(&reg(), json!({"userName": "g"}), &["g1", "g2"]);
    assert!(user_matches(r#"groups.value eq "g2""#, &user));
    assert!(!user_matches(r#"groups.value eq "G2""#, &user));
    assert!(user_matches(r#"groups[type eq "direct" and value eq "g1"]"#, &user));
}

#[test]
fn inactive_users_are_found_by_filters() {
    let user = rendered_user(&reg(), json!({"userName": "gone", "active": false}));
    assert!(user_matches("active eq false", &user));
    assert!(user_matches(r#"userName eq "gone""#, &user));
}

#[test]
fn sort_keys_use_the_primary_value_and_put_missing_values_last() {
    let registry = reg();
    let by_email = registry.check_sort(ResourceKind::User, "emails").unwrap();
    assert_eq!(by_email.sub.as_deref(), Some("value"));
    let user = babs();
    let key = by_email.sort_key(&user).unwrap();
    let primary_only = rendered_user(&registry, json!({"userName": "x", "emails": [{"value": "BJENSEN@EXAMPLE.COM"}]}));
    assert_eq!(Some(key.clone()), by_email.sort_key(&primary_only));
    let none = plain("none");
    assert_eq!(by_email.sort_key(&none), None);
    assert_eq!(compare_sort_keys(Some(&key), None, true), Ordering::Less);
    assert_eq!(compare_sort_keys(Some(&key), None, false), Ordering::Greater);
    let by_modified = registry.check_sort(ResourceKind::User, "meta.lastModified").unwrap();
    assert!(by_modified.sort_key(&user).is_some());
    let err = registry.check_sort(ResourceKind::User, "password").unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
    let err = registry.check_sort(ResourceKind::User, "nope").unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
    let a = registry.check_sort(ResourceKind::User, "userName").unwrap();
    let (upper, lower) = (plain("Zed"), plain("adam"));
    assert_eq!(compare_sort_keys(a.sort_key(&lower).as_ref(), a.sort_key(&upper).as_ref(), true), Ordering::Less);
}
