//! Admin › Identity › User Provisioning: generate a SCIM token for an identity provider
//! (with a confirmation step that needs no JavaScript), show it once with the target SCIM
//! URL, and manage the Token Status table (set active or inactive, renew, remove).

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use roster_core::admin::TokenView;
use roster_core::tenants::{Expiry, IssuedToken};
use roster_core::{Error, Idp, Tenant};

use super::view::{day, relative, when, when_or};
use super::{Layout, PageError, PageResult, PortalSession, page_context};
use crate::AppState;

/// The lifetimes offered for a new or renewed token (the first is the default).
pub const EXPIRIES: [(&str, &str); 5] =
    [("365d", "1 year"), ("90d", "90 days"), ("30d", "30 days"), ("730d", "2 years"), ("never", "Never expires")];

/// A row of the Token Status table.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub idp_name: &'static str,
    pub name: String,
    pub status: &'static str,
    pub badge: &'static str,
    /// The day, and the full time for the tooltip.
    pub created: String,
    pub created_full: String,
    pub expires: String,
    pub expires_full: String,
    /// `in 364 days`, `expired 3 days ago`.
    pub expires_note: String,
    /// Expired, or expiring within 30 days.
    pub expiry_warning: bool,
    /// `3 minutes ago` or `Never`, and the full time.
    pub last_used: String,
    pub last_used_full: String,
    pub fingerprint: String,
}

