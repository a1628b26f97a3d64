//! The differential property test (rust-stack §12): random users and groups are written
//! through the store, random filters are resolved for each resource type, and the SQL
//! path (`SqlStore::query`) must select exactly the resources the protocol core's
//! in-memory evaluator (`ValidFilter::matches` on the rendered resource, derived
//! `members`/`groups` included) selects. Sorting is held to `AttrRef::sort_key` and
//! `compare_sort_keys` the same way, with ties in creation order.
//!
//! Every case writes into a new tenant of one store per backend, so earlier cases'
//! resources sit beside it and must never leak into its answers.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::collection::vec;
use proptest::option::of as opt;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use time::Duration;

use roster_core::model::{StoredResource, Tenant, TenantSettings, UnknownMembers};
use roster_core::store::{Change, KindFilter, MemberRules, NewResource, Query, WriteScope};
use roster_core::{Error, Store};
use roster_scim::messages::SortOrder;
use roster_scim::query::compare_sort_keys;
use roster_scim::resource::{Derived, Meta};
use roster_scim::schema::ENTERPRISE_USER;
use roster_scim::{
    AttrRef, Filter, MemberOp, MemberRef, ParseLimits, Policy, Registry, ResourceKind, UnknownFilterAttribute,
    ValidFilter, render, text, validate_resource,
};
use roster_store::SqlStore;

use crate::common::{ACME, BASE_URL, TestDb, backends, registry, t0};

const USER: ResourceKind = ResourceKind::User;
const GROUP: ResourceKind = ResourceKind::Group;

// ---------------------------------------------------------------------------------------
// Value pools, shared by the data and the filter literals so that filters do match.

const WORDS: &[&str] = &[
    "alice",
    "Alice",
    "ALICE",
    "bob",
    "Bob Smith",
    "émile",
    "ÉMILE",
    "e\u{301}mile",
    "straße",
    "STRASSE",
    "strasse",
    "zoë",
    "ZOË",
    "Ωmega",
    "ωmega",
    "ǅemal",
    "ǆemal",
    "İpek",
    "ipek",
    "ﬁsh",
    "fish",
    "O'Neil",
    "a\"b",
    "x\\y",
    "50%_off",
    "日本",
    "ŉ",
    "\u{212a}elvin",
    "kelvin",
    "Zed",
    "zed",
    // Longer than the 200 characters PostgreSQL's value index keys on.
    concat!(
        "Long-",
        "abcdefghijklmnopqrstuvwxyzàéîõü",
        "abcdefghijklmnopqrstuvwxyzàéîõü",
        "abcdefghijklmnopqrstuvwxyzàéîõü",
        "abcdefghijklmnopqrstuvwxyzàéîõü",
        "abcdefghijklmnopqrstuvwxyzàéîõü",
        "abcdefghijklmnopqrstuvwxyzàéîõü",
        "abcdefghijklmnopqrstuvwxyzàéîõü",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZÀÉÎÕÜ",
    ),
];

const DOMAINS: &[&str] = &["example.com", "Example.COM", "x.io", "ÉCOLE.fr"];
const TYPES: &[&str] = &["work", "home", "other", "Work", "HOME", "mobile"];
const PHONES: &[&str] = &["+1 555 0100", "555-0101", "+44 20 7946 0000", "555-0100"];
const URLS: &[&str] = &["https://Example.com/a", "https://example.com/A", "http://x.io/p?q=1", "https://example.com/ü"];
const DATES: &[&str] = &[
    "2024-03-01T12:00:00Z",
    "2024-03-01T12:00:00.123456789Z",
    "2024-03-01T12:00:00.5Z",
    "2024-03-01T12:00:00.50Z",
    "2024-03-01T14:00:00+02:00",
    "2024-03-01t12:00:01z",
    "2024-03-01T12:00:02",
    "2024-03-01T12:00:00.123456790Z",
    "2024-03-01T12:00:01.123456789Z",
    "2024-03-01T12:00:03.123456789Z",
    "1999-12-31T23:59:59Z",
    "1600-01-01T00:00:00Z",
    "2300-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
];
/// Resource ids: `§` stands for the case's id prefix (ids are unique across tenants).
const IDS: &[&str] = &[
    "§u0", "§u1", "§u2", "§u3", "§u4", "§u5", "§u6", "§u7", "§U1", "§g0", "§g1", "§g2", "§g3", "§G1", "§ghost0", "§u",
    "§g", "u1", "g",
];
const RESOURCE_TYPES: &[&str] = &["User", "Group", "user", "GROUP", "Us", "oup"];
const MEMBER_TYPES: &[&str] = &["User", "Group", "user", "group", "direct", "Direct", "indirect"];
const VERSIONS: &[&str] = &["W/\"1\"", "W/\"2\"", "W/\"3\"", "w/\"1\"", "\"1\"", "1", "W/"];
const SCHEMA_URNS: &[&str] = &[
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:Group",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER",
    "urn:ietf:params:scim:schemas:extension:acme:2.0:User",
    "enterprise",
    "acme",
];
const INTS: &[i64] =
    &[-3, 0, 1, 2, 7, 42, 9_007_199_254_740_992, 9_007_199_254_740_993, -9_007_199_254_740_993, i64::MAX, i64::MIN];
const DECIMALS: &[&str] = &["0", "0.1", "2.5", "-0.5", "-1", "7", "1e300", "1.25", "100"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pool {
    Words,
    Emails,
    Ids,
    Urls,
    Locations,
    Versions,
    ResourceTypes,
    MemberTypes,
    Schemas,
    Types,
    Phones,
}

fn locations() -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..5 {
        out.push(format!("{BASE_URL}/Users/§u{i}"));
        out.push(format!("{BASE_URL}/Groups/§g{i}"));
    }
    out.push(format!("{BASE_URL}/USERS/§u1"));
    out.push(format!("{BASE_URL}/Users/§U1").to_uppercase());
    out.push("/Users/".into());
    out.push("/Groups/g".into());
    out.push("https://scim.example.com".into());
    out
}

