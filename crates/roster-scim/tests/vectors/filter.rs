//! The filter and PATCH-path language (RFC 7644 §3.4.2.2, §3.5.2): the RFC examples
//! (catalog A12.3), the extra vectors of A12.4, precedence, keywords, literals, F-12, F-13,
//! URN splitting and the parse budgets.

use pretty_assertions::assert_eq;
use roster_scim::filter::{AttrPath, CompValue, CompareOp, Filter, ParseLimits, PatchPath};
use roster_scim::{ResourceKind, ScimType};

use crate::{ENTERPRISE, IVANTI, USER, filter_error, ivanti, reg};

fn p(name: &str) -> AttrPath {
    AttrPath::simple(name)
}

fn pr(name: &str) -> Filter {
    Filter::Present(p(name))
}

fn cmp(path: AttrPath, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare { path, op, value }
}

fn s(v: &str) -> CompValue {
    CompValue::String(v.into())
}

fn parse(input: &str) -> Filter {
    Filter::parse(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"))
}

/// Parses, prints, reparses: the printed form is `canonical` and parses to the same tree.
#[track_caller]
fn round_trip(input: &str, canonical: &str) -> Filter {
    let parsed = parse(input);
    let printed = parsed.to_string();
    assert_eq!(printed, canonical, "canonical form of {input:?}");
    assert_eq!(parse(&printed), parsed, "reparse of {printed:?}");
    parsed
}

/// The offset of a parse error, asserting it is also in the 400 invalidFilter detail.
#[track_caller]
fn error_offset(input: &str) -> usize {
    let err = Filter::parse(input).expect_err(input);
    let scim = err.clone().into_filter_error();
    assert_eq!(scim.scim_type, Some(ScimType::InvalidFilter));
    assert_eq!(scim.status, 400);
    assert!(
        scim.detail.contains(&format!("at byte {}", err.offset)),
        "detail {:?} should carry the offset {}",
        scim.detail,
        err.offset
    );
    // The registry path produces the same error for the same input.
    let via_registry = filter_error(&reg(), ResourceKind::User, input);
    assert_eq!(via_registry.scim_type, Some(ScimType::InvalidFilter));
    assert!(via_registry.detail.contains(&format!("at byte {}", err.offset)));
    err.offset
}

/// RFC 7644 §3.4.2.2, in order, with their canonical printed forms.
const RFC_EXAMPLES: &[(&str, &str)] = &[
    (r#"userName eq "bjensen""#, r#"userName eq "bjensen""#),
    (r#"name.familyName co "O'Malley""#, r#"name.familyName co "O'Malley""#),
    (r#"userName sw "J""#, r#"userName sw "J""#),
    (
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
    ),
    ("title pr", "title pr"),
    (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, r#"meta.lastModified gt "2011-05-13T04:42:34Z""#),
    (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, r#"meta.lastModified ge "2011-05-13T04:42:34Z""#),
    (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, r#"meta.lastModified lt "2011-05-13T04:42:34Z""#),
    (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, r#"meta.lastModified le "2011-05-13T04:42:34Z""#),
    (r#"title pr and userType eq "Employee""#, r#"title pr and userType eq "Employee""#),
    (r#"title pr or userType eq "Intern""#, r#"title pr or userType eq "Intern""#),
    (
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
    ),
    (
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
    ),
    (
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
    ),
    (r#"userType eq "Employee" and (emails.type eq "work")"#, r#"userType eq "Employee" and emails.type eq "work""#),
    (
        r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
    ),
    (
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    ),
];

#[test]
fn every_rfc_example_parses_prints_canonically_and_reparses() {
    assert_eq!(RFC_EXAMPLES.len(), 17);
    for (input, canonical) in RFC_EXAMPLES {
        round_trip(input, canonical);
    }
}

#[test]
fn every_rfc_example_resolves_against_the_user_schema() {
    let registry = reg();
    for (input, _) in RFC_EXAMPLES {
        registry
            .parse_filter(ResourceKind::User, input)
            .unwrap_or_else(|e| panic!("{input:?} should check against User: {e}"));
    }
}

#[test]
fn rfc_example_trees_have_the_expected_shape() {
    assert_eq!(parse(r#"userName eq "bjensen""#), cmp(p("userName"), CompareOp::Eq, s("bjensen")));
    assert_eq!(
        parse(r#"name.familyName co "O'Malley""#),
        cmp(AttrPath::with_sub("name", "familyName"), CompareOp::Co, s("O'Malley"))
    );
    assert_eq!(
        parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#),
        cmp(AttrPath { urn: Some(USER.into()), name: "userName".into(), sub: None }, CompareOp::Sw, s("J"))
    );
    assert_eq!(
        parse(r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#),
        Filter::And(vec![
            cmp(p("userType"), CompareOp::Ne, s("Employee")),
            Filter::Not(Box::new(Filter::Or(vec![
                cmp(p("emails"), CompareOp::Co, s("example.com")),
                cmp(AttrPath::with_sub("emails", "value"), CompareOp::Co, s("example.org")),
            ]))),
        ])
    );
    assert_eq!(
        parse(r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#),
        Filter::Or(vec![
            Filter::ValuePath {
                path: p("emails"),
                filter: Box::new(Filter::And(vec![
                    cmp(p("type"), CompareOp::Eq, s("work")),
                    cmp(p("value"), CompareOp::Co, s("@example.com")),
                ])),
            },
            Filter::ValuePath {
                path: p("ims"),
                filter: Box::new(Filter::And(vec![
                    cmp(p("type"), CompareOp::Eq, s("xmpp")),
                    cmp(p("value"), CompareOp::Co, s("@foo.com")),
                ])),
            },
        ])
    );
}

// ---- A12.4 vectors -------------------------------------------------------------------

#[test]
fn and_binds_tighter_than_or() {
    assert_eq!(parse("a pr or b pr and c pr"), Filter::Or(vec![pr("a"), Filter::And(vec![pr("b"), pr("c")])]));
    assert_eq!(parse("a pr and b pr or c pr"), Filter::Or(vec![Filter::And(vec![pr("a"), pr("b")]), pr("c")]));
}

#[test]
fn not_binds_tighter_than_and() {
    assert_eq!(parse("not (a pr) and b pr"), Filter::And(vec![Filter::Not(Box::new(pr("a"))), pr("b")]));
    assert_eq!(
        parse("b pr or not (a pr) and c pr"),
        Filter::Or(vec![pr("b"), Filter::And(vec![Filter::Not(Box::new(pr("a"))), pr("c")])])
    );
}

#[test]
fn parentheses_override_precedence_and_vanish_when_redundant() {
    let grouped = round_trip("a pr and (b pr or c pr)", "a pr and (b pr or c pr)");
    assert_eq!(grouped, Filter::And(vec![pr("a"), Filter::Or(vec![pr("b"), pr("c")])]));
    round_trip("((a pr))", "a pr");
    round_trip("(a pr or b pr) or c pr", "a pr or b pr or c pr");
    round_trip("(a pr and b pr) and c pr", "a pr and b pr and c pr");
    round_trip("(a pr and b pr) or c pr", "a pr and b pr or c pr");
}

#[test]
fn not_without_a_space_parses_per_errata_7319() {
    assert_eq!(parse(r#"not(userName eq "x")"#), Filter::Not(Box::new(cmp(p("userName"), CompareOp::Eq, s("x")))));
    assert_eq!(parse(r#"not(userName eq "x")"#), parse(r#"not (userName eq "x")"#));
    round_trip(r#"not(userName eq "x")"#, r#"not (userName eq "x")"#);
}

#[test]
fn grouped_disjunction_with_boolean_literal_parses() {
    assert_eq!(
        parse(r#"(userName eq "a" or userName eq "b") and active eq true"#),
        Filter::And(vec![
            Filter::Or(vec![cmp(p("userName"), CompareOp::Eq, s("a")), cmp(p("userName"), CompareOp::Eq, s("b")),]),
            cmp(p("active"), CompareOp::Eq, CompValue::Bool(true)),
        ])
    );
    reg().parse_filter(ResourceKind::User, r#"(userName eq "a" or userName eq "b") and active eq true"#).unwrap();
}

#[test]
fn keywords_and_operators_are_case_insensitive() {
    let registry = reg();
    let upper = registry.parse_filter(ResourceKind::User, r#"USERNAME EQ "bjensen""#).unwrap();
    let lower = registry.parse_filter(ResourceKind::User, r#"userName eq "bjensen""#).unwrap();
    assert_eq!(upper, lower);
    // Names keep the client's case in the syntax tree; keywords print lowercase.
    round_trip(r#"USERNAME EQ "bjensen""#, r#"USERNAME eq "bjensen""#);
    assert_eq!(parse("a PR AND b Pr OR NOT (c pR)"), parse("a pr and b pr or not (c pr)"));
    for op in CompareOp::ALL {
        let upper = format!("x {} \"v\"", op.as_str().to_uppercase());
        assert_eq!(parse(&upper), cmp(p("x"), op, s("v")), "{upper}");
    }
    assert_eq!(
        parse("active eq TRUE or active eq False or title eq NULL"),
        Filter::Or(vec![
            cmp(p("active"), CompareOp::Eq, CompValue::Bool(true)),
            cmp(p("active"), CompareOp::Eq, CompValue::Bool(false)),
            cmp(p("title"), CompareOp::Eq, CompValue::Null),
        ])
    );
}

#[test]
fn keywords_are_never_matched_inside_names_or_quoted_values() {
    assert_eq!(parse("preferredLanguage pr"), pr("preferredLanguage"));
    assert_eq!(parse("notes pr and order pr"), Filter::And(vec![pr("notes"), pr("order")]));
    assert_eq!(
        parse(r#"nickName eq "and" or title eq "or""#),
        Filter::Or(vec![cmp(p("nickName"), CompareOp::Eq, s("and")), cmp(p("title"), CompareOp::Eq, s("or")),])
    );
    assert_eq!(parse(r#"title eq "x) or (y""#), cmp(p("title"), CompareOp::Eq, s("x) or (y")));
}

#[test]
fn enterprise_urn_qualified_paths_split_at_the_known_schema() {
    let registry = reg();
    let f = Filter::parse_with(
        &format!(r#"{ENTERPRISE}:employeeNumber eq "701984""#),
        registry.known_urns(),
        ParseLimits::default(),
    )
    .unwrap();
    assert_eq!(
        f,
        cmp(
            AttrPath { urn: Some(ENTERPRISE.into()), name: "employeeNumber".into(), sub: None },
            CompareOp::Eq,
            s("701984")
        )
    );
    let f = Filter::parse_with(
        &format!(r#"{ENTERPRISE}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#),
        registry.known_urns(),
        ParseLimits::default(),
    )
    .unwrap();
    assert_eq!(
        f,
        cmp(
            AttrPath { urn: Some(ENTERPRISE.into()), name: "manager".into(), sub: Some("value".into()) },
            CompareOp::Eq,
            s("26118915-6090-4610-87e4-49d8ca9f808d")
        )
    );
}

#[test]
fn custom_vendor_urn_paths_resolve_by_the_longest_known_urn() {
    let registry = ivanti();
    assert!(registry.known_urns().iter().any(|u| u == IVANTI));
    let f = Filter::parse_with(&format!("{IVANTI}:badgeNumber gt 5"), registry.known_urns(), ParseLimits::default())
        .unwrap();
    let Filter::Compare { path, .. } = &f else {
        panic!("expected a comparison, got {f:?}");
    };
    assert_eq!(path.urn.as_deref(), Some(IVANTI));
    assert_eq!(path.name, "badgeNumber");
    assert_eq!(path.sub, None);
    // The URN is matched case-insensitively and the filter resolves against the tenant.
    registry.parse_filter(ResourceKind::User, &format!("{}:BADGENUMBER gt 5", IVANTI.to_uppercase())).unwrap();
    // Another tenant does not know the ivanti extension.
    let err = filter_error(&reg(), ResourceKind::User, &format!("{IVANTI}:badgeNumber gt 5"));
    assert!(err.detail.contains("badgeNumber"), "{}", err.detail);
}

#[test]
fn custom_vendor_with_dots_resolves_by_the_longest_known_urn() {
    // A vendor segment may contain '.', so the URN itself holds extra dots.
    let registry = roster_scim::Registry::new(
        "acme.corp",
        &[roster_scim::schema::CustomAttribute {
            name: "level".into(),
            ty: roster_scim::schema::CustomAttributeType::String,
            multi_valued: false,
            description: "level".into(),
        }],
    );
    let urn = "urn:ietf:params:scim:schemas:extension:acme.corp:2.0:User";
    let f =
        Filter::parse_with(&format!(r#"{urn}:level eq "3""#), registry.known_urns(), ParseLimits::default()).unwrap();
    let Filter::Compare { path, .. } = &f else {
        panic!("expected a comparison, got {f:?}");
    };
    assert_eq!(path.urn.as_deref(), Some(urn));
    assert_eq!(path.name, "level");
    registry.parse_filter(ResourceKind::User, &format!(r#"{urn}:level eq "3""#)).unwrap();
}

#[test]
fn a_bare_known_schema_urn_in_a_filter_is_invalid() {
    let err = filter_error(&reg(), ResourceKind::User, &format!("{ENTERPRISE} pr"));
    assert!(err.detail.contains("needs an attribute name"), "{}", err.detail);
}

#[test]
fn value_path_with_sub_attribute_comparison_is_rewritten_per_f13() {
    assert_eq!(
        parse(r#"emails[type eq "work"].value eq "a@b.c""#),
        parse(r#"emails[type eq "work" and value eq "a@b.c"]"#)
    );
    assert_eq!(
        parse(r#"emails[type eq "work"].value eq "a@b.c""#),
        Filter::ValuePath {
            path: p("emails"),
            filter: Box::new(Filter::And(vec![
                cmp(p("type"), CompareOp::Eq, s("work")),
                cmp(p("value"), CompareOp::Eq, s("a@b.c")),
            ])),
        }
    );
    // `pr` after the sub-attribute works too, and an `or` inside stays grouped.
    assert_eq!(
        parse(r#"emails[type eq "work" or type eq "home"].value pr"#),
        Filter::ValuePath {
            path: p("emails"),
            filter: Box::new(Filter::And(vec![
                Filter::Or(vec![cmp(p("type"), CompareOp::Eq, s("work")), cmp(p("type"), CompareOp::Eq, s("home")),]),
                pr("value"),
            ])),
        }
    );
    round_trip(
        r#"emails[type eq "work" or type eq "home"].value pr"#,
        r#"emails[(type eq "work" or type eq "home") and value pr]"#,
    );
    // The rewritten filter combines with others at the top level.
    assert_eq!(
        parse(r#"emails[type eq "work"].value eq "a" and active eq true"#),
        Filter::And(vec![
            parse(r#"emails[type eq "work" and value eq "a"]"#),
            cmp(p("active"), CompareOp::Eq, CompValue::Bool(true)),
        ])
    );
}

#[test]
fn json_escapes_in_values_are_decoded() {
    assert_eq!(parse(r#"displayName eq "a \"q\" b""#), cmp(p("displayName"), CompareOp::Eq, s("a \"q\" b")));
    round_trip(r#"displayName eq "a \"q\" b""#, r#"displayName eq "a \"q\" b""#);
    assert_eq!(
        parse(r#"displayName eq "back\\slash\/solidus\ttab\nnl""#),
        cmp(p("displayName"), CompareOp::Eq, s("back\\slash/solidus\ttab\nnl"))
    );
    round_trip(r#"displayName eq "back\\slash\ttab""#, r#"displayName eq "back\\slash\ttab""#);
}

#[test]
fn unicode_escapes_and_raw_unicode_are_decoded() {
    assert_eq!(parse(r#"displayName eq "caf\u00e9""#), cmp(p("displayName"), CompareOp::Eq, s("café")));
    assert_eq!(parse(r#"displayName eq "caf\u00E9""#), parse(r#"displayName eq "café""#));
    assert_eq!(parse(r#"displayName eq "\ud83d\ude00 smile""#), cmp(p("displayName"), CompareOp::Eq, s("😀 smile")));
    round_trip(r#"displayName eq "ünïcødé 名前""#, r#"displayName eq "ünïcødé 名前""#);
}

#[test]
fn invalid_escapes_are_rejected_with_their_offset() {
    // `displayName eq "` is 16 bytes; the backslash is at byte 16.
    assert_eq!(error_offset(r#"displayName eq "\x""#), 16);
    assert_eq!(error_offset(r#"displayName eq "\ud83d""#), 16);
    assert_eq!(error_offset(r#"displayName eq "\u12""#), 16);
    // An unterminated string reports where it opened.
    assert_eq!(error_offset(r#"displayName eq "open"#), 15);
}

#[test]
fn bare_words_are_strings_per_f12() {
    assert_eq!(parse("userName eq bjensen"), parse(r#"userName eq "bjensen""#));
    assert_eq!(parse("externalId eq jyoung"), parse(r#"externalId eq "jyoung""#));
    round_trip("userName eq bjensen", r#"userName eq "bjensen""#);
    // But true/false/null and JSON numbers keep their JSON meaning.
    assert_eq!(parse("x eq true"), cmp(p("x"), CompareOp::Eq, CompValue::Bool(true)));
    assert_eq!(parse("x eq null"), cmp(p("x"), CompareOp::Eq, CompValue::Null));
    assert_eq!(parse("x eq 42"), cmp(p("x"), CompareOp::Eq, CompValue::Number(42.into())));
    assert_eq!(
        parse("x eq -1.5e3"),
        cmp(p("x"), CompareOp::Eq, CompValue::Number(serde_json::Number::from_f64(-1500.0).unwrap()))
    );
    // Not JSON numbers: read as bare words.
    assert_eq!(parse("x eq 007"), cmp(p("x"), CompareOp::Eq, s("007")));
    assert_eq!(parse("x eq 1."), cmp(p("x"), CompareOp::Eq, s("1.")));
    assert_eq!(parse("x eq truthy"), cmp(p("x"), CompareOp::Eq, s("truthy")));
}

#[test]
fn missing_value_is_invalid_filter_at_the_end() {
    assert_eq!(error_offset("userName eq"), 11);
}

#[test]
fn unknown_operator_is_invalid_filter_at_the_operator() {
    assert_eq!(error_offset(r#"userName xx "a""#), 9);
}

#[test]
fn dangling_and_is_invalid_filter_at_the_end() {
    assert_eq!(error_offset(r#"userName eq "a" and"#), 19);
}

#[test]
fn unclosed_parenthesis_is_invalid_filter() {
    assert_eq!(error_offset(r#"(userName eq "a""#), 16);
}

#[test]
fn unclosed_value_filter_is_invalid_filter() {
    assert_eq!(error_offset(r#"emails[type eq "work""#), 21);
}

#[test]
fn nested_value_filters_are_invalid_filter() {
    assert_eq!(error_offset(r#"emails[type eq "work" and ims[type eq "x"]]"#), 29);
}

#[test]
fn trailing_tokens_and_stray_brackets_are_invalid_filter() {
    assert_eq!(error_offset(r#"userName eq "a" "b""#), 16);
    assert_eq!(error_offset(r#"userName eq "a")"#), 15);
    assert_eq!(error_offset(r#"userName eq "a" not (b pr)"#), 16);
    assert_eq!(error_offset("]"), 0);
    assert_eq!(error_offset(""), 0);
    assert_eq!(error_offset("   "), 0);
    assert_eq!(error_offset("userName"), 8);
    // Paths inside [...] name sub-attributes only.
    assert_eq!(error_offset(r#"emails[emails.type eq "work"]"#), 7);
    // A value filter cannot follow a sub-attribute.
    assert_eq!(error_offset(r#"name.givenName[value eq "x"]"#), 0);
    // Attribute names follow RFC 7643 §2.1.
    assert_eq!(error_offset(r#"9lives eq "x""#), 0);
    assert_eq!(error_offset(r#"user#name eq "x""#), 4);
}

#[test]
fn dollar_ref_is_a_valid_attribute_name() {
    assert_eq!(
        parse(r#"members[$ref eq "x"]"#),
        Filter::ValuePath { path: p("members"), filter: Box::new(cmp(p("$ref"), CompareOp::Eq, s("x"))) }
    );
    assert_eq!(parse("manager.$ref pr"), Filter::Present(AttrPath::with_sub("manager", "$ref")));
}

#[test]
fn any_white_space_separates_tokens() {
    assert_eq!(parse("userName\teq\n\"a\"  and\r\ntitle   pr"), parse(r#"userName eq "a" and title pr"#));
}

// ---- budgets ------------------------------------------------------------------------

#[test]
fn filters_longer_than_the_length_budget_are_rejected() {
    let limits = ParseLimits::default();
    let prefix = r#"userName eq ""#;
    let fits = format!("{prefix}{}\"", "a".repeat(limits.max_len - prefix.len() - 1));
    assert_eq!(fits.len(), limits.max_len);
    Filter::parse(&fits).unwrap();
    let over = format!("{prefix}{}\"", "a".repeat(limits.max_len - prefix.len()));
    let err = Filter::parse(&over).unwrap_err();
    assert_eq!(err.offset, limits.max_len);
    assert!(err.message.contains("longer than 16384"), "{}", err.message);
    let err = filter_error(&reg(), ResourceKind::User, &over);
    assert_eq!(err.scim_type, Some(ScimType::InvalidFilter));
}

#[test]
fn nesting_deeper_than_the_depth_budget_is_rejected() {
    let nested = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
    let max = ParseLimits::default().max_depth;
    assert_eq!(Filter::parse(&nested(max)).unwrap(), pr("a"));
    let err = Filter::parse(&nested(max + 1)).unwrap_err();
    assert!(err.message.contains("deeper than 32"), "{}", err.message);
    let limits = ParseLimits { max_depth: 1, ..ParseLimits::default() };
    let none: &[&str] = &[];
    Filter::parse_with("not (a pr)", none, limits).unwrap();
    Filter::parse_with(r#"emails[type eq "w"]"#, none, limits).unwrap();
    Filter::parse_with("not ((a pr))", none, limits).unwrap_err();
    Filter::parse_with(r#"(emails[type eq "w"])"#, none, limits).unwrap_err();
    Filter::parse_with("not (not (a pr))", none, limits).unwrap_err();
    // Depth is nesting, not count: siblings at depth one are fine.
    Filter::parse_with("(a pr) and (b pr) and not (c pr)", none, limits).unwrap();
}

#[test]
fn more_terms_than_the_term_budget_are_rejected() {
    let terms = |n: usize| vec!["a pr"; n].join(" or ");
    let max = ParseLimits::default().max_terms;
    let Filter::Or(parsed) = Filter::parse(&terms(max)).unwrap() else {
        panic!("expected a disjunction");
    };
    assert_eq!(parsed.len(), max);
    let err = Filter::parse(&terms(max + 1)).unwrap_err();
    assert!(err.message.contains("more than 500"), "{}", err.message);
    let limits = ParseLimits { max_terms: 2, ..ParseLimits::default() };
    let none: &[&str] = &[];
    Filter::parse_with(r#"emails[type eq "w" and value pr]"#, none, limits).unwrap();
    Filter::parse_with(r#"emails[type eq "w"].value eq "x" and a pr"#, none, limits).unwrap_err();
}

#[test]
fn term_count_counts_attribute_expressions() {
    assert_eq!(parse(r#"a pr and not (b eq 1 or c[d eq "x" and e pr])"#).term_count(), 4);
}

#[test]
fn hand_built_trees_normalize_to_what_the_parser_produces() {
    let built = Filter::And(vec![Filter::And(vec![pr("a"), pr("b")]), Filter::Or(vec![pr("c")])]);
    let printed = built.to_string();
    assert_eq!(parse(&printed), built.clone().normalized());
    assert_eq!(built.normalized(), Filter::And(vec![pr("a"), pr("b"), pr("c")]));
}

// ---- PATCH paths ----------------------------------------------------------------------

#[test]
fn patch_paths_of_rfc_figure_7_parse() {
    let known = reg().known_urns().to_vec();
    let parse_path = |s: &str| PatchPath::parse_with(s, &known).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"));
    assert_eq!(parse_path("members"), PatchPath::Attr(p("members")));
    assert_eq!(parse_path("name.familyName"), PatchPath::Attr(AttrPath::with_sub("name", "familyName")));
    assert_eq!(
        parse_path(r#"addresses[type eq "work"]"#),
        PatchPath::Filtered { path: p("addresses"), filter: cmp(p("type"), CompareOp::Eq, s("work")), sub: None }
    );
    assert_eq!(
        parse_path(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"].display"#),
        PatchPath::Filtered {
            path: p("members"),
            filter: cmp(p("value"), CompareOp::Eq, s("2819c223-7f76-453a-919d-413861904646")),
            sub: Some("display".into())
        }
    );
    assert_eq!(parse_path(ENTERPRISE), PatchPath::Schema(ENTERPRISE.into()));
    assert_eq!(
        parse_path(&format!("{ENTERPRISE}:manager")),
        PatchPath::Attr(AttrPath { urn: Some(ENTERPRISE.into()), name: "manager".into(), sub: None })
    );
    assert_eq!(
        parse_path(&format!("{ENTERPRISE}:manager.value")),
        PatchPath::Attr(AttrPath { urn: Some(ENTERPRISE.into()), name: "manager".into(), sub: Some("value".into()) })
    );
    for text in [
        "members",
        "name.familyName",
        r#"emails[type eq "work" and value ew "example.com"]"#,
        r#"addresses[type eq "work"].streetAddress"#,
        ENTERPRISE,
    ] {
        assert_eq!(parse_path(text).to_string(), text);
        assert_eq!(parse_path(&parse_path(text).to_string()), parse_path(text));
    }
}

#[test]
fn malformed_patch_paths_are_rejected_with_offsets() {
    let bad = [
        ("", 0),
        (r#"emails[type eq "work""#, 21),
        (r#"emails[type eq "work"]value"#, 22),
        (r#"emails[type eq "work"].value.x"#, 28),
        ("name.givenName extra", 15),
        (r#"name.givenName[value eq "x"]"#, 0),
        ("[type eq \"x\"]", 0),
        ("1name", 0),
    ];
    for (text, offset) in bad {
        let err = PatchPath::parse(text).expect_err(text);
        assert_eq!(err.offset, offset, "{text:?}: {err}");
        let scim = err.into_path_error();
        assert_eq!(scim.scim_type, Some(ScimType::InvalidPath));
    }
}
