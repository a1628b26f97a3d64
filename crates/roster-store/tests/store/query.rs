//! Queries: filters (including the three-valued-logic traps of SQL), paging and totals,
//! sorting, root queries over both kinds, and tenant isolation.

use serde_json::json;
use time::Duration;

use roster_core::Store;
use roster_core::model::Tenant;
use roster_core::store::{KindFilter, Page, Query};
use roster_scim::messages::SortOrder;
use roster_scim::{ResourceKind, UnknownFilterAttribute, ValidFilter};
use roster_store::SqlStore;

use crate::common::{BASE_URL, SKIP_FLAT, create, find, registry, scope, t0, tenant};

const USER: ResourceKind = ResourceKind::User;
const GROUP: ResourceKind = ResourceKind::Group;

backend_tests!(
    filters_select_by_columns_values_and_relations,
    negations_match_resources_without_the_attribute,
    meta_filters_use_server_values,
    paging_returns_slices_and_the_full_total,
    sort_puts_missing_values_last_ascending_and_first_descending,
    root_query_spans_both_kinds,
    root_query_sorts_each_kind_by_its_own_attribute,
    a_query_without_kinds_is_empty,
    another_tenants_data_never_appears,
);

/// Five users and two groups with a spread of attributes.
async fn seed(store: &SqlStore, tenant: &Tenant) {
    let reg = registry();
    let at = |secs: i64| scope(tenant, &reg, t0() + Duration::seconds(secs), SKIP_FLAT);
    create(store, at(0), USER, "u1", json!({"userName": "alice", "displayName": "Alice", "title": "Engineer",
        "active": true, "externalId": "E1", "emails": [{"value": "alice@work.io", "type": "work", "primary": true}, {"value": "alice@home.io", "type": "home"}]})).await;
    create(
        store,
        at(1),
        USER,
        "u2",
        json!({"userName": "bob", "title": "engineer", "active": false,
        "emails": [{"value": "bob@home.io", "type": "home"}]}),
    )
    .await;
    create(store, at(2), USER, "u3", json!({"userName": "Carol", "displayName": "carol c", "nickName": "CC"})).await;
    create(
        store,
        at(3),
        USER,
        "u4",
        json!({"userName": "dave", "title": "Manager", "active": true,
        "emails": [{"value": "dave@work.io", "type": "work"}, {"value": "d2@x.io", "primary": true}]}),
    )
    .await;
    create(store, at(4), USER, "u5", json!({"userName": "émile", "title": "Directeur"})).await;
    create(
        store,
        at(5),
        GROUP,
        "g1",
        json!({"displayName": "Engineering", "externalId": "G-1",
        "members": [{"value": "u1"}, {"value": "u2"}]}),
    )
    .await;
    create(store, at(6), GROUP, "g2", json!({"displayName": "all", "members": [{"value": "u4"}]})).await;
}

async fn filters_select_by_columns_values_and_relations(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    seed(&store, &acme).await;
    let cases: &[(ResourceKind, &str, &[&str])] = &[
        (USER, "userName eq \"ALICE\"", &["u1"]),
        (USER, "userName sw \"C\"", &["u3"]),
        (USER, "userName eq \"ÉMILE\"", &["u5"]),
        (USER, "userName eq \"e\u{301}mile\"", &["u5"]),
        (USER, "title eq \"ENGINEER\"", &["u1", "u2"]),
        (USER, "title gt \"e\"", &["u1", "u2", "u4"]),
        (USER, "emails co \"WORK\"", &["u1", "u4"]),
        (USER, "emails[type eq \"work\" and value co \"alice\"]", &["u1"]),
        (USER, "emails[type eq \"home\" and value co \"work\"]", &[]),
        (USER, "emails.type eq \"home\" and emails.value co \"work\"", &["u1"]),
        (USER, "emails[primary eq \"True\"]", &["u1", "u4"]),
        (USER, "displayName pr", &["u1", "u3"]),
        (USER, "nickName ew \"c\"", &["u3"]),
        (USER, "active eq false or title eq \"manager\"", &["u2", "u4"]),
        (USER, "groups.value eq \"g1\"", &["u1", "u2"]),
        (USER, "groups[display eq \"ALL\"]", &["u4"]),
        (USER, "groups pr", &["u1", "u2", "u4"]),
        (GROUP, "displayName eq \"engineering\"", &["g1"]),
        (GROUP, "members.value eq \"u2\"", &["g1"]),
        (GROUP, "members[display eq \"bob\"]", &["g1"]),
        (GROUP, "members.type eq \"user\"", &["g1", "g2"]),
        (GROUP, "externalId eq \"G-1\"", &["g1"]),
        (GROUP, "externalId eq \"g-1\"", &[]),
    ];
    for (kind, filter, want) in cases {
        assert_eq!(find(&store, &acme, *kind, filter).await, *want, "{filter}");
    }
}