fn pool(p: Pool) -> Vec<String> {
    let own = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match p {
        Pool::Words => own(WORDS),
        Pool::Emails => {
            let mut out = Vec::new();
            for w in WORDS.iter().step_by(3) {
                for d in DOMAINS {
                    out.push(format!("{w}@{d}"));
                }
            }
            out
        }
        Pool::Ids => own(IDS),
        Pool::Urls => own(URLS),
        Pool::Locations => locations(),
        Pool::Versions => own(VERSIONS),
        Pool::ResourceTypes => own(RESOURCE_TYPES),
        Pool::MemberTypes => own(MEMBER_TYPES),
        Pool::Schemas => own(SCHEMA_URNS),
        Pool::Types => own(TYPES),
        Pool::Phones => own(PHONES),
    }
}

/// Takes a value as is, recased, or a piece of it (for `co`/`sw`/`ew` and orderings).
fn reshape(s: &str, how: u8, a: Index, b: Index) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    match how {
        0 | 1 => s.to_string(),
        2 => s.to_uppercase(),
        3 => s.to_lowercase(),
        4 if n > 0 => chars[..=a.index(n)].iter().collect(),
        5 if n > 0 => chars[a.index(n)..].iter().collect(),
        6 if n > 0 => {
            let i = a.index(n);
            let j = i + b.index(n - i);
            chars[i..=j].iter().collect()
        }
        7 => String::new(),
        _ => s.to_string(),
    }
}

fn text_value(p: Pool) -> impl Strategy<Value = String> {
    (select(pool(p)), 0u8..8, any::<Index>(), any::<Index>()).prop_map(|(s, how, a, b)| reshape(&s, how, a, b))
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(WORDS).prop_map(str::to_string),
        1 => (select(WORDS), 0u8..4).prop_map(|(w, n)| format!("{w}{n}")),
        1 => (select(WORDS), 0u8..4, any::<Index>(), any::<Index>())
            .prop_map(|(w, how, a, b)| reshape(w, how + 2, a, b))
            .prop_filter("non-empty", |s| !s.is_empty()),
    ]
}

// ---------------------------------------------------------------------------------------
// Resources.

fn active() -> impl Strategy<Value = Value> {
    select(vec![json!(true), json!(false), json!("True"), json!("false")])
}

fn email() -> impl Strategy<Value = Value> {
    (select(WORDS), select(DOMAINS), opt(select(TYPES)), opt(any::<bool>()), opt(word())).prop_map(
        |(w, d, ty, primary, display)| {
            let mut o = Map::new();
            o.insert("value".into(), json!(format!("{w}@{d}")));
            if let Some(ty) = ty {
                o.insert("type".into(), json!(ty));
            }
            if let Some(p) = primary {
                o.insert("primary".into(), json!(p));
            }
            if let Some(d) = display {
                o.insert("display".into(), json!(d));
            }
            Value::Object(o)
        },
    )
}

fn phone() -> impl Strategy<Value = Value> {
    (select(PHONES), opt(select(TYPES))).prop_map(|(v, ty)| match ty {
        Some(ty) => json!({"value": v, "type": ty}),
        None => json!({"value": v}),
    })
}

fn int_value() -> impl Strategy<Value = i64> {
    prop_oneof![3 => -5i64..50, 1 => select(INTS)]
}

fn dec_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-40i32..40).prop_map(|n| json!(f64::from(n) / 4.0)),
        (-5i64..10).prop_map(|n| json!(n)),
        select(vec![json!(0.1), json!(1e300), json!(-0.0), json!(2.5)]),
    ]
}

fn user_body() -> impl Strategy<Value = Value> {
    let core = (word(), opt(word()), opt(word()), opt(word()), opt(active()), opt(word()));
    let multi = (vec(email(), 0..4), vec(phone(), 0..2), (opt(word()), opt(word()), opt(word())));
    let enterprise = (opt(word()), opt(word()), opt(0usize..8));
    let custom1 = (opt(word()), opt(any::<bool>()), opt(int_value()), opt(dec_value()));
    let custom2 = (opt(select(DATES)), opt(select(URLS)), vec(word(), 0..3), vec(int_value(), 0..3));
    (core, multi, enterprise, custom1, custom2).prop_map(
        |(
            (user_name, display, title, nick, active, external),
            (emails, phones, (given, family, formatted)),
            (department, employee, manager),
            (badge, vip, level, score),
            (hired, homepage, tags, lucky),
        )| {
            let mut o = Map::new();
            let put = |o: &mut Map<String, Value>, k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    o.insert(k.into(), v);
                }
            };
            put(&mut o, "userName", Some(json!(user_name)));
            put(&mut o, "displayName", display.map(Value::from));
            put(&mut o, "title", title.map(Value::from));
            put(&mut o, "nickName", nick.map(Value::from));
            put(&mut o, "active", active);
            put(&mut o, "externalId", external.map(Value::from));
            if !emails.is_empty() {
                o.insert("emails".into(), Value::Array(emails));
            }
            if !phones.is_empty() {
                o.insert("phoneNumbers".into(), Value::Array(phones));
            }
            let mut name = Map::new();
            put(&mut name, "givenName", given.map(Value::from));
            put(&mut name, "familyName", family.map(Value::from));
            put(&mut name, "formatted", formatted.map(Value::from));
            if !name.is_empty() {
                o.insert("name".into(), Value::Object(name));
            }
            let mut ent = Map::new();
            put(&mut ent, "department", department.map(Value::from));
            put(&mut ent, "employeeNumber", employee.map(Value::from));
            put(&mut ent, "manager", manager.map(|i| json!({"value": format!("§u{i}")})));
            if !ent.is_empty() {
                o.insert(ENTERPRISE_USER.into(), Value::Object(ent));
            }
            let mut custom = Map::new();
            put(&mut custom, "badge", badge.map(Value::from));
            put(&mut custom, "vip", vip.map(Value::from));
            put(&mut custom, "level", level.map(Value::from));
            put(&mut custom, "score", score);
            put(&mut custom, "hired", hired.map(Value::from));
            put(&mut custom, "homepage", homepage.map(Value::from));
            if !tags.is_empty() {
                custom.insert("tags".into(), json!(tags));
            }
            if !lucky.is_empty() {
                custom.insert("lucky".into(), json!(lucky));
            }
            if !custom.is_empty() {
                o.insert(ACME.into(), Value::Object(custom));
            }
            Value::Object(o)
        },
    )
}

