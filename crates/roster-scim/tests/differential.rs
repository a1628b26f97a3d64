//! Differential test of Roster's filter and PATCH-path parsers against the `scim_v2` crate
//! (1.0.0, a LALRPOP parser; `reference/rust-stack.md` §4, §15).
//!
//! Both parsers must accept and reject the same inputs and, when both accept, produce the
//! same tree. Every input where they differ is listed here with the reason: a leniency
//! Roster needs for an identity provider (Part F of the requirements catalog), or a place
//! where Roster is deliberately stricter. Any other difference fails the test, and so does
//! an allow-listed difference that has gone away (the list must stay true).

// Test helpers outside `#[test]` functions unwrap too: a failed expectation is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::sample::select;
use roster_scim::{AttrPath, CompValue, CompareOp, Filter, ParseLimits, PatchPath, Registry};
use scim_v2::filter as v2;

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::standard);

fn roster(input: &str) -> Option<Filter> {
    Filter::parse_with(input, REGISTRY.known_urns(), ParseLimits::default()).ok()
}

fn scim_v2(input: &str) -> Option<Filter> {
    input.parse::<v2::Filter>().ok().map(|f| from_v2(&f).normalized())
}

fn roster_path(input: &str) -> Option<PatchPath> {
    PatchPath::parse_with(input, REGISTRY.known_urns()).ok()
}

fn scim_v2_path(input: &str) -> Option<PatchPath> {
    input.parse::<v2::PatchPath>().ok().map(|p| path_from_v2(&p))
}

// ---------------------------------------------------------------------------------------
// scim_v2's AST in Roster's terms
// ---------------------------------------------------------------------------------------

fn from_v2(f: &v2::Filter) -> Filter {
    match f {
        v2::Filter::Attr(e) => attr_exp(e),
        v2::Filter::ValuePath(vp) => {
            Filter::ValuePath { path: attr_path(&vp.attr), filter: Box::new(val_filter(&vp.filter)) }
        }
        v2::Filter::Not(inner) => Filter::Not(Box::new(from_v2(inner))),
        v2::Filter::And(items) => Filter::And(items.iter().map(from_v2).collect()),
        v2::Filter::Or(items) => Filter::Or(items.iter().map(from_v2).collect()),
    }
}

fn val_filter(f: &v2::ValFilter) -> Filter {
    match f {
        v2::ValFilter::Attr(e) => attr_exp(e),
        v2::ValFilter::Not(inner) => Filter::Not(Box::new(val_filter(inner))),
        v2::ValFilter::And(items) => Filter::And(items.iter().map(val_filter).collect()),
        v2::ValFilter::Or(items) => Filter::Or(items.iter().map(val_filter).collect()),
    }
}

fn attr_exp(e: &v2::AttrExp) -> Filter {
    match e {
        v2::AttrExp::Present(path) => Filter::Present(attr_path(path)),
        v2::AttrExp::Comparison(path, op, value) => {
            Filter::Compare { path: attr_path(path), op: compare_op(op), value: comp_value(value) }
        }
    }
}

fn attr_path(p: &v2::AttrPath) -> AttrPath {
    AttrPath { urn: p.uri.clone(), name: p.name.clone(), sub: p.sub_attr.clone() }
}

fn compare_op(op: &v2::CompareOp) -> CompareOp {
    match op {
        v2::CompareOp::Eq => CompareOp::Eq,
        v2::CompareOp::Ne => CompareOp::Ne,
        v2::CompareOp::Co => CompareOp::Co,
        v2::CompareOp::Sw => CompareOp::Sw,
        v2::CompareOp::Ew => CompareOp::Ew,
        v2::CompareOp::Gt => CompareOp::Gt,
        v2::CompareOp::Lt => CompareOp::Lt,
        v2::CompareOp::Ge => CompareOp::Ge,
        v2::CompareOp::Le => CompareOp::Le,
    }
}

fn comp_value(v: &v2::CompValue) -> CompValue {
    match v {
        v2::CompValue::False => CompValue::Bool(false),
        v2::CompValue::True => CompValue::Bool(true),
        v2::CompValue::Null => CompValue::Null,
        v2::CompValue::Number(n) => CompValue::Number(n.clone()),
        v2::CompValue::Str(s) => CompValue::String(s.clone()),
    }
}