impl TokenRow {
    pub fn new(t: &TokenView, now: time::OffsetDateTime) -> TokenRow {
        let (status, badge) = match t.status {
            "active" => ("Active", "ok"),
            "expired" => ("Expired", "bad"),
            _ => ("Inactive", "off"),
        };
        let expires_note = match t.expires_at {
            Some(e) if e <= now => format!("expired {}", relative(e, now)),
            Some(e) => relative(e, now),
            None => String::new(),
        };
        TokenRow {
            id: t.id.clone(),
            idp_name: t.idp_name,
            name: t.name.clone(),
            status,
            badge,
            created: day(t.created_at),
            created_full: when(t.created_at),
            expires: t.expires_at.map(day).unwrap_or_else(|| "Never".into()),
            expires_full: when_or(t.expires_at, "Never"),
            expires_note,
            expiry_warning: t.expires_at.is_some_and(|e| e - now < time::Duration::days(30)),
            last_used: t.last_used_at.map(|u| relative(u, now)).unwrap_or_else(|| "Never".into()),
            last_used_full: when_or(t.last_used_at, "Never"),
            fingerprint: t.fingerprint.clone(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "provisioning.html")]
struct ProvisioningPage {
    l: Layout,
    idps: Vec<(&'static str, &'static str)>,
    expiries: Vec<(&'static str, &'static str)>,
    tokens: Vec<TokenRow>,
    max_tokens: u32,
    at_limit: bool,
    target_url: String,
    error: Option<String>,
}

fn idp_options() -> Vec<(&'static str, &'static str)> {
    Idp::ALL.iter().map(|i| (i.as_str(), i.display_name())).collect()
}

async fn render_page(
    app: &AppState,
    session: &PortalSession,
    slug: &str,
    done: Option<&str>,
    status: StatusCode,
    error: Option<String>,
) -> PageResult {
    let (tenant, l) = page_context(app, session, slug, "provisioning", "User Provisioning", done).await?;
    let now = app.core.clock.now();
    let tokens: Vec<TokenRow> =
        app.core.list_tokens(&tenant.slug).await?.iter().map(|t| TokenRow::new(t, now)).collect();
    let page = ProvisioningPage {
        l,
        idps: idp_options(),
        expiries: EXPIRIES.to_vec(),
        at_limit: tokens.len() >= tenant.settings.max_tokens as usize,
        max_tokens: tenant.settings.max_tokens,
        tokens,
        target_url: app.base_url(&tenant.slug),
        error,
    };
    Ok((status, page).into_response())
}

#[derive(Debug, Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// `GET /admin/t/{tenant}/provisioning`.
pub async fn page(
    State(app): State<AppState>,
    Extension(session): Extension<PortalSession>,
    Path(slug): Path<String>,
    Query(q): Query<Done>,
) -> PageResult {
    render_page(&app, &session, &slug, q.done.as_deref(), StatusCode::OK, None).await
}

#[derive(Debug, Deserialize)]
pub struct GenerateForm {
    #[serde(default)]
    idp: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    expires_in: String,
}

impl GenerateForm {
    fn parse(&self) -> Result<(Idp, Expiry, &'static str), Error> {
        let idp = Idp::parse(&self.idp).ok_or_else(|| Error::Invalid("Choose an identity provider.".into()))?;
        let (expiry, label) = match EXPIRIES.iter().find(|(v, _)| *v == self.expires_in) {
            Some((v, label)) => (Expiry::parse(v)?, *label),
            None => (Expiry::DEFAULT, EXPIRIES[0].1),
        };
        if self.name.trim().chars().count() > 100 {
            return Err(Error::Invalid("Token names are at most 100 characters.".into()));
        }
        Ok((idp, expiry, label))
    }
}

fn at_limit_message(tenant: &Tenant) -> String {
    format!(
        "Generate is unavailable: tenant {} already holds {} tokens, the most it may hold at once. Remove a token \
         (or renew an existing one) first.",
        tenant.slug, tenant.settings.max_tokens
    )
}

#[derive(Template, WebTemplate)]
#[template(path = "token_confirm.html")]
struct ConfirmGeneratePage {
    l: Layout,
    idp: &'static str,
    idp_name: &'static str,
    name: String,
    expires_in: String,
    expiry_label: &'static str,
    target_url: String,
}

/// `POST /admin/t/{tenant}/provisioning/confirm`: the confirmation step (changes nothing).
pub async fn confirm(
    State(app): State<AppState>,
    Extension(session): Extension<PortalSession>,
    Path(slug): Path<String>,
    Form(form): Form<GenerateForm>,
) -> PageResult {
    let (tenant, l) = page_context(&app, &session, &slug, "provisioning", "Confirm token", None).await?;
    let (idp, _, expiry_label) = match form.parse() {
        Ok(p) => p,
        Err(e) => {
            return render_page(&app, &session, &slug, None, super::status_of(&e), Some(super::message_of(&e))).await;
        }
    };
    if app.core.list_tokens(&tenant.slug).await?.len() >= tenant.settings.max_tokens as usize {
        return render_page(&app, &session, &slug, None, StatusCode::CONFLICT, Some(at_limit_message(&tenant))).await;
    }
    let page = ConfirmGeneratePage {
        l,
        idp: idp.as_str(),
        idp_name: idp.display_name(),
        name: form.name.trim().to_string(),
        expires_in: form.expires_in.clone(),
        expiry_label,
        target_url: app.base_url(&tenant.slug),
    };
    Ok(page.into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "token_secret.html")]
struct SecretPage {
    l: Layout,
    issued: IssuedToken,
    idp_name: &'static str,
    hint: &'static str,
    renewed: bool,
    expires: String,
}

/// Where the two values go in each identity provider's console (see `docs/idp/`).
fn paste_hint(idp: Idp) -> &'static str {
    match idp {
        Idp::Entra => {
            "In the Microsoft Entra admin center: Enterprise applications › your app › Provisioning › Admin \
             Credentials. Paste the Target SCIM URL as Tenant URL and the token as Secret Token, then Test Connection."
        }
        Idp::Okta => {
            "In the Okta Admin Console: Applications › your app › Provisioning › Integration. Paste the Target SCIM \
             URL as SCIM connector base URL, choose HTTP Header authentication and paste the token as the Bearer token."
        }
        Idp::OneLogin => {
            "In OneLogin: Applications › your app › Configuration. Paste the Target SCIM URL as SCIM Base URL and \
             the token as SCIM Bearer Token, then enable the API connection."
        }
        Idp::PingOne => {
            "In PingOne: Integrations › Provisioning › a new SCIM connection. Paste the Target SCIM URL as SCIM Base \
             URL and the token as the OAuth 2 bearer token."
        }
        Idp::JumpCloud => {
            "In JumpCloud: SSO Applications › your app › Identity Management. Paste the Target SCIM URL as Base URL \
             and the token as Token Key, then test the connection."
        }
        Idp::Google => {
            "In the Google Admin console: your app's auto-provisioning settings. Paste the Target SCIM URL as \
             Endpoint URL and the token as the access token."
        }
        Idp::Other => {
            "Paste the Target SCIM URL as the SCIM base URL of your identity provider; it must send the token as \
             'Authorization: Bearer <token>'."
        }
    }
}

fn secret_page(l: Layout, issued: IssuedToken, renewed: bool) -> Response {
    let page = SecretPage {
        l,
        idp_name: issued.idp.display_name(),
        hint: paste_hint(issued.idp),
        renewed,
        expires: when_or(issued.expires_at, "Never"),
        issued,
    };
    page.into_response()
}

/// `POST /admin/t/{tenant}/tokens`: generates the token and shows it, this once.
pub async fn generate(
    State(app): State<AppState>,
    Extension(session): Extension<PortalSession>,
    Path(slug): Path<String>,
    Form(form): Form<GenerateForm>,
) -> PageResult {
    let (tenant, l) = page_context(&app, &session, &slug, "provisioning", "Your new SCIM token", None).await?;
    let (idp, expiry, _) = match form.parse() {
        Ok(p) => p,
        Err(e) => {
            return render_page(&app, &session, &slug, None, super::status_of(&e), Some(super::message_of(&e))).await;
        }
    };
    let actor = session.principal.actor();
    match app.core.issue_token(&actor, &tenant.slug, idp, &form.name, expiry, &app.config.public_url).await {
        Ok(issued) => Ok(secret_page(l, issued, false)),
        Err(Error::Conflict(_)) => {
            render_page(&app, &session, &slug, None, StatusCode::CONFLICT, Some(at_limit_message(&tenant))).await
        }
        Err(e) => render_page(&app, &session, &slug, None, super::status_of(&e), Some(super::message_of(&e))).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    expires_in: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub l: Layout,
    pub heading: String,
    pub message: String,
    pub warning: String,
    pub action_url: String,
    pub fields: Vec<(&'static str, String)>,
    pub button: &'static str,
    pub danger: bool,
    pub cancel_url: String,
    /// Offer the token lifetimes (renewal).
    pub expiries: Vec<(&'static str, &'static str)>,
}

/// `POST /admin/t/{tenant}/tokens/{id}`: the row's Select menu.
pub async fn act(
    State(app): State<AppState>,
    Extension(session): Extension<PortalSession>,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> PageResult {
    let (tenant, l) = page_context(&app, &session, &slug, "provisioning", "User Provisioning", None).await?;
    let back = format!("{}/provisioning", l.base());
    let actor = session.principal.actor();
    let token = app
        .core
        .list_tokens(&tenant.slug)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| PageError::not_found(format!("Tenant {} has no token {id:?}.", tenant.slug)))?;
    let described =
        if token.name.is_empty() { token.idp_name.to_string() } else { format!("{} ({})", token.idp_name, token.name) };
    let confirmed = form.confirm == "yes";
    match form.action.as_str() {
        "activate" | "deactivate" => {
            let active = form.action == "activate";
            app.core.set_token_active(&actor, &tenant.slug, &id, active).await?;
            let done = if active { "activated" } else { "deactivated" };
            Ok(Redirect::to(&format!("{back}?done={done}")).into_response())
        }
        "renew" if confirmed => {
            let expiry = match EXPIRIES.iter().find(|(v, _)| *v == form.expires_in) {
                Some((v, _)) => Expiry::parse(v)?,
                None => Expiry::DEFAULT,
            };
            let issued = app.core.renew_token(&actor, &tenant.slug, &id, expiry, &app.config.public_url).await?;
            let mut l = l;
            l.title = "Your renewed SCIM token".into();
            Ok(secret_page(l, issued, true))
        }
        "renew" => Ok(ConfirmPage {
            heading: format!("Renew the token for {described}?"),
            message: format!(
                "Token {} gets a new secret and a new expiry. The new secret is shown once, on the next page.",
                token.fingerprint
            ),
            warning: format!(
                "The current secret stops working at once: {} cannot provision until you paste the new token into it.",
                token.idp_name
            ),
            action_url: format!("{}/tokens/{}", l.base(), token.id),
            fields: vec![("action", "renew".into()), ("confirm", "yes".into())],
            button: "Renew token",
            danger: false,
            cancel_url: back,
            expiries: EXPIRIES.to_vec(),
            l: Layout { title: "Renew token".into(), ..l },
        }
        .into_response()),
        "remove" if confirmed => {
            app.core.remove_token(&actor, &tenant.slug, &id).await?;
            Ok(Redirect::to(&format!("{back}?done=removed")).into_response())
        }
        "remove" => Ok(ConfirmPage {
            heading: format!("Remove the token for {described}?"),
            message: format!("Token {} is deleted and its slot is free for a new one.", token.fingerprint),
            warning: format!(
                "{} can no longer provision with it. This cannot be undone (set it inactive instead to pause it).",
                token.idp_name
            ),
            action_url: format!("{}/tokens/{}", l.base(), token.id),
            fields: vec![("action", "remove".into()), ("confirm", "yes".into())],
            button: "Remove token",
            danger: true,
            cancel_url: back,
            expiries: Vec::new(),
            l: Layout { title: "Remove token".into(), ..l },
        }
        .into_response()),
        _ => Ok(Redirect::to(&format!("{back}?done=choose")).into_response()),
    }
}
