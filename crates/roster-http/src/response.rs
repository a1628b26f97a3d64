//! Every SCIM response goes out through here: `application/scim+json` on every body
//! (errors and 401s included, F-18), `ETag` and `Location` where they apply, and one mapping
//! from domain errors to SCIM error bodies.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, ETAG, LOCATION, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde_json::Value;

use roster_core::Error;
use roster_scim::ScimError;

pub const SCIM_JSON: &str = "application/scim+json";

/// A SCIM response.
#[derive(Debug, Default)]
pub struct Scim {
    pub status: u16,
    pub body: Option<Value>,
    pub etag: Option<String>,
    pub location: Option<String>,
}

impl Scim {
    pub fn ok(body: Value) -> Scim {
        Scim { status: 200, body: Some(body), ..Default::default() }
    }

    pub fn no_content() -> Scim {
        Scim { status: 204, ..Default::default() }
    }
}

fn header(v: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(v).ok()
}

impl IntoResponse for Scim {
    fn into_response(self) -> Response {
        let mut response = match &self.body {
            Some(body) => Response::new(Body::from(body.to_string())),
            None => Response::new(Body::empty()),
        };
        *response.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        if self.body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        }
        if let Some(v) = self.etag.as_deref().and_then(header) {
            headers.insert(ETAG, v);
        }
        if let Some(v) = self.location.as_deref().and_then(header) {
            headers.insert(LOCATION, v);
        }
        response
    }
}

/// A failed SCIM request.
#[derive(Debug)]
pub struct ScimFailure(pub Error);

impl From<Error> for ScimFailure {
    fn from(e: Error) -> Self {
        ScimFailure(e)
    }
}

impl From<ScimError> for ScimFailure {
    fn from(e: ScimError) -> Self {
        ScimFailure(Error::Scim(e))
    }
}

impl IntoResponse for ScimFailure {
    fn into_response(self) -> Response {
        if let Error::Storage(cause) = &self.0 {
            tracing::error!(%cause, "request failed in storage");
        }
        let scim = self.0.to_scim();
        let mut response = error_response(&scim);
        if scim.status == 429 {
            // RFC 6585 §4; every 429 on the SCIM routes comes from `ratelimit`.
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from(crate::ratelimit::RETRY_AFTER_SECS));
        }
        if let Error::Unauthorized(reason) = &self.0 {
            let challenge = match reason {
                roster_core::AuthFailure::Missing => "Bearer realm=\"roster\"",
                _ => "Bearer realm=\"roster\", error=\"invalid_token\"",
            };
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

/// What an error response said, kept on the response for the provisioning log.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub scim_type: Option<String>,
    pub detail: String,
}

/// The SCIM error body of `e` with its status.
pub fn error_response(e: &ScimError) -> Response {
    let mut response = Scim { status: e.status, body: Some(e.to_json()), ..Default::default() }.into_response();
    response
        .extensions_mut()
        .insert(ErrorInfo { scim_type: e.scim_type.map(|t| t.as_str().to_string()), detail: e.detail.clone() });
    response
}

/// A panic becomes a SCIM 500 with a generic detail; the panic itself is logged.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = message, "request handler panicked");
    error_response(&ScimError::with_status(500, "Internal error; the server log has the details"))
}