fn path_from_v2(p: &v2::PatchPath) -> PatchPath {
    match p {
        v2::PatchPath::Attr(a) => {
            let path = attr_path(a);
            // scim_v2 has no "whole extension" form: `urn:...:2.0:User` is read as the
            // attribute `User` of the schema `urn:...:2.0`. Roster knows the URN.
            let whole = format!("{}:{}", path.urn.as_deref().unwrap_or_default(), path.name);
            match REGISTRY.known_urns().iter().find(|u| **u == whole) {
                Some(urn) if path.urn.is_some() && path.sub.is_none() => PatchPath::Schema(urn.clone()),
                _ => PatchPath::Attr(path),
            }
        }
        v2::PatchPath::Value(vp) => PatchPath::Filtered {
            path: attr_path(&vp.attr),
            filter: val_filter(&vp.filter).normalized(),
            sub: vp.sub_attr.clone(),
        },
    }
}

// ---------------------------------------------------------------------------------------
// The allow-list
// ---------------------------------------------------------------------------------------

/// Why the two parsers may disagree on an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Difference {
    // Roster accepts, scim_v2 rejects: leniencies.
    /// F-12: a bare word is a string value (WSO2, old Entra docs: `externalId eq jyoung`).
    /// Also covers words that are not JSON numbers (`01`), read as strings too.
    BareWord,
    /// F-13: `attr[filter].sub op value` means `attr[filter and sub op value]` (Entra's
    /// uniqueness queries). scim_v2 allows `.sub` only after a PATCH path's brackets.
    ValuePathSubAttribute,
    /// `true`/`false`/`null` in any case, like the operators (RFC 7644 §3.4.2.2 makes
    /// keywords case-insensitive; scim_v2 does so for operators only).
    CaseInsensitiveLiteral,
    /// `$ref` (RFC 7643 §2.1 allows `$` in names; `members.$ref`, `groups.$ref`).
    DollarRef,
    /// Errata 7319: `not(...)` needs no space. scim_v2's `not` token demands one.
    NotWithoutSpace,
    /// Any white space or bracket separates tokens: `userName eq"x"`, `(a pr)and(b pr)`.
    /// scim_v2's keyword tokens require white space on both sides.
    TightTokens,
    /// A name spelled like a keyword (`not pr`, `true pr`) where only a name can stand.
    /// scim_v2's lexer always takes `not `/`true` for keywords.
    KeywordAsName,
    /// An unescaped control character inside a string literal: JSON forbids it; Roster
    /// takes it as is (a raw tab that survived URL decoding is still the client's value)
    /// and always prints it escaped.
    RawControlCharacter,

    // scim_v2 accepts, Roster rejects: deliberate strictness.
    /// A schema prefix that is not a URN (`a:b:c pr`). SCIM schema ids are URNs (RFC 7643
    /// §3); Roster splits only `urn:` words, at the longest known schema URN.
    NonUrnSchemaPrefix,
    /// A URN or dotted name inside `[...]`: the value filter names sub-attributes of the
    /// filtered attribute (RFC 7644 §3.4.2.2), so Roster refuses anything else.
    QualifiedNameInValueFilter,
    /// `name.givenName[...]`: a value filter applies to an attribute, not a sub-attribute.
    ValuePathOnSubAttribute,
    /// Roster's budgets ([`ParseLimits::default`]: 32 levels, 500 terms) are tighter than
    /// scim_v2's (64 levels, 1,024 terms).
    Budget,

    // Both accept, different trees.
    /// `urn:...:2.0:User.userName`: Roster splits at the known URN (either `:` or `.` may
    /// follow it); scim_v2 splits at the last `:` and reads `User` as the attribute.
    UrnFollowedByDot,
}

impl Difference {
    fn roster_only(self) -> bool {
        matches!(
            self,
            Difference::BareWord
                | Difference::ValuePathSubAttribute
                | Difference::CaseInsensitiveLiteral
                | Difference::DollarRef
                | Difference::NotWithoutSpace
                | Difference::TightTokens
                | Difference::KeywordAsName
                | Difference::RawControlCharacter
        )
    }

    fn scim_v2_only(self) -> bool {
        matches!(
            self,
            Difference::NonUrnSchemaPrefix
                | Difference::QualifiedNameInValueFilter
                | Difference::ValuePathOnSubAttribute
                | Difference::Budget
        )
    }
}