async fn negations_match_resources_without_the_attribute(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    seed(&store, &acme).await;
    let cases: &[(ResourceKind, &str, &[&str])] = &[
        // `ne` and `not` include resources that lack the attribute (A12.2), whether it
        // lives in a column or in value rows.
        (USER, "externalId ne \"E1\"", &["u2", "u3", "u4", "u5"]),
        (USER, "not (externalId sw \"E\")", &["u2", "u3", "u4", "u5"]),
        (USER, "active ne true", &["u2", "u3", "u5"]),
        (USER, "not (active eq false)", &["u1", "u3", "u4", "u5"]),
        (USER, "title ne \"engineer\"", &["u3", "u4", "u5"]),
        (USER, "not (emails co \"home\")", &["u4", "u3", "u5"]),
        (USER, "externalId eq null", &["u2", "u3", "u4", "u5"]),
        (USER, "active eq null", &["u3", "u5"]),
        (GROUP, "externalId ne \"G-1\"", &["g2"]),
        (GROUP, "not (members.value eq \"u4\")", &["g1"]),
    ];
    for (kind, filter, want) in cases {
        let mut got = find(&store, &acme, *kind, filter).await;
        let mut want: Vec<&str> = want.to_vec();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{filter}");
    }
}

async fn meta_filters_use_server_values(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    seed(&store, &acme).await;
    let cases: &[(ResourceKind, &str, &[&str])] = &[
        (USER, "meta.created ge \"2024-03-01T12:00:02.123456789Z\"", &["u3", "u4", "u5"]),
        (USER, "meta.created gt \"2024-03-01T14:00:02+02:00\"", &["u3", "u4", "u5"]),
        (USER, "meta.lastModified lt \"2024-03-01T12:00:01Z\"", &["u1"]),
        (USER, "meta.created gt \"1600-01-01T00:00:00Z\"", &["u1", "u2", "u3", "u4", "u5"]),
        (USER, "meta.created lt \"1600-01-01T00:00:00Z\"", &[]),
        (USER, "meta.created lt \"9999-12-31T23:59:59Z\"", &["u1", "u2", "u3", "u4", "u5"]),
        (USER, "meta.resourceType eq \"User\"", &["u1", "u2", "u3", "u4", "u5"]),
        (USER, "meta.resourceType eq \"user\"", &[]),
        (USER, "meta.version eq \"W/\\\"1\\\"\"", &["u1", "u2", "u3", "u4", "u5"]),
        (USER, "meta.location eq \"https://scim.example.com/scim/v2/acme/Users/u2\"", &["u2"]),
        (USER, "meta pr", &["u1", "u2", "u3", "u4", "u5"]),
        (USER, "meta[resourceType eq \"User\" and created lt \"2024-03-01T12:00:01Z\"]", &["u1"]),
        (USER, "id eq \"u3\"", &["u3"]),
        (USER, "id eq \"U3\"", &[]),
        (GROUP, "schemas eq \"urn:ietf:params:scim:schemas:core:2.0:Group\"", &["g1", "g2"]),
        (USER, "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"", &[]),
    ];
    for (kind, filter, want) in cases {
        assert_eq!(find(&store, &acme, *kind, filter).await, *want, "{filter}");
    }
}

fn user_query<'a>(reg: &'a roster_scim::Registry, filter: ValidFilter) -> Query<'a> {
    Query {
        registry: reg,
        kinds: vec![KindFilter { kind: USER, filter }],
        sort: None,
        offset: 0,
        limit: 100,
        base_url: BASE_URL,
        after: None,
        count_total: true,
    }
}

fn ids(page: &Page) -> Vec<&str> {
    page.resources.iter().map(|r| r.id.as_str()).collect()
}

