//! Resources: create with columns and value rows, uniqueness, get, modify, delete.

use serde_json::json;
use time::Duration;

use roster_core::store::{Change, MemberReport};
use roster_core::{Error, Store};
use roster_scim::schema::ENTERPRISE_USER;
use roster_scim::{MemberOp, ResourceKind, ScimError};
use roster_store::SqlStore;

use crate::common::{
    ACME, SKIP_FLAT, create, delete, find, modify, registry, scope, t0, tenant, try_create, validated,
};

const USER: ResourceKind = ResourceKind::User;
const GROUP: ResourceKind = ResourceKind::Group;

backend_tests!(
    created_user_is_stored_canonically_with_version_one,
    get_resource_is_scoped_to_tenant_and_kind,
    user_name_differing_only_in_case_or_normalisation_is_a_duplicate,
    group_display_name_is_unique_case_insensitively,
    the_same_user_name_may_exist_in_another_tenant,
    change_none_keeps_the_version,
    new_data_bumps_the_version_and_rewrites_the_index,
    renaming_to_a_taken_user_name_is_a_duplicate_and_changes_nothing,
    a_failing_mutation_writes_nothing,
    modify_or_delete_of_a_missing_resource_is_none,
    delete_removes_the_resource_and_its_index,
    a_refusing_check_keeps_the_resource,
    deleting_a_user_removes_its_memberships_and_bumps_its_groups,
    deleting_a_group_removes_it_from_users_groups,
    deleting_a_manager_clears_manager_on_their_reports,
);

async fn created_user_is_stored_canonically_with_version_one(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "BJensen@Example.com",
        "externalId": "ext-1",
        "active": "True",
        "title": "Tour Guide",
        "emails": [{"value": "b@x.io", "type": "work", "primary": true}],
        ENTERPRISE_USER: {"department": "Sales"},
        ACME: {"level": 3, "vip": true, "tags": ["a", "b"]}
    });
    let (data, _) = validated(&reg, USER, &body);
    let (stored, report) = try_create(&store, scope(&acme, &reg, t0(), SKIP_FLAT), USER, "u1", body).await.unwrap();
    assert_eq!(report, MemberReport::default());
    assert_eq!(stored.id, "u1");
    assert_eq!(stored.kind, USER);
    assert_eq!(stored.version, 1);
    assert_eq!(stored.created, t0());
    assert_eq!(stored.last_modified, t0());
    assert_eq!(stored.data, data);
    assert_eq!(stored.data["active"], json!(true));

    let got = store.get_resource(acme.id, USER, "u1").await.unwrap().unwrap();
    assert_eq!(got, stored);

    // Columns and value rows answer filters.
    for filter in [
        "userName eq \"bjensen@example.com\"",
        "externalId eq \"ext-1\"",
        "active eq true",
        "title co \"GUIDE\"",
        "emails[type eq \"work\" and primary eq true]",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"sales\"",
        "urn:ietf:params:scim:schemas:extension:acme:2.0:User:level ge 3",
        "vip eq true",
        "tags eq \"B\"",
        "schemas eq \"urn:ietf:params:scim:schemas:extension:acme:2.0:User\"",
    ] {
        assert_eq!(find(&store, &acme, USER, filter).await, ["u1"], "{filter}");
    }
    assert!(find(&store, &acme, USER, "externalId eq \"EXT-1\"").await.is_empty());
}

async fn get_resource_is_scoped_to_tenant_and_kind(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    let reg = registry();
    create(&store, scope(&acme, &reg, t0(), SKIP_FLAT), USER, "u1", json!({"userName": "a"})).await;
    assert!(store.get_resource(acme.id, USER, "u1").await.unwrap().is_some());
    assert_eq!(store.get_resource(acme.id, GROUP, "u1").await.unwrap(), None);
    assert_eq!(store.get_resource(globex.id, USER, "u1").await.unwrap(), None);
    assert_eq!(store.get_resource(acme.id, USER, "U1").await.unwrap(), None, "ids are exact");
    assert_eq!(store.get_resource(acme.id, USER, "nope").await.unwrap(), None);
}

