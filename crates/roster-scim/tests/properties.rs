//! Property tests of the SCIM protocol core (`reference/rust-stack.md` §12):
//!
//! - filters: a generated, normalised AST prints and parses back to itself, also when
//!   printed with upper-case keywords, `not(` without a space and redundant parentheses;
//! - the filter and PATCH-path parsers never panic, on arbitrary text and on token soups
//!   built from the filter vocabulary, and whatever they accept re-prints stably;
//! - PATCH laws on generated users and groups (RFC 7644 §3.5.2, A18, F-4, F-5, F-24): add
//!   then remove of a value is a no-op; add, remove and replace are idempotent; a request
//!   whose last operation fails is an error and leaves the resource as it was (P7);
//! - canonical storage: what validation and PATCH store validates, as a PUT body, to
//!   itself (no duplicate elements, one `primary`, nothing empty);
//! - evaluation: `not`, `and`, `or` and `ne` mean what their names say on generated users.
//!
//! The differential test against the `scim_v2` crate lives in `tests/differential.rs`.

// Test helpers outside `#[test]` functions unwrap too: a failed expectation is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::sample::select;
use roster_scim::patch::PATCH_OP_SCHEMA;
use roster_scim::resource::{Derived, Meta, render, validate_resource};
use roster_scim::schema::ENTERPRISE_USER;
use roster_scim::{
    AttrPath, CompValue, CompareOp, Filter, MemberRef, ParseLimits, PatchOutcome, PatchPath, PatchRequest, Policy,
    Registry, ResourceKind, ScimError, ScimType, UnknownFilterAttribute, apply_patch,
};
use serde_json::{Map, Value, json};

/// A tenant whose custom extension URN has a dot in its vendor segment
/// (`urn:ietf:params:scim:schemas:extension:acme.example:2.0:User`), so URN splitting is
/// exercised beyond the `2.0` every standard URN contains.
static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry::new("acme.example", &[]));

const USER_ID: &str = "2819c223-7f76-453a-919d-413861904646";
const GROUP_ID: &str = "e9e30dba-f08f-4109-8486-d5c6a331660a";

/// Re-parsing printed output: printing adds escapes (longer) and, for an F-13 rewrite,
/// parentheses (one level deeper), so the input budgets do not apply to it.
const RELAXED: ParseLimits = ParseLimits { max_len: usize::MAX, max_depth: usize::MAX, max_terms: usize::MAX };

/// `cases` cases per property, or `PROPTEST_CASES` when set (for longer local runs).
/// Failures are not persisted: proptest cannot place its regression files beside an
/// integration test, and it prints the minimal failing input anyway.
fn config(cases: u32) -> ProptestConfig {
    let from_env = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok());
    ProptestConfig { cases: from_env.unwrap_or(cases), failure_persistence: None, ..ProptestConfig::default() }
}

fn parse(input: &str) -> Result<Filter, roster_scim::FilterError> {
    Filter::parse_with(input, REGISTRY.known_urns(), ParseLimits::default())
}

// ---------------------------------------------------------------------------------------
// Filter generators
// ---------------------------------------------------------------------------------------

/// `ATTRNAME` (RFC 7643 §2.1 plus `$`), including names that spell keywords, which the
/// parser must still read as names where a name is expected.
fn attr_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(vec![
            "userName", "displayName", "emails", "value", "type", "primary", "name",
            "givenName", "active", "members", "$ref", "meta", "lastModified", "externalId",
            "id", "title", "not", "and", "or", "pr", "eq", "true", "null", "urn", "Urn",
        ])
        .prop_map(str::to_string),
        2 => "[a-zA-Z$][a-zA-Z0-9$_-]{0,10}",
    ]
}

/// A known schema URN, as written by the client (any case).
fn known_urn() -> impl Strategy<Value = String> {
    (select(REGISTRY.known_urns().to_vec()), any::<bool>())
        .prop_map(|(urn, upper)| if upper { urn.to_ascii_uppercase() } else { urn })
}

/// `[URI ":"] ATTRNAME ["." subAttr]`.
fn attr_path() -> impl Strategy<Value = AttrPath> {
    (prop::option::weighted(0.25, known_urn()), attr_name(), prop::option::weighted(0.3, attr_name()))
        .prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
}

/// The attribute a value path filters: no sub-attribute (the parser refuses `a.b[...]`).
fn value_path_parent() -> impl Strategy<Value = AttrPath> {
    (prop::option::weighted(0.25, known_urn()), attr_name()).prop_map(|(urn, name)| AttrPath { urn, name, sub: None })
}

/// Strings that stress the printer's escaping and the lexer's unescaping.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\"\\\\/ a-zA-Z0-9\\x00-\\x1f\\x7f\\x{80}-\\x{ff}\\x{2028}\\x{2029}\\x{fffd}😀()\\[\\]]{0,12}",
        select(vec![
            "",
            "true",
            "null",
            "1",
            "and",
            "or",
            "not (",
            "eq",
            "\"",
            "\\",
            "a \"q\" b",
            "café",
            "O'Malley",
            "\u{0}",
            "\u{1f}",
        ])
        .prop_map(str::to_string),
    ]
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        1 => Just(CompValue::Null),
        1 => any::<bool>().prop_map(CompValue::Bool),
        1 => any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        1 => any::<u64>().prop_map(|n| CompValue::Number(n.into())),
        1 => any::<f64>()
            .prop_filter_map("finite", serde_json::Number::from_f64)
            .prop_map(CompValue::Number),
        // Filters refuse U+0000 (a test below checks that), so comparison values hold none.
        3 => tricky_string().prop_map(|s| CompValue::String(s.replace('\0', ""))),
    ]
}

