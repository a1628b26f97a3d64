//! Activity pages: the Audit Trail (administrative events, filtered by event type and time,
//! paged newest first) and the Provisioning Log (SCIM requests, filtered by token and status,
//! with failures marked).

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use roster_core::Idp;
use roster_core::admin::TokenView;
use roster_core::audit::{AuditEvent, AuditQuery, ProvisioningQuery, ProvisioningRecord};

use super::view::{path_segment, query_value, when};
use super::{Layout, PageResult, PortalSession, page_context};
use crate::AppState;

/// Rows per page.
const PAGE: u32 = 50;

/// Reads a time from a `datetime-local` field (UTC) or RFC 3339.
fn parse_time(s: &str) -> Option<Result<OffsetDateTime, String>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let local = time::PrimitiveDateTime::parse(s, format_description!("[year]-[month]-[day]T[hour]:[minute]"))
        .or_else(|_| {
            time::PrimitiveDateTime::parse(s, format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"))
        })
        .map(|t| t.assume_utc());
    Some(
        local
            .or_else(|_| OffsetDateTime::parse(s, &Rfc3339))
            .map_err(|_| format!("{s:?} is not a time: use the date picker, or a time like 2026-11-30T12:00 (UTC)")),
    )
}

/// A query string from the non-empty pairs.
fn query(pairs: &[(&str, &str)]) -> String {
    let parts: Vec<String> =
        pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", query_value(v))).collect();
    if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditParams {
    #[serde(default)]
    event: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    scope: String,
    before: Option<i64>,
}

#[derive(Debug)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub event: &'static str,
    pub code: &'static str,
    pub target: String,
    pub details: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
struct AuditPage {
    l: Layout,
    rows: Vec<AuditRow>,
    events: Vec<(&'static str, &'static str)>,
    p: AuditParams,
    installation: bool,
    newest_link: Option<String>,
    older_link: Option<String>,
    errors: Vec<String>,
}

/// `GET /admin/t/{tenant}/audit`.
pub async fn audit(
    State(app): State<AppState>,
    Extension(session): Extension<PortalSession>,
    Path(slug): Path<String>,
    Query(p): Query<AuditParams>,
) -> PageResult {
    let (tenant, l) = page_context(&app, &session, &slug, "audit", "Audit Trail", None).await?;
    let mut errors = Vec::new();
    let mut time_of = |s: &str| match parse_time(s) {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            errors.push(e);
            None
        }
        None => None,
    };
    let since = time_of(&p.since);
    let until = time_of(&p.until);
    let event = if p.event.is_empty() {
        None
    } else {
        let parsed = AuditEvent::parse(&p.event);
        if parsed.is_none() {
            errors.push(format!("{:?} is not an event type.", p.event));
        }
        parsed
    };
    let installation = p.scope == "installation";
    let q = AuditQuery {
        tenant: Some(if installation { None } else { Some(tenant.id) }),
        event,
        since,
        until,
        before_id: p.before,
        limit: PAGE,
    };
    let records = app.core.audit_events(&q).await?;
    let rows: Vec<AuditRow> = records
        .into_iter()
        .map(|r| AuditRow {
            id: r.id,
            at: when(r.at),
            actor: r.actor.to_string(),
            event: r.event.label(),
            code: r.event.code(),
            target: r.target,
            details: r.details,
        })
        .collect();
    let base = format!("{}/audit", l.base());
    let filters = [
        ("event", p.event.as_str()),
        ("since", p.since.as_str()),
        ("until", p.until.as_str()),
        ("scope", p.scope.as_str()),
    ];
    let older_link = (rows.len() == PAGE as usize).then(|| rows.last().map(|r| r.id)).flatten().map(|id| {
        let before = id.to_string();
        let mut pairs = filters.to_vec();
        pairs.push(("before", &before));
        format!("{base}{}", query(&pairs))
    });
    let newest_link = p.before.map(|_| format!("{base}{}", query(&filters)));
    let page = AuditPage {
        l,
        rows,
        events: AuditEvent::ALL.iter().map(|e| (e.code(), e.label())).collect(),
        p,
        installation,
        newest_link,
        older_link,
        errors,
    };
    Ok(page.into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct LogParams {
    #[serde(default)]
    token: String,
    #[serde(default)]
    status: String,
    before: Option<i64>,
}

#[derive(Debug)]
pub struct LogRow {
    pub id: i64,
    pub at: String,
    pub idp: String,
    pub token_id: String,
    pub request: String,
    pub summary: String,
    pub notes: String,
    pub status: u16,
    pub failure: bool,
    pub scim_type: String,
    pub latency: String,
    pub request_id: String,
    /// The request id's first 8 characters (the full one is a tooltip).
    pub request_id_short: String,
    pub link: Option<String>,
}

impl LogRow {
    /// A row; `tokens` names the IdP of requests that were refused before their token
    /// was accepted (the log knows only the token id then).
    pub fn new(r: ProvisioningRecord, base: &str, tokens: &[TokenView]) -> LogRow {
        let link = match (r.resource_type.as_deref(), &r.resource_id) {
            (Some("User"), Some(id)) if r.method != "DELETE" => Some(format!("{base}/users/{}", path_segment(id))),
            (Some("Group"), Some(id)) if r.method != "DELETE" => Some(format!("{base}/groups/{}", path_segment(id))),
            _ => None,
        };
        LogRow {
            id: r.id,
            at: when(r.at),
            idp: r
                .idp
                .as_deref()
                .and_then(Idp::parse)
                .or_else(|| tokens.iter().find(|t| Some(&t.id) == r.token_id.as_ref()).map(|t| t.idp))
                .map(|i| i.display_name().to_string())
                .unwrap_or_default(),
            token_id: r.token_id.unwrap_or_default(),
            request: format!("{} {}", r.method, r.path),
            summary: r.summary,
            notes: r.notes,
            status: r.status,
            failure: r.status >= 400,
            scim_type: r.scim_type.unwrap_or_default(),
            latency: format!("{:.1} ms", r.latency_us as f64 / 1000.0),
            request_id_short: r.request_id.chars().take(8).collect(),
            request_id: r.request_id,
            link,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "log.html")]
struct LogPage {
    l: Layout,
    rows: Vec<LogRow>,
    tokens: Vec<(String, String)>,
    p: LogParams,
    newest_link: Option<String>,
    older_link: Option<String>,
    error: Option<String>,
}

/// `GET /admin/t/{tenant}/log`.
pub async fn provisioning(
    State(app): State<AppState>,
    Extension(session): Extension<PortalSession>,
    Path(slug): Path<String>,
    Query(p): Query<LogParams>,
) -> PageResult<Response> {
    let (tenant, l) = page_context(&app, &session, &slug, "log", "Provisioning Log", None).await?;
    let mut error = None;
    let status_class = match p.status.as_str() {
        "" => None,
        "2xx" => Some(2),
        "4xx" => Some(4),
        "5xx" => Some(5),
        other => {
            error = Some(format!("{other:?} is not a status filter: use 2xx, 4xx or 5xx."));
            None
        }
    };
    let q = ProvisioningQuery {
        tenant: tenant.id,
        token_id: Some(p.token.clone()).filter(|t| !t.is_empty()),
        status_class,
        before_id: p.before,
        limit: PAGE,
        ..ProvisioningQuery::default()
    };
    let base = l.base();
    let views = app.core.list_tokens(&tenant.slug).await?;
    let rows: Vec<LogRow> =
        app.core.provisioning_log(&q).await?.into_iter().map(|r| LogRow::new(r, &base, &views)).collect();
    let tokens = views
        .into_iter()
        .map(|t| {
            let name = if t.name.is_empty() { String::new() } else { format!(" · {}", t.name) };
            (t.id.clone(), format!("{}{name} · {}", t.idp_name, t.fingerprint))
        })
        .collect();
    let page_base = format!("{base}/log");
    let filters = [("token", p.token.as_str()), ("status", p.status.as_str())];
    let older_link = (rows.len() == PAGE as usize).then(|| rows.last().map(|r| r.id)).flatten().map(|id| {
        let before = id.to_string();
        let mut pairs = filters.to_vec();
        pairs.push(("before", &before));
        format!("{page_base}{}", query(&pairs))
    });
    let newest_link = p.before.map(|_| format!("{page_base}{}", query(&filters)));
    Ok(LogPage { l, rows, tokens, p, newest_link, older_link, error }.into_response())
}
