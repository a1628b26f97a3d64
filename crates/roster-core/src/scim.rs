//! The SCIM service: what each SCIM endpoint does, on top of the protocol core and the
//! store. HTTP handlers call these methods and only translate to and from the wire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{Map, Value};

use roster_scim::discovery::ServiceProviderConfig;
use roster_scim::messages::{ListQuery, ListResponse};
use roster_scim::resource::{Derived, Meta, check_replace, etag_matches};
use roster_scim::schema::ENTERPRISE_USER;
use roster_scim::{
    Filter, MemberOp, Notes, PatchRequest, Projection, Registry, ResourceKind, ScimError, UnknownFilterAttribute,
    apply_patch, render, validate_resource,
};

use crate::clock::{Clock, IdGen};
use crate::error::{AuthFailure, Error, Result};
use crate::events::{self, EventType};
use crate::model::{GroupPatchResponse, Related, StoredResource, Tenant, TenantId, TokenRecord, TokenStatus};
use crate::provisioning::{self, ProvisioningLogger, RequestInfo};
use crate::store::{Change, KindFilter, MemberReport, MemberRules, NewResource, Query, Store, WriteScope};
use crate::tokens;

/// Who is calling and where: the authenticated tenant, its schemas, and its SCIM base URL.
#[derive(Debug, Clone)]
pub struct ScimCtx {
    pub tenant: Tenant,
    pub registry: Arc<Registry>,
    /// `{public-url}/scim/v2/{tenant}`, the base of every `location`.
    pub base_url: String,
    /// The token that authenticated the request, if any (discovery may be anonymous).
    pub token: Option<TokenRecord>,
    /// The request being served, when it is to be logged (the HTTP layer sets it).
    pub request: Option<RequestInfo>,
}

impl ScimCtx {
    fn scope(&self, now: time::OffsetDateTime) -> WriteScope<'_> {
        WriteScope {
            tenant: self.tenant.id,
            registry: &self.registry,
            now,
            rules: MemberRules {
                unknown: self.tenant.settings.unknown_members,
                nested_groups: self.tenant.settings.nested_groups,
            },
        }
    }

    fn location(&self, kind: ResourceKind, id: &str) -> String {
        format!("{}{}/{id}", self.base_url, kind.endpoint())
    }
}

/// `attributes` / `excludedAttributes` as the client gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectionArgs {
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

/// What a write did, for the response and the provisioning log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteReport {
    /// Leniencies and policies that shaped how the request was read.
    pub notes: Notes,
    /// Membership changes (groups).
    pub members: MemberReport,
    /// Canonical paths of the attributes that changed.
    pub changed: Vec<String>,
    /// Whether anything was written.
    pub wrote: bool,
}

/// A resource as returned to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceOut {
    pub kind: ResourceKind,
    pub id: String,
    /// The representation after projection.
    pub body: Map<String, Value>,
    pub version: i64,
    pub location: String,
    pub report: WriteReport,
    /// userName or displayName, for log summaries.
    pub name: String,
}

impl ResourceOut {
    pub fn etag(&self) -> String {
        roster_scim::resource::etag(self.version)
    }
}

/// The outcome of a conditional GET.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    Resource(Box<ResourceOut>),
    /// `If-None-Match` matched (RFC 7644 §3.14).
    NotModified {
        etag: String,
    },
}

/// A position in a cursor walk (RFC 9865). Opaque to clients; it carries the last storage key
/// returned (keyset paging in creation order), the number returned so far (for sorted walks),
/// and the total counted on the first page, so later pages need not count again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    after: Option<i64>,
    position: u64,
    total: Option<u64>,
}