use Difference::*;

/// Filters both parsers must treat alike: every RFC 7644 §3.4.2.2 example (A12.3), the
/// catalog's extra vectors (A12.4), and the filters Entra ID and Okta send.
const SAME: &[&str] = &[
    // A12.3
    r#"userName eq "bjensen""#,
    r#"name.familyName co "O'Malley""#,
    r#"userName sw "J""#,
    r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
    r#"title pr"#,
    r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
    r#"title pr and userType eq "Employee""#,
    r#"title pr or userType eq "Intern""#,
    r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
    r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
    r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
    r#"userType eq "Employee" and (emails.type eq "work")"#,
    r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
    r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    // A12.4
    r#"a pr or b pr and c pr"#,
    r#"not (a pr) and b pr"#,
    r#"(userName eq "a" or userName eq "b") and active eq true"#,
    r#"USERNAME EQ "bjensen""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
    r#"displayName eq "a \"q\" b""#,
    r#"displayName eq "caf\u00e9""#,
    r#"externalId eq "ABC""#,
    r#"active gt true"#,
    r#"password eq "x""#,
    // Entra ID and Okta
    r#"userName eq "Test_User_ab6490ee@testuser.com""#,
    r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#,
    r#"displayName eq "Group1DisplayName""#,
    r#"id eq "e9e30dba-f08f-4109-8486-d5c6a331660a" and members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
    r#"emails[type eq "work" and primary eq true]"#,
    // Keywords, literals and layout
    r#"userName eq "x" AND title pr"#,
    r#"userName Eq "x" oR NOT (title PR)"#,
    r#"emails[not (type eq "work")]"#,
    r#"id eq "1" or id eq "2" or id eq "3" or id eq "4""#,
    r#"x eq -1.5e3 and y eq 0 and z eq null and w ne false"#,
    "  userName eq \"x\"\t",
    "userName\u{a0}eq\u{a0}\"x\"",
    r#"urn:ietf:params:scim:schemas:extension:roster:2.0:User:costCenter eq "x""#,
    r#"meta.version eq "W/\"1\"""#,
    r#"displayName eq "\ud83d\ude00 \t \/""#,
    r#"a-b_c pr"#,
    r#"eq eq "eq" and pr pr and and pr"#,
    // Both reject
    r#"userName eq"#,
    r#"userName xx "a""#,
    r#"userName eq "a" and"#,
    r#"(userName eq "a""#,
    r#"emails[type eq "work""#,
    r#"emails[type eq "work" and ims[type eq "x"]]"#,
    "",
    "   ",
    r#"userName eq "unterminated"#,
    r#"a.b.c pr"#,
    r#"1abc pr"#,
    r#"-x pr"#,
    r#".name pr"#,
    r#"name. pr"#,
    r#"userName eq "\x""#,
    r#"userName eq "\ud800""#,
    r#"userName eq "\udc00""#,
    r#"userName eq 1e999"#,
    r#"userName pr pr"#,
    r#"and"#,
    r#"()"#,
    r#"not ()"#,
    r#"[a pr]"#,
    r#"emails[]"#,
    r#"userName eq "a" userName eq "b""#,
    r#"userName eq "a" )"#,
    r#"emails[type eq "work"] pr"#,
    r#"http://example.com/x:attr pr"#,
];

