//! Prometheus metrics at `/metrics` (text exposition format 0.0.4).
//!
//! Counters and histograms go through the `metrics` facade into one process-wide
//! `metrics-exporter-prometheus` recorder, installed on first use ([`handle`]); call sites
//! are one-liners. Values that belong to one database — the connection pools and the
//! per-tenant user and group counts — are read at scrape time from the app's store and
//! written by the scrape handler itself, so they are never stale and never mix stores.
//!
//! Labels are bounded: `route` is axum's route template (`/scim/v2/{tenant}/{resource}/{id}`),
//! never the raw path; methods, statuses, resources and reasons come from fixed sets. The only
//! open-ended label is `tenant` on the per-tenant gauges, one series per tenant.
//!
//! The metric names are listed in docs/operations.md.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{Method, StatusCode, header};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use roster_core::AuthFailure;
use roster_core::store::TenantCounts;

use crate::AppState;

/// Requests answered, by `method`, `route` (template) and `status`.
pub const HTTP_REQUESTS: &str = "roster_http_requests_total";
/// Time to answer a request (until the response head is ready), by `method` and `route`.
pub const HTTP_DURATION: &str = "roster_http_request_duration_seconds";
/// SCIM operations by `resource` (User, Group, Bulk, ...), `operation` and `outcome`.
pub const SCIM_OPERATIONS: &str = "roster_scim_operations_total";
/// Refused credentials by `api` (scim, admin) and `reason` ([`AuthFailure::as_str`]).
pub const AUTH_FAILURES: &str = "roster_auth_failures_total";
/// Requests refused by a rate limiter, by `limiter`. Incremented through [`rate_limited`].
pub const RATE_LIMITED: &str = "roster_rate_limited_total";
/// Connections per pool (`read`, `write`; `shared` on PostgreSQL) and `state` (idle, in_use).
pub const DB_POOL_CONNECTIONS: &str = "roster_db_pool_connections";
/// The most connections each pool may open.
pub const DB_POOL_MAX: &str = "roster_db_pool_max_connections";
/// Users per tenant.
pub const TENANT_USERS: &str = "roster_tenant_users";
/// Groups per tenant.
pub const TENANT_GROUPS: &str = "roster_tenant_groups";
/// 1 when the last scrape could count the tenants' users and groups, 0 when it could not.
pub const TENANT_COUNTS_UP: &str = "roster_tenant_counts_up";
/// Always 1, labelled with the running `version`.
pub const BUILD_INFO: &str = "roster_build_info";

/// Histogram buckets (seconds): SCIM calls take milliseconds; bulk and slow disks take more.
const LATENCY_BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How long per-tenant counts are reused between scrapes: counting is one grouped index
/// scan, cheap but not free, and `/metrics` may be scraped by several collectors.
const COUNTS_TTL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide recorder's handle; installs the recorder (and its upkeep thread) on
/// first use. If another recorder was installed first, Roster's own metrics are not
/// recorded (a warning says so) but `/metrics` still answers with the scrape-time values.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; Roster's counters will not appear on /metrics");
        }
        describe();
        // Histograms are drained into their buckets by upkeep; without scrapes they would
        // grow, so a thread does it regularly (a plain thread: it outlives any one runtime).
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new().name("roster-metrics-upkeep".into()).spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        });
        handle
    })
}

fn describe() {
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by method, route template and status");
    metrics::describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by method and route template"
    );
    metrics::describe_counter!(SCIM_OPERATIONS, "SCIM operations by resource, operation and outcome");
    metrics::describe_counter!(AUTH_FAILURES, "Refused credentials by API (scim, admin) and reason");
    metrics::describe_counter!(RATE_LIMITED, "Requests refused by a rate limiter, by limiter");
}

/// Counts a request refused by a rate limiter. `limiter` names the quota (for example
/// `token`, `tenant`, `sign_in`); it must come from a fixed set, as every label does.
pub fn rate_limited(limiter: &'static str) {
    handle();
    metrics::counter!(RATE_LIMITED, "limiter" => limiter).increment(1);
}

