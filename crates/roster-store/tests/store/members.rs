//! Group membership: member operations and their reports, the membership rules, and the
//! relation reads (`members_of`, `groups_of`, `user_displays`).

use serde_json::json;
use time::Duration;

use roster_core::model::UnknownMembers;
use roster_core::store::{MemberReport, MemberRules};
use roster_core::{Error, Store};
use roster_scim::resource::MemberType;
use roster_scim::{MemberOp, MemberRef, ResourceKind, ValidFilter};
use roster_store::SqlStore;

use crate::common::{
    SKIP_FLAT, create, find, member, member_ops, registry, related_ids, scope, t0, tenant, try_create,
};

const USER: ResourceKind = ResourceKind::User;
const GROUP: ResourceKind = ResourceKind::Group;

const REJECT: MemberRules = MemberRules { unknown: UnknownMembers::Reject, nested_groups: false };
const NESTED: MemberRules = MemberRules { unknown: UnknownMembers::Skip, nested_groups: true };

backend_tests!(
    group_created_with_members_reports_them,
    add_remove_and_replace_report_what_changed,
    adding_present_members_changes_nothing,
    remove_where_removes_matching_members_only,
    unknown_member_ids_are_skipped_and_reported_under_skip,
    unknown_member_ids_are_rejected_under_reject_and_nothing_changes,
    nested_groups_are_refused_unless_enabled,
    a_group_cannot_contain_itself,
    a_declared_member_type_must_match,
    members_of_other_tenants_are_unknown,
    relation_reads_return_related_resources,
    user_displays_fall_back_to_user_name,
);

async fn users(store: &SqlStore, s: roster_core::store::WriteScope<'_>, n: usize) {
    for i in 1..=n {
        create(
            store,
            s,
            USER,
            &format!("u{i}"),
            json!({"userName": format!("user{i}"), "displayName": format!("User {i}")}),
        )
        .await;
    }
}

async fn member_ids(store: &SqlStore, tenant: i64, group: &str) -> Vec<String> {
    let g = store.get_resource(tenant, GROUP, group).await.unwrap().unwrap();
    let mut ids = related_ids(&store.members_of(tenant, &[g.pk]).await.unwrap(), g.pk);
    ids.sort();
    ids
}

async fn group_created_with_members_reports_them(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), SKIP_FLAT);
    users(&store, s, 3).await;
    let (g, report) = try_create(
        &store,
        s,
        GROUP,
        "g1",
        json!({"displayName": "G", "members": [{"value": "u1"}, {"value": "u3", "type": "User"}]}),
    )
    .await
    .unwrap();
    assert_eq!(report, MemberReport { added: 2, removed: 0, unknown: vec![] });
    assert_eq!(g.version, 1);
    assert_eq!(member_ids(&store, acme.id, "g1").await, ["u1", "u3"]);
    assert!(g.data.get("members").is_none(), "members live in their own table");
}

async fn add_remove_and_replace_report_what_changed(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), SKIP_FLAT);
    users(&store, s, 5).await;
    create(&store, s, GROUP, "g1", json!({"displayName": "G"})).await;

    let later = scope(&acme, &reg, t0() + Duration::seconds(1), SKIP_FLAT);
    let m = member_ops(&store, later, "g1", vec![MemberOp::Add(vec![member("u1"), member("u2"), member("u3")])])
        .await
        .unwrap();
    assert!(m.changed);
    assert_eq!(m.members, MemberReport { added: 3, removed: 0, unknown: vec![] });
    assert_eq!(m.resource.version, 2);
    assert_eq!(m.resource.last_modified, t0() + Duration::seconds(1));

    // Remove: absent ids are no-ops and are not counted.
    let m = member_ops(&store, s, "g1", vec![MemberOp::Remove(vec!["u1".into(), "u5".into(), "ghost".into()])])
        .await
        .unwrap();
    assert_eq!(m.members.removed, 1);
    assert_eq!(m.members.added, 0);
    assert_eq!(m.resource.version, 3);
    assert_eq!(member_ids(&store, acme.id, "g1").await, ["u2", "u3"]);

    // Replace: only the difference is written and counted.
    let m = member_ops(&store, s, "g1", vec![MemberOp::Replace(vec![member("u3"), member("u4"), member("u5")])])
        .await
        .unwrap();
    assert_eq!(m.members, MemberReport { added: 2, removed: 1, unknown: vec![] });
    assert_eq!(member_ids(&store, acme.id, "g1").await, ["u3", "u4", "u5"]);

    // Several operations apply in order in one write (one version bump).
    let m = member_ops(
        &store,
        s,
        "g1",
        vec![MemberOp::Remove(vec!["u3".into()]), MemberOp::Add(vec![member("u1"), member("u3")])],
    )
    .await
    .unwrap();
    assert_eq!(m.members, MemberReport { added: 2, removed: 1, unknown: vec![] });
    assert_eq!(m.resource.version, 5);
    assert_eq!(member_ids(&store, acme.id, "g1").await, ["u1", "u3", "u4", "u5"]);

    // Replace with nothing clears the group.
    let m = member_ops(&store, s, "g1", vec![MemberOp::Replace(vec![])]).await.unwrap();
    assert_eq!(m.members.removed, 4);
    assert!(member_ids(&store, acme.id, "g1").await.is_empty());
    assert!(find(&store, &acme, GROUP, "members pr").await.is_empty());
}