/// Filters where the parsers differ, and why.
const DIFFERENT: &[(&str, Difference)] = &[
    (r#"userName eq bjensen"#, BareWord),
    (r#"externalId eq jyoung"#, BareWord),
    (r#"userName eq 01"#, BareWord),
    (r#"userName eq -"#, BareWord),
    (r#"emails[type eq "work"].value eq "a@b.c""#, ValuePathSubAttribute),
    (r#"emails[type eq "work" or type eq "home"].value co "@x.io""#, ValuePathSubAttribute),
    (r#"active eq True"#, CaseInsensitiveLiteral),
    (r#"title eq NULL"#, CaseInsensitiveLiteral),
    (r#"members.$ref pr"#, DollarRef),
    (r#"members[$ref eq "https://x/Users/1"]"#, DollarRef),
    (r#"not(userName eq "x")"#, NotWithoutSpace),
    (r#"NOT(title pr) and userType pr"#, NotWithoutSpace),
    (r#"userName eq"x""#, TightTokens),
    (r#"(title pr)and(userType pr)"#, TightTokens),
    (r#"emails[type eq "work"]or title pr"#, TightTokens),
    (r#"not pr"#, KeywordAsName),
    (r#"true pr"#, KeywordAsName),
    (r#"title pr or not eq "x""#, KeywordAsName),
    ("displayName eq \"tab\there\"", RawControlCharacter),
    ("displayName eq \"line\nbreak\"", RawControlCharacter),
    (r#"a:b:c pr"#, NonUrnSchemaPrefix),
    (r#"x-schema:v1:userName eq "y""#, NonUrnSchemaPrefix),
    (r#"emails[type.value eq "work"]"#, QualifiedNameInValueFilter),
    (r#"emails[urn:ietf:params:scim:schemas:core:2.0:User:type eq "work"]"#, QualifiedNameInValueFilter),
    (r#"name.givenName[value pr]"#, ValuePathOnSubAttribute),
    (r#"urn:ietf:params:scim:schemas:core:2.0:User.userName eq "x""#, UrnFollowedByDot),
];

/// Inputs over Roster's budgets but within scim_v2's.
fn budget_inputs() -> Vec<String> {
    let many_terms = (0..600).map(|i| format!("id eq \"{i}\"")).collect::<Vec<_>>().join(" or ");
    let deep = format!("{}title pr{}", "(".repeat(40), ")".repeat(40));
    let deep_not = format!("{}title pr{}", "not (".repeat(40), ")".repeat(40));
    vec![many_terms, deep, deep_not]
}

/// PATCH paths (RFC 7644 §3.5.2 and the IdP shapes of A18).
const SAME_PATHS: &[&str] = &[
    "members",
    "name.familyName",
    r#"addresses[type eq "work"]"#,
    r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
    r#"members[value eq "2819c223-7f76-453a-919d-413861904646"].display"#,
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    r#"emails[type eq "work"].value"#,
    r#"emails[type eq "work" and primary eq true].value"#,
    r#"phoneNumbers[type eq "fax"]"#,
    r#"roles[primary eq true]"#,
    "",
    r#"emails[type eq "work""#,
    r#"emails[type eq "work"]."#,
    r#"emails[type eq "work"].value.x"#,
    "a.b.c",
    r#"emails[type eq "work"] extra"#,
];

const DIFFERENT_PATHS: &[(&str, Difference)] = &[
    ("members.$ref", DollarRef),
    (r#"members[value eq "1"].$ref"#, DollarRef),
    (r#"roles[primary eq True]"#, CaseInsensitiveLiteral),
    (r#"emails[value eq x@y.z]"#, BareWord),
    (r#"emails[not(type eq "work")]"#, NotWithoutSpace),
    (r#"emails[type.x eq "work"]"#, QualifiedNameInValueFilter),
    (r#"name.givenName[value pr]"#, ValuePathOnSubAttribute),
];

/// Checks one input against its expectation; returns a description of any violation.
fn check<T: PartialEq + std::fmt::Debug>(
    input: &str,
    roster: Option<T>,
    scim_v2: Option<T>,
    expected: Option<Difference>,
) -> Option<String> {
    let observed = match (&roster, &scim_v2) {
        (None, None) => "both reject",
        (Some(r), Some(v)) if r == v => "both accept alike",
        (Some(_), Some(_)) => "both accept, trees differ",
        (Some(_), None) => "only Roster accepts",
        (None, Some(_)) => "only scim_v2 accepts",
    };
    let fine = match expected {
        None => matches!(observed, "both reject" | "both accept alike"),
        Some(d) if d.roster_only() => observed == "only Roster accepts",
        Some(d) if d.scim_v2_only() => observed == "only scim_v2 accepts",
        Some(_) => observed == "both accept, trees differ",
    };
    (!fine).then(|| {
        format!(
            "{input:?}: {observed} (expected {}):\n  Roster:  {roster:?}\n  scim_v2: {scim_v2:?}",
            expected.map_or("no difference".into(), |d| format!("{d:?}"))
        )
    })
}

#[test]
fn filter_parsers_agree_on_the_corpus_except_for_listed_differences() {
    let mut failures = Vec::new();
    let budget = budget_inputs();
    let cases = SAME
        .iter()
        .map(|s| (*s, None))
        .chain(DIFFERENT.iter().map(|(s, d)| (*s, Some(*d))))
        .chain(budget.iter().map(|s| (s.as_str(), Some(Budget))));
    for (input, expected) in cases {
        failures.extend(check(input, roster(input), scim_v2(input), expected));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn path_parsers_agree_on_the_corpus_except_for_listed_differences() {
    let mut failures = Vec::new();
    let cases = SAME_PATHS.iter().map(|s| (*s, None)).chain(DIFFERENT_PATHS.iter().map(|(s, d)| (*s, Some(*d))));
    for (input, expected) in cases {
        failures.extend(check(input, roster_path(input), scim_v2_path(input), expected));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Generated filters in the common language of both parsers
// ---------------------------------------------------------------------------------------

const KEYWORDS: &[&str] =
    &["and", "or", "not", "pr", "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "true", "false", "null"];

/// RFC 7644 `ATTRNAME` without `$` and without keywords.
fn portable_name() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "userName",
            "emails",
            "value",
            "type",
            "primary",
            "name",
            "givenName",
            "meta",
            "lastModified",
            "members",
            "display",
            "x-ms-id",
            "a_b",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z][a-zA-Z0-9_-]{0,8}".prop_filter("keyword", |s| !KEYWORDS.contains(&s.to_ascii_lowercase().as_str())),
    ]
}

fn portable_path() -> impl Strategy<Value = AttrPath> {
    (
        prop::option::weighted(0.2, select(REGISTRY.known_urns().to_vec())),
        portable_name(),
        prop::option::weighted(0.3, portable_name()),
    )
        .prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
}

fn portable_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<f64>().prop_filter_map("finite", serde_json::Number::from_f64).prop_map(CompValue::Number),
        // Any text but U+0000, which filters refuse.
        any::<String>().prop_map(|s| CompValue::String(s.replace('\0', ""))),
        "[a-z \"\\\\/\\x01-\\x1f\\x{e9}\\x{1f600}]{0,10}".prop_map(CompValue::String),
    ]
}

fn portable_leaf(path: BoxedStrategy<AttrPath>) -> BoxedStrategy<Filter> {
    prop_oneof![
        path.clone().prop_map(Filter::Present),
        (path, select(CompareOp::ALL.to_vec()), portable_value()).prop_map(|(path, op, value)| Filter::Compare {
            path,
            op,
            value
        }),
    ]
    .boxed()
}

fn portable_logic(leaf: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
    .boxed()
}

fn portable_filter() -> impl Strategy<Value = Filter> {
    let inner = portable_logic(portable_leaf(portable_name().prop_map(AttrPath::simple).boxed()));
    let parent = (prop::option::weighted(0.2, select(REGISTRY.known_urns().to_vec())), portable_name())
        .prop_map(|(urn, name)| AttrPath { urn, name, sub: None });
    let value_path = (parent, inner).prop_map(|(path, f)| Filter::ValuePath { path, filter: Box::new(f) });
    let top = prop_oneof![3 => portable_leaf(portable_path().boxed()), 1 => value_path].boxed();
    portable_logic(top).prop_map(Filter::normalized)
}

proptest! {
    #![proptest_config(ProptestConfig {
        // `PROPTEST_CASES` overrides, for longer local runs.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(1024),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// A filter in the language both parsers share, printed by Roster, is read to the same
    /// tree by both.
    #[test]
    fn both_parsers_read_generated_filters_alike(f in portable_filter()) {
        let printed = f.to_string();
        prop_assert_eq!(roster(&printed), Some(f.clone()), "Roster, {:?}", printed);
        prop_assert_eq!(scim_v2(&printed), Some(f), "scim_v2, {:?}", printed);
    }

    /// The same for PATCH paths built from generated value filters.
    #[test]
    fn both_parsers_read_generated_paths_alike(
        f in portable_filter(),
        sub in prop::option::of(portable_name()),
    ) {
        let Filter::ValuePath { path, filter } = f else {
            return Ok(());
        };
        let patch_path = PatchPath::Filtered { path, filter: *filter, sub };
        let printed = patch_path.to_string();
        prop_assert_eq!(roster_path(&printed), Some(patch_path.clone()), "Roster, {:?}", printed);
        prop_assert_eq!(scim_v2_path(&printed), Some(patch_path), "scim_v2, {:?}", printed);
    }
}
