//! The storage interface the services need. `roster-store` implements it on SQLite and
//! PostgreSQL; every method is scoped to a tenant, and every write is one transaction.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use roster_scim::messages::SortOrder;
use roster_scim::schema::CustomAttribute;
use roster_scim::{AttrRef, MemberOp, MemberRef, Registry, ResourceKind, ValidFilter};

use crate::audit::{AuditEntry, AuditQuery, AuditRecord, ProvisioningEntry, ProvisioningQuery, ProvisioningRecord};
use crate::error::Result;
use crate::events::{
    DeliveryEntry, DeliveryRecord, EventEntry, EventKeyRecord, EventQuery, PushUpdate, StoredEvent, StreamChange,
    StreamRecord,
};
use crate::model::{
    Idp, Related, StoredResource, Tenant, TenantId, TenantSettings, TokenRecord, TokenStatus, UnknownMembers,
};

/// A new resource to insert.
#[derive(Debug, Clone)]
pub struct NewResource {
    pub kind: ResourceKind,
    pub id: String,
    pub data: Map<String, Value>,
    /// Initial members (groups).
    pub members: Vec<MemberRef>,
}

/// How membership writes treat ids and types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberRules {
    pub unknown: UnknownMembers,
    pub nested_groups: bool,
}

/// Where and when a write happens: the tenant, its schemas (storage indexes attributes by
/// their characteristics), the time to stamp, and the membership rules.
#[derive(Debug, Clone, Copy)]
pub struct WriteScope<'a> {
    pub tenant: TenantId,
    pub registry: &'a Registry,
    pub now: OffsetDateTime,
    pub rules: MemberRules,
}

/// What happened to a group's membership in one write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberReport {
    pub added: u64,
    pub removed: u64,
    /// Member ids that name no resource and were skipped.
    pub unknown: Vec<String>,
}

impl MemberReport {
    pub fn changed(&self) -> bool {
        self.added > 0 || self.removed > 0
    }
}

/// What a modification wants to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Nothing to write: the resource stays as it is (no version bump, P13).
    None,
    /// New data (if `data` is `Some`) and membership operations, in order.
    Update { data: Option<Map<String, Value>>, member_ops: Vec<MemberOp> },
}

/// The decision a modification makes from the current row, run inside the write
/// transaction so nothing can change in between.
pub type Mutation<'a> = Box<dyn FnOnce(&StoredResource) -> Result<Change> + Send + 'a>;

/// A precondition checked on the current row inside the write transaction (If-Match).
pub type Check<'a> = Box<dyn FnOnce(&StoredResource) -> Result<()> + Send + 'a>;

/// The result of a modification.
#[derive(Debug, Clone, PartialEq)]
pub struct Modified {
    pub resource: StoredResource,
    pub members: MemberReport,
    /// Whether anything was written (version bumped).
    pub changed: bool,
}

/// The ids of the members one write added to and removed from a group (for its events).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// What a resource write did, for the rows journaled with it.
#[derive(Debug, Clone, Copy)]
pub struct Written<'a> {
    /// The resource after the write (before it, for a delete).
    pub resource: &'a StoredResource,
    pub members: &'a MemberReport,
    /// Whether anything was written.
    pub changed: bool,
    /// Which members were added and removed.
    pub member_changes: &'a MemberChanges,
}

/// A row written in the same transaction as the change it records, so no change is ever
/// visible without it (and none of them without the change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalRow {
    Provisioning(ProvisioningEntry),
    Audit(AuditEntry),
    /// The change's event for the tenant's event streams (RFC 9967). Storage gives it the
    /// tenant's next sequence number under a lock on the tenant row, so events become visible
    /// in sequence order with no gaps; it records nothing while the tenant has no stream.
    Event(Box<EventEntry>),
}

/// Builds the journal rows of a write from its outcome; `None` journals nothing.
pub type Journal<'a> = Option<Box<dyn FnOnce(&Written<'_>) -> Vec<JournalRow> + Send + 'a>>;

/// One resource type's part of a query.
#[derive(Debug, Clone)]
pub struct KindFilter {
    pub kind: ResourceKind,
    pub filter: ValidFilter,
}

