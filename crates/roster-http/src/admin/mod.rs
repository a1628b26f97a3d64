//! The admin JSON API under `/admin/api`: tenants, SCIM tokens, the audit trail and the
//! provisioning log. Callers are signed-in administrators (session cookie, with a CSRF
//! header on changes) or admin API keys; SCIM tokens are refused here.

pub mod auth;
pub mod openapi;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, extract::Extension};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use roster_core::admin::{AdminPrincipal, TokenView};
use roster_core::attributes::AttributeView;
use roster_core::audit::{AuditEvent, AuditQuery, AuditRecord, ProvisioningQuery, ProvisioningRecord};
use roster_core::tenants::{Expiry, IssuedToken, target_url};
use roster_core::{Error, Idp, Tenant, TenantSettings};

use crate::AppState;
use auth::Principal;

/// An admin API error: `{"error": "...", "status": 409}` with the same HTTP status.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        let code = match &self.0 {
            Error::Scim(e) => e.status,
            Error::Duplicate { .. } | Error::Conflict(_) => 409,
            Error::Unauthorized(_) => 401,
            Error::Invalid(_) => 400,
            Error::NotFound(_) => 404,
            Error::Storage(_) => 500,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn forbidden(msg: &str) -> ApiError {
        ApiError(Error::Scim(roster_scim::ScimError::with_status(403, msg)))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self.0 {
            Error::Storage(cause) => {
                tracing::error!(%cause, "admin API request failed in storage");
                "internal error; the server log has the details".to_string()
            }
            Error::Scim(e) => e.detail.clone(),
            Error::Unauthorized(_) => {
                "sign in, or send an admin API key as 'Authorization: Bearer rosterkey_...'".to_string()
            }
            other => other.to_string(),
        };
        (status, Json(json!({"error": message, "status": status.as_u16()}))).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Errors the framework produces (a body that does not parse, a wrong method) come back in
/// the API's own JSON error shape.
pub(crate) async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let allow = response.headers().get(axum::http::header::ALLOW).cloned();
    let bytes = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
    // 422 (a body of the wrong shape) is a plain bad request for API clients.
    let status = if status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { status };
    let mut out = (status, Json(json!({"error": message, "status": status.as_u16()}))).into_response();
    if let Some(allow) = allow {
        out.headers_mut().insert(axum::http::header::ALLOW, allow);
    }
    out
}

pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/session", post(auth::sign_in).delete(auth::sign_out))
        .route("/me", get(me))
        .route("/tenants", get(list_tenants).post(create_tenant))
        .route("/tenants/{tenant}", get(get_tenant))
        .route("/tenants/{tenant}/tokens", get(list_tokens).post(create_token))
        .route("/tenants/{tenant}/tokens/{id}", axum::routing::delete(remove_token))
        .route("/tenants/{tenant}/tokens/{id}/enable", post(enable_token))
        .route("/tenants/{tenant}/tokens/{id}/disable", post(disable_token))
        .route("/tenants/{tenant}/tokens/{id}/renew", post(renew_token))
        .route("/tenants/{tenant}/settings", axum::routing::patch(update_settings))
        .route("/tenants/{tenant}/attributes", get(list_attributes).post(define_attribute))
        .route("/tenants/{tenant}/attributes/{name}", axum::routing::delete(remove_attribute))
        .route("/tenants/{tenant}/audit", get(tenant_audit))
        .route("/tenants/{tenant}/provisioning-log", get(provisioning_log))
        .route("/audit", get(installation_audit))
        .merge(crate::events::admin_routes())
        .route("/openapi.json", get(openapi::document))
        .fallback(|| async { ApiError(Error::NotFound("no such admin API endpoint".into())) })
        .layer(axum::middleware::from_fn_with_state(state, auth::resolve_principal))
        .layer(axum::middleware::from_fn(json_errors))
}

/// A tenant as the admin API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantView {
    pub slug: String,
    /// The SCIM base URL to paste into the identity provider.
    pub target_url: String,
    pub settings: TenantSettings,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

fn tenant_view(app: &AppState, t: Tenant) -> TenantView {
    TenantView {
        target_url: target_url(&app.config.public_url, &t.slug),
        slug: t.slug,
        settings: t.settings,
        created_at: t.created_at,
    }
}

/// Loads a tenant the principal may act on (404 otherwise, so keys cannot probe others).
pub(crate) async fn tenant_for(app: &AppState, principal: &AdminPrincipal, slug: &str) -> ApiResult<Tenant> {
    let tenant = app.core.tenant(slug).await?;
    if !principal.can_access(&tenant) {
        return Err(Error::NotFound(format!("no tenant {slug:?}")).into());
    }
    Ok(tenant)
}