/// A member reference in a generated write.
#[derive(Debug, Clone, Copy)]
enum Sel {
    User(usize),
    /// An earlier group (nested groups are on in these tenants).
    Group(usize),
    Ghost(usize),
}

impl Sel {
    fn id(self, prefix: &str) -> String {
        match self {
            Sel::User(i) => format!("{prefix}u{i}"),
            Sel::Group(i) => format!("{prefix}g{i}"),
            Sel::Ghost(i) => format!("{prefix}ghost{i}"),
        }
    }
}

/// Puts the case's id prefix where the generators wrote `§`.
fn localize(v: &Value, prefix: &str) -> Value {
    let text = v.to_string().replace('§', prefix);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn sel() -> impl Strategy<Value = Sel> {
    prop_oneof![
        6 => (0usize..10).prop_map(Sel::User),
        2 => (0usize..5).prop_map(Sel::Group),
        1 => (0usize..3).prop_map(Sel::Ghost),
    ]
}

#[derive(Debug, Clone)]
struct GroupGen {
    display: String,
    external: Option<String>,
    members: Vec<Sel>,
}

fn group_gen() -> impl Strategy<Value = GroupGen> {
    (word(), opt(word()), vec(sel(), 0..6)).prop_map(|(display, external, members)| GroupGen {
        display,
        external,
        members,
    })
}

#[derive(Debug, Clone)]
enum Edit {
    /// Replace a user's data.
    User(Index, Value),
    /// Add (true) or remove members of a group.
    Members(Index, bool, Vec<Sel>),
    DeleteUser(Index),
    DeleteGroup(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<Index>(), user_body()).prop_map(|(i, b)| Edit::User(i, b)),
        3 => (any::<Index>(), any::<bool>(), vec(sel(), 1..4)).prop_map(|(i, add, s)| Edit::Members(i, add, s)),
        1 => any::<Index>().prop_map(Edit::DeleteUser),
        1 => any::<Index>().prop_map(Edit::DeleteGroup),
    ]
}

// ---------------------------------------------------------------------------------------
// Filters.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Text,
    Bool,
    Int,
    Dec,
    Date,
}

