//! Tenants: create, look up, list, settings.

use roster_core::model::TenantSettings;
use roster_core::{Error, Store};
use roster_store::SqlStore;

use crate::common::t0;

backend_tests!(
    created_tenant_is_found_by_slug_and_listed_in_slug_order,
    creating_a_tenant_with_a_taken_slug_is_a_conflict,
    updating_settings_bumps_schema_version_only_when_they_change,
    updating_settings_of_an_unknown_tenant_is_not_found,
    a_new_tenant_has_no_custom_attributes,
);

async fn created_tenant_is_found_by_slug_and_listed_in_slug_order(store: SqlStore) {
    let settings =
        TenantSettings { vendor: "acme".into(), max_tokens: 5, nested_groups: true, ..TenantSettings::default() };
    let zeta = store.create_tenant("zeta", &TenantSettings::default(), t0()).await.unwrap();
    let alpha = store.create_tenant("alpha", &settings, t0()).await.unwrap();
    assert_eq!(alpha.slug, "alpha");
    assert_eq!(alpha.settings, settings);
    assert_eq!(alpha.schema_version, 1);
    assert_eq!(alpha.created_at, t0());
    assert_ne!(alpha.id, zeta.id);

    assert_eq!(store.tenant_by_slug("alpha").await.unwrap(), Some(alpha.clone()));
    assert_eq!(store.tenant_by_slug("zeta").await.unwrap(), Some(zeta.clone()));
    assert_eq!(store.tenant_by_slug("nope").await.unwrap(), None);
    // Slugs are exact.
    assert_eq!(store.tenant_by_slug("ALPHA").await.unwrap(), None);

    assert_eq!(store.tenants().await.unwrap(), vec![alpha, zeta]);
}

async fn creating_a_tenant_with_a_taken_slug_is_a_conflict(store: SqlStore) {
    store.create_tenant("acme", &TenantSettings::default(), t0()).await.unwrap();
    let err = store.create_tenant("acme", &TenantSettings::default(), t0()).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_eq!(store.tenants().await.unwrap().len(), 1);
}

async fn updating_settings_bumps_schema_version_only_when_they_change(store: SqlStore) {
    let tenant = store.create_tenant("acme", &TenantSettings::default(), t0()).await.unwrap();
    let same = store.update_tenant_settings(tenant.id, &TenantSettings::default()).await.unwrap();
    assert_eq!(same.schema_version, 1, "unchanged settings keep the version");

    let renamed = TenantSettings { vendor: "globex".into(), ..TenantSettings::default() };
    let updated = store.update_tenant_settings(tenant.id, &renamed).await.unwrap();
    assert_eq!(updated.settings, renamed);
    assert_eq!(updated.schema_version, 2, "a new vendor is a new schema");
    assert_eq!(updated.id, tenant.id);
    assert_eq!(updated.created_at, tenant.created_at);
    assert_eq!(store.tenant_by_slug("acme").await.unwrap(), Some(updated.clone()));

    let again = store.update_tenant_settings(tenant.id, &renamed).await.unwrap();
    assert_eq!(again.schema_version, 2);
}

async fn updating_settings_of_an_unknown_tenant_is_not_found(store: SqlStore) {
    let err = store.update_tenant_settings(4242, &TenantSettings::default()).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

async fn a_new_tenant_has_no_custom_attributes(store: SqlStore) {
    let tenant = store.create_tenant("acme", &TenantSettings::default(), t0()).await.unwrap();
    assert_eq!(store.custom_attributes(tenant.id).await.unwrap(), vec![]);
}
