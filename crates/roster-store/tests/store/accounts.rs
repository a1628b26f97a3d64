//! Token changes, administrators, sessions, API keys, and the journals (audit trail and
//! provisioning log), including journal rows written in the same transaction as a change.

use serde_json::json;
use time::Duration;

use roster_core::audit::{Actor, AuditEntry, AuditEvent, AuditQuery, ProvisioningEntry, ProvisioningQuery};
use roster_core::model::{Idp, TokenStatus};
use roster_core::store::{ApiKeyRecord, JournalRow, KeyScope, NewResource, NewToken, TokenChange};
use roster_core::{Error, Store};
use roster_scim::{ResourceKind, ScimError};
use roster_store::SqlStore;

use crate::common::{SKIP_FLAT, audit, create, registry, scope, t0, tenant, validated};

backend_tests!(
    change_token_sets_status_renews_and_deletes_with_an_audit_row,
    admins_are_unique_and_a_new_password_ends_their_sessions,
    sessions_expire_and_can_be_deleted,
    api_keys_are_stored_listed_touched_and_deleted,
    audit_events_filter_by_tenant_event_and_time_newest_first,
    provisioning_log_filters_pages_and_prunes,
    journal_rows_commit_with_the_change_and_only_with_it,
);

fn system(tenant: Option<i64>, event: AuditEvent, target: &str, at: time::OffsetDateTime) -> AuditEntry {
    AuditEntry {
        tenant,
        at,
        actor: Actor::system(),
        event,
        target: target.into(),
        details: format!("details of {target}"),
    }
}

async fn audit_rows(store: &SqlStore, q: AuditQuery) -> Vec<(AuditEvent, String)> {
    store.audit_events(&q).await.unwrap().into_iter().map(|r| (r.event, r.target)).collect()
}

fn all_audit() -> AuditQuery {
    AuditQuery { limit: 100, ..AuditQuery::default() }
}