type AttrSpec = (&'static str, Ty, Pool);

const ATTRS: &[AttrSpec] = &[
    ("userName", Ty::Text, Pool::Words),
    ("USERNAME", Ty::Text, Pool::Words),
    ("urn:ietf:params:scim:schemas:core:2.0:User:userName", Ty::Text, Pool::Words),
    ("displayName", Ty::Text, Pool::Words),
    ("title", Ty::Text, Pool::Words),
    ("nickName", Ty::Text, Pool::Words),
    ("name.givenName", Ty::Text, Pool::Words),
    ("name.familyName", Ty::Text, Pool::Words),
    ("name.formatted", Ty::Text, Pool::Words),
    ("emails", Ty::Text, Pool::Emails),
    ("emails.value", Ty::Text, Pool::Emails),
    ("emails.type", Ty::Text, Pool::Types),
    ("emails.display", Ty::Text, Pool::Words),
    ("emails.primary", Ty::Bool, Pool::Words),
    ("phoneNumbers.value", Ty::Text, Pool::Phones),
    ("phoneNumbers.type", Ty::Text, Pool::Types),
    ("externalId", Ty::Text, Pool::Words),
    ("id", Ty::Text, Pool::Ids),
    ("active", Ty::Bool, Pool::Words),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", Ty::Text, Pool::Words),
    ("department", Ty::Text, Pool::Words),
    ("employeeNumber", Ty::Text, Pool::Words),
    ("manager", Ty::Text, Pool::Ids),
    ("manager.value", Ty::Text, Pool::Ids),
    ("badge", Ty::Text, Pool::Words),
    ("urn:ietf:params:scim:schemas:extension:acme:2.0:User:badge", Ty::Text, Pool::Words),
    ("vip", Ty::Bool, Pool::Words),
    ("level", Ty::Int, Pool::Words),
    ("score", Ty::Dec, Pool::Words),
    ("hired", Ty::Date, Pool::Words),
    ("homepage", Ty::Text, Pool::Urls),
    ("tags", Ty::Text, Pool::Words),
    ("lucky", Ty::Int, Pool::Words),
    ("meta.created", Ty::Date, Pool::Words),
    ("meta.lastModified", Ty::Date, Pool::Words),
    ("meta.resourceType", Ty::Text, Pool::ResourceTypes),
    ("meta.location", Ty::Text, Pool::Locations),
    ("meta.version", Ty::Text, Pool::Versions),
    ("members", Ty::Text, Pool::Ids),
    ("members.value", Ty::Text, Pool::Ids),
    ("members.display", Ty::Text, Pool::Words),
    ("members.type", Ty::Text, Pool::MemberTypes),
    ("members.$ref", Ty::Text, Pool::Locations),
    ("groups.value", Ty::Text, Pool::Ids),
    ("groups.display", Ty::Text, Pool::Words),
    ("groups.type", Ty::Text, Pool::MemberTypes),
    ("groups.$ref", Ty::Text, Pool::Locations),
    ("schemas", Ty::Text, Pool::Schemas),
];

const PRESENT: &[&str] = &[
    "name",
    "emails",
    "phoneNumbers",
    "meta",
    "manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "members",
    "groups",
    "schemas",
    "x509Certificates",
];

/// Complex attributes and the sub-attributes a value filter on them may use.
const COMPLEX: &[(&str, &[AttrSpec])] = &[
    (
        "emails",
        &[
            ("value", Ty::Text, Pool::Emails),
            ("type", Ty::Text, Pool::Types),
            ("primary", Ty::Bool, Pool::Words),
            ("display", Ty::Text, Pool::Words),
        ],
    ),
    ("phoneNumbers", &[("value", Ty::Text, Pool::Phones), ("type", Ty::Text, Pool::Types)]),
    (
        "name",
        &[
            ("givenName", Ty::Text, Pool::Words),
            ("familyName", Ty::Text, Pool::Words),
            ("formatted", Ty::Text, Pool::Words),
        ],
    ),
    ("manager", &[("value", Ty::Text, Pool::Ids)]),
    (
        "members",
        &[
            ("value", Ty::Text, Pool::Ids),
            ("display", Ty::Text, Pool::Words),
            ("type", Ty::Text, Pool::MemberTypes),
            ("$ref", Ty::Text, Pool::Locations),
        ],
    ),
    (
        "groups",
        &[("value", Ty::Text, Pool::Ids), ("display", Ty::Text, Pool::Words), ("type", Ty::Text, Pool::MemberTypes)],
    ),
    (
        "meta",
        &[
            ("created", Ty::Date, Pool::Words),
            ("lastModified", Ty::Date, Pool::Words),
            ("resourceType", Ty::Text, Pool::ResourceTypes),
            ("version", Ty::Text, Pool::Versions),
        ],
    ),
];

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn op(ty: Ty) -> BoxedStrategy<&'static str> {
    match ty {
        Ty::Text => select(vec!["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Co", "SW"]).boxed(),
        Ty::Bool => select(vec!["eq", "ne", "eq", "ne", "gt"]).boxed(),
        Ty::Int | Ty::Dec | Ty::Date => select(vec!["eq", "ne", "gt", "ge", "lt", "le"]).boxed(),
    }
}

fn literal(ty: Ty, p: Pool) -> BoxedStrategy<String> {
    match ty {
        Ty::Text => prop_oneof![
            12 => text_value(p).prop_map(|s| quote(&s)),
            1 => select(vec!["42", "true", "2.5"]).prop_map(str::to_string),
        ]
        .boxed(),
        Ty::Bool => {
            select(vec!["true", "false", "\"True\"", "\"FALSE\"", "\"false\""]).prop_map(str::to_string).boxed()
        }
        Ty::Int => prop_oneof![
            4 => int_value().prop_map(|i| i.to_string()),
            1 => int_value().prop_map(|i| quote(&i.to_string())),
            1 => select(DECIMALS).prop_map(str::to_string),
        ]
        .boxed(),
        Ty::Dec => prop_oneof![
            3 => select(DECIMALS).prop_map(str::to_string),
            1 => int_value().prop_map(|i| i.to_string()),
        ]
        .boxed(),
        Ty::Date => select(DATES).prop_map(quote).boxed(),
    }
}

fn compare(spec: AttrSpec) -> BoxedStrategy<String> {
    let (path, ty, p) = spec;
    (op(ty), literal(ty, p)).prop_map(move |(op, lit)| format!("{path} {op} {lit}")).boxed()
}