/// Counts refused credentials on `api` (`scim` or `admin`).
pub fn auth_failure(api: &'static str, reason: AuthFailure) {
    handle();
    metrics::counter!(AUTH_FAILURES, "api" => api, "reason" => reason.as_str()).increment(1);
}

/// Counts refused credentials if `error` is an authentication failure.
pub fn auth_error(api: &'static str, error: &roster_core::Error) {
    if let roster_core::Error::Unauthorized(reason) = error {
        auth_failure(api, *reason);
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// What a SCIM status means for an operation: a small fixed set.
pub fn outcome(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "success",
        304 => "not_modified",
        400 => "invalid",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        412 => "precondition_failed",
        413 => "too_large",
        429 => "rate_limited",
        500..=599 => "error",
        _ => "other",
    }
}

const SCIM_PREFIX: &str = "/scim/v2/{tenant}";

/// The SCIM `(resource, operation)` a request to route template `route` is, if any.
/// `path` is the request's path, to read the `{resource}` segment (Users or Groups).
pub fn scim_operation(method: &Method, route: &str, path: &str) -> Option<(&'static str, &'static str)> {
    let rest = route.strip_prefix(SCIM_PREFIX)?;
    let resource = || {
        let segment = path.split('/').nth(4)?;
        roster_scim::ResourceKind::from_endpoint(segment).map(|k| match k {
            roster_scim::ResourceKind::User => "User",
            roster_scim::ResourceKind::Group => "Group",
        })
    };
    let op = match (method.clone(), rest) {
        (Method::GET, "/{resource}") => (resource()?, "list"),
        (Method::POST, "/{resource}") => (resource()?, "create"),
        (Method::POST, "/{resource}/.search") => (resource()?, "search"),
        (Method::GET, "/{resource}/{id}") => (resource()?, "get"),
        (Method::PUT, "/{resource}/{id}") => (resource()?, "replace"),
        (Method::PATCH, "/{resource}/{id}") => (resource()?, "patch"),
        (Method::DELETE, "/{resource}/{id}") => (resource()?, "delete"),
        (Method::POST, "/Bulk") => ("Bulk", "bulk"),
        (Method::GET, "" | "/") => ("all", "list"),
        (Method::POST, "/.search") => ("all", "search"),
        (Method::GET, "/ServiceProviderConfig") => ("ServiceProviderConfig", "get"),
        (Method::GET, "/Schemas") => ("Schema", "list"),
        (Method::GET, "/Schemas/{id}") => ("Schema", "get"),
        (Method::GET, "/ResourceTypes") => ("ResourceType", "list"),
        (Method::GET, "/ResourceTypes/{id}") => ("ResourceType", "get"),
        _ => return None,
    };
    Some(op)
}

/// Middleware (after routing, so the route template is known): counts and times every
/// request, counts SCIM operations, and records the route on the request's log span.
pub async fn track(req: Request, next: Next) -> Response {
    handle();
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let scim = route.as_deref().and_then(|r| scim_operation(&method, r, req.uri().path()));
    if let Some(route) = &route {
        tracing::Span::current().record("route", tracing::field::display(route));
    }
    let response = next.run(req).await;
    let status = response.status();
    let route = route.unwrap_or_else(|| "unmatched".into());
    let method = method_label(&method);
    metrics::counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status.as_str().to_string())
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route).record(started.elapsed().as_secs_f64());
    if let Some((resource, operation)) = scim {
        metrics::counter!(SCIM_OPERATIONS, "resource" => resource, "operation" => operation, "outcome" => outcome(status))
            .increment(1);
    }
    response
}

/// Per-store scrape state: the last per-tenant counts, reused for [`COUNTS_TTL`].
#[derive(Debug, Default)]
pub struct ScrapeCache {
    counts: tokio::sync::Mutex<Option<(Instant, Vec<TenantCounts>)>>,
}

