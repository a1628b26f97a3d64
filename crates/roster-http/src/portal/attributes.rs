//! Attributes: the tenant's custom User extension (define with a description, remove with
//! confirmation), the vendor segment of its schema URN, and the tenant's policies.

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use roster_core::attributes::AttributeView;
use roster_core::model::{GroupPatchResponse, RejectOrAllow, StrictOrLenient, UnknownMembers};
use roster_core::{Error, TenantSettings};

use super::tokens::ConfirmPage;
use super::view::path_segment;
use super::{Layout, PageResult, PortalSession, page_context, status_of};
use crate::AppState;

/// The types a custom attribute may have.
const TYPES: [&str; 6] = ["string", "boolean", "integer", "decimal", "dateTime", "reference"];

#[derive(Debug, Default, Deserialize)]
pub struct DefineForm {
    #[serde(default)]
    name: String,
    #[serde(default, rename = "type")]
    ty: String,
    #[serde(default)]
    multi_valued: Option<String>,
    #[serde(default)]
    description: String,
}

/// A policy as the form shows it.
#[derive(Debug)]
pub struct Policies {
    pub username_changes: &'static str,
    pub unknown_attributes: &'static str,
    pub unknown_members: &'static str,
    pub nested_groups: bool,
    pub group_patch_response: &'static str,
    pub max_tokens: u32,
}