async fn paging_returns_slices_and_the_full_total(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    seed(&store, &acme).await;
    let reg = registry();
    let all = ValidFilter::Const(true);
    let mut q = user_query(&reg, all);
    q.limit = 2;
    let page = store.query(acme.id, &q).await.unwrap();
    assert_eq!((page.total, ids(&page)), (5, vec!["u1", "u2"]));
    q.offset = 2;
    let page = store.query(acme.id, &q).await.unwrap();
    assert_eq!((page.total, ids(&page)), (5, vec!["u3", "u4"]));
    q.offset = 4;
    let page = store.query(acme.id, &q).await.unwrap();
    assert_eq!((page.total, ids(&page)), (5, vec!["u5"]));
    q.offset = 9;
    let page = store.query(acme.id, &q).await.unwrap();
    assert_eq!((page.total, ids(&page)), (5, vec![]));
    // count=0: the total only.
    q.offset = 0;
    q.limit = 0;
    let page = store.query(acme.id, &q).await.unwrap();
    assert_eq!((page.total, ids(&page)), (5, vec![]));
    // The total counts the filter's matches, not the page.
    let mut q = user_query(&reg, reg.parse_filter(USER, "title pr").unwrap());
    q.limit = 1;
    q.offset = 1;
    let page = store.query(acme.id, &q).await.unwrap();
    assert_eq!((page.total, ids(&page)), (4, vec!["u2"]));
    let q = user_query(&reg, ValidFilter::Const(false));
    let page = store.query(acme.id, &q).await.unwrap();
    assert_eq!((page.total, ids(&page)), (0, vec![]));
}

async fn sort_puts_missing_values_last_ascending_and_first_descending(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    seed(&store, &acme).await;
    let reg = registry();
    let sorted = |by: &str, order: SortOrder| {
        let mut q = user_query(&reg, ValidFilter::Const(true));
        q.sort = Some((reg.check_sort(USER, by).unwrap(), order));
        q
    };
    let cases: &[(&str, SortOrder, &[&str])] = &[
        ("userName", SortOrder::Ascending, &["u1", "u2", "u3", "u4", "u5"]),
        ("userName", SortOrder::Descending, &["u5", "u4", "u3", "u2", "u1"]),
        // title: directeur, engineer (u1, u2: ties keep creation order), manager; u3 has none.
        ("title", SortOrder::Ascending, &["u5", "u1", "u2", "u4", "u3"]),
        ("title", SortOrder::Descending, &["u3", "u4", "u1", "u2", "u5"]),
        // emails sorts by the primary email, else the first.
        ("emails", SortOrder::Ascending, &["u1", "u2", "u4", "u3", "u5"]),
        ("emails.type", SortOrder::Ascending, &["u2", "u1", "u3", "u4", "u5"]),
        ("active", SortOrder::Ascending, &["u2", "u1", "u4", "u3", "u5"]),
        ("meta.created", SortOrder::Descending, &["u5", "u4", "u3", "u2", "u1"]),
        ("displayName", SortOrder::Ascending, &["u1", "u3", "u2", "u4", "u5"]),
        ("groups.display", SortOrder::Ascending, &["u4", "u1", "u2", "u3", "u5"]),
    ];
    for (by, order, want) in cases {
        let page = store.query(acme.id, &sorted(by, *order)).await.unwrap();
        assert_eq!(ids(&page), *want, "sortBy={by} {order:?}");
    }
    // Paging follows the sort.
    let mut q = sorted("title", SortOrder::Ascending);
    q.offset = 1;
    q.limit = 2;
    assert_eq!(ids(&store.query(acme.id, &q).await.unwrap()), ["u1", "u2"]);
}

fn root_query<'a>(reg: &'a roster_scim::Registry, filter: &str) -> Query<'a> {
    let parsed = roster_scim::Filter::parse_with(filter, reg.known_urns(), Default::default()).unwrap();
    Query {
        registry: reg,
        kinds: [USER, GROUP]
            .into_iter()
            .map(|kind| KindFilter {
                kind,
                filter: reg.check_filter(kind, &parsed, UnknownFilterAttribute::Absent).unwrap(),
            })
            .collect(),
        sort: None,
        offset: 0,
        limit: 100,
        base_url: BASE_URL,
        after: None,
        count_total: true,
    }
}