async fn user_name_differing_only_in_case_or_normalisation_is_a_duplicate(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), SKIP_FLAT);
    create(&store, s, USER, "u1", json!({"userName": "bjensen"})).await;
    create(&store, s, USER, "u2", json!({"userName": "Émile"})).await;
    create(&store, s, USER, "u3", json!({"userName": "straße"})).await;
    for (id, name) in [("x1", "BJENSEN"), ("x2", "émile"), ("x3", "E\u{301}MILE"), ("x4", "STRASSE")] {
        let err = try_create(&store, s, USER, id, json!({"userName": name})).await.unwrap_err();
        match err {
            Error::Duplicate { kind, value } => {
                assert_eq!(kind, USER);
                assert_eq!(value, name);
            }
            other => panic!("{name}: expected Duplicate, got {other:?}"),
        }
        assert_eq!(store.get_resource(acme.id, USER, id).await.unwrap(), None);
    }
    // The store is still writable after a refused insert (the transaction was rolled back).
    create(&store, s, USER, "u4", json!({"userName": "bjensen2"})).await;
}

async fn group_display_name_is_unique_case_insensitively(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), SKIP_FLAT);
    create(&store, s, GROUP, "g1", json!({"displayName": "Admins"})).await;
    let err = try_create(&store, s, GROUP, "g2", json!({"displayName": "ADMINS"})).await.unwrap_err();
    assert!(matches!(err, Error::Duplicate { kind: GROUP, .. }), "{err:?}");
    // A user may share a group's name: uniqueness is per resource type.
    create(&store, s, USER, "u1", json!({"userName": "admins"})).await;
}

async fn the_same_user_name_may_exist_in_another_tenant(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    let reg = registry();
    create(&store, scope(&acme, &reg, t0(), SKIP_FLAT), USER, "a1", json!({"userName": "bjensen"})).await;
    create(&store, scope(&globex, &reg, t0(), SKIP_FLAT), USER, "g1", json!({"userName": "bjensen"})).await;
    assert_eq!(find(&store, &acme, USER, "userName eq \"bjensen\"").await, ["a1"]);
    assert_eq!(find(&store, &globex, USER, "userName eq \"bjensen\"").await, ["g1"]);
}

async fn change_none_keeps_the_version(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let created = create(&store, scope(&acme, &reg, t0(), SKIP_FLAT), USER, "u1", json!({"userName": "a"})).await;
    let later = scope(&acme, &reg, t0() + Duration::hours(1), SKIP_FLAT);
    let m = modify(&store, later, USER, "u1", Change::None).await.unwrap().unwrap();
    assert!(!m.changed);
    assert_eq!(m.resource, created);
    // An update with nothing in it is no change either.
    let m =
        modify(&store, later, USER, "u1", Change::Update { data: None, member_ops: vec![] }).await.unwrap().unwrap();
    assert!(!m.changed);
    assert_eq!(store.get_resource(acme.id, USER, "u1").await.unwrap(), Some(created));
}

async fn new_data_bumps_the_version_and_rewrites_the_index(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    create(
        &store,
        scope(&acme, &reg, t0(), SKIP_FLAT),
        USER,
        "u1",
        json!({"userName": "alice", "title": "Engineer", "active": true, "externalId": "e1",
               "emails": [{"value": "alice@old.io"}], ACME: {"level": 1}}),
    )
    .await;
    let (data, _) = validated(
        &reg,
        USER,
        &json!({"userName": "alice", "title": "Manager", "active": false,
                "emails": [{"value": "alice@new.io"}], ACME: {"level": 7}}),
    );
    let now = t0() + Duration::minutes(5);
    let m = modify(
        &store,
        scope(&acme, &reg, now, SKIP_FLAT),
        USER,
        "u1",
        Change::Update { data: Some(data.clone()), member_ops: vec![] },
    )
    .await
    .unwrap()
    .unwrap();
    assert!(m.changed);
    assert_eq!(m.resource.version, 2);
    assert_eq!(m.resource.last_modified, now);
    assert_eq!(m.resource.created, t0());
    assert_eq!(m.resource.data, data);
    assert_eq!(store.get_resource(acme.id, USER, "u1").await.unwrap(), Some(m.resource));

    for gone in ["title eq \"Engineer\"", "active eq true", "externalId pr", "emails co \"old\"", "level eq 1"] {
        assert!(find(&store, &acme, USER, gone).await.is_empty(), "{gone}");
    }
    for now_true in [
        "title eq \"manager\"",
        "active eq false",
        "externalId eq null",
        "emails co \"new\"",
        "level eq 7",
        "meta.version eq \"W/\\\"2\\\"\"",
        "meta.lastModified gt \"2024-03-01T12:01:00Z\"",
    ] {
        assert_eq!(find(&store, &acme, USER, now_true).await, ["u1"], "{now_true}");
    }
}

