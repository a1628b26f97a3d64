//! Events over HTTP: the tenant's public keys (JWKS) for verifying SETs, the poll endpoint
//! a receiver calls (RFC 8936), the admin API for streams, and the push worker (RFC 8935,
//! [`push`]).
//!
//! URLs, under the tenant's SCIM base (the SETs' `iss`):
//! - `GET  /scim/v2/{tenant}/.well-known/jwks.json`: the JWK Set, public.
//! - `POST /scim/v2/{tenant}/.events/{stream}`: polling, with the stream's own bearer token.
//!
//! Errors on the poll endpoint use the RFC 8935 §2.4 shape `{"err", "description"}`.

pub mod push;

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use roster_core::Error;
use roster_core::events::{DeliveryRecord, IssuedStream, PollRequest, PollTiming, SetError, StreamSpec, StreamView};

use crate::AppState;
use crate::admin::auth::Principal;
use crate::admin::{ApiError, require_write, tenant_for};

/// The public routes: JWKS and polling.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/scim/v2/{tenant}/.well-known/jwks.json", get(jwks))
        .route("/scim/v2/{tenant}/.events/{stream}", post(poll))
}

/// The admin API routes (nested under `/admin/api` with its authentication).
pub fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/tenants/{tenant}/streams", get(list_streams).post(create_stream))
        .route("/tenants/{tenant}/streams/{id}", get(get_stream).delete(delete_stream))
        .route("/tenants/{tenant}/streams/{id}/pause", post(pause_stream))
        .route("/tenants/{tenant}/streams/{id}/resume", post(resume_stream))
        .route("/tenants/{tenant}/streams/{id}/deliveries", get(stream_deliveries))
}

fn set_error(status: StatusCode, err: &str, description: &str) -> Response {
    (status, Json(json!({"err": err, "description": description}))).into_response()
}

fn internal(e: &Error) -> Response {
    tracing::error!(error = %e, "event request failed");
    set_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error; the server log has the details")
}

/// `GET {tenant base}/.well-known/jwks.json`: the keys SETs are signed with (RFC 7517).
async fn jwks(State(app): State<AppState>, Path(tenant): Path<String>) -> Response {
    match app.core.jwks(&tenant).await {
        Ok(doc) => {
            let mut response = Json(doc).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
            response
        }
        Err(Error::NotFound(_)) => set_error(StatusCode::NOT_FOUND, "not_found", "no such tenant"),
        Err(e) => internal(&e),
    }
}

/// `POST {tenant base}/.events/{stream}`: one poll (RFC 8936 §2): acknowledgements and
/// errors in, the next SETs out, waiting up to the configured long-poll time unless
/// `returnImmediately`.
async fn poll(
    State(app): State<AppState>,
    Path((tenant, stream)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(bytes) = axum::body::to_bytes(body, app.config.max_body_bytes).await else {
        return set_error(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", "the poll request is too large");
    };
    let value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                return set_error(StatusCode::BAD_REQUEST, "invalid_request", &format!("the body is not JSON: {e}"));
            }
        }
    };
    let request = match PollRequest::from_json(&value) {
        Ok(r) => r,
        Err(e) => return set_error_response(&e),
    };
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let timing = PollTiming { max_wait: app.config.event_long_poll, recheck: Duration::from_millis(500) };
    match app.core.poll_events(&tenant, &stream, authorization, &request, &app.config.public_url, timing).await {
        Ok(Ok(response)) => Json(response.to_json()).into_response(),
        Ok(Err(e)) => set_error_response(&e),
        Err(Error::Unauthorized(_)) => {
            let mut r = set_error(
                StatusCode::UNAUTHORIZED,
                "authentication_failed",
                "send the stream's poll token as 'Authorization: Bearer rosterevt_...'",
            );
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
        Err(Error::NotFound(_)) => set_error(StatusCode::NOT_FOUND, "not_found", "no such event stream"),
        Err(e) => internal(&e),
    }
}

fn set_error_response(e: &SetError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(e.body())).into_response()
}

// --- Admin API ----------------------------------------------------------------------------

type ApiResult<T> = Result<T, ApiError>;

#[utoipa::path(get, path = "/admin/api/tenants/{tenant}/streams", tag = "events",
    responses((status = 200, body = [StreamView])))]