/// `path pr` or `path op value`.
fn leaf(path: BoxedStrategy<AttrPath>) -> BoxedStrategy<Filter> {
    prop_oneof![
        1 => path.clone().prop_map(Filter::Present),
        3 => (path, select(CompareOp::ALL.to_vec()), comp_value())
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
    ]
    .boxed()
}

/// `and`, `or` and `not` over `leaf`.
fn logic(leaf: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
    .boxed()
}

/// A whole filter in normalised form: value paths hold plain sub-attribute names.
fn filter() -> impl Strategy<Value = Filter> {
    let plain = attr_name().prop_map(AttrPath::simple).boxed();
    let inner = logic(leaf(plain));
    let value_path = (value_path_parent(), inner).prop_map(|(path, f)| Filter::ValuePath { path, filter: Box::new(f) });
    let top = prop_oneof![3 => leaf(attr_path().boxed()), 1 => value_path].boxed();
    logic(top).prop_map(Filter::normalized)
}

/// Prints a filter the way a sloppy client might: upper-case keywords and literals,
/// `NOT(` without a space (errata 7319), every compound term in redundant parentheses,
/// and odd white space. It must parse to the same tree as the canonical form.
fn shout(f: &Filter) -> String {
    fn value(v: &CompValue) -> String {
        match v {
            CompValue::Null => "NULL".into(),
            CompValue::Bool(true) => "True".into(),
            CompValue::Bool(false) => "FALSE".into(),
            other => other.to_string(),
        }
    }
    match f {
        Filter::Present(path) => format!("{path}\tPR"),
        Filter::Compare { path, op, value: v } => {
            format!("{path}  {}\n{}", op.as_str().to_ascii_uppercase(), value(v))
        }
        Filter::ValuePath { path, filter } => format!("{path}[ {} ]", shout(filter)),
        Filter::Not(inner) => format!("NOT({})", shout(inner)),
        Filter::And(terms) => terms.iter().map(|t| format!("({})", shout(t))).collect::<Vec<_>>().join(" AND "),
        Filter::Or(terms) => terms.iter().map(|t| format!("({})", shout(t))).collect::<Vec<_>>().join(" oR "),
    }
}

/// Words, brackets and literals of the filter language, for token soups.
const VOCABULARY: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "not",
    "NOT",
    "not(",
    "and",
    "Or",
    "pr",
    "eq",
    "Ne",
    "co",
    "sw",
    "ew",
    "gt",
    "ge",
    "lt",
    "le",
    "xx",
    "\"x\"",
    "\"",
    "\\",
    "\"a \\\"q\\\" b\"",
    "\"caf\\u00e9\"",
    "\"\\ud83d\\ude00\"",
    "\"\\ud83d\"",
    "\"\\udc00\"",
    "\"\\x\"",
    "userName",
    "emails",
    ".value",
    ".",
    "..",
    "name.givenName",
    "a.b.c",
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager",
    "urn:x:",
    "urn:",
    ":",
    "$ref",
    "members.$ref",
    "true",
    "False",
    "null",
    "1",
    "-1.5e3",
    "1e999",
    "01",
    "-",
    "é",
    "😀",
    "\u{0}",
    "\u{a0}",
    "[]",
    "()",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec((select(VOCABULARY), select(vec!["", " ", "  ", "\t", "\u{3000}"])), 0..24)
        .prop_map(|parts| parts.into_iter().flat_map(|(token, space)| [token, space]).collect())
}

/// What every accepted filter must satisfy: the parser's output is normalised, and it
/// prints to text that parses back to the same tree.
fn assert_accepted_filter_is_stable(input: &str) -> Result<(), TestCaseError> {
    if let Ok(filter) = parse(input) {
        prop_assert_eq!(&filter.clone().normalized(), &filter, "input {:?}", input);
        let printed = filter.to_string();
        let again = Filter::parse_with(&printed, REGISTRY.known_urns(), RELAXED);
        prop_assert_eq!(again, Ok(filter), "input {:?} printed {:?}", input, printed);
    }
    Ok(())
}

