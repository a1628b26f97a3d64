//! Roster's [`Store`] on SQLite (embedded, the default) and PostgreSQL, through sqlx's
//! `Any` driver so that one code path serves both: the SQL is portable except for the few
//! places [`Backend`] words differently. Business rules live in roster-core; this crate
//! knows how to keep data, index it, and answer resolved filters exactly.

mod accounts;
mod admin;
mod copy;
mod events;
mod index;
mod journal;
mod ops;
mod resources;
mod sql;
mod writer;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Executor};

use roster_core::Error;

pub use copy::CopyReport;
pub use ops::{
    Restored, SqliteFileInfo, backup_sqlite, inspect_sqlite, restore_sqlite, sqlite_file_in_use, sqlite_path,
};
pub use sql::Backend;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// The schema versions each backend's migrations define (they must match).
pub fn migration_versions(backend: Backend) -> Vec<(i64, String)> {
    let migrator = match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    };
    migrator.iter().map(|m| (m.version, m.description.to_string())).collect()
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The most connections to hold (readers, for SQLite; SQLite has one writer).
    pub max_connections: u32,
    /// PostgreSQL: the schema to use (created if missing); tests isolate themselves this way.
    pub pg_schema: Option<String>,
    /// Run migrations when connecting.
    pub migrate: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { max_connections: 8, pg_schema: None, migrate: true }
    }
}

/// The store: a read pool, and a writer over a write pool (the same pool on PostgreSQL; one
/// connection on SQLite, whose concurrent writes are group-committed, see [`writer`]).
#[derive(Debug, Clone)]
pub struct SqlStore {
    read: AnyPool,
    writer: writer::Writer,
    backend: Backend,
}

fn db_err(e: sqlx::Error) -> Error {
    // PostgreSQL text cannot hold U+0000 (SQLSTATE 22021): input with one is the client's
    // fault, not a server error. (The HTTP layer refuses NUL in SCIM URLs and bodies first.)
    if let sqlx::Error::Database(d) = &e
        && d.code().as_deref() == Some("22021")
    {
        return Error::Invalid("text may not contain the NUL character (U+0000)".into());
    }
    Error::storage(e)
}

