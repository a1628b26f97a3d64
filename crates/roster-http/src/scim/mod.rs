//! The SCIM endpoints (RFC 7644 §3) under `/scim/v2/{tenant}`.

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get, post};
use http::header::{AUTHORIZATION, CONTENT_TYPE, IF_MATCH, IF_NONE_MATCH};
use http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;

use roster_core::{Core, Fetched, ProjectionArgs, ResourceOut, ScimCtx};
use roster_scim::ResourceKind;
use roster_scim::ScimError;
use roster_scim::messages::{ListQuery, ListResponse, decode_query};

use crate::AppState;
use crate::response::{SCIM_JSON, Scim, ScimFailure, error_response};

pub mod log;
use log::LogSlot;

type ScimResult = Result<Scim, ScimFailure>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(root_query))
        .route("/.search", post(root_search))
        .route("/Bulk", post(bulk))
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Me", any(me))
        .route("/Me/{*rest}", any(me))
        .route("/{resource}", get(list).post(create))
        .route("/{resource}/.search", post(search))
        .route("/{resource}/{id}", get(fetch).put(replace).patch(patch).delete(delete))
        .fallback(unknown_endpoint)
        .layer(middleware::from_fn(scim_errors))
}

/// The SCIM routes with their request log (it needs the state, so it wraps the router).
pub fn logged_routes(state: AppState) -> Router<AppState> {
    routes().layer(middleware::from_fn_with_state(state, log::log_requests))
}

/// Any error response that is not already a SCIM body (405 from routing, extractor
/// rejections, 413s) becomes one, so a SCIM client never sees HTML or plain text.
async fn scim_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_scim =
        response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with(SCIM_JSON));
    if !status.is_client_error() && !status.is_server_error() || is_scim {
        return response;
    }
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => "this endpoint does not support the request method".to_string(),
        StatusCode::NOT_FOUND => "no such SCIM endpoint".to_string(),
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large".to_string(),
        other => format!("the request could not be processed ({})", other.canonical_reason().unwrap_or("error")),
    };
    let mut scim = error_response(&ScimError::with_status(status.as_u16(), detail));
    for name in [http::header::ALLOW, http::header::RETRY_AFTER] {
        if let Some(v) = response.headers().get(&name) {
            scim.headers_mut().insert(name, v.clone());
        }
    }
    scim
}

async fn unknown_endpoint(uri: Uri) -> Response {
    error_response(&ScimError::not_found(format!("{} is not a SCIM endpoint", uri.path())))
}

async fn me() -> Response {
    error_response(&ScimError::not_implemented(
        "/Me is not supported: a Roster token identifies an identity provider connection, not a user",
    ))
}

async fn authenticate(
    app: &AppState,
    tenant: &str,
    headers: &HeaderMap,
    slot: &LogSlot,
) -> Result<ScimCtx, ScimFailure> {
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    match app.core.authenticate(tenant, authorization, app.base_url(tenant)).await {
        Ok(mut ctx) => {
            slot.authenticated(&ctx);
            ctx.request = Some(slot.info.clone());
            Ok(ctx)
        }
        Err(e) => {
            // A refused request is still logged under its tenant, when the tenant exists.
            if let Ok(Some(t)) = app.core.store.tenant_by_slug(tenant).await {
                let token_id = authorization
                    .and_then(|h| h.trim().split_once(' '))
                    .and_then(|(_, t)| roster_core::tokens::parse(t.trim()))
                    .map(|(id, _)| id.to_string());
                slot.update(|d| {
                    d.tenant = Some(t.id);
                    d.token_id = token_id;
                });
            }
            Err(e.into())
        }
    }
}

fn resource_kind(segment: &str) -> Result<ResourceKind, ScimFailure> {
    ResourceKind::from_endpoint(segment)
        .ok_or_else(|| ScimFailure::from(ScimError::not_found(format!("/{segment} is not a SCIM endpoint"))))
}

fn list_query(uri: &Uri) -> Result<ListQuery, ScimFailure> {
    let params = decode_query(uri.query().unwrap_or_default())?;
    Ok(ListQuery::from_params(&params)?)
}

fn projection_args(uri: &Uri) -> Result<ProjectionArgs, ScimFailure> {
    let q = list_query(uri)?;
    Ok(ProjectionArgs { attributes: q.attributes, excluded: q.excluded_attributes })
}

fn header_str(headers: &HeaderMap, name: http::header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Reads a JSON body within `limit` bytes. Any content type is accepted as long as the
/// body is JSON (F-3: `application/scim+json`, `application/json`, charsets, none).
async fn json_body(body: Body, limit: usize) -> Result<Value, ScimFailure> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ScimFailure::from(ScimError::payload_too_large(format!("the request body exceeds {limit} bytes")))
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax("the request needs a JSON body").into());
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")).into())
}

