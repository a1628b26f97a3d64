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
        .layer(middleware::from_fn(refuse_encoded_bodies))
        .layer(middleware::from_fn(refuse_nul_in_url))
        .layer(middleware::from_fn(scim_errors))
}

/// U+0000 has no use in SCIM data and PostgreSQL text cannot hold it: an id, tenant or
/// query parameter with an encoded NUL is refused before it reaches the store (bodies are
/// checked in [`json_body`]).
async fn refuse_nul_in_url(req: Request, next: Next) -> Response {
    // The original URI: this router is nested, and the tenant is in the part cut off.
    let uri = req.extensions().get::<axum::extract::OriginalUri>().map_or(req.uri(), |o| &o.0);
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or_default();
    if path_and_query.to_ascii_lowercase().contains("%00") {
        return error_response(&ScimError::invalid_value(
            "the URL holds a NUL character (%00), which Roster does not accept",
        ));
    }
    next.run(req).await
}

/// Whether a JSON value holds U+0000 in any string or member name.
fn holds_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

fn parse_json(bytes: &[u8]) -> Result<Value, ScimFailure> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ScimFailure::from(ScimError::invalid_syntax(format!("the body is not valid JSON: {e}"))))?;
    if holds_nul(&value) {
        return Err(
            ScimError::invalid_value("the body holds a NUL character (\\u0000), which Roster does not accept").into()
        );
    }
    Ok(value)
}

/// Request bodies are read as they come: a `Content-Encoding` (gzip, ...) would be decoded
/// by nobody, and a body that only claims one must not be taken at its word either, so such
/// requests get 415 (RFC 9110 §15.5.16) before any handler runs.
async fn refuse_encoded_bodies(req: Request, next: Next) -> Response {
    let encoded = req
        .headers()
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .any(|v| !v.to_str().is_ok_and(|v| v.trim().is_empty() || v.trim().eq_ignore_ascii_case("identity")));
    if encoded {
        return error_response(&ScimError::with_status(
            415,
            "Content-Encoding is not supported on requests: send the body uncompressed",
        ));
    }
    next.run(req).await
}

/// The SCIM routes with their request timeout and request log (they need the state, so
/// they wrap the router). A request that runs out of time is a SCIM 503 (the outer
/// `scim_errors` gives the timeout's bare response its body) and is logged as such.
pub fn logged_routes(state: AppState) -> Router<AppState> {
    let timeout = tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        state.config.request_timeout,
    );
    routes()
        .layer(timeout)
        .layer(middleware::from_fn(scim_errors))
        .layer(middleware::from_fn_with_state(state, log::log_requests))
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
        StatusCode::SERVICE_UNAVAILABLE => "the request took longer than the server allows and was stopped".to_string(),
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
    // Two Authorization headers are ambiguous (a proxy in front may have checked the other
    // one), so the request is refused like a wrong token.
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (authorization, ambiguous) = match (values.next(), values.next()) {
        (first, None) => (first.and_then(|v| v.to_str().ok()), false),
        (_, Some(_)) => (None, true),
    };
    // Reads (GET, POST /.search) also take admin API keys, so the application receiving
    // events can fetch what changed; writes take SCIM tokens only (keys get a 403).
    let read = matches!(slot.info.method.as_str(), "GET" | "HEAD") || slot.info.path.ends_with("/.search");
    let result = if ambiguous {
        Err(roster_core::Error::Unauthorized(roster_core::AuthFailure::Invalid))
    } else if read {
        app.core.authenticate_reader(tenant, authorization, app.base_url(tenant)).await
    } else {
        app.core.authenticate(tenant, authorization, app.base_url(tenant)).await
    };
    match result {
        Ok(mut ctx) => {
            slot.authenticated(&ctx);
            // Quotas are counted once the caller is known (see `ratelimit`).
            if let Err(limited) = app.rate_limiter.check(ctx.tenant.id, ctx.token.as_ref().map(|t| t.id.as_str())) {
                tracing::debug!(tenant = %ctx.tenant.slug, quota = limited.as_str(), "rate limited");
                crate::metrics::rate_limited(limited.as_str());
                let token_id = ctx.token.as_ref().map(|t| t.id.as_str());
                if !app.rate_limiter.log_refusal(ctx.tenant.id, token_id) {
                    slot.unlogged();
                }
                return Err(ScimError::with_status(429, limited.detail()).into());
            }
            ctx.request = Some(slot.info.clone());
            Ok(ctx)
        }
        Err(e) => {
            crate::metrics::auth_error("scim", &e);
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
    let bytes =
        read_body(body, limit, || ScimError::payload_too_large(format!("the request body exceeds {limit} bytes")))
            .await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax("the request needs a JSON body").into());
    }
    parse_json(&bytes)
}

/// Reads a body of at most `limit` bytes. A body whose declared length is over the limit is
/// refused before any of it is read; a body that breaks off or is badly chunked is a 400,
/// not a 413.
async fn read_body(body: Body, limit: usize, too_large: impl Fn() -> ScimError) -> Result<bytes::Bytes, ScimFailure> {
    if axum::body::HttpBody::size_hint(&body).lower() > limit as u64 {
        return Err(too_large().into());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return too_large().into();
            }
            source = s.source();
        }
        ScimError::invalid_syntax("the request body could not be read (it broke off or is badly chunked)").into()
    })
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
    let bytes = read_body(body, limits.max_payload_size, || {
        ScimError::payload_too_large(format!(
            "The size of the bulk operation exceeds the maxPayloadSize ({}).",
            limits.max_payload_size
        ))
    })
    .await?;
    let body = parse_json(&bytes)?;
    drop(bytes);
    let outcome = app.core.bulk(&ctx, body).await?;
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