async fn renaming_to_a_taken_user_name_is_a_duplicate_and_changes_nothing(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), SKIP_FLAT);
    create(&store, s, USER, "u1", json!({"userName": "alice"})).await;
    let bob = create(&store, s, USER, "u2", json!({"userName": "bob", "title": "x"})).await;
    let (data, _) = validated(&reg, USER, &json!({"userName": "ALICE", "title": "y"}));
    let err = modify(&store, s, USER, "u2", Change::Update { data: Some(data), member_ops: vec![] }).await.unwrap_err();
    assert!(matches!(err, Error::Duplicate { kind: USER, .. }), "{err:?}");
    assert_eq!(store.get_resource(acme.id, USER, "u2").await.unwrap(), Some(bob));
    assert_eq!(find(&store, &acme, USER, "title eq \"x\"").await, ["u2"]);
}

async fn a_failing_mutation_writes_nothing(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), SKIP_FLAT);
    let user = create(&store, s, USER, "u1", json!({"userName": "alice"})).await;
    let err = store
        .modify_resource(
            s,
            USER,
            "u1",
            Box::new(|current| {
                assert_eq!(current.id, "u1");
                Err(Error::Scim(ScimError::invalid_value("no")))
            }),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Scim(_)));
    assert_eq!(store.get_resource(acme.id, USER, "u1").await.unwrap(), Some(user));
}

async fn modify_or_delete_of_a_missing_resource_is_none(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    let reg = registry();
    create(&store, scope(&acme, &reg, t0(), SKIP_FLAT), USER, "u1", json!({"userName": "a"})).await;
    let other = scope(&globex, &reg, t0(), SKIP_FLAT);
    assert_eq!(modify(&store, other, USER, "u1", Change::None).await.unwrap(), None);
    assert_eq!(modify(&store, scope(&acme, &reg, t0(), SKIP_FLAT), GROUP, "u1", Change::None).await.unwrap(), None);
    assert_eq!(delete(&store, other, USER, "u1").await, None);
    assert!(store.get_resource(acme.id, USER, "u1").await.unwrap().is_some());
}

async fn delete_removes_the_resource_and_its_index(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), SKIP_FLAT);
    let user = create(&store, s, USER, "u1", json!({"userName": "alice", "title": "x"})).await;
    assert_eq!(delete(&store, s, USER, "u1").await, Some(user));
    assert_eq!(store.get_resource(acme.id, USER, "u1").await.unwrap(), None);
    assert!(find(&store, &acme, USER, "title eq \"x\"").await.is_empty());
    assert_eq!(delete(&store, s, USER, "u1").await, None);
    // The userName is free again.
    create(&store, s, USER, "u2", json!({"userName": "ALICE"})).await;
}

async fn a_refusing_check_keeps_the_resource(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), SKIP_FLAT);
    let user = create(&store, s, USER, "u1", json!({"userName": "alice"})).await;
    let err = store
        .delete_resource(
            s,
            USER,
            "u1",
            Box::new(|current| {
                assert_eq!(current.version, 1);
                Err(Error::Scim(ScimError::with_status(412, "version mismatch")))
            }),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Scim(_)));
    assert_eq!(store.get_resource(acme.id, USER, "u1").await.unwrap(), Some(user));
}

