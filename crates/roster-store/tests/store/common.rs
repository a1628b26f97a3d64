//! Shared fixtures: a fresh database per test (a temporary SQLite file, or a private
//! PostgreSQL schema when `ROSTER_TEST_POSTGRES_URL` is set), a tenant, the test registry,
//! and helpers that write resources the way the core does (validated first).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::FutureExt;
use serde_json::{Map, Value};
use sqlx::Connection;
use time::OffsetDateTime;

use roster_core::audit::{Actor, AuditEntry, AuditEvent};
use roster_core::model::{Related, StoredResource, Tenant, TenantSettings, UnknownMembers};
use roster_core::store::{Change, KindFilter, MemberReport, MemberRules, Modified, NewResource, Query, WriteScope};
use roster_core::{Error, Store};
use roster_scim::schema::{CustomAttribute, CustomAttributeType};
use roster_scim::{MemberOp, MemberRef, Policy, Registry, ResourceKind, validate_resource};
use roster_store::{SqlStore, StoreOptions};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL URL for tests, if configured.
pub fn postgres_url() -> Option<String> {
    std::env::var("ROSTER_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty())
}

/// SQLite always, PostgreSQL when configured.
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    if postgres_url().is_some() {
        out.push(Backend::Postgres);
    }
    out
}

/// A fresh database; PostgreSQL schemas are dropped again by [`TestDb::cleanup`].
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    pub options: StoreOptions,
    schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

static SCHEMA_SEQ: AtomicU64 = AtomicU64::new(0);

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("roster.db").display());
                TestDb { url, options: StoreOptions::default(), schema: None, _dir: Some(dir) }
            }
            Backend::Postgres => {
                let url = postgres_url().expect("ROSTER_TEST_POSTGRES_URL");
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default();
                let schema = format!(
                    "t_store_{}_{}_{:x}",
                    std::process::id(),
                    SCHEMA_SEQ.fetch_add(1, Ordering::Relaxed),
                    nanos
                );
                TestDb {
                    url,
                    options: StoreOptions { pg_schema: Some(schema.clone()), ..Default::default() },
                    schema: Some(schema),
                    _dir: None,
                }
            }
        }
    }

    pub async fn connect(&self) -> SqlStore {
        SqlStore::connect(&self.url, &self.options).await.expect("connect test database")
    }

    /// Drops the PostgreSQL schema (SQLite's directory goes with `self`).
    pub async fn cleanup(self) {
        if let Some(schema) = &self.schema {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("connect for cleanup");
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")))
                .execute(&mut conn)
                .await
                .expect("drop test schema");
            conn.close().await.ok();
        }
    }
}

/// Runs `test` on a freshly connected store of `backend` (skipped, with a note, for
/// PostgreSQL when it is not configured).
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(SqlStore) -> Fut,
    Fut: Future<Output = ()>,
{
    if backend == Backend::Postgres && postgres_url().is_none() {
        eprintln!("ROSTER_TEST_POSTGRES_URL is not set: PostgreSQL conformance skipped");
        return;
    }
    let db = TestDb::new(backend);
    let store = db.connect().await;
    // The schema is dropped even when the test fails.
    let outcome = std::panic::AssertUnwindSafe(test(store.clone())).catch_unwind().await;
    store.close().await;
    db.cleanup().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// The base URL used for `meta.location` and `$ref`.
pub const BASE_URL: &str = "https://scim.example.com/scim/v2/acme";

/// The custom extension URN of the test registry.
pub const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

/// One custom attribute of every type (and two multi-valued ones).
pub fn custom_attributes() -> Vec<CustomAttribute> {
    let attr = |name: &str, ty, multi_valued| CustomAttribute {
        name: name.into(),
        ty,
        multi_valued,
        description: format!("test attribute {name}"),
    };
    vec![
        attr("badge", CustomAttributeType::String, false),
        attr("vip", CustomAttributeType::Boolean, false),
        attr("level", CustomAttributeType::Integer, false),
        attr("score", CustomAttributeType::Decimal, false),
        attr("hired", CustomAttributeType::DateTime, false),
        attr("homepage", CustomAttributeType::Reference, false),
        attr("tags", CustomAttributeType::String, true),
        attr("lucky", CustomAttributeType::Integer, true),
    ]
}

/// The registry every test writes and queries with.
pub fn registry() -> Registry {
    Registry::new("acme", &custom_attributes())
}

pub fn t0() -> OffsetDateTime {
    time::macros::datetime!(2024-03-01 12:00:00.123456789 UTC)
}

pub const SKIP_FLAT: MemberRules = MemberRules { unknown: UnknownMembers::Skip, nested_groups: false };

pub fn scope<'a>(tenant: &Tenant, registry: &'a Registry, now: OffsetDateTime, rules: MemberRules) -> WriteScope<'a> {
    WriteScope { tenant: tenant.id, registry, now, rules }
}