fn assert_accepted_path_is_stable(input: &str) -> Result<(), TestCaseError> {
    if let Ok(path) = PatchPath::parse_with(input, REGISTRY.known_urns()) {
        let printed = path.to_string();
        let again = PatchPath::parse_with(&printed, REGISTRY.known_urns());
        prop_assert_eq!(again, Ok(path), "input {:?} printed {:?}", input, printed);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn printed_filter_parses_back_to_the_same_tree(f in filter()) {
        let printed = f.to_string();
        prop_assert_eq!(parse(&printed), Ok(f), "printed {:?}", printed);
    }

    #[test]
    fn shouted_filter_with_redundant_parentheses_parses_to_the_same_tree(f in filter()) {
        let shouted = shout(&f);
        let parsed = Filter::parse_with(&shouted, REGISTRY.known_urns(), RELAXED);
        prop_assert_eq!(parsed, Ok(f), "shouted {:?}", shouted);
    }

    #[test]
    fn filter_parser_never_panics_on_arbitrary_text(input in any::<String>()) {
        assert_accepted_filter_is_stable(&input)?;
    }

    #[test]
    fn filter_parser_never_panics_on_token_soup(input in token_soup()) {
        assert_accepted_filter_is_stable(&input)?;
    }

    #[test]
    fn path_parser_never_panics_on_arbitrary_text(input in any::<String>()) {
        assert_accepted_path_is_stable(&input)?;
    }

    #[test]
    fn path_parser_never_panics_on_token_soup(input in token_soup()) {
        assert_accepted_path_is_stable(&input)?;
    }

    #[test]
    fn printed_value_path_parses_back_as_a_patch_path(
        f in filter(),
        sub in prop::option::of(attr_name()),
    ) {
        let Filter::ValuePath { path, filter } = f else {
            return Ok(());
        };
        let patch_path = PatchPath::Filtered { path, filter: *filter, sub };
        let printed = patch_path.to_string();
        prop_assert_eq!(
            PatchPath::parse_with(&printed, REGISTRY.known_urns()),
            Ok(patch_path),
            "printed {:?}", printed
        );
    }
}

#[test]
fn rfc_filters_survive_the_round_trip_unchanged() {
    // The examples of RFC 7644 §3.4.2.2 (A12.3) and the vectors of A12.4 that parse.
    let inputs = [
        r#"userName eq "bjensen""#,
        r#"name.familyName co "O'Malley""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        r#"title pr and userType eq "Employee""#,
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        r#"a pr or b pr and c pr"#,
        r#"not(userName eq "x")"#,
        r#"USERNAME EQ "bjensen""#,
        r#"emails[type eq "work"].value eq "a@b.c""#,
        r#"displayName eq "a \"q\" b""#,
        r#"displayName eq "caf\u00e9""#,
        r#"userName eq bjensen"#,
        r#"members[value eq "1"].$ref pr"#,
    ];
    for input in inputs {
        let parsed = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        let printed = parsed.to_string();
        assert_eq!(parse(&printed), Ok(parsed), "{input} printed as {printed}");
    }
}

// ---------------------------------------------------------------------------------------
// Generated users and groups, and PATCH helpers
// ---------------------------------------------------------------------------------------

const TYPES: [&str; 3] = ["work", "home", "other"];

/// The multi-valued attributes whose elements are `{value, display, type, primary}`.
const MULTI: [&str; 5] = ["emails", "phoneNumbers", "ims", "roles", "entitlements"];

/// A value of a multi-valued attribute: a small alphabet in mixed case, so that generated
/// values collide (exactly or but for case) often.
fn element_value() -> impl Strategy<Value = String> {
    prop_oneof!["[a-c]", "[a-cA-C]{1,2}(@x\\.io)?"]
}

fn element() -> impl Strategy<Value = Value> {
    (element_value(), prop::option::of(select(TYPES.to_vec())), prop::option::weighted(0.3, any::<bool>())).prop_map(
        |(value, ty, primary)| {
            let mut o = Map::new();
            o.insert("value".into(), json!(value));
            if let Some(ty) = ty {
                o.insert("type".into(), json!(ty));
            }
            if let Some(primary) = primary {
                o.insert("primary".into(), json!(primary));
            }
            Value::Object(o)
        },
    )
}

/// A POST body of a user, as an IdP would send it.
fn user_body() -> impl Strategy<Value = Value> {
    (
        "[a-c]{1,4}",
        prop::option::of("[A-Za-z ]{1,8}"),
        prop::option::of(("[A-C][a-c]{0,3}", "[A-C][a-c]{0,3}")),
        prop::option::of("[a-z ]{1,6}"),
        prop::option::of(any::<bool>()),
        prop::collection::vec((select(MULTI.to_vec()), prop::collection::vec(element(), 1..4)), 0..3),
        prop::collection::vec(
            (
                prop::option::of(select(TYPES.to_vec())),
                prop::option::of("[A-Z][a-z]{0,4}"),
                prop::option::of("[0-9]{1,3} [A-Z][a-z]{1,4} St"),
            ),
            0..3,
        ),
        prop::option::of((
            prop::option::of("[A-Z][a-z]{0,5}"),
            prop::option::of("[0-9]{1,4}"),
            prop::option::of("[a-f0-9]{1,4}"),
        )),
    )
        .prop_map(|(user_name, display, name, title, active, multi, addresses, enterprise)| {
            let mut o = Map::new();
            o.insert("schemas".into(), json!([roster_scim::schema::USER]));
            o.insert("userName".into(), json!(user_name));
            if let Some(d) = display {
                o.insert("displayName".into(), json!(d));
            }
            if let Some((given, family)) = name {
                o.insert("name".into(), json!({"givenName": given, "familyName": family}));
            }
            if let Some(t) = title {
                o.insert("title".into(), json!(t));
            }
            if let Some(a) = active {
                o.insert("active".into(), json!(a));
            }
            for (attr, elements) in multi {
                o.insert(attr.into(), Value::Array(elements));
            }
            if !addresses.is_empty() {
                let list: Vec<Value> = addresses
                    .into_iter()
                    .map(|(ty, locality, street)| json!({"type": ty, "locality": locality, "streetAddress": street}))
                    .collect();
                o.insert("addresses".into(), Value::Array(list));
            }
            if let Some((department, employee_number, manager)) = enterprise {
                o.insert(
                    ENTERPRISE_USER.into(),
                    json!({
                        "department": department,
                        "employeeNumber": employee_number,
                        "manager": manager.map(|m| json!({"value": m})),
                    }),
                );
            }
            Value::Object(o)
        })
}

/// The stored data of a generated user.
fn user_data() -> impl Strategy<Value = Map<String, Value>> {
    user_body().prop_map(|body| {
        validate_resource(&REGISTRY, ResourceKind::User, &body, &Policy::default())
            .unwrap_or_else(|e| panic!("generated user {body} does not validate: {e}"))
            .data
    })
}

/// A generated group: its stored data and its members, as rendered `members` elements.
fn group() -> impl Strategy<Value = (Map<String, Value>, Vec<Value>)> {
    ("[A-Z][a-z]{1,6}", prop::collection::vec(("[a-e]{1,2}", prop::option::of(select(vec!["User", "Group"]))), 0..6))
        .prop_map(|(display_name, members)| {
            let members: Vec<Value> = members
                .into_iter()
                .map(|(value, ty)| match ty {
                    Some(ty) => json!({"value": value, "type": ty}),
                    None => json!({"value": value}),
                })
                .collect();
            let body = json!({"displayName": display_name, "members": members});
            let valid = validate_resource(&REGISTRY, ResourceKind::Group, &body, &Policy::default())
                .unwrap_or_else(|e| panic!("generated group {body} does not validate: {e}"));
            let list = valid.members.unwrap_or_default().iter().map(member_element).collect();
            (valid.data, list)
        })
}

/// A member as `MemberOp::apply_in_memory` writes it.
fn member_element(m: &MemberRef) -> Value {
    match m.member_type {
        Some(t) => json!({"value": m.value, "type": t.as_str()}),
        None => json!({"value": m.value}),
    }
}

fn patch(kind: ResourceKind, data: &Map<String, Value>, ops: &[Value]) -> Result<PatchOutcome, ScimError> {
    let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops});
    let request = PatchRequest::from_json(&body, REGISTRY.known_urns())?;
    let id = match kind {
        ResourceKind::User => USER_ID,
        ResourceKind::Group => GROUP_ID,
    };
    apply_patch(&REGISTRY, kind, id, data, &request, &Policy::default())
}