async fn root_query_spans_both_kinds(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    seed(&store, &acme).await;
    let reg = registry();
    let cases: &[(&str, &[&str])] = &[
        ("externalId pr", &["u1", "g1"]),
        ("displayName sw \"a\"", &["u1", "g2"]),
        ("userName eq \"bob\" or members.value eq \"u4\"", &["u2", "g2"]),
        ("meta.resourceType eq \"Group\"", &["g1", "g2"]),
        ("members.value ne \"u4\"", &["u1", "u2", "u3", "u4", "u5", "g1"]),
    ];
    for (filter, want) in cases {
        let page = store.query(acme.id, &root_query(&reg, filter)).await.unwrap();
        assert_eq!(ids(&page), *want, "{filter}");
        assert_eq!(page.total as usize, want.len());
    }
}

async fn root_query_sorts_each_kind_by_its_own_attribute(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    seed(&store, &acme).await;
    let reg = registry();
    // What the core passes for a root query: the sort attribute resolved for the first kind
    // that has it. Groups have a displayName too and sort among the users by it; they have
    // no userName and sort as missing.
    let cases: &[(&str, SortOrder, &[&str])] = &[
        ("displayName", SortOrder::Ascending, &["u1", "g2", "u3", "g1", "u2", "u4", "u5"]),
        ("userName", SortOrder::Ascending, &["u1", "u2", "u3", "u4", "u5", "g1", "g2"]),
        ("userName", SortOrder::Descending, &["g1", "g2", "u5", "u4", "u3", "u2", "u1"]),
        ("externalId", SortOrder::Ascending, &["u1", "g1", "u2", "u3", "u4", "u5", "g2"]),
    ];
    for (by, order, want) in cases {
        let mut q = root_query(&reg, "id pr");
        q.sort = Some((reg.check_sort(USER, by).unwrap(), *order));
        let page = store.query(acme.id, &q).await.unwrap();
        assert_eq!(ids(&page), *want, "sortBy={by} {order:?}");
    }
}

async fn a_query_without_kinds_is_empty(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    seed(&store, &acme).await;
    let reg = registry();
    let mut q = user_query(&reg, ValidFilter::Const(true));
    q.kinds.clear();
    let page = store.query(acme.id, &q).await.unwrap();
    assert_eq!((page.total, ids(&page)), (0, vec![]));
}

async fn another_tenants_data_never_appears(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    seed(&store, &acme).await;
    let reg = registry();
    // The same names in another tenant, with other ids.
    let s = scope(&globex, &reg, t0(), SKIP_FLAT);
    create(&store, s, USER, "x1", json!({"userName": "alice", "title": "Engineer", "externalId": "E1"})).await;
    create(&store, s, GROUP, "x2", json!({"displayName": "Engineering", "members": [{"value": "x1"}]})).await;

    for (kind, filter) in [
        (USER, "userName eq \"alice\""),
        (USER, "title eq \"engineer\""),
        (USER, "externalId eq \"E1\""),
        (USER, "id pr"),
        (USER, "groups pr"),
        (GROUP, "displayName eq \"Engineering\""),
        (GROUP, "members pr"),
    ] {
        for id in find(&store, &acme, kind, filter).await {
            assert!(id.starts_with('u') || id.starts_with('g'), "{filter}: {id} leaked");
        }
        for id in find(&store, &globex, kind, filter).await {
            assert!(id.starts_with('x'), "{filter}: {id} leaked");
        }
    }
    let page = store.query(globex.id, &root_query(&reg, "id pr")).await.unwrap();
    assert_eq!(ids(&page), ["x1", "x2"]);
    assert_eq!(page.total, 2);
    let acme_u1 = store.get_resource(acme.id, USER, "u1").await.unwrap().unwrap();
    let acme_g1 = store.get_resource(acme.id, GROUP, "g1").await.unwrap().unwrap();
    assert!(store.groups_of(globex.id, &[acme_u1.pk]).await.unwrap().is_empty());
    assert!(store.members_of(globex.id, &[acme_g1.pk]).await.unwrap().is_empty());
    assert!(store.user_displays(globex.id, &["u1".into()]).await.unwrap().is_empty());
}