pub async fn list_streams(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path(slug): Path<String>,
) -> ApiResult<Json<Vec<StreamView>>> {
    let tenant = tenant_for(&app, &principal, &slug).await?;
    Ok(Json(app.core.list_streams(&tenant.slug, &app.config.public_url).await?))
}

#[utoipa::path(post, path = "/admin/api/tenants/{tenant}/streams", tag = "events", request_body = StreamSpec,
    responses((status = 201, body = IssuedStream, description = "a poll stream's token is in `poll_token`, shown this once"),
              (status = 400, description = "an invalid setting")))]
pub async fn create_stream(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path(slug): Path<String>,
    Json(spec): Json<StreamSpec>,
) -> ApiResult<(StatusCode, Json<IssuedStream>)> {
    require_write(&principal)?;
    let tenant = tenant_for(&app, &principal, &slug).await?;
    let issued = app.core.create_stream(&principal.actor(), &tenant.slug, &spec, &app.config.public_url).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

#[utoipa::path(get, path = "/admin/api/tenants/{tenant}/streams/{id}", tag = "events",
    responses((status = 200, body = StreamView)))]
pub async fn get_stream(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path((slug, id)): Path<(String, String)>,
) -> ApiResult<Json<StreamView>> {
    let tenant = tenant_for(&app, &principal, &slug).await?;
    Ok(Json(app.core.get_stream(&tenant.slug, &id, &app.config.public_url).await?))
}

#[utoipa::path(delete, path = "/admin/api/tenants/{tenant}/streams/{id}", tag = "events",
    responses((status = 204, description = "removed with its delivery log")))]
pub async fn delete_stream(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path((slug, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    require_write(&principal)?;
    let tenant = tenant_for(&app, &principal, &slug).await?;
    app.core.delete_stream(&principal.actor(), &tenant.slug, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/admin/api/tenants/{tenant}/streams/{id}/pause", tag = "events",
    responses((status = 200, body = StreamView)))]
pub async fn pause_stream(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path((slug, id)): Path<(String, String)>,
) -> ApiResult<Json<StreamView>> {
    require_write(&principal)?;
    let tenant = tenant_for(&app, &principal, &slug).await?;
    Ok(Json(app.core.pause_stream(&principal.actor(), &tenant.slug, &id, &app.config.public_url).await?))
}

/// Resuming a stream.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct Resume {
    /// Move past the next event first (one the receiver keeps rejecting); the delivery log
    /// records the skip.
    #[serde(default)]
    pub skip: bool,
}

#[utoipa::path(post, path = "/admin/api/tenants/{tenant}/streams/{id}/resume", tag = "events", request_body = Resume,
    responses((status = 200, body = StreamView)))]
pub async fn resume_stream(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path((slug, id)): Path<(String, String)>,
    body: Option<Json<Resume>>,
) -> ApiResult<Json<StreamView>> {
    require_write(&principal)?;
    let tenant = tenant_for(&app, &principal, &slug).await?;
    let skip = body.is_some_and(|Json(b)| b.skip);
    Ok(Json(app.core.resume_stream(&principal.actor(), &tenant.slug, &id, skip, &app.config.public_url).await?))
}

/// Paging of a delivery log.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct DeliveryParams {
    /// The `next_before` of the previous page.
    pub before: Option<i64>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryPage {
    /// Newest first: push attempts (delivered, failed, rejected), poll acknowledgements and
    /// errors, and skips.
    pub deliveries: Vec<DeliveryRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}

#[utoipa::path(get, path = "/admin/api/tenants/{tenant}/streams/{id}/deliveries", tag = "events",
    params(DeliveryParams), responses((status = 200, body = DeliveryPage)))]
pub async fn stream_deliveries(
    State(app): State<AppState>,
    Extension(Principal(principal)): Extension<Principal>,
    Path((slug, id)): Path<(String, String)>,
    Query(p): Query<DeliveryParams>,
) -> ApiResult<Json<DeliveryPage>> {
    let tenant = tenant_for(&app, &principal, &slug).await?;
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let deliveries = app.core.stream_deliveries(&tenant.slug, &id, p.before, limit).await?;
    let next_before = if deliveries.len() == limit as usize { deliveries.last().map(|d| d.id) } else { None };
    Ok(Json(DeliveryPage { deliveries, next_before }))
}