/// A list query, already resolved against the registry.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    pub registry: &'a Registry,
    /// The resource types to search, each with its filter.
    pub kinds: Vec<KindFilter>,
    pub sort: Option<(AttrRef, SortOrder)>,
    /// 0-based offset.
    pub offset: u64,
    pub limit: u64,
    /// Keyset paging (cursors, RFC 9865): only resources whose storage key is above this.
    /// Used with the default (creation) order.
    pub after: Option<i64>,
    /// Whether to count every match (`totalResults`); a cursor walk counts on its first page only.
    pub count_total: bool,
    /// The tenant's SCIM base URL, for filters on `meta.location` and `$ref`.
    pub base_url: &'a str,
}

/// One page of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub total: u64,
    pub resources: Vec<StoredResource>,
}

/// A change to an existing SCIM token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenChange {
    Status(TokenStatus),
    /// A new secret and expiry for the same record (the old secret stops working at once).
    Renew {
        secret_hash: Vec<u8>,
        expires_at: Option<OffsetDateTime>,
    },
    Delete,
}

/// An administrator account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRecord {
    pub id: i64,
    pub username: String,
    /// The argon2id PHC string.
    pub password_hash: String,
    pub created_at: OffsetDateTime,
}

/// A signed-in session (only the SHA-256 of its cookie is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub admin: AdminRecord,
    pub csrf: String,
    pub expires_at: OffsetDateTime,
}

/// What an admin API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KeyScope {
    /// Everything the admin API offers.
    Admin,
    /// Read only: the admin API's GETs and the tenant's SCIM reads (GET and `/.search`).
    Read,
}

impl KeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Admin => "admin",
            KeyScope::Read => "read",
        }
    }

    pub fn parse(s: &str) -> Option<KeyScope> {
        [KeyScope::Admin, KeyScope::Read].into_iter().find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// An admin API key (only the SHA-256 of its secret is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub name: String,
    pub secret_hash: Vec<u8>,
    /// `None`: every tenant.
    pub tenant: Option<TenantId>,
    pub scope: KeyScope,
    pub created_at: OffsetDateTime,
    pub created_by: String,
    pub last_used_at: Option<OffsetDateTime>,
}