fn leaf(specs: &'static [AttrSpec], present: &'static [&'static str]) -> BoxedStrategy<String> {
    let paths: Vec<&'static str> = specs.iter().map(|s| s.0).chain(present.iter().copied()).collect();
    prop_oneof![
        8 => select(specs).prop_flat_map(compare),
        2 => select(paths.clone()).prop_map(|p| format!("{p} pr")),
        1 => (select(paths), select(vec!["eq", "ne"])).prop_map(|(p, op)| format!("{p} {op} null")),
    ]
    .boxed()
}

fn value_path() -> BoxedStrategy<String> {
    select(COMPLEX)
        .prop_flat_map(|(attr, subs)| {
            let inner = leaf(subs, &[]);
            let body = prop_oneof![
                3 => inner.clone(),
                2 => (inner.clone(), inner.clone(), select(vec!["and", "or"]))
                    .prop_map(|(a, b, op)| format!("{a} {op} {b}")),
                1 => inner.prop_map(|a| format!("not ({a})")),
            ];
            body.prop_map(move |b| format!("{attr}[{b}]"))
        })
        .boxed()
}

fn filter() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![5 => leaf(ATTRS, PRESENT), 2 => value_path()];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

const SORTS: &[&str] = &[
    "userName",
    "displayName",
    "title",
    "nickName",
    "name.familyName",
    "emails",
    "emails.value",
    "emails.type",
    "emails.primary",
    "phoneNumbers.value",
    "externalId",
    "id",
    "active",
    "meta.created",
    "meta.lastModified",
    "meta.resourceType",
    "meta.location",
    "department",
    "manager",
    "badge",
    "vip",
    "level",
    "score",
    "hired",
    "homepage",
    "tags",
    "lucky",
    "members.value",
    "members.display",
    "members.type",
    "groups.display",
    "groups.value",
];

// ---------------------------------------------------------------------------------------
// Scenarios.

#[derive(Debug, Clone)]
struct Scenario {
    /// Nanoseconds between consecutive writes (0 makes every timestamp tie).
    step: i64,
    users: Vec<Value>,
    groups: Vec<GroupGen>,
    edits: Vec<Edit>,
    filters: Vec<String>,
    sorts: Vec<(&'static str, bool)>,
    page: (u64, u64),
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        select(vec![0i64, 1, 1_000, 250_000_000, 1_000_000_000]),
        vec(user_body(), 1..9),
        vec(group_gen(), 0..5),
        vec(edit(), 0..4),
        vec(filter(), 12..24),
        vec((select(SORTS), any::<bool>()), 3..6),
        (0u64..6, 1u64..6),
    )
        .prop_map(|(step, users, groups, edits, filters, sorts, page)| Scenario {
            step,
            users,
            groups,
            edits,
            filters,
            sorts,
            page,
        })
}

/// Coverage figures, printed at the end so a silent generator regression shows.
#[derive(Debug, Default)]
struct Stats {
    cases: AtomicU64,
    filters: AtomicU64,
    checked: AtomicU64,
    nonempty: AtomicU64,
    partial: AtomicU64,
    sorts: AtomicU64,
}

/// The model of what the tenant holds, maintained beside the store.
#[derive(Debug, Default)]
struct Model {
    /// id → (pk, kind) of live resources.
    live: BTreeMap<String, (i64, ResourceKind)>,
    /// group id → member ids.
    members: HashMap<String, Vec<String>>,
    /// folded unique keys → id, per kind.
    unique: HashMap<(ResourceKind, String), String>,
}

impl Model {
    fn unique_key(kind: ResourceKind, data: &Map<String, Value>) -> String {
        let attr = if kind == USER { "userName" } else { "displayName" };
        text::fold(data.get(attr).and_then(Value::as_str).unwrap_or_default())
    }

    fn ids_of(&self, kind: ResourceKind) -> Vec<String> {
        self.live.iter().filter(|(_, (_, k))| *k == kind).map(|(id, _)| id.clone()).collect()
    }

    fn pick(&self, kind: ResourceKind, i: Index) -> Option<String> {
        let ids = self.ids_of(kind);
        (!ids.is_empty()).then(|| ids[i.index(ids.len())].clone())
    }
}

const RULES: MemberRules = MemberRules { unknown: UnknownMembers::Skip, nested_groups: true };

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

struct Case<'a> {
    /// Prepended to every resource id of the case.
    prefix: String,
    store: &'a SqlStore,
    registry: &'a Registry,
    tenant: Tenant,
    step: i64,
    writes: i64,
    model: Model,
}

