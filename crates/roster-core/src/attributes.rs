//! Tenant settings and the custom User extension's attribute definitions. A definition
//! appears in `/Schemas` at once (the schema version moves, so every instance's cached
//! registry refreshes on its next request); removing one removes its stored values too.

use roster_scim::Registry;
use roster_scim::schema::{CustomAttribute, CustomAttributeType, custom_extension_urn, validate_vendor};

use crate::audit::{Actor, AuditEntry, AuditEvent};
use crate::error::{Error, Result};
use crate::model::{Tenant, TenantSettings};
use crate::scim::Core;

/// The most custom attributes a tenant may define.
pub const MAX_CUSTOM_ATTRIBUTES: usize = 100;

/// A tenant's custom extension: its URN and definitions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CustomSchema {
    pub urn: String,
    pub attributes: Vec<AttributeView>,
}

/// A definition as the admin API and CLI show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttributeView {
    pub name: String,
    /// string, boolean, integer, decimal, dateTime or reference.
    #[serde(rename = "type")]
    pub ty: String,
    pub multi_valued: bool,
    pub description: String,
    /// The path IdPs map to: `urn:...:<vendor>:2.0:User:<name>`.
    pub path: String,
}

fn describe_settings_change(old: &TenantSettings, new: &TenantSettings) -> String {
    let old = serde_json::to_value(old).unwrap_or_default();
    let new = serde_json::to_value(new).unwrap_or_default();
    let mut changes = Vec::new();
    if let (Some(o), Some(n)) = (old.as_object(), new.as_object()) {
        for (k, v) in n {
            if o.get(k) != Some(v) {
                let before = o.get(k).map(ToString::to_string).unwrap_or_default();
                changes.push(format!("{k}: {before} → {v}"));
            }
        }
    }
    if changes.is_empty() { "no change".into() } else { changes.join("; ") }
}

impl Core {
    /// The tenant's custom extension and its definitions.
    pub async fn custom_schema(&self, slug: &str) -> Result<CustomSchema> {
        let tenant = self.tenant(slug).await?;
        let urn = custom_extension_urn(&tenant.settings.vendor);
        let attributes = self
            .store
            .custom_attributes(tenant.id)
            .await?
            .into_iter()
            .map(|a| AttributeView {
                path: format!("{urn}:{}", a.name),
                name: a.name,
                ty: a.ty.as_str().to_string(),
                multi_valued: a.multi_valued,
                description: a.description,
            })
            .collect();
        Ok(CustomSchema { urn, attributes })
    }

    /// Defines a custom attribute in the tenant's extension.
    pub async fn define_attribute(
        &self,
        actor: &Actor,
        slug: &str,
        name: &str,
        ty: &str,
        multi_valued: bool,
        description: &str,
    ) -> Result<AttributeView> {
        let tenant = self.tenant(slug).await?;
        CustomAttribute::validate_name(name)?;
        let ty = CustomAttributeType::parse(ty).ok_or_else(|| {
            Error::Invalid(format!(
                "{ty:?} is not a type: use string, boolean, integer, decimal, dateTime or reference"
            ))
        })?;
        if description.chars().count() > 500 {
            return Err(Error::Invalid("descriptions are at most 500 characters".into()));
        }
        let existing = self.store.custom_attributes(tenant.id).await?;
        if existing.len() >= MAX_CUSTOM_ATTRIBUTES {
            return Err(Error::Conflict(format!(
                "a tenant may define at most {MAX_CUSTOM_ATTRIBUTES} custom attributes"
            )));
        }
        let attribute =
            CustomAttribute { name: name.to_string(), ty, multi_valued, description: description.trim().to_string() };
        let urn = custom_extension_urn(&tenant.settings.vendor);
        let audit = AuditEntry {
            tenant: Some(tenant.id),
            at: self.clock.now(),
            actor: actor.clone(),
            event: AuditEvent::AttributeDefined,
            target: format!("attribute {name}"),
            details: format!(
                "type: {}{}; schema: {urn}",
                ty.as_str(),
                if multi_valued { ", multi-valued" } else { "" }
            ),
        };
        self.store.define_custom_attribute(tenant.id, &attribute, self.clock.now(), audit).await?;
        Ok(AttributeView {
            path: format!("{urn}:{name}"),
            name: attribute.name,
            ty: ty.as_str().to_string(),
            multi_valued,
            description: attribute.description,
        })
    }

    /// Removes a custom attribute and every stored value of it.
    pub async fn remove_attribute(&self, actor: &Actor, slug: &str, name: &str) -> Result<()> {
        let tenant = self.tenant(slug).await?;
        let definitions = self.store.custom_attributes(tenant.id).await?;
        let Some(removed) = definitions.iter().find(|a| a.name.eq_ignore_ascii_case(name)).cloned() else {
            return Err(Error::NotFound(format!("tenant {} has no custom attribute {name:?}", tenant.slug)));
        };
        let remaining: Vec<CustomAttribute> = definitions.into_iter().filter(|a| a.name != removed.name).collect();
        let registry = Registry::new(&tenant.settings.vendor, &remaining);
        let urn = custom_extension_urn(&tenant.settings.vendor);
        let audit = AuditEntry {
            tenant: Some(tenant.id),
            at: self.clock.now(),
            actor: actor.clone(),
            event: AuditEvent::AttributeRemoved,
            target: format!("attribute {}", removed.name),
            details: format!("type: {}; its stored values were deleted; schema: {urn}", removed.ty.as_str()),
        };
        self.store.remove_custom_attribute(tenant.id, &urn, &removed.name, &registry, self.clock.now(), audit).await?;
        Ok(())
    }

    /// Replaces a tenant's settings (policies, the custom schema's vendor segment), audited.
    /// A new vendor moves the stored custom data to the new URN.
    pub async fn change_settings(&self, actor: &Actor, slug: &str, settings: TenantSettings) -> Result<Tenant> {
        validate_vendor(&settings.vendor)?;
        if settings.max_tokens == 0 || settings.max_tokens > 100 {
            return Err(Error::Invalid("max_tokens must be between 1 and 100".into()));
        }
        let tenant = self.tenant(slug).await?;
        let attributes = self.store.custom_attributes(tenant.id).await?;
        let registry = Registry::new(&settings.vendor, &attributes);
        let (old_urn, new_urn) =
            (custom_extension_urn(&tenant.settings.vendor), custom_extension_urn(&settings.vendor));
        let rename = (old_urn != new_urn).then_some((old_urn, new_urn));
        let audit = AuditEntry {
            tenant: Some(tenant.id),
            at: self.clock.now(),
            actor: actor.clone(),
            event: AuditEvent::TenantSettingsChanged,
            target: format!("tenant {}", tenant.slug),
            details: describe_settings_change(&tenant.settings, &settings),
        };
        self.store.change_tenant_settings(tenant.id, &settings, &registry, rename, audit).await
    }
}
