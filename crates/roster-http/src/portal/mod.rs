//! The admin portal at `/admin`: server-rendered askama pages over the same core services as
//! the admin API and the CLI. Every page works as plain HTML forms; htmx (vendored, served
//! from `/admin/assets/`) only enhances them (boosted navigation, live search). This module
//! owns the routes, the session gate with its CSRF check, the security headers and the error
//! page; the pages live in the submodules.

mod assets;
mod attributes;
mod auth;
mod dashboard;
mod logs;
mod resources;
mod tokens;
mod view;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use roster_core::admin::AdminPrincipal;
use roster_core::{Error, Tenant};

use crate::AppState;
use crate::admin::auth::SESSION_COOKIE;

/// The largest form a portal POST may send.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The signed-in administrator, put in the request's extensions by [`require_session`].
#[derive(Debug, Clone)]
pub struct PortalSession {
    pub username: String,
    /// The session's CSRF token: a hidden field of every form.
    pub csrf: String,
    /// The session cookie's value (to end the session on sign-out).
    pub cookie: String,
    pub principal: AdminPrincipal,
}

/// What the shared layout (`base.html`) shows around every page.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    /// Which navigation entry is current (`dashboard`, `provisioning`, ...).
    pub nav: &'static str,
    pub signed_in: bool,
    pub username: String,
    pub csrf: String,
    /// The current tenant's slug ("" outside a tenant).
    pub tenant: String,
    /// Every tenant, for the switcher.
    pub tenants: Vec<String>,
    /// The assets' version, for cache busting.
    pub v: &'static str,
    /// A one-line confirmation after a redirect (`?done=...`), from a fixed list.
    pub flash: Option<&'static str>,
}

impl Layout {
    /// The layout of a page outside a session (sign-in, errors).
    pub fn public(title: &str) -> Layout {
        Layout {
            title: title.to_string(),
            nav: "",
            signed_in: false,
            username: String::new(),
            csrf: String::new(),
            tenant: String::new(),
            tenants: Vec::new(),
            v: assets::version(),
            flash: None,
        }
    }

    /// `/admin/t/{tenant}` and below.
    pub fn base(&self) -> String {
        format!("/admin/t/{}", self.tenant)
    }
}

/// A page that failed: rendered as an HTML error page with the matching status.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError { status, message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::NOT_FOUND, message)
    }
}

/// The HTTP status of a domain error, as the admin API maps it.
pub fn status_of(e: &Error) -> StatusCode {
    let code = match e {
        Error::Scim(s) => s.status,
        Error::Duplicate { .. } | Error::Conflict(_) => 409,
        Error::Unauthorized(_) => 401,
        Error::Invalid(_) => 400,
        Error::NotFound(_) => 404,
        Error::Storage(_) => 500,
    };
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// What a person may read about a domain error (storage causes go to the log only).
pub fn message_of(e: &Error) -> String {
    match e {
        Error::Storage(cause) => {
            tracing::error!(%cause, "portal request failed in storage");
            "Something went wrong on the server; the server log has the details.".into()
        }
        Error::Scim(s) => s.detail.clone(),
        other => other.to_string(),
    }
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        PageError { status: status_of(&e), message: message_of(&e) }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    l: Layout,
    status: u16,
    reason: String,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            l: Layout::public("Error"),
            status: self.status.as_u16(),
            reason: self.status.canonical_reason().unwrap_or("Error").to_string(),
            message: self.message,
        };
        (self.status, page).into_response()
    }
}

pub type PageResult<T = Response> = Result<T, PageError>;

/// The portal's routes, to merge into the application router (they sit beside `/admin/api`).
pub fn routes(state: AppState) -> Router<AppState> {
    let t = "/admin/t/{tenant}";
    let signed_in = Router::new()
        .route("/admin", get(home))
        .route("/admin/switch", get(switch_tenant))
        .route("/admin/sign-out", post(auth::sign_out))
        .route(t, get(dashboard::page))
        .route(&format!("{t}/provisioning"), get(tokens::page))
        .route(&format!("{t}/provisioning/confirm"), post(tokens::confirm).get(back_to_tokens))
        .route(&format!("{t}/tokens"), post(tokens::generate).get(back_to_tokens))
        .route(&format!("{t}/tokens/{{id}}"), post(tokens::act).get(back_to_tokens))
        .route(&format!("{t}/audit"), get(logs::audit))
        .route(&format!("{t}/log"), get(logs::provisioning))
        .route(&format!("{t}/users"), get(resources::users))
        .route(&format!("{t}/users/{{id}}"), get(resources::user))
        .route(&format!("{t}/groups"), get(resources::groups))
        .route(&format!("{t}/groups/{{id}}"), get(resources::group))
        .route(&format!("{t}/attributes"), get(attributes::page).post(attributes::define))
        .route(&format!("{t}/attributes/{{name}}/remove"), post(attributes::remove).get(back_to_attributes))
        .route(&format!("{t}/settings"), post(attributes::settings).get(back_to_attributes))
        .layer(from_fn_with_state(state, require_session));
    let public = Router::new()
        .route("/admin/sign-in", get(auth::page).post(auth::sign_in))
        .route("/admin/assets/{file}", get(assets::serve));
    signed_in.merge(public).layer(from_fn(security_headers))
}

