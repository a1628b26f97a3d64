//! Custom attribute definitions and tenant settings changes that rewrite stored data:
//! removing a definition purges its values; renaming the vendor moves the extension.

use serde_json::json;
use time::Duration;

use roster_core::audit::AuditEvent;
use roster_core::model::TenantSettings;
use roster_core::{Error, Store};
use roster_scim::schema::{CustomAttribute, CustomAttributeType, custom_extension_urn};
use roster_scim::{Registry, ResourceKind};
use roster_store::SqlStore;

use crate::common::{ACME, SKIP_FLAT, audit, create, custom_attributes, find_with, registry, scope, t0, tenant};

const USER: ResourceKind = ResourceKind::User;

backend_tests!(
    defined_attributes_are_listed_in_definition_order_and_bump_the_schema_version,
    a_name_defined_in_any_case_is_a_conflict,
    removing_a_definition_purges_its_values_and_a_new_definition_starts_empty,
    renaming_the_vendor_moves_stored_extension_data,
);

fn attr(name: &str, ty: CustomAttributeType) -> CustomAttribute {
    CustomAttribute { name: name.into(), ty, multi_valued: false, description: String::new() }
}

async fn defined_attributes_are_listed_in_definition_order_and_bump_the_schema_version(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    let defs = [attr("zeta", CustomAttributeType::String), attr("alpha", CustomAttributeType::Integer)];
    for (i, def) in defs.iter().enumerate() {
        store
            .define_custom_attribute(
                acme.id,
                def,
                t0() + Duration::seconds(i as i64),
                audit(&acme, AuditEvent::AttributeDefined, &def.name),
            )
            .await
            .unwrap();
    }
    assert_eq!(store.custom_attributes(acme.id).await.unwrap(), defs);
    assert_eq!(store.custom_attributes(globex.id).await.unwrap(), vec![]);
    let after = store.tenant_by_slug("acme").await.unwrap().unwrap();
    assert_eq!(after.schema_version, acme.schema_version + 2);
    assert_eq!(store.tenant_by_slug("globex").await.unwrap().unwrap().schema_version, globex.schema_version);
}

