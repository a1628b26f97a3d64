//! Request ids in logs and in error bodies.
//!
//! Every request gets an id (`x-request-id`: the client's, or a new UUID from
//! `SetRequestIdLayer`), echoed in the response header. Each request runs in a `request`
//! span carrying `request_id`, `method`, `path` and, once routed, `route` (the template),
//! so every log line written while serving it names the request; the span ends with one
//! INFO line giving status and latency. Headers are never put on the span, and the
//! sensitive-headers layer marks `Authorization` and `Cookie` so no tower layer prints them.
//!
//! Every error body carries the id too, so a user's screenshot of an error finds its log
//! lines: a SCIM error's `detail` ends with ` (request id <id>)`, and an admin API error
//! (`{"error": ..}`) gains a `request_id` member.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde_json::Value;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnRequest, DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};

use crate::response::SCIM_JSON;

/// The request id header.
pub const REQUEST_ID: &str = "x-request-id";

/// Error bodies larger than this are passed on untouched (ours are a few hundred bytes).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The request id of a request (set by `SetRequestIdLayer` before anything else runs).
pub fn request_id<B>(req: &http::Request<B>) -> &str {
    req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// The `request` span around each request.
pub fn request_span(req: &http::Request<Body>) -> Span {
    tracing::info_span!(
        "request",
        request_id = %request_id(req),
        method = %req.method(),
        path = %req.uri().path(),
        route = tracing::field::Empty,
    )
}

/// The tracing layer: [`request_span`] around each request, one INFO line when the
/// response is ready (status, latency), an ERROR line for 5xx.
pub type Trace = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    fn(&http::Request<Body>) -> Span,
    DefaultOnRequest,
    DefaultOnResponse,
>;

pub fn trace_layer() -> Trace {
    TraceLayer::new_for_http()
        .make_span_with(request_span as fn(&http::Request<Body>) -> Span)
        .on_response(DefaultOnResponse::new().level(Level::INFO).latency_unit(tower_http::LatencyUnit::Micros))
}

/// Middleware: puts the request id into SCIM and admin API error bodies (see the module
/// docs). Other responses pass untouched.
pub async fn request_id_in_errors(req: Request, next: Next) -> Response {
    let id = request_id(&req).to_string();
    let response = next.run(req).await;
    let status = response.status();
    if id.is_empty() || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let scim = content_type.starts_with(SCIM_JSON);
    if !scim && !content_type.starts_with("application/json") {
        return response;
    }
    let declared =
        response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_ERROR_BODY) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
        Ok(bytes) => bytes,
        // Only a body that broke off mid-way gets here; there is nothing to give back.
        Err(_) => return Response::from_parts(parts, Body::empty()),
    };
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if scim {
        let detail = object.get("detail").and_then(Value::as_str).unwrap_or_default();
        let detail = if detail.is_empty() { format!("request id {id}") } else { format!("{detail} (request id {id})") };
        object.insert("detail".into(), Value::String(detail));
    } else if object.contains_key("error") {
        object.insert("request_id".into(), Value::String(id));
    } else {
        return Response::from_parts(parts, Body::from(bytes));
    }
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(Value::Object(object).to_string()))
}