/// The data after a PATCH that must succeed.
fn patched(kind: ResourceKind, data: &Map<String, Value>, ops: &[Value]) -> Map<String, Value> {
    patch(kind, data, ops).unwrap_or_else(|e| panic!("PATCH {ops:?} failed on {data:?}: {e}")).data
}

/// The values of a multi-valued attribute, folded for a case-insensitive comparison.
fn folded_values(data: &Map<String, Value>, attr: &str) -> Vec<String> {
    data.get(attr)
        .and_then(Value::as_array)
        .map(|items| {
            items.iter().filter_map(|e| e.get("value").and_then(Value::as_str)).map(str::to_ascii_lowercase).collect()
        })
        .unwrap_or_default()
}

/// A JSON string literal, for building filters into paths.
fn quoted(s: &str) -> String {
    Value::String(s.into()).to_string()
}

/// `add` operations IdPs send to users (Entra, Okta, the MS validator).
fn user_add_op() -> impl Strategy<Value = Value> {
    let text = "[A-Za-z]{1,6}";
    prop_oneof![
        text.prop_map(|v| json!({"op": "add", "path": "title", "value": v})),
        text.prop_map(|v| json!({"op": "Add", "path": "name.givenName", "value": v})),
        (text, text).prop_map(|(g, f)| json!({"op": "add", "path": "name",
            "value": {"givenName": g, "familyName": f}})),
        (select(MULTI.to_vec()), prop::collection::vec(element(), 1..3))
            .prop_map(|(attr, elements)| json!({"op": "add", "path": attr, "value": elements})),
        (select(MULTI.to_vec()), select(TYPES.to_vec()), element_value()).prop_map(|(attr, ty, v)| json!({"op": "Add",
                "path": format!("{attr}[type eq {}].value", quoted(ty)), "value": v})),
        (select(MULTI.to_vec()), select(TYPES.to_vec())).prop_map(|(attr, ty)| json!({
            "op": "Add", "path": format!("{attr}[type eq {}].primary", quoted(ty)),
            "value": "True"})),
        (select(TYPES.to_vec()), text).prop_map(|(ty, v)| json!({"op": "add",
            "path": format!("addresses[type eq {}].locality", quoted(ty)), "value": v})),
        text.prop_map(|v| json!({"op": "add",
            "path": format!("{ENTERPRISE_USER}:department"), "value": v})),
        "[a-f0-9]{1,4}".prop_map(|m| json!({"op": "Add",
            "path": format!("{ENTERPRISE_USER}:manager"), "value": m})),
        any::<bool>().prop_map(|b| json!({"op": "add", "path": "active", "value": b})),
        (text, any::<bool>(), text).prop_map(|(nick, active, cost)| json!({"op": "add",
            "value": {"nickName": nick, "active": if active { "True" } else { "false" },
                ENTERPRISE_USER: {"costCenter": cost}}})),
    ]
}

