//! Users and Groups: search (userName, displayName, email), paging, active badges, and
//! read-only detail pages with every attribute (core, enterprise, custom), the group
//! memberships and the resource's provisioning history. The IdP owns these records, so
//! nothing here changes them. Reads go through the same `Core::list` / `Core::get` as SCIM.

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value};

use roster_core::scim::{Fetched, ProjectionArgs};
use roster_scim::ResourceKind;
use roster_scim::messages::ListQuery;
use roster_scim::schema::{ENTERPRISE_USER, custom_extension_urn};

use super::logs::LogRow;
use super::view::{AttrRow, flatten, path_segment, query_value};
use super::{Layout, PageError, PageResult, PortalSession, page_context};
use crate::AppState;

/// Rows per page of the lists.
const PER_PAGE: u64 = 25;
/// The most members or groups a detail page lists.
const MAX_RELATED: usize = 1000;

#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    page: Option<u64>,
}

#[derive(Debug)]
pub struct ResourceRow {
    pub link: String,
    /// userName (users) or displayName (groups).
    pub name: String,
    pub display_name: String,
    pub email: String,
    pub external_id: String,
    /// `None` for groups.
    pub active: Option<bool>,
    pub modified: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "resources.html")]
struct ListPage {
    l: Layout,
    users: bool,
    rows: Vec<ResourceRow>,
    q: String,
    page: u64,
    pages: u64,
    total: u64,
    prev_link: Option<String>,
    next_link: Option<String>,
    error: Option<String>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// The primary email, or the first.
fn email(v: &Value) -> String {
    let emails = v.get("emails").and_then(Value::as_array).cloned().unwrap_or_default();
    let primary = emails.iter().find(|e| e.get("primary").and_then(Value::as_bool) == Some(true)).or(emails.first());
    primary.map(|e| text(e, "value")).unwrap_or_default()
}

fn modified(v: &Value) -> String {
    let raw = v.get("meta").map(|m| text(m, "lastModified")).unwrap_or_default();
    match time::OffsetDateTime::parse(&raw, &time::format_description::well_known::Rfc3339) {
        Ok(t) => super::view::when(t),
        Err(_) => raw,
    }
}

/// The SCIM filter of a search box: substring matches on the names (and emails).
fn search_filter(kind: ResourceKind, q: &str) -> Option<String> {
    let q = q.trim();
    if q.is_empty() {
        return None;
    }
    let lit = serde_json::to_string(q).unwrap_or_else(|_| "\"\"".into());
    Some(match kind {
        ResourceKind::User => format!("userName co {lit} or displayName co {lit} or emails.value co {lit}"),
        ResourceKind::Group => format!("displayName co {lit} or externalId co {lit}"),
    })
}

async fn list(app: AppState, session: PortalSession, slug: String, p: SearchParams, kind: ResourceKind) -> PageResult {
    let users = kind == ResourceKind::User;
    let (nav, title) = if users { ("users", "Users") } else { ("groups", "Groups") };
    let (tenant, l) = page_context(&app, &session, &slug, nav, title, None).await?;
    let ctx = app.core.anonymous(&tenant.slug, app.base_url(&tenant.slug)).await?;
    let page = p.page.unwrap_or(1).max(1);
    let query = ListQuery {
        filter: search_filter(kind, &p.q),
        sort_by: Some(if users { "userName" } else { "displayName" }.to_string()),
        start_index: (page - 1) * PER_PAGE + 1,
        count: Some(PER_PAGE),
        // Relations can be large; the list does not show them.
        excluded_attributes: vec![if users { "groups" } else { "members" }.to_string()],
        ..ListQuery::default()
    };
    let (listed, error) = match app.core.list(&ctx, Some(kind), &query).await {
        Ok(r) => (Some(r), None),
        Err(roster_core::Error::Scim(e)) if e.status == 400 => {
            (None, Some(format!("The search could not run: {}", e.detail)))
        }
        Err(e) => return Err(e.into()),
    };
    let base = format!("{}/{nav}", l.base());
    let total = listed.as_ref().map_or(0, |r| r.total_results);
    let rows = listed
        .map(|r| r.resources)
        .unwrap_or_default()
        .iter()
        .map(|v| ResourceRow {
            link: format!("{base}/{}", path_segment(&text(v, "id"))),
            name: text(v, if users { "userName" } else { "displayName" }),
            display_name: text(v, "displayName"),
            email: email(v),
            external_id: text(v, "externalId"),
            active: if users { Some(v.get("active").and_then(Value::as_bool).unwrap_or(true)) } else { None },
            modified: modified(v),
        })
        .collect();
    let pages = total.div_ceil(PER_PAGE).max(1);
    let link = |n: u64| {
        let q = if p.q.is_empty() { String::new() } else { format!("q={}&", query_value(&p.q)) };
        format!("{base}?{q}page={n}")
    };
    let page = ListPage {
        prev_link: (page > 1).then(|| link(page - 1)),
        next_link: (page < pages).then(|| link(page + 1)),
        l,
        users,
        rows,
        q: p.q,
        page,
        pages,
        total,
        error,
    };
    Ok(page.into_response())
}

/// `GET /admin/t/{tenant}/users`.
pub async fn users(
    State(app): State<AppState>,
    Extension(session): Extension<PortalSession>,
    Path(slug): Path<String>,
    Query(p): Query<SearchParams>,
) -> PageResult {
    list(app, session, slug, p, ResourceKind::User).await
}

/// `GET /admin/t/{tenant}/groups`.
pub async fn groups(
    State(app): State<AppState>,
    Extension(session): Extension<PortalSession>,
    Path(slug): Path<String>,
    Query(p): Query<SearchParams>,
) -> PageResult {
    list(app, session, slug, p, ResourceKind::Group).await
}

/// One extension's attributes on a detail page.
#[derive(Debug)]
pub struct Section {
    pub title: String,
    pub urn: String,
    pub rows: Vec<AttrRow>,
}

/// A group of a user, or a member of a group.
#[derive(Debug)]
pub struct RelatedRow {
    pub display: String,
    pub id: String,
    pub kind: String,
    pub link: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "resource.html")]