pub async fn tenant(store: &SqlStore, slug: &str) -> Tenant {
    store.create_tenant(slug, &TenantSettings::default(), t0()).await.expect("create tenant")
}

/// Validates `body` for `kind` as the core does and returns the canonical data and members.
pub fn validated(registry: &Registry, kind: ResourceKind, body: &Value) -> (Map<String, Value>, Vec<MemberRef>) {
    let v = validate_resource(registry, kind, body, &Policy::default())
        .unwrap_or_else(|e| panic!("invalid test body {body}: {e:?}"));
    (v.data, v.members.unwrap_or_default())
}

/// Creates a resource from a SCIM body.
pub async fn try_create(
    store: &SqlStore,
    scope: WriteScope<'_>,
    kind: ResourceKind,
    id: &str,
    body: Value,
) -> Result<(StoredResource, MemberReport), Error> {
    let (data, members) = validated(scope.registry, kind, &body);
    store.create_resource(scope, NewResource { kind, id: id.into(), data, members }, None).await
}

pub async fn create(
    store: &SqlStore,
    scope: WriteScope<'_>,
    kind: ResourceKind,
    id: &str,
    body: Value,
) -> StoredResource {
    try_create(store, scope, kind, id, body).await.unwrap_or_else(|e| panic!("create {id}: {e}")).0
}

/// An audit row for token writes.
pub fn audit(tenant: &Tenant, event: AuditEvent, target: &str) -> AuditEntry {
    AuditEntry {
        tenant: Some(tenant.id),
        at: t0(),
        actor: Actor::system(),
        event,
        target: target.into(),
        details: String::new(),
    }
}

/// The ids a filter selects, in storage order.
pub async fn find(store: &SqlStore, tenant: &Tenant, kind: ResourceKind, filter: &str) -> Vec<String> {
    find_with(store, tenant, &registry(), kind, filter).await
}

/// [`find`] with another registry.
pub async fn find_with(
    store: &SqlStore,
    tenant: &Tenant,
    registry: &Registry,
    kind: ResourceKind,
    filter: &str,
) -> Vec<String> {
    let filter = registry.parse_filter(kind, filter).unwrap_or_else(|e| panic!("filter {filter:?}: {e:?}"));
    let page = store
        .query(
            tenant.id,
            &Query {
                registry,
                kinds: vec![KindFilter { kind, filter }],
                sort: None,
                offset: 0,
                limit: 10_000,
                base_url: BASE_URL,
                after: None,
                count_total: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.total as usize, page.resources.len());
    page.resources.into_iter().map(|r| r.id).collect()
}

/// Runs a modification that returns `change`.
pub async fn modify(
    store: &SqlStore,
    scope: WriteScope<'_>,
    kind: ResourceKind,
    id: &str,
    change: Change,
) -> Result<Option<Modified>, Error> {
    store.modify_resource(scope, kind, id, Box::new(move |_| Ok(change)), None).await
}

/// Applies membership operations to a group.
pub async fn member_ops(
    store: &SqlStore,
    scope: WriteScope<'_>,
    group: &str,
    ops: Vec<MemberOp>,
) -> Result<Modified, Error> {
    modify(store, scope, ResourceKind::Group, group, Change::Update { data: None, member_ops: ops })
        .await
        .map(|m| m.expect("group exists"))
}

pub async fn delete(store: &SqlStore, scope: WriteScope<'_>, kind: ResourceKind, id: &str) -> Option<StoredResource> {
    store.delete_resource(scope, kind, id, Box::new(|_| Ok(())), None).await.unwrap()
}

/// The related ids of one owner from `members_of` / `groups_of`.
pub fn related_ids(map: &HashMap<i64, Vec<Related>>, pk: i64) -> Vec<String> {
    map.get(&pk).map(|v| v.iter().map(|r| r.id.clone()).collect()).unwrap_or_default()
}

pub fn member(id: &str) -> MemberRef {
    MemberRef::new(id)
}