async fn adding_present_members_changes_nothing(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), SKIP_FLAT);
    users(&store, s, 2).await;
    let g = create(&store, s, GROUP, "g1", json!({"displayName": "G", "members": [{"value": "u1"}]})).await;
    let later = scope(&acme, &reg, t0() + Duration::hours(1), SKIP_FLAT);
    let m = member_ops(&store, later, "g1", vec![MemberOp::Add(vec![member("u1")])]).await.unwrap();
    assert!(!m.changed);
    assert_eq!(m.members, MemberReport::default());
    let m = member_ops(&store, later, "g1", vec![MemberOp::Remove(vec!["u2".into()])]).await.unwrap();
    assert!(!m.changed);
    let m = member_ops(&store, later, "g1", vec![MemberOp::Replace(vec![member("u1")])]).await.unwrap();
    assert!(!m.changed);
    assert_eq!(store.get_resource(acme.id, GROUP, "g1").await.unwrap(), Some(g));
}

async fn remove_where_removes_matching_members_only(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), NESTED);
    users(&store, s, 3).await;
    create(&store, s, GROUP, "inner", json!({"displayName": "Inner"})).await;
    create(
        &store,
        s,
        GROUP,
        "g1",
        json!({"displayName": "G", "members": [{"value": "u1"}, {"value": "u2"}, {"value": "u3"}, {"value": "inner"}]}),
    )
    .await;
    let element_filter = |text: &str| match reg.parse_filter(GROUP, text).unwrap() {
        ValidFilter::ValuePath(_, inner) => *inner,
        other => panic!("not a value path: {other:?}"),
    };
    let m = member_ops(
        &store,
        s,
        "g1",
        vec![MemberOp::RemoveWhere(element_filter("members[display eq \"user 2\" or value eq \"u3\"]"))],
    )
    .await
    .unwrap();
    assert_eq!(m.members.removed, 2);
    assert_eq!(member_ids(&store, acme.id, "g1").await, ["inner", "u1"]);
    let m = member_ops(&store, s, "g1", vec![MemberOp::RemoveWhere(element_filter("members[type eq \"Group\"]"))])
        .await
        .unwrap();
    assert_eq!(m.members.removed, 1);
    assert_eq!(member_ids(&store, acme.id, "g1").await, ["u1"]);
    let m = member_ops(&store, s, "g1", vec![MemberOp::RemoveWhere(element_filter("members[value eq \"nobody\"]"))])
        .await
        .unwrap();
    assert!(!m.changed);
}

async fn unknown_member_ids_are_skipped_and_reported_under_skip(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), SKIP_FLAT);
    users(&store, s, 1).await;
    let (_, report) = try_create(
        &store,
        s,
        GROUP,
        "g1",
        json!({"displayName": "G", "members": [{"value": "ghost1"}, {"value": "u1"}]}),
    )
    .await
    .unwrap();
    assert_eq!(report, MemberReport { added: 1, removed: 0, unknown: vec!["ghost1".into()] });
    let m = member_ops(&store, s, "g1", vec![MemberOp::Add(vec![member("ghost2")])]).await.unwrap();
    assert!(!m.changed);
    assert_eq!(m.members.unknown, ["ghost2"]);
    let m = member_ops(&store, s, "g1", vec![MemberOp::Replace(vec![member("ghost3")])]).await.unwrap();
    assert_eq!(m.members, MemberReport { added: 0, removed: 1, unknown: vec!["ghost3".into()] });
}

