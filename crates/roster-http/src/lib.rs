//! Roster's HTTP layer: the SCIM 2.0 endpoints under `/scim/v2/{tenant}`, health checks,
//! and the middleware around them. Handlers only translate between the wire and
//! roster-core's services; errors become SCIM error bodies in one place ([`response`]).

pub mod admin;
pub mod events;
pub mod lenient;
pub mod metrics;
pub mod observe;
pub mod portal;
pub mod ratelimit;
pub mod response;
pub mod scim;
pub mod security;
pub mod server;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use http::header::{AUTHORIZATION, COOKIE};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;

use roster_core::Core;

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The externally visible base URL (`https://roster.example.com`), no trailing slash.
    pub public_url: String,
    /// The largest request body outside `/Bulk` (A25.5).
    pub max_body_bytes: usize,
    /// How long a request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// How long a client may take to send a request's headers (and how long an idle
    /// keep-alive connection stays open).
    pub header_read_timeout: Duration,
    /// SCIM request quotas per token and per tenant.
    pub rate_limits: ratelimit::RateLimits,
    /// Whether this router serves `/metrics` (false when a separate metrics listener does,
    /// see [`metrics::serve`]).
    pub metrics_route: bool,
    /// The longest an event poll (RFC 8936) waits for events before answering empty.
    pub event_long_poll: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            public_url: "http://127.0.0.1:8080".into(),
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(30),
            rate_limits: ratelimit::RateLimits::default(),
            metrics_route: true,
            event_long_poll: Duration::from_secs(25),
        }
    }
}

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub core: Arc<Core>,
    pub config: Arc<HttpConfig>,
    pub sign_in_limiter: Arc<admin::auth::SignInLimiter>,
    /// SCIM quotas per token and tenant.
    pub rate_limiter: Arc<ratelimit::RateLimiter>,
    /// What `/metrics` keeps between scrapes.
    pub metrics: Arc<metrics::ScrapeCache>,
}

impl AppState {
    pub fn new(core: Arc<Core>, config: HttpConfig) -> AppState {
        let rate_limiter = Arc::new(ratelimit::RateLimiter::new(config.rate_limits));
        AppState {
            core,
            config: Arc::new(config),
            sign_in_limiter: admin::auth::default_limiter(),
            rate_limiter,
            metrics: Arc::default(),
        }
    }
}

impl AppState {
    /// The SCIM base URL of a tenant (the "target SCIM URL").
    pub fn base_url(&self, tenant: &str) -> String {
        roster_core::tenants::target_url(&self.config.public_url, tenant)
    }
}

/// `/readyz`: 200 when the database answers and its schema is current, 503 otherwise.
async fn readyz(axum::extract::State(app): axum::extract::State<AppState>) -> (http::StatusCode, String) {
    match app.core.store.ready().await {
        Ok(()) => (http::StatusCode::OK, "ready".into()),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (http::StatusCode::SERVICE_UNAVAILABLE, "not ready".into())
        }
    }
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    // The admin API and the portal stop a request that runs out of time with a 503 (SCIM
    // has its own, inside its request log: see `scim::logged_routes`).
    let timeout = TimeoutLayer::with_status_code(http::StatusCode::SERVICE_UNAVAILABLE, state.config.request_timeout);
    let app = Router::new()
        .nest("/scim/v2/{tenant}", scim::logged_routes(state.clone()))
        .nest(
            "/admin/api",
            // A request out of time is a 503 in the API's JSON error shape.
            admin::routes(state.clone())
                .layer(timeout)
                .layer(axum::extract::DefaultBodyLimit::max(state.config.max_body_bytes))
                .layer(axum::middleware::from_fn(admin::json_errors)),
        )
        // The admin portal: server-rendered pages under /admin (beside /admin/api).
        .merge(portal::routes(state.clone()).layer(timeout))
        // Event streams: the tenant's JWKS and the poll endpoint (RFC 8936).
        .merge(events::routes())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .fallback(not_found);
    let app = if state.config.metrics_route { app.route("/metrics", get(metrics::scrape)) } else { app };
    let app = app.with_state(state.clone());
    // Layers run outside-in in the reverse order of these calls: the request id is set
    // first so every later layer (and every log line) sees it; panics become SCIM 500s.
    // Router layers wrap each route after routing, so `metrics::track` sees the route
    // template; it sits outside the panic catcher to count those 500s too, and inside the
    // trace span to record the route on it (see `observe`).
    let security = axum::middleware::from_fn_with_state(state.clone(), security::headers);
    app.layer(CatchPanicLayer::custom(response::panic_response))
        .layer(security)
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(axum::middleware::from_fn(observe::request_id_in_errors))
        .layer(observe::trace_layer())
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION, COOKIE]))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Paths no route knows: under `/scim` a SCIM 404 (a client with a wrong base URL still
/// gets a body it can read), elsewhere a plain one.
async fn not_found(uri: http::Uri) -> axum::response::Response {
    if uri.path() == "/scim" || uri.path().starts_with("/scim/") {
        return response::error_response(&roster_scim::ScimError::not_found(
            "no such SCIM endpoint: the SCIM base URL is /scim/v2/{tenant}",
        ));
    }
    axum::response::IntoResponse::into_response((http::StatusCode::NOT_FOUND, "not found"))
}

/// The application as it is served: the router, with trailing slashes trimmed before
/// routing so `/scim/v2/t/` and `/Users/` work too.
pub fn app(state: AppState) -> tower_http::normalize_path::NormalizePath<Router> {
    tower::Layer::layer(&tower_http::normalize_path::NormalizePathLayer::trim_trailing_slash(), router(state))
}

/// Serves the application on `listener` until `shutdown` resolves; requests in flight
/// finish before this returns. Request lines with raw spaces or quotes in their target are
/// accepted (see [`lenient`]); see [`server`] for the connection timeouts.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_read_timeout = state.config.header_read_timeout;
    server::serve_on(lenient::LenientListener(listener), app(state), header_read_timeout, shutdown).await
}

/// Like [`serve`], over TLS (see [`tls`]).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    state: AppState,
    tls_config: Arc<tls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_read_timeout = state.config.header_read_timeout;
    let listener = tls::TlsListener::new(listener, tls_config)?;
    server::serve_on(listener, app(state), header_read_timeout, shutdown).await
}
