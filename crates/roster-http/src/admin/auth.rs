//! Who is calling the admin API: a session cookie (with `X-CSRF-Token` on changes) or an
//! admin API key. Sign-in is rate-limited per client address.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};

use roster_core::admin::AdminPrincipal;
use roster_core::{AuthFailure, Error};

use super::ApiError;
use crate::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "roster_session";

/// The authenticated caller, in the request's extensions.
#[derive(Debug, Clone)]
pub struct Principal(pub AdminPrincipal);

/// Sign-in attempts allowed per client address.
#[derive(Debug)]
pub struct SignInLimiter(DefaultKeyedRateLimiter<IpAddr>);

impl SignInLimiter {
    /// `per_minute` attempts a minute, with a burst of the same size.
    pub fn new(per_minute: u32) -> SignInLimiter {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        SignInLimiter(RateLimiter::keyed(Quota::per_minute(n)))
    }

    /// `Err(seconds to wait)` when the address is over its quota.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.0.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            wait.as_secs().max(1)
        })
    }
}

/// The client address: the TCP peer (proxies are not trusted by default).
pub fn client_ip(req_extensions: &axum::http::Extensions) -> IpAddr {
    req_extensions
        .get::<ConnectInfo<crate::lenient::ClientAddr>>()
        .map(|ConnectInfo(addr)| addr.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// The value of the cookie `name`, if the request sent it.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// Resolves the caller before any admin API handler runs (sign-in excepted).
pub async fn resolve_principal(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.ends_with("/session") && req.method() == Method::POST || path.ends_with("/openapi.json") {
        return next.run(req).await;
    }
    match principal(&app, req.headers(), req.method()).await {
        Ok(p) => {
            req.extensions_mut().insert(Principal(p));
            next.run(req).await
        }
        Err(e) => {
            crate::metrics::auth_error("admin", &e.0);
            e.into_response()
        }
    }
}

async fn principal(app: &AppState, headers: &HeaderMap, method: &Method) -> Result<AdminPrincipal, ApiError> {
    if let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let credential = auth.trim().split_once(' ').map(|(_, c)| c.trim()).unwrap_or_default();
        if roster_core::tokens::parse(credential).is_some() {
            return Err(ApiError::forbidden("SCIM tokens cannot call the admin API; use an admin API key"));
        }
        return Ok(app.core.authenticate_api_key(auth).await?);
    }
    let Some(cookie) = cookie(headers, SESSION_COOKIE) else {
        return Err(Error::Unauthorized(AuthFailure::Missing).into());
    };
    let principal = app.core.session(&cookie).await?;
    // Changes made with the cookie must carry the session's CSRF token (a page from
    // another origin cannot read it).
    if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let AdminPrincipal::Admin { csrf, .. } = &principal else { return Ok(principal) };
        if !roster_core::tokens::constant_time_eq(sent.as_bytes(), csrf.as_bytes()) {
            return Err(ApiError::forbidden("missing or wrong X-CSRF-Token header"));
        }
    }
    Ok(principal)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub username: String,
    /// Send as `X-CSRF-Token` on every change made with the session cookie.
    pub csrf: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: time::OffsetDateTime,
}

/// The `Set-Cookie` value of a session (or of its removal when `value` is empty).
pub fn session_cookie(app: &AppState, value: &str, max_age_secs: i64) -> Option<HeaderValue> {
    let secure = if app.config.public_url.starts_with("https://") { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .ok()
}

#[utoipa::path(post, path = "/admin/api/session", tag = "session", request_body = Credentials,
    responses((status = 200, body = SessionView), (status = 401), (status = 429, description = "too many attempts")))]
pub async fn sign_in(
    State(app): State<AppState>,
    req_parts: axum::http::request::Parts,
    Json(credentials): Json<Credentials>,
) -> Response {
    let ip = client_ip(&req_parts.extensions);
    if let Err(wait) = app.sign_in_limiter.check(ip) {
        crate::metrics::rate_limited("sign_in");
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(serde_json::json!({"error": "too many sign-in attempts; try again later", "status": 429})),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    match app.core.sign_in(&credentials.username, &credentials.password, &ip.to_string()).await {
        Ok(signed_in) => {
            let max_age = (signed_in.expires_at - app.core.clock.now()).whole_seconds();
            let mut response = Json(SessionView {
                username: signed_in.username,
                csrf: signed_in.csrf,
                expires_at: signed_in.expires_at,
            })
            .into_response();
            if let Some(v) = session_cookie(&app, &signed_in.cookie, max_age) {
                response.headers_mut().insert(header::SET_COOKIE, v);
            }
            response
        }
        Err(e) => {
            crate::metrics::auth_error("admin", &e);
            ApiError(e).into_response()
        }
    }
}

#[utoipa::path(delete, path = "/admin/api/session", tag = "session", responses((status = 204)))]
pub async fn sign_out(State(app): State<AppState>, headers: HeaderMap, req: Request) -> Response {
    let principal = req.extensions().get::<Principal>().cloned();
    if let (Some(cookie), Some(Principal(p))) = (cookie(&headers, SESSION_COOKIE), principal)
        && let Err(e) = app.core.sign_out(&cookie, &p).await
    {
        return ApiError(e).into_response();
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(v) = session_cookie(&app, "", 0) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// Shared by the app state.
pub fn default_limiter() -> Arc<SignInLimiter> {
    Arc::new(SignInLimiter::new(10))
}