impl Case<'_> {
    fn scope(&mut self) -> WriteScope<'_> {
        self.writes += 1;
        WriteScope {
            tenant: self.tenant.id,
            registry: self.registry,
            now: t0() + Duration::nanoseconds(self.writes * self.step),
            rules: RULES,
        }
    }

    fn validated(&self, kind: ResourceKind, body: &Value) -> (Map<String, Value>, Vec<MemberRef>) {
        let body = &localize(body, &self.prefix);
        let v = validate_resource(self.registry, kind, body, &Policy::default())
            .unwrap_or_else(|e| panic!("generated body {body} is invalid: {e:?}"));
        (v.data, v.members.unwrap_or_default())
    }

    /// Which of `refs` exist (in order, deduplicated) and which are unknown.
    fn resolve(&self, refs: &[MemberRef]) -> (Vec<String>, Vec<String>) {
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for r in refs {
            if self.model.live.contains_key(&r.value) {
                if !known.contains(&r.value) {
                    known.push(r.value.clone());
                }
            } else {
                unknown.push(r.value.clone());
            }
        }
        (known, unknown)
    }

    fn expect_duplicate(
        &self,
        kind: ResourceKind,
        key: &str,
        id: &str,
        result: &Result<(), Error>,
    ) -> Result<bool, TestCaseError> {
        let taken = self.model.unique.get(&(kind, key.to_string())).is_some_and(|owner| owner != id);
        match result {
            Ok(()) if !taken => Ok(false),
            Err(Error::Duplicate { kind: k, .. }) if taken && *k == kind => Ok(true),
            other => Err(fail(format!("{kind:?} {id} with key {key:?}: taken={taken}, store said {other:?}"))),
        }
    }

    async fn create_user(&mut self, i: usize, body: &Value) -> Result<(), TestCaseError> {
        let id = format!("{}u{i}", self.prefix);
        let (data, _) = self.validated(USER, body);
        let key = Model::unique_key(USER, &data);
        let store = self.store;
        let scope = self.scope();
        let result = store
            .create_resource(
                scope,
                NewResource { kind: USER, id: id.clone(), data: data.clone(), members: vec![] },
                None,
            )
            .await;
        let stored = match &result {
            Ok((stored, _)) => Some(stored.clone()),
            Err(_) => None,
        };
        let unit = result.map(|_| ());
        if !self.expect_duplicate(USER, &key, &id, &unit)? {
            let stored = stored.ok_or_else(|| fail("no resource".into()))?;
            prop_assert_eq!(&stored.data, &data);
            self.model.live.insert(id.clone(), (stored.pk, USER));
            self.model.unique.insert((USER, key), id);
        }
        Ok(())
    }

    async fn create_group(&mut self, i: usize, g: &GroupGen) -> Result<(), TestCaseError> {
        let id = format!("{}g{i}", self.prefix);
        let mut body = json!({"displayName": g.display});
        if let Some(e) = &g.external {
            body["externalId"] = json!(e);
        }
        let members: Vec<Value> = g
            .members
            .iter()
            .map(|s| json!({"value": s.id(&self.prefix)}))
            .filter(|m| m["value"] != json!(id))
            .collect();
        if !members.is_empty() {
            body["members"] = Value::Array(members);
        }
        let (data, refs) = self.validated(GROUP, &body);
        let key = Model::unique_key(GROUP, &data);
        let (known, unknown) = self.resolve(&refs);
        let store = self.store;
        let scope = self.scope();
        let result =
            store.create_resource(scope, NewResource { kind: GROUP, id: id.clone(), data, members: refs }, None).await;
        let created = match &result {
            Ok((stored, report)) => Some((stored.clone(), report.clone())),
            Err(_) => None,
        };
        if !self.expect_duplicate(GROUP, &key, &id, &result.map(|_| ()))? {
            let (stored, report) = created.ok_or_else(|| fail("no resource".into()))?;
            prop_assert_eq!(report.added, known.len() as u64);
            prop_assert_eq!(&report.unknown, &unknown);
            self.model.live.insert(id.clone(), (stored.pk, GROUP));
            self.model.members.insert(id.clone(), known);
            self.model.unique.insert((GROUP, key), id);
        }
        Ok(())
    }

    async fn apply(&mut self, edit: &Edit) -> Result<(), TestCaseError> {
        let store = self.store;
        match edit {
            Edit::User(i, body) => {
                let Some(id) = self.model.pick(USER, *i) else {
                    return Ok(());
                };
                let (data, _) = self.validated(USER, body);
                let key = Model::unique_key(USER, &data);
                let scope = self.scope();
                let result = store
                    .modify_resource(
                        scope,
                        USER,
                        &id,
                        Box::new({
                            let data = data.clone();
                            move |_| Ok(Change::Update { data: Some(data), member_ops: vec![] })
                        }),
                        None,
                    )
                    .await;
                let modified = match &result {
                    Ok(m) => m.clone(),
                    Err(_) => None,
                };
                if !self.expect_duplicate(USER, &key, &id, &result.map(|_| ()))? {
                    let m = modified.ok_or_else(|| fail(format!("{id} vanished")))?;
                    prop_assert!(m.changed);
                    prop_assert_eq!(&m.resource.data, &data);
                    self.model.unique.retain(|(k, _), owner| !(*k == USER && *owner == id));
                    self.model.unique.insert((USER, key), id);
                }
            }
            Edit::Members(i, add, sels) => {
                let Some(id) = self.model.pick(GROUP, *i) else {
                    return Ok(());
                };
                let ids: Vec<String> = sels.iter().map(|s| s.id(&self.prefix)).filter(|m| *m != id).collect();
                let current = self.model.members.get(&id).cloned().unwrap_or_default();
                let op = if *add {
                    MemberOp::Add(ids.iter().map(MemberRef::new).collect())
                } else {
                    MemberOp::Remove(ids.clone())
                };
                let scope = self.scope();
                let m = store
                    .modify_resource(
                        scope,
                        GROUP,
                        &id,
                        Box::new(move |_| Ok(Change::Update { data: None, member_ops: vec![op] })),
                        None,
                    )
                    .await
                    .map_err(|e| fail(format!("member op on {id}: {e:?}")))?
                    .ok_or_else(|| fail(format!("{id} vanished")))?;
                let mut next = current.clone();
                if *add {
                    let refs: Vec<MemberRef> = ids.iter().map(MemberRef::new).collect();
                    let (known, unknown) = self.resolve(&refs);
                    for k in known {
                        if !next.contains(&k) {
                            next.push(k);
                        }
                    }
                    prop_assert_eq!(&m.members.unknown, &unknown);
                } else {
                    next.retain(|k| !ids.contains(k));
                }
                let added = next.iter().filter(|k| !current.contains(k)).count() as u64;
                let removed = current.iter().filter(|k| !next.contains(k)).count() as u64;
                prop_assert_eq!((m.members.added, m.members.removed), (added, removed));
                prop_assert_eq!(m.changed, added + removed > 0);
                self.model.members.insert(id, next);
            }
            Edit::DeleteUser(i) | Edit::DeleteGroup(i) => {
                let kind = if matches!(edit, Edit::DeleteUser(_)) { USER } else { GROUP };
                let Some(id) = self.model.pick(kind, *i) else {
                    return Ok(());
                };
                let scope = self.scope();
                let deleted = store
                    .delete_resource(scope, kind, &id, Box::new(|_| Ok(())), None)
                    .await
                    .map_err(|e| fail(format!("delete {id}: {e:?}")))?;
                prop_assert!(deleted.is_some());
                self.model.live.remove(&id);
                self.model.members.remove(&id);
                for members in self.model.members.values_mut() {
                    members.retain(|m| *m != id);
                }
                self.model.unique.retain(|_, owner| *owner != id);
            }
        }
        Ok(())
    }

    /// Every live resource, read back one by one, rendered as the core renders it.
    async fn rendered(&self) -> Result<Vec<(StoredResource, Map<String, Value>)>, TestCaseError> {
        let mut stored = Vec::new();
        for (id, (pk, kind)) in &self.model.live {
            let r = self
                .store
                .get_resource(self.tenant.id, *kind, id)
                .await
                .map_err(|e| fail(format!("get {id}: {e:?}")))?
                .ok_or_else(|| fail(format!("{id} is missing")))?;
            prop_assert_eq!(r.pk, *pk);
            stored.push(r);
        }
        stored.sort_by_key(|r| r.pk);
        let by_id: HashMap<&str, &StoredResource> = stored.iter().map(|r| (r.id.as_str(), r)).collect();
        let display = |r: &StoredResource| {
            let data = &r.data;
            let name = match r.kind {
                USER => data.get("displayName").or_else(|| data.get("userName")),
                GROUP => data.get("displayName"),
            };
            name.and_then(Value::as_str).unwrap_or_default().to_string()
        };
        let location = |kind: ResourceKind, id: &str| format!("{BASE_URL}{}/{id}", kind.endpoint());
        let element = |r: &StoredResource, ty: &str| json!({"value": r.id, "$ref": location(r.kind, &r.id), "display": display(r), "type": ty});

        // The store's own relation reads must agree with the model.
        let group_pks: Vec<i64> = stored.iter().filter(|r| r.kind == GROUP).map(|r| r.pk).collect();
        let user_pks: Vec<i64> = stored.iter().map(|r| r.pk).collect();
        let members_of = self.store.members_of(self.tenant.id, &group_pks).await.map_err(|e| fail(format!("{e:?}")))?;
        let groups_of = self.store.groups_of(self.tenant.id, &user_pks).await.map_err(|e| fail(format!("{e:?}")))?;

        let mut out = Vec::new();
        for r in &stored {
            let relations = match r.kind {
                GROUP => {
                    let mut members: Vec<&StoredResource> = self
                        .model
                        .members
                        .get(&r.id)
                        .map(|ids| ids.iter().filter_map(|id| by_id.get(id.as_str()).copied()).collect())
                        .unwrap_or_default();
                    members.sort_by_key(|m| m.pk);
                    let from_store: Vec<String> =
                        members_of.get(&r.pk).map(|v| v.iter().map(|x| x.id.clone()).collect()).unwrap_or_default();
                    let from_model: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
                    prop_assert_eq!(&from_store, &from_model, "members_of {}", r.id);
                    members.iter().map(|m| element(m, m.kind.name())).collect::<Vec<_>>()
                }
                USER => {
                    let mut groups: Vec<&StoredResource> = stored
                        .iter()
                        .filter(|g| g.kind == GROUP && self.model.members.get(&g.id).is_some_and(|m| m.contains(&r.id)))
                        .collect();
                    groups.sort_by_key(|g| g.pk);
                    let from_store: Vec<String> =
                        groups_of.get(&r.pk).map(|v| v.iter().map(|x| x.id.clone()).collect()).unwrap_or_default();
                    let from_model: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
                    prop_assert_eq!(&from_store, &from_model, "groups_of {}", r.id);
                    groups.iter().map(|g| element(g, "direct")).collect()
                }
            };
            let meta = Meta {
                created: r.created,
                last_modified: r.last_modified,
                version: r.version,
                location: location(r.kind, &r.id),
            };
            let full = render(self.registry, r.kind, &r.id, &r.data, &meta, Derived { relations: Some(relations) });
            out.push((r.clone(), full));
        }
        Ok(out)
    }
}