impl Policies {
    fn new(s: &TenantSettings) -> Policies {
        Policies {
            username_changes: match s.username_changes {
                RejectOrAllow::Reject => "reject",
                RejectOrAllow::Allow => "allow",
            },
            unknown_attributes: match s.unknown_attributes {
                StrictOrLenient::Lenient => "lenient",
                StrictOrLenient::Strict => "strict",
            },
            unknown_members: match s.unknown_members {
                UnknownMembers::Skip => "skip",
                UnknownMembers::Reject => "reject",
            },
            nested_groups: s.nested_groups,
            group_patch_response: match s.group_patch_response {
                GroupPatchResponse::Resource => "resource",
                GroupPatchResponse::NoContent => "no_content",
            },
            max_tokens: s.max_tokens,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "attributes.html")]
struct AttributesPage {
    l: Layout,
    urn: String,
    vendor: String,
    attributes: Vec<AttributeView>,
    types: Vec<&'static str>,
    policies: Policies,
    form: DefineForm,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Done {
    done: Option<String>,
}

async fn render(
    app: &AppState,
    session: &PortalSession,
    slug: &str,
    done: Option<&str>,
    status: StatusCode,
    form: DefineForm,
    error: Option<String>,
) -> PageResult {
    let (tenant, l) = page_context(app, session, slug, "attributes", "Attributes", done).await?;
    let schema = app.core.custom_schema(&tenant.slug).await?;
    let page = AttributesPage {
        l,
        urn: schema.urn,
        vendor: tenant.settings.vendor.clone(),
        attributes: schema.attributes,
        types: TYPES.to_vec(),
        policies: Policies::new(&tenant.settings),
        form,
        error,
    };
    Ok((status, page).into_response())
}

/// `GET /admin/t/{tenant}/attributes`.
pub async fn page(
    State(app): State<AppState>,
    Extension(session): Extension<PortalSession>,
    Path(slug): Path<String>,
    Query(q): Query<Done>,
) -> PageResult {
    render(&app, &session, &slug, q.done.as_deref(), StatusCode::OK, DefineForm::default(), None).await
}

/// `POST /admin/t/{tenant}/attributes`: defines an attribute.
pub async fn define(
    State(app): State<AppState>,
    Extension(session): Extension<PortalSession>,
    Path(slug): Path<String>,
    Form(form): Form<DefineForm>,
) -> PageResult {
    let tenant = app.core.tenant(&slug).await?;
    let result = app
        .core
        .define_attribute(
            &session.principal.actor(),
            &tenant.slug,
            form.name.trim(),
            &form.ty,
            form.multi_valued.is_some(),
            &form.description,
        )
        .await;
    match result {
        Ok(_) => {
            Ok(Redirect::to(&format!("/admin/t/{}/attributes?done=defined", path_segment(&tenant.slug)))
                .into_response())
        }
        Err(e @ (Error::Invalid(_) | Error::Conflict(_) | Error::Scim(_))) => {
            let message = super::message_of(&e);
            render(&app, &session, &slug, None, status_of(&e), form, Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    confirm: String,
}

/// `POST /admin/t/{tenant}/attributes/{name}/remove`: asks, then removes.
pub async fn remove(
    State(app): State<AppState>,
    Extension(session): Extension<PortalSession>,
    Path((slug, name)): Path<(String, String)>,
    Form(form): Form<RemoveForm>,
) -> PageResult {
    let (tenant, l) = page_context(&app, &session, &slug, "attributes", "Remove attribute", None).await?;
    let schema = app.core.custom_schema(&tenant.slug).await?;
    let Some(attribute) = schema.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(&name)) else {
        return Err(Error::NotFound(format!("Tenant {} has no custom attribute {name:?}.", tenant.slug)).into());
    };
    if form.confirm == "yes" {
        app.core.remove_attribute(&session.principal.actor(), &tenant.slug, &attribute.name).await?;
        let to = format!("{}/attributes?done=attribute-removed", l.base());
        return Ok(Redirect::to(&to).into_response());
    }
    Ok(ConfirmPage {
        heading: format!("Remove the attribute {}?", attribute.name),
        message: format!(
            "{} ({}) is removed from the tenant's custom schema {}.",
            attribute.name, attribute.ty, schema.urn
        ),
        warning: "Every stored value of it is deleted with it, and identity providers that still send it get it \
                  ignored (or refused, under the strict policy). This cannot be undone."
            .into(),
        action_url: format!("{}/attributes/{}/remove", l.base(), path_segment(&attribute.name)),
        fields: vec![("confirm", "yes".into())],
        button: "Remove attribute",
        danger: true,
        cancel_url: format!("{}/attributes", l.base()),
        expiries: Vec::new(),
        l,
    }
    .into_response())
}

#[derive(Debug, Deserialize)]
pub struct SettingsForm {
    /// `vendor` or `policies`: which form was sent.
    #[serde(default)]
    form: String,
    vendor: Option<String>,
    username_changes: Option<String>,
    unknown_attributes: Option<String>,
    unknown_members: Option<String>,
    nested_groups: Option<String>,
    group_patch_response: Option<String>,
    max_tokens: Option<String>,
}

fn choice<T: DeserializeOwned>(value: Option<&String>, what: &str) -> Result<Option<T>, Error> {
    value
        .map(|v| {
            serde_json::from_value(serde_json::Value::String(v.clone()))
                .map_err(|_| Error::Invalid(format!("{v:?} is not a choice for {what}")))
        })
        .transpose()
}

fn apply(form: &SettingsForm, mut s: TenantSettings) -> Result<TenantSettings, Error> {
    match form.form.as_str() {
        "vendor" => {
            if let Some(v) = &form.vendor {
                s.vendor = v.trim().to_string();
            }
        }
        "policies" => {
            if let Some(v) = choice(form.username_changes.as_ref(), "userName changes")? {
                s.username_changes = v;
            }
            if let Some(v) = choice(form.unknown_attributes.as_ref(), "unknown attributes")? {
                s.unknown_attributes = v;
            }
            if let Some(v) = choice(form.unknown_members.as_ref(), "unknown member ids")? {
                s.unknown_members = v;
            }
            if let Some(v) = choice(form.group_patch_response.as_ref(), "the group PATCH response")? {
                s.group_patch_response = v;
            }
            s.nested_groups = form.nested_groups.is_some();
            if let Some(m) = &form.max_tokens {
                s.max_tokens =
                    m.trim().parse().map_err(|_| Error::Invalid(format!("{m:?} is not a number of tokens")))?;
            }
        }
        other => return Err(Error::Invalid(format!("unknown settings form {other:?}"))),
    }
    Ok(s)
}

/// `POST /admin/t/{tenant}/settings`: the vendor URN or the policies.
pub async fn settings(
    State(app): State<AppState>,
    Extension(session): Extension<PortalSession>,
    Path(slug): Path<String>,
    Form(form): Form<SettingsForm>,
) -> PageResult {
    let tenant = app.core.tenant(&slug).await?;
    let result = match apply(&form, tenant.settings.clone()) {
        Ok(settings) => app.core.change_settings(&session.principal.actor(), &tenant.slug, settings).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            Ok(Redirect::to(&format!("/admin/t/{}/attributes?done=settings", path_segment(&tenant.slug)))
                .into_response())
        }
        Err(e @ (Error::Invalid(_) | Error::Conflict(_) | Error::Scim(_))) => {
            let message = super::message_of(&e);
            render(&app, &session, &slug, None, status_of(&e), DefineForm::default(), Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}