/// `remove` operations, including the ones IdPs re-send (F-24).
fn user_remove_op() -> impl Strategy<Value = Value> {
    prop_oneof![
        select(vec!["title", "name.givenName", "name", "displayName", "active", "addresses", "emails", "roles",])
            .prop_map(|p| json!({"op": "remove", "path": p})),
        (select(MULTI.to_vec()), select(TYPES.to_vec())).prop_map(|(attr, ty)| json!({
            "op": "Remove", "path": format!("{attr}[type eq {}]", quoted(ty))})),
        (select(MULTI.to_vec()), element_value()).prop_map(|(attr, v)| json!({
            "op": "remove", "path": format!("{attr}[value eq {}]", quoted(&v))})),
        (select(MULTI.to_vec()), prop::collection::vec(element_value(), 0..3)).prop_map(|(attr, vs)| {
            let list: Vec<Value> = vs.iter().map(|v| json!({"value": v})).collect();
            json!({"op": "Remove", "path": attr, "value": list})
        }),
        (select(MULTI.to_vec()), select(TYPES.to_vec())).prop_map(|(attr, ty)| json!({
            "op": "remove", "path": format!("{attr}[type eq {}].display", quoted(ty))})),
        select(TYPES.to_vec()).prop_map(|ty| json!({"op": "remove",
            "path": format!("addresses[type eq {}].locality", quoted(ty))})),
        Just(json!({"op": "remove", "path": format!("{ENTERPRISE_USER}:manager")})),
        Just(json!({"op": "remove", "path": ENTERPRISE_USER})),
        Just(json!({"op": "remove", "path": "roles[primary eq true]"})),
    ]
}

/// `replace` operations.
fn user_replace_op() -> impl Strategy<Value = Value> {
    let text = "[A-Za-z]{1,6}";
    prop_oneof![
        text.prop_map(|v| json!({"op": "replace", "path": "title", "value": v})),
        text.prop_map(|v| json!({"op": "Replace", "path": "name", "value": {"givenName": v}})),
        (select(MULTI.to_vec()), prop::collection::vec(element(), 0..3))
            .prop_map(|(attr, elements)| json!({"op": "replace", "path": attr, "value": elements})),
        (select(MULTI.to_vec()), select(TYPES.to_vec()), element_value())
            .prop_map(|(attr, ty, v)| json!({"op": "replace",
                "path": format!("{attr}[type eq {}].value", quoted(ty)), "value": v})),
        (select(MULTI.to_vec()), select(TYPES.to_vec()), element_value()).prop_map(
            |(attr, ty, v)| json!({"op": "replace",
                "path": format!("{attr}[type eq {}]", quoted(ty)),
                "value": {"value": v, "primary": true}})
        ),
        select(vec!["False", "true", "TRUE"]).prop_map(|v| json!({"op": "Replace",
            "path": "active", "value": v})),
        (text, text, text).prop_map(|(d, f, dep)| json!({"op": "replace", "value": {
            "displayName": d, "name.familyName": f,
            format!("{ENTERPRISE_USER}:department"): dep}})),
        "[a-f0-9]{0,4}".prop_map(|m| json!({"op": "replace",
            "path": format!("{ENTERPRISE_USER}:manager"), "value": {"value": m}})),
        Just(json!({"op": "replace", "path": "nickName", "value": ""})),
    ]
}

/// A value-path write whose value contradicts its own filter. Not idempotent by nature
/// (after it, no element matches the filter, so a repeat upserts a new one, F-6), but what
/// it stores must still be canonical: never the same element twice.
fn contradicting_upsert_op() -> impl Strategy<Value = Value> {
    (select(MULTI.to_vec()), select(TYPES.to_vec()), element_value(), element_value()).prop_map(
        |(attr, ty, old, new)| {
            json!({"op": "add",
                "path": format!("{attr}[type eq {} and value eq {}].value", quoted(ty), quoted(&old)),
                "value": new})
        },
    )
}

fn user_op() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => user_add_op(),
        3 => user_remove_op(),
        3 => user_replace_op(),
        1 => contradicting_upsert_op(),
    ]
}