async fn deleting_a_user_removes_its_memberships_and_bumps_its_groups(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), SKIP_FLAT);
    create(&store, s, USER, "u1", json!({"userName": "alice"})).await;
    create(&store, s, USER, "u2", json!({"userName": "bob"})).await;
    let g1 =
        create(&store, s, GROUP, "g1", json!({"displayName": "G1", "members": [{"value": "u1"}, {"value": "u2"}]}))
            .await;
    let g2 = create(&store, s, GROUP, "g2", json!({"displayName": "G2", "members": [{"value": "u2"}]})).await;
    let g3 = create(&store, s, GROUP, "g3", json!({"displayName": "G3", "members": [{"value": "u2"}]})).await;
    // g3 loses u2 before the delete: it must not be touched by it.
    crate::common::member_ops(&store, s, "g3", vec![MemberOp::Remove(vec!["u2".into()])]).await.unwrap();

    let later = t0() + Duration::minutes(3);
    delete(&store, scope(&acme, &reg, later, SKIP_FLAT), USER, "u1").await.unwrap();
    let g1_after = store.get_resource(acme.id, GROUP, "g1").await.unwrap().unwrap();
    assert_eq!(g1_after.version, g1.version + 1);
    assert_eq!(g1_after.last_modified, later);
    let g2_after = store.get_resource(acme.id, GROUP, "g2").await.unwrap().unwrap();
    assert_eq!(g2_after, g2, "a group without the user is untouched");
    let g3_after = store.get_resource(acme.id, GROUP, "g3").await.unwrap().unwrap();
    assert_eq!(g3_after.version, g3.version + 1, "only the earlier removal bumped it");

    let members = store.members_of(acme.id, &[g1.pk, g2.pk, g3.pk]).await.unwrap();
    assert_eq!(crate::common::related_ids(&members, g1.pk), ["u2"]);
    assert_eq!(crate::common::related_ids(&members, g2.pk), ["u2"]);
    assert!(crate::common::related_ids(&members, g3.pk).is_empty());
    assert!(find(&store, &acme, GROUP, "members.value eq \"u1\"").await.is_empty());
}

async fn deleting_a_group_removes_it_from_users_groups(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), SKIP_FLAT);
    let u1 = create(&store, s, USER, "u1", json!({"userName": "alice"})).await;
    create(&store, s, GROUP, "g1", json!({"displayName": "G1", "members": [{"value": "u1"}]})).await;
    create(&store, s, GROUP, "g2", json!({"displayName": "G2", "members": [{"value": "u1"}]})).await;
    delete(&store, s, GROUP, "g1").await.unwrap();
    let groups = store.groups_of(acme.id, &[u1.pk]).await.unwrap();
    assert_eq!(crate::common::related_ids(&groups, u1.pk), ["g2"]);
    assert_eq!(find(&store, &acme, USER, "groups.value eq \"g2\"").await, ["u1"]);
    assert!(find(&store, &acme, USER, "groups.value eq \"g1\"").await.is_empty());
    // Users keep their version: membership is the group's attribute.
    assert_eq!(store.get_resource(acme.id, USER, "u1").await.unwrap(), Some(u1));
}

async fn deleting_a_manager_clears_manager_on_their_reports(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), SKIP_FLAT);
    create(&store, s, USER, "boss", json!({"userName": "boss"})).await;
    create(&store, s, USER, "other", json!({"userName": "other"})).await;
    let only_manager =
        create(&store, s, USER, "r1", json!({"userName": "r1", ENTERPRISE_USER: {"manager": {"value": "boss"}}})).await;
    create(
        &store,
        s,
        USER,
        "r2",
        json!({"userName": "r2", ENTERPRISE_USER: {"department": "Ops", "manager": {"value": "boss"}}}),
    )
    .await;
    let unrelated =
        create(&store, s, USER, "r3", json!({"userName": "r3", ENTERPRISE_USER: {"manager": {"value": "other"}}}))
            .await;
    assert_eq!(find(&store, &acme, USER, "manager.value eq \"boss\"").await, ["r1", "r2"]);

    let later = t0() + Duration::minutes(1);
    delete(&store, scope(&acme, &reg, later, SKIP_FLAT), USER, "boss").await.unwrap();
    let r1 = store.get_resource(acme.id, USER, "r1").await.unwrap().unwrap();
    assert_eq!(r1.version, only_manager.version + 1);
    assert_eq!(r1.last_modified, later);
    assert!(r1.data.get(ENTERPRISE_USER).is_none(), "an emptied extension goes: {:?}", r1.data);
    let r2 = store.get_resource(acme.id, USER, "r2").await.unwrap().unwrap();
    assert_eq!(r2.data[ENTERPRISE_USER], json!({"department": "Ops"}));
    assert_eq!(store.get_resource(acme.id, USER, "r3").await.unwrap(), Some(unrelated));

    assert!(find(&store, &acme, USER, "manager.value eq \"boss\"").await.is_empty());
    assert!(find(&store, &acme, USER, "manager pr").await.iter().all(|id| id == "r3"));
    assert_eq!(find(&store, &acme, USER, "department eq \"ops\"").await, ["r2"]);
    let schemas: Vec<String> =
        find(&store, &acme, USER, "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"").await;
    assert_eq!(schemas, ["r2", "r3"]);
}