impl ScrapeCache {
    async fn tenant_counts(&self, app: &AppState) -> Option<Vec<TenantCounts>> {
        // Holding the lock across the query makes concurrent scrapes share one count.
        let mut cached = self.counts.lock().await;
        if let Some((at, counts)) = cached.as_ref()
            && at.elapsed() < COUNTS_TTL
        {
            return Some(counts.clone());
        }
        match app.core.store.resource_counts().await {
            Ok(counts) => {
                *cached = Some((Instant::now(), counts.clone()));
                Some(counts)
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot count users and groups");
                None
            }
        }
    }
}

/// A label value in the exposition format.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, help: &str, samples: impl IntoIterator<Item = (String, f64)>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// Renders everything: the recorder's counters and histograms, then the scrape-time gauges.
pub async fn render(app: &AppState) -> String {
    let mut out = handle().render();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let pools = app.core.store.pool_stats();
    family(
        &mut out,
        DB_POOL_CONNECTIONS,
        "Database connections per pool and state",
        pools.iter().flat_map(|p| {
            [
                (format!("pool=\"{}\",state=\"idle\"", p.pool), f64::from(p.idle)),
                (format!("pool=\"{}\",state=\"in_use\"", p.pool), f64::from(p.size.saturating_sub(p.idle))),
            ]
        }),
    );
    family(
        &mut out,
        DB_POOL_MAX,
        "The most connections each pool may open",
        pools.iter().map(|p| (format!("pool=\"{}\"", p.pool), f64::from(p.max))),
    );
    let counts = app.metrics.tenant_counts(app).await;
    let tenant = |c: &TenantCounts| format!("tenant=\"{}\"", escape(&c.tenant));
    let list = counts.clone().unwrap_or_default();
    family(&mut out, TENANT_USERS, "Users per tenant", list.iter().map(|c| (tenant(c), c.users as f64)));
    family(&mut out, TENANT_GROUPS, "Groups per tenant", list.iter().map(|c| (tenant(c), c.groups as f64)));
    family(
        &mut out,
        TENANT_COUNTS_UP,
        "1 when this scrape could count users and groups",
        [(String::new(), if counts.is_some() { 1.0 } else { 0.0 })],
    );
    family(
        &mut out,
        BUILD_INFO,
        "Always 1; labelled with the running version",
        [(format!("version=\"{}\"", env!("CARGO_PKG_VERSION")), 1.0)],
    );
    out
}

/// `GET /metrics`.
pub async fn scrape(State(app): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
        render(&app).await,
    )
        .into_response()
}

/// The router of the separate metrics listener (`--metrics-listen`): `/metrics`, and the
/// health checks, so a container check can use it too. Nothing else is reachable there.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(crate::readyz))
        .with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_operations_come_from_the_route_template_and_the_resource_segment() {
        let op = |m: Method, route: &str, path: &str| scim_operation(&m, route, path);
        assert_eq!(op(Method::POST, "/scim/v2/{tenant}/{resource}", "/scim/v2/t/Users"), Some(("User", "create")));
        assert_eq!(op(Method::GET, "/scim/v2/{tenant}/{resource}", "/scim/v2/t/groups"), Some(("Group", "list")));
        assert_eq!(
            op(Method::PATCH, "/scim/v2/{tenant}/{resource}/{id}", "/scim/v2/t/Groups/abc"),
            Some(("Group", "patch"))
        );
        assert_eq!(op(Method::POST, "/scim/v2/{tenant}/Bulk", "/scim/v2/t/Bulk"), Some(("Bulk", "bulk")));
        assert_eq!(op(Method::GET, "/scim/v2/{tenant}/{resource}", "/scim/v2/t/Widgets"), None);
        assert_eq!(op(Method::GET, "/admin/api/tenants", "/admin/api/tenants"), None);
    }

    #[test]
    fn outcomes_are_a_small_fixed_set() {
        assert_eq!(outcome(StatusCode::CREATED), "success");
        assert_eq!(outcome(StatusCode::CONFLICT), "conflict");
        assert_eq!(outcome(StatusCode::SERVICE_UNAVAILABLE), "error");
        assert_eq!(outcome(StatusCode::IM_A_TEAPOT), "other");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