/// `GET` on a URL that only takes form posts (a refreshed result page without JS).
async fn back_to_tokens(Path(params): Path<Vec<(String, String)>>) -> Redirect {
    let tenant = params.iter().find(|(k, _)| k == "tenant").map(|(_, v)| v.as_str()).unwrap_or_default();
    Redirect::to(&format!("/admin/t/{}/provisioning", view::path_segment(tenant)))
}

async fn back_to_attributes(Path(params): Path<Vec<(String, String)>>) -> Redirect {
    let tenant = params.iter().find(|(k, _)| k == "tenant").map(|(_, v)| v.as_str()).unwrap_or_default();
    Redirect::to(&format!("/admin/t/{}/attributes", view::path_segment(tenant)))
}

/// `/admin`: the dashboard of the `default` tenant (or of the first one).
async fn home(State(app): State<AppState>) -> PageResult {
    let tenants = app.core.tenants().await?;
    let slug = tenants
        .iter()
        .find(|t| t.slug == roster_core::tenants::DEFAULT_TENANT)
        .or(tenants.first())
        .map(|t| t.slug.clone())
        .ok_or_else(|| PageError::not_found("There is no tenant yet: create one with `roster tenant create SLUG`."))?;
    Ok(Redirect::to(&format!("/admin/t/{}", view::path_segment(&slug))).into_response())
}

#[derive(Debug, serde::Deserialize)]
struct Switch {
    tenant: String,
    #[serde(default)]
    section: String,
}

/// The tenant switcher (a GET form): the same section in another tenant.
async fn switch_tenant(
    State(app): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<Switch>,
) -> PageResult {
    let tenant = app.core.tenant(&q.tenant).await?;
    let section = match q.section.as_str() {
        s @ ("provisioning" | "audit" | "log" | "users" | "groups" | "attributes") => format!("/{s}"),
        _ => String::new(),
    };
    Ok(Redirect::to(&format!("/admin/t/{}{section}", view::path_segment(&tenant.slug))).into_response())
}

/// Loads the tenant of a page and builds its layout.
pub async fn page_context(
    app: &AppState,
    session: &PortalSession,
    slug: &str,
    nav: &'static str,
    title: &str,
    done: Option<&str>,
) -> PageResult<(Tenant, Layout)> {
    let tenant = app.core.tenant(slug).await?;
    if !session.principal.can_access(&tenant) {
        return Err(PageError::not_found(format!("no tenant {slug:?}")));
    }
    let tenants = app.core.tenants().await?.into_iter().filter(|t| session.principal.can_access(t)).map(|t| t.slug);
    let layout = Layout {
        title: title.to_string(),
        nav,
        signed_in: true,
        username: session.username.clone(),
        csrf: session.csrf.clone(),
        tenant: tenant.slug.clone(),
        tenants: tenants.collect(),
        v: assets::version(),
        flash: done.and_then(view::flash_message),
    };
    Ok((tenant, layout))
}

/// A 303 to the sign-in page, remembering where the administrator was going (GETs only).
fn to_sign_in(req: &Request) -> Response {
    let target = if req.method() == Method::GET {
        let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/admin");
        format!("/admin/sign-in?next={}", view::query_value(path))
    } else {
        "/admin/sign-in".to_string()
    };
    Redirect::to(&target).into_response()
}

/// The session gate of every portal page but sign-in and the assets: no session, no page
/// (a redirect to sign-in); a POST must carry the session's CSRF token as the form field
/// `csrf` (or the `X-CSRF-Token` header), or it is refused with 403.
async fn require_session(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(cookie) = crate::admin::auth::cookie(req.headers(), SESSION_COOKIE) else {
        return to_sign_in(&req);
    };
    let principal = match app.core.session(&cookie).await {
        Ok(p) => p,
        Err(Error::Unauthorized(_)) => return to_sign_in(&req),
        Err(e) => return PageError::from(e).into_response(),
    };
    let AdminPrincipal::Admin { username, csrf, .. } = &principal else {
        return to_sign_in(&req);
    };
    let session = PortalSession {
        username: username.clone(),
        csrf: csrf.clone(),
        cookie: cookie.clone(),
        principal: principal.clone(),
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(_) => return PageError::new(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response(),
        };
        let sent = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| view::form_field(&bytes, "csrf"))
            .unwrap_or_default();
        if !roster_core::tokens::constant_time_eq(sent.as_bytes(), session.csrf.as_bytes()) {
            return PageError::new(
                StatusCode::FORBIDDEN,
                "This form did not carry this session's security token (it may be from an older session or \
                 another site). Go back, reload the page and try again.",
            )
            .into_response();
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    req.extensions_mut().insert(session);
    next.run(req).await
}

fn set_if_absent(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    if !headers.contains_key(&name) {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// Security headers on every portal response (the one portal policy of [`crate::security`]:
/// nothing inline, nothing from elsewhere, no framing); pages are never cached (they show
/// secrets and personal data). A page rendered by a boosted POST keeps the address bar where it
/// was, so a refresh never re-sends the form.
async fn security_headers(req: Request, next: Next) -> Response {
    let htmx_post = req.method() == Method::POST && req.headers().contains_key("hx-request");
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(crate::security::PORTAL_CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    set_if_absent(headers, header::CACHE_CONTROL, "no-store");
    if htmx_post && !response.status().is_redirection() {
        response.headers_mut().insert(HeaderName::from_static("hx-push-url"), HeaderValue::from_static("false"));
    }
    response
}