fn ids(resources: &[StoredResource]) -> Vec<String> {
    resources.iter().map(|r| r.id.clone()).collect()
}

async fn run_query(
    case: &Case<'_>,
    kinds: Vec<KindFilter>,
    sort: Option<(AttrRef, SortOrder)>,
    offset: u64,
    limit: u64,
) -> Result<roster_core::store::Page, TestCaseError> {
    case.store
        .query(
            case.tenant.id,
            &Query {
                registry: case.registry,
                kinds,
                sort,
                offset,
                limit,
                base_url: BASE_URL,
                after: None,
                count_total: true,
            },
        )
        .await
        .map_err(|e| fail(format!("query failed: {e:?}")))
}

/// What the in-memory evaluator selects, in creation order.
fn expected(all: &[(StoredResource, Map<String, Value>)], filters: &[(ResourceKind, ValidFilter)]) -> Vec<String> {
    all.iter()
        .filter(|(r, full)| filters.iter().any(|(k, f)| *k == r.kind && f.matches(full)))
        .map(|(r, _)| r.id.clone())
        .collect()
}

fn explain(all: &[(StoredResource, Map<String, Value>)], got: &[String], want: &[String]) -> String {
    let mut out = String::new();
    for (r, full) in all {
        if got.contains(&r.id) != want.contains(&r.id) {
            out.push_str(&format!(
                "\n  {} (sql: {}, memory: {}): {}",
                r.id,
                got.contains(&r.id),
                want.contains(&r.id),
                Value::Object(full.clone())
            ));
        }
    }
    out
}