async fn change_token_sets_status_renews_and_deletes_with_an_audit_row(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    let token = NewToken {
        id: "k1".into(),
        idp: Idp::Okta,
        name: "okta".into(),
        secret_hash: vec![1; 32],
        created_at: t0(),
        expires_at: None,
    };
    store.insert_token(acme.id, token, 2, audit(&acme, AuditEvent::ScimTokenCreated, "token k1")).await.unwrap();

    let off = store
        .change_token(
            acme.id,
            "k1",
            TokenChange::Status(TokenStatus::Inactive),
            audit(&acme, AuditEvent::ScimTokenDisabled, "token k1"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(off.status, TokenStatus::Inactive);

    let expires = t0() + Duration::days(30);
    let renewed = store
        .change_token(
            acme.id,
            "k1",
            TokenChange::Renew { secret_hash: vec![2; 32], expires_at: Some(expires) },
            audit(&acme, AuditEvent::ScimTokenRenewed, "token k1"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((renewed.secret_hash.clone(), renewed.expires_at), (vec![2; 32], Some(expires)));
    assert_eq!(store.token_with_tenant("k1").await.unwrap().unwrap().0, renewed);

    // Another tenant's change finds nothing and journals nothing.
    let none = store
        .change_token(globex.id, "k1", TokenChange::Delete, audit(&globex, AuditEvent::ScimTokenDeleted, "token k1"))
        .await
        .unwrap();
    assert_eq!(none, None);
    assert!(store.token_with_tenant("k1").await.unwrap().is_some());

    let deleted = store
        .change_token(acme.id, "k1", TokenChange::Delete, audit(&acme, AuditEvent::ScimTokenDeleted, "token k1"))
        .await
        .unwrap();
    assert_eq!(deleted.map(|t| t.id), Some("k1".to_string()));
    assert_eq!(store.token_with_tenant("k1").await.unwrap(), None);
    assert!(store.tokens(acme.id).await.unwrap().is_empty());

    let events: Vec<AuditEvent> = audit_rows(&store, all_audit()).await.into_iter().map(|(e, _)| e).collect();
    assert_eq!(
        events,
        [
            AuditEvent::ScimTokenDeleted,
            AuditEvent::ScimTokenRenewed,
            AuditEvent::ScimTokenDisabled,
            AuditEvent::ScimTokenCreated
        ]
    );
}

async fn admins_are_unique_and_a_new_password_ends_their_sessions(store: SqlStore) {
    assert_eq!(store.admin_count().await.unwrap(), 0);
    let created = system(None, AuditEvent::AdminCreated, "admin alice", t0());
    let alice = store.create_admin("alice", "hash-1", t0(), created.clone()).await.unwrap();
    assert_eq!((alice.username.as_str(), alice.password_hash.as_str(), alice.created_at), ("alice", "hash-1", t0()));
    let err = store.create_admin("alice", "hash-2", t0(), created.clone()).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    store.create_admin("bob", "hash-b", t0(), system(None, AuditEvent::AdminCreated, "admin bob", t0())).await.unwrap();
    assert_eq!(store.admin_count().await.unwrap(), 2);
    assert_eq!(store.admin_by_username("alice").await.unwrap(), Some(alice.clone()));
    assert_eq!(store.admin_by_username("carol").await.unwrap(), None);
    let names: Vec<String> = store.admins().await.unwrap().into_iter().map(|a| a.username).collect();
    assert_eq!(names, ["alice", "bob"]);

    let expires = t0() + Duration::hours(8);
    let signed_in = system(None, AuditEvent::AdminSignedIn, "admin alice", t0());
    store.create_session(alice.id, vec![7; 32], "csrf-1", t0(), expires, signed_in).await.unwrap();
    assert!(store.session(&[7; 32], t0()).await.unwrap().is_some());

    let changed = system(None, AuditEvent::AdminPasswordChanged, "admin alice", t0());
    assert!(store.set_admin_password("alice", "hash-3", t0(), changed.clone()).await.unwrap());
    assert_eq!(store.admin_by_username("alice").await.unwrap().unwrap().password_hash, "hash-3");
    assert_eq!(store.session(&[7; 32], t0()).await.unwrap(), None, "sessions end with the old password");
    assert!(!store.set_admin_password("nobody", "x", t0(), changed).await.unwrap());
}

async fn sessions_expire_and_can_be_deleted(store: SqlStore) {
    let admin = store
        .create_admin("alice", "h", t0(), system(None, AuditEvent::AdminCreated, "admin alice", t0()))
        .await
        .unwrap();
    let expires = t0() + Duration::hours(1);
    let signed_in = || system(None, AuditEvent::AdminSignedIn, "admin alice", t0());
    store.create_session(admin.id, vec![1; 32], "c1", t0(), expires, signed_in()).await.unwrap();
    store.create_session(admin.id, vec![2; 32], "c2", t0(), expires, signed_in()).await.unwrap();
    let live = store.session(&[1; 32], t0() + Duration::minutes(59)).await.unwrap().unwrap();
    assert_eq!((live.admin, live.csrf.as_str(), live.expires_at), (admin.clone(), "c1", expires));
    assert_eq!(store.session(&[1; 32], expires).await.unwrap(), None, "expired at its expiry");
    assert_eq!(store.session(&[9; 32], t0()).await.unwrap(), None);

    store.delete_session(&[1; 32], Some(system(None, AuditEvent::AdminSignedOut, "admin alice", t0()))).await.unwrap();
    assert_eq!(store.session(&[1; 32], t0()).await.unwrap(), None);
    assert!(store.session(&[2; 32], t0()).await.unwrap().is_some());
    store.delete_session(&[2; 32], None).await.unwrap();
    store.delete_session(&[2; 32], None).await.unwrap();
    let signed_out = AuditQuery { event: Some(AuditEvent::AdminSignedOut), limit: 10, ..AuditQuery::default() };
    assert_eq!(audit_rows(&store, signed_out).await.len(), 1);
}

async fn api_keys_are_stored_listed_touched_and_deleted(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let key = |id: &str, tenant: Option<i64>, scope, at| ApiKeyRecord {
        id: id.into(),
        name: format!("key {id}"),
        secret_hash: vec![3; 32],
        tenant,
        scope,
        created_at: at,
        created_by: "alice".into(),
        last_used_at: None,
    };
    let k2 = key("k2", None, KeyScope::Admin, t0() + Duration::seconds(1));
    let k1 = key("k1", Some(acme.id), KeyScope::Read, t0());
    for k in [&k2, &k1] {
        store.insert_api_key(k.clone(), system(None, AuditEvent::ApiKeyCreated, &k.id, t0())).await.unwrap();
    }
    assert_eq!(store.api_key("k1").await.unwrap(), Some(k1.clone()));
    assert_eq!(store.api_key("nope").await.unwrap(), None);
    assert_eq!(store.api_keys().await.unwrap(), [k1.clone(), k2.clone()]);

    let minute = Duration::minutes(1);
    let first = t0() + Duration::hours(1);
    store.touch_api_key("k1", first, minute).await.unwrap();
    store.touch_api_key("k1", first + Duration::seconds(30), minute).await.unwrap();
    assert_eq!(store.api_key("k1").await.unwrap().unwrap().last_used_at, Some(first));
    store.touch_api_key("k1", first + Duration::seconds(61), minute).await.unwrap();
    assert_eq!(store.api_key("k1").await.unwrap().unwrap().last_used_at, Some(first + Duration::seconds(61)));

    assert!(store.delete_api_key("k1", system(None, AuditEvent::ApiKeyDeleted, "k1", t0())).await.unwrap());
    assert!(!store.delete_api_key("k1", system(None, AuditEvent::ApiKeyDeleted, "k1", t0())).await.unwrap());
    assert_eq!(store.api_keys().await.unwrap(), [k2]);
}

async fn audit_events_filter_by_tenant_event_and_time_newest_first(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    let at = |m: i64| t0() + Duration::minutes(m);
    for entry in [
        system(Some(acme.id), AuditEvent::AttributeDefined, "a1", at(0)),
        system(Some(globex.id), AuditEvent::AttributeDefined, "g1", at(1)),
        system(None, AuditEvent::AdminSignInFailed, "i1", at(2)),
        system(Some(acme.id), AuditEvent::AttributeRemoved, "a2", at(3)),
    ] {
        store.append_audit(&entry).await.unwrap();
    }
    let targets = |rows: Vec<(AuditEvent, String)>| rows.into_iter().map(|(_, t)| t).collect::<Vec<_>>();
    assert_eq!(targets(audit_rows(&store, all_audit()).await), ["a2", "i1", "g1", "a1"]);
    let acme_only = AuditQuery { tenant: Some(Some(acme.id)), limit: 10, ..AuditQuery::default() };
    assert_eq!(targets(audit_rows(&store, acme_only).await), ["a2", "a1"]);
    let installation = AuditQuery { tenant: Some(None), limit: 10, ..AuditQuery::default() };
    assert_eq!(targets(audit_rows(&store, installation).await), ["i1"]);
    let defined = AuditQuery { event: Some(AuditEvent::AttributeDefined), limit: 10, ..AuditQuery::default() };
    assert_eq!(targets(audit_rows(&store, defined).await), ["g1", "a1"]);
    let window = AuditQuery { since: Some(at(1)), until: Some(at(3)), limit: 10, ..AuditQuery::default() };
    assert_eq!(targets(audit_rows(&store, window).await), ["i1", "g1"]);

    // Paging by id, newest first.
    let first = store.audit_events(&AuditQuery { limit: 2, ..AuditQuery::default() }).await.unwrap();
    assert_eq!(first.iter().map(|r| r.target.as_str()).collect::<Vec<_>>(), ["a2", "i1"]);
    let next = AuditQuery { before_id: Some(first[1].id), limit: 2, ..AuditQuery::default() };
    assert_eq!(targets(audit_rows(&store, next).await), ["g1", "a1"]);

    let row = &first[0];
    assert_eq!(row.tenant.as_deref(), Some("acme"));
    assert_eq!((row.at, row.actor.clone(), row.details.as_str()), (at(3), Actor::system(), "details of a2"));
    assert_eq!(row.event_name, AuditEvent::AttributeRemoved.label());
}

fn request(tenant: i64, n: i64, status: u16, resource: Option<(&str, &str)>) -> ProvisioningEntry {
    ProvisioningEntry {
        tenant,
        at: t0() + Duration::minutes(n),
        request_id: format!("req-{n}"),
        token_id: Some(if n % 2 == 0 { "even".into() } else { "odd".into() }),
        idp: Some("okta".into()),
        method: "PATCH".into(),
        path: "/Groups/g1".into(),
        resource_type: resource.map(|(t, _)| t.to_string()),
        resource_id: resource.map(|(_, id)| id.to_string()),
        summary: format!("request {n}"),
        notes: String::new(),
        status,
        scim_type: (status >= 400).then(|| "invalidValue".to_string()),
        latency_us: 1000 + n,
    }
}

async fn provisioning_log_filters_pages_and_prunes(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    let entries = vec![
        request(acme.id, 0, 200, Some(("Group", "g1"))),
        request(acme.id, 1, 400, Some(("Group", "g1"))),
        request(acme.id, 2, 201, Some(("User", "u1"))),
        request(acme.id, 3, 500, None),
        request(globex.id, 4, 200, Some(("Group", "g1"))),
    ];
    store.append_provisioning(&entries).await.unwrap();
    let ids = |q: ProvisioningQuery| {
        let store = store.clone();
        async move { store.provisioning_log(&q).await.unwrap().into_iter().map(|r| r.request_id).collect::<Vec<_>>() }
    };
    let base = ProvisioningQuery { tenant: acme.id, limit: 50, ..ProvisioningQuery::default() };
    assert_eq!(ids(base.clone()).await, ["req-3", "req-2", "req-1", "req-0"]);
    assert_eq!(ids(ProvisioningQuery { status_class: Some(2), ..base.clone() }).await, ["req-2", "req-0"]);
    assert_eq!(ids(ProvisioningQuery { status_class: Some(4), ..base.clone() }).await, ["req-1"]);
    assert_eq!(ids(ProvisioningQuery { token_id: Some("odd".into()), ..base.clone() }).await, ["req-3", "req-1"]);
    assert_eq!(
        ids(ProvisioningQuery { resource_type: Some("Group".into()), resource_id: Some("g1".into()), ..base.clone() })
            .await,
        ["req-1", "req-0"]
    );
    assert_eq!(
        ids(ProvisioningQuery { since: Some(t0() + Duration::minutes(2)), ..base.clone() }).await,
        ["req-3", "req-2"]
    );
    let page = store.provisioning_log(&ProvisioningQuery { limit: 2, ..base.clone() }).await.unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(ids(ProvisioningQuery { before_id: Some(page[1].id), ..base.clone() }).await, ["req-1", "req-0"]);
    let full = store.provisioning_log(&base).await.unwrap();
    let expected = &entries[3];
    let got = &full[0];
    assert_eq!(
        (got.at, got.status, got.scim_type.clone(), got.latency_us, got.resource_type.clone(), got.summary.clone()),
        (expected.at, 500, Some("invalidValue".into()), expected.latency_us, None, expected.summary.clone())
    );

    // Rows before the cut go, for every tenant.
    let pruned = store.prune_provisioning_log(t0() + Duration::minutes(2)).await.unwrap();
    assert_eq!(pruned, 2);
    assert_eq!(ids(base).await, ["req-3", "req-2"]);
    assert_eq!(
        ids(ProvisioningQuery { tenant: globex.id, limit: 10, ..ProvisioningQuery::default() }).await,
        ["req-4"]
    );
}

async fn journal_rows_commit_with_the_change_and_only_with_it(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let reg = registry();
    let s = scope(&acme, &reg, t0(), SKIP_FLAT);
    let tenant_id = acme.id;
    let journal = move |n: i64| -> roster_core::store::Journal<'static> {
        Some(Box::new(move |written: &roster_core::store::Written<'_>| {
            let mut entry = request(tenant_id, n, 201, Some(("User", written.resource.id.as_str())));
            entry.summary = format!("changed={} version={}", written.changed, written.resource.version);
            vec![
                JournalRow::Provisioning(entry),
                JournalRow::Audit(system(Some(tenant_id), AuditEvent::AttributeDefined, &written.resource.id, t0())),
            ]
        }))
    };
    let (data, _) = validated(&reg, ResourceKind::User, &json!({"userName": "alice"}));
    store
        .create_resource(
            s,
            NewResource { kind: ResourceKind::User, id: "u1".into(), data: data.clone(), members: vec![] },
            journal(0),
        )
        .await
        .unwrap();
    // A refused write journals nothing.
    let err = store
        .create_resource(
            s,
            NewResource { kind: ResourceKind::User, id: "u2".into(), data, members: vec![] },
            journal(1),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Duplicate { .. }), "{err:?}");
    let err = store
        .modify_resource(
            s,
            ResourceKind::User,
            "u1",
            Box::new(|_| Err(Error::Scim(ScimError::invalid_value("no")))),
            journal(2),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Scim(_)));
    store.delete_resource(s, ResourceKind::User, "u1", Box::new(|_| Ok(())), journal(3)).await.unwrap().unwrap();
    create(&store, s, ResourceKind::User, "u3", json!({"userName": "bob"})).await;

    let log = store
        .provisioning_log(&ProvisioningQuery { tenant: acme.id, limit: 10, ..ProvisioningQuery::default() })
        .await
        .unwrap();
    let summaries: Vec<(String, String)> = log.into_iter().map(|r| (r.request_id, r.summary)).collect();
    assert_eq!(
        summaries,
        [
            ("req-3".to_string(), "changed=true version=1".to_string()),
            ("req-0".to_string(), "changed=true version=1".to_string())
        ]
    );
    assert_eq!(
        audit_rows(&store, AuditQuery { tenant: Some(Some(acme.id)), limit: 10, ..AuditQuery::default() }).await.len(),
        2
    );
}