/// An operation that must fail on any generated user, with the `scimType` it fails with.
fn failing_user_op() -> impl Strategy<Value = (Value, ScimType)> {
    select(vec![
        (json!({"op": "replace", "path": "active", "value": "maybe"}), ScimType::InvalidValue),
        (json!({"op": "remove", "path": "userName"}), ScimType::Mutability),
        (json!({"op": "replace", "path": "id", "value": "another-id"}), ScimType::Mutability),
        (json!({"op": "replace", "path": "groups", "value": [{"value": "g1"}]}), ScimType::Mutability),
        (json!({"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"}), ScimType::Mutability),
        (json!({"op": "add", "path": "emails[type co \"zzz\"].value", "value": "v@x.io"}), ScimType::NoTarget),
        (json!({"op": "replace", "path": "userName", "value": "zz-someone-else"}), ScimType::Mutability),
        (json!({"op": "add", "path": "name.givenName", "value": {"x": 1}}), ScimType::InvalidValue),
        (json!({"op": "replace", "path": "title[value eq \"x\"]", "value": "x"}), ScimType::InvalidPath),
        (json!({"op": "replace", "path": "emails[type eq \"work\"", "value": "x"}), ScimType::InvalidPath),
        (json!({"op": "remove"}), ScimType::NoTarget),
        (json!({"op": "move", "path": "title", "value": "x"}), ScimType::InvalidSyntax),
        (json!({"op": "add", "path": "title"}), ScimType::InvalidValue),
    ])
}

// ---------------------------------------------------------------------------------------
// PATCH laws
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    /// `add` of a new value to a multi-valued attribute, then `remove` of it (by a
    /// `[value eq ...]` filter or by an F-4 value list), is a no-op.
    #[test]
    fn add_then_remove_of_a_new_value_leaves_the_user_as_it_was(
        data in user_data(),
        attr in select(MULTI.to_vec()),
        value in element_value(),
        ty in prop::option::of(select(TYPES.to_vec())),
        by_filter in any::<bool>(),
    ) {
        prop_assume!(!folded_values(&data, attr).contains(&value.to_ascii_lowercase()));
        let element = match ty {
            Some(ty) => json!({"value": value, "type": ty}),
            None => json!({"value": value}),
        };
        let add = json!({"op": "add", "path": attr, "value": [element]});
        let remove = if by_filter {
            json!({"op": "remove", "path": format!("{attr}[value eq {}]", quoted(&value))})
        } else {
            json!({"op": "Remove", "path": attr, "value": [{"value": value}]})
        };
        let added = patched(ResourceKind::User, &data, std::slice::from_ref(&add));
        prop_assert_ne!(&added, &data);
        let removed = patched(ResourceKind::User, &added, std::slice::from_ref(&remove));
        prop_assert_eq!(&removed, &data);
        // The same two operations in one request change nothing at all.
        let outcome = patch(ResourceKind::User, &data, &[add, remove]).unwrap();
        prop_assert_eq!(&outcome.data, &data);
        prop_assert!(outcome.changed.is_empty(), "changed {:?}", outcome.changed);
    }

    /// Adding a member and removing it again (by filter or by F-4 value list) restores the
    /// membership; adding members twice is adding them once (F-5).
    #[test]
    fn member_add_then_remove_restores_the_group(
        (data, members) in group(),
        new in "[a-z]{1,3}",
        by_filter in any::<bool>(),
    ) {
        prop_assume!(!members.iter().any(|m| m["value"] == json!(new)));
        let add = json!({"op": "add", "path": "members", "value": [{"value": new}]});
        let remove = if by_filter {
            json!({"op": "remove", "path": format!("members[value eq {}]", quoted(&new))})
        } else {
            json!({"op": "Remove", "path": "members", "value": [{"value": new}]})
        };
        let outcome = patch(ResourceKind::Group, &data, &[add.clone(), remove]).unwrap();
        prop_assert_eq!(&outcome.data, &data);
        let mut list = members.clone();
        for op in &outcome.member_ops {
            op.apply_in_memory(&mut list);
        }
        prop_assert_eq!(&list, &members);

        let once = patch(ResourceKind::Group, &data, std::slice::from_ref(&add)).unwrap();
        let twice = patch(ResourceKind::Group, &data, &[add.clone(), add]).unwrap();
        let (mut a, mut b) = (members.clone(), members.clone());
        once.member_ops.iter().for_each(|op| op.apply_in_memory(&mut a));
        twice.member_ops.iter().for_each(|op| op.apply_in_memory(&mut b));
        prop_assert_eq!(a, b);
    }

    /// Applying the same `add` twice is applying it once, and the second application
    /// reports no change (P13: the ETag and lastModified stay).
    #[test]
    fn add_is_idempotent(data in user_data(), op in user_add_op()) {
        assert_idempotent(&data, &op)?;
    }

    #[test]
    fn remove_is_idempotent(data in user_data(), op in user_remove_op()) {
        assert_idempotent(&data, &op)?;
    }

    #[test]
    fn replace_is_idempotent(data in user_data(), op in user_replace_op()) {
        assert_idempotent(&data, &op)?;
    }

    /// P7: when the last operation fails, the request fails with that operation's error,
    /// the data passed in is untouched, and a following valid PATCH sees the original.
    #[test]
    fn request_whose_last_op_fails_changes_nothing(
        data in user_data(),
        valid in prop::collection::vec(user_op(), 0..4),
        (failing, scim_type) in failing_user_op(),
    ) {
        let pristine = data.clone();
        let mut ops = valid.clone();
        ops.push(failing.clone());
        let err = match patch(ResourceKind::User, &data, &ops) {
            Ok(outcome) => {
                return Err(TestCaseError::fail(format!(
                    "{ops:?} succeeded: {:?}", outcome.data
                )));
            }
            Err(e) => e,
        };
        prop_assert_eq!(err.scim_type, Some(scim_type), "{}", err);
        prop_assert_eq!(&data, &pristine);
        if !valid.is_empty() {
            let after = patch(ResourceKind::User, &data, &valid).unwrap();
            let fresh = patch(ResourceKind::User, &pristine, &valid).unwrap();
            prop_assert_eq!(after, fresh);
        }
    }

    /// What PATCH stores is what validation would store: the patched resource, rendered
    /// and sent back as a PUT body, validates to the same data (no duplicate elements, no
    /// empty values, sub-attributes in schema order, one primary).
    #[test]
    fn patched_data_is_canonical(
        data in user_data(),
        ops in prop::collection::vec(user_op(), 1..6),
        repeat_first in any::<bool>(),
    ) {
        let mut ops = ops;
        if repeat_first {
            ops.push(ops[0].clone());
        }
        let Ok(outcome) = patch(ResourceKind::User, &data, &ops) else {
            return Ok(());
        };
        let body = Value::Object(rendered(&outcome.data));
        let again = validate_resource(&REGISTRY, ResourceKind::User, &body, &Policy::default())
            .map_err(|e| TestCaseError::fail(format!("{ops:?} stored {body} which is invalid: {e}")))?;
        prop_assert_eq!(&again.data, &outcome.data, "ops {:?}", ops);
    }

    /// Validation is a fixed point: a validated user, rendered and sent back as a PUT body,
    /// validates to the same data (one `primary`, and never the same element twice, even
    /// when clearing a second `primary` makes two elements equal).
    #[test]
    fn validated_data_is_a_fixed_point(body in user_body()) {
        let data = validate_resource(&REGISTRY, ResourceKind::User, &body, &Policy::default())
            .map_err(|e| TestCaseError::fail(format!("{body}: {e}")))?
            .data;
        let rendered = Value::Object(rendered(&data));
        let again = validate_resource(&REGISTRY, ResourceKind::User, &rendered, &Policy::default())
            .map_err(|e| TestCaseError::fail(format!("{rendered}: {e}")))?;
        prop_assert_eq!(&again.data, &data, "body {}", body);
    }

    /// The stored userName in another case is the same userName (F-22): a no-op.
    #[test]
    fn replacing_user_name_by_another_case_changes_nothing(data in user_data()) {
        let Some(Value::String(name)) = data.get("userName") else {
            return Err(TestCaseError::fail("no userName"));
        };
        let op = json!({"op": "replace", "path": "userName", "value": name.to_ascii_uppercase()});
        let outcome = patch(ResourceKind::User, &data, &[op]).unwrap();
        prop_assert_eq!(&outcome.data, &data);
        prop_assert!(outcome.changed.is_empty());
    }
}