impl Cursor {
    /// `""` starts a walk; otherwise `c<after>-<position>-<total>` (unreserved characters
    /// only, as RFC 9865 requires).
    fn parse(text: &str) -> Result<Cursor> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Cursor { after: None, position: 0, total: None });
        }
        let invalid = || {
            Error::Scim(ScimError::new(
                roster_scim::ScimType::InvalidCursor,
                "the cursor is not one Roster issued: start with an empty cursor and pass nextCursor back unchanged",
            ))
        };
        let body = text.strip_prefix('c').ok_or_else(invalid)?;
        let mut parts = body.split('-');
        let (Some(after), Some(position), Some(total), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        Ok(Cursor {
            after: Some(after.parse().map_err(|_| invalid())?),
            position: position.parse().map_err(|_| invalid())?,
            total: Some(total.parse().map_err(|_| invalid())?),
        })
    }

    fn encode(&self) -> String {
        format!("c{}-{}-{}", self.after.unwrap_or(0), self.position, self.total.unwrap_or(0))
    }
}

/// The services behind the SCIM endpoints (and, later, the admin API and CLI).
#[derive(Debug)]
pub struct Core {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    pub sp_config: ServiceProviderConfig,
    /// The provisioning log's writer for requests that change nothing.
    pub log: ProvisioningLogger,
    /// Wakes the event push worker and long polls after a change (RFC 9967 events).
    pub events: crate::events::EventHub,
    /// When this process last recorded each token's or key's use (see [`Core::touch`]).
    touched: Mutex<HashMap<String, time::OffsetDateTime>>,
    registries: RwLock<HashMap<TenantId, (i64, Arc<Registry>)>>,
}

fn not_found(kind: ResourceKind, id: &str) -> Error {
    Error::Scim(ScimError::not_found(format!("{} {id:?} not found", kind.name())))
}

fn precondition(if_match: Option<&str>, stored: &StoredResource) -> Result<()> {
    match if_match {
        Some(tag) if !etag_matches(tag, stored.version) => Err(Error::Scim(ScimError::precondition_failed(format!(
            "the resource has changed: its version is {}, not {tag}",
            roster_scim::resource::etag(stored.version)
        )))),
        _ => Ok(()),
    }
}

