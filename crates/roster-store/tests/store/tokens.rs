//! SCIM tokens: insert under a limit (also concurrently), look up, status, last use.

use roster_core::audit::AuditEvent;
use roster_core::model::{Idp, TokenStatus};
use roster_core::store::NewToken;
use roster_core::{Error, Store};
use roster_store::SqlStore;
use time::Duration;

use crate::common::{audit, t0, tenant};

backend_tests!(
    inserted_token_is_found_with_its_tenant,
    insert_token_refuses_more_than_the_limit,
    concurrent_inserts_never_exceed_the_limit,
    tokens_lists_only_the_tenants_tokens,
    set_token_status_changes_only_the_tenants_token,
    touch_token_writes_at_most_once_per_interval,
);

fn new_token(id: &str, idp: Idp, at: time::OffsetDateTime) -> NewToken {
    NewToken {
        id: id.into(),
        idp,
        name: format!("token {id}"),
        secret_hash: format!("hash-of-{id}").into_bytes(),
        created_at: at,
        expires_at: Some(at + Duration::days(90)),
    }
}

async fn inserted_token_is_found_with_its_tenant(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let token = new_token("tok1", Idp::Entra, t0());
    let record = store
        .insert_token(acme.id, token.clone(), 2, audit(&acme, AuditEvent::ScimTokenCreated, "token tok1"))
        .await
        .unwrap();
    assert_eq!(record.id, "tok1");
    assert_eq!(record.tenant_id, acme.id);
    assert_eq!(record.idp, Idp::Entra);
    assert_eq!(record.secret_hash, token.secret_hash);
    assert_eq!(record.status, TokenStatus::Active);
    assert_eq!(record.last_used_at, None);

    let (found, found_tenant) = store.token_with_tenant("tok1").await.unwrap().unwrap();
    assert_eq!(found, record);
    assert_eq!(found_tenant, acme);
    assert_eq!(store.token_with_tenant("nope").await.unwrap(), None);

    // A token of an unknown tenant is refused.
    let err = store
        .insert_token(
            9999,
            new_token("tok2", Idp::Okta, t0()),
            2,
            audit(&acme, AuditEvent::ScimTokenCreated, "token tok2"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

async fn insert_token_refuses_more_than_the_limit(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    for i in 0..2 {
        store
            .insert_token(
                acme.id,
                new_token(&format!("t{i}"), Idp::Okta, t0()),
                2,
                audit(&acme, AuditEvent::ScimTokenCreated, "t"),
            )
            .await
            .unwrap();
    }
    let err = store
        .insert_token(acme.id, new_token("t2", Idp::Okta, t0()), 2, audit(&acme, AuditEvent::ScimTokenCreated, "t"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_eq!(store.tokens(acme.id).await.unwrap().len(), 2);
    // A higher limit lets one more in.
    store
        .insert_token(acme.id, new_token("t2", Idp::Okta, t0()), 3, audit(&acme, AuditEvent::ScimTokenCreated, "t"))
        .await
        .unwrap();
    assert_eq!(store.tokens(acme.id).await.unwrap().len(), 3);
}

async fn concurrent_inserts_never_exceed_the_limit(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let store = store.clone();
        let acme = acme.clone();
        tasks.spawn(async move {
            store
                .insert_token(
                    acme.id,
                    new_token(&format!("c{i}"), Idp::Okta, t0()),
                    2,
                    audit(&acme, AuditEvent::ScimTokenCreated, "t"),
                )
                .await
        });
    }
    let mut ok = 0;
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(_) => ok += 1,
            Err(Error::Conflict(_)) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(ok, 2);
    assert_eq!(store.tokens(acme.id).await.unwrap().len(), 2);
}

async fn tokens_lists_only_the_tenants_tokens(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    store
        .insert_token(
            acme.id,
            new_token("a2", Idp::Okta, t0() + Duration::seconds(5)),
            5,
            audit(&acme, AuditEvent::ScimTokenCreated, "t"),
        )
        .await
        .unwrap();
    store
        .insert_token(acme.id, new_token("a1", Idp::Entra, t0()), 5, audit(&acme, AuditEvent::ScimTokenCreated, "t"))
        .await
        .unwrap();
    store
        .insert_token(
            globex.id,
            new_token("g1", Idp::Google, t0()),
            5,
            audit(&globex, AuditEvent::ScimTokenCreated, "t"),
        )
        .await
        .unwrap();
    let ids = |v: Vec<roster_core::TokenRecord>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(ids(store.tokens(acme.id).await.unwrap()), ["a1", "a2"]);
    assert_eq!(ids(store.tokens(globex.id).await.unwrap()), ["g1"]);
    // The limit counts per tenant: globex has room although acme has two.
    store
        .insert_token(
            globex.id,
            new_token("g2", Idp::Google, t0()),
            2,
            audit(&globex, AuditEvent::ScimTokenCreated, "t"),
        )
        .await
        .unwrap();
}

async fn set_token_status_changes_only_the_tenants_token(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    store
        .insert_token(acme.id, new_token("a1", Idp::Okta, t0()), 2, audit(&acme, AuditEvent::ScimTokenCreated, "t"))
        .await
        .unwrap();
    assert_eq!(
        store.set_token_status(globex.id, "a1", TokenStatus::Inactive).await.unwrap(),
        None,
        "another tenant cannot change it"
    );
    let off = store.set_token_status(acme.id, "a1", TokenStatus::Inactive).await.unwrap().unwrap();
    assert_eq!(off.status, TokenStatus::Inactive);
    let (found, _) = store.token_with_tenant("a1").await.unwrap().unwrap();
    assert_eq!(found, off);
    let on = store.set_token_status(acme.id, "a1", TokenStatus::Active).await.unwrap().unwrap();
    assert_eq!(on.status, TokenStatus::Active);
    assert_eq!(store.set_token_status(acme.id, "missing", TokenStatus::Active).await.unwrap(), None);
}

async fn touch_token_writes_at_most_once_per_interval(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    store
        .insert_token(acme.id, new_token("a1", Idp::Okta, t0()), 2, audit(&acme, AuditEvent::ScimTokenCreated, "t"))
        .await
        .unwrap();
    let minute = Duration::minutes(1);
    let last_used =
        |store: SqlStore| async move { store.token_with_tenant("a1").await.unwrap().unwrap().0.last_used_at };
    let first = t0() + Duration::seconds(10);
    store.touch_token("a1", first, minute).await.unwrap();
    assert_eq!(last_used(store.clone()).await, Some(first));
    store.touch_token("a1", first + Duration::seconds(30), minute).await.unwrap();
    assert_eq!(last_used(store.clone()).await, Some(first), "within the interval");
    store.touch_token("a1", first + Duration::seconds(59), minute).await.unwrap();
    assert_eq!(last_used(store.clone()).await, Some(first));
    let later = first + Duration::seconds(61);
    store.touch_token("a1", later, minute).await.unwrap();
    assert_eq!(last_used(store.clone()).await, Some(later));
    // Unknown tokens are ignored.
    store.touch_token("nope", later, minute).await.unwrap();
}