/// Whether a database error is a unique-constraint violation.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl SqlStore {
    /// Opens (and by default migrates) the database at `url`: `sqlite://PATH` or
    /// `postgres://...`. A SQLite file is created if missing.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<SqlStore, Error> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(Error::Invalid(format!(
                "unsupported database URL {url:?}: use sqlite://PATH or postgres://..."
            )));
        };
        let store = match backend {
            Backend::Sqlite => {
                let url = if url.contains("mode=") {
                    url.to_string()
                } else if url.contains('?') {
                    format!("{url}&mode=rwc")
                } else {
                    format!("{url}?mode=rwc")
                };
                let connect = AnyConnectOptions::from_str(&url).map_err(db_err)?;
                let pool = |max: u32| {
                    AnyPoolOptions::new()
                        .max_connections(max)
                        .min_connections(1)
                        .acquire_timeout(Duration::from_secs(30))
                        .after_connect(|conn, _| {
                            Box::pin(async move {
                                // WAL with full sync: readers never block the writer, and a
                                // commit is on disk before it is acknowledged.
                                conn.execute("PRAGMA journal_mode = WAL").await?;
                                conn.execute("PRAGMA synchronous = FULL").await?;
                                conn.execute("PRAGMA foreign_keys = ON").await?;
                                conn.execute("PRAGMA busy_timeout = 10000").await?;
                                Ok(())
                            })
                        })
                };
                let write = pool(1).connect_with(connect.clone()).await.map_err(db_err)?;
                if options.migrate {
                    SQLITE_MIGRATIONS
                        .run(&write)
                        .await
                        .map_err(|e| Error::storage(format!("migration failed: {e}")))?;
                }
                let read = pool(options.max_connections.max(1)).connect_with(connect).await.map_err(db_err)?;
                SqlStore { read, writer: writer::Writer::new(write, backend), backend }
            }
            Backend::Postgres => {
                let connect = AnyConnectOptions::from_str(url).map_err(db_err)?;
                if let Some(schema) = &options.pg_schema {
                    if !schema.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                        return Err(Error::Invalid(format!("invalid schema name {schema:?}")));
                    }
                    let admin =
                        AnyPoolOptions::new().max_connections(1).connect_with(connect.clone()).await.map_err(db_err)?;
                    admin
                        .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")))
                        .await
                        .map_err(db_err)?;
                    admin.close().await;
                }
                let schema = options.pg_schema.clone();
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections.max(2))
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(move |conn, _| {
                        let schema = schema.clone();
                        Box::pin(async move {
                            if let Some(schema) = schema {
                                conn.execute(sqlx::AssertSqlSafe(format!("SET search_path TO \"{schema}\""))).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect_with(connect)
                    .await
                    .map_err(db_err)?;
                if options.migrate {
                    POSTGRES_MIGRATIONS
                        .run(&pool)
                        .await
                        .map_err(|e| Error::storage(format!("migration failed: {e}")))?;
                }
                SqlStore { read: pool.clone(), writer: writer::Writer::new(pool, backend), backend }
            }
        };
        Ok(store)
    }

    /// Applies any pending migrations (for `roster migrate`).
    pub async fn migrate(&self) -> Result<(), Error> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(self.writer.pool()).await.map_err(|e| Error::storage(format!("migration failed: {e}")))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pools (waits for connections to be returned).
    pub async fn close(&self) {
        self.read.close().await;
        self.writer.pool().close().await;
    }
}

/// Builds a query from compiled SQL and its arguments.
fn query(sql: sql::Sql) -> Query<'static, Any, AnyArguments> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.text));
    for arg in sql.args {
        q = match arg {
            sql::Arg::Int(i) => q.bind(i),
            sql::Arg::Float(f) => q.bind(f),
            sql::Arg::Text(s) => q.bind(s),
            sql::Arg::NullText => q.bind(Option::<String>::None),
            // sqlx 0.9.0's Any driver swaps the NULL float kinds (transact-rs/sqlx#4284):
            // an `f64` NULL reaches PostgreSQL as float4, and the statement cached with that
            // type then rejects the next real `f64` ("incorrect binary data format"). An
            // `f32` NULL arrives as float8. Revisit when sqlx is upgraded.
            sql::Arg::NullFloat => q.bind(Option::<f32>::None),
            sql::Arg::Bytes(b) => q.bind(b),
            sql::Arg::NullInt => q.bind(Option::<i64>::None),
            sql::Arg::NullBytes => q.bind(Option::<Vec<u8>>::None),
        };
    }
    q
}