pub(crate) fn require_write(principal: &AdminPrincipal) -> ApiResult<()> {
    if principal.can_write() { Ok(()) } else { Err(ApiError::forbidden("this API key is read-only")) }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeView {
    /// `admin` or `api_key`.
    pub kind: &'static str,
    pub name: String,
    /// Send this as `X-CSRF-Token` on changes made with the session cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
}

#[utoipa::path(get, path = "/admin/api/me", tag = "session", responses((status = 200, body = MeView)))]
pub async fn me(Extension(Principal(principal)): Extension<Principal>) -> Json<MeView> {
    Json(match principal {
        AdminPrincipal::Admin { username, csrf, .. } => MeView { kind: "admin", name: username, csrf: Some(csrf) },
        AdminPrincipal::ApiKey { id, .. } => MeView { kind: "api_key", name: id, csrf: None },
    })
}

#[utoipa::path(get, path = "/admin/api/tenants", tag = "tenants", responses((status = 200, body = [TenantView])))]
pub async fn list_tenants(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
) -> ApiResult<Json<Vec<TenantView>>> {
    let tenants = app.core.tenants().await?;
    Ok(Json(tenants.into_iter().filter(|t| principal.can_access(t)).map(|t| tenant_view(&app, t)).collect()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewTenant {
    pub slug: String,
}

#[utoipa::path(post, path = "/admin/api/tenants", tag = "tenants", request_body = NewTenant,
    responses((status = 201, body = TenantView), (status = 409, description = "the tenant exists")))]
pub async fn create_tenant(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Json(body): Json<NewTenant>,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    require_write(&principal)?;
    if !principal.is_global() {
        return Err(ApiError::forbidden("only administrators and installation-wide keys create tenants"));
    }
    let tenant = app.core.create_tenant_as(&principal.actor(), &body.slug).await?;
    Ok((StatusCode::CREATED, Json(tenant_view(&app, tenant))))
}

#[utoipa::path(get, path = "/admin/api/tenants/{tenant}", tag = "tenants", responses((status = 200, body = TenantView)))]
pub async fn get_tenant(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path(slug): Path<String>,
) -> ApiResult<Json<TenantView>> {
    let tenant = tenant_for(&app, &principal, &slug).await?;
    Ok(Json(tenant_view(&app, tenant)))
}

#[utoipa::path(get, path = "/admin/api/tenants/{tenant}/tokens", tag = "tokens", responses((status = 200, body = [TokenView])))]
pub async fn list_tokens(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path(slug): Path<String>,
) -> ApiResult<Json<Vec<TokenView>>> {
    let tenant = tenant_for(&app, &principal, &slug).await?;
    Ok(Json(app.core.list_tokens(&tenant.slug).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    /// entra, okta, onelogin, pingone, jumpcloud, google or other.
    pub idp: String,
    #[serde(default)]
    pub name: String,
    /// `365d` (the default), `12h`, `2w`, ... or `never`.
    #[serde(default)]
    pub expires_in: Option<String>,
}

fn parse_expiry(s: Option<&str>) -> ApiResult<Expiry> {
    Ok(match s {
        Some(s) => Expiry::parse(s)?,
        None => Expiry::DEFAULT,
    })
}

#[utoipa::path(post, path = "/admin/api/tenants/{tenant}/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, body = IssuedToken, description = "the secret is in `token`, shown this once"),
              (status = 409, description = "the tenant already has its maximum number of tokens")))]
pub async fn create_token(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path(slug): Path<String>,
    Json(body): Json<NewToken>,
) -> ApiResult<(StatusCode, Json<IssuedToken>)> {
    require_write(&principal)?;
    let tenant = tenant_for(&app, &principal, &slug).await?;
    let idp = Idp::parse(&body.idp).ok_or_else(|| {
        Error::Invalid(format!(
            "unknown IdP {:?}: use entra, okta, onelogin, pingone, jumpcloud, google or other",
            body.idp
        ))
    })?;
    let expiry = parse_expiry(body.expires_in.as_deref())?;
    let issued =
        app.core.issue_token(&principal.actor(), &tenant.slug, idp, &body.name, expiry, &app.config.public_url).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

#[utoipa::path(post, path = "/admin/api/tenants/{tenant}/tokens/{id}/enable", tag = "tokens", responses((status = 200, body = TokenView)))]
pub async fn enable_token(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path((slug, id)): Path<(String, String)>,
) -> ApiResult<Json<TokenView>> {
    require_write(&principal)?;
    let tenant = tenant_for(&app, &principal, &slug).await?;
    Ok(Json(app.core.set_token_active(&principal.actor(), &tenant.slug, &id, true).await?))
}

#[utoipa::path(post, path = "/admin/api/tenants/{tenant}/tokens/{id}/disable", tag = "tokens", responses((status = 200, body = TokenView)))]
pub async fn disable_token(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path((slug, id)): Path<(String, String)>,
) -> ApiResult<Json<TokenView>> {
    require_write(&principal)?;
    let tenant = tenant_for(&app, &principal, &slug).await?;
    Ok(Json(app.core.set_token_active(&principal.actor(), &tenant.slug, &id, false).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct Renewal {
    /// `365d` (the default), ... or `never`.
    #[serde(default)]
    pub expires_in: Option<String>,
}

#[utoipa::path(post, path = "/admin/api/tenants/{tenant}/tokens/{id}/renew", tag = "tokens", request_body = Renewal,
    responses((status = 200, body = IssuedToken, description = "the new secret, shown this once")))]
pub async fn renew_token(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path((slug, id)): Path<(String, String)>,
    body: Option<Json<Renewal>>,
) -> ApiResult<Json<IssuedToken>> {
    require_write(&principal)?;
    let tenant = tenant_for(&app, &principal, &slug).await?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let expiry = parse_expiry(body.expires_in.as_deref())?;
    Ok(Json(app.core.renew_token(&principal.actor(), &tenant.slug, &id, expiry, &app.config.public_url).await?))
}

#[utoipa::path(delete, path = "/admin/api/tenants/{tenant}/tokens/{id}", tag = "tokens", responses((status = 204)))]
pub async fn remove_token(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path((slug, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    require_write(&principal)?;
    let tenant = tenant_for(&app, &principal, &slug).await?;
    app.core.remove_token(&principal.actor(), &tenant.slug, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Paging and filters of the audit trail.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct AuditParams {
    /// An event code (`scim_token.created`) or name ("SCIM Token Created").
    pub event: Option<String>,
    /// RFC 3339 time: events at or after it.
    pub since: Option<String>,
    /// RFC 3339 time: events before it.
    pub until: Option<String>,
    /// The `next_before` of the previous page.
    pub before: Option<i64>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditRecord>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}

fn parse_time(s: Option<&str>, what: &str) -> ApiResult<Option<OffsetDateTime>> {
    s.map(|s| {
        OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
            ApiError(Error::Invalid(format!("{what} must be an RFC 3339 time, like 2026-11-30T12:00:00Z")))
        })
    })
    .transpose()
}

fn audit_query(tenant: Option<Option<i64>>, p: &AuditParams) -> ApiResult<AuditQuery> {
    let event = match &p.event {
        Some(e) => Some(AuditEvent::parse(e).ok_or_else(|| Error::Invalid(format!("unknown audit event {e:?}")))?),
        None => None,
    };
    Ok(AuditQuery {
        tenant,
        event,
        since: parse_time(p.since.as_deref(), "since")?,
        until: parse_time(p.until.as_deref(), "until")?,
        before_id: p.before,
        limit: p.limit.unwrap_or(100).clamp(1, 1000),
    })
}

async fn audit_page(app: &AppState, q: AuditQuery) -> ApiResult<Json<AuditPage>> {
    let limit = q.limit as usize;
    let events = app.core.audit_events(&q).await?;
    let next_before = if events.len() == limit { events.last().map(|e| e.id) } else { None };
    Ok(Json(AuditPage { events, next_before }))
}

#[utoipa::path(get, path = "/admin/api/tenants/{tenant}/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = AuditPage)))]
pub async fn tenant_audit(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path(slug): Path<String>,
    Query(params): Query<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    let tenant = tenant_for(&app, &principal, &slug).await?;
    audit_page(&app, audit_query(Some(Some(tenant.id)), &params)?).await
}

#[utoipa::path(get, path = "/admin/api/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = AuditPage, description = "every tenant's events and the installation-wide ones")))]
pub async fn installation_audit(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Query(params): Query<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    if !principal.is_global() {
        return Err(ApiError::forbidden(
            "only administrators and installation-wide keys read every tenant's audit trail",
        ));
    }
    audit_page(&app, audit_query(None, &params)?).await
}

/// Filters and paging of the provisioning log.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct LogParams {
    /// A token id.
    pub token: Option<String>,
    /// `2xx`, `4xx` or `5xx`.
    pub status: Option<String>,
    /// `User` or `Group`.
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub since: Option<String>,
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogPage {
    pub requests: Vec<ProvisioningRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}

#[utoipa::path(get, path = "/admin/api/tenants/{tenant}/provisioning-log", tag = "provisioning log", params(LogParams),
    responses((status = 200, body = LogPage)))]
pub async fn provisioning_log(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path(slug): Path<String>,
    Query(p): Query<LogParams>,
) -> ApiResult<Json<LogPage>> {
    let tenant = tenant_for(&app, &principal, &slug).await?;
    let status_class = match p.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => match s.to_ascii_lowercase().as_str() {
            "2xx" | "2" => Some(2),
            "3xx" | "3" => Some(3),
            "4xx" | "4" => Some(4),
            "5xx" | "5" => Some(5),
            _ => return Err(Error::Invalid(format!("status must be 2xx, 4xx or 5xx, not {s:?}")).into()),
        },
    };
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let q = ProvisioningQuery {
        tenant: tenant.id,
        token_id: p.token.filter(|s| !s.is_empty()),
        status_class,
        resource_type: p.resource_type.filter(|s| !s.is_empty()),
        resource_id: p.resource_id.filter(|s| !s.is_empty()),
        since: parse_time(p.since.as_deref(), "since")?,
        before_id: p.before,
        limit,
    };
    let requests = app.core.provisioning_log(&q).await?;
    let next_before = if requests.len() == limit as usize { requests.last().map(|r| r.id) } else { None };
    Ok(Json(LogPage { requests, next_before }))
}

#[utoipa::path(patch, path = "/admin/api/tenants/{tenant}/settings", tag = "tenants",
    request_body(content = Object, description = "the settings to change (any subset of TenantSettings)"),
    responses((status = 200, body = TenantView), (status = 400, description = "an invalid value")))]
