//! Signing in and out of the portal. The session is the admin API's (`roster_session`,
//! `Path=/admin; HttpOnly; SameSite=Strict`, `Secure` behind HTTPS) and sign-in attempts
//! count against the same per-address limiter. The sign-in form itself carries a one-off
//! token that must match a short-lived cookie, so another site cannot sign a browser in.

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use roster_core::Error;

use super::{Layout, PageError, PortalSession};
use crate::AppState;
use crate::admin::auth::{SESSION_COOKIE, client_ip, cookie, session_cookie};

/// The cookie holding the sign-in form's token (only sent to the sign-in URL).
const SIGN_IN_COOKIE: &str = "roster_signin";

#[derive(Template, WebTemplate)]
#[template(path = "sign_in.html")]
struct SignInPage {
    l: Layout,
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Where to go after signing in: a portal page, never another site or the sign-in page.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n == "/admin" || n.starts_with("/admin/"))
                && !n.starts_with("/admin/sign-in")
                && !n.starts_with("/admin/api")
                && !n.contains("//")
                && !n.contains("/..")
                && !n.contains('\\')
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n.to_string()
        }
        _ => "/admin".to_string(),
    }
}

fn random_hex(app: &AppState) -> Result<String, Error> {
    let mut buf = [0u8; 16];
    app.core.ids.fill(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn sign_in_cookie(app: &AppState, value: &str, max_age: i64) -> Option<HeaderValue> {
    let secure = if app.config.public_url.starts_with("https://") { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SIGN_IN_COOKIE}={value}; Path=/admin/sign-in; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .ok()
}

fn render(app: &AppState, status: StatusCode, next: &str, username: &str, error: Option<String>) -> Response {
    let token = match random_hex(app) {
        Ok(t) => t,
        Err(e) => return PageError::from(e).into_response(),
    };
    let page = SignInPage {
        l: Layout::public("Sign in"),
        csrf: token.clone(),
        next: next.to_string(),
        username: username.to_string(),
        error,
    };
    let mut response = (status, page).into_response();
    if let Some(v) = sign_in_cookie(app, &token, 3600) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// `GET /admin/sign-in`: the form (or, when already signed in, the page asked for).
pub async fn page(State(app): State<AppState>, headers: HeaderMap, Query(q): Query<NextQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    if let Some(c) = cookie(&headers, SESSION_COOKIE)
        && app.core.session(&c).await.is_ok()
    {
        return Redirect::to(&next).into_response();
    }
    render(&app, StatusCode::OK, &next, "", None)
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /admin/sign-in`.
pub async fn sign_in(
    State(app): State<AppState>,
    parts: axum::http::request::Parts,
    Form(form): Form<SignInForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let ip = client_ip(&parts.extensions);
    if let Err(wait) = app.sign_in_limiter.check(ip) {
        let message = format!("Too many sign-in attempts from your address. Try again in {wait} seconds.");
        let mut response = render(&app, StatusCode::TOO_MANY_REQUESTS, &next, &form.username, Some(message));
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let expected = cookie(&parts.headers, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !roster_core::tokens::constant_time_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        let message = "This sign-in form has expired or did not come from this portal. Please sign in again.";
        return render(&app, StatusCode::FORBIDDEN, &next, &form.username, Some(message.into()));
    }
    match app.core.sign_in(&form.username, &form.password, &ip.to_string()).await {
        Ok(signed_in) => {
            let max_age = (signed_in.expires_at - app.core.clock.now()).whole_seconds();
            let mut response = Redirect::to(&next).into_response();
            let headers = response.headers_mut();
            if let Some(v) = session_cookie(&app, &signed_in.cookie, max_age) {
                headers.append(header::SET_COOKIE, v);
            }
            if let Some(v) = sign_in_cookie(&app, "", 0) {
                headers.append(header::SET_COOKIE, v);
            }
            response
        }
        Err(Error::Unauthorized(_)) => {
            render(&app, StatusCode::UNAUTHORIZED, &next, &form.username, Some("Wrong username or password.".into()))
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

/// `POST /admin/sign-out`: ends the session (audited) and clears the cookie.
pub async fn sign_out(State(app): State<AppState>, Extension(session): Extension<PortalSession>) -> Response {
    if let Err(e) = app.core.sign_out(&session.cookie, &session.principal).await {
        return PageError::from(e).into_response();
    }
    let mut response = Redirect::to("/admin/sign-in").into_response();
    if let Some(v) = session_cookie(&app, "", 0) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}
