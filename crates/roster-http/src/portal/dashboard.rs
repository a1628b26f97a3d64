//! The dashboard of a tenant: how many users and groups, its tokens and their expiry, the
//! last request of each identity provider, and the recent failures.

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::extract::{Path, State};
use axum::response::IntoResponse;

use roster_scim::ResourceKind;

use super::logs::LogRow;
use super::tokens::TokenRow;
use super::view::relative;
use super::{Layout, PageResult, PortalSession, page_context};
use crate::AppState;

/// A row of "last request per IdP".
#[derive(Debug)]
pub struct IdpRow {
    pub idp: &'static str,
    pub tokens: usize,
    pub last: Option<LogRow>,
    pub ago: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    l: Layout,
    users: u64,
    active_users: u64,
    groups: u64,
    attributes: usize,
    tokens: Vec<TokenRow>,
    max_tokens: u32,
    idps: Vec<IdpRow>,
    failures: Vec<LogRow>,
    target_url: String,
}

/// `GET /admin/t/{tenant}`.
pub async fn page(
    State(app): State<AppState>,
    Extension(session): Extension<PortalSession>,
    Path(slug): Path<String>,
) -> PageResult {
    let (tenant, l) = page_context(&app, &session, &slug, "dashboard", "Dashboard", None).await?;
    let core = &app.core;
    let now = core.clock.now();
    let users = core.count_resources(&tenant.slug, ResourceKind::User, None).await?;
    // A user without `active` counts as active (as the Users page shows it).
    let inactive = core.count_resources(&tenant.slug, ResourceKind::User, Some("active eq false")).await?;
    let active_users = users.saturating_sub(inactive);
    let groups = core.count_resources(&tenant.slug, ResourceKind::Group, None).await?;
    let attributes = core.custom_schema(&tenant.slug).await?.attributes.len();
    let token_views = core.list_tokens(&tenant.slug).await?;
    let base = l.base();
    let idps = core
        .last_request_per_idp(&tenant, &token_views)
        .await?
        .into_iter()
        .map(|a| IdpRow {
            idp: a.idp.display_name(),
            tokens: a.tokens,
            ago: a.last.as_ref().map(|r| relative(r.at, now)).unwrap_or_default(),
            last: a.last.map(|r| LogRow::new(r, &base, &token_views)),
        })
        .collect();
    let failures =
        core.recent_failures(&tenant, 10).await?.into_iter().map(|r| LogRow::new(r, &base, &token_views)).collect();
    let page = DashboardPage {
        users,
        active_users,
        groups,
        attributes,
        tokens: token_views.iter().map(|t| TokenRow::new(t, now)).collect(),
        max_tokens: tenant.settings.max_tokens,
        idps,
        failures,
        target_url: app.base_url(&tenant.slug),
        l,
    };
    Ok(page.into_response())
}