impl Core {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
        sp_config: ServiceProviderConfig,
    ) -> Core {
        let log = ProvisioningLogger::new(store.clone());
        Core {
            store,
            clock,
            ids,
            sp_config,
            log,
            events: crate::events::EventHub::default(),
            touched: Mutex::new(HashMap::new()),
            registries: RwLock::new(HashMap::new()),
        }
    }

    /// The schema registry of a tenant, cached until its schema version changes.
    pub async fn registry(&self, tenant: &Tenant) -> Result<Arc<Registry>> {
        if let Ok(cache) = self.registries.read()
            && let Some((version, registry)) = cache.get(&tenant.id)
            && *version == tenant.schema_version
        {
            return Ok(registry.clone());
        }
        let attributes = self.store.custom_attributes(tenant.id).await?;
        let registry = Arc::new(Registry::new(&tenant.settings.vendor, &attributes));
        if let Ok(mut cache) = self.registries.write() {
            cache.insert(tenant.id, (tenant.schema_version, registry.clone()));
        }
        Ok(registry)
    }

    /// A context for `tenant` without a token (public discovery).
    pub async fn anonymous(&self, slug: &str, base_url: String) -> Result<ScimCtx> {
        let tenant = self
            .store
            .tenant_by_slug(slug)
            .await?
            .ok_or_else(|| Error::Scim(ScimError::not_found(format!("no tenant {slug:?}"))))?;
        let registry = self.registry(&tenant).await?;
        Ok(ScimCtx { tenant, registry, base_url, token: None, request: None })
    }

    /// Authenticates a SCIM request for the tenant `slug` from its `Authorization` header
    /// value (RFC 6750 §2.1; the scheme is case-insensitive).
    pub async fn authenticate(&self, slug: &str, authorization: Option<&str>, base_url: String) -> Result<ScimCtx> {
        let header = authorization.map(str::trim).unwrap_or_default();
        let Some((scheme, credentials)) = header.split_once(' ') else {
            return Err(Error::Unauthorized(AuthFailure::Missing));
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Error::Unauthorized(AuthFailure::Missing));
        }
        if crate::admin::is_api_key(header) {
            // A read-scope key is a SCIM credential for reads only (`authenticate_reader`):
            // a write with it lacks the scope (RFC 6750 §3.1). Other keys are no SCIM credential.
            if self.scim_reader_key(slug, header).await?.is_some() {
                return Err(Error::Scim(ScimError::with_status(
                    403,
                    "this API key is read-only: it can read SCIM resources (GET and /.search); writes need a SCIM token",
                )));
            }
            return Err(Error::Unauthorized(AuthFailure::Invalid));
        }
        let (token_id, secret) = tokens::parse(credentials.trim()).ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        let (token, tenant) =
            self.store.token_with_tenant(token_id).await?.ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        if !tokens::verify(secret, &token.secret_hash) {
            return Err(Error::Unauthorized(AuthFailure::Invalid));
        }
        if tenant.slug != slug {
            return Err(Error::Unauthorized(AuthFailure::WrongTenant));
        }
        if token.status == TokenStatus::Inactive {
            return Err(Error::Unauthorized(AuthFailure::Disabled));
        }
        let now = self.clock.now();
        if token.expires_at.is_some_and(|t| t <= now) {
            return Err(Error::Unauthorized(AuthFailure::Expired));
        }
        self.touch(&token.id, now, true).await?;
        let registry = self.registry(&tenant).await?;
        Ok(ScimCtx { tenant, registry, base_url, token: Some(token), request: None })
    }

    /// Records that a token (or admin API key) was used, at most once a minute per
    /// credential and process: the in-memory check keeps the hot path free of writes, the
    /// conditional update keeps several instances from writing more often either.
    pub(crate) async fn touch(&self, id: &str, now: time::OffsetDateTime, is_token: bool) -> Result<()> {
        let due = match self.touched.lock() {
            Ok(mut seen) => {
                let due = seen.get(id).is_none_or(|last| now - *last >= time::Duration::MINUTE);
                if due {
                    seen.insert(id.to_string(), now);
                }
                due
            }
            Err(_) => true,
        };
        if !due {
            return Ok(());
        }
        if is_token {
            self.store.touch_token(id, now, time::Duration::MINUTE).await
        } else {
            self.store.touch_api_key(id, now, time::Duration::MINUTE).await
        }
    }

    fn projection(ctx: &ScimCtx, kind: ResourceKind, args: &ProjectionArgs) -> Result<Projection> {
        Ok(Projection::parse(&ctx.registry, kind, &args.attributes, &args.excluded)?)
    }

    /// POST `/Users` or `/Groups` (RFC 7644 §3.3).
    pub async fn create(
        &self,
        ctx: &ScimCtx,
        kind: ResourceKind,
        body: &Value,
        args: &ProjectionArgs,
    ) -> Result<ResourceOut> {
        let projection = Self::projection(ctx, kind, args)?;
        let validated = validate_resource(&ctx.registry, kind, body, &ctx.tenant.settings.policy())?;
        let now = self.clock.now();
        let new = NewResource {
            kind,
            id: self.ids.resource_id(),
            data: validated.data,
            members: validated.members.unwrap_or_default(),
        };
        let notes = validated.notes;
        let journal = provisioning::write_journal(ctx, now, 201, kind, |w| {
            let report =
                WriteReport { notes: notes.clone(), members: w.members.clone(), changed: Vec::new(), wrote: true };
            (
                provisioning::write_summary("POST", kind, &w.resource.data, &report),
                provisioning::notes_text(&report.notes, &report.members),
            )
        });
        let event = events::record(ctx, now, self.ids.resource_id(), EventType::Create, kind, Vec::new);
        let journal = events::with_event(journal, event);
        let (stored, members) = self.store.create_resource(ctx.scope(now), new, journal).await?;
        self.events.changed();
        let report = WriteReport { notes: notes.clone(), members, changed: Vec::new(), wrote: true };
        self.view(ctx, stored, &projection, report, Relations::NoGroupsYet).await
    }

    /// GET one resource (RFC 7644 §3.4.1), honouring `If-None-Match`.
    pub async fn get(
        &self,
        ctx: &ScimCtx,
        kind: ResourceKind,
        id: &str,
        args: &ProjectionArgs,
        if_none_match: Option<&str>,
    ) -> Result<Fetched> {
        let projection = Self::projection(ctx, kind, args)?;
        let stored = self.store.get_resource(ctx.tenant.id, kind, id).await?.ok_or_else(|| not_found(kind, id))?;
        if let Some(tag) = if_none_match
            && etag_matches(tag, stored.version)
        {
            return Ok(Fetched::NotModified { etag: roster_scim::resource::etag(stored.version) });
        }
        let out = self.view(ctx, stored, &projection, WriteReport::default(), Relations::Load).await?;
        Ok(Fetched::Resource(Box::new(out)))
    }

    /// PUT (RFC 7644 §3.5.1): a full replace; never creates.
    pub async fn replace(
        &self,
        ctx: &ScimCtx,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        args: &ProjectionArgs,
    ) -> Result<ResourceOut> {
        let projection = Self::projection(ctx, kind, args)?;
        let policy = ctx.tenant.settings.policy();
        let mut validated = validate_resource(&ctx.registry, kind, body, &policy)?;
        let draft = Mutex::new(WriteReport::default());
        let registry = ctx.registry.clone();
        let mutation = Box::new(|stored: &StoredResource| -> Result<Change> {
            precondition(if_match, stored)?;
            check_replace(&stored.data, &mut validated, kind, &policy)?;
            if let Ok(mut d) = draft.lock() {
                d.notes = validated.notes.clone();
                d.changed = roster_scim::patch::changed_paths(&registry, kind, &stored.data, &validated.data);
            }
            let data = (validated.data != stored.data).then(|| validated.data.clone());
            let member_ops = match (kind, validated.members.take()) {
                (ResourceKind::Group, members) => vec![MemberOp::Replace(members.unwrap_or_default())],
                _ => Vec::new(),
            };
            Ok(Change::Update { data, member_ops })
        });
        let modified = self.modify(ctx, kind, id, "PUT", 200, mutation, &draft).await?;
        let mut report = draft.into_inner().unwrap_or_default();
        report.members = modified.members;
        report.wrote = modified.changed;
        self.view(ctx, modified.resource, &projection, report, Relations::Load).await
    }

    /// The status a successful PATCH answers with (F-21): 204 for groups when the tenant
    /// asks for it, unless the client asked for attributes (RFC 7644 §3.5.2 needs a body).
    pub fn patch_status(ctx: &ScimCtx, kind: ResourceKind, args: &ProjectionArgs) -> u16 {
        let wants_body = !args.attributes.is_empty() || !args.excluded.is_empty();
        if kind == ResourceKind::Group
            && ctx.tenant.settings.group_patch_response == GroupPatchResponse::NoContent
            && !wants_body
        {
            204
        } else {
            200
        }
    }

    /// PATCH (RFC 7644 §3.5.2).
    pub async fn patch(
        &self,
        ctx: &ScimCtx,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        args: &ProjectionArgs,
    ) -> Result<ResourceOut> {
        let projection = Self::projection(ctx, kind, args)?;
        let request = PatchRequest::from_json(body, ctx.registry.known_urns())?;
        let policy = ctx.tenant.settings.policy();
        let registry = ctx.registry.clone();
        let draft = Mutex::new(WriteReport::default());
        let mutation = Box::new(|stored: &StoredResource| -> Result<Change> {
            precondition(if_match, stored)?;
            let outcome = apply_patch(&registry, kind, &stored.id, &stored.data, &request, &policy)?;
            let unchanged = outcome.changed.is_empty();
            if let Ok(mut d) = draft.lock() {
                d.notes = outcome.notes;
                d.changed = outcome.changed;
            }
            if unchanged && outcome.member_ops.is_empty() {
                return Ok(Change::None);
            }
            Ok(Change::Update { data: (!unchanged).then_some(outcome.data), member_ops: outcome.member_ops })
        });
        let status = Self::patch_status(ctx, kind, args);
        let modified = self.modify(ctx, kind, id, "PATCH", status, mutation, &draft).await?;
        let mut report = draft.into_inner().unwrap_or_default();
        report.members = modified.members;
        report.wrote = modified.changed;
        self.view(ctx, modified.resource, &projection, report, Relations::Load).await
    }

    /// Runs a modification with its provisioning journal (the draft holds what the mutation
    /// learnt: notes and changed attributes).
    #[allow(clippy::too_many_arguments)]
    async fn modify(
        &self,
        ctx: &ScimCtx,
        kind: ResourceKind,
        id: &str,
        method: &'static str,
        status: u16,
        mutation: crate::store::Mutation<'_>,
        draft: &Mutex<WriteReport>,
    ) -> Result<crate::store::Modified> {
        let now = self.clock.now();
        let journal = provisioning::write_journal(ctx, now, status, kind, move |w| {
            let mut report = draft.lock().map(|d| d.clone()).unwrap_or_default();
            report.members = w.members.clone();
            report.wrote = w.changed;
            (
                provisioning::write_summary(method, kind, &w.resource.data, &report),
                provisioning::notes_text(&report.notes, &report.members),
            )
        });
        let op = if method == "PUT" { EventType::Put } else { EventType::Patch };
        let changed = move || draft.lock().map(|d| d.changed.clone()).unwrap_or_default();
        let journal = events::with_event(journal, events::record(ctx, now, self.ids.resource_id(), op, kind, changed));
        let modified = self
            .store
            .modify_resource(ctx.scope(now), kind, id, mutation, journal)
            .await?
            .ok_or_else(|| not_found(kind, id))?;
        if modified.changed {
            self.events.changed();
        }
        Ok(modified)
    }

    /// DELETE (RFC 7644 §3.6): the resource is gone; its id answers 404 from now on.
    pub async fn delete(
        &self,
        ctx: &ScimCtx,
        kind: ResourceKind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<StoredResource> {
        let check = Box::new(|stored: &StoredResource| precondition(if_match, stored));
        let now = self.clock.now();
        let journal = provisioning::write_journal(ctx, now, 204, kind, |w| {
            (provisioning::write_summary("DELETE", kind, &w.resource.data, &WriteReport::default()), String::new())
        });
        let event = events::record(ctx, now, self.ids.resource_id(), EventType::Delete, kind, Vec::new);
        let journal = events::with_event(journal, event);
        let deleted = self
            .store
            .delete_resource(ctx.scope(now), kind, id, check, journal)
            .await?
            .ok_or_else(|| not_found(kind, id))?;
        self.events.changed();
        Ok(deleted)
    }

    /// GET with a filter, or POST `/.search` (RFC 7644 §3.4.2, §3.4.3). `kind` is `None`
    /// for queries at the tenant root, which span both resource types.
    pub async fn list(&self, ctx: &ScimCtx, kind: Option<ResourceKind>, query: &ListQuery) -> Result<ListResponse> {
        let kinds: Vec<ResourceKind> = match kind {
            Some(k) => vec![k],
            None => ResourceKind::ALL.to_vec(),
        };
        let unknown = if kind.is_some() { UnknownFilterAttribute::Reject } else { UnknownFilterAttribute::Absent };
        let parsed = match &query.filter {
            Some(f) => Some(
                Filter::parse_with(f, ctx.registry.known_urns(), roster_scim::ParseLimits::default())
                    .map_err(roster_scim::FilterError::into_filter_error)?,
            ),
            None => None,
        };
        let mut kind_filters = Vec::new();
        for &k in &kinds {
            let filter = match &parsed {
                Some(f) => ctx.registry.check_filter(k, f, unknown)?,
                None => roster_scim::ValidFilter::Const(true),
            };
            kind_filters.push(KindFilter { kind: k, filter });
        }
        if kind.is_none()
            && parsed.is_some()
            && kind_filters.iter().all(|k| k.filter == roster_scim::ValidFilter::Const(false))
        {
            // Every type lacks the attribute: a filter that can match nothing is a mistake.
            if let Some(f) = &parsed {
                ctx.registry.check_filter(ResourceKind::User, f, UnknownFilterAttribute::Reject)?;
            }
        }
        let sort = match &query.sort_by {
            Some(s) => {
                let mut resolved = Err(Error::Scim(ScimError::invalid_value(format!("cannot sort by {s:?}"))));
                for &k in &kinds {
                    match ctx.registry.check_sort(k, s) {
                        Ok(a) => {
                            resolved = Ok(a);
                            break;
                        }
                        Err(e) => resolved = Err(Error::Scim(e)),
                    }
                }
                Some((resolved?, query.sort_order))
            }
            None => None,
        };
        let limit = query.count.unwrap_or(self.sp_config.default_page_size).min(self.sp_config.max_results);
        let cursor = match &query.cursor {
            Some(text) => {
                if query.count == Some(0) {
                    return Err(Error::Scim(ScimError::new(
                        roster_scim::ScimType::InvalidCount,
                        format!("with a cursor, count must be between 1 and {}", self.sp_config.max_results),
                    )));
                }
                Some(Cursor::parse(text)?)
            }
            None => None,
        };
        // A cursor walk fetches one resource more than it returns: whether it exists decides
        // whether there is a next page (RFC 9865 §2: nextCursor is omitted only on the last).
        let (offset, after, fetch, count_total) = match (&cursor, sort.is_some()) {
            (None, _) => (query.start_index.saturating_sub(1), None, limit, true),
            (Some(c), true) => (c.position, None, limit + 1, c.total.is_none()),
            (Some(c), false) => (0, c.after, limit + 1, c.total.is_none()),
        };
        let mut page = self
            .store
            .query(
                ctx.tenant.id,
                &Query {
                    registry: &ctx.registry,
                    kinds: kind_filters,
                    sort,
                    offset,
                    limit: fetch,
                    base_url: &ctx.base_url,
                    after,
                    count_total,
                },
            )
            .await?;
        let (total, next_cursor) = match &cursor {
            None => (page.total, None),
            Some(c) => {
                let total = c.total.unwrap_or(page.total);
                let more = page.resources.len() as u64 > limit;
                page.resources.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                let next = more.then(|| {
                    Cursor {
                        after: page.resources.last().map(|r| r.pk),
                        position: c.position + page.resources.len() as u64,
                        total: Some(total),
                    }
                    .encode()
                });
                (total, next)
            }
        };
        let args = ProjectionArgs { attributes: query.attributes.clone(), excluded: query.excluded_attributes.clone() };
        let mut projections = HashMap::new();
        for &k in &kinds {
            projections.insert(k, Self::projection(ctx, k, &args)?);
        }
        let views = self.views(ctx, page.resources, &projections, Relations::Load).await?;
        Ok(ListResponse {
            total_results: total,
            start_index: cursor.is_none().then_some(query.start_index),
            resources: views.into_iter().map(|v| Value::Object(v.body)).collect(),
            next_cursor,
            previous_cursor: None,
        })
    }

    /// Renders one resource with its report.
    async fn view(
        &self,
        ctx: &ScimCtx,
        stored: StoredResource,
        projection: &Projection,
        report: WriteReport,
        relations: Relations,
    ) -> Result<ResourceOut> {
        let projections = HashMap::from([(stored.kind, projection.clone())]);
        let mut views = self.views(ctx, vec![stored], &projections, relations).await?;
        let mut out = views.pop().ok_or_else(|| Error::Storage("rendering lost the resource".into()))?;
        out.report = report;
        Ok(out)
    }

    /// Renders stored resources: derived relations (members / groups) loaded in one query
    /// per type when the projection keeps them, manager display names in one query.
    async fn views(
        &self,
        ctx: &ScimCtx,
        resources: Vec<StoredResource>,
        projections: &HashMap<ResourceKind, Projection>,
        relations: Relations,
    ) -> Result<Vec<ResourceOut>> {
        let wants = |kind: ResourceKind| {
            let name = match kind {
                ResourceKind::User => "groups",
                ResourceKind::Group => "members",
            };
            projections.get(&kind).is_none_or(|p| p.includes(&ctx.registry, kind, name))
        };
        let pks = |kind: ResourceKind| resources.iter().filter(|r| r.kind == kind).map(|r| r.pk).collect::<Vec<_>>();
        let user_pks = pks(ResourceKind::User);
        let group_pks = pks(ResourceKind::Group);
        let groups_of = if relations == Relations::Load && wants(ResourceKind::User) && !user_pks.is_empty() {
            self.store.groups_of(ctx.tenant.id, &user_pks).await?
        } else {
            HashMap::new()
        };
        let members_of = if wants(ResourceKind::Group) && !group_pks.is_empty() {
            self.store.members_of(ctx.tenant.id, &group_pks).await?
        } else {
            HashMap::new()
        };
        let manager_ids: Vec<String> = resources.iter().filter_map(manager_id).collect();
        let manager_names = if manager_ids.is_empty() {
            HashMap::new()
        } else {
            self.store.user_displays(ctx.tenant.id, &manager_ids).await?
        };
        let mut out = Vec::with_capacity(resources.len());
        for stored in resources {
            let location = ctx.location(stored.kind, &stored.id);
            let meta = Meta {
                created: stored.created,
                last_modified: stored.last_modified,
                version: stored.version,
                location: location.clone(),
            };
            let relations = match stored.kind {
                ResourceKind::User => wants(ResourceKind::User)
                    .then(|| related_json(ctx, groups_of.get(&stored.pk).map(Vec::as_slice).unwrap_or_default(), true)),
                ResourceKind::Group => wants(ResourceKind::Group).then(|| {
                    related_json(ctx, members_of.get(&stored.pk).map(Vec::as_slice).unwrap_or_default(), false)
                }),
            };
            let mut full = render(&ctx.registry, stored.kind, &stored.id, &stored.data, &meta, Derived { relations });
            decorate_manager(ctx, &mut full, &manager_names);
            let body = match projections.get(&stored.kind) {
                Some(p) => p.apply(&ctx.registry, stored.kind, &full),
                None => full,
            };
            let name = stored
                .data
                .get(if stored.kind == ResourceKind::User { "userName" } else { "displayName" })
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            out.push(ResourceOut {
                kind: stored.kind,
                id: stored.id,
                body,
                version: stored.version,
                location,
                report: WriteReport::default(),
                name,
            });
        }
        Ok(out)
    }
}