async fn check(case: &mut Case<'_>, s: &Scenario, stats: &Stats) -> Result<(), TestCaseError> {
    for (i, body) in s.users.iter().enumerate() {
        case.create_user(i, body).await?;
    }
    for (i, g) in s.groups.iter().enumerate() {
        case.create_group(i, g).await?;
    }
    for e in &s.edits {
        case.apply(e).await?;
    }
    let all = case.rendered().await?;
    let registry = case.registry;

    let mut nonempty_root: Option<Vec<KindFilter>> = None;
    for text in &s.filters {
        stats.filters.fetch_add(1, Ordering::Relaxed);
        let text = &text.replace('§', &case.prefix);
        let parsed = Filter::parse_with(text, registry.known_urns(), ParseLimits::default())
            .map_err(|e| fail(format!("generated filter {text:?} does not parse: {e:?}")))?;
        // Each endpoint on its own (unknown attributes are errors there, FS7).
        for kind in [USER, GROUP] {
            let Ok(filter) = registry.check_filter(kind, &parsed, UnknownFilterAttribute::Reject) else {
                continue;
            };
            stats.checked.fetch_add(1, Ordering::Relaxed);
            let want = expected(&all, &[(kind, filter.clone())]);
            let n = all.iter().filter(|(r, _)| r.kind == kind).count();
            if !want.is_empty() {
                stats.nonempty.fetch_add(1, Ordering::Relaxed);
                if want.len() < n {
                    stats.partial.fetch_add(1, Ordering::Relaxed);
                }
            }
            let page = run_query(case, vec![KindFilter { kind, filter: filter.clone() }], None, 0, 10_000).await?;
            let got = ids(&page.resources);
            prop_assert!(
                got == want && page.total == want.len() as u64,
                "{kind:?} filter {text}\n  resolved: {filter:?}\n  sql: {got:?} (total {})\n  memory: {want:?}{}",
                page.total,
                explain(&all, &got, &want)
            );
        }
        // The root endpoint: both kinds, unknown attributes have no value.
        let mut kinds = Vec::new();
        for kind in [USER, GROUP] {
            let filter = match registry.check_filter(kind, &parsed, UnknownFilterAttribute::Absent) {
                Ok(f) => f,
                Err(_) => break,
            };
            kinds.push(KindFilter { kind, filter });
        }
        if kinds.len() == 2 {
            let pairs: Vec<(ResourceKind, ValidFilter)> = kinds.iter().map(|k| (k.kind, k.filter.clone())).collect();
            let want = expected(&all, &pairs);
            let page = run_query(case, kinds.clone(), None, 0, 10_000).await?;
            let got = ids(&page.resources);
            prop_assert!(
                got == want && page.total == want.len() as u64,
                "root filter {text}\n  resolved: {pairs:?}\n  sql: {got:?}\n  memory: {want:?}{}",
                explain(&all, &got, &want)
            );
            if nonempty_root.is_none() && want.len() > 1 {
                nonempty_root = Some(kinds);
            }
        }
    }

    // Sorting, over everything and over one filter's matches, with paging.
    let everything = |kinds: &[ResourceKind]| -> Vec<KindFilter> {
        kinds.iter().map(|k| KindFilter { kind: *k, filter: ValidFilter::Const(true) }).collect()
    };
    let mut selections: Vec<Vec<KindFilter>> =
        vec![everything(&[USER]), everything(&[GROUP]), everything(&[USER, GROUP])];
    if let Some(k) = nonempty_root {
        selections.push(k);
    }
    for (by, ascending) in &s.sorts {
        for kinds in &selections {
            // As the core resolves sortBy: against the first kind that has the attribute.
            let Some(attr) = kinds.iter().find_map(|k| registry.check_sort(k.kind, by).ok()) else {
                continue;
            };
            stats.sorts.fetch_add(1, Ordering::Relaxed);
            let order = if *ascending { SortOrder::Ascending } else { SortOrder::Descending };
            let pairs: Vec<(ResourceKind, ValidFilter)> = kinds.iter().map(|k| (k.kind, k.filter.clone())).collect();
            let mut want: Vec<&(StoredResource, Map<String, Value>)> =
                all.iter().filter(|(r, full)| pairs.iter().any(|(k, f)| *k == r.kind && f.matches(full))).collect();
            // `all` is in creation order and the sort is stable: ties keep it.
            want.sort_by(|(_, a), (_, b)| {
                compare_sort_keys(attr.sort_key(a).as_ref(), attr.sort_key(b).as_ref(), *ascending)
            });
            let want: Vec<String> = want.iter().map(|(r, _)| r.id.clone()).collect();
            let page = run_query(case, kinds.clone(), Some((attr.clone(), order)), 0, 10_000).await?;
            let got = ids(&page.resources);
            let keys: Vec<String> = all.iter().map(|(r, full)| format!("{}={:?}", r.id, attr.sort_key(full))).collect();
            prop_assert!(
                got == want,
                "sortBy={by} {order:?} over {:?}\n  sql: {got:?}\n  memory: {want:?}\n  keys: {keys:?}",
                pairs
            );
            let (offset, limit) = s.page;
            let page = run_query(case, kinds.clone(), Some((attr.clone(), order)), offset, limit).await?;
            let slice: Vec<String> = want.iter().skip(offset as usize).take(limit as usize).cloned().collect();
            prop_assert_eq!(page.total, want.len() as u64);
            prop_assert_eq!(ids(&page.resources), slice, "page {:?} sortBy={}", s.page, by);
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(64)
}

#[test]
fn sql_filters_and_sorts_agree_with_the_in_memory_evaluator() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let registry = registry();
    for backend in backends() {
        let started = std::time::Instant::now();
        let db = TestDb::new(backend);
        let store = rt.block_on(db.connect());
        let stats = Stats::default();
        let mut runner = TestRunner::new(Config {
            cases: cases(),
            failure_persistence: None,
            max_shrink_iters: 2048,
            ..Config::default()
        });
        let result = runner.run(&scenario(), |s| {
            let n = stats.cases.fetch_add(1, Ordering::Relaxed);
            rt.block_on(async {
                let tenant = store
                    .create_tenant(&format!("case-{n}"), &TenantSettings::default(), t0())
                    .await
                    .map_err(|e| fail(format!("tenant: {e:?}")))?;
                let mut case = Case {
                    prefix: format!("c{n}-"),
                    store: &store,
                    registry: &registry,
                    tenant,
                    step: s.step,
                    writes: 0,
                    model: Model::default(),
                };
                check(&mut case, &s, &stats).await
            })
        });
        eprintln!(
            "differential {backend:?}: {} runs, {} filters, {} kind checks ({} non-empty, {} partial), {} sorts, {:.1?}",
            stats.cases.load(Ordering::Relaxed),
            stats.filters.load(Ordering::Relaxed),
            stats.checked.load(Ordering::Relaxed),
            stats.nonempty.load(Ordering::Relaxed),
            stats.partial.load(Ordering::Relaxed),
            stats.sorts.load(Ordering::Relaxed),
            started.elapsed()
        );
        rt.block_on(store.close());
        rt.block_on(db.cleanup());
        if let Err(e) = result {
            panic!("{backend:?}: {e}");
        }
    }
}