#[async_trait::async_trait]
impl roster_core::Store for SqlStore {
    async fn ready(&self) -> Result<(), Error> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let expected = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.read)
            .await
            .map_err(db_err)?;
        if applied.unwrap_or(0) < expected {
            return Err(Error::Storage(format!(
                "migrations pending: database at {applied:?}, binary expects {expected}"
            )));
        }
        Ok(())
    }

    async fn create_tenant(
        &self,
        slug: &str,
        settings: &roster_core::TenantSettings,
        now: time::OffsetDateTime,
    ) -> Result<roster_core::Tenant, Error> {
        self.create_tenant_impl(slug, settings, now).await
    }
    async fn tenant_by_slug(&self, slug: &str) -> Result<Option<roster_core::Tenant>, Error> {
        self.tenant_by_slug_impl(slug).await
    }
    async fn tenants(&self) -> Result<Vec<roster_core::Tenant>, Error> {
        self.tenants_impl().await
    }
    async fn update_tenant_settings(
        &self,
        tenant: roster_core::TenantId,
        settings: &roster_core::TenantSettings,
    ) -> Result<roster_core::Tenant, Error> {
        self.update_tenant_settings_impl(tenant, settings).await
    }
    async fn insert_token(
        &self,
        tenant: roster_core::TenantId,
        token: roster_core::store::NewToken,
        max_tokens: u32,
        audit: roster_core::audit::AuditEntry,
    ) -> Result<roster_core::TokenRecord, Error> {
        self.insert_token_impl(tenant, token, max_tokens, audit).await
    }
    async fn token_with_tenant(
        &self,
        token_id: &str,
    ) -> Result<Option<(roster_core::TokenRecord, roster_core::Tenant)>, Error> {
        self.token_with_tenant_impl(token_id).await
    }
    async fn tokens(&self, tenant: roster_core::TenantId) -> Result<Vec<roster_core::TokenRecord>, Error> {
        self.tokens_impl(tenant).await
    }
    async fn set_token_status(
        &self,
        tenant: roster_core::TenantId,
        token_id: &str,
        status: roster_core::TokenStatus,
    ) -> Result<Option<roster_core::TokenRecord>, Error> {
        self.set_token_status_impl(tenant, token_id, status).await
    }
    async fn touch_token(
        &self,
        token_id: &str,
        now: time::OffsetDateTime,
        min_interval: time::Duration,
    ) -> Result<(), Error> {
        self.touch_token_impl(token_id, now, min_interval).await
    }
    async fn change_token(
        &self,
        tenant: roster_core::TenantId,
        token_id: &str,
        change: roster_core::store::TokenChange,
        audit: roster_core::audit::AuditEntry,
    ) -> Result<Option<roster_core::TokenRecord>, Error> {
        self.change_token_impl(tenant, token_id, change, audit).await
    }
    async fn admin_count(&self) -> Result<i64, Error> {
        self.admin_count_impl().await
    }
    async fn create_admin(
        &self,
        username: &str,
        password_hash: &str,
        now: time::OffsetDateTime,
        audit: roster_core::audit::AuditEntry,
    ) -> Result<roster_core::store::AdminRecord, Error> {
        self.create_admin_impl(username, password_hash, now, audit).await
    }
    async fn admin_by_username(&self, username: &str) -> Result<Option<roster_core::store::AdminRecord>, Error> {
        self.admin_by_username_impl(username).await
    }
    async fn admins(&self) -> Result<Vec<roster_core::store::AdminRecord>, Error> {
        self.admins_impl().await
    }
    async fn set_admin_password(
        &self,
        username: &str,
        password_hash: &str,
        now: time::OffsetDateTime,
        audit: roster_core::audit::AuditEntry,
    ) -> Result<bool, Error> {
        self.set_admin_password_impl(username, password_hash, now, audit).await
    }
    async fn create_session(
        &self,
        admin_id: i64,
        id_hash: Vec<u8>,
        csrf: &str,
        now: time::OffsetDateTime,
        expires_at: time::OffsetDateTime,
        audit: roster_core::audit::AuditEntry,
    ) -> Result<(), Error> {
        self.create_session_impl(admin_id, id_hash, csrf, now, expires_at, audit).await
    }
    async fn session(
        &self,
        id_hash: &[u8],
        now: time::OffsetDateTime,
    ) -> Result<Option<roster_core::store::SessionRecord>, Error> {
        self.session_impl(id_hash, now).await
    }
    async fn delete_session(&self, id_hash: &[u8], audit: Option<roster_core::audit::AuditEntry>) -> Result<(), Error> {
        self.delete_session_impl(id_hash, audit).await
    }
    async fn insert_api_key(
        &self,
        key: roster_core::store::ApiKeyRecord,
        audit: roster_core::audit::AuditEntry,
    ) -> Result<(), Error> {
        self.insert_api_key_impl(key, audit).await
    }
    async fn api_key(&self, id: &str) -> Result<Option<roster_core::store::ApiKeyRecord>, Error> {
        self.api_key_impl(id).await
    }
    async fn api_keys(&self) -> Result<Vec<roster_core::store::ApiKeyRecord>, Error> {
        self.api_keys_impl().await
    }
    async fn delete_api_key(&self, id: &str, audit: roster_core::audit::AuditEntry) -> Result<bool, Error> {
        self.delete_api_key_impl(id, audit).await
    }
    async fn touch_api_key(
        &self,
        id: &str,
        now: time::OffsetDateTime,
        min_interval: time::Duration,
    ) -> Result<(), Error> {
        self.touch_api_key_impl(id, now, min_interval).await
    }
    async fn append_audit(&self, entry: &roster_core::audit::AuditEntry) -> Result<(), Error> {
        self.append_audit_impl(entry).await
    }
    async fn audit_events(
        &self,
        query: &roster_core::audit::AuditQuery,
    ) -> Result<Vec<roster_core::audit::AuditRecord>, Error> {
        self.audit_events_impl(query).await
    }
    async fn append_provisioning(&self, entries: &[roster_core::audit::ProvisioningEntry]) -> Result<(), Error> {
        self.append_provisioning_impl(entries).await
    }
    async fn provisioning_log(
        &self,
        query: &roster_core::audit::ProvisioningQuery,
    ) -> Result<Vec<roster_core::audit::ProvisioningRecord>, Error> {
        self.provisioning_log_impl(query).await
    }
    async fn prune_provisioning_log(&self, before: time::OffsetDateTime) -> Result<u64, Error> {
        self.prune_provisioning_log_impl(before).await
    }
    async fn change_tenant_settings(
        &self,
        tenant: roster_core::TenantId,
        settings: &roster_core::TenantSettings,
        registry: &roster_scim::Registry,
        rename: Option<(String, String)>,
        audit: roster_core::audit::AuditEntry,
    ) -> Result<roster_core::Tenant, Error> {
        let now = audit.at;
        self.change_tenant_settings_impl(tenant, settings, registry, rename, audit, now).await
    }
    async fn define_custom_attribute(
        &self,
        tenant: roster_core::TenantId,
        attribute: &roster_scim::schema::CustomAttribute,
        now: time::OffsetDateTime,
        audit: roster_core::audit::AuditEntry,
    ) -> Result<(), Error> {
        self.define_custom_attribute_impl(tenant, attribute, now, audit).await
    }
    async fn remove_custom_attribute(
        &self,
        tenant: roster_core::TenantId,
        urn: &str,
        name: &str,
        registry: &roster_scim::Registry,
        now: time::OffsetDateTime,
        audit: roster_core::audit::AuditEntry,
    ) -> Result<bool, Error> {
        self.remove_custom_attribute_impl(tenant, urn, name, registry, now, audit).await
    }
    async fn custom_attributes(
        &self,
        tenant: roster_core::TenantId,
    ) -> Result<Vec<roster_scim::schema::CustomAttribute>, Error> {
        self.custom_attributes_impl(tenant).await
    }
    async fn create_resource(
        &self,
        scope: roster_core::store::WriteScope<'_>,
        resource: roster_core::store::NewResource,
        journal: roster_core::store::Journal<'_>,
    ) -> Result<(roster_core::StoredResource, roster_core::store::MemberReport), Error> {
        self.create_resource_impl(scope, resource, journal).await
    }
    async fn get_resource(
        &self,
        tenant: roster_core::TenantId,
        kind: roster_scim::ResourceKind,
        id: &str,
    ) -> Result<Option<roster_core::StoredResource>, Error> {
        self.get_resource_impl(tenant, kind, id).await
    }
    async fn modify_resource(
        &self,
        scope: roster_core::store::WriteScope<'_>,
        kind: roster_scim::ResourceKind,
        id: &str,
        mutation: roster_core::store::Mutation<'_>,
        journal: roster_core::store::Journal<'_>,
    ) -> Result<Option<roster_core::store::Modified>, Error> {
        self.modify_resource_impl(scope, kind, id, mutation, journal).await
    }
    async fn delete_resource(
        &self,
        scope: roster_core::store::WriteScope<'_>,
        kind: roster_scim::ResourceKind,
        id: &str,
        check: roster_core::store::Check<'_>,
        journal: roster_core::store::Journal<'_>,
    ) -> Result<Option<roster_core::StoredResource>, Error> {
        self.delete_resource_impl(scope, kind, id, check, journal).await
    }
    async fn query(
        &self,
        tenant: roster_core::TenantId,
        query: &roster_core::store::Query<'_>,
    ) -> Result<roster_core::store::Page, Error> {
        self.query_impl(tenant, query).await
    }
    async fn members_of(
        &self,
        tenant: roster_core::TenantId,
        groups: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<roster_core::Related>>, Error> {
        self.members_of_impl(tenant, groups).await
    }
    async fn groups_of(
        &self,
        tenant: roster_core::TenantId,
        users: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<roster_core::Related>>, Error> {
        self.groups_of_impl(tenant, users).await
    }
    async fn user_displays(
        &self,
        tenant: roster_core::TenantId,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, String>, Error> {
        self.user_displays_impl(tenant, ids).await
    }
    async fn resource_counts(&self) -> Result<Vec<roster_core::store::TenantCounts>, Error> {
        self.resource_counts_impl().await
    }
    fn pool_stats(&self) -> Vec<roster_core::store::PoolStats> {
        self.pool_stats_impl()
    }
    async fn create_stream(
        &self,
        stream: roster_core::events::StreamRecord,
        key: roster_core::events::EventKeyRecord,
        audit: roster_core::audit::AuditEntry,
    ) -> Result<roster_core::events::StreamRecord, Error> {
        self.create_stream_impl(stream, key, audit).await
    }
    async fn streams(&self, tenant: roster_core::TenantId) -> Result<Vec<roster_core::events::StreamRecord>, Error> {
        self.streams_impl(tenant).await
    }
    async fn stream(&self, id: &str) -> Result<Option<roster_core::events::StreamRecord>, Error> {
        self.stream_impl(id).await
    }
    async fn change_stream(
        &self,
        tenant: roster_core::TenantId,
        id: &str,
        change: roster_core::events::StreamChange,
        audit: roster_core::audit::AuditEntry,
    ) -> Result<Option<roster_core::events::StreamRecord>, Error> {
        self.change_stream_impl(tenant, id, change, audit).await
    }
    async fn event_keys(
        &self,
        tenant: roster_core::TenantId,
    ) -> Result<Vec<roster_core::events::EventKeyRecord>, Error> {
        self.event_keys_impl(tenant).await
    }
    async fn events(
        &self,
        query: &roster_core::events::EventQuery,
    ) -> Result<Vec<roster_core::events::StoredEvent>, Error> {
        self.events_impl(query).await
    }
    async fn latest_event(&self, tenant: roster_core::TenantId) -> Result<i64, Error> {
        self.latest_event_impl(tenant).await
    }
    async fn claim_push_streams(
        &self,
        owner: &str,
        now: time::OffsetDateTime,
        until: time::OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<roster_core::events::StreamRecord>, Error> {
        self.claim_push_streams_impl(owner, now, until, limit).await
    }
    async fn renew_push_lease(&self, id: &str, owner: &str, until: time::OffsetDateTime) -> Result<bool, Error> {
        self.renew_push_lease_impl(id, owner, until).await
    }
    async fn record_push(
        &self,
        id: &str,
        owner: &str,
        update: roster_core::events::PushUpdate,
        log: Option<roster_core::events::DeliveryEntry>,
        audit: Option<roster_core::audit::AuditEntry>,
    ) -> Result<bool, Error> {
        self.record_push_impl(id, owner, update, log, audit).await
    }
    async fn acknowledge(
        &self,
        id: &str,
        acks: &[i64],
        errors: &[(i64, String)],
        now: time::OffsetDateTime,
    ) -> Result<Option<roster_core::events::StreamRecord>, Error> {
        self.acknowledge_impl(id, acks, errors, now).await
    }
    async fn deliveries(
        &self,
        id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<roster_core::events::DeliveryRecord>, Error> {
        self.deliveries_impl(id, before, limit).await
    }
    async fn prune_events(&self, before: time::OffsetDateTime) -> Result<u64, Error> {
        self.prune_events_impl(before).await
    }
}