/// Whether rendering must look up derived relations. A user created by this very request
/// cannot be in any group yet (groups name members that already exist), so its `groups` is
/// known to be empty without a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relations {
    Load,
    NoGroupsYet,
}

fn manager_id(r: &StoredResource) -> Option<String> {
    r.data.get(ENTERPRISE_USER)?.get("manager")?.get("value")?.as_str().map(str::to_string)
}

/// Fills `manager.$ref` and `manager.displayName` when the manager is a known user (F-8).
fn decorate_manager(ctx: &ScimCtx, resource: &mut Map<String, Value>, names: &HashMap<String, String>) {
    let Some(Value::Object(manager)) = resource.get_mut(ENTERPRISE_USER).and_then(|e| e.get_mut("manager")) else {
        return;
    };
    let Some(id) = manager.get("value").and_then(Value::as_str).map(str::to_string) else {
        return;
    };
    if let Some(name) = names.get(&id) {
        manager.insert("$ref".into(), Value::String(ctx.location(ResourceKind::User, &id)));
        manager.insert("displayName".into(), Value::String(name.clone()));
    }
}

/// `Group.members` or `User.groups` elements (RFC 7643 §4.1.2, §4.2).
fn related_json(ctx: &ScimCtx, related: &[Related], as_groups: bool) -> Vec<Value> {
    related
        .iter()
        .map(|r| {
            let mut o = Map::new();
            o.insert("value".into(), Value::String(r.id.clone()));
            o.insert("$ref".into(), Value::String(ctx.location(r.kind, &r.id)));
            o.insert("display".into(), Value::String(r.display.clone()));
            let ty = if as_groups { "direct" } else { r.kind.name() };
            o.insert("type".into(), Value::String(ty.into()));
            Value::Object(o)
        })
        .collect()
}