pub async fn update_settings(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path(slug): Path<String>,
    Json(changes): Json<serde_json::Value>,
) -> ApiResult<Json<TenantView>> {
    require_write(&principal)?;
    let tenant = tenant_for(&app, &principal, &slug).await?;
    let serde_json::Value::Object(changes) = changes else {
        return Err(Error::Invalid("send a JSON object of the settings to change".into()).into());
    };
    let mut merged = serde_json::to_value(&tenant.settings).map_err(Error::storage)?;
    for (k, v) in changes {
        match merged.get_mut(&k) {
            Some(slot) => *slot = v,
            None => return Err(Error::Invalid(format!("{k:?} is not a tenant setting")).into()),
        }
    }
    let settings: TenantSettings =
        serde_json::from_value(merged).map_err(|e| Error::Invalid(format!("invalid settings: {e}")))?;
    let updated = app.core.change_settings(&principal.actor(), &tenant.slug, settings).await?;
    Ok(Json(tenant_view(&app, updated)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttributesView {
    /// The tenant's custom extension URN.
    pub urn: String,
    pub attributes: Vec<AttributeView>,
}

#[utoipa::path(get, path = "/admin/api/tenants/{tenant}/attributes", tag = "attributes", responses((status = 200, body = AttributesView)))]
pub async fn list_attributes(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path(slug): Path<String>,
) -> ApiResult<Json<AttributesView>> {
    let tenant = tenant_for(&app, &principal, &slug).await?;
    let schema = app.core.custom_schema(&tenant.slug).await?;
    Ok(Json(AttributesView { urn: schema.urn, attributes: schema.attributes }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewAttribute {
    pub name: String,
    /// string, boolean, integer, decimal, dateTime or reference.
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default)]
    pub description: String,
}

#[utoipa::path(post, path = "/admin/api/tenants/{tenant}/attributes", tag = "attributes", request_body = NewAttribute,
    responses((status = 201, body = AttributeView), (status = 409, description = "the name is taken")))]
pub async fn define_attribute(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path(slug): Path<String>,
    Json(body): Json<NewAttribute>,
) -> ApiResult<(StatusCode, Json<AttributeView>)> {
    require_write(&principal)?;
    let tenant = tenant_for(&app, &principal, &slug).await?;
    let view = app
        .core
        .define_attribute(&principal.actor(), &tenant.slug, &body.name, &body.ty, body.multi_valued, &body.description)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(delete, path = "/admin/api/tenants/{tenant}/attributes/{name}", tag = "attributes",
    responses((status = 204, description = "removed, with every stored value")))]
pub async fn remove_attribute(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path((slug, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    require_write(&principal)?;
    let tenant = tenant_for(&app, &principal, &slug).await?;
    app.core.remove_attribute(&principal.actor(), &tenant.slug, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