struct DetailPage {
    l: Layout,
    users: bool,
    name: String,
    display_name: String,
    active: Option<bool>,
    meta: Vec<(&'static str, String)>,
    core: Vec<AttrRow>,
    sections: Vec<Section>,
    related: Vec<RelatedRow>,
    related_total: usize,
    history: Vec<LogRow>,
}

fn related_rows(body: &Map<String, Value>, key: &str, base: &str) -> (Vec<RelatedRow>, usize) {
    let items = body.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
    let total = items.len();
    let rows = items
        .iter()
        .take(MAX_RELATED)
        .map(|m| {
            let id = text(m, "value");
            let kind = match text(m, "type").as_str() {
                "Group" => "Group".to_string(),
                "User" => "User".to_string(),
                // `User.groups` elements say `direct`: they are groups.
                _ if key == "groups" => "Group".to_string(),
                other => other.to_string(),
            };
            let section = if kind == "Group" { "groups" } else { "users" };
            RelatedRow {
                display: text(m, "display"),
                link: format!("{base}/{section}/{}", path_segment(&id)),
                id,
                kind,
            }
        })
        .collect();
    (rows, total)
}

async fn detail(app: AppState, session: PortalSession, slug: String, id: String, kind: ResourceKind) -> PageResult {
    let users = kind == ResourceKind::User;
    let (nav, title) = if users { ("users", "User") } else { ("groups", "Group") };
    let (tenant, mut l) = page_context(&app, &session, &slug, nav, title, None).await?;
    let ctx = app.core.anonymous(&tenant.slug, app.base_url(&tenant.slug)).await?;
    let fetched = match app.core.get(&ctx, kind, &id, &ProjectionArgs::default(), None).await {
        Ok(f) => f,
        Err(roster_core::Error::Scim(e)) if e.status == 404 => {
            return Err(PageError::not_found(format!("Tenant {} has no {} {id:?}.", tenant.slug, kind.name())));
        }
        Err(e) => return Err(e.into()),
    };
    let Fetched::Resource(out) = fetched else {
        return Err(PageError::not_found(format!("no {} {id:?}", kind.name())));
    };
    let body = out.body;
    let as_value = Value::Object(body.clone());
    let meta_v = body.get("meta").cloned().unwrap_or(Value::Null);
    let meta = vec![
        ("id", text(&as_value, "id")),
        ("externalId", text(&as_value, "externalId")),
        ("created", text(&meta_v, "created")),
        ("lastModified", text(&meta_v, "lastModified")),
        ("version", text(&meta_v, "version")),
        ("location", text(&meta_v, "location")),
    ];
    let relation = if users { "groups" } else { "members" };
    let skip =
        |k: &str| matches!(k, "schemas" | "id" | "externalId" | "meta") || k == relation || k.starts_with("urn:");
    let core_attrs: Map<String, Value> =
        body.iter().filter(|(k, _)| !skip(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut core = Vec::new();
    flatten(&core_attrs, "", &mut core);
    let custom_urn = custom_extension_urn(&tenant.settings.vendor);
    let mut sections = Vec::new();
    for (k, v) in body.iter().filter(|(k, _)| k.starts_with("urn:")) {
        let Value::Object(attrs) = v else { continue };
        let title = if k == ENTERPRISE_USER {
            "Enterprise User extension".to_string()
        } else if *k == custom_urn {
            "Custom attributes".to_string()
        } else {
            "Extension".to_string()
        };
        let mut rows = Vec::new();
        flatten(attrs, "", &mut rows);
        sections.push(Section { title, urn: k.clone(), rows });
    }
    let (related, related_total) = related_rows(&body, relation, &l.base());
    let base = l.base();
    let tokens = app.core.list_tokens(&tenant.slug).await?;
    let history = app
        .core
        .resource_history(&tenant, kind, &id, 50)
        .await?
        .into_iter()
        .map(|r| LogRow::new(r, &base, &tokens))
        .collect();
    let name = text(&as_value, if users { "userName" } else { "displayName" });
    l.title = format!("{title} {name}");
    let page = DetailPage {
        l,
        users,
        display_name: text(&as_value, "displayName"),
        active: if users { Some(body.get("active").and_then(Value::as_bool).unwrap_or(true)) } else { None },
        name,
        meta,
        core,
        sections,
        related,
        related_total,
        history,
    };
    Ok(page.into_response())
}

/// `GET /admin/t/{tenant}/users/{id}`.
pub async fn user(
    State(app): State<AppState>,
    Extension(session): Extension<PortalSession>,
    Path((slug, id)): Path<(String, String)>,
) -> PageResult<Response> {
    detail(app, session, slug, id, ResourceKind::User).await
}

/// `GET /admin/t/{tenant}/groups/{id}`.
pub async fn group(
    State(app): State<AppState>,
    Extension(session): Extension<PortalSession>,
    Path((slug, id)): Path<(String, String)>,
) -> PageResult<Response> {
    detail(app, session, slug, id, ResourceKind::Group).await
}
