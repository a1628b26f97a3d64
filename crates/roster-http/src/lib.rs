//! Roster's HTTP layer: the SCIM 2.0 endpoints under `/scim/v2/{tenant}`, health checks,
//! and the middleware around them. Handlers only translate between the wire and
//! roster-core's services; errors become SCIM error bodies in one place ([`response`]).

pub mod admin;
pub mod lenient;
pub mod response;
pub mod scim;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use http::header::{AUTHORIZATION, COOKIE};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

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
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            public_url: "http://127.0.0.1:8080".into(),
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub core: Arc<Core>,
    pub config: Arc<HttpConfig>,
    pub sign_in_limiter: Arc<admin::auth::SignInLimiter>,
}

impl AppState {
    pub fn new(core: Arc<Core>, config: HttpConfig) -> AppState {
        AppState { core, config: Arc::new(config), sign_in_limiter: admin::auth::default_limiter() }
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
    let app = Router::new()
        .nest("/scim/v2/{tenant}", scim::logged_routes(state.clone()))
        .nest("/admin/api", admin::routes(state.clone()))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state);
    // Layers run outside-in in the reverse order of these calls: the request id is set
    // first so every later layer (and every log line) sees it; panics become SCIM 500s.
    app.layer(CatchPanicLayer::custom(response::panic_response))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &http::Request<_>| {
            let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id)
        }))
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION, COOKIE]))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Serves the application on `listener` until `shutdown` resolves; requests in flight
/// finish before this returns. Request lines with raw spaces or quotes in their target are
/// accepted (see [`lenient`]), and trailing slashes are trimmed before routing, so
/// `/scim/v2/t/` and `/Users/` work too.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app =
        tower::Layer::layer(&tower_http::normalize_path::NormalizePathLayer::trim_trailing_slash(), router(state));
    let service =
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<lenient::ClientAddr>(app);
    axum::serve(lenient::LenientListener(listener), service).with_graceful_shutdown(shutdown).await
}