async fn unknown_member_ids_are_rejected_under_reject_and_nothing_changes(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), REJECT);
    users(&store, s, 2).await;
    let err = try_create(
        &store,
        s,
        GROUP,
        "g0",
        json!({"displayName": "G0", "members": [{"value": "u1"}, {"value": "ghost"}]}),
    )
    .await
    .unwrap_err();
    assert!(matches!(&err, Error::Scim(e) if e.detail.contains("ghost")), "{err:?}");
    assert_eq!(store.get_resource(acme.id, GROUP, "g0").await.unwrap(), None, "the create rolled back");

    let g = create(&store, s, GROUP, "g1", json!({"displayName": "G", "members": [{"value": "u1"}]})).await;
    let err =
        member_ops(&store, s, "g1", vec![MemberOp::Add(vec![member("u2")]), MemberOp::Add(vec![member("ghost")])])
            .await
            .unwrap_err();
    assert!(matches!(err, Error::Scim(_)), "{err:?}");
    assert_eq!(store.get_resource(acme.id, GROUP, "g1").await.unwrap(), Some(g));
    assert_eq!(member_ids(&store, acme.id, "g1").await, ["u1"], "the first add rolled back too");
}

async fn nested_groups_are_refused_unless_enabled(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let flat = scope(&acme, &reg, t0(), SKIP_FLAT);
    create(&store, flat, GROUP, "inner", json!({"displayName": "Inner"})).await;
    let err =
        try_create(&store, flat, GROUP, "outer", json!({"displayName": "Outer", "members": [{"value": "inner"}]}))
            .await
            .unwrap_err();
    assert!(matches!(err, Error::Scim(_)), "{err:?}");
    assert_eq!(store.get_resource(acme.id, GROUP, "outer").await.unwrap(), None);

    let nested = scope(&acme, &reg, t0(), NESTED);
    let (outer, report) = try_create(
        &store,
        nested,
        GROUP,
        "outer",
        json!({"displayName": "Outer", "members": [{"value": "inner", "type": "Group"}]}),
    )
    .await
    .unwrap();
    assert_eq!(report.added, 1);
    let members = store.members_of(acme.id, &[outer.pk]).await.unwrap();
    assert_eq!(members[&outer.pk][0].kind, GROUP);
    assert_eq!(members[&outer.pk][0].display, "Inner");
    assert_eq!(find(&store, &acme, GROUP, "members[type eq \"Group\"]").await, ["outer"]);
    // Adding a group under flat rules fails even to an existing group.
    create(&store, nested, GROUP, "third", json!({"displayName": "Third"})).await;
    let err = member_ops(&store, flat, "outer", vec![MemberOp::Add(vec![member("third")])]).await.unwrap_err();
    assert!(matches!(err, Error::Scim(_)), "{err:?}");
}

async fn a_group_cannot_contain_itself(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), NESTED);
    let g = create(&store, s, GROUP, "g1", json!({"displayName": "G"})).await;
    let err = member_ops(&store, s, "g1", vec![MemberOp::Add(vec![member("g1")])]).await.unwrap_err();
    assert!(matches!(err, Error::Scim(_)), "{err:?}");
    let err = member_ops(&store, s, "g1", vec![MemberOp::Replace(vec![member("g1")])]).await.unwrap_err();
    assert!(matches!(err, Error::Scim(_)), "{err:?}");
    assert_eq!(store.get_resource(acme.id, GROUP, "g1").await.unwrap(), Some(g));
}

async fn a_declared_member_type_must_match(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), NESTED);
    users(&store, s, 1).await;
    create(&store, s, GROUP, "g1", json!({"displayName": "G"})).await;
    let wrong = MemberRef { value: "u1".into(), member_type: Some(MemberType::Group) };
    let err = member_ops(&store, s, "g1", vec![MemberOp::Add(vec![wrong])]).await.unwrap_err();
    assert!(matches!(err, Error::Scim(_)), "{err:?}");
    let right = MemberRef { value: "u1".into(), member_type: Some(MemberType::User) };
    let m = member_ops(&store, s, "g1", vec![MemberOp::Add(vec![right])]).await.unwrap();
    assert_eq!(m.members.added, 1);
}