fn resource_response(out: ResourceOut, status: u16) -> Scim {
    let etag = out.etag();
    Scim {
        status,
        location: (status == 201).then(|| out.location.clone()),
        body: Some(Value::Object(out.body)),
        etag: Some(etag),
    }
}

fn kind_plural(kind: Option<ResourceKind>) -> &'static str {
    match kind {
        Some(ResourceKind::User) => "users",
        Some(ResourceKind::Group) => "groups",
        None => "users and groups",
    }
}

fn list_summary(kind: Option<ResourceKind>, query: &ListQuery, response: &ListResponse) -> String {
    format!(
        "list {}{}: {} of {} results",
        kind_plural(kind),
        if query.filter.is_some() { " (filtered)" } else { "" },
        response.resources.len(),
        response.total_results
    )
}

type Slot = Extension<LogSlot>;

async fn list(
    State(app): State<AppState>,
    Extension(slot): Slot,
    Path((tenant, resource)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> ScimResult {
    let ctx = authenticate(&app, &tenant, &headers, &slot).await?;
    let kind = resource_kind(&resource)?;
    let query = list_query(&uri)?;
    let response = app.core.list(&ctx, Some(kind), &query).await?;
    slot.resource(kind, None, list_summary(Some(kind), &query, &response));
    Ok(Scim::ok(response.to_json()))
}

async fn search(
    State(app): State<AppState>,
    Extension(slot): Slot,
    Path((tenant, resource)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ScimResult {
    let ctx = authenticate(&app, &tenant, &headers, &slot).await?;
    let kind = resource_kind(&resource)?;
    let body = json_body(body, app.config.max_body_bytes).await?;
    let query = ListQuery::from_search_request(&body)?;
    let response = app.core.list(&ctx, Some(kind), &query).await?;
    slot.resource(kind, None, list_summary(Some(kind), &query, &response));
    Ok(Scim::ok(response.to_json()))
}

async fn root_query(
    State(app): State<AppState>,
    Extension(slot): Slot,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> ScimResult {
    let ctx = authenticate(&app, &tenant, &headers, &slot).await?;
    let query = list_query(&uri)?;
    let response = app.core.list(&ctx, None, &query).await?;
    slot.summary(list_summary(None, &query, &response));
    Ok(Scim::ok(response.to_json()))
}

async fn root_search(
    State(app): State<AppState>,
    Extension(slot): Slot,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ScimResult {
    let ctx = authenticate(&app, &tenant, &headers, &slot).await?;
    let body = json_body(body, app.config.max_body_bytes).await?;
    let query = ListQuery::from_search_request(&body)?;
    let response = app.core.list(&ctx, None, &query).await?;
    slot.summary(list_summary(None, &query, &response));
    Ok(Scim::ok(response.to_json()))
}

async fn create(
    State(app): State<AppState>,
    Extension(slot): Slot,
    Path((tenant, resource)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> ScimResult {
    let ctx = authenticate(&app, &tenant, &headers, &slot).await?;
    let kind = resource_kind(&resource)?;
    slot.update(|d| d.kind = Some(kind));
    let args = projection_args(&uri)?;
    let body = json_body(body, app.config.max_body_bytes).await?;
    let out = app.core.create(&ctx, kind, &body, &args).await?;
    slot.journaled();
    Ok(resource_response(out, 201))
}

async fn fetch(
    State(app): State<AppState>,
    Extension(slot): Slot,
    Path((tenant, resource, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> ScimResult {
    let ctx = authenticate(&app, &tenant, &headers, &slot).await?;
    let kind = resource_kind(&resource)?;
    slot.update(|d| {
        d.kind = Some(kind);
        d.resource_id = Some(id.clone());
    });
    let args = projection_args(&uri)?;
    match app.core.get(&ctx, kind, &id, &args, header_str(&headers, IF_NONE_MATCH)).await? {
        Fetched::Resource(out) => {
            slot.resource(kind, Some(&id), format!("read {} {}", kind.name().to_lowercase(), out.name));
            Ok(resource_response(*out, 200))
        }
        Fetched::NotModified { etag } => {
            slot.resource(kind, Some(&id), format!("read {}: not modified", kind.name().to_lowercase()));
            Ok(Scim { status: 304, etag: Some(etag), ..Default::default() })
        }
    }
}

async fn replace(
    State(app): State<AppState>,
    Extension(slot): Slot,
    Path((tenant, resource, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> ScimResult {
    let ctx = authenticate(&app, &tenant, &headers, &slot).await?;
    let kind = resource_kind(&resource)?;
    slot.update(|d| {
        d.kind = Some(kind);
        d.resource_id = Some(id.clone());
    });
    let args = projection_args(&uri)?;
    let body = json_body(body, app.config.max_body_bytes).await?;
    let out = app.core.replace(&ctx, kind, &id, &body, header_str(&headers, IF_MATCH), &args).await?;
    slot.journaled();
    Ok(resource_response(out, 200))
}

async fn patch(
    State(app): State<AppState>,
    Extension(slot): Slot,
    Path((tenant, resource, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> ScimResult {
    let ctx = authenticate(&app, &tenant, &headers, &slot).await?;
    let kind = resource_kind(&resource)?;
    slot.update(|d| {
        d.kind = Some(kind);
        d.resource_id = Some(id.clone());
    });
    let args = projection_args(&uri)?;
    let body = json_body(body, app.config.max_body_bytes).await?;
    let out = app.core.patch(&ctx, kind, &id, &body, header_str(&headers, IF_MATCH), &args).await?;
    slot.journaled();
    if Core::patch_status(&ctx, kind, &args) == 204 {
        return Ok(Scim { status: 204, etag: Some(out.etag()), ..Default::default() });
    }
    Ok(resource_response(out, 200))
}

async fn delete(
    State(app): State<AppState>,
    Extension(slot): Slot,
    Path((tenant, resource, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ScimResult {
    let ctx = authenticate(&app, &tenant, &headers, &slot).await?;
    let kind = resource_kind(&resource)?;
    slot.update(|d| {
        d.kind = Some(kind);
        d.resource_id = Some(id.clone());
    });
    app.core.delete(&ctx, kind, &id, header_str(&headers, IF_MATCH)).await?;
    slot.journaled();
    Ok(Scim::no_content())
}

async fn bulk(
    State(app): State<AppState>,
    Extension(slot): Slot,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ScimResult {
    let ctx = authenticate(&app, &tenant, &headers, &slot).await?;
    let limits = app.core.sp_config.bulk;
    let bytes = axum::body::to_bytes(body, limits.max_payload_size).await.map_err(|_| {
        ScimFailure::from(ScimError::payload_too_large(format!(
            "The size of the bulk operation exceeds the maxPayloadSize ({}).",
            limits.max_payload_size
        )))
    })?;
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ScimFailure::from(ScimError::invalid_syntax(format!("the body is not valid JSON: {e}"))))?;
    let outcome = app.core.bulk(&ctx, &body).await?;
    let failed = outcome.items.iter().filter(|i| i.status >= 400).count();
    slot.summary(format!(
        "bulk: {} operations, {} succeeded, {failed} failed",
        outcome.items.len(),
        outcome.items.len() - failed
    ));
    Ok(Scim::ok(outcome.body))
}

/// D-5: discovery endpoints refuse filters (RFC 7644 §4) and ignore paging.
fn refuse_filter(uri: &Uri) -> Result<(), ScimFailure> {
    let params = decode_query(uri.query().unwrap_or_default())?;
    if params.iter().any(|(k, _)| k.eq_ignore_ascii_case("filter")) {
        return Err(ScimError::with_status(403, "discovery endpoints cannot be filtered").into());
    }
    Ok(())
}

/// A1.8: `/ServiceProviderConfig` is readable without a token.
async fn service_provider_config(State(app): State<AppState>, Path(tenant): Path<String>, uri: Uri) -> ScimResult {
    refuse_filter(&uri)?;
    let ctx = app.core.anonymous(&tenant, app.base_url(&tenant)).await?;
    Ok(Scim::ok(app.core.sp_config.to_json(&ctx.base_url)))
}

fn whole_list(resources: Vec<Value>) -> Value {
    ListResponse { total_results: resources.len() as u64, start_index: Some(1), resources, ..Default::default() }
        .to_json()
}

async fn schemas(
    State(app): State<AppState>,
    Extension(slot): Slot,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> ScimResult {
    let ctx = authenticate(&app, &tenant, &headers, &slot).await?;
    refuse_filter(&uri)?;
    Ok(Scim::ok(whole_list(ctx.registry.schema_documents(&ctx.base_url))))
}

async fn schema(
    State(app): State<AppState>,
    Extension(slot): Slot,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ScimResult {
    let ctx = authenticate(&app, &tenant, &headers, &slot).await?;
    let doc = ctx
        .registry
        .schema_document(&id, &ctx.base_url)
        .ok_or_else(|| ScimFailure::from(ScimError::not_found(format!("no schema {id:?}"))))?;
    Ok(Scim::ok(doc))
}

async fn resource_types(
    State(app): State<AppState>,
    Extension(slot): Slot,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> ScimResult {
    let ctx = authenticate(&app, &tenant, &headers, &slot).await?;
    refuse_filter(&uri)?;
    Ok(Scim::ok(whole_list(ctx.registry.resource_type_documents(&ctx.base_url))))
}

async fn resource_type(
    State(app): State<AppState>,
    Extension(slot): Slot,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ScimResult {
    let ctx = authenticate(&app, &tenant, &headers, &slot).await?;
    let doc = ctx
        .registry
        .resource_type_document(&id, &ctx.base_url)
        .ok_or_else(|| ScimFailure::from(ScimError::not_found(format!("no resource type {id:?}"))))?;
    Ok(Scim::ok(doc))
}