fn assert_idempotent(data: &Map<String, Value>, op: &Value) -> Result<(), TestCaseError> {
    let once = patch(ResourceKind::User, data, std::slice::from_ref(op));
    let in_one_request = patch(ResourceKind::User, data, &[op.clone(), op.clone()]);
    match once {
        Ok(once) => {
            let again = patch(ResourceKind::User, &once.data, std::slice::from_ref(op))
                .map_err(|e| TestCaseError::fail(format!("second {op} failed: {e}")))?;
            prop_assert_eq!(&again.data, &once.data, "op {}", op);
            prop_assert!(again.changed.is_empty(), "op {} changed {:?} the second time", op, again.changed);
            let in_one_request =
                in_one_request.map_err(|e| TestCaseError::fail(format!("[{op}, {op}] failed: {e}")))?;
            prop_assert_eq!(&in_one_request.data, &once.data, "op {}", op);
        }
        Err(e) => {
            prop_assert!(in_one_request.is_err(), "{} failed once ({}) but not twice", op, e);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Evaluation consistency
// ---------------------------------------------------------------------------------------

fn rendered(data: &Map<String, Value>) -> Map<String, Value> {
    let t = time::macros::datetime!(2011-05-13 04:42:34 UTC);
    let meta = Meta {
        created: t,
        last_modified: t,
        version: 7,
        location: format!("https://example.com/scim/v2/default/Users/{USER_ID}"),
    };
    let groups = vec![json!({"value": "g1", "display": "Admins", "type": "direct"})];
    render(&REGISTRY, ResourceKind::User, USER_ID, data, &meta, Derived { relations: Some(groups) })
}

fn path(s: &str) -> AttrPath {
    match PatchPath::parse_with(s, REGISTRY.known_urns()) {
        Ok(PatchPath::Attr(p)) => p,
        other => panic!("{s}: {other:?}"),
    }
}

/// Paths of textual attributes of a user, including an F-14 comparison (`emails`) and an
/// extension attribute.
fn text_path() -> impl Strategy<Value = AttrPath> {
    select(vec![
        "userName",
        "displayName",
        "title",
        "name.givenName",
        "name.familyName",
        "emails",
        "emails.value",
        "emails.type",
        "phoneNumbers.value",
        "roles",
        "externalId",
        "id",
        "meta.resourceType",
        "groups.display",
        "addresses.locality",
    ])
    .prop_map(path)
    .boxed()
    .prop_union(
        select(vec!["department", "manager.value", "employeeNumber"])
            .prop_map(|p| path(&format!("{ENTERPRISE_USER}:{p}")))
            .boxed(),
    )
}

fn text_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-cA-C]{0,3}",
        element_value(),
        select(vec!["work", "home", "User", "Admins", "2819c223"]).prop_map(str::to_string),
    ]
}