async fn members_of_other_tenants_are_unknown(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    let reg = registry();
    let theirs = create(&store, scope(&globex, &reg, t0(), SKIP_FLAT), USER, "theirs", json!({"userName": "x"})).await;
    let (g, report) = try_create(
        &store,
        scope(&acme, &reg, t0(), SKIP_FLAT),
        GROUP,
        "g1",
        json!({"displayName": "G", "members": [{"value": "theirs"}]}),
    )
    .await
    .unwrap();
    assert_eq!(report.unknown, ["theirs"]);
    assert_eq!(report.added, 0);
    assert!(!store.members_of(acme.id, &[g.pk]).await.unwrap().contains_key(&g.pk));
    assert!(store.groups_of(globex.id, &[theirs.pk]).await.unwrap().is_empty());
    // Reading another tenant's keys returns nothing.
    assert!(store.members_of(globex.id, &[g.pk]).await.unwrap().is_empty());
}

async fn relation_reads_return_related_resources(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), NESTED);
    let u1 = create(&store, s, USER, "u1", json!({"userName": "alice", "displayName": "Alice A"})).await;
    let u2 = create(&store, s, USER, "u2", json!({"userName": "bob"})).await;
    let u3 = create(&store, s, USER, "u3", json!({"userName": "carol"})).await;
    let g1 =
        create(&store, s, GROUP, "g1", json!({"displayName": "One", "members": [{"value": "u2"}, {"value": "u1"}]}))
            .await;
    let g2 =
        create(&store, s, GROUP, "g2", json!({"displayName": "Two", "members": [{"value": "u1"}, {"value": "g1"}]}))
            .await;

    let members = store.members_of(acme.id, &[g1.pk, g2.pk, u3.pk]).await.unwrap();
    let mut of_g1 = members[&g1.pk].clone();
    of_g1.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        of_g1,
        vec![
            roster_core::Related { id: "u1".into(), kind: USER, display: "Alice A".into() },
            roster_core::Related { id: "u2".into(), kind: USER, display: "bob".into() },
        ]
    );
    let mut of_g2: Vec<(String, ResourceKind)> = members[&g2.pk].iter().map(|r| (r.id.clone(), r.kind)).collect();
    of_g2.sort();
    assert_eq!(of_g2, [("g1".to_string(), GROUP), ("u1".to_string(), USER)]);
    assert!(!members.contains_key(&u3.pk));

    let groups = store.groups_of(acme.id, &[u1.pk, u2.pk, u3.pk, g1.pk]).await.unwrap();
    let mut of_u1 = related_ids(&groups, u1.pk);
    of_u1.sort();
    assert_eq!(of_u1, ["g1", "g2"]);
    assert_eq!(related_ids(&groups, u2.pk), ["g1"]);
    assert!(!groups.contains_key(&u3.pk));
    assert_eq!(related_ids(&groups, g1.pk), ["g2"], "a nested group's parents");
    assert_eq!(groups[&u2.pk][0].display, "One");
    assert_eq!(groups[&u2.pk][0].kind, GROUP);
    assert!(store.members_of(acme.id, &[]).await.unwrap().is_empty());
}

async fn user_displays_fall_back_to_user_name(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), SKIP_FLAT);
    create(&store, s, USER, "u1", json!({"userName": "alice", "displayName": "Alice A"})).await;
    create(&store, s, USER, "u2", json!({"userName": "bob"})).await;
    create(&store, s, GROUP, "g1", json!({"displayName": "G"})).await;
    create(&store, scope(&globex, &reg, t0(), SKIP_FLAT), USER, "x1", json!({"userName": "x"})).await;
    let ids: Vec<String> = ["u1", "u2", "g1", "x1", "ghost"].iter().map(|s| s.to_string()).collect();
    let displays = store.user_displays(acme.id, &ids).await.unwrap();
    assert_eq!(displays.len(), 2, "{displays:?}");
    assert_eq!(displays["u1"], "Alice A");
    assert_eq!(displays["u2"], "bob");
    assert!(store.user_displays(acme.id, &[]).await.unwrap().is_empty());
}
