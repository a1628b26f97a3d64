//! The provisioning log at the HTTP edge: every SCIM request gets a row. Writes that
//! succeed are journaled by the store in their own transaction; everything else (reads,
//! refusals, failures) is logged here once the response is known.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use roster_core::audit::ProvisioningEntry;
use roster_core::provisioning::RequestInfo;
use roster_core::{ScimCtx, TenantId};
use roster_scim::ResourceKind;

use crate::AppState;
use crate::response::ErrorInfo;

/// What the handler learnt about the request, for its log row.
#[derive(Debug, Default)]
pub struct LogData {
    pub tenant: Option<TenantId>,
    pub token_id: Option<String>,
    pub idp: Option<String>,
    pub kind: Option<ResourceKind>,
    pub resource_id: Option<String>,
    pub summary: Option<String>,
    pub notes: String,
    /// The store already wrote this request's row with its change.
    pub journaled: bool,
    /// The request gets no row (a rate-limit refusal beyond the sampled ones).
    pub unlogged: bool,
}

/// The per-request log slot handlers fill in.
#[derive(Debug, Clone)]
pub struct LogSlot {
    pub info: RequestInfo,
    data: Arc<Mutex<LogData>>,
}

impl LogSlot {
    pub fn update(&self, f: impl FnOnce(&mut LogData)) {
        if let Ok(mut d) = self.data.lock() {
            f(&mut d);
        }
    }

    /// Records the authenticated caller.
    pub fn authenticated(&self, ctx: &ScimCtx) {
        self.update(|d| {
            d.tenant = Some(ctx.tenant.id);
            d.token_id = ctx.token.as_ref().map(|t| t.id.clone());
            d.idp = ctx.token.as_ref().map(|t| t.idp.as_str().to_string());
        });
    }

    pub fn resource(&self, kind: ResourceKind, id: Option<&str>, summary: String) {
        self.update(|d| {
            d.kind = Some(kind);
            d.resource_id = id.map(str::to_string);
            d.summary = Some(summary);
        });
    }

    pub fn summary(&self, summary: String) {
        self.update(|d| d.summary = Some(summary));
    }

    pub fn journaled(&self) {
        self.update(|d| d.journaled = true);
    }

    /// This request is not to be logged (see `ratelimit`).
    pub fn unlogged(&self) {
        self.update(|d| d.unlogged = true);
    }
}

/// Middleware: opens the slot, and logs the request once the response is known.
pub async fn log_requests(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let info = RequestInfo {
        request_id,
        method: req.method().to_string(),
        // The full path (the SCIM router is nested, so the request's own URI lacks the prefix).
        path: req
            .extensions()
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| req.uri().path().to_string(), |o| o.0.path().to_string()),
        started: Instant::now(),
    };
    let slot = LogSlot { info: info.clone(), data: Arc::new(Mutex::new(LogData::default())) };
    req.extensions_mut().insert(slot.clone());
    let response = next.run(req).await;
    let data = match slot.data.lock() {
        Ok(mut d) => std::mem::take(&mut *d),
        Err(_) => return response,
    };
    let Some(tenant) = data.tenant else { return response };
    if data.journaled || data.unlogged {
        return response;
    }
    let status = response.status().as_u16();
    let error = response.extensions().get::<ErrorInfo>();
    let summary = match (&data.summary, error) {
        (_, Some(e)) => format!("{} {}: {}", info.method, info.path, without_values(&e.detail)),
        (Some(s), None) => s.clone(),
        (None, None) => format!("{} {}", info.method, info.path),
    };
    app.core.log.log(ProvisioningEntry {
        tenant,
        at: app.core.clock.now(),
        request_id: info.request_id,
        token_id: data.token_id,
        idp: data.idp,
        method: info.method,
        path: info.path,
        resource_type: data.kind.map(|k| k.name().to_string()),
        resource_id: data.resource_id,
        summary: truncate(summary, 500),
        notes: data.notes,
        status,
        scim_type: error.and_then(|e| e.scim_type.clone()),
        latency_us: i64::try_from(info.started.elapsed().as_micros()).unwrap_or(i64::MAX),
    });
    response
}

/// An error detail as the log keeps it. Details may echo the offending value back to the
/// client ("active must be a boolean, got \"x\"", "..., found string \"x\"" in a filter); the
/// log holds identifiers only, so the echoed value is cut.
fn without_values(detail: &str) -> String {
    let mut out = detail.to_string();
    for marker in [", got ", ", found "] {
        if let Some(i) = out.find(marker) {
            out.truncate(i + marker.len());
            out.push_str("(value not logged)");
        }
    }
    out
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}