/// A new SCIM token.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: String,
    pub idp: Idp,
    pub name: String,
    pub secret_hash: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
}

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Whether the database answers and every embedded migration is applied.
    async fn ready(&self) -> Result<()>;

    // Tenants.
    async fn create_tenant(&self, slug: &str, settings: &TenantSettings, now: OffsetDateTime) -> Result<Tenant>;
    async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>>;
    async fn tenants(&self) -> Result<Vec<Tenant>>;
    /// Replaces a tenant's settings; bumps its schema version (cached registries refresh).
    async fn update_tenant_settings(&self, tenant: TenantId, settings: &TenantSettings) -> Result<Tenant>;

    // SCIM tokens.
    /// Inserts a token unless the tenant already has `max_tokens`; the count and the insert
    /// are one transaction, so concurrent creates cannot exceed the limit.
    async fn insert_token(
        &self,
        tenant: TenantId,
        token: NewToken,
        max_tokens: u32,
        audit: AuditEntry,
    ) -> Result<TokenRecord>;
    /// A token with its tenant, by public id.
    async fn token_with_tenant(&self, token_id: &str) -> Result<Option<(TokenRecord, Tenant)>>;
    async fn tokens(&self, tenant: TenantId) -> Result<Vec<TokenRecord>>;
    async fn set_token_status(
        &self,
        tenant: TenantId,
        token_id: &str,
        status: TokenStatus,
    ) -> Result<Option<TokenRecord>>;
    /// Records a use, unless one was recorded within `min_interval` (so the hot path
    /// writes at most once a minute per token).
    async fn touch_token(&self, token_id: &str, now: OffsetDateTime, min_interval: time::Duration) -> Result<()>;

    /// Changes a token and writes its audit row in one transaction. `Ok(None)` when the
    /// tenant has no such token.
    async fn change_token(
        &self,
        tenant: TenantId,
        token_id: &str,
        change: TokenChange,
        audit: AuditEntry,
    ) -> Result<Option<TokenRecord>>;

    // Administrators, sessions and API keys.
    async fn admin_count(&self) -> Result<i64>;
    /// Creates an admin; a taken username is [`crate::Error::Conflict`].
    async fn create_admin(
        &self,
        username: &str,
        password_hash: &str,
        now: OffsetDateTime,
        audit: AuditEntry,
    ) -> Result<AdminRecord>;
    async fn admin_by_username(&self, username: &str) -> Result<Option<AdminRecord>>;
    async fn admins(&self) -> Result<Vec<AdminRecord>>;
    /// Sets an admin's password and ends their sessions. `Ok(false)` if there is no such admin.
    async fn set_admin_password(
        &self,
        username: &str,
        password_hash: &str,
        now: OffsetDateTime,
        audit: AuditEntry,
    ) -> Result<bool>;
    async fn create_session(
        &self,
        admin_id: i64,
        id_hash: Vec<u8>,
        csrf: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
        audit: AuditEntry,
    ) -> Result<()>;
    /// The live session with this cookie hash (expired ones are not returned).
    async fn session(&self, id_hash: &[u8], now: OffsetDateTime) -> Result<Option<SessionRecord>>;
    async fn delete_session(&self, id_hash: &[u8], audit: Option<AuditEntry>) -> Result<()>;
    async fn insert_api_key(&self, key: ApiKeyRecord, audit: AuditEntry) -> Result<()>;
    async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>>;
    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>>;
    async fn delete_api_key(&self, id: &str, audit: AuditEntry) -> Result<bool>;
    async fn touch_api_key(&self, id: &str, now: OffsetDateTime, min_interval: time::Duration) -> Result<()>;

    // Audit trail and provisioning log.
    /// Appends an audit row on its own (events that change nothing else, like a failed sign-in).
    async fn append_audit(&self, entry: &AuditEntry) -> Result<()>;
    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>>;
    /// Appends provisioning-log rows of requests that changed nothing, in one transaction.
    async fn append_provisioning(&self, entries: &[ProvisioningEntry]) -> Result<()>;
    async fn provisioning_log(&self, query: &ProvisioningQuery) -> Result<Vec<ProvisioningRecord>>;
    /// Deletes provisioning-log rows older than `before`; returns how many.
    async fn prune_provisioning_log(&self, before: OffsetDateTime) -> Result<u64>;

    /// Replaces a tenant's settings with its audit row, in one transaction. When the custom
    /// extension's URN changes (`rename`: old and new), stored data moves to the new URN, so
    /// no user loses its custom attributes; `registry` is the tenant's registry afterwards.
    async fn change_tenant_settings(
        &self,
        tenant: TenantId,
        settings: &TenantSettings,
        registry: &Registry,
        rename: Option<(String, String)>,
        audit: AuditEntry,
    ) -> Result<Tenant>;

    // Custom attributes.
    async fn custom_attributes(&self, tenant: TenantId) -> Result<Vec<CustomAttribute>>;
    /// Adds a definition (a name already defined, in any case, is a Conflict) and bumps the
    /// tenant's schema version.
    async fn define_custom_attribute(
        &self,
        tenant: TenantId,
        attribute: &CustomAttribute,
        now: OffsetDateTime,
        audit: AuditEntry,
    ) -> Result<()>;
    /// Removes a definition and every stored value of it (data of removed definitions is
    /// never served again, and a later definition of the same name starts empty). `urn` is
    /// the custom extension's; `registry` is the tenant's registry without the attribute.
    /// `Ok(false)` when there is no such definition.
    async fn remove_custom_attribute(
        &self,
        tenant: TenantId,
        urn: &str,
        name: &str,
        registry: &Registry,
        now: OffsetDateTime,
        audit: AuditEntry,
    ) -> Result<bool>;

    // Resources.
    /// Inserts a resource (and its initial members). A userName or group displayName
    /// already in use is [`crate::Error::Duplicate`].
    async fn create_resource(
        &self,
        scope: WriteScope<'_>,
        resource: NewResource,
        journal: Journal<'_>,
    ) -> Result<(StoredResource, MemberReport)>;
    async fn get_resource(&self, tenant: TenantId, kind: ResourceKind, id: &str) -> Result<Option<StoredResource>>;
    /// Loads the resource, runs `mutation` on it and writes the change, all in one
    /// transaction holding the row. `Ok(None)` when there is no such resource.
    async fn modify_resource(
        &self,
        scope: WriteScope<'_>,
        kind: ResourceKind,
        id: &str,
        mutation: Mutation<'_>,
        journal: Journal<'_>,
    ) -> Result<Option<Modified>>;
    /// Deletes a resource after `check` accepts its current state; memberships go with it,
    /// and users it managed lose their `manager` (A19.4, A19.6). `Ok(None)` if absent.
    async fn delete_resource(
        &self,
        scope: WriteScope<'_>,
        kind: ResourceKind,
        id: &str,
        check: Check<'_>,
        journal: Journal<'_>,
    ) -> Result<Option<StoredResource>>;
    async fn query(&self, tenant: TenantId, query: &Query<'_>) -> Result<Page>;
    /// Members of each group (by storage key), in the order the members were created.
    async fn members_of(&self, tenant: TenantId, groups: &[i64]) -> Result<HashMap<i64, Vec<Related>>>;
    /// Groups each user (by storage key) belongs to directly.
    async fn groups_of(&self, tenant: TenantId, users: &[i64]) -> Result<HashMap<i64, Vec<Related>>>;
    /// Display names of users by SCIM id (for `manager.displayName`).
    async fn user_displays(&self, tenant: TenantId, ids: &[String]) -> Result<HashMap<String, String>>;

    /// Users and groups per tenant, every tenant (tenants without resources count 0), for
    /// the metrics gauges.
    async fn resource_counts(&self) -> Result<Vec<TenantCounts>>;
    /// The state of the connection pools, for metrics. A store without pools reports none.
    fn pool_stats(&self) -> Vec<PoolStats> {
        Vec::new()
    }

    // Events (RFC 9967) and their receivers.
    /// Registers a stream in one transaction with its audit row: counts it on its tenant
    /// (so writes record events from now on), starts its cursor at the tenant's latest
    /// event, and gives the tenant `key` as its signing key if it has none.
    async fn create_stream(&self, stream: StreamRecord, key: EventKeyRecord, audit: AuditEntry)
    -> Result<StreamRecord>;
    async fn streams(&self, tenant: TenantId) -> Result<Vec<StreamRecord>>;
    /// A stream by id, in any tenant (poll receivers authenticate with it).
    async fn stream(&self, id: &str) -> Result<Option<StreamRecord>>;
    /// Pauses, resumes or deletes a stream with its audit row. `Ok(None)` if absent.
    async fn change_stream(
        &self,
        tenant: TenantId,
        id: &str,
        change: StreamChange,
        audit: AuditEntry,
    ) -> Result<Option<StreamRecord>>;
    /// The tenant's signing keys, the current one (not retired) first.
    async fn event_keys(&self, tenant: TenantId) -> Result<Vec<EventKeyRecord>>;
    /// Events in sequence order.
    async fn events(&self, query: &EventQuery) -> Result<Vec<StoredEvent>>;
    /// The tenant's latest committed event sequence number (0 before the first).
    async fn latest_event(&self, tenant: TenantId) -> Result<i64>;
    /// Leases up to `limit` active push streams that have events after their cursor and are
    /// due, and whose lease is free or expired, to `owner` until `until`.
    async fn claim_push_streams(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StreamRecord>>;
    /// Extends `owner`'s lease; `false` if it lost it.
    async fn renew_push_lease(&self, id: &str, owner: &str, until: OffsetDateTime) -> Result<bool>;
    /// Applies a push worker's update (and writes its delivery-log row and audit row) if
    /// `owner` still holds the stream; `false` otherwise.
    async fn record_push(
        &self,
        id: &str,
        owner: &str,
        update: PushUpdate,
        log: Option<DeliveryEntry>,
        audit: Option<AuditEntry>,
    ) -> Result<bool>;
    /// Poll: records acknowledged events and events the receiver reported errors for
    /// (sequence numbers), moves the cursor past every leading event that needs no more
    /// delivery, all under the stream's row lock. `Ok(None)` if the stream is gone.
    async fn acknowledge(
        &self,
        id: &str,
        acks: &[i64],
        errors: &[(i64, String)],
        now: OffsetDateTime,
    ) -> Result<Option<StreamRecord>>;
    /// A stream's delivery log, newest first.
    async fn deliveries(&self, id: &str, before: Option<i64>, limit: u32) -> Result<Vec<DeliveryRecord>>;
    /// Deletes events recorded before `before` that every stream of their tenant is past,
    /// and delivery-log rows before `before`; returns how many events.
    async fn prune_events(&self, before: OffsetDateTime) -> Result<u64>;
}

/// How many users and groups a tenant holds ([`Store::resource_counts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantCounts {
    pub tenant: String,
    pub users: u64,
    pub groups: u64,
}

/// One connection pool's state ([`Store::pool_stats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// `read` or `write` on SQLite (readers, and the one writer); `shared` on PostgreSQL.
    pub pool: &'static str,
    /// Connections open now (idle and in use).
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most connections the pool may open.
    pub max: u32,
}