async fn a_name_defined_in_any_case_is_a_conflict(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    let badge = attr("badge", CustomAttributeType::String);
    store
        .define_custom_attribute(acme.id, &badge, t0(), audit(&acme, AuditEvent::AttributeDefined, "badge"))
        .await
        .unwrap();
    let err = store
        .define_custom_attribute(
            acme.id,
            &attr("BADGE", CustomAttributeType::Boolean),
            t0(),
            audit(&acme, AuditEvent::AttributeDefined, "BADGE"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_eq!(store.custom_attributes(acme.id).await.unwrap(), vec![badge.clone()]);
    // Another tenant has its own namespace.
    store
        .define_custom_attribute(globex.id, &badge, t0(), audit(&globex, AuditEvent::AttributeDefined, "badge"))
        .await
        .unwrap();
}

async fn removing_a_definition_purges_its_values_and_a_new_definition_starts_empty(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let full = registry();
    for (i, def) in custom_attributes().iter().enumerate() {
        let at = t0() + Duration::seconds(i as i64);
        store
            .define_custom_attribute(acme.id, def, at, audit(&acme, AuditEvent::AttributeDefined, &def.name))
            .await
            .unwrap();
    }
    let s = scope(&acme, &full, t0(), SKIP_FLAT);
    let only_badge = create(&store, s, USER, "u1", json!({"userName": "a", ACME: {"badge": "B-1"}})).await;
    let badge_and_level =
        create(&store, s, USER, "u2", json!({"userName": "b", ACME: {"badge": "B-2", "level": 4}})).await;
    let no_badge = create(&store, s, USER, "u3", json!({"userName": "c", ACME: {"level": 5}})).await;
    assert_eq!(find_with(&store, &acme, &full, USER, "badge pr").await, ["u1", "u2"]);

    let without: Vec<CustomAttribute> = custom_attributes().into_iter().filter(|a| a.name != "badge").collect();
    let reduced = Registry::new("acme", &without);
    let later = t0() + Duration::minutes(1);
    let removed = store
        .remove_custom_attribute(
            acme.id,
            ACME,
            "badge",
            &reduced,
            later,
            audit(&acme, AuditEvent::AttributeRemoved, "badge"),
        )
        .await
        .unwrap();
    assert!(removed);
    assert_eq!(store.custom_attributes(acme.id).await.unwrap(), without);

    let u1 = store.get_resource(acme.id, USER, "u1").await.unwrap().unwrap();
    assert!(u1.data.get(ACME).is_none(), "an emptied extension goes: {:?}", u1.data);
    assert_eq!((u1.version, u1.last_modified), (only_badge.version + 1, later));
    let u2 = store.get_resource(acme.id, USER, "u2").await.unwrap().unwrap();
    assert_eq!(u2.data[ACME], json!({"level": 4}));
    assert_eq!(u2.version, badge_and_level.version + 1);
    assert_eq!(store.get_resource(acme.id, USER, "u3").await.unwrap(), Some(no_badge));
    // The index follows the data.
    assert_eq!(find_with(&store, &acme, &reduced, USER, "level pr").await, ["u2", "u3"]);
    assert_eq!(
        find_with(&store, &acme, &reduced, USER, "schemas eq \"urn:ietf:params:scim:schemas:extension:acme:2.0:User\"")
            .await,
        ["u2", "u3"]
    );

    // Defined again, the attribute starts empty.
    store
        .define_custom_attribute(
            acme.id,
            &attr("badge", CustomAttributeType::String),
            later,
            audit(&acme, AuditEvent::AttributeDefined, "badge"),
        )
        .await
        .unwrap();
    assert!(find_with(&store, &acme, &full, USER, "badge pr").await.is_empty());

    let again = store
        .remove_custom_attribute(
            acme.id,
            ACME,
            "nothing",
            &reduced,
            later,
            audit(&acme, AuditEvent::AttributeRemoved, "x"),
        )
        .await
        .unwrap();
    assert!(!again);
}

async fn renaming_the_vendor_moves_stored_extension_data(store: SqlStore) {
    let acme = tenant(&store, "acme").await;
    let old = registry();
    for def in custom_attributes() {
        store
            .define_custom_attribute(acme.id, &def, t0(), audit(&acme, AuditEvent::AttributeDefined, &def.name))
            .await
            .unwrap();
    }
    let s = scope(&acme, &old, t0(), SKIP_FLAT);
    let with_ext =
        create(&store, s, USER, "u1", json!({"userName": "a", "title": "T", ACME: {"badge": "B-1", "level": 2}})).await;
    let without_ext = create(&store, s, USER, "u2", json!({"userName": "b"})).await;
    let before = store.tenant_by_slug("acme").await.unwrap().unwrap();

    let new_urn = custom_extension_urn("globex");
    let renamed = Registry::new("globex", &custom_attributes());
    let settings = TenantSettings { vendor: "globex".into(), ..TenantSettings::default() };
    let updated = store
        .change_tenant_settings(
            acme.id,
            &settings,
            &renamed,
            Some((ACME.to_string(), new_urn.clone())),
            audit(&acme, AuditEvent::TenantSettingsChanged, "acme"),
        )
        .await
        .unwrap();
    assert_eq!(updated.settings, settings);
    assert!(updated.schema_version > before.schema_version);

    let u1 = store.get_resource(acme.id, USER, "u1").await.unwrap().unwrap();
    assert!(u1.data.get(ACME).is_none());
    assert_eq!(u1.data[&new_urn], json!({"badge": "B-1", "level": 2}));
    assert_eq!(u1.version, with_ext.version + 1);
    assert_eq!(store.get_resource(acme.id, USER, "u2").await.unwrap(), Some(without_ext));

    let by_new = format!("{new_urn}:badge eq \"b-1\"");
    assert_eq!(find_with(&store, &acme, &renamed, USER, &by_new).await, ["u1"]);
    assert_eq!(find_with(&store, &acme, &renamed, USER, "level eq 2").await, ["u1"]);
    assert_eq!(find_with(&store, &acme, &renamed, USER, &format!("schemas eq \"{new_urn}\"")).await, ["u1"]);
    assert_eq!(find_with(&store, &acme, &renamed, USER, "title eq \"t\"").await, ["u1"]);
}