fn typed_comparison() -> BoxedStrategy<Filter> {
    let text = (text_path(), select(CompareOp::ALL.to_vec()), text_value()).prop_map(|(path, op, v)| Filter::Compare {
        path,
        op,
        value: CompValue::String(v),
    });
    let boolean = (
        select(vec!["active", "emails.primary", "roles.primary"]).prop_map(path),
        select(vec![CompareOp::Eq, CompareOp::Ne]),
        prop_oneof![
            any::<bool>().prop_map(CompValue::Bool),
            select(vec!["True", "false"]).prop_map(|s| CompValue::String(s.into())),
        ],
    )
        .prop_map(|(path, op, value)| Filter::Compare { path, op, value });
    let date = (
        select(vec!["meta.lastModified", "meta.created"]).prop_map(path),
        select(vec![CompareOp::Eq, CompareOp::Ne, CompareOp::Gt, CompareOp::Ge, CompareOp::Lt, CompareOp::Le]),
        select(vec![
            "2011-05-13T04:42:34Z",
            "2011-05-13T06:42:34+02:00",
            "2011-05-13T04:42:33.999Z",
            "2030-01-01T00:00:00Z",
        ]),
    )
        .prop_map(|(path, op, v)| Filter::Compare { path, op, value: CompValue::String(v.into()) });
    let null = (text_path(), select(vec![CompareOp::Eq, CompareOp::Ne])).prop_map(|(path, op)| Filter::Compare {
        path,
        op,
        value: CompValue::Null,
    });
    prop_oneof![4 => text, 1 => boolean, 1 => date, 1 => null].boxed()
}

/// A filter over the user schema that Roster must accept: typed comparisons, `pr`, and
/// value paths over the `{value, display, type, primary}` attributes.
fn user_filter() -> BoxedStrategy<Filter> {
    let present = prop_oneof![
        text_path(),
        select(vec!["active", "emails", "name", "addresses", "nickName", "groups"]).prop_map(path),
    ]
    .prop_map(Filter::Present);
    let element_leaf = prop_oneof![
        (select(vec!["value", "type", "display"]), select(CompareOp::ALL.to_vec()), text_value())
            .prop_map(|(sub, op, v)| Filter::Compare { path: AttrPath::simple(sub), op, value: CompValue::String(v) }),
        any::<bool>().prop_map(|b| Filter::Compare {
            path: AttrPath::simple("primary"),
            op: CompareOp::Eq,
            value: CompValue::Bool(b),
        }),
        select(vec!["value", "type", "primary", "display"]).prop_map(|sub| Filter::Present(AttrPath::simple(sub))),
    ]
    .boxed();
    let value_path = (select(MULTI.to_vec()), logic(element_leaf))
        .prop_map(|(attr, f)| Filter::ValuePath { path: AttrPath::simple(attr), filter: Box::new(f) });
    let leaf = prop_oneof![3 => typed_comparison(), 1 => present, 1 => value_path].boxed();
    logic(leaf).prop_map(Filter::normalized).boxed()
}

fn matches(f: &Filter, resource: &Map<String, Value>) -> Result<bool, TestCaseError> {
    REGISTRY
        .check_filter(ResourceKind::User, f, UnknownFilterAttribute::Reject)
        .map(|valid| valid.matches(resource))
        .map_err(|e| TestCaseError::fail(format!("{f} does not check: {e}")))
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn logical_operators_evaluate_as_their_names_say(
        data in user_data(),
        f in user_filter(),
        g in user_filter(),
    ) {
        let user = rendered(&data);
        let (mf, mg) = (matches(&f, &user)?, matches(&g, &user)?);
        prop_assert_eq!(matches(&Filter::Not(Box::new(f.clone())), &user)?, !mf, "not ({})", f);
        prop_assert_eq!(
            matches(&Filter::and(vec![f.clone(), g.clone()]), &user)?, mf && mg,
            "({}) and ({})", f, g
        );
        prop_assert_eq!(
            matches(&Filter::or(vec![f.clone(), g.clone()]), &user)?, mf || mg,
            "({}) or ({})", f, g
        );
        // The printed filter means the same as the tree.
        let reparsed = parse(&f.to_string()).unwrap();
        prop_assert_eq!(matches(&reparsed, &user)?, mf, "{}", f);
    }

    #[test]
    fn ne_matches_exactly_when_eq_does_not(data in user_data(), f in typed_comparison()) {
        let Filter::Compare { path, value, .. } = f else {
            return Ok(());
        };
        let user = rendered(&data);
        let eq = Filter::Compare { path: path.clone(), op: CompareOp::Eq, value: value.clone() };
        let ne = Filter::Compare { path, op: CompareOp::Ne, value };
        prop_assert_eq!(matches(&ne, &user)?, !matches(&eq, &user)?, "{}", ne);
    }
}
